use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::FutureExt;
use http::{header, HeaderName, HeaderValue, Request, Response};
use http_body_util::{Either, Full};
use tower::{Layer, Service};

use super::deduper::{Decision, DedupeOutcome, Deduper};
use super::store::DedupeStore;
use crate::VerifiedEvent;

/// Applies [`Dedupe`]: put it inside [`WebhookLayer`](crate::WebhookLayer),
/// which supplies the verified event it keys on.
#[derive(Debug)]
pub struct DedupeLayer<St> {
    deduper: Deduper<St>,
}

impl<St> Clone for DedupeLayer<St> {
    fn clone(&self) -> Self {
        Self {
            deduper: self.deduper.clone(),
        }
    }
}

impl<St: DedupeStore> DedupeLayer<St> {
    /// A layer for `deduper`.
    pub fn new(deduper: Deduper<St>) -> Self {
        Self { deduper }
    }

    /// The dedupe logic and its store.
    pub fn deduper(&self) -> &Deduper<St> {
        &self.deduper
    }
}

impl<S, St: DedupeStore> Layer<S> for DedupeLayer<St> {
    type Service = Dedupe<S, St>;

    fn layer(&self, inner: S) -> Self::Service {
        Dedupe {
            inner,
            deduper: self.deduper.clone(),
        }
    }
}

/// Runs the inner service once per event; see the [module docs](crate::dedupe).
#[derive(Debug)]
pub struct Dedupe<S, St> {
    inner: S,
    deduper: Deduper<St>,
}

impl<S: Clone, St> Clone for Dedupe<S, St> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            deduper: self.deduper.clone(),
        }
    }
}

/// Response future of [`Dedupe`].
pub type ResponseFuture<R, E> = Pin<Box<dyn Future<Output = Result<R, E>> + Send>>;

/// The response for a dedupe outcome.
pub fn outcome_response(outcome: &DedupeOutcome) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(outcome.json_body()));
    *res.status_mut() = outcome.status();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for (name, value) in outcome.headers() {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    res
}

impl<S, St, B, ResBody> Service<Request<B>> for Dedupe<S, St>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    St: DedupeStore,
    B: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<Either<ResBody, Full<Bytes>>>;
    type Error = S::Error;
    type Future = ResponseFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let deduper = self.deduper.clone();
        Box::pin(async move {
            let respond = |o: DedupeOutcome| Ok(outcome_response(&o).map(Either::Right));
            let Some(event) = req.extensions().get::<VerifiedEvent>().cloned() else {
                tracing::error!(
                    "dedupe layer without a verified event: put WebhookLayer outside DedupeLayer"
                );
                return respond(DedupeOutcome::NotVerified);
            };
            let key = match deduper.key_for(&event, req.headers()) {
                Ok(key) => key,
                Err(outcome) => return respond(outcome),
            };
            let guard = match deduper.claim(key).await {
                Decision::Respond(outcome) => return respond(outcome),
                Decision::RunUnclaimed => {
                    return inner.call(req).await.map(|res| res.map(Either::Left))
                }
                Decision::Run(guard) => guard,
            };
            // A panic in the handler becomes a 500 and releases the claim;
            // if this future is dropped instead, the guard's drop releases it.
            let outcome = AssertUnwindSafe(async move { inner.call(req).await })
                .catch_unwind()
                .await;
            match outcome {
                Ok(Ok(res)) if res.status().is_success() => {
                    let _ = guard.commit().await;
                    Ok(res.map(Either::Left))
                }
                Ok(Ok(res)) => {
                    let _ = guard.release().await;
                    Ok(res.map(Either::Left))
                }
                Ok(Err(error)) => {
                    let _ = guard.release().await;
                    Err(error)
                }
                Err(_panic) => {
                    tracing::error!(
                        key = guard.key(),
                        "handler panicked: claim released, answering 500"
                    );
                    let _ = guard.release().await;
                    respond(DedupeOutcome::HandlerPanicked)
                }
            }
        })
    }
}
