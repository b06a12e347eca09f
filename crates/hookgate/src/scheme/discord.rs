use std::time::Duration;

use super::{
    single_header, Algorithm, Encoding, EnvelopeFields, Field, Message, Scheme, SignInput,
    SignatureParts, FIVE_MINUTES,
};
use crate::{ConfigError, Rejection};

/// Discord (interactions and webhook events): `X-Signature-Ed25519: <hex
/// ed25519 signature>` of `X-Signature-Timestamp` followed by the body,
/// checked with the application's public key (64 hex digits, from the
/// Developer Portal).
///
/// - The timestamp is signed; the window is 5 minutes both ways (Discord
///   does not retry interactions, it expects an answer within 3 s).
/// - `id` (the interaction's) is the dedupe key when present, else the
///   body's hash; `type` (a number) is the event type, `data` the data.
///   For interactions 1 is PING; for webhook events 0 is PING and 1 an
///   event (the body then has an `event` object).
/// - Signing (tests, the command-line tool) takes the private key's
///   32-byte seed in hex.
#[derive(Debug, Clone, Copy, Default)]
pub struct Discord;

const HEADER: &str = "x-signature-ed25519";
const TIMESTAMP: &str = "x-signature-timestamp";

impl Scheme for Discord {
    fn name(&self) -> &'static str {
        "discord"
    }

    fn signature_header(&self) -> &'static str {
        HEADER
    }

    fn algorithm(&self) -> Algorithm {
        Algorithm::Ed25519
    }

    fn decode_secret(&self, secret: &[u8]) -> Result<Vec<u8>, ConfigError> {
        let text = secret.trim_ascii();
        match hex::decode(text) {
            Ok(key) if key.len() == 32 => Ok(key),
            _ => Err(ConfigError::SecretFormat {
                why: "a Discord public key (or, to sign, a private key's seed) is 64 hex digits"
                    .into(),
            }),
        }
    }

    fn parse_signature<'h>(
        &self,
        message: Message<'h>,
        parts: &mut SignatureParts<'h>,
    ) -> Result<(), Rejection> {
        let signature = single_header(message.headers, HEADER)?;
        let timestamp = single_header(message.headers, TIMESTAMP)?;
        parts.push_tag(Encoding::Hex, signature)?;
        parts.set_unix_timestamp(timestamp)?;
        parts.push(timestamp)?;
        parts.push_body()
    }

    fn envelope(&self) -> EnvelopeFields {
        EnvelopeFields::json()
            .id(Field::body("id").optional())
            .event(Field::body("type").optional())
            .data(Field::body("data").optional())
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
        let content: [&[u8]; 2] = [ts.as_bytes(), input.body];
        let signature = Algorithm::Ed25519.tag(&self.decode_secret(secret)?, &content);
        Ok(vec![(HEADER, hex::encode(signature)), (TIMESTAMP, ts)])
    }
}
