use std::time::Duration;

use super::{single_header, EnvelopeFields, Scheme, SignInput, SignatureParts};
use crate::headers::Headers;
use crate::{Rejection, Secret};

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
const PREFIX: &[u8] = b"sha256=";

impl Scheme for Axifi {
    fn name(&self) -> &'static str {
        "axifi"
    }

    fn signature_header(&self) -> &'static str {
        HEADER
    }

    fn parse_signature<'h>(
        &self,
        headers: &'h dyn Headers,
        parts: &mut SignatureParts<'h>,
    ) -> Result<(), Rejection> {
        let value = single_header(headers, HEADER)?;
        let hex_tag = value
            .strip_prefix(PREFIX)
            .ok_or(Rejection::MalformedSignature)?;
        parts.push_hex_tag(hex_tag)
    }

    fn envelope(&self) -> EnvelopeFields {
        EnvelopeFields::new("event", "data").timestamp("timestamp")
    }

    fn default_freshness(&self) -> Duration {
        Duration::from_secs(24 * 60 * 60)
    }

    fn sign(&self, secret: &Secret, input: &SignInput<'_>) -> Vec<(&'static str, String)> {
        let tag = hex::encode(secret.tag(&[input.body]));
        vec![(HEADER, format!("sha256={tag}"))]
    }
}
