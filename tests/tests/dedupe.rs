//! De-duplication through real axum servers on 127.0.0.1, against the
//! in-memory store. The same scenarios against a real redis-server are in
//! `crates/hookgate-redis/tests/dedupe.rs`; both share
//! `hookgate_conformance::dedupe`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use hookgate::dedupe::{DedupeLayer, Deduper, MemoryStore, OnStoreError};
use hookgate_conformance::dedupe::{
    app, counting, deliver, one_event_many_times, released_after_each_failure, sender_simulation,
    serve, verifier,
};
use hookgate_conformance::Sender;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_deliveries_of_one_event_run_the_handler_once_in_memory() {
    let calls = Arc::new(AtomicUsize::new(0));
    let (addr, _server) = serve(app(
        MemoryStore::new(),
        OnStoreError::FailClosed,
        counting(calls.clone(), Duration::from_millis(300), StatusCode::OK),
    ))
    .await;
    let (processed, duplicate, in_flight) =
        one_event_many_times(&[addr], 1000, "wh_concurrent").await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(processed, 1);
    assert_eq!(processed + duplicate + in_flight, 1000);
    assert!(in_flight > 0, "the deliveries did not overlap the handler");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_panicked_or_abandoned_handler_releases_the_claim_in_memory() {
    released_after_each_failure(MemoryStore::new).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aexo_sender_with_retries_and_a_failing_handler_gets_every_event_processed_once_in_memory()
{
    sender_simulation(MemoryStore::new()).await;
}

#[tokio::test]
async fn the_dedupe_layer_without_the_verifying_layer_answers_500() {
    let deduper = Deduper::builder(MemoryStore::new())
        .build(&verifier())
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let router = Router::new()
        .route(
            Sender::Aexo.path(),
            post(|| async { "ok" }).layer(DedupeLayer::new(deduper)),
        )
        .with_state(counting(calls.clone(), Duration::ZERO, StatusCode::OK));
    let (addr, _s) = serve(router).await;
    let r = deliver(addr, "wh_nolayer").await;
    assert_eq!(r.status, 500);
    assert!(r.json()["error"].as_str().unwrap().contains("WebhookLayer"));
}
