//! Verification cost against a bare HMAC-SHA256 over the same bytes.
//!
//! Run with: cargo bench -p hookgate --bench verify
//!
//! For each body size (0.5, 2, 3 and 64 KB, realistic AEXO envelopes) it
//! measures, in the same run:
//! - `bare_hmac`: `Hmac::<Sha256>::new_from_slice(secret)`, update, finalize;
//! - `verify_signature`: header lookup, hex decode, HMAC with the pre-keyed
//!   secret, constant-time comparison (the verify step);
//! - `verify_full`: the above plus the one-pass envelope read and the
//!   freshness check (everything the layer does besides reading the body).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hmac::{Hmac, Mac};
use hookgate::{testing, Verifier};
use sha2::Sha256;

const SECRET: &str = "whsec_bench_0123456789abcdef";

fn body_of_size(size: usize) -> Vec<u8> {
    let base = testing::aexo_body(
        "wh_01HXYZ123456789",
        "record.flagged",
        serde_json::json!({ "record_id": "rec_1", "note": "" }),
    );
    let pad = size.saturating_sub(base.len());
    testing::aexo_body(
        "wh_01HXYZ123456789",
        "record.flagged",
        serde_json::json!({ "record_id": "rec_1", "note": "x".repeat(pad) }),
    )
}

fn bench(c: &mut Criterion) {
    let verifier = Verifier::aexo(SECRET).expect("secret");
    let mut group = c.benchmark_group("verify");
    for size in [512usize, 2048, 3072, 65536] {
        let body = Bytes::from(body_of_size(size));
        let headers: Vec<(&str, String)> = testing::sign(verifier.scheme(), SECRET, &body);
        assert!(verifier.verify(&headers, body.clone()).is_ok());
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::new("bare_hmac", size), &body, |b, body| {
            b.iter(|| {
                let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
                mac.update(black_box(body));
                black_box(mac.finalize().into_bytes())
            })
        });
        group.bench_with_input(
            BenchmarkId::new("verify_signature", size),
            &body,
            |b, body| {
                b.iter(|| {
                    black_box(verifier.verify_signature(black_box(&headers), black_box(body)))
                })
            },
        );
        group.bench_with_input(BenchmarkId::new("verify_full", size), &body, |b, body| {
            b.iter(|| black_box(verifier.verify(black_box(&headers), body.clone())))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
