//! Helpers to test your own handlers without a sender: sample bodies, the
//! signature headers each scheme sends, and complete signed requests.
//!
//! ```
//! use hookgate::scheme::Aexo;
//! use hookgate::testing;
//!
//! let body = testing::aexo_body("wh_1", "key.revoked", serde_json::json!({"key_id": "k_1"}));
//! let req = testing::signed_request(&Aexo, "s3cret", "/webhooks/aexo", body);
//! assert!(req.headers().contains_key("x-aexo-signature"));
//! ```

use std::time::SystemTime;

use bytes::Bytes;
use http::{header, Request};
use http_body_util::Full;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::scheme::{Scheme, SignInput};
use crate::Secret;

/// The signature header(s) `scheme` sends for `body` with `secret`, as
/// `(name, value)` pairs. An empty secret signs nothing (an empty list),
/// since no receiver accepts one.
pub fn sign(
    scheme: &dyn Scheme,
    secret: impl AsRef<[u8]>,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    sign_at(scheme, secret, body, SystemTime::now())
}

/// [`sign`] with an explicit signing time, for schemes that sign one.
pub fn sign_at(
    scheme: &dyn Scheme,
    secret: impl AsRef<[u8]>,
    body: &[u8],
    at: SystemTime,
) -> Vec<(&'static str, String)> {
    let mut input = SignInput::new(body);
    input.timestamp = at;
    sign_input(scheme, secret, &input)
}

/// The headers `scheme` sends for `input` (an id, an event type, a URL for
/// the schemes that send or sign them). A secret the scheme cannot use
/// (empty, or not in its form) signs nothing, since no receiver accepts one.
pub fn sign_input(
    scheme: &dyn Scheme,
    secret: impl AsRef<[u8]>,
    input: &SignInput<'_>,
) -> Vec<(&'static str, String)> {
    match Secret::new(secret) {
        Ok(secret) => scheme.sign(secret.expose(), input).unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

/// The secret a receiver configures to verify what `signing_secret` signs:
/// the same secret for HMAC schemes; for ed25519 schemes the public key of
/// the signing key, in the scheme's form (Discord: 64 hex digits from a
/// hex seed; Standard Webhooks: `whpk_<base64>` from `whsk_<base64>`).
/// `None` when the signing secret is not in the scheme's form.
pub fn verifying_secret(scheme: &dyn Scheme, signing_secret: &str) -> Option<String> {
    use crate::scheme::{Algorithm, Encoding};
    let ed25519 = scheme.algorithm() == Algorithm::Ed25519
        || (scheme.name() == "standard-webhooks" || scheme.name() == "svix")
            && signing_secret.starts_with("whsk_");
    if !ed25519 {
        return Some(signing_secret.to_owned());
    }
    let seed: [u8; 32] = scheme
        .decode_secret(signing_secret.as_bytes())
        .ok()?
        .try_into()
        .ok()?;
    let public = ed25519_dalek::SigningKey::from_bytes(&seed)
        .verifying_key()
        .to_bytes();
    Some(if scheme.algorithm() == Algorithm::Ed25519 {
        hex::encode(public)
    } else {
        format!("whpk_{}", Encoding::Base64.encode(&public))
    })
}

/// A body in `scheme`'s envelope: `id`, `event` and the timestamp `at` in
/// the body fields the scheme reads them from (those it reads from headers
/// are left to [`sign_input`]), `data` under its data field, or as the
/// whole body when the scheme has none. Compact JSON.
pub fn sample_body(
    scheme: &dyn Scheme,
    id: &str,
    event: &str,
    data: serde_json::Value,
    at: OffsetDateTime,
) -> Vec<u8> {
    use crate::scheme::{Field, Source, TimeFormat};
    let fields = scheme.envelope();
    let mut body = serde_json::Map::new();
    let mut put = |field: Option<Field>, value: serde_json::Value| {
        if let Some(Field {
            source: Source::Body(name),
            ..
        }) = field
        {
            body.insert(name.to_owned(), value);
        }
    };
    put(fields.id, id.into());
    put(fields.event, event.into());
    put(fields.version, "1.3.0".into());
    if let Some((field, format)) = fields.timestamp {
        let secs = at.unix_timestamp();
        put(
            Some(field),
            match format {
                TimeFormat::Rfc3339 => rfc3339(at).into(),
                TimeFormat::UnixMillis => (secs * 1000).into(),
                _ => secs.into(),
            },
        );
    }
    match fields.data {
        Some(Field {
            source: Source::Body(name),
            ..
        }) => {
            body.insert(name.to_owned(), data);
        }
        _ => {
            if let serde_json::Value::Object(map) = data {
                for (k, v) in map {
                    body.entry(k).or_insert(v);
                }
            }
        }
    }
    serde_json::Value::Object(body).to_string().into_bytes()
}

/// A `POST` to `uri` with a JSON `body` and the scheme's signature headers.
///
/// # Panics
/// When `uri` is not a valid request target (a bug in the test calling it).
#[allow(clippy::expect_used)]
pub fn signed_request(
    scheme: &dyn Scheme,
    secret: impl AsRef<[u8]>,
    uri: &str,
    body: impl Into<Bytes>,
) -> Request<Full<Bytes>> {
    let body = body.into();
    let mut req = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, body.len())
        .body(Full::new(body.clone()))
        .expect("signed_request: uri must be a valid request target");
    for (name, value) in sign(scheme, secret, &body) {
        if let Ok(value) = http::HeaderValue::from_str(&value) {
            req.headers_mut().insert(name, value);
        }
    }
    req
}

/// An AEXO envelope created now, as AEXO serializes it (`JSON.stringify`, compact).
pub fn aexo_body(id: &str, event: &str, data: serde_json::Value) -> Vec<u8> {
    aexo_body_at(id, event, data, OffsetDateTime::now_utc())
}

/// An AEXO envelope with an explicit `created_at`.
pub fn aexo_body_at(
    id: &str,
    event: &str,
    data: serde_json::Value,
    created_at: OffsetDateTime,
) -> Vec<u8> {
    serde_json::json!({
        "id": id,
        "event": event,
        "created_at": rfc3339(created_at),
        "api_version": "1.3.0",
        "data": data,
    })
    .to_string()
    .into_bytes()
}

/// An AXIFI envelope stamped now.
pub fn axifi_body(event: &str, data: serde_json::Value) -> Vec<u8> {
    axifi_body_at(event, data, OffsetDateTime::now_utc())
}

/// An AXIFI envelope with an explicit `timestamp`.
pub fn axifi_body_at(event: &str, data: serde_json::Value, timestamp: OffsetDateTime) -> Vec<u8> {
    serde_json::json!({
        "event": event,
        "timestamp": rfc3339(timestamp),
        "data": data,
    })
    .to_string()
    .into_bytes()
}

/// `2026-05-17T08:30:00Z`: whole seconds, UTC, as the senders format it.
pub fn rfc3339(at: OffsetDateTime) -> String {
    let at = at
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(at);
    at.format(&Rfc3339).unwrap_or_default()
}
