use std::time::Duration;

use super::{
    decode_base64, list_items, single_header, split_first, Algorithm, Encoding, EnvelopeFields,
    Field, Message, Scheme, SignInput, SignatureParts, FIVE_MINUTES,
};
use crate::{ConfigError, Rejection};

/// [Standard Webhooks](https://www.standardwebhooks.com/) v1, and Svix,
/// which signs the same way under `svix-*` header names.
///
/// - `webhook-id`, `webhook-timestamp` (Unix seconds) and
///   `webhook-signature`: a space-separated list of `v1,<base64 tag>`, one
///   per secret the sender signs with during a rotation, and of
///   `v1a,<base64 ed25519 signature>`.
/// - `v1`: HMAC-SHA256 of `{id}.{timestamp}.{body}`; the secret is
///   `whsec_` followed by the key in base64 (the prefix is optional).
/// - `v1a`: an ed25519 signature of the same bytes; configure the sender's
///   public key, `whpk_` followed by its base64. A route may list both a
///   `whsec_` secret and a `whpk_` key; each checks its own entries.
/// - Signing (tests, the command-line tool) with `whsk_<base64 seed>`
///   makes a `v1a` entry, with a `whsec_` secret a `v1` entry.
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

/// The key of a `whsec_<base64>` secret (the prefix is optional), or of a
/// `whpk_<base64>` public key, or the seed of a `whsk_<base64>` signing key.
pub(crate) fn whsec_key(secret: &[u8]) -> Result<Vec<u8>, ConfigError> {
    let text = secret.trim_ascii();
    let (encoded, what) = if let Some(k) = text.strip_prefix(b"whpk_") {
        (k, Some(32))
    } else if let Some(k) = text.strip_prefix(b"whsk_") {
        (k, Some(64))
    } else {
        (text.strip_prefix(b"whsec_").unwrap_or(text), None)
    };
    match (decode_base64(encoded), what) {
        (Some(key), None) if !key.is_empty() => Ok(key),
        (Some(key), Some(32)) if key.len() == 32 => Ok(key),
        // A signing key is the 32-byte seed, or seed and public key (64).
        (Some(mut key), Some(64)) if key.len() == 32 || key.len() == 64 => {
            key.truncate(32);
            Ok(key)
        }
        _ => Err(ConfigError::SecretFormat {
            why: "a Standard Webhooks secret is `whsec_` followed by base64 (or, for v1a, \
                  `whpk_` and a 32-byte public key in base64)"
                .into(),
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

    fn key_algorithm(&self, secret: &[u8]) -> Algorithm {
        if secret.trim_ascii().starts_with(b"whpk_") {
            Algorithm::Ed25519
        } else {
            Algorithm::HmacSha256
        }
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
            match split_first(entry, b',') {
                Some((b"v1", tag)) => {
                    parts.try_push_tag_as(Algorithm::HmacSha256, Encoding::Base64, tag);
                }
                Some((b"v1a", sig)) => {
                    parts.try_push_tag_as(Algorithm::Ed25519, Encoding::Base64, sig);
                }
                _ => {}
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
        let (algorithm, version) = if secret.trim_ascii().starts_with(b"whsk_") {
            (Algorithm::Ed25519, "v1a")
        } else {
            (Algorithm::HmacSha256, "v1")
        };
        let id = input.id_or_made_up("msg_");
        let ts = input.unix_seconds().to_string();
        let content: [&[u8]; 5] = [id.as_bytes(), b".", ts.as_bytes(), b".", input.body];
        let tag = algorithm.tag(&key, &content);
        Ok(vec![
            (self.id, id),
            (self.timestamp, ts),
            (
                self.signature,
                format!("{version},{}", Encoding::Base64.encode(&tag)),
            ),
        ])
    }
}
