//! `hookgate verify`: check a saved delivery and explain a failure.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hookgate::{Rejection, Verifier};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::scheme_args::{Chosen, SchemeArgs};
use crate::secret::SecretArgs;
use crate::{display_name, Scheme};

#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    scheme: SchemeArgs,
    /// A raw HTTP request as received: request line, headers, blank line, body.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["headers", "body"])]
    request: Option<PathBuf>,
    /// A file of `Name: value` header lines.
    #[arg(long, value_name = "FILE", requires = "body")]
    headers: Option<PathBuf>,
    /// The body, byte for byte.
    #[arg(long, value_name = "FILE", requires = "headers")]
    body: Option<PathBuf>,
    /// The URL the sender called, for schemes that sign it (Square,
    /// Twilio), with its query.
    #[arg(long)]
    url: Option<String>,
    /// Check freshness as of this time (RFC 3339), e.g. when the delivery arrived.
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    #[command(flatten)]
    secret: SecretArgs,
}

type Headers = Vec<(String, Vec<u8>)>;

fn parse_header_lines(text: &[u8]) -> Headers {
    text.split(|b| *b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter_map(|line| {
            let colon = line.iter().position(|b| *b == b':')?;
            let name = std::str::from_utf8(&line[..colon])
                .ok()?
                .trim()
                .to_ascii_lowercase();
            let value = line[colon + 1..].trim_ascii().to_vec();
            (!name.is_empty() && !name.contains(' ')).then_some((name, value))
        })
        .collect()
}

fn load(args: &VerifyArgs) -> Result<(Headers, Bytes), String> {
    let read =
        |p: &PathBuf| std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    if let Some(path) = &args.request {
        let raw = read(path)?;
        let (head, body) = split_request(&raw).ok_or_else(|| {
            format!(
                "{} has no blank line between headers and body",
                path.display()
            )
        })?;
        let headers = parse_header_lines(head);
        if headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case(b"chunked"))
        {
            return Err(
                "the saved request is chunked; save the de-chunked body with --headers/--body"
                    .into(),
            );
        }
        return Ok((headers, Bytes::copy_from_slice(body)));
    }
    match (&args.headers, &args.body) {
        (Some(h), Some(b)) => Ok((parse_header_lines(&read(h)?), Bytes::from(read(b)?))),
        _ => Err("give --request FILE, or --headers FILE and --body FILE".into()),
    }
}

/// Splits at the first blank line (CRLF or LF).
fn split_request(raw: &[u8]) -> Option<(&[u8], &[u8])> {
    if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
        return Some((&raw[..i], &raw[i + 4..]));
    }
    raw.windows(2)
        .position(|w| w == b"\n\n")
        .map(|i| (&raw[..i], &raw[i + 2..]))
}

pub(crate) fn run(args: &VerifyArgs) -> Result<bool, String> {
    let chosen = args.scheme.resolve()?;
    let secret = args.secret.read()?;
    let verifier = chosen.verifier(&secret, args.url.as_deref())?;
    let query = args
        .url
        .as_deref()
        .and_then(|u| u.split_once('?'))
        .map(|(_, q)| q);
    let (headers, body) = load(args)?;
    let now = match &args.at {
        Some(text) => SystemTime::from(
            OffsetDateTime::parse(text, &Rfc3339)
                .map_err(|e| format!("--at {text}: not RFC 3339: {e}"))?,
        ),
        None => SystemTime::now(),
    };
    match verifier.verify_request(&headers, query, body.clone(), now) {
        Ok(event) => {
            println!(
                "verified: {} {} event{}{}, signed with secret #{}",
                event.scheme(),
                event.event_type(),
                event.id().map(|id| format!(" {id}")).unwrap_or_default(),
                event
                    .timestamp()
                    .and_then(|t| t.format(&Rfc3339).ok())
                    .map(|t| format!(" at {t}"))
                    .unwrap_or_default(),
                event.secret_index()
            );
            Ok(true)
        }
        Err(rejection) => {
            println!(
                "rejected ({} {}): {}",
                rejection.status().as_u16(),
                rejection.reason(),
                explain(&rejection, &chosen, &verifier, &headers, &body, now)
            );
            Ok(false)
        }
    }
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}

