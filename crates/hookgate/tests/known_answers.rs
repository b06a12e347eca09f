//! Known-answer vectors computed by openssl (see vectors/make-vectors.sh)
//! over the senders' own sample payloads.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use hookgate::events::{AexoEvent, AxifiEvent, WebhookEvent};
use hookgate::scheme::{Aexo, Axifi, Scheme, SignInput};
use hookgate::{ManualClock, Rejection, Secret, Secrets, Verifier};

struct Vector {
    scheme: String,
    secret: String,
    body: Bytes,
    header: String,
}

fn vectors() -> Vec<Vector> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let text = std::fs::read_to_string(dir.join("vectors.txt")).unwrap();
    let vectors: Vec<Vector> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            Vector {
                scheme: f[0].to_owned(),
                secret: f[1].to_owned(),
                body: std::fs::read(dir.join(f[2])).unwrap().into(),
                header: f[3].to_owned(),
            }
        })
        .collect();
    assert_eq!(vectors.len(), 5);
    vectors
}

fn scheme(name: &str) -> Box<dyn Scheme> {
    match name {
        "aexo" => Box::new(Aexo),
        "axifi" => Box::new(Axifi),
        other => panic!("unknown scheme {other}"),
    }
}

/// A verifier whose clock stands at the vector's own timestamp, so the
/// years-old sample events pass the freshness check without turning it off.
fn verifier_at_body_time(v: &Vector) -> Verifier {
    let clock = ManualClock::new(std::time::SystemTime::UNIX_EPOCH);
    let verifier = match v.scheme.as_str() {
        "aexo" => Verifier::aexo(&v.secret),
        _ => Verifier::axifi(&v.secret),
    }
    .unwrap()
    .clock(clock.clone());
    let probe = verifier.verify_at(
        &headers(v, &v.header),
        v.body.clone(),
        std::time::SystemTime::UNIX_EPOCH,
    );
    assert_eq!(probe.unwrap_err(), Rejection::FromFuture);
    let json: serde_json::Value = serde_json::from_slice(&v.body).unwrap();
    let stamp = json
        .get("created_at")
        .or(json.get("timestamp"))
        .unwrap()
        .as_str()
        .unwrap();
    let at =
        time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339).unwrap();
    clock.set(std::time::SystemTime::from(at) + Duration::from_secs(30));
    verifier
}

fn headers(v: &Vector, value: &str) -> Vec<(String, String)> {
    vec![(
        scheme(&v.scheme).signature_header().to_owned(),
        value.to_owned(),
    )]
}

#[test]
fn signing_reproduces_every_openssl_vector() {
    for v in vectors() {
        let secret = Secret::new(&v.secret).unwrap();
        let signed = scheme(&v.scheme)
            .sign(secret.expose(), &SignInput::new(&v.body))
            .unwrap();
        assert_eq!(signed.len(), 1);
        assert_eq!(signed[0].1, v.header, "{}", v.scheme);
    }
}

#[test]
fn every_openssl_vector_verifies_and_parses_into_typed_events() {
    for v in vectors() {
        let verifier = verifier_at_body_time(&v);
        let event = verifier
            .verify(&headers(&v, &v.header), v.body.clone())
            .unwrap();
        match v.scheme.as_str() {
            "aexo" => {
                assert!(event.id().unwrap().starts_with("wh_"));
                let typed = AexoEvent::from_verified(&event).unwrap();
                if let AexoEvent::DatasetRefreshed(d) = typed {
                    assert_eq!(d.dataset_name, "ny-verified-contractors");
                    assert_eq!(
                        (d.records_updated, d.records_added, d.records_removed),
                        (847, 203, 12)
                    );
                    assert_eq!(d.refresh_cycle, "monthly");
                }
            }
            _ => {
                assert_eq!(event.id(), None);
                let AxifiEvent::CompoundCreated(c) = AxifiEvent::from_verified(&event).unwrap()
                else {
                    panic!("expected compound.created");
                };
                assert_eq!(
                    (c.id.as_str(), c.name.as_str(), c.category.as_str()),
                    ("compound-123", "Aspirin", "analgesic")
                );
                assert!((c.efficacy - 0.92).abs() < 1e-12);
            }
        }
    }
}

#[test]
fn flipping_any_single_byte_of_a_vector_body_is_rejected() {
    for v in vectors() {
        let verifier = verifier_at_body_time(&v);
        for i in 0..v.body.len() {
            let mut body = v.body.to_vec();
            body[i] ^= 0x01;
            assert_eq!(
                verifier
                    .verify(&headers(&v, &v.header), body.into())
                    .unwrap_err(),
                Rejection::BadSignature,
                "byte {i} of {}",
                v.scheme
            );
        }
    }
}

#[test]
fn a_vector_verifies_under_either_rotated_secret_and_reports_which() {
    let v = vectors()
        .into_iter()
        .find(|v| v.secret == "another-secret-2026")
        .unwrap();
    let base = verifier_at_body_time(&v);
    let rotated = base
        .clone()
        .secrets(Secrets::new(["whsec_aexo_test_secret", "another-secret-2026"]).unwrap())
        .unwrap();
    let event = rotated
        .verify(&headers(&v, &v.header), v.body.clone())
        .unwrap();
    assert_eq!(event.secret_index(), 1);
    let without = base
        .secrets(Secrets::new(["whsec_aexo_test_secret"]).unwrap())
        .unwrap();
    assert_eq!(
        without
            .verify(&headers(&v, &v.header), v.body.clone())
            .unwrap_err(),
        Rejection::BadSignature
    );
}

#[test]
fn the_seed_node_snippet_semantics_hold_for_re_serialized_json() {
    // AEXO signs JSON.stringify(payload) and sends exactly that string: the
    // compact body verifies, a re-serialized (pretty) copy of it does not.
    let v = vectors().into_iter().find(|v| v.scheme == "aexo").unwrap();
    let verifier = verifier_at_body_time(&v);
    let value: serde_json::Value = serde_json::from_slice(&v.body).unwrap();
    let pretty = serde_json::to_vec_pretty(&value).unwrap();
    assert_eq!(
        verifier
            .verify(&headers(&v, &v.header), pretty.into())
            .unwrap_err(),
        Rejection::BadSignature
    );
}
