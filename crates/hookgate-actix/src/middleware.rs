use std::future::{ready, Ready};
use std::panic::AssertUnwindSafe;
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::{Error, HttpMessage};
use bytes::{Bytes, BytesMut};
use futures_util::future::LocalBoxFuture;
use futures_util::{FutureExt, StreamExt};
use hookgate::dedupe::{Decision, DedupeOutcome, DedupeStore, Deduper, MemoryStore};
use hookgate::https::{Connection, HttpsPolicy};
use hookgate::inbox::{Answer, Inbox, InboxStore};
use hookgate::{ConfigError, Rejection, Verifier};
use tokio::time::Instant;

use crate::{json_response, rejection_response, ActixHeaders};

/// Verifies webhook deliveries on an actix-web app, scope or resource, with
/// optional de-duplication and the handler deadline: the same checks, status
/// codes and JSON bodies as hookgate's tower layers, from the same core.
///
/// Per request: `Content-Length` over the limit is 413 before reading; the
/// payload is read once through the limit (413) and the read timeout (408);
/// the signature, envelope and freshness are checked ([`Verifier`], 401/400);
/// the verified event goes into the request's extensions and the same bytes
/// are put back as the payload; with dedupe, the event id is claimed
/// (duplicate 200, in flight 409, store down 503); the handler runs under the
/// deadline (503 + `Retry-After` and the claim released when it is missed;
/// the handler's future is dropped) and a panic is answered 500.
///
/// Cloning is cheap and shares the dedupe store: clone it into the
/// `HttpServer::new` factory and every worker uses the same store.
#[derive(Debug)]
pub struct VerifyWebhook<St = MemoryStore> {
    verifier: Verifier,
    dedupe: Option<Deduper<St>>,
    https: Option<std::sync::Arc<HttpsPolicy>>,
    inbox: Option<InboxFn>,
}

/// The boxed future of an inbox answer.
type AnswerFuture = futures_util::future::BoxFuture<'static, Answer>;

/// What stores a verified event and answers the sender.
type AcceptFn =
    dyn Fn(&hookgate::VerifiedEvent, &dyn hookgate::Headers) -> AnswerFuture + Send + Sync;

/// Stores a verified event in a durable inbox and gives the sender's answer.
#[derive(Clone)]
struct InboxFn(std::sync::Arc<AcceptFn>);

impl std::fmt::Debug for InboxFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Inbox")
    }
}

impl<St> Clone for VerifyWebhook<St> {
    fn clone(&self) -> Self {
        Self {
            verifier: self.verifier.clone(),
            dedupe: self.dedupe.clone(),
            https: self.https.clone(),
            inbox: self.inbox.clone(),
        }
    }
}

impl VerifyWebhook<MemoryStore> {
    /// Verification with `verifier`, without dedupe.
    pub fn new(verifier: Verifier) -> Self {
        Self {
            verifier,
            dedupe: None,
            https: None,
            inbox: None,
        }
    }

    /// AEXO with one secret; refused when the secret is empty.
    pub fn aexo(secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        Verifier::aexo(secret).map(Self::new)
    }

    /// AXIFI with one secret; refused when the secret is empty.
    pub fn axifi(secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        Verifier::axifi(secret).map(Self::new)
    }
}

impl<St: DedupeStore> VerifyWebhook<St> {
    /// Adds de-duplication on `store` with the defaults for this verifier.
    pub fn with_dedupe<T: DedupeStore>(self, store: T) -> Result<VerifyWebhook<T>, ConfigError> {
        let deduper = Deduper::builder(store).build(&self.verifier)?;
        Ok(self.with_deduper(deduper))
    }

    /// Adds de-duplication with a configured [`Deduper`] (built against this
    /// middleware's verifier).
    pub fn with_deduper<T: DedupeStore>(self, deduper: Deduper<T>) -> VerifyWebhook<T> {
        VerifyWebhook {
            verifier: self.verifier,
            dedupe: Some(deduper),
            https: self.https,
            inbox: self.inbox,
        }
    }

