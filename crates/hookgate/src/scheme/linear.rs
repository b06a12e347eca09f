use std::time::Duration;

use super::{
    single_header, EnvelopeFields, Field, Message, Scheme, SignInput, SignatureParts, TimeFormat,
};
use crate::{ConfigError, Rejection};

/// Linear: `Linear-Signature: <hex HMAC-SHA256 of the body>`.
///
/// - The signed timestamp is the body's `webhookTimestamp` (Unix
///   milliseconds); Linear asks receivers to refuse one more than a minute
///   old, so the window is 60 s both ways.
/// - The dedupe key is the `Linear-Delivery` header; the body's `type`
///   (`Issue`, `Comment`) is the event type and its `data` the data.
#[derive(Debug, Clone, Copy, Default)]
pub struct Linear;

const HEADER: &str = "linear-signature";
const DELIVERY: &str = "linear-delivery";
const WINDOW: Duration = Duration::from_secs(60);

impl Scheme for Linear {
    fn name(&self) -> &'static str {
        "linear"
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
            .id(Field::header(DELIVERY))
            .event(Field::body("type"))
            .timestamp(Field::body("webhookTimestamp"), TimeFormat::UnixMillis)
            .data(Field::body("data").optional())
    }

    fn default_freshness(&self) -> Duration {
        WINDOW
    }

    fn default_future_skew(&self) -> Duration {
        WINDOW
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
            (HEADER, hex::encode(tag)),
            (DELIVERY, input.id_or_made_up("")),
        ])
    }
}
