//! The parsing traps other verifiers fell into, one test each; every test
//! fails if its trap comes back.
//!
//! Constant time: a scheme only says what is signed and which tags were
//! sent, and the tag comparison is `Key::matches` (`subtle::ConstantTimeEq`
//! over every candidate, no early exit). That holds only while nobody adds
//! an `==` on signature material (a scheme checking a hash it was sent, as
//! Twilio's `bodySHA256`, or a handshake's token), so
//! `signature_material_is_never_compared_with_eq` reads the sources and
//! fails on one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, SystemTime};

use hookgate::scheme::{
    Encoding, HmacScheme, Paddle, Part, Scheme, SignInput, StandardWebhooks, Stripe, TimeFormat,
    TimestampSource,
};
use hookgate::{Rejection, Secrets, Verifier};

const NOW: u64 = 1_800_000_000;
const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const BODY: &[u8] = br#"{"type":"x","data":{}}"#;

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(NOW)
}

fn signed(scheme: &dyn Scheme, secret: &str, at: SystemTime) -> Vec<(&'static str, String)> {
    let mut input = SignInput::new(BODY);
    input.timestamp = at;
    input.id = Some("msg_1");
    scheme.sign(secret.as_bytes(), &input).unwrap()
}

fn value<'a>(headers: &'a [(&'static str, String)], name: &str) -> &'a str {
    &headers.iter().find(|(n, _)| *n == name).unwrap().1
}

fn with(
    headers: &[(&'static str, String)],
    name: &'static str,
    v: String,
) -> Vec<(&'static str, String)> {
    let mut out: Vec<_> = headers
        .iter()
        .filter(|(n, _)| *n != name)
        .cloned()
        .collect();
    out.push((name, v));
    out
}

fn check(
    scheme: impl Scheme,
    secret: &str,
    headers: &[(&'static str, String)],
) -> Result<(), Rejection> {
    Verifier::new(scheme, Secrets::single(secret).unwrap())
        .unwrap()
        .authenticate_at(&headers.to_vec(), BODY, now())
        .map(|_| ())
}

/// A custom scheme whose list entries are `s=<base64>`, split on `,`.
fn listed() -> HmacScheme {
    HmacScheme::new("listed", "x-sig")
        .encoding(Encoding::Base64)
        .list(b',', "s=")
        .signed_content(vec![Part::Header("x-ts"), Part::Literal("."), Part::Body])
        .timestamp(TimestampSource::Header("x-ts", TimeFormat::UnixSeconds))
        .build()
        .unwrap()
}

#[test]
fn an_empty_signature_in_a_list_never_verifies() {
    let sw = signed(&StandardWebhooks::V1, SW_SECRET, now());
    for empty in ["v1,", "v1, v1,", "v1,=", " "] {
        let h = with(&sw, "webhook-signature", empty.into());
        assert_eq!(
            check(StandardWebhooks::V1, SW_SECRET, &h),
            Err(Rejection::MalformedSignature),
            "{empty:?}"
        );
    }
    let stripe = signed(&Stripe, "whsec_s", now());
    let t = NOW.to_string();
    for empty in [format!("t={t},v1="), format!("t={t},v1=,v1=")] {
        let h = with(&stripe, "stripe-signature", empty.clone());
        assert_eq!(
            check(Stripe, "whsec_s", &h),
            Err(Rejection::MalformedSignature),
            "{empty}"
        );
    }
    let paddle = signed(&Paddle, "pdl_s", now());
    let h = with(&paddle, "paddle-signature", format!("ts={t};h1="));
    assert_eq!(
        check(Paddle, "pdl_s", &h),
        Err(Rejection::MalformedSignature)
    );
    let custom = signed(&listed(), "k", now());
    let h = with(&custom, "x-sig", "s=,s=".into());
    assert_eq!(check(listed(), "k", &h), Err(Rejection::MalformedSignature));
}

#[test]
fn every_signature_of_a_list_is_tried_wherever_the_valid_one_stands() {
    let decoy_b64 = Encoding::Base64.encode(&[9u8; 32]);
    let decoy_hex = "ab".repeat(32);
    let sw = signed(&StandardWebhooks::V1, SW_SECRET, now());
    let good = value(&sw, "webhook-signature").to_owned();
    let stripe = signed(&Stripe, "whsec_s", now());
    let good_v1 = value(&stripe, "stripe-signature")
        .split(',')
        .nth(1)
        .unwrap()
        .to_owned();
    let paddle = signed(&Paddle, "pdl_s", now());
    let good_h1 = value(&paddle, "paddle-signature")
        .split(';')
        .nth(1)
        .unwrap()
        .to_owned();
    let t = NOW.to_string();
    for position in 0..4 {
        let mut list = vec![format!("v1,{decoy_b64}"); 3];
        list.insert(position, good.clone());
        let h = with(&sw, "webhook-signature", list.join(" "));
        assert_eq!(
            check(StandardWebhooks::V1, SW_SECRET, &h),
            Ok(()),
            "sw {position}"
        );

        let mut list = vec![format!("v1={decoy_hex}"); 3];
        list.insert(position, good_v1.clone());
        let h = with(
            &stripe,
            "stripe-signature",
            format!("t={t},{}", list.join(",")),
        );
        assert_eq!(check(Stripe, "whsec_s", &h), Ok(()), "stripe {position}");

        // Paddle's own SDK keeps only the last h1; every one is tried here.
        let mut list = vec![format!("h1={decoy_hex}"); 3];
        list.insert(position, good_h1.clone());
        let h = with(
            &paddle,
            "paddle-signature",
            format!("ts={t};{}", list.join(";")),
        );
        assert_eq!(check(Paddle, "pdl_s", &h), Ok(()), "paddle {position}");
    }
}

#[test]
fn splitting_on_equals_keeps_base64_padding() {
    // 32 bytes in base64 always end in one `=`; a parser that splits
    // `s=<tag>=` on every `=` loses it and fails, or worse, reads the tag
    // as empty.
    let custom = signed(&listed(), "k", now());
    let tag = value(&custom, "x-sig").to_owned();
    assert!(tag.starts_with("s=") && tag.ends_with('='), "{tag}");
    assert_eq!(check(listed(), "k", &custom), Ok(()));
    let sw = signed(&StandardWebhooks::V1, SW_SECRET, now());
    assert!(value(&sw, "webhook-signature").ends_with('='));
    assert_eq!(check(StandardWebhooks::V1, SW_SECRET, &sw), Ok(()));
}

#[test]
fn unknown_signature_versions_are_skipped_not_errors() {
    let sw = signed(&StandardWebhooks::V1, SW_SECRET, now());
    let good = value(&sw, "webhook-signature").to_owned();
    let h = with(
        &sw,
        "webhook-signature",
        format!("v2,abc v1a,def {good} v0,x"),
    );
    assert_eq!(check(StandardWebhooks::V1, SW_SECRET, &h), Ok(()));

    let stripe = signed(&Stripe, "whsec_s", now());
    let v = value(&stripe, "stripe-signature").to_owned();
    let h = with(
        &stripe,
        "stripe-signature",
        format!("v0=00,{v},v9=zz,future=1"),
    );
    assert_eq!(check(Stripe, "whsec_s", &h), Ok(()));

    let paddle = signed(&Paddle, "pdl_s", now());
    let v = value(&paddle, "paddle-signature").to_owned();
    let h = with(&paddle, "paddle-signature", format!("h2=RANDOM;{v}"));
    assert_eq!(check(Paddle, "pdl_s", &h), Ok(()));
}

#[test]
fn a_list_with_only_unknown_versions_is_malformed_not_a_pass() {
    let sw = signed(&StandardWebhooks::V1, SW_SECRET, now());
    let h = with(&sw, "webhook-signature", "v2,abc v1a,def".into());
    assert_eq!(
        check(StandardWebhooks::V1, SW_SECRET, &h),
        Err(Rejection::MalformedSignature)
    );
}

#[test]
fn stripe_timestamps_from_the_future_are_refused_unlike_stripes_own_libraries() {
    let ahead = |secs| signed(&Stripe, "whsec_s", now() + Duration::from_secs(secs));
    assert_eq!(check(Stripe, "whsec_s", &ahead(299)), Ok(()));
    assert_eq!(
        check(Stripe, "whsec_s", &ahead(301)),
        Err(Rejection::FromFuture)
    );
    let behind = signed(&Stripe, "whsec_s", now() - Duration::from_secs(301));
    assert_eq!(check(Stripe, "whsec_s", &behind), Err(Rejection::Stale));
}

#[test]
fn two_timestamps_in_one_header_are_malformed() {
    let stripe = signed(&Stripe, "whsec_s", now());
    let v = value(&stripe, "stripe-signature").to_owned();
    // The second `t` could be the one a different parser believes.
    let h = with(&stripe, "stripe-signature", format!("{v},t=1"));
    assert_eq!(
        check(Stripe, "whsec_s", &h),
        Err(Rejection::MalformedSignature)
    );
    let paddle = signed(&Paddle, "pdl_s", now());
    let v = value(&paddle, "paddle-signature").to_owned();
    let h = with(&paddle, "paddle-signature", format!("ts=1;{v}"));
    assert_eq!(
        check(Paddle, "pdl_s", &h),
        Err(Rejection::MalformedSignature)
    );
}

#[test]
fn a_timestamp_that_is_not_plain_digits_is_malformed() {
    let sw = signed(&StandardWebhooks::V1, SW_SECRET, now());
    for bad in [
        "-1",
        "+1800000000",
        " 1800000000",
        "1800000000.5",
        "1.8e9",
        "",
    ] {
        let h = with(&sw, "webhook-timestamp", bad.into());
        assert_eq!(
            check(StandardWebhooks::V1, SW_SECRET, &h),
            Err(Rejection::MalformedSignature),
            "{bad:?}"
        );
    }
}

#[test]
fn a_standard_webhooks_secret_that_is_not_base64_is_refused_at_configuration() {
    let err = Verifier::new(
        StandardWebhooks::V1,
        Secrets::single("whsec_not base64!").unwrap(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("whsec_"), "{err}");
    // With and without the prefix, the same key.
    let bare = SW_SECRET.trim_start_matches("whsec_");
    let sw = signed(&StandardWebhooks::V1, SW_SECRET, now());
    assert_eq!(check(StandardWebhooks::V1, bare, &sw), Ok(()));
}

#[test]
fn a_list_may_mix_v1_and_v1a_and_each_key_checks_only_its_own_entries() {
    // Seed and public key of Standard Webhooks' asymmetric Go test.
    let signing = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=";
    let public = hookgate::testing::verifying_secret(&StandardWebhooks::V1, signing).unwrap();
    assert!(public.starts_with("whpk_"), "{public}");
    let v1 = signed(&StandardWebhooks::V1, SW_SECRET, now());
    let v1a = signed(&StandardWebhooks::V1, signing, now());
    let sig = |h: &[(&'static str, String)]| value(h, "webhook-signature").to_owned();
    assert!(sig(&v1a).starts_with("v1a,"));
    let mixed = with(
        &v1,
        "webhook-signature",
        format!("{} {}", sig(&v1), sig(&v1a)),
    );
    let both = Verifier::new(
        StandardWebhooks::V1,
        Secrets::new([SW_SECRET, &public]).unwrap(),
    )
    .unwrap();
    let index = |h: &[(&'static str, String)]| {
        both.authenticate_at(&h.to_vec(), BODY, now())
            .map(|m| m.secret_index)
    };
    assert_eq!(index(&mixed), Ok(0));
    assert_eq!(
        index(&v1a),
        Ok(1),
        "the v1a entry alone, checked by the public key"
    );
    // An HMAC-only route does not take an ed25519 signature, nor the reverse.
    assert_eq!(
        check(StandardWebhooks::V1, SW_SECRET, &v1a),
        Err(Rejection::BadSignature)
    );
    assert_eq!(
        check(StandardWebhooks::V1, &public, &v1),
        Err(Rejection::BadSignature)
    );
    // A v1a signature over other bytes, or a changed one, is refused.
    let mut changed = sig(&v1a);
    let at = changed.len() - 5;
    changed.replace_range(
        at..at + 1,
        if &changed[at..at + 1] == "A" {
            "B"
        } else {
            "A"
        },
    );
    let h = with(&v1a, "webhook-signature", changed);
    assert_eq!(
        check(StandardWebhooks::V1, &public, &h),
        Err(Rejection::BadSignature)
    );
    // A public key that is not 32 bytes is refused at configuration.
    let err =
        Verifier::new(StandardWebhooks::V1, Secrets::single("whpk_AAAA").unwrap()).unwrap_err();
    assert!(err.to_string().contains("whpk_"), "{err}");
}

/// Words that name signature material as an identifier's last word
/// (`computed_tag`, `claimed`, `expected_token`): a tag, a digest, a
/// token, a secret.
const MATERIAL: &[&str] = &[
    "tag",
    "tags",
    "sig",
    "sigs",
    "signature",
    "signatures",
    "digest",
    "mac",
    "hmac",
    "computed",
    "expected",
    "claimed",
    "token",
    "hash",
    "secret",
    "encrypted",
];

/// What may follow material in an operand and makes it not the material
/// itself (its length, its algorithm, whether it is empty).
const METADATA: &[&str] = &[
    "len",
    "algorithm",
    "is_empty",
    "is_some",
    "is_none",
    "encoding",
    "name",
    "kind",
    "count",
];

/// Calls that keep an operand the same bytes (`tag.as_bytes()`).
const SAME_BYTES: &[&str] = &[
    "as_bytes",
    "as_slice",
    "as_ref",
    "as_str",
    "to_vec",
    "to_owned",
    "to_string",
    "into_bytes",
    "to_ascii_lowercase",
    "trim",
    "trim_ascii",
    "unwrap",
    "unwrap_or_default",
    "encode",
    "hex",
];

/// `source` with comments, string and char literals blanked
/// and the unit-test module (from `#[cfg(test)]` on) cut off.
fn code_of(source: &str) -> String {
    let tests = [
        "#[cfg(test)]\nmod tests",
        "#[cfg(test)]\npub(crate) mod tests",
    ]
    .iter()
    .filter_map(|start| source.find(start))
    .min()
    .unwrap_or(source.len());
    let source = &source[..tests];
    let mut out = String::with_capacity(source.len());
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '"' => {
                // A string literal (raw strings in these files hold no `"`).
                let mut escaped = false;
                for c in chars.by_ref() {
                    match c {
                        '\\' if !escaped => escaped = true,
                        '"' if !escaped => break,
                        '\n' => {
                            out.push('\n');
                            escaped = false;
                        }
                        _ => escaped = false,
                    }
                }
                out.push_str("\"\"");
            }
            '\'' => {
                // A char literal (`b'='`, `'\n'`) or a lifetime (`'h`).
                let rest: String = chars.clone().take(4).collect();
                let len = if rest.starts_with('\\') {
                    rest.find('\'').map(|i| i + 1)
                } else if rest.chars().nth(1) == Some('\'') {
                    Some(2)
                } else {
                    None
                };
                out.push('\'');
                if let Some(len) = len {
                    for _ in 0..len {
                        chars.next();
                    }
                    out.push('\'');
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Whether an operand of `==` or `!=` is signature material: its last
/// identifier, past calls that keep the same bytes, names material.
fn is_material(operand: &str) -> bool {
    let idents: Vec<&str> = operand
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty() && !w.starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    let Some(last) = idents.iter().rev().find(|w| !SAME_BYTES.contains(w)) else {
        return false;
    };
    if METADATA.contains(last) {
        return false;
    }
    // The identifier's head word, past generic suffixes: `computed_tag`
    // and `tag_bytes` are material, `tag_key` (the name of a list entry)
    // is not.
    let lower = last.to_ascii_lowercase();
    lower
        .split('_')
        .rev()
        .find(|word| !["bytes", "text", "hex", "b64", "str", "value", "raw", "buf"].contains(word))
        .is_some_and(|word| MATERIAL.contains(&word))
}

/// The `==` / `!=` comparisons of signature material in `source`, as
/// `line: text`.
fn material_comparisons(source: &str) -> Vec<String> {
    let code = code_of(source);
    let operand_char = |c: char| c.is_ascii_alphanumeric() || "_.()[]&*:".contains(c);
    let mut found = Vec::new();
    for (number, line) in code.lines().enumerate() {
        for (at, op) in line.match_indices("==").chain(line.match_indices("!=")) {
            // Not `<=`, `>=`, `===`, or the `=` of `!==`.
            let before = line[..at].chars().last();
            if matches!(before, Some('<' | '>' | '=' | '!')) || line[at + 2..].starts_with('=') {
                continue;
            }
            let left: String = line[..at]
                .trim_end()
                .chars()
                .rev()
                .take_while(|c| operand_char(*c))
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            let right: String = line[at + op.len()..]
                .trim_start()
                .chars()
                .take_while(|c| operand_char(*c))
                .collect();
            if is_material(&left) || is_material(&right) {
                found.push(format!("{}: {}", number + 1, line.trim()));
            }
        }
    }
    found
}

/// The crate's source files but those of the dedupe store and the inbox:
/// the schemes, the keys, the verifier and the handshakes (Meta's verify
/// token, Zoom's token) handle signature material, and a new file is
/// covered without being listed. The stores only see verified events;
/// their `token`s are claim handles, compared with `==` on purpose.
fn material_sources() -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, files: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.ends_with("dedupe") || path.ends_with("inbox") {
                continue;
            }
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    files.sort();
    files
}

#[test]
fn signature_material_is_never_compared_with_eq() {
    let files = material_sources();
    for must in [
        "scheme/standard.rs",
        "scheme/twilio.rs",
        "secret.rs",
        "handshake.rs",
    ] {
        assert!(files.iter().any(|f| f.ends_with(must)), "{must}: {files:?}");
    }
    let mut found = Vec::new();
    for file in &files {
        let source = std::fs::read_to_string(file).unwrap();
        for hit in material_comparisons(&source) {
            found.push(format!("{}:{hit}", file.display()));
        }
    }
    assert!(
        found.is_empty(),
        "signature material compared with ==/!= (use subtle::ConstantTimeEq):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_constant_time_guard_fires_on_eq_and_not_on_lengths_or_ct_eq() {
    let fires = [
        "if computed.as_slice() == tag { return true; }",
        "let ok = hex::encode(digest) != claimed;",
        "matched = expected_token.as_bytes() == token.as_bytes();",
        "if actual == signature {",
        "if tag==computed {",
        "if sent_tag_bytes != computed_tag {",
    ];
    for line in fires {
        assert_eq!(material_comparisons(line).len(), 1, "{line}");
    }
    let quiet = [
        "matched |= computed.as_slice().ct_eq(tag);",
        "if tag.len() == 32 {",
        ".filter(move |tag| tag.algorithm == algorithm)",
        "Some((key, ts)) if key == ts_key => {}",
        "Some((key, tag)) if key == tag_key => {",
        "if text.len() == 2 * out.len() {",
        "// if computed == tag, the old way",
        r#"let s = "tag == computed";"#,
        "if n <= tag_count {",
    ];
    for line in quiet {
        assert_eq!(material_comparisons(line), Vec::<String>::new(), "{line}");
    }
}
