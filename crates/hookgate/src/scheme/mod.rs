//! Signature schemes: where a sender puts its signature, what it signs, and
//! where its envelope keeps the event id, type and timestamp.
//!
//! A scheme only *parses*: it turns the request headers into
//! [`SignatureParts`] (the bytes signed before the body, the candidate tags,
//! an optional signed timestamp). The [`Verifier`](crate::Verifier) then
//! computes HMAC-SHA256 over `prefix ++ body` with each active secret and
//! compares in constant time. That split covers every HMAC-SHA256 sender we
//! know of without changing the trait:
//!
//! | sender | header | signed bytes | tags |
//! |---|---|---|---|
//! | AEXO | `X-AEXO-Signature: <hex>` | body | one |
//! | AXIFI, GitHub | `X-Webhook-Signature` / `X-Hub-Signature-256: sha256=<hex>` | body | one |
//! | Stripe | `Stripe-Signature: t=..,v1=..,v1=..` | `{t}.` + body | several, timestamp in header |
//! | Slack | `X-Slack-Signature: v0=<hex>` + timestamp header | `v0:{ts}:` + body | one, timestamp in header |
//! | Standard Webhooks | `webhook-signature: v1,<b64> v1,<b64>` + id and timestamp headers | `{id}.{ts}.` + body | several (base64) |
//!
//! ```
//! use hookgate::scheme::{Aexo, Scheme, SignatureParts};
//! let headers = vec![("x-aexo-signature", "ab".repeat(32))];
//! let mut parts = SignatureParts::new();
//! Aexo.parse_signature(&headers, &mut parts).unwrap();
//! assert_eq!(parts.tags().len(), 1);
//! ```

mod aexo;
mod axifi;

pub use aexo::Aexo;
pub use axifi::Axifi;

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::headers::{HeaderValue, Headers};
use crate::{Rejection, Secret};

/// Length of an HMAC-SHA256 tag.
pub const TAG_LEN: usize = 32;

/// Most prefix segments a scheme may add before the body.
pub const MAX_PREFIX_PARTS: usize = 6;

/// Most candidate tags one request may carry (Stripe and Standard Webhooks
/// send one per active secret of the sender).
pub const MAX_TAGS: usize = 8;

/// How a sender signs its deliveries.
pub trait Scheme: fmt::Debug + Send + Sync + 'static {
    /// Short lowercase name, used in logs, metrics and dedupe namespaces.
    fn name(&self) -> &'static str;

    /// The header that carries the signature (lowercase), for messages and tools.
    fn signature_header(&self) -> &'static str;

    /// Reads the signature header(s) into `parts`. Every malformed input is a
    /// [`Rejection`], never a panic.
    fn parse_signature<'h>(
        &self,
        headers: &'h dyn Headers,
        parts: &mut SignatureParts<'h>,
    ) -> Result<(), Rejection>;

    /// Where the JSON envelope keeps its fields.
    fn envelope(&self) -> EnvelopeFields;

    /// The default freshness window for this sender's signed timestamps.
    fn default_freshness(&self) -> Duration;

    /// The header(s) a sender would send for `input`, signed with `secret`.
    /// Used by the test helpers and the command-line tool.
    fn sign(&self, secret: &Secret, input: &SignInput<'_>) -> Vec<(&'static str, String)>;
}

/// What a scheme read from the headers: the signed prefix, the candidate
/// tags and, for schemes that sign one, the header timestamp.
///
/// Fixed capacity, so parsing allocates nothing.
#[derive(Debug)]
pub struct SignatureParts<'h> {
    prefix: [&'h [u8]; MAX_PREFIX_PARTS],
    prefix_len: usize,
    tags: [[u8; TAG_LEN]; MAX_TAGS],
    tags_len: usize,
    timestamp: Option<SystemTime>,
}

impl Default for SignatureParts<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'h> SignatureParts<'h> {
    /// Nothing read yet.
    pub fn new() -> Self {
        Self {
            prefix: [&[]; MAX_PREFIX_PARTS],
            prefix_len: 0,
            tags: [[0; TAG_LEN]; MAX_TAGS],
            tags_len: 0,
            timestamp: None,
        }
    }

    /// Appends bytes that are signed before the body (for example Stripe's `{t}.`).
    pub fn push_prefix(&mut self, part: &'h [u8]) -> Result<(), Rejection> {
        let slot = self
            .prefix
            .get_mut(self.prefix_len)
            .ok_or(Rejection::MalformedSignature)?;
        *slot = part;
        self.prefix_len += 1;
        Ok(())
    }

    /// Adds a candidate tag given as hex (either case). Wrong length, odd
    /// length or a non-hex digit is [`Rejection::MalformedSignature`].
    pub fn push_hex_tag(&mut self, hex_tag: &[u8]) -> Result<(), Rejection> {
        let mut tag = [0u8; TAG_LEN];
        if hex_tag.len() != 2 * TAG_LEN {
            return Err(Rejection::MalformedSignature);
        }
        hex::decode_to_slice(hex_tag, &mut tag).map_err(|_| Rejection::MalformedSignature)?;
        self.push_tag(tag)
    }

