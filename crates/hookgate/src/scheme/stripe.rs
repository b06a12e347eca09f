use std::time::Duration;

use super::{
    keyed_list, single_header, EnvelopeFields, Field, Message, Scheme, SignInput, SignatureParts,
};
use crate::{ConfigError, Rejection};

/// Stripe: `Stripe-Signature: t=<unix seconds>,v1=<hex>,v1=<hex>`.
///
/// - The tag is HMAC-SHA256 of `{t}.{body}`, keyed with the endpoint's
///   signing secret exactly as the dashboard shows it (`whsec_...` is the
///   key itself, not base64).
/// - Every `v1` is tried (Stripe sends one per active secret while you roll
///   one); `v0` and unknown schemes are skipped. A header with two `t` is
///   malformed.
/// - The window is 300 s in both directions. Stripe's own libraries accept
///   any timestamp in the future; hookgate does not, since a timestamp from
///   the future would stay fresh for longer than the window says.
/// - The event id (`evt_...`, the same on retries) and type come from the
///   body; `data` is `{"object": ...}`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stripe;

const HEADER: &str = "stripe-signature";
const WINDOW: Duration = Duration::from_secs(300);

impl Scheme for Stripe {
    fn name(&self) -> &'static str {
        "stripe"
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
        keyed_list(value, b',', (b"t", b"v1", b"."), parts)
    }

    fn envelope(&self) -> EnvelopeFields {
        EnvelopeFields::json()
            .id(Field::body("id"))
            .event(Field::body("type"))
            .version(Field::body("api_version").optional())
            .data(Field::body("data"))
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
        let t = input.unix_seconds().to_string();
        let content: [&[u8]; 3] = [t.as_bytes(), b".", input.body];
        let tag = self.algorithm().tag(&self.decode_secret(secret)?, &content);
        Ok(vec![(HEADER, format!("t={t},v1={}", hex::encode(tag)))])
    }
}
