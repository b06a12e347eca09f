use std::time::Duration;

use super::{
    single_header, Encoding, EnvelopeFields, Field, Message, Scheme, SignInput, SignatureParts,
};
use crate::{ConfigError, Rejection};

/// Shopify: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the body>`,
/// keyed with the app's client secret.
///
/// - The event type is `X-Shopify-Topic` (`orders/create`), the dedupe key
///   `X-Shopify-Event-Id` (the same for every delivery of one event); a
///   delivery without it is deduplicated on the body's hash. The whole body
///   is the data.
/// - **Shopify signs no timestamp** (`X-Shopify-Triggered-At` is not
///   signed): replay protection is the dedupe window alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shopify;

const HEADER: &str = "x-shopify-hmac-sha256";
const EVENT_ID: &str = "x-shopify-event-id";
const TOPIC: &str = "x-shopify-topic";

impl Scheme for Shopify {
    fn name(&self) -> &'static str {
        "shopify"
    }

    fn signature_header(&self) -> &'static str {
        HEADER
    }

    fn parse_signature<'h>(
        &self,
        message: Message<'h>,
        parts: &mut SignatureParts<'h>,
    ) -> Result<(), Rejection> {
        parts.push_tag(Encoding::Base64, single_header(message.headers, HEADER)?)?;
        parts.push_body()
    }

    fn envelope(&self) -> EnvelopeFields {
        EnvelopeFields::any()
            .id(Field::header(EVENT_ID).optional())
            .event(Field::header(TOPIC).optional())
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
        let tag = self
            .algorithm()
            .tag(&self.decode_secret(secret)?, &[input.body]);
        Ok(vec![
            (HEADER, Encoding::Base64.encode(&tag)),
            (EVENT_ID, input.id_or_made_up("")),
            (TOPIC, input.event.unwrap_or("orders/create").to_owned()),
        ])
    }
}
