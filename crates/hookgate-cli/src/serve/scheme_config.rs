//! A route's `scheme`: a built-in sender by name, or `"hmac"` with a
//! `[route.hmac]` table describing any other HMAC sender.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hookgate::scheme::{
    Algorithm, Encoding, Field, HmacScheme, Part, Scheme, TimeFormat, TimestampSource,
};
use serde::Deserialize;
use toml::Spanned;

use super::config::{line_of, ConfigError};

/// `[route.hmac]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HmacTable {
    /// Logs, metrics and the dedupe namespace.
    name: String,
    /// The header with the tag.
    header: String,
    /// `sha256` (default), `sha512` or `sha1`.
    algorithm: Option<String>,
    /// `hex` (default), `base64` or `base64url`.
    encoding: Option<String>,
    /// Text before the tag (`sha256=`).
    prefix: Option<String>,
    /// The header is a list split by this one character; entries starting
    /// with `prefix` are tags.
    list_separator: Option<String>,
    /// What is signed, in order: `"body"`, `"url"`, `{ header = "x-ts" }`,
    /// `{ literal = "." }`. Default: `["body"]`.
    signed: Option<Vec<SignedPart>>,
    /// `{ header = "x-ts", format = "unix" }` or `{ field = "ts", format = "rfc3339" }`.
    timestamp: Option<TimestampTable>,
    /// `{ header = "x-delivery" }` or `{ field = "id" }`.
    id: Option<FieldTable>,
    /// Where the event type is.
    event: Option<FieldTable>,
    /// Where the data is (default: the whole body).
    data: Option<FieldTable>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SignedPart {
    Word(String),
    Header { header: String },
    Literal { literal: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimestampTable {
    header: Option<String>,
    field: Option<String>,
    /// `unix` (seconds, default), `unix-ms` or `rfc3339`.
    format: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldTable {
    header: Option<String>,
    field: Option<String>,
    #[serde(default)]
    optional: bool,
}

/// Configuration is read once per process: its strings live as long as
/// the process, as the scheme's `&'static str` names need.
fn leak(text: &str) -> &'static str {
    Box::leak(text.to_ascii_lowercase().into_boxed_str())
}

fn leak_exact(text: &str) -> &'static str {
    Box::leak(text.to_owned().into_boxed_str())
}

/// The route's scheme: `scheme` is a built-in name or `"hmac"`.
pub(crate) fn route_scheme(
    text: &str,
    scheme: &Spanned<String>,
    hmac: Option<&Spanned<HmacTable>>,
) -> Result<Arc<dyn Scheme>, ConfigError> {
    let name = scheme.get_ref().as_str();
    match (name, hmac) {
        ("hmac", Some(table)) => hmac_scheme(table.get_ref())
            .map_err(|message| ConfigError::at(text, table.span(), message)),
        ("hmac", None) => Err(ConfigError::at(
            text,
            scheme.span(),
            "scheme \"hmac\" needs a [route.hmac] table (header, signed, ...)",
        )),
        (_, Some(table)) => Err(ConfigError::at(
            text,
            table.span(),
            format!("[route.hmac] is for scheme = \"hmac\", not {name:?}"),
        )),
        (name, None) => hookgate::scheme::builtin(name).ok_or_else(|| {
            ConfigError::at(
                text,
                scheme.span(),
                format!(
                    "unknown scheme {name:?}: use one of {}, or \"hmac\" with a [route.hmac] table",
                    hookgate::scheme::BUILTIN
                        .iter()
                        .map(|n| format!("\"{n}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        }),
    }
}

/// `--scheme-config FILE` of `sign`, `send` and `verify`: the keys of a
/// `[route.hmac]` table at the top of a file, refused as serve refuses the
/// table (`FILE:LINE: reason` where the mistake has a line).
pub(crate) fn hmac_scheme_file(path: &Path) -> Result<Arc<dyn Scheme>, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let table: HmacTable = toml::from_str(&text).map_err(|e| match e.span() {
        Some(span) => format!("{shown}:{}: {}", line_of(&text, span), e.message().trim()),
        None => format!("{shown}: {}", e.message().trim()),
    })?;
    hmac_scheme(&table).map_err(|message| format!("{shown}: {message}"))
}

fn field(table: &FieldTable, what: &str) -> Result<Field, String> {
    let field = match (&table.header, &table.field) {
        (Some(h), None) => Field::header(leak(h)),
        (None, Some(f)) => Field::body(leak_exact(f)),
        _ => return Err(format!("{what}: give exactly one of `header` or `field`")),
    };
    Ok(if table.optional {
        field.optional()
    } else {
        field
    })
}

fn time_format(format: Option<&str>) -> Result<TimeFormat, String> {
    match format.unwrap_or("unix") {
        "unix" => Ok(TimeFormat::UnixSeconds),
        "unix-ms" => Ok(TimeFormat::UnixMillis),
        "rfc3339" => Ok(TimeFormat::Rfc3339),
        other => Err(format!(
            "timestamp format {other:?}: use \"unix\", \"unix-ms\" or \"rfc3339\""
        )),
    }
}

fn hmac_scheme(t: &HmacTable) -> Result<Arc<dyn Scheme>, String> {
    let algorithm = match t.algorithm.as_deref().unwrap_or("sha256") {
        "sha256" => Algorithm::HmacSha256,
        "sha512" => Algorithm::HmacSha512,
        "sha1" => Algorithm::HmacSha1,
        other => {
            return Err(format!(
                "algorithm {other:?}: use \"sha256\", \"sha512\" or \"sha1\""
            ))
        }
    };
    let encoding = match t.encoding.as_deref().unwrap_or("hex") {
        "hex" => Encoding::Hex,
        "base64" => Encoding::Base64,
        "base64url" => Encoding::Base64Url,
        other => {
            return Err(format!(
                "encoding {other:?}: use \"hex\", \"base64\" or \"base64url\""
            ))
        }
    };
    let mut scheme = HmacScheme::new(leak(&t.name), leak(&t.header))
        .algorithm(algorithm)
        .encoding(encoding);
    let prefix = leak_exact(t.prefix.as_deref().unwrap_or(""));
    scheme = match t.list_separator.as_deref() {
        None => scheme.prefix(prefix),
        Some(sep) if sep.len() == 1 => scheme.list(sep.as_bytes()[0], prefix),
        Some(sep) => return Err(format!("list_separator {sep:?} must be one character")),
    };
    if let Some(parts) = &t.signed {
        let parts = parts
            .iter()
            .map(|p| match p {
                SignedPart::Word(w) if w == "body" => Ok(Part::Body),
                SignedPart::Word(w) if w == "url" => Ok(Part::Url),
                SignedPart::Word(w) => Err(format!(
                    "signed part {w:?}: use \"body\", \"url\", {{ header = \"...\" }} or {{ literal = \"...\" }}"
                )),
                SignedPart::Header { header } => Ok(Part::Header(leak(header))),
                SignedPart::Literal { literal } => Ok(Part::Literal(leak_exact(literal))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        scheme = scheme.signed_content(parts);
    }
    if let Some(ts) = &t.timestamp {
        let format = time_format(ts.format.as_deref())?;
        scheme = scheme.timestamp(match (&ts.header, &ts.field) {
            (Some(h), None) => TimestampSource::Header(leak(h), format),
            (None, Some(f)) => TimestampSource::Body(leak_exact(f), format),
            _ => return Err("timestamp: give exactly one of `header` or `field`".into()),
        });
    }
    if let Some(id) = &t.id {
        scheme = scheme.id(field(id, "id")?);
    }
    if let Some(event) = &t.event {
        scheme = scheme.event(field(event, "event")?);
    }
    if let Some(data) = &t.data {
        scheme = scheme.data(field(data, "data")?);
    }
    // The route's `freshness_secs` overrides this default.
    scheme = scheme.freshness(Duration::from_secs(5 * 60));
    let scheme = scheme.build().map_err(|e| e.to_string())?;
    Ok(Arc::new(scheme))
}
