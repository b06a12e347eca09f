//! Webhook secrets: validated when built, pre-keyed once, redacted in `Debug`.

use std::fmt;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::ConfigError;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// One shared secret, ready to compute HMAC-SHA256 tags.
///
/// The key schedule (the inner and outer pads) is computed once, when the
/// secret is built; each request clones the keyed state instead of re-keying.
/// The raw secret bytes are not kept, and `Debug` never shows them.
///
/// An empty secret, or one made only of white space, is refused: it would
/// let anyone who guesses it forge events, and it is the usual sign of an
/// unset environment variable.
#[derive(Clone)]
pub struct Secret {
    mac: HmacSha256,
}

impl Secret {
    /// Builds a secret from its bytes, as the sender's dashboard shows them.
    ///
    /// ```
    /// use hookgate::{ConfigError, Secret};
    /// assert!(Secret::new("whsec_live_1").is_ok());
    /// assert_eq!(Secret::new("").unwrap_err(), ConfigError::EmptySecret);
    /// assert_eq!(Secret::new(" \n").unwrap_err(), ConfigError::EmptySecret);
    /// ```
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        let bytes = secret.as_ref();
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ConfigError::EmptySecret);
        }
        let mac = HmacSha256::new_from_slice(bytes).map_err(|_| ConfigError::EmptySecret)?;
        Ok(Self { mac })
    }

    /// A fresh MAC keyed with this secret.
    pub(crate) fn mac(&self) -> HmacSha256 {
        self.mac.clone()
    }

    /// HMAC-SHA256 of the concatenation of `parts`.
    pub fn tag(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.mac();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The secrets a route accepts: one, or several while a secret is rotated.
///
/// A signature made with any of them is accepted, so the sender can switch
/// to a new secret while the old one is still configured; remove the old one
/// once the sender uses the new one. The order is the order of checking:
/// put the secret the sender most likely uses first.
#[derive(Clone)]
pub struct Secrets {
    keys: Arc<[Secret]>,
}

impl Secrets {
    /// A list of secrets; refused when it is empty or when any secret is empty.
    ///
    /// ```
    /// use hookgate::{ConfigError, Secrets};
    /// let both = Secrets::new(["new-secret", "old-secret"]).unwrap();
    /// assert_eq!(both.len(), 2);
    /// assert_eq!(Secrets::new(Vec::<String>::new()).unwrap_err(), ConfigError::NoSecret);
    /// assert_eq!(Secrets::new(["new-secret", ""]).unwrap_err(), ConfigError::EmptySecret);
    /// ```
    pub fn new<I>(secrets: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let keys = secrets
            .into_iter()
            .map(Secret::new)
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_secrets(keys)
    }

    /// A list of already built secrets; refused when it is empty.
    pub fn from_secrets(keys: Vec<Secret>) -> Result<Self, ConfigError> {
        if keys.is_empty() {
            return Err(ConfigError::NoSecret);
        }
        Ok(Self { keys: keys.into() })
    }

    /// One secret.
    pub fn single(secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        Self::new([secret])
    }

    /// How many secrets are accepted.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always `false`: an empty list cannot be built.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The secrets, in the order they are tried.
    pub fn iter(&self) -> impl Iterator<Item = &Secret> {
        self.keys.iter()
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("count", &self.keys.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_contains_the_secret() {
        let secrets = Secrets::new(["super-secret-value"]).unwrap();
        let shown = format!("{secrets:?} {:?}", secrets.iter().next().unwrap());
        assert!(!shown.contains("super-secret-value"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn tag_matches_hmac_sha256_of_the_concatenated_parts() {
        let secret = Secret::new("key").unwrap();
        // RFC 4231-style check against a one-shot MAC over the joined bytes.
        let mut mac = HmacSha256::new_from_slice(b"key").unwrap();
        mac.update(b"hello world");
        let expected: [u8; 32] = mac.finalize().into_bytes().into();
        assert_eq!(secret.tag(&[b"hello", b" ", b"world"]), expected);
    }
}
