use std::future::{ready, Ready};
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::{Error, HttpMessage};
use bytes::Bytes;
use futures_util::future::LocalBoxFuture;
use hookgate::dedupe::{DedupeStore, Deduper};
use hookgate::https::{Connection, HttpsPolicy};
use hookgate::inbox::{Inbox, InboxStore};
use hookgate::pipeline::Intake;
use hookgate::{Answer, ConfigError, VerifiedEvent, Verifier};

use crate::mode::{Deduped, Direct, Mode, Queued};
use crate::{answer_response, ActixHeaders};

/// Verifies webhook deliveries on an actix-web app, scope or resource: the
/// same stages, status codes and JSON bodies as hookgate's tower layers,
/// from the same [pipeline](hookgate::pipeline); this middleware only
/// translates actix's request and response.
///
/// What follows verification is the route's [mode](crate::mode): the
/// handler alone ([`Direct`], the start), the handler once per event
/// ([`with_dedupe`](Self::with_dedupe)), or the event stored in a durable
/// inbox ([`with_inbox`](Self::with_inbox)). A route has one mode: asking
/// for dedupe and an inbox on one middleware does not compile.
///
/// Cloning is cheap and shares the dedupe store: clone it into the
/// `HttpServer::new` factory and every worker uses the same store.
#[derive(Debug, Clone)]
pub struct VerifyWebhook<M = Direct> {
    verifier: Verifier,
    https: Option<Arc<HttpsPolicy>>,
    mode: M,
}

impl VerifyWebhook<Direct> {
    /// Verification with `verifier`; the handler runs for every verified
    /// delivery. A report-only verifier is logged as a warning here.
    pub fn new(verifier: Verifier) -> Self {
        hookgate::pipeline::warn_if_report_only(&verifier, "actix");
        Self {
            verifier,
            https: None,
            mode: Direct,
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

    /// De-duplication on `store` with the defaults for this verifier.
    pub fn with_dedupe<St: DedupeStore>(
        self,
        store: St,
    ) -> Result<VerifyWebhook<Deduped<St>>, ConfigError> {
        let deduper = Deduper::builder(store).build(&self.verifier)?;
        Ok(self.with_deduper(deduper))
    }

    /// De-duplication with a configured [`Deduper`] (built against this
    /// middleware's verifier).
    pub fn with_deduper<St: DedupeStore>(self, deduper: Deduper<St>) -> VerifyWebhook<Deduped<St>> {
        self.into_mode(Deduped(deduper))
    }

    /// Inbox mode: the verified event is stored durably and the sender gets
    /// 200 at once; the route's handler is not called here (run it from
    /// [`Workers`](hookgate::inbox::Workers) instead). Storing is
    /// insert-if-new, so the inbox needs no dedupe beside it.
    pub fn with_inbox<I: InboxStore>(self, inbox: Inbox<I>) -> VerifyWebhook<Queued<I>> {
        self.into_mode(Queued(inbox))
    }

    fn into_mode<M: Mode>(self, mode: M) -> VerifyWebhook<M> {
        VerifyWebhook {
            verifier: self.verifier,
            https: self.https,
            mode,
        }
    }
}

impl<M: Mode> VerifyWebhook<M> {
    /// Refuses requests that did not arrive over HTTPS (403), checked before
    /// the body is read. The connection counts as TLS when the server was
    /// bound with TLS (`AppConfig::secure`); the peer is the socket's.
    #[must_use]
    pub fn require_https(mut self, policy: HttpsPolicy) -> Self {
        self.https = Some(Arc::new(policy));
        self
    }

    /// The verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }
}

impl<S, B, M> Transform<S, ServiceRequest> for VerifyWebhook<M>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
    M: Mode,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = VerifyWebhookMiddleware<S, M>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(VerifyWebhookMiddleware {
            service: Rc::new(service),
            config: self.clone(),
        }))
    }
}

/// The service made by [`VerifyWebhook`].
#[derive(Debug)]
pub struct VerifyWebhookMiddleware<S, M = Direct> {
    service: Rc<S>,
    config: VerifyWebhook<M>,
}

/// The verified request, handed to the route's mode.
#[allow(missing_debug_implementations)]
pub struct Verified<S> {
    pub(crate) req: ServiceRequest,
    pub(crate) event: VerifiedEvent,
    pub(crate) body: Bytes,
    pub(crate) service: Rc<S>,
    pub(crate) intake: Intake,
}

/// The response for one of hookgate's answers.
pub(crate) fn answered<B>(
    req: ServiceRequest,
    answer: Answer,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    Ok(req
        .into_response(answer_response(answer))
        .map_into_right_body())
}

impl<S, B, M> Service<ServiceRequest> for VerifyWebhookMiddleware<S, M>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
    M: Mode,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        let config = self.config.clone();
        let intake = Intake::new(&config.verifier);
        let span = intake.span();
        Box::pin(tracing::Instrument::instrument(
            async move {
                if let Some(policy) = &config.https {
                    let conn = Connection {
                        peer: req.peer_addr().map(|a| a.ip()),
                        tls: req.app_config().secure(),
                    };
                    if let Err(rejection) = policy.check(&conn, &ActixHeaders(req.headers())) {
                        return answered(req, intake.reject(rejection).into());
                    }
                }
                let method = http::Method::from_bytes(req.method().as_str().as_bytes()).ok();
                let query = Some(req.query_string()).filter(|q| !q.is_empty());
                if let Some(answer) = method.and_then(|m| intake.handshake_before_body(&m, query)) {
                    return answered(req, answer);
                }
                let payload = req.take_payload();
                let body = match intake.read(&ActixHeaders(req.headers()), payload).await {
                    Ok(body) => body,
                    Err(rejection) => return answered(req, rejection.into()),
                };
                let mut intake = intake;
                let lookup = intake.tenant_lookup(&ActixHeaders(req.headers()), req.path());
                match lookup {
                    None => {}
                    Some(Err(rejection)) => return answered(req, rejection.into()),
                    Some(Ok(lookup)) => {
                        if let Err(rejection) = intake.use_tenant_secrets(lookup.await) {
                            return answered(req, rejection.into());
                        }
                    }
                }
                let query = Some(req.query_string()).filter(|q| !q.is_empty());
                let verified = intake
                    .verify_or_report(&ActixHeaders(req.headers()), query, body.clone())
                    .map(|verdict| (verdict, body));
                match verified {
                    // Report-only: passed on unverified, marked, under the deadline.
                    Ok((Err(report), body)) => {
                        req.extensions_mut().insert(report);
                        req.set_payload(crate::mode::payload_of(body));
                        let http_req = req.request().clone();
                        match intake.run(move || service.call(req)).await {
                            Ok(Ok(res)) => Ok(res.map_into_left_body()),
                            Ok(Err(error)) => Err(error),
                            Err(answer) => {
                                Ok(ServiceResponse::new(http_req, answer_response(answer))
                                    .map_into_right_body())
                            }
                        }
                    }
                    Ok((Ok(event), body)) => {
                        if let Some(answer) = intake.handshake_after_verify(&event) {
                            return answered(req, answer);
                        }
                        let verified = Verified {
                            req,
                            event,
                            body,
                            service,
                            intake,
                        };
                        config.mode.then(verified).await
                    }
                    Err(rejection) => answered(req, rejection.into()),
                }
            },
            span,
        ))
    }
}
