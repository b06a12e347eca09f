use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{Either, Full};
use tower::{Layer, Service};

use super::deduper::Deduper;
use super::store::DedupeStore;
use crate::{Answer, VerifiedEvent};

/// The 500 message when the dedupe layer finds no verified event.
const NOT_VERIFIED: &str =
    "server misconfiguration: the dedupe layer needs hookgate's WebhookLayer outside it";

/// Applies [`Dedupe`]: put it inside [`WebhookLayer`](crate::WebhookLayer),
/// which supplies the verified event it keys on.
#[derive(Debug)]
pub struct DedupeLayer<St> {
    deduper: Arc<Deduper<St>>,
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
        Self {
            deduper: Arc::new(deduper),
        }
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
///
/// The [`Deduper`] is shared behind one `Arc`: a delivery takes one
/// reference count, not one per shared part of it (under load on several
/// cores each count is a cache line passed between them).
#[derive(Debug)]
pub struct Dedupe<S, St> {
    inner: S,
    deduper: Arc<Deduper<St>>,
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
            let respond = |answer: Answer| Ok(answer.into_response().map(Either::Right));
            if req.extensions().get::<crate::ReportOnly>().is_some() {
                // Report-only and unverified: no trustworthy key to claim.
                return inner.call(req).await.map(|res| res.map(Either::Left));
            }
            let Some(event) = req.extensions().get::<VerifiedEvent>() else {
                tracing::error!(
                    "dedupe layer without a verified event: put WebhookLayer outside DedupeLayer"
                );
                return respond(Answer::Misconfigured(NOT_VERIFIED));
            };
            let key = match deduper.key_for(event, req.headers()) {
                Ok(key) => key,
                Err(answer) => return respond(answer),
            };
            let ran = deduper
                .run(
                    key,
                    move || inner.call(req),
                    |res| matches!(res, Ok(res) if res.status().is_success()),
                )
                .await;
            match ran {
                Ok(res) => res.map(|res| res.map(Either::Left)),
                Err(answer) => respond(answer),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use bytes::Bytes;
    use http::{Request, Response, StatusCode};
    use http_body_util::{Either, Full};
    use tower::{service_fn, Layer, ServiceBuilder, ServiceExt};

    use crate::dedupe::{DedupeLayer, Deduper, MemoryStore, DEDUPE_HEADER};
    use crate::scheme::Aexo;
    use crate::{testing, Answer, Verifier, WebhookLayer};

    const SECRET: &str = "dedupe-layer-secret";

    fn delivery(id: &str) -> Request<Full<Bytes>> {
        let body = testing::aexo_body(id, "key.created", serde_json::json!({}));
        testing::signed_request(&Aexo, SECRET, "/", body)
    }

    /// A handler that counts its calls and answers each with the next status.
    fn handler(
        calls: Arc<AtomicUsize>,
        statuses: &'static [u16],
    ) -> impl tower::Service<
        Request<Full<Bytes>>,
        Response = Response<Full<Bytes>>,
        Error = Infallible,
        Future = impl Send,
    > + Clone {
        service_fn(move |_req: Request<Full<Bytes>>| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                let status = statuses[n.min(statuses.len() - 1)];
                if status == 0 {
                    panic!("handler panicked");
                }
                let mut res = Response::new(Full::<Bytes>::default());
                *res.status_mut() = StatusCode::from_u16(status).unwrap();
                Ok::<_, Infallible>(res)
            }
        })
    }

    /// What the route answers with: the handler's body, an answer of the
    /// dedupe layer's, or one of the verifying layer's.
    type RouteBody = Either<Either<Full<Bytes>, Full<Bytes>>, Full<Bytes>>;

    fn route(
        calls: Arc<AtomicUsize>,
        statuses: &'static [u16],
    ) -> impl tower::Service<Request<Full<Bytes>>, Response = Response<RouteBody>, Error = Infallible>
           + Clone {
        let verifier = Verifier::aexo(SECRET).unwrap();
        let deduper = Deduper::builder(MemoryStore::new())
            .build(&verifier)
            .unwrap();
        ServiceBuilder::new()
            .layer(WebhookLayer::new(verifier))
            .layer(DedupeLayer::new(deduper))
            .service(handler(calls, statuses))
    }

    #[tokio::test]
    async fn a_processed_event_is_answered_duplicate_without_the_handler() {
        let calls = Arc::new(AtomicUsize::new(0));
        let svc = route(calls.clone(), &[200]);
        let first = svc.clone().oneshot(delivery("wh_d1")).await.unwrap();
        assert_eq!(first.status(), 200);
        let again = svc.oneshot(delivery("wh_d1")).await.unwrap();
        assert_eq!(again.status(), 200);
        assert_eq!(again.headers()[DEDUPE_HEADER], "duplicate");
        assert_eq!(again.extensions().get::<Answer>(), Some(&Answer::Duplicate));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_or_panicked_handler_leaves_the_event_to_its_retry() {
        let calls = Arc::new(AtomicUsize::new(0));
        // 500, then a panic (answered 500), then success, then a duplicate.
        let svc = route(calls.clone(), &[500, 0, 200]);
        let statuses = [
            svc.clone()
                .oneshot(delivery("wh_d2"))
                .await
                .unwrap()
                .status(),
            svc.clone()
                .oneshot(delivery("wh_d2"))
                .await
                .unwrap()
                .status(),
            svc.clone()
                .oneshot(delivery("wh_d2"))
                .await
                .unwrap()
                .status(),
        ];
        assert_eq!(statuses.map(|s| s.as_u16()), [500, 500, 200]);
        let last = svc.oneshot(delivery("wh_d2")).await.unwrap();
        assert_eq!(last.headers()[DEDUPE_HEADER], "duplicate");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn without_the_verifying_layer_it_answers_500_and_runs_nothing() {
        let calls = Arc::new(AtomicUsize::new(0));
        let verifier = Verifier::aexo(SECRET).unwrap();
        let deduper = Deduper::builder(MemoryStore::new())
            .build(&verifier)
            .unwrap();
        let svc = DedupeLayer::new(deduper).layer(handler(calls.clone(), &[200]));
        let res = svc.oneshot(delivery("wh_d3")).await.unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            res.extensions().get::<Answer>().map(Answer::reason),
            Some("misconfigured")
        );
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }
}
