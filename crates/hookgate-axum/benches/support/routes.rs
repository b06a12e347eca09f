//! The routes and deliveries shared by `benches/route.rs` (criterion
//! timings) and `examples/route_instructions.rs` (callgrind counts), so both
//! measure the same thing.

use std::hint::black_box;

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use axum::routing::post;
use axum::Router;
use hookgate::dedupe::MemoryStore;
use hookgate::events::{AexoEnvelope, AexoEvent};
use hookgate::scheme::Aexo;
use hookgate::{testing, WebhookLayer};
use hookgate_axum::Webhook;
use http_body_util::BodyExt;
use tower::Service;

pub(crate) const SECRET: &str = "whsec_route_bench_0123456789";

/// The routes by name: `plain` (axum, `Bytes` and the typed AEXO envelope
/// with serde_json, no verification), `hookgate` (`WebhookLayer::aexo` and
/// a `Webhook<AexoEvent>` handler), `hookgate_memory` (the same with the
/// in-memory dedupe store).
pub(crate) const ROUTES: [&str; 3] = ["plain", "hookgate", "hookgate_memory"];

/// The route called `name` in [`ROUTES`].
pub(crate) fn router(name: &str) -> Option<Router> {
    let layer = || WebhookLayer::aexo(SECRET).unwrap();
    Some(match name {
        "plain" => Router::new().route("/webhook", post(plain)),
        "hookgate" => Router::new().route("/webhook", post(hooked).layer(layer())),
        "hookgate_memory" => Router::new().route(
            "/webhook",
            post(hooked).layer(layer().with_dedupe(MemoryStore::new()).unwrap()),
        ),
        _ => return None,
    })
}

/// AEXO delivery number `n`, a distinct event of exactly `size` bytes,
/// signed now.
pub(crate) fn delivery(n: u64, size: usize) -> Request<Body> {
    let id = format!("wh_{n:016}");
    let event = |note: String| {
        testing::aexo_body(
            &id,
            "record.flagged",
            serde_json::json!({ "record_id": "rec_1", "note": note }),
        )
    };
    let pad = size.saturating_sub(event(String::new()).len());
    let body = event("x".repeat(pad));
    let mut req = Request::post("/webhook").header("content-type", "application/json");
    for (name, value) in testing::sign(&Aexo, SECRET, &body) {
        req = req.header(name, value);
    }
    req.header("content-length", body.len())
        .body(Body::from(body))
        .unwrap()
}

/// Sends `req` through `router` and reads the answer to its end; it must
/// be 200.
pub(crate) async fn answer(router: &mut Router, req: Request<Body>) {
    let res = router.call(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    black_box(res.into_body().collect().await.unwrap());
}

async fn plain(body: Bytes) -> Result<&'static str, StatusCode> {
    let envelope: AexoEnvelope =
        serde_json::from_slice(&body).map_err(|_| StatusCode::BAD_REQUEST)?;
    black_box(&envelope);
    Ok("ok")
}

async fn hooked(hook: Webhook<AexoEvent>) -> &'static str {
    black_box(&hook.event);
    "ok"
}