/// Says exactly what is wrong, using what the delivery contains.
fn explain(
    rejection: &Rejection,
    scheme: &Chosen,
    verifier: &Verifier,
    headers: &Headers,
    body: &[u8],
    now: SystemTime,
) -> String {
    let header = scheme.scheme.signature_header();
    let shown = display_name(header);
    let values: Vec<&Vec<u8>> = headers
        .iter()
        .filter(|(n, _)| n == header)
        .map(|(_, v)| v)
        .collect();
    match rejection {
        Rejection::MissingSignature => {
            let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
            format!("there is no {shown} header (headers present: {})", names.join(", "))
        }
        Rejection::DuplicateSignature => {
            format!("{shown} appears {} times; exactly one is allowed", values.len())
        }
        Rejection::MalformedSignature => malformed(scheme, &shown, values.first().map(|v| v.as_slice()).unwrap_or_default()),
        Rejection::BadSignature => format!(
            "the {shown} header is well formed but matches no secret for these {} body bytes: either \
             the body is not byte for byte what the sender signed (re-serialized, re-indented or \
             re-encoded JSON fails; compare with the raw bytes received), or the secret is not the one \
             the sender uses",
            body.len()
        ),
        Rejection::Stale | Rejection::FromFuture => {
            let stamp = signed_time(verifier, headers, body);
            let Some(stamp) = stamp else {
                return rejection.message().into_owned();
            };
            let text = stamp.format(&Rfc3339).unwrap_or_default();
            match now.duration_since(SystemTime::from(stamp)) {
                Ok(age) => format!(
                    "the signed timestamp {text} is {} old; the {} freshness window is {} \
                     (to check a saved delivery as of its arrival, pass --at TIME)",
                    human(age),
                    verifier.scheme().name(),
                    human(verifier.settings().freshness)
                ),
                Err(ahead) => format!(
                    "the signed timestamp {text} is {} ahead of now; at most {} is allowed for clock drift",
                    human(ahead.duration()),
                    human(verifier.settings().max_future_skew)
                ),
            }
        }
        Rejection::InvalidEnvelope => format!(
            "the signature is valid but the body is not a {} envelope: {}",
            verifier.scheme().name(),
            verifier.envelope_error(headers, body).unwrap_or_else(|| "unreadable".into())
        ),
        Rejection::BodyTooLarge { limit } => format!("the body is {} bytes, over the {limit}-byte limit", body.len()),
        other => other.message().into_owned(),
    }
}

/// The signed time of a delivery: the header timestamp the scheme signs,
/// or the envelope's. Read without trusting it, to explain a rejection.
fn signed_time(verifier: &Verifier, headers: &Headers, body: &[u8]) -> Option<OffsetDateTime> {
    verifier
        .signed_timestamp(headers, body)
        .map(OffsetDateTime::from)
        .or_else(|| verifier.envelope_timestamp(headers, body))
}

fn malformed(chosen: &Chosen, shown: &str, value: &[u8]) -> String {
    let Ok(text) = std::str::from_utf8(value) else {
        return format!("{shown} is not ASCII text");
    };
    if text.is_empty() {
        return format!("{shown} is empty");
    }
    let hex = match chosen.kind {
        Scheme::Axifi | Scheme::Github => match text.strip_prefix("sha256=") {
            Some(hex) => hex,
            None => {
                return format!(
                    "{shown} must start with `sha256=` (it starts with {:?})",
                    &text[..text.len().min(8)]
                )
            }
        },
        Scheme::Aexo => {
            if text.starts_with("sha256=") {
                return format!("{shown} is bare hex; `sha256=` is the AXIFI form, not AEXO's");
            }
            text
        }
        other => {
            return format!(
                "{shown} (or a header it needs beside it) is not in the {} form: {}",
                chosen.scheme.name(),
                other.form()
            )
        }
    };
    if let Some((i, c)) = hex.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return format!("{shown} has a non-hex character {c:?} at position {i} of the hex part");
    }
    if hex.len() != 64 {
        return format!(
            "{shown} has {} hex digits; an HMAC-SHA256 has 64",
            hex.len()
        );
    }
    format!("{shown} is malformed")
}
