use std::time::Duration;

use super::{
    single_header, EnvelopeFields, Field, Message, Scheme, SignInput, SignatureParts, TimeFormat,
};
use crate::{ConfigError, Rejection};

/// AXIFI: `X-Webhook-Signature: sha256=<hex HMAC-SHA256 of the raw body>`
/// (the same form as GitHub's `X-Hub-Signature-256`).
///
/// The envelope is `{ "event", "timestamp", "data" }` with no event id.
/// AXIFI does not publish its retry schedule, so the default freshness window
/// is a generous 24 hours; set a tighter one with
/// [`Verifier::freshness`](crate::Verifier::freshness) once you know it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Axifi;

const HEADER: &str = "x-webhook-signature";

impl Scheme for Axifi {
    fn name(&self) -> &'static str {
        "axifi"
    }

    fn signature_header(&self) -> &'static str {
        HEADER
    }

    fn parse_signature<'h>(
        &self,
        message: Message<'h>,
        parts: &mut SignatureParts<'h>,
    ) -> Result<(), Rejection> {
        let value = single_header(message.headers, HEADER)?;
        let hex_tag = value
            .strip_prefix(b"sha256=")
            .ok_or(Rejection::MalformedSignature)?;
        parts.push_hex_tag(hex_tag)?;
        parts.push_body()
    }

    fn envelope(&self) -> EnvelopeFields {
        EnvelopeFields::json()
            .event(Field::body("event"))
            .timestamp(Field::body("timestamp"), TimeFormat::Rfc3339)
            .data(Field::body("data"))
    }

    fn default_freshness(&self) -> Duration {
        Duration::from_secs(24 * 60 * 60)
    }

    fn sign(
        &self,
        secret: &[u8],
        input: &SignInput<'_>,
    ) -> Result<Vec<(&'static str, String)>, ConfigError> {
        let tag = self
            .algorithm()
            .tag(&self.decode_secret(secret)?, &[input.body]);
        Ok(vec![(HEADER, format!("sha256={}", hex::encode(tag)))])
    }
}
