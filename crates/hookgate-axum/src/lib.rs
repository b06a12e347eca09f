#![doc = include_str!("../README.md")]

use std::fmt;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use hookgate::events::WebhookEvent;

pub mod serve;
pub use serve::{serve, ServerLimits};

pub use hookgate::{
    self, events, scheme, testing, Answer, Delivery, Rejection, VerifiedEvent, Verifier,
    WebhookLayer,
};

/// A verified webhook delivery, with its event parsed as `E`; dereferences
/// to [`Delivery`] (`hook.event`, `hook.id()`, `hook.meta()`, `hook.raw()`).
///
/// `E` is one of hookgate's typed events ([`events::AexoEvent`],
/// [`events::AxifiEvent`], the envelopes), your own type through
/// [`events::Data`] or [`events::Json`], or `()` for no typed parsing at all.
///
/// It is only ever built from a request that [`WebhookLayer`] verified: on a
/// route without the layer it answers 500 and names the missing layer, so a
/// forgotten layer can never hand an unverified event to a handler.
pub struct Webhook<E = ()>(pub Delivery<E>);

hookgate::__delivery_extractor!(Webhook);

impl<S, E> FromRequestParts<S> for Webhook<E>
where
    S: Send + Sync,
    E: WebhookEvent,
{
    type Rejection = WebhookRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let verified = parts
            .extensions
            .get::<VerifiedEvent>()
            .cloned()
            .ok_or(WebhookRejection::MissingLayer)?;
        Delivery::from_verified(verified)
            .map(Webhook)
            .map_err(WebhookRejection::Rejected)
    }
}

/// Reads the peer from axum's `ConnectInfo<SocketAddr>` for
/// [`RequireHttpsLayer::connection_from`](hookgate::https::RequireHttpsLayer::connection_from).
/// [`serve`] puts it on every request; with `axum::serve`, serve with
/// `into_make_service_with_connect_info::<SocketAddr>()`. Connections are
/// taken as plain text.
///
/// ```
/// use hookgate::https::{HttpsPolicy, RequireHttpsLayer};
/// let policy = HttpsPolicy::new().trust_proxies(["10.0.0.0/8"]).unwrap();
/// let layer = RequireHttpsLayer::new(policy).connection_from(hookgate_axum::connect_info);
/// # let _ = layer;
/// ```
pub fn connect_info(ext: &axum::http::Extensions) -> Option<hookgate::https::Connection> {
    ext.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| hookgate::https::Connection::from_socket(info.0, false))
}

/// Why [`Webhook`] could not be extracted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookRejection {
    /// The route has no [`WebhookLayer`]: a server bug, answered with 500.
    MissingLayer,
    /// The delivery was refused (for the extractor: its data does not match `E`).
    Rejected(Rejection),
}

/// The message of [`WebhookRejection::MissingLayer`].
pub const MISSING_LAYER_MESSAGE: &str =
    "server misconfiguration: the Webhook extractor needs hookgate's WebhookLayer on this route";

impl WebhookRejection {
    /// The answer that goes to the sender.
    pub fn answer(&self) -> Answer {
        match self {
            Self::MissingLayer => Answer::Misconfigured(MISSING_LAYER_MESSAGE),
            Self::Rejected(rejection) => Answer::Rejected(rejection.clone()),
        }
    }
}

impl IntoResponse for WebhookRejection {
    fn into_response(self) -> Response {
        if let Self::MissingLayer = self {
            tracing::error!(
                "hookgate::Webhook extracted on a route without WebhookLayer; \
                 add .layer(WebhookLayer::...) to the route or router"
            );
        }
        self.answer().into_response().map(axum::body::Body::new)
    }
}

impl fmt::Display for WebhookRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingLayer => f.write_str(MISSING_LAYER_MESSAGE),
            Self::Rejected(r) => fmt::Display::fmt(r, f),
        }
    }
}

impl std::error::Error for WebhookRejection {}
