use std::fmt;
use std::future::{ready, Ready};
use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use hookgate::events::WebhookEvent;
use hookgate::{Delivery, Rejection, VerifiedEvent};

use crate::{json_response, rejection_response};

/// A verified webhook delivery, with its event parsed as `E`; dereferences
/// to [`Delivery`] (`hook.event`, `hook.id()`, `hook.meta()`, `hook.raw()`).
///
/// Only ever built from a request that [`VerifyWebhook`](crate::VerifyWebhook)
/// verified: without the middleware it answers 500 and names it. It does not
/// read the payload, so actix's `PayloadConfig` limit plays no part.
pub struct Webhook<E = ()>(pub Delivery<E>);

impl<E> Deref for Webhook<E> {
    type Target = Delivery<E>;

    fn deref(&self) -> &Delivery<E> {
        &self.0
    }
}

impl<E: fmt::Debug> fmt::Debug for Webhook<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Webhook").field(&self.0).finish()
    }
}

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

impl ResponseError for WebhookRejection {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::MissingMiddleware => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Rejected(r) => {
                StatusCode::from_u16(r.status().as_u16()).unwrap_or(StatusCode::BAD_REQUEST)
            }
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::MissingMiddleware => {
                tracing::error!(
                    "hookgate_actix::Webhook extracted on a route without the VerifyWebhook \
                     middleware; add .wrap(VerifyWebhook::...) to the route or scope"
                );
                json_response(500, &[], hookgate::error_body(MISSING_MIDDLEWARE_MESSAGE))
            }
            Self::Rejected(r) => rejection_response(r),
        }
    }
}
