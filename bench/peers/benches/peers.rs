//! hookgate's verification beside its peers', over the same bytes, in one
//! criterion run.
//!
//! Run with: `cd bench/peers && cargo bench` (BENCHMARKS.md has the figures).
//!
//! Two groups, each at 0.5, 2, 3 and 64 KB bodies:
//!
//! - `standard-webhooks/<size>`: one delivery with `webhook-id`,
//!   `webhook-timestamp` and `webhook-signature` headers (one `v1,`
//!   signature), checked by hookgate's `StandardWebhooks::V1`
//!   (`authenticate`: signature and timestamp window, what the peers check),
//!   by `standardwebhooks::Webhook::verify` and by `svix::webhooks::Webhook::verify`
//!   (which reads the same unbranded headers); `bare_hmac` is one
//!   HMAC-SHA256 over the signed bytes `{id}.{ts}.{body}` with the key set
//!   up in the loop, as a floor; `hookgate_verify` adds the envelope read
//!   (what the layer runs), for reference.
//! - `github/<size>`: `X-Hub-Signature-256: sha256=<hex>` over the body,
//!   checked by hookgate's `GitHub` scheme, by `webhook_verify::verify`
//!   with `Provider::GitHub`, and by hookgate's `Axifi` (which signs the
//!   same way, in `X-Webhook-Signature`); `bare_hmac` over the body.
//!
//! Every check runs once before timing and must pass, so a benchmark of a
//! failing verification cannot pass as a fast one. Headers are an
//! `http::HeaderMap` for every library (what a server hands them).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hmac::{Hmac, Mac};
use hookgate::scheme::{Axifi, GitHub, SignInput, StandardWebhooks};
use hookgate::{testing, Secrets, Verifier};
use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::Sha256;

/// `whsec_` and the base64 of 32 key bytes, as Standard Webhooks senders
/// hand them out.
const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const GH_SECRET: &str = "It's a Secret to Everybody";
const SIZES: [usize; 4] = [512, 2048, 3072, 65536];

fn padded_body(size: usize) -> Vec<u8> {
    let make = |pad: usize| {
        serde_json::to_vec(&serde_json::json!({
            "type": "invoice.paid",
            "timestamp": "2026-12-03T10:00:00Z",
            "data": { "id": "inv_1", "amount": 1200, "note": "x".repeat(pad) },
        }))
        .unwrap()
    };
    let base = make(0).len();
    make(size.saturating_sub(base))
}

fn header_map(pairs: &[(&'static str, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_static(name),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

fn standard_webhooks(c: &mut Criterion) {
    let hookgate = Verifier::new(
        StandardWebhooks::V1,
        Secrets::single(SW_SECRET).unwrap(),
    )
    .unwrap();
    let peer = standardwebhooks::Webhook::new(SW_SECRET).unwrap();
    let svix = svix::webhooks::Webhook::new(SW_SECRET).unwrap();
    let key = hookgate.scheme().decode_secret(SW_SECRET.as_bytes()).unwrap();
    for size in SIZES {
        let body = Bytes::from(padded_body(size));
        let now = SystemTime::now();
        let mut input = SignInput::new(&body);
        input.id = Some("msg_2Lx7HqyTPrWmHkBZXyWqKDpzLDE");
        input.timestamp = now;
        let headers = header_map(&testing::sign_input(&StandardWebhooks::V1, SW_SECRET, &input));
        let ts = now.duration_since(UNIX_EPOCH).unwrap().as_secs();
        let signed = [
            b"msg_2Lx7HqyTPrWmHkBZXyWqKDpzLDE.".as_slice(),
            format!("{ts}.").as_bytes(),
            &body,
        ]
        .concat();

        // Each library accepts this delivery, and refuses it once a byte changes.
        assert!(hookgate.authenticate(&headers, &body).is_ok());
        assert!(hookgate.verify(&headers, body.clone()).is_ok());
        assert!(peer.verify(&body, &headers).is_ok());
        assert!(svix.verify(&body, &headers).is_ok());
        let mut changed = body.to_vec();
        changed[10] ^= 1;
        assert!(hookgate.authenticate(&headers, &changed).is_err());
        assert!(peer.verify(&changed, &headers).is_err());
        assert!(svix.verify(&changed, &headers).is_err());

        let mut group = c.benchmark_group(format!("standard-webhooks/{size}"));
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(BenchmarkId::from_parameter("bare_hmac"), |b| {
            b.iter(|| {
                let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
                mac.update(black_box(&signed));
                black_box(mac.finalize().into_bytes())
            })
        });
        group.bench_function(BenchmarkId::from_parameter("hookgate"), |b| {
            b.iter(|| black_box(hookgate.authenticate(black_box(&headers), black_box(&body))))
        });
        group.bench_function(BenchmarkId::from_parameter("standardwebhooks"), |b| {
            b.iter(|| black_box(peer.verify(black_box(&body), black_box(&headers))))
        });
        group.bench_function(BenchmarkId::from_parameter("svix"), |b| {
            b.iter(|| black_box(svix.verify(black_box(&body), black_box(&headers))))
        });
        group.bench_function(BenchmarkId::from_parameter("hookgate_verify"), |b| {
            b.iter(|| black_box(hookgate.verify(black_box(&headers), body.clone())))
        });
        group.finish();
    }
}

fn github(c: &mut Criterion) {
    let hookgate = Verifier::new(GitHub, Secrets::single(GH_SECRET).unwrap()).unwrap();
    let axifi = Verifier::new(Axifi, Secrets::single(GH_SECRET).unwrap()).unwrap();
    let secret = webhook_verify::Secret::new(GH_SECRET);
    for size in SIZES {
        let body = Bytes::from(padded_body(size));
        let headers = header_map(&testing::sign(&GitHub, GH_SECRET, &body));
        let axifi_headers = header_map(&testing::sign(&Axifi, GH_SECRET, &body));
        let peer = |body: &[u8]| {
            webhook_verify::verify(
                webhook_verify::Provider::GitHub,
                &headers,
                body,
                &secret,
                webhook_verify::VerifyOptions::default(),
            )
        };
        assert!(hookgate.authenticate(&headers, &body).is_ok());
        assert!(axifi.authenticate(&axifi_headers, &body).is_ok());
        assert!(peer(&body).is_ok());
        let mut changed = body.to_vec();
        changed[10] ^= 1;
        assert!(hookgate.authenticate(&headers, &changed).is_err());
        assert!(axifi.authenticate(&axifi_headers, &changed).is_err());
        assert!(peer(&changed).is_err());

        let mut group = c.benchmark_group(format!("github/{size}"));
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(BenchmarkId::from_parameter("bare_hmac"), |b| {
            b.iter(|| {
                let mut mac = Hmac::<Sha256>::new_from_slice(GH_SECRET.as_bytes()).unwrap();
                mac.update(black_box(&body));
                black_box(mac.finalize().into_bytes())
            })
        });
        group.bench_function(BenchmarkId::from_parameter("hookgate"), |b| {
            b.iter(|| black_box(hookgate.authenticate(black_box(&headers), black_box(&body))))
        });
        group.bench_function(BenchmarkId::from_parameter("webhook-verify"), |b| {
            b.iter(|| black_box(peer(black_box(&body))))
        });
        group.bench_function(BenchmarkId::from_parameter("hookgate_axifi"), |b| {
            b.iter(|| black_box(axifi.authenticate(black_box(&axifi_headers), black_box(&body))))
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(800))
        .measurement_time(Duration::from_secs(2));
    targets = standard_webhooks, github
}
criterion_main!(benches);
