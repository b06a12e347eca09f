//! Webhook secrets: validated when built, redacted in `Debug`, turned into
//! keys once per verifier.

use std::fmt;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::scheme::{Algorithm, Scheme};
use crate::ConfigError;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// One shared secret (or, for a signature scheme, its public key) as the
/// sender's dashboard shows it.
///
/// What the bytes mean is the scheme's business: most use them as the HMAC
/// key as they are, Standard Webhooks decodes a `whsec_` base64 secret. A
/// [`Verifier`](crate::Verifier) turns each secret into its scheme's key
/// once, when it is built, and refuses one that does not fit. `Debug` never
/// shows the bytes.
///
/// An empty secret, or one made only of white space, is refused: it would
/// let anyone who guesses it forge events, and it is the usual sign of an
/// unset environment variable.
#[derive(Clone)]
pub struct Secret {
    bytes: Arc<[u8]>,
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
        Ok(Self {
            bytes: bytes.into(),
        })
    }

    /// The secret's bytes, as given.
    pub fn expose(&self) -> &[u8] {
        &self.bytes
    }

    /// HMAC-SHA256 of the concatenation of `parts`, keyed with the bytes as
    /// given (AEXO, AXIFI, GitHub, Stripe and most others).
    pub fn tag(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = match HmacSha256::new_from_slice(&self.bytes) {
            Ok(mac) => mac,
            Err(_) => return [0; 32],
        };
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

/// One secret turned into its scheme's key, keyed once: verifying a
/// request clones the keyed state instead of hashing the key again.
#[derive(Clone)]
pub(crate) enum Key {
    Sha256(Hmac<sha2::Sha256>),
    Sha512(Hmac<sha2::Sha512>),
    Sha1(Hmac<sha1::Sha1>),
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl Key {
    fn new(scheme: &dyn Scheme, secret: &Secret) -> Result<Self, ConfigError> {
        let key = scheme.decode_secret(secret.expose())?;
        if key.is_empty() {
            return Err(ConfigError::EmptySecret);
        }
        let bad = |_| ConfigError::EmptySecret;
        Ok(match scheme.key_algorithm(secret.expose()) {
            Algorithm::HmacSha256 => Key::Sha256(Hmac::new_from_slice(&key).map_err(bad)?),
            Algorithm::HmacSha512 => Key::Sha512(Hmac::new_from_slice(&key).map_err(bad)?),
            Algorithm::HmacSha1 => Key::Sha1(Hmac::new_from_slice(&key).map_err(bad)?),
            Algorithm::Ed25519 => {
                let refuse = || ConfigError::SecretFormat {
                    why: format!(
                        "{} needs the sender's ed25519 public key (32 bytes)",
                        scheme.name()
                    ),
                };
                let bytes = <[u8; 32]>::try_from(key.as_slice()).map_err(|_| refuse())?;
                Key::Ed25519(ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|_| refuse())?)
            }
        })
    }

    /// This key's HMAC-SHA256 of `bytes`, for an HMAC-SHA256 key (Zoom's
    /// URL validation answers with it).
    pub(crate) fn hmac_sha256(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        match self {
            Key::Sha256(mac) => {
                let mut mac = mac.clone();
                mac.update(bytes);
                Some(mac.finalize().into_bytes().to_vec())
            }
            _ => None,
        }
    }

    /// The algorithm of the tags this key checks.
    pub(crate) fn algorithm(&self) -> Algorithm {
        match self {
            Key::Sha256(_) => Algorithm::HmacSha256,
            Key::Sha512(_) => Algorithm::HmacSha512,
            Key::Sha1(_) => Algorithm::HmacSha1,
            Key::Ed25519(_) => Algorithm::Ed25519,
        }
    }

    /// Whether any of `tags` is this key's tag of `content`, comparing
    /// every candidate in constant time without stopping at a match.
    pub(crate) fn matches<'a>(
        &self,
        content: impl Iterator<Item = &'a [u8]>,
        tags: impl Iterator<Item = &'a [u8]>,
    ) -> bool {
        fn run<'a, M: Mac + Clone>(
            mac: &M,
            content: impl Iterator<Item = &'a [u8]>,
            tags: impl Iterator<Item = &'a [u8]>,
        ) -> bool {
            use subtle::ConstantTimeEq;
            let mut mac = mac.clone();
            for part in content {
                mac.update(part);
            }
            let computed = mac.finalize().into_bytes();
            let mut matched = subtle::Choice::from(0);
            for tag in tags {
                // Lengths are public (the algorithm's); `ct_eq` of slices of
                // different lengths is false.
                matched |= computed.as_slice().ct_eq(tag);
            }
            bool::from(matched)
        }
        match self {
            Key::Sha256(mac) => run(mac, content, tags),
            Key::Sha512(mac) => run(mac, content, tags),
            Key::Sha1(mac) => run(mac, content, tags),
            Key::Ed25519(public) => {
                // A public-key check: nothing secret to leak by timing.
                // Strict verification refuses non-canonical signatures and
                // small-order keys, so one message has one valid signature.
                let message: Vec<u8> = content.flat_map(|part| part.iter().copied()).collect();
                tags.filter_map(|tag| <[u8; 64]>::try_from(tag).ok())
                    .any(|sig| {
                        public
                            .verify_strict(&message, &ed25519_dalek::Signature::from_bytes(&sig))
                            .is_ok()
                    })
            }
        }
    }
}

/// A route's secrets as keys of its scheme.
#[derive(Clone)]
pub(crate) struct Keys(Arc<[Key]>);

impl Keys {
    pub(crate) fn new(scheme: &dyn Scheme, secrets: &Secrets) -> Result<Self, ConfigError> {
        let keys = secrets
            .iter()
            .map(|s| Key::new(scheme, s))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self(keys.into()))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Key> {
        self.0.iter()
    }

    /// No key: a per-tenant route before its lookup (nothing verifies).
    pub(crate) fn none() -> Self {
        Self(Arc::new([]))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keys({})", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_contains_the_secret() {
        let secrets = Secrets::new(["super-secret-value"]).unwrap();
        let keys = Keys::new(&crate::scheme::Aexo, &secrets).unwrap();
        let shown = format!("{secrets:?} {:?} {keys:?}", secrets.iter().next().unwrap());
        assert!(!shown.contains("super-secret-value"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn tag_matches_hmac_sha256_of_the_concatenated_parts() {
        let secret = Secret::new("key").unwrap();
        let mut mac = HmacSha256::new_from_slice(b"key").unwrap();
        mac.update(b"hello world");
        let expected: [u8; 32] = mac.finalize().into_bytes().into();
        assert_eq!(secret.tag(&[b"hello", b" ", b"world"]), expected);
    }
}
