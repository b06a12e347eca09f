use std::time::Duration;

use super::{
    v0_sign, v0_signature, EnvelopeFields, Field, Message, Scheme, SignInput, SignatureParts,
    FIVE_MINUTES,
};
use crate::{ConfigError, Rejection};

/// Zoom: `x-zm-signature: v0=<hex>` and `x-zm-request-timestamp`.
///
/// - The tag is HMAC-SHA256 of `v0:{timestamp}:{body}` keyed with the app's
///   secret token.
/// - The window is 5 minutes both ways.
/// - The body is `{"event", "event_ts", "payload"}`: `event` is the type,
///   `payload` the data. Zoom sends no event id, so the dedupe key is the
///   body's hash (a retry sends the same body).
#[derive(Debug, Clone, Copy, Default)]
pub struct Zoom;

const HEADER: &str = "x-zm-signature";
const TIMESTAMP: &str = "x-zm-request-timestamp";

impl Scheme for Zoom {
    fn name(&self) -> &'static str {
        "zoom"
    }

    fn signature_header(&self) -> &'static str {
        HEADER
    }

    fn parse_signature<'h>(
        &self,
        message: Message<'h>,
        parts: &mut SignatureParts<'h>,
    ) -> Result<(), Rejection> {
        v0_signature(message.headers, (HEADER, TIMESTAMP), parts)
    }

    fn envelope(&self) -> EnvelopeFields {
        EnvelopeFields::json()
            .event(Field::body("event"))
            .data(Field::body("payload").optional())
    }

    fn default_freshness(&self) -> Duration {
        FIVE_MINUTES
    }

    fn sign(
        &self,
        secret: &[u8],
        input: &SignInput<'_>,
    ) -> Result<Vec<(&'static str, String)>, ConfigError> {
        Ok(v0_sign(
            &self.decode_secret(secret)?,
            (HEADER, TIMESTAMP),
            input,
        ))
    }
}
