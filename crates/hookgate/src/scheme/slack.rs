use std::time::Duration;

use super::{
    v0_sign, v0_signature, EnvelopeFields, Field, Message, Scheme, SignInput, SignatureParts,
    FIVE_MINUTES,
};
use crate::{ConfigError, Rejection};

/// Slack: `X-Slack-Signature: v0=<hex>` and `X-Slack-Request-Timestamp`.
///
/// - The tag is HMAC-SHA256 of `v0:{timestamp}:{body}` keyed with the app's
///   signing secret as Slack shows it.
/// - Slack signs each attempt anew; the window is 5 minutes both ways, as
///   Slack's guide asks.
/// - Events API bodies are JSON (`event_id` is the dedupe key, `type` the
///   event type, `event` the data); slash commands and interactivity
///   payloads are forms, passed on whole with no id (dedupe on the body's
///   hash).
#[derive(Debug, Clone, Copy, Default)]
pub struct Slack;

const HEADER: &str = "x-slack-signature";
const TIMESTAMP: &str = "x-slack-request-timestamp";

impl Scheme for Slack {
    fn name(&self) -> &'static str {
        "slack"
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
        EnvelopeFields::any()
            .id(Field::body("event_id").optional())
            .event(Field::body("type").optional())
            .data(Field::body("event").optional())
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