    /// Inbox mode: the verified event is stored durably and the sender gets
    /// 200 at once; the route's handler is not called here (run it from
    /// [`Workers`](hookgate::inbox::Workers) instead). Storing is
    /// insert-if-new, so the dedupe layer is not needed in this mode.
    #[must_use]
    pub fn with_inbox<I: InboxStore>(mut self, inbox: Inbox<I>) -> Self {
        self.inbox = Some(InboxFn(std::sync::Arc::new(move |event, headers| {
            Box::pin(inbox.accept(event, headers))
        })));
        self
    }

    /// Refuses requests that did not arrive over HTTPS (403), checked before
    /// the body is read. The connection counts as TLS when the server was
    /// bound with TLS (`AppConfig::secure`); the peer is the socket's.
    #[must_use]
    pub fn require_https(mut self, policy: HttpsPolicy) -> Self {
        self.https = Some(std::sync::Arc::new(policy));
        self
    }

    /// The verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }
}

impl<S, B, St> Transform<S, ServiceRequest> for VerifyWebhook<St>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
    St: DedupeStore,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = VerifyWebhookMiddleware<S, St>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(VerifyWebhookMiddleware {
            service: Rc::new(service),
            verifier: self.verifier.clone(),
            dedupe: self.dedupe.clone(),
            https: self.https.clone(),
            inbox: self.inbox.clone(),
        }))
    }
}

/// The service made by [`VerifyWebhook`].
#[derive(Debug)]
pub struct VerifyWebhookMiddleware<S, St = MemoryStore> {
    service: Rc<S>,
    verifier: Verifier,
    dedupe: Option<Deduper<St>>,
    https: Option<std::sync::Arc<HttpsPolicy>>,
    inbox: Option<InboxFn>,
}

fn reject<B>(
    req: ServiceRequest,
    rejection: &Rejection,
    scheme: &'static str,
) -> ServiceResponse<EitherBody<B>> {
    hookgate::metrics::rejected(scheme, rejection);
    tracing::warn!(
        reason = rejection.reason(),
        status = rejection.status().as_u16(),
        "webhook delivery rejected"
    );
    req.into_response(rejection_response(rejection))
        .map_into_right_body()
}

fn outcome_response(outcome: &DedupeOutcome) -> actix_web::HttpResponse {
    json_response(
        outcome.status().as_u16(),
        &outcome.headers(),
        outcome.json_body(),
    )
}

/// Reads the whole payload through the limit; one chunk is kept as is.
async fn read_payload(req: &mut ServiceRequest, limit: usize) -> Result<Bytes, Rejection> {
    let mut payload = req.take_payload();
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut total = 0usize;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            tracing::debug!(error = %e, "webhook body read failed");
            Rejection::BodyRead
        })?;
        total = total.saturating_add(chunk.len());
        if total > limit {
            return Err(Rejection::BodyTooLarge { limit });
        }
        chunks.push(chunk);
    }
    Ok(match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.swap_remove(0),
        _ => {
            let mut joined = BytesMut::with_capacity(total);
            for c in chunks {
                joined.extend_from_slice(&c);
            }
            joined.freeze()
        }
    })
}

/// The verified bytes as the request's payload again, for the handler.
fn payload_of(body: Bytes) -> actix_web::dev::Payload {
    let (_sender, mut payload) = actix_http::h1::Payload::create(true);
    payload.unread_data(body);
    payload.into()
}

