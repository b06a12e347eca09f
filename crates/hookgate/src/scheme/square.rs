use std::time::Duration;

use super::{
    single_header, Encoding, EnvelopeFields, Field, Message, Scheme, SignInput, SignatureParts,
};
use crate::{ConfigError, Rejection};

/// Square: `x-square-hmacsha256-signature: <base64 HMAC-SHA256 of the
/// notification URL followed by the body>`, keyed with the subscription's
/// signature key as given.
///
/// - The URL is the notification URL as configured at Square: build the
///   verifier with [`Verifier::with_public_url`](crate::Verifier::with_public_url)
///   (behind a proxy the request's own URL is not it).
/// - `event_id` is the dedupe key, `type` the event type, `data` the data.
/// - **Square signs no timestamp header**: replay protection is the dedupe
///   window (the body's `created_at` is signed, but stays the same on
///   retries, which Square spreads over a day or more).
#[derive(Debug, Clone, Copy, Default)]
pub struct Square;

const HEADER: &str = "x-square-hmacsha256-signature";

impl Scheme for Square {
    fn name(&self) -> &'static str {
        "square"
    }

    fn signature_header(&self) -> &'static str {
        HEADER
    }

    fn signs_url(&self) -> bool {
        true
    }

    fn parse_signature<'h>(
        &self,
        message: Message<'h>,
        parts: &mut SignatureParts<'h>,
    ) -> Result<(), Rejection> {
        parts.push_tag(Encoding::Base64, single_header(message.headers, HEADER)?)?;
        let url = message.url.ok_or(Rejection::MalformedSignature)?;
        parts.push(url.as_bytes())?;
        parts.push_body()
    }

    fn envelope(&self) -> EnvelopeFields {
        EnvelopeFields::json()
            .id(Field::body("event_id"))
            .event(Field::body("type"))
            .data(Field::body("data").optional())
    }

    fn default_freshness(&self) -> Duration {
        // No signed timestamp: the window is never used.
        Duration::ZERO
    }

    fn sign(
        &self,
        secret: &[u8],
        input: &SignInput<'_>,
    ) -> Result<Vec<(&'static str, String)>, ConfigError> {
        let url = input.url.unwrap_or_default();
        let content: [&[u8]; 2] = [url.as_bytes(), input.body];
        let tag = self.algorithm().tag(&self.decode_secret(secret)?, &content);
        Ok(vec![(HEADER, Encoding::Base64.encode(&tag))])
    }
}
