//! The claim a delivery holds while its handler runs, and what finishes it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::store::DedupeStore;
use crate::store::{StoreError, Token};

/// The claim held while the handler runs.
///
/// Finish it with [`commit`](Self::commit) (handler answered 2xx) or
/// [`release`](Self::release). If it is dropped unfinished (the handler
/// panicked, timed out, or the sender hung up and the request future was
/// dropped), the drop releases the claim on a spawned task, without any help
/// from the handler; if no runtime is there to run it, the lease expires.
pub struct ClaimGuard<St: DedupeStore> {
    store: Option<Arc<St>>,
    key: String,
    token: Token,
    retention: Duration,
}

impl<St: DedupeStore> ClaimGuard<St> {
    pub(super) fn new(store: Arc<St>, key: String, token: Token, retention: Duration) -> Self {
        Self {
            store: Some(store),
            key,
            token,
            retention,
        }
    }
}

impl<St: DedupeStore> fmt::Debug for ClaimGuard<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClaimGuard")
            .field("key", &self.key)
            .field("token", &self.token)
            .field("finished", &self.store.is_none())
            .finish()
    }
}

impl<St: DedupeStore> ClaimGuard<St> {
    /// The namespaced key held.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The handler succeeded: remember the id as done.
    ///
    /// If the store fails this once, the handler's success still stands (the
    /// sender gets its 2xx) and the commit is retried on a spawned task,
    /// [`COMMIT_RETRY_DELAYS`] apart, each retry logged and counted in
    /// `hookgate_dedupe_commit_retries_total`: without it the claim would
    /// stay in flight until its lease lapsed (the sender's retry answered
    /// 409) and then the handler would run a second time. The error returned
    /// is the first attempt's.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        let Some(store) = self.store.take() else {
            return Ok(());
        };
        let result = store.commit(&self.key, self.token, self.retention).await;
        if let Err(error) = &result {
            let key = std::mem::take(&mut self.key);
            match tokio::runtime::Handle::try_current() {
                Ok(handle) => {
                    tracing::warn!(%key, %error, "could not mark the event done; retrying in the background");
                    handle.spawn(retry_commit(store, key, self.token, self.retention));
                }
                Err(_) => {
                    crate::metrics::dedupe_commit_retry("gave_up");
                    tracing::error!(%key, %error, "could not mark the event done, and no runtime to retry on; a retry after the lease may run it again");
                }
            }
        }
        result
    }

    /// The handler did not succeed: forget the claim so the retry is processed.
    pub async fn release(mut self) -> Result<(), StoreError> {
        let Some(store) = self.store.take() else {
            return Ok(());
        };
        let result = store.release(&self.key, self.token).await;
        if let Err(error) = &result {
            tracing::error!(key = %self.key, %error, "could not release the claim; it lapses with its lease");
        }
        result
    }
}

/// The waits before each background retry of a failed commit: about 31 s
/// in all, inside the default 60 s lease, so that a store back within that
/// time marks the event done before a retry of the delivery could claim it.
pub const COMMIT_RETRY_DELAYS: [Duration; 8] = [
    Duration::from_millis(100),
    Duration::from_millis(200),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
    Duration::from_secs(15),
];

/// Retries a commit that failed after the handler succeeded; see
/// [`ClaimGuard::commit`].
async fn retry_commit<St: DedupeStore>(
    store: Arc<St>,
    key: String,
    token: Token,
    retention: Duration,
) {
    for (retry, delay) in (1..).zip(COMMIT_RETRY_DELAYS) {
        tokio::time::sleep(delay).await;
        match store.commit(&key, token, retention).await {
            Ok(()) => {
                crate::metrics::dedupe_commit_retry("committed");
                tracing::info!(%key, retry, "event marked done on a retried commit");
                return;
            }
            Err(error) => {
                crate::metrics::dedupe_commit_retry("failed");
                tracing::warn!(%key, %error, retry, "retried commit failed");
            }
        }
    }
    crate::metrics::dedupe_commit_retry("gave_up");
    tracing::error!(
        %key,
        retries = COMMIT_RETRY_DELAYS.len(),
        "could not mark the event done; a retry of the delivery after the lease may run it again"
    );
}

impl<St: DedupeStore> Drop for ClaimGuard<St> {
    fn drop(&mut self) {
        let Some(store) = self.store.take() else {
            return;
        };
        let key = std::mem::take(&mut self.key);
        let token = self.token;
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                tracing::info!(%key, "request ended before the handler finished: releasing the claim");
                handle.spawn(async move {
                    if let Err(error) = store.release(&key, token).await {
                        tracing::error!(%key, %error, "could not release the claim; it lapses with its lease");
                    }
                });
            }
            Err(_) => {
                tracing::warn!(%key, "claim dropped outside a runtime; it lapses with its lease");
            }
        }
    }
}
