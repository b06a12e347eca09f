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
    match Secret::new(secret) {
        Ok(secret) => {
            let mut input = SignInput::new(body);
            input.timestamp = at;
            scheme.sign(&secret, &input)
        }
        Err(_) => Vec::new(),
    }
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
