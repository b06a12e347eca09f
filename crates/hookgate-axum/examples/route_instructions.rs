//! Sends N AEXO deliveries through one axum route in process, for counting
//! instructions under callgrind (`scripts/route-instructions.sh` runs it).
//!
//! `cargo run --release -p hookgate-axum --example route_instructions -- ROUTE N [SIZE]`
//! with ROUTE one of `plain` (axum, `Bytes` + the typed AEXO envelope with
//! serde_json, no verification), `hookgate` (`WebhookLayer::aexo` and a
//! `Webhook<AexoEvent>` handler), `memory` (the same with the in-memory
//! dedupe store). Every delivery is a distinct event of SIZE bytes (default
//! 512), built and signed before the first is sent; each answer must be 200.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

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

const SECRET: &str = "whsec_route_instructions_0123456789";

fn delivery(n: usize, size: usize) -> Request<Body> {
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

fn main() {
    let usage = "usage: route_instructions plain|hookgate|memory N [SIZE]";
    let mut args = std::env::args().skip(1);
    let route = args.next().expect(usage);
    let n: usize = args.next().and_then(|n| n.parse().ok()).expect(usage);
    let size: usize = args.next().map_or(512, |s| s.parse().expect(usage));
    let layer = || WebhookLayer::aexo(SECRET).unwrap();
    let mut router = match route.as_str() {
        "plain" => Router::new().route("/webhook", post(plain)),
        "hookgate" => Router::new().route("/webhook", post(hooked).layer(layer())),
        "memory" => Router::new().route(
            "/webhook",
            post(hooked).layer(layer().with_dedupe(MemoryStore::new()).unwrap()),
        ),
        _ => panic!("{usage}"),
    };
    let deliveries: Vec<_> = (0..n).map(|i| delivery(i, size)).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for req in deliveries {
            let res = router.call(req).await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            black_box(res.into_body().collect().await.unwrap());
        }
    });
}
