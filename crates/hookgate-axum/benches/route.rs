//! What hookgate's layer costs an axum route, in process, without sockets.
//!
//! Run with: cargo bench -p hookgate-axum --bench route
//!
//! For 0.5, 2 and 3 KB AEXO deliveries (every one a distinct event, signed
//! outside the timed part), in the same run:
//! - `plain`: an axum route taking `Bytes` and parsing the typed AEXO
//!   envelope with serde_json, no verification (the load bench's row a);
//! - `hookgate`: `post(handler).layer(WebhookLayer::aexo(..))` with a
//!   `Webhook<AexoEvent>` handler (row b);
//! - `hookgate_memory`: the same with the in-memory dedupe store (row c);
//! - `bare_hmac`: HMAC-SHA256 of the body alone, the part no verifier can
//!   skip.
//!
//! Each request goes through `Router::call` and its response body is read
//! to the end, on a current-thread runtime. `hookgate − plain − bare_hmac`
//! is what the layer adds beyond the HMAC; the load bench
//! (`scripts/bench-load.sh`) measures the same rows over real sockets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use axum::routing::post;
use axum::Router;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use hmac::{Hmac, Mac};
use hookgate::dedupe::MemoryStore;
use hookgate::events::{AexoEnvelope, AexoEvent};
use hookgate::scheme::Aexo;
use hookgate::{testing, WebhookLayer};
use hookgate_axum::Webhook;
use http_body_util::BodyExt;
use sha2::Sha256;
use tower::Service;

const SECRET: &str = "whsec_route_bench_0123456789";

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A fresh AEXO delivery of exactly `size` bytes, signed now.
fn delivery(size: usize) -> Request<Body> {
    let id = format!("wh_{:016}", NEXT.fetch_add(1, Ordering::Relaxed));
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

fn routes() -> [(&'static str, Router); 3] {
    [
        ("plain", Router::new().route("/webhook", post(plain))),
        (
            "hookgate",
            Router::new().route(
                "/webhook",
                post(hooked).layer(WebhookLayer::aexo(SECRET).unwrap()),
            ),
        ),
        (
            "hookgate_memory",
            Router::new().route(
                "/webhook",
                post(hooked).layer(
                    WebhookLayer::aexo(SECRET)
                        .unwrap()
                        .with_dedupe(MemoryStore::new())
                        .unwrap(),
                ),
            ),
        ),
    ]
}

async fn answer(router: &mut Router, req: Request<Body>) {
    let res = router.call(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    black_box(res.into_body().collect().await.unwrap());
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("route");
    for size in [512usize, 2048, 3072] {
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::new("bare_hmac", size), |b| {
            b.iter_batched(
                || {
                    let req = delivery(size);
                    rt.block_on(req.into_body().collect()).unwrap().to_bytes()
                },
                |body| {
                    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
                    mac.update(&body);
                    black_box(mac.finalize().into_bytes())
                },
                BatchSize::SmallInput,
            )
        });
        for (name, router) in routes() {
            let mut router = router;
            rt.block_on(answer(&mut router, delivery(size)));
            group.bench_function(BenchmarkId::new(name, size), |b| {
                b.iter_batched(
                    || delivery(size),
                    |req| rt.block_on(answer(&mut router, req)),
                    BatchSize::SmallInput,
                )
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
