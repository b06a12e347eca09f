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

use super::{Enqueued, InboxStore, NewEvent};
use crate::dedupe::{outcome_response, DedupeOutcome, KeySource, DEFAULT_RETRY_AFTER};
use crate::{error_body, VerifiedEvent, Verifier};

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
}

impl<St> Clone for Inbox<St> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            namespace: self.namespace.clone(),
            key: self.key.clone(),
        }
    }
}

/// Alias kept for symmetry with the other layers' names.
pub type InboxLayer<St> = Inbox<St>;

impl<St: InboxStore> Inbox<St> {
    /// An inbox on `store` for `verifier`'s route: keys as the dedupe layer
    /// would derive them (event id, else SHA-256 of the body), namespaced by
    /// the scheme.
    pub fn new(store: Arc<St>, verifier: &Verifier) -> Self {
        Self {
            store,
            namespace: verifier.scheme().name().into(),
            key: KeySource::default_for(verifier),
        }
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
    ) -> impl Future<Output = Response<Full<Bytes>>> + Send + 'static {
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
            });
        let store = self.store.clone();
        async move {
            let new = match prepared {
                Ok(new) => new,
                Err(outcome) => return outcome_response(&outcome),
            };
            let event_type = new.event_type.clone();
            match store.enqueue(new).await {
                Ok(Enqueued::Stored(id)) => {
                    tracing::info!(id, event = %event_type, "webhook stored in the inbox");
                    let mut res =
                        Response::new(Full::new(Bytes::from_static(b"{\"queued\":true}")));
                    res.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static("application/json"),
                    );
                    res
                }
                Ok(Enqueued::Duplicate) => outcome_response(&DedupeOutcome::Duplicate),
                Err(error) => {
                    tracing::error!(%error, "inbox store could not take the event: answering 503");
                    let mut res = outcome_response(&DedupeOutcome::Unavailable {
                        retry_after: DEFAULT_RETRY_AFTER,
                    });
                    *res.body_mut() = Full::new(error_body("inbox unavailable; retry later"));
                    res
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
            return Box::pin(async { Ok(outcome_response(&DedupeOutcome::NotVerified)) });
        };
        let answer = self.accept(&event, req.headers());
        Box::pin(async move { Ok(answer.await) })
    }
}
