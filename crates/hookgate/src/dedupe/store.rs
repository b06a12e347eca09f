use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The outcome of a claim on a dedupe key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Not seen within the retention time: the caller now holds the claim
    /// (for the lease time) and runs the handler.
    New(Token),
    /// Another delivery of the same event holds an unexpired claim.
    InFlight,
    /// Processed within the retention time.
    Done,
}

/// Identifies one claim, so that only its holder can commit or release it
/// (a holder whose lease expired cannot undo a newer claim).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Token(u64);

impl Token {
    /// A fresh token: random per process, distinct per call, never zero.
    pub fn new() -> Self {
        static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let seed = *SEED.get_or_init(|| {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(std::process::id().into());
            h.finish()
        });
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        // splitmix64 of seed + counter: distinct for distinct counters.
        let mut z = seed.wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        Self(z.max(1))
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

/// Where processed and in-flight event ids are remembered.
///
/// Three operations, each one atomic step (one lock, one Redis round trip):
/// - `claim(key, lease)`: `New` (and hold the key for `lease`), `InFlight` or `Done`;
/// - `commit(key, token, retention)`: the handler succeeded; remember the key
///   as done for `retention`;
/// - `release(key, token)`: the handler did not succeed; forget the claim so
///   that the sender's retry is processed.
///
/// `commit` and `release` only act on the holder's own claim (`token`).
pub trait DedupeStore: Send + Sync + 'static {
    /// Claims `key` for `lease`, unless it is in flight or done.
    fn claim(
        &self,
        key: &str,
        lease: Duration,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send;

    /// Marks `key` done for `retention`, if `token` still holds it (or the
    /// claim expired and nobody else took it).
    fn commit(
        &self,
        key: &str,
        token: Token,
        retention: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes the claim on `key`, if `token` still holds it.
    fn release(
        &self,
        key: &str,
        token: Token,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

impl<T: DedupeStore> DedupeStore for std::sync::Arc<T> {
    fn claim(
        &self,
        key: &str,
        lease: Duration,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send {
        (**self).claim(key, lease)
    }

    fn commit(
        &self,
        key: &str,
        token: Token,
        retention: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).commit(key, token, retention)
    }

    fn release(
        &self,
        key: &str,
        token: Token,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).release(key, token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_distinct_and_never_zero() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..100_000 {
            let t = Token::new();
            assert_ne!(t.get(), 0);
            assert!(seen.insert(t));
        }
    }
}
