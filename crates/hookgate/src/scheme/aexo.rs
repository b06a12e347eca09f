use std::time::Duration;

use super::{single_header, EnvelopeFields, Scheme, SignInput, SignatureParts, RETRY_SPAN_WINDOW};
use crate::headers::Headers;
use crate::{Rejection, Secret};

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
        headers: &'h dyn Headers,
        parts: &mut SignatureParts<'h>,
    ) -> Result<(), Rejection> {
        parts.push_hex_tag(single_header(headers, HEADER)?)
    }

    fn envelope(&self) -> EnvelopeFields {
        EnvelopeFields::new("event", "data")
            .id("id")
            .timestamp("created_at")
            .version("api_version")
    }

    fn default_freshness(&self) -> Duration {
        RETRY_SPAN_WINDOW
    }

    fn sign(&self, secret: &Secret, input: &SignInput<'_>) -> Vec<(&'static str, String)> {
        vec![(HEADER, hex::encode(secret.tag(&[input.body])))]
    }
}
