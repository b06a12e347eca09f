//! The verifying tower middleware.
//!
//! [`WebhookLayer`] wraps any tower or hyper service. For each request it
//!
//! 1. refuses a `Content-Length` over the limit with 413, before reading;
//! 2. reads the body through the limit (413, also for chunked bodies) and the
//!    read timeout (408);
//! 3. verifies the signature over the raw bytes against every active secret
//!    (401), reads the envelope once (400) and checks the signed timestamp
//!    against the freshness window (401);
//! 4. puts the [`VerifiedEvent`](crate::VerifiedEvent) into the request's
//!    extensions and calls the inner service with the same bytes as its body;
//! 5. answers 503 with `Retry-After` if the inner service has not answered by
//!    the handler deadline (counted from the request's arrival; the inner
//!    future is dropped), and 500 if it panics.
//!
//! Rejections are responses with a short JSON body (`{"error": "..."}`) and
//! the [`Answer`](crate::Answer) in their extensions, not service errors, so
//! an infallible stack stays infallible. The stages are the
//! [pipeline](crate::pipeline)'s, shared with the actix adapter.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use hookgate::{testing, WebhookLayer};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! let svc = ServiceBuilder::new()
//!     .layer(WebhookLayer::aexo("s3cret").unwrap())
//!     .service(service_fn(|req: Request<Full<Bytes>>| async move {
//!         let event = req.extensions().get::<hookgate::VerifiedEvent>().unwrap();
//!         Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from(event.event_type().to_owned()))))
//!     }));
//!
//! let body = testing::aexo_body("wh_1", "key.created", serde_json::json!({}));
//! let ok = svc.clone().oneshot(testing::signed_request(&hookgate::scheme::Aexo, "s3cret", "/", body.clone())).await.unwrap();
//! assert_eq!(ok.status(), StatusCode::OK);
//!
//! let forged = testing::signed_request(&hookgate::scheme::Aexo, "guess", "/", body);
//! assert_eq!(svc.oneshot(forged).await.unwrap().status(), StatusCode::UNAUTHORIZED);
//! # });
//! ```

mod future;
mod layer;
mod service;

pub use future::ResponseFuture;
pub use layer::WebhookLayer;
pub use service::VerifyWebhook;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