    /// Adds a decoded candidate tag.
    pub fn push_tag(&mut self, tag: [u8; TAG_LEN]) -> Result<(), Rejection> {
        let slot = self
            .tags
            .get_mut(self.tags_len)
            .ok_or(Rejection::MalformedSignature)?;
        *slot = tag;
        self.tags_len += 1;
        Ok(())
    }

    /// Records a timestamp the scheme signs in a header.
    pub fn set_timestamp(&mut self, at: SystemTime) {
        self.timestamp = Some(at);
    }

    /// The bytes signed before the body.
    pub fn prefix(&self) -> &[&'h [u8]] {
        &self.prefix[..self.prefix_len]
    }

    /// The candidate tags.
    pub fn tags(&self) -> &[[u8; TAG_LEN]] {
        &self.tags[..self.tags_len]
    }

    /// The signed header timestamp, if the scheme has one.
    pub fn timestamp(&self) -> Option<SystemTime> {
        self.timestamp
    }
}

/// Names of the envelope's fields, for the one-pass envelope reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvelopeFields {
    /// The event id (`None`: the sender has none, as AXIFI).
    pub id: Option<&'static str>,
    /// The event type.
    pub event: &'static str,
    /// The signed RFC 3339 timestamp (`None`: the scheme signs one in a header).
    pub timestamp: Option<&'static str>,
    /// The API version, if the sender sends one.
    pub version: Option<&'static str>,
    /// The event's data.
    pub data: &'static str,
}

impl EnvelopeFields {
    /// An envelope with an event type and data only; add the others with the setters.
    pub const fn new(event: &'static str, data: &'static str) -> Self {
        Self {
            id: None,
            event,
            timestamp: None,
            version: None,
            data,
        }
    }

    /// Sets the id field.
    #[must_use]
    pub const fn id(mut self, field: &'static str) -> Self {
        self.id = Some(field);
        self
    }

    /// Sets the timestamp field.
    #[must_use]
    pub const fn timestamp(mut self, field: &'static str) -> Self {
        self.timestamp = Some(field);
        self
    }

    /// Sets the API version field.
    #[must_use]
    pub const fn version(mut self, field: &'static str) -> Self {
        self.version = Some(field);
        self
    }
}

/// What to sign: the body, and for schemes that sign them, a timestamp and an id.
#[derive(Debug, Clone, Copy)]
pub struct SignInput<'a> {
    /// The exact bytes that will be sent as the body.
    pub body: &'a [u8],
    /// The time of signing (schemes with a header timestamp sign it).
    pub timestamp: SystemTime,
    /// A message id (schemes that sign one).
    pub id: Option<&'a str>,
}

impl<'a> SignInput<'a> {
    /// Signs `body` now, with no id.
    pub fn new(body: &'a [u8]) -> Self {
        Self {
            body,
            timestamp: SystemTime::now(),
            id: None,
        }
    }
}

/// The single value of a required header, or the rejection for its absence
/// or repetition. A helper for scheme implementations.
pub fn single_header<'h>(headers: &'h dyn Headers, name: &str) -> Result<&'h [u8], Rejection> {
    match headers.header(name) {
        HeaderValue::Absent => Err(Rejection::MissingSignature),
        HeaderValue::Many => Err(Rejection::DuplicateSignature),
        HeaderValue::One(v) => Ok(v),
    }
}

/// Default freshness for senders that keep the original timestamp on retries
/// and retry for about two and a half hours (AEXO: +0, +5 min, +30 min, +2 h,
/// each after a 30 s timeout, 2 h 37 min in all), with 20 minutes to spare.
pub const RETRY_SPAN_WINDOW: Duration = Duration::from_secs(3 * 60 * 60);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_tags_of_the_wrong_shape_are_malformed() {
        let mut parts = SignatureParts::new();
        for bad in [
            &b""[..],
            b"abc",
            &[b'a'; 63],
            &[b'a'; 65],
            &[b'g'; 64],
            &[b'a'; 62],
        ] {
            assert_eq!(
                parts.push_hex_tag(bad),
                Err(Rejection::MalformedSignature),
                "{bad:?}"
            );
        }
        assert!(parts.tags().is_empty());
    }

    #[test]
    fn uppercase_hex_decodes_to_the_same_tag() {
        let mut parts = SignatureParts::new();
        parts.push_hex_tag(&[b'a'; 64]).unwrap();
        parts.push_hex_tag(&[b'A'; 64]).unwrap();
        assert_eq!(parts.tags()[0], parts.tags()[1]);
    }

    #[test]
    fn more_tags_than_capacity_is_malformed_not_a_panic() {
        let mut parts = SignatureParts::new();
        for _ in 0..MAX_TAGS {
            parts.push_tag([1; TAG_LEN]).unwrap();
        }
        assert_eq!(
            parts.push_tag([1; TAG_LEN]),
            Err(Rejection::MalformedSignature)
        );
        for _ in 0..MAX_PREFIX_PARTS {
            parts.push_prefix(b".").unwrap();
        }
        assert_eq!(parts.push_prefix(b"."), Err(Rejection::MalformedSignature));
    }
}