impl<S, B, St> Service<ServiceRequest> for VerifyWebhookMiddleware<S, St>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
    St: DedupeStore,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        let verifier = self.verifier.clone();
        let dedupe = self.dedupe.clone();
        let https = self.https.clone();
        let inbox = self.inbox.clone();
        let span = tracing::info_span!("webhook delivery", scheme = self.verifier.scheme().name());
        Box::pin(tracing::Instrument::instrument(
            async move {
                let deadline = Instant::now() + verifier.deadline();
                if let Some(policy) = &https {
                    let conn = Connection {
                        peer: req.peer_addr().map(|a| a.ip()),
                        tls: req.app_config().secure(),
                    };
                    if let Err(rejection) = policy.check(&conn, &ActixHeaders(req.headers())) {
                        return Ok(reject(req, &rejection, verifier.scheme().name()));
                    }
                }
                let declared = req
                    .headers()
                    .get("content-length")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                if let Err(rejection) = verifier.check_content_length(declared) {
                    return Ok(reject(req, &rejection, verifier.scheme().name()));
                }
                let read = tokio::time::timeout(
                    verifier.body_read_timeout(),
                    read_payload(&mut req, verifier.body_limit()),
                )
                .await
                .unwrap_or(Err(Rejection::BodyTimeout));
                let body = match read {
                    Ok(body) => body,
                    Err(rejection) => return Ok(reject(req, &rejection, verifier.scheme().name())),
                };
                let event = match verifier.verify(&ActixHeaders(req.headers()), body.clone()) {
                    Ok(event) => event,
                    Err(rejection) => return Ok(reject(req, &rejection, verifier.scheme().name())),
                };
                if let Some(inbox) = &inbox {
                    let answer = (inbox.0)(&event, &ActixHeaders(req.headers())).await;
                    let res = json_response(answer.status, &answer.headers, answer.body);
                    return Ok(req.into_response(res).map_into_right_body());
                }
                req.extensions_mut().insert(event.clone());
                req.set_payload(payload_of(body));
                let http_req = req.request().clone();

                let work = async move {
                    let guard = match &dedupe {
                        None => None,
                        Some(deduper) => {
                            let key = match deduper.key_for(&event, &ActixHeaders(req.headers())) {
                                Ok(key) => key,
                                Err(outcome) => {
                                    return Ok(req
                                        .into_response(outcome_response(&outcome))
                                        .map_into_right_body())
                                }
                            };
                            match deduper.claim(key).await {
                                Decision::Respond(outcome) => {
                                    return Ok(req
                                        .into_response(outcome_response(&outcome))
                                        .map_into_right_body())
                                }
                                Decision::RunUnclaimed => None,
                                Decision::Run(guard) => Some(guard),
                            }
                        }
                    };
                    let http_req = req.request().clone();
                    let started = std::time::Instant::now();
                    let called = AssertUnwindSafe(async move { service.call(req).await })
                        .catch_unwind()
                        .await;
                    hookgate::metrics::handler_duration(event.scheme(), "sync", started.elapsed());
                    match called {
                        Ok(Ok(res)) => {
                            if let Some(guard) = guard {
                                if res.status().is_success() {
                                    let _ = guard.commit().await;
                                } else {
                                    let _ = guard.release().await;
                                }
                            }
                            Ok(res.map_into_left_body())
                        }
                        Ok(Err(error)) => {
                            if let Some(guard) = guard {
                                let _ = guard.release().await;
                            }
                            Err(error)
                        }
                        Err(_panic) => {
                            tracing::error!("handler panicked: answering 500");
                            if let Some(guard) = guard {
                                let _ = guard.release().await;
                            }
                            let res = rejection_response(&Rejection::HandlerPanicked);
                            Ok(ServiceResponse::new(http_req, res).map_into_right_body())
                        }
                    }
                };
                match tokio::time::timeout_at(deadline, work).await {
                    Ok(result) => result,
                    Err(_elapsed) => {
                        // Dropping `work` dropped the handler and its claim guard,
                        // which releases the claim.
                        tracing::warn!(
                            "handler still running at the deadline: answering 503, dropping it"
                        );
                        let res = rejection_response(&Rejection::HandlerDeadline);
                        Ok(ServiceResponse::new(http_req, res).map_into_right_body())
                    }
                }
            },
            span,
        ))
    }
}
