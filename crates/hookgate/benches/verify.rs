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
//!
//! The `schemes` group checks one scheme of each family at 2 KB against a
//! bare HMAC-SHA256 over the same signed bytes in the same run: hex tag
//! (GitHub), base64 tag (Shopify), a list of three signatures with a
//! signed id and timestamp (Standard Webhooks); a URL-signed scheme
//! (Square, the public URL and the body); and an ed25519 signature
//! (Discord) against a bare `verify_strict` of the same bytes.
//! `verify_signature` there includes the header parsing and decoding of
//! the scheme.

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

fn bench_schemes(c: &mut Criterion) {
    use hookgate::scheme::{GitHub, Scheme, Shopify, SignInput, StandardWebhooks};
    use hookgate::Secrets;
    let sw_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let body = Bytes::from(body_of_size(2048));
    let mut group = c.benchmark_group("schemes");
    group.throughput(Throughput::Bytes(body.len() as u64));
    let schemes: [(&str, std::sync::Arc<dyn Scheme>, &str); 3] = [
        ("github_hex", std::sync::Arc::new(GitHub), SECRET),
        ("shopify_base64", std::sync::Arc::new(Shopify), SECRET),
        (
            "standard_webhooks_list",
            std::sync::Arc::new(StandardWebhooks::V1),
            sw_secret,
        ),
    ];
    for (label, scheme, secret) in schemes {
        let mut input = SignInput::new(&body);
        input.id = Some("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W");
        let mut headers: Vec<(&str, String)> = scheme.sign(secret.as_bytes(), &input).unwrap();
        // The signed bytes and the key, for the bare HMAC over the same input.
        let key = scheme.decode_secret(secret.as_bytes()).unwrap();
        let mut signed = Vec::new();
        if label == "standard_webhooks_list" {
            let get = |n: &str| headers.iter().find(|(h, _)| *h == n).unwrap().1.clone();
            signed.extend_from_slice(
                format!("{}.{}.", get("webhook-id"), get("webhook-timestamp")).as_bytes(),
            );
            // Two decoys before the valid signature, as during a rotation.
            let decoy = format!("v1,{}", hookgate::scheme::Encoding::Base64.encode(&[7; 32]));
            for (h, v) in headers.iter_mut() {
                if *h == "webhook-signature" {
                    *v = format!("{decoy} {decoy} {v}");
                }
            }
        }
        signed.extend_from_slice(&body);
        let verifier = Verifier::new(scheme, Secrets::single(secret).unwrap()).unwrap();
        assert!(
            verifier.verify_signature(&headers, &body).is_ok(),
            "{label}"
        );
        group.bench_function(BenchmarkId::new("bare_hmac", label), |b| {
            b.iter(|| {
                let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("key");
                mac.update(black_box(&signed));
                black_box(mac.finalize().into_bytes())
            })
        });
        group.bench_function(BenchmarkId::new("verify_signature", label), |b| {
            b.iter(|| black_box(verifier.verify_signature(black_box(&headers), black_box(&body))))
        });
    }
    // URL-signed (Square): the public URL and the body.
    {
        use hookgate::scheme::Square;
        let url = "https://hooks.example.com/webhooks/square";
        let mut input = SignInput::new(&body);
        input.url = Some(url);
        let headers = Square.sign(SECRET.as_bytes(), &input).unwrap();
        let verifier =
            Verifier::with_public_url(Square, Secrets::single(SECRET).unwrap(), url).unwrap();
        assert!(verifier.verify_signature(&headers, &body).is_ok());
        let signed = [url.as_bytes(), &body[..]].concat();
        group.bench_function(BenchmarkId::new("bare_hmac", "square_url"), |b| {
            b.iter(|| {
                let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
                mac.update(black_box(&signed));
                black_box(mac.finalize().into_bytes())
            })
        });
        group.bench_function(BenchmarkId::new("verify_signature", "square_url"), |b| {
            b.iter(|| black_box(verifier.verify_signature(black_box(&headers), black_box(&body))))
        });
    }
    // ed25519 (Discord): against a bare `verify_strict` of the same bytes.
    {
        use hookgate::scheme::Discord;
        let seed = "5555555555555555555555555555555555555555555555555555555555555555";
        let headers = testing::sign(&Discord, seed, &body);
        let public = testing::verifying_secret(&Discord, seed).unwrap();
        let verifier = Verifier::new(Discord, Secrets::single(&public).unwrap()).unwrap();
        assert!(verifier.verify_signature(&headers, &body).is_ok());
        let ts = &headers
            .iter()
            .find(|(h, _)| *h == "x-signature-timestamp")
            .unwrap()
            .1;
        let message = [ts.as_bytes(), &body[..]].concat();
        let sig_hex = &headers
            .iter()
            .find(|(h, _)| *h == "x-signature-ed25519")
            .unwrap()
            .1;
        let sig = ed25519_dalek::Signature::from_slice(&hex::decode(sig_hex).unwrap()).unwrap();
        let key = ed25519_dalek::VerifyingKey::from_bytes(
            &hex::decode(&public).unwrap().try_into().unwrap(),
        )
        .unwrap();
        group.bench_function(BenchmarkId::new("bare_ed25519", "discord"), |b| {
            b.iter(|| black_box(key.verify_strict(black_box(&message), &sig)))
        });
        group.bench_function(
            BenchmarkId::new("verify_signature", "discord_ed25519"),
            |b| {
                b.iter(|| {
                    black_box(verifier.verify_signature(black_box(&headers), black_box(&body)))
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench, bench_schemes);
criterion_main!(benches);
