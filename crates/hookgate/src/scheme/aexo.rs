use std::time::Duration;

use super::{
    single_header, EnvelopeFields, Field, Message, Scheme, SignInput, SignatureParts, TimeFormat,
    RETRY_SPAN_WINDOW,
};
use crate::{ConfigError, Rejection};

/// AEXO: `X-AEXO-Signature: <hex HMAC-SHA256 of the body>`.
///
/// The envelope is `{ "id", "event", "created_at", "api_version", "data" }`;
/// `created_at` is the signed timestamp and stays the same on retries, so the
/// default freshness window (3 h) covers AEXO's retry span of 2 h 35 min.
///
/// Hex is accepted in either case: it is decoded before the constant-time
/// comparison, and both cases encode the same tag.
#[derive(Debug, Clone, Copy, Default)]
pub struct Aexo;

const HEADER: &str = "x-aexo-signature";

impl Scheme for Aexo {
    fn name(&self) -> &'static str {
        "aexo"
    }

    fn signature_header(&self) -> &'static str {
        HEADER
    }

    fn parse_signature<'h>(
        &self,
        message: Message<'h>,
        parts: &mut SignatureParts<'h>,
    ) -> Result<(), Rejection> {
        parts.push_hex_tag(single_header(message.headers, HEADER)?)?;
        parts.push_body()
    }

    fn envelope(&self) -> EnvelopeFields {
        EnvelopeFields::json()
            .id(Field::body("id"))
            .event(Field::body("event"))
            .timestamp(Field::body("created_at"), TimeFormat::Rfc3339)
            .version(Field::body("api_version").optional())
            .data(Field::body("data"))
    }

    fn default_freshness(&self) -> Duration {
        RETRY_SPAN_WINDOW
    }

    fn sign(
        &self,
        secret: &[u8],
        input: &SignInput<'_>,
    ) -> Result<Vec<(&'static str, String)>, ConfigError> {
        let tag = self
            .algorithm()
            .tag(&self.decode_secret(secret)?, &[input.body]);
        Ok(vec![(HEADER, hex::encode(tag))])
    }
}
