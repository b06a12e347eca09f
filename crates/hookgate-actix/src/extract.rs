use std::fmt;
use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use hookgate::events::WebhookEvent;
use hookgate::{Answer, Delivery, Rejection, VerifiedEvent};

use crate::answer_response;

/// A verified webhook delivery, with its event parsed as `E`; dereferences
/// to [`Delivery`] (`hook.event`, `hook.id()`, `hook.meta()`, `hook.raw()`).
///
/// Only ever built from a request that [`VerifyWebhook`](crate::VerifyWebhook)
/// verified: without the middleware it answers 500 and names it. It does not
/// read the payload, so actix's `PayloadConfig` limit plays no part.
pub struct Webhook<E = ()>(pub Delivery<E>);

hookgate::__delivery_extractor!(Webhook);

impl<E: WebhookEvent> FromRequest for Webhook<E> {
    type Error = WebhookRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let verified = req.extensions().get::<VerifiedEvent>().cloned();
        ready(match verified {
            None => Err(WebhookRejection::MissingMiddleware),
            Some(verified) => Delivery::from_verified(verified)
                .map(Webhook)
                .map_err(WebhookRejection::Rejected),
        })
    }
}

/// Why [`Webhook`] could not be extracted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookRejection {
    /// The route has no [`VerifyWebhook`](crate::VerifyWebhook) middleware:
    /// a server bug, answered with 500.
    MissingMiddleware,
    /// The delivery was refused (for the extractor: its data does not match `E`).
    Rejected(Rejection),
}

/// The message of [`WebhookRejection::MissingMiddleware`].
pub const MISSING_MIDDLEWARE_MESSAGE: &str =
    "server misconfiguration: the Webhook extractor needs hookgate's VerifyWebhook middleware on this route";

impl fmt::Display for WebhookRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingMiddleware => f.write_str(MISSING_MIDDLEWARE_MESSAGE),
            Self::Rejected(r) => fmt::Display::fmt(r, f),
        }
    }
}

impl WebhookRejection {
    /// The answer that goes to the sender.
    pub fn answer(&self) -> Answer {
        match self {
            Self::MissingMiddleware => Answer::Misconfigured(MISSING_MIDDLEWARE_MESSAGE),
            Self::Rejected(r) => Answer::Rejected(r.clone()),
        }
    }
}

impl ResponseError for WebhookRejection {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.answer().status().as_u16())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::MissingMiddleware = self {
            tracing::error!(
                "hookgate_actix::Webhook extracted on a route without the VerifyWebhook \
                 middleware; add .wrap(VerifyWebhook::...) to the route or scope"
            );
        }
        answer_response(self.answer())
    }
}
