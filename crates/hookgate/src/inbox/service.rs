use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use tower::Service;

use super::{Enqueued, InboxStore, NewEvent, StoredHeaders};
use crate::dedupe::DEFAULT_RETRY_AFTER;
use crate::events::WebhookEvent;
use crate::store::KeySource;
use crate::{Answer, Delivery, Rejection, VerifiedEvent, Verifier};

/// The 500 message when the inbox service finds no verified event.
const NOT_VERIFIED: &str =
    "server misconfiguration: the inbox service needs hookgate's WebhookLayer outside it";

/// The inbox end of a route: stores the verified event and answers the
/// sender, without calling any handler (the [`Workers`](super::Workers) do).
///
/// Put it behind [`WebhookLayer`](crate::WebhookLayer), as the route's service:
/// `ServiceBuilder::new().layer(WebhookLayer::new(v)).service(Inbox::new(store, &v))`.
#[derive(Debug)]
pub struct Inbox<St> {
    store: Arc<St>,
    namespace: Arc<str>,
    key: KeySource,
    check: Option<TypeCheck>,
}

/// Whether an event parses as the handler's type (see [`Inbox::parses_as`]).
type TypeCheck = fn(&VerifiedEvent) -> Result<(), Rejection>;

fn parses_as<E: WebhookEvent>(event: &VerifiedEvent) -> Result<(), Rejection> {
    Delivery::<E>::from_verified(event.clone()).map(drop)
}

impl<St> Clone for Inbox<St> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            namespace: self.namespace.clone(),
            key: self.key.clone(),
            check: self.check,
        }
    }
}

impl<St: InboxStore> Inbox<St> {
    /// An inbox on `store` for `verifier`'s route: keys as the dedupe layer
    /// would derive them (event id, else SHA-256 of the body), namespaced by
    /// the scheme.
    pub fn new(store: Arc<St>, verifier: &Verifier) -> Self {
        Self {
            store,
            namespace: verifier.scheme().name().into(),
            key: KeySource::default_for(verifier),
            check: None,
        }
    }

    /// Refuses, when it arrives, an event that the workers' handler type
    /// `E` cannot be parsed from: the sender gets 400, as in synchronous
    /// mode, instead of a 200 for an event that could only go dead. Use the
    /// `E` of the `Delivery<E>` your [`Workers`](super::Workers) handler takes.
    #[must_use]
    pub fn parses_as<E: WebhookEvent>(mut self) -> Self {
        self.check = Some(parses_as::<E>);
        self
    }

    /// Uses another key source.
    #[must_use]
    pub fn key(mut self, key: KeySource) -> Self {
        self.key = key;
        self
    }

    /// Uses another namespace (default: the scheme's name).
    #[must_use]
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Stores one verified delivery; resolves to the answer for the sender.
    /// The key is derived before the returned future, which borrows nothing.
    pub fn accept(
        &self,
        event: &VerifiedEvent,
        headers: &dyn crate::Headers,
    ) -> impl Future<Output = Answer> + Send + 'static {
        let fits = self.check.map_or(Ok(()), |check| check(event));
        let prepared = self
            .key
            .key_for(&self.namespace, event, headers)
            .map(|key| NewEvent {
                key,
                scheme: event.scheme().to_owned(),
                event_id: event.id().map(str::to_owned),
                event_type: event.event_type().to_owned(),
                received_at: SystemTime::now(),
                body: event.body().clone(),
                headers: StoredHeaders::capture(headers),
                tenant: event.tenant().map(str::to_owned),
            });
        let store = self.store.clone();
        async move {
            if let Err(rejection) = fits {
                crate::metrics::inbox_stored("refused");
                return Answer::Rejected(rejection);
            }
            let new = match prepared {
                Ok(new) => new,
                Err(answer) => return answer,
            };
            let event_type = new.event_type.clone();
            match store.enqueue(new).await {
                Ok(Enqueued::Stored(id)) => {
                    crate::metrics::inbox_stored("stored");
                    tracing::info!(id, event = %event_type, "webhook stored in the inbox");
                    Answer::Queued
                }
                Ok(Enqueued::Duplicate) => {
                    crate::metrics::inbox_stored("duplicate");
                    Answer::Duplicate
                }
                Err(error) => {
                    crate::metrics::inbox_stored("unavailable");
                    tracing::error!(%error, "inbox store could not take the event: answering 503");
                    Answer::InboxUnavailable {
                        retry_after: DEFAULT_RETRY_AFTER,
                    }
                }
            }
        }
    }
}

