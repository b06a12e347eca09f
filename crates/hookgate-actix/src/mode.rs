//! What a [`VerifyWebhook`](crate::VerifyWebhook) route does with a
//! verified delivery. One mode per route, chosen when the middleware is
//! built: the handler ([`Direct`]), the handler once per event
//! ([`Deduped`]), or the durable inbox ([`Queued`]).

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use bytes::Bytes;
use futures_util::future::LocalBoxFuture;
use hookgate::dedupe::{DedupeStore, Deduper};
use hookgate::inbox::{Inbox, InboxStore};

use crate::middleware::{answered, Verified};
use crate::ActixHeaders;

/// The handler runs for every verified delivery.
#[derive(Debug, Clone, Copy, Default)]
pub struct Direct;

/// The handler runs once per event: see [`hookgate::dedupe`].
#[derive(Debug)]
pub struct Deduped<St>(pub(crate) Deduper<St>);

/// The verified event is stored in a durable inbox and the sender answered
/// at once; the workers run the handler. See [`hookgate::inbox`].
pub struct Queued<I>(pub(crate) Inbox<I>);

impl<St> Clone for Deduped<St> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<I> Clone for Queued<I> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<I> std::fmt::Debug for Queued<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Queued")
    }
}

/// A route's mode: [`Direct`], [`Deduped`] or [`Queued`]. Sealed.
pub trait Mode: sealed::Then + Clone + 'static {}

impl Mode for Direct {}
impl<St: DedupeStore> Mode for Deduped<St> {}
impl<I: InboxStore> Mode for Queued<I> {}

pub(crate) mod sealed {
    use super::*;

    type Answered<B> = LocalBoxFuture<'static, Result<ServiceResponse<EitherBody<B>>, Error>>;

    pub trait Then {
        /// What the route does once the delivery is verified.
        fn then<S, B>(&self, verified: Verified<S>) -> Answered<B>
        where
            S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
            B: MessageBody + 'static;
    }

    impl Then for Direct {
        fn then<S, B>(&self, verified: Verified<S>) -> Answered<B>
        where
            S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
            B: MessageBody + 'static,
        {
            call_handler(verified, None::<&Deduper<hookgate::dedupe::MemoryStore>>)
        }
    }

    impl<St: DedupeStore> Then for Deduped<St> {
        fn then<S, B>(&self, verified: Verified<S>) -> Answered<B>
        where
            S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
            B: MessageBody + 'static,
        {
            call_handler(verified, Some(&self.0))
        }
    }

    impl<I: InboxStore> Then for Queued<I> {
        fn then<S, B>(&self, verified: Verified<S>) -> Answered<B>
        where
            S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
            B: MessageBody + 'static,
        {
            let Verified { req, event, .. } = verified;
            let answer = self.0.accept(&event, &ActixHeaders(req.headers()));
            Box::pin(async move { answered(req, answer.await) })
        }
    }

    /// The handler under the deadline, through the dedupe step if there is one.
    fn call_handler<S, B, St: DedupeStore>(
        verified: Verified<S>,
        deduper: Option<&Deduper<St>>,
    ) -> Answered<B>
    where
        S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
        B: MessageBody + 'static,
    {
        let Verified {
            mut req,
            event,
            body,
            service,
            intake,
        } = verified;
        let key = deduper.map(|d| d.key_for(&event, &ActixHeaders(req.headers())));
        let deduper = deduper.cloned();
        req.extensions_mut().insert(event);
        req.set_payload(payload_of(body));
        // Kept to answer with when the handler's request is gone (deadline, panic).
        let http_req = req.request().clone();
        Box::pin(async move {
            let handler = move || service.call(req);
            let ran = intake
                .run(|| async move {
                    match (deduper, key) {
                        (Some(deduper), Some(Ok(key))) => {
                            let succeeded = |res: &Result<ServiceResponse<B>, Error>| {
                                matches!(res, Ok(res) if res.status().is_success())
                            };
                            deduper.run(key, handler, succeeded).await
                        }
                        (_, Some(Err(answer))) => Err(answer),
                        _ => Ok(handler().await),
                    }
                })
                .await;
            match ran {
                Ok(Ok(result)) => result.map(ServiceResponse::map_into_left_body),
                Ok(Err(answer)) | Err(answer) => answered_to(http_req, answer),
            }
        })
    }

    fn answered_to<B>(
        req: actix_web::HttpRequest,
        answer: hookgate::Answer,
    ) -> Result<ServiceResponse<EitherBody<B>>, Error> {
        let res = crate::answer_response(answer);
        Ok(ServiceResponse::new(req, res).map_into_right_body())
    }
}

/// The verified bytes as the request's payload again, for the handler.
pub(crate) fn payload_of(body: Bytes) -> Payload {
    let (_sender, mut payload) = actix_http::h1::Payload::create(true);
    payload.unread_data(body);
    payload.into()
}
