use std::time::Duration;

use super::{
    decode_base64, list_items, single_header, split_first, Encoding, EnvelopeFields, Field,
    Message, Scheme, SignInput, SignatureParts, FIVE_MINUTES,
};
use crate::{ConfigError, Rejection};

/// [Standard Webhooks](https://www.standardwebhooks.com/) v1, and Svix,
/// which signs the same way under `svix-*` header names.
///
/// - `webhook-id`, `webhook-timestamp` (Unix seconds) and
///   `webhook-signature`: a space-separated list of `v1,<base64 tag>`, one
///   per secret the sender signs with during a rotation.
/// - The tag is HMAC-SHA256 of `{id}.{timestamp}.{body}`; the secret is
///   `whsec_` followed by the key in base64 (the prefix is optional).
/// - Each entry of the list is tried; entries of another version (`v1a`,
///   `v2`) and malformed ones are skipped; a list with no usable entry is
///   malformed.
/// - The sender signs a fresh timestamp on every attempt: the window is
///   5 minutes both ways, as the specification says.
/// - The dedupe key is the `webhook-id` header, the same on every retry.
///   The body's `type` is the event type and its `data` the data, when
///   present; otherwise the whole body is the data.
#[derive(Debug, Clone, Copy)]
pub struct StandardWebhooks {
    name: &'static str,
    id: &'static str,
    timestamp: &'static str,
    signature: &'static str,
}

impl StandardWebhooks {
    /// Standard Webhooks' own `webhook-*` headers.
    pub const V1: Self = Self {
        name: "standard-webhooks",
        id: "webhook-id",
        timestamp: "webhook-timestamp",
        signature: "webhook-signature",
    };

    /// Svix's `svix-id`, `svix-timestamp` and `svix-signature`. Svix in its
    /// unbranded mode sends the `webhook-*` names instead: use
    /// [`V1`](Self::V1) for such a route (the secret is the same).
    pub const SVIX: Self = Self {
        name: "svix",
        id: "svix-id",
        timestamp: "svix-timestamp",
        signature: "svix-signature",
    };
}

impl Default for StandardWebhooks {
    fn default() -> Self {
        Self::V1
    }
}

/// The key of a `whsec_<base64>` secret (the prefix is optional).
pub(crate) fn whsec_key(secret: &[u8]) -> Result<Vec<u8>, ConfigError> {
    let text = secret.trim_ascii();
    let encoded = text.strip_prefix(b"whsec_").unwrap_or(text);
    match decode_base64(encoded) {
        Some(key) if !key.is_empty() => Ok(key),
        _ => Err(ConfigError::SecretFormat {
            why: "a Standard Webhooks secret is `whsec_` followed by base64".into(),
        }),
    }
}

impl Scheme for StandardWebhooks {
    fn name(&self) -> &'static str {
        self.name
    }

    fn signature_header(&self) -> &'static str {
        self.signature
    }

    fn decode_secret(&self, secret: &[u8]) -> Result<Vec<u8>, ConfigError> {
        whsec_key(secret)
    }

    fn parse_signature<'h>(
        &self,
        message: Message<'h>,
        parts: &mut SignatureParts<'h>,
    ) -> Result<(), Rejection> {
        let signatures = single_header(message.headers, self.signature)?;
        let id = single_header(message.headers, self.id)?;
        let timestamp = single_header(message.headers, self.timestamp)?;
        parts.set_unix_timestamp(timestamp)?;
        for entry in list_items(signatures, b' ') {
            if let Some((b"v1", tag)) = split_first(entry, b',') {
                parts.try_push_tag(Encoding::Base64, tag);
            }
        }
        if !parts.has_tags() {
            return Err(Rejection::MalformedSignature);
        }
        for segment in [id, b".", timestamp, b"."] {
            parts.push(segment)?;
        }
        parts.push_body()
    }

    fn envelope(&self) -> EnvelopeFields {
        EnvelopeFields::any()
            .id(Field::header(self.id))
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
        let key = self.decode_secret(secret)?;
        let id = input.id_or_made_up("msg_");
        let ts = input.unix_seconds().to_string();
        let content: [&[u8]; 5] = [id.as_bytes(), b".", ts.as_bytes(), b".", input.body];
        let tag = self.algorithm().tag(&key, &content);
        Ok(vec![
            (self.id, id),
            (self.timestamp, ts),
            (
                self.signature,
                format!("v1,{}", Encoding::Base64.encode(&tag)),
            ),
        ])
    }
}