impl<St: InboxStore, B: Send + 'static> Service<Request<B>> for Inbox<St> {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let Some(event) = req.extensions().get::<VerifiedEvent>().cloned() else {
            return Box::pin(async { Ok(Answer::Misconfigured(NOT_VERIFIED).into_response()) });
        };
        let answer = self.accept(&event, req.headers());
        Box::pin(async move { Ok(answer.await.into_response()) })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use bytes::Bytes;
    use tower::{ServiceBuilder, ServiceExt};

    use super::*;
    use crate::events::AexoEvent;
    use crate::inbox::{EventInfo, Leased, Replay, RowId, State, Stats, StoreError, Token};
    use crate::scheme::Aexo;
    use crate::{testing, WebhookLayer};

    const SECRET: &str = "inbox-layer-secret";

    /// A store whose disk is gone: every call fails, and enqueues are counted.
    #[derive(Debug, Default)]
    struct Unreachable {
        enqueues: AtomicUsize,
    }

    fn down<T>() -> Result<T, StoreError> {
        Err(StoreError("the store is unreachable".into()))
    }

    impl InboxStore for Unreachable {
        async fn enqueue(&self, _: NewEvent) -> Result<Enqueued, StoreError> {
            self.enqueues.fetch_add(1, Ordering::SeqCst);
            down()
        }
        async fn lease(
            &self,
            _: usize,
            _: Duration,
            _: SystemTime,
        ) -> Result<Vec<Leased>, StoreError> {
            down()
        }
        async fn complete(
            &self,
            _: RowId,
            _: Token,
            _: SystemTime,
            _: bool,
        ) -> Result<bool, StoreError> {
            down()
        }
        async fn reschedule(
            &self,
            _: RowId,
            _: Token,
            _: SystemTime,
            _: &str,
        ) -> Result<bool, StoreError> {
            down()
        }
        async fn kill(
            &self,
            _: RowId,
            _: Token,
            _: &str,
            _: SystemTime,
        ) -> Result<bool, StoreError> {
            down()
        }
        async fn stats(&self, _: SystemTime) -> Result<Stats, StoreError> {
            down()
        }
        async fn list(&self, _: Option<State>, _: usize) -> Result<Vec<EventInfo>, StoreError> {
            down()
        }
        async fn show(&self, _: RowId) -> Result<Option<(EventInfo, Bytes)>, StoreError> {
            down()
        }
        async fn replay(
            &self,
            _: Replay,
            _: bool,
            _: SystemTime,
        ) -> Result<Vec<RowId>, StoreError> {
            down()
        }
        async fn set_paused(&self, _: bool) -> Result<(), StoreError> {
            down()
        }
        async fn purge_dead(&self, _: SystemTime) -> Result<u64, StoreError> {
            down()
        }
        async fn prune_done(&self, _: SystemTime) -> Result<u64, StoreError> {
            down()
        }
    }

    fn delivery(data: serde_json::Value) -> http::Request<http_body_util::Full<Bytes>> {
        let body = testing::aexo_body("wh_i1", "dataset.refreshed", data);
        testing::signed_request(&Aexo, SECRET, "/", body)
    }

    #[tokio::test]
    async fn a_store_that_cannot_take_the_event_is_503_never_2xx() {
        let store = Arc::new(Unreachable::default());
        let verifier = Verifier::aexo(SECRET).unwrap();
        let svc = ServiceBuilder::new()
            .layer(WebhookLayer::new(verifier.clone()))
            .service(Inbox::new(store.clone(), &verifier));
        let res = svc.oneshot(delivery(serde_json::json!({}))).await.unwrap();
        assert_eq!(res.status(), http::StatusCode::SERVICE_UNAVAILABLE);
        assert!(res.headers().contains_key("retry-after"));
        assert_eq!(
            res.extensions().get::<Answer>().map(Answer::reason),
            Some("inbox_unavailable")
        );
        assert_eq!(store.enqueues.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_event_the_handler_type_cannot_take_is_400_before_the_store() {
        let store = Arc::new(Unreachable::default());
        let verifier = Verifier::aexo(SECRET).unwrap();
        let svc = ServiceBuilder::new()
            .layer(WebhookLayer::new(verifier.clone()))
            .service(Inbox::new(store.clone(), &verifier).parses_as::<AexoEvent>());
        let bad = delivery(serde_json::json!({ "records_updated": "not a number" }));
        let res = svc.oneshot(bad).await.unwrap();
        assert_eq!(res.status(), http::StatusCode::BAD_REQUEST);
        assert_eq!(
            store.enqueues.load(Ordering::SeqCst),
            0,
            "the store was asked"
        );
    }

    #[tokio::test]
    async fn without_the_verifying_layer_it_answers_500_and_stores_nothing() {
        let store = Arc::new(Unreachable::default());
        let verifier = Verifier::aexo(SECRET).unwrap();
        let res = Inbox::new(store.clone(), &verifier)
            .oneshot(delivery(serde_json::json!({})))
            .await
            .unwrap();
        assert_eq!(res.status(), http::StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(store.enqueues.load(Ordering::SeqCst), 0);
    }
}
