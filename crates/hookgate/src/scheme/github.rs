use std::time::Duration;

use super::{single_header, EnvelopeFields, Field, Message, Scheme, SignInput, SignatureParts};
use crate::{ConfigError, Rejection};

/// GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`.
///
/// - The event type is the `X-GitHub-Event` header (`push`, `issues`), the
///   dedupe key the `X-GitHub-Delivery` GUID, which a redelivery keeps.
///   The whole body is the data (GitHub can send it as JSON or as a form).
/// - **GitHub signs no timestamp.** A captured delivery verifies forever, so
///   replay protection is the dedupe window alone: keep dedupe on for
///   GitHub routes, with a retention as long as you can afford.
/// - The older `X-Hub-Signature` (HMAC-SHA1) header is not read.
#[derive(Debug, Clone, Copy, Default)]
pub struct GitHub;

const HEADER: &str = "x-hub-signature-256";
const DELIVERY: &str = "x-github-delivery";
const EVENT: &str = "x-github-event";

impl Scheme for GitHub {
    fn name(&self) -> &'static str {
        "github"
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
        EnvelopeFields::any()
            .id(Field::header(DELIVERY))
            .event(Field::header(EVENT))
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
            (HEADER, format!("sha256={}", hex::encode(tag))),
            (DELIVERY, input.id_or_made_up("")),
            (EVENT, input.event.unwrap_or("ping").to_owned()),
        ])
    }
}
