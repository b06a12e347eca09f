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
use crate::dedupe::{outcome_response, DedupeOutcome, KeySource, DEFAULT_RETRY_AFTER};
use crate::events::WebhookEvent;
use crate::{error_body, Delivery, Rejection, VerifiedEvent, Verifier};

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
            });
        let store = self.store.clone();
        async move {
            if let Err(rejection) = fits {
                crate::metrics::inbox_stored("refused");
                return Answer {
                    status: rejection.status().as_u16(),
                    headers: Vec::new(),
                    body: rejection.json_body(),
                };
            }
            let new = match prepared {
                Ok(new) => new,
                Err(outcome) => return Answer::from(outcome),
            };
            let event_type = new.event_type.clone();
            match store.enqueue(new).await {
                Ok(Enqueued::Stored(id)) => {
                    crate::metrics::inbox_stored("stored");
                    tracing::info!(id, event = %event_type, "webhook stored in the inbox");
                    Answer {
                        status: 200,
                        headers: Vec::new(),
                        body: Bytes::from_static(b"{\"queued\":true}"),
                    }
                }
                Ok(Enqueued::Duplicate) => {
                    crate::metrics::inbox_stored("duplicate");
                    Answer::from(DedupeOutcome::Duplicate)
                }
                Err(error) => {
                    crate::metrics::inbox_stored("unavailable");
                    tracing::error!(%error, "inbox store could not take the event: answering 503");
                    let unavailable = DedupeOutcome::Unavailable {
                        retry_after: DEFAULT_RETRY_AFTER,
                    };
                    Answer {
                        body: error_body("inbox unavailable; retry later"),
                        ..Answer::from(unavailable)
                    }
                }
            }
        }
    }
}

/// The inbox's answer to the sender, framework-free (adapters translate it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status.
    pub status: u16,
    /// Extra headers (the dedupe marker, `Retry-After`).
    pub headers: Vec<(&'static str, String)>,
    /// The JSON body.
    pub body: Bytes,
}

impl From<DedupeOutcome> for Answer {
    fn from(outcome: DedupeOutcome) -> Self {
        Self {
            status: outcome.status().as_u16(),
            headers: outcome.headers(),
            body: outcome.json_body(),
        }
    }
}

impl Answer {
    /// As an `http` response with a JSON content type.
    pub fn into_response(self) -> Response<Full<Bytes>> {
        let mut res = Response::new(Full::new(self.body));
        *res.status_mut() = http::StatusCode::from_u16(self.status)
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        let headers = res.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        for (name, value) in self.headers {
            if let Ok(value) = http::HeaderValue::from_str(&value) {
                headers.insert(http::HeaderName::from_static(name), value);
            }
        }
        res
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
        Box::pin(async move { Ok(answer.await.into_response()) })
    }
}
