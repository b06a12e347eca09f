use std::future::Future;
use std::time::Duration;

use crate::store::{StoreError, Token};

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
