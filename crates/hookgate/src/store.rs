//! What the dedupe stores and the inbox stores share: the key a delivery is
//! stored under, the token that makes an operation its holder's, and the
//! error a store gives when it cannot answer.

use std::borrow::Cow;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::headers::{HeaderValue, Headers};
use crate::{Answer, VerifiedEvent, Verifier};

/// Where a delivery's store key comes from: the dedupe key, and the key
/// the inbox stores an event under (insert-if-new).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeySource {
    /// The envelope's event id (AEXO's `id`).
    EventId,
    /// A request header, e.g. a delivery id header.
    Header(String),
    /// SHA-256 of the raw body: for senders without an event id (AXIFI).
    /// A retry must send the same bytes, which senders that sign the body do.
    BodySha256,
    /// The event id when the delivery has one, the body's SHA-256 when it
    /// has none: for senders whose id is optional (Slack's form payloads,
    /// Shopify deliveries without `X-Shopify-Event-Id`). The two kinds of
    /// key never collide (`sha256:` is not an id a sender uses).
    EventIdOrBodySha256,
}

impl KeySource {
    /// The default for a verifier: the event id when its envelope always
    /// has one, the id or else the body's SHA-256 when the id is optional,
    /// the body's SHA-256 when there is none.
    pub fn default_for(verifier: &Verifier) -> Self {
        match verifier.scheme().envelope().id {
            Some(field) if field.required => Self::EventId,
            Some(_) => Self::EventIdOrBodySha256,
            None => Self::BodySha256,
        }
    }

    /// `namespace:key` for a delivery, or [`Answer::MissingKey`].
    pub fn key_for(
        &self,
        namespace: &str,
        event: &VerifiedEvent,
        headers: &dyn Headers,
    ) -> Result<String, Answer> {
        let raw: Result<Cow<'_, str>, &'static str> = match self {
            KeySource::EventId => match event.id() {
                Some("") => Err("empty event id"),
                Some(id) => Ok(Cow::Borrowed(id)),
                None => Err("no event id"),
            },
            KeySource::Header(name) => match headers.header(name) {
                HeaderValue::One(v) if !v.is_empty() => std::str::from_utf8(v)
                    .map(Cow::Borrowed)
                    .map_err(|_| "non-UTF-8 key header"),
                HeaderValue::Many => Err("key header sent more than once"),
                _ => Err("no key header"),
            },
            KeySource::BodySha256 => Ok(Cow::Owned(body_key(event))),
            KeySource::EventIdOrBodySha256 => match event.id() {
                Some("") => Err("empty event id"),
                Some(id) => Ok(Cow::Borrowed(id)),
                None => Ok(Cow::Owned(body_key(event))),
            },
        };
        match raw {
            // A tenant's keys are its own; the tenant's length makes the
            // key unambiguous whatever the tenant's name holds.
            Ok(key) => Ok(match event.tenant() {
                Some(tenant) => format!("{namespace}:{}:{tenant}:{key}", tenant.len()),
                // The common case, built without the formatting machinery.
                None => {
                    let mut out = String::with_capacity(namespace.len() + 1 + key.len());
                    out.push_str(namespace);
                    out.push(':');
                    out.push_str(&key);
                    out
                }
            }),
            Err(why) => {
                tracing::warn!(namespace, key = ?self, why, "delivery has no dedupe key");
                Err(Answer::MissingKey)
            }
        }
    }
}

fn body_key(event: &VerifiedEvent) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(event.body())))
}

/// Identifies one claim, so that only its holder can commit or release it
/// (a holder whose lease expired cannot undo a newer claim).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Token(u64);

impl Token {
    /// A fresh token: random per process, distinct per call, never zero.
    pub fn new() -> Self {
        Self(random_u64().max(1))
    }

    /// The token as a number (stores persist it).
    pub fn get(self) -> u64 {
        self.0
    }

    /// A token read back from a store.
    pub fn from_u64(value: u64) -> Self {
        Self(value)
    }
}

impl Default for Token {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({:016x})", self.0)
    }
}

/// A store (dedupe or inbox) could not answer. The layers fail closed on it
/// (503).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Shared by the dedupe and the inbox stores: the message names the store.
        write!(f, "store error: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

/// A random number: random per process, distinct per call (splitmix64 of a
/// per-process seed and a counter). For tokens and retry jitter, not for
/// secrets.
pub(crate) fn random_u64() -> u64 {
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(|| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(std::process::id().into());
        h.finish()
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut z = seed.wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
