use std::time::Duration;

use super::{
    keyed_list, single_header, EnvelopeFields, Field, Message, Scheme, SignInput, SignatureParts,
    FIVE_MINUTES,
};
use crate::{ConfigError, Rejection};

/// Paddle Billing: `Paddle-Signature: ts=<unix seconds>;h1=<hex>`.
///
/// - The tag is HMAC-SHA256 of `{ts}:{body}` keyed with the notification
///   destination's secret key (`pdl_ntfset_...`) as given.
/// - Every `h1` is tried. Paddle's own SDKs keep only the last one, so a
///   delivery signed during a secret rotation fails there when the old
///   secret's tag comes last; here it passes.
/// - The window is 5 minutes both ways (Paddle's SDKs allow 5 seconds,
///   which clock drift between two hosts can exceed; set it with
///   [`Verifier::freshness`](crate::Verifier::freshness)).
/// - `event_id` is the dedupe key, `event_type` the type, `data` the data.
#[derive(Debug, Clone, Copy, Default)]
pub struct Paddle;

const HEADER: &str = "paddle-signature";

impl Scheme for Paddle {
    fn name(&self) -> &'static str {
        "paddle"
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
        keyed_list(value, b';', (b"ts", b"h1", b":"), parts)
    }

    fn envelope(&self) -> EnvelopeFields {
        EnvelopeFields::json()
            .id(Field::body("event_id"))
            .event(Field::body("event_type"))
            .data(Field::body("data"))
    }

    fn default_freshness(&self) -> Duration {
        FIVE_MINUTES
    }

    fn sign(
        &self,
        secret: &[u8],
        input: &SignInput<'_>,
    ) -> Result<Vec<(&'static str, String)>, ConfigError> {
        let ts = input.unix_seconds().to_string();
        let content: [&[u8]; 3] = [ts.as_bytes(), b":", input.body];
        let tag = self.algorithm().tag(&self.decode_secret(secret)?, &content);
        Ok(vec![(HEADER, format!("ts={ts};h1={}", hex::encode(tag)))])
    }
}
