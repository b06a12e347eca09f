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

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use hmac::{Hmac, Mac};
use http_body_util::BodyExt;
use sha2::Sha256;

mod support {
    pub(crate) mod routes;
}
use support::routes::{self, answer, SECRET};

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A fresh delivery of `size` bytes, never sent before.
fn delivery(size: usize) -> axum::http::Request<axum::body::Body> {
    routes::delivery(NEXT.fetch_add(1, Ordering::Relaxed), size)
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
        for name in routes::ROUTES {
            let mut router = routes::router(name).unwrap();
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
