//! De-duplication on the event id: a handler sees each event once while a
//! sender keeps retrying, and no event is acknowledged unless its handler
//! succeeded.
//!
//! [`DedupeLayer`] sits inside [`WebhookLayer`](crate::WebhookLayer) and keys
//! on the verified envelope (no second parse). For each delivery it claims
//! the key in a [`DedupeStore`]:
//!
//! | claim | answer |
//! |---|---|
//! | new | the handler runs; a 2xx commits the id as done for the retention time, anything else (error status, panic, the request dropped) releases it so the retry runs |
//! | done | 200 `{"duplicate":true}` with `hookgate-dedupe: duplicate`, handler not called |
//! | in flight | 409 with `Retry-After` and `hookgate-dedupe: in-flight` |
//! | store unreachable | 503 with `Retry-After`, handler not called (fail closed; fail-open is an opt-in) |
//!
//! Stores: [`MemoryStore`] (embedded, the default) and `hookgate-redis` for
//! several replicas.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use std::convert::Infallible;
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use http_body_util::Full;
//! use hookgate::dedupe::{DedupeLayer, Deduper, MemoryStore};
//! use hookgate::{scheme::Aexo, testing, Verifier, WebhookLayer};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! let verifier = Verifier::aexo("s3cret").unwrap();
//! let deduper = Deduper::builder(MemoryStore::new()).build(&verifier).unwrap();
//! let svc = ServiceBuilder::new()
//!     .layer(WebhookLayer::new(verifier))
//!     .layer(DedupeLayer::new(deduper))
//!     .service(service_fn(|_: Request<Full<Bytes>>| async { Ok::<_, Infallible>(Response::new(Full::<Bytes>::default())) }));
//!
//! let body = testing::aexo_body("wh_1", "key.created", serde_json::json!({}));
//! let first = svc.clone().oneshot(testing::signed_request(&Aexo, "s3cret", "/", body.clone())).await.unwrap();
//! assert_eq!(first.status(), 200);
//! let again = svc.oneshot(testing::signed_request(&Aexo, "s3cret", "/", body)).await.unwrap();
//! assert_eq!(again.status(), 200);
//! assert_eq!(again.headers()["hookgate-dedupe"], "duplicate");
//! # });
//! ```

mod deduper;
mod guard;
mod layer;
mod memory;
mod store;

pub use crate::answer::DEDUPE_HEADER;
pub use crate::store::{KeySource, StoreError, Token};
pub use deduper::{
    Decision, Deduper, DeduperBuilder, OnStoreError, DEFAULT_LEASE, DEFAULT_RETRY_AFTER,
};
pub use guard::{ClaimGuard, COMMIT_RETRY_DELAYS};
pub use layer::{Dedupe, DedupeLayer, ResponseFuture};
pub use memory::{MemoryStore, DEFAULT_CAPACITY, EVICTION_WARNING_INTERVAL};
pub use store::{Claim, DedupeStore};
