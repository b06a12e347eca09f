//! The Redis dedupe store through real axum servers on 127.0.0.1 and a real
//! redis-server: replicas sharing it, failures, outages, fail-open, a lost
//! commit. The same scenarios run against the in-memory store in the
//! conformance crate (`tests/tests/dedupe.rs`); both share
//! `hookgate_conformance::dedupe`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hookgate::dedupe::OnStoreError;
use hookgate_conformance::dedupe::{
    app, counting, deliver, is_duplicate, one_event_many_times, released_after_each_failure,
    sender_simulation, serve, Behaviour,
};
use hookgate_conformance::redis_server::RedisServer;
use hookgate_redis::RedisStore;
use http::StatusCode;

/// The Redis store's bound on one operation in these tests: generous, so that
/// no answer depends on Redis replying within a second on a busy machine.
/// (A stopped Redis refuses connections at once: still a quick 503.)
const STORE_TIMEOUT: Duration = Duration::from_secs(10);

fn redis_store(url: &str) -> RedisStore {
    RedisStore::new(url).unwrap().op_timeout(STORE_TIMEOUT)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_sharing_redis_run_the_handler_once_for_a_thousand_deliveries() {
    let redis = RedisServer::start();
    let calls = Arc::new(AtomicUsize::new(0));
    let behaviour = counting(calls.clone(), Duration::from_millis(300), StatusCode::OK);
    let (a, _sa) = serve(app(
        redis_store(&redis.url()),
        OnStoreError::FailClosed,
        behaviour.clone(),
    ))
    .await;
    let (b, _sb) = serve(app(
        redis_store(&redis.url()),
        OnStoreError::FailClosed,
        behaviour,
    ))
    .await;
    let (processed, duplicate, in_flight) =
        one_event_many_times(&[a, b], 1000, "wh_replicas").await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(processed, 1);
    assert_eq!(processed + duplicate + in_flight, 1000);
    assert!(in_flight > 0, "the deliveries did not overlap the handler");
    // And once it is done, both replicas answer duplicate.
    assert!(is_duplicate(&deliver(a, "wh_replicas").await));
    assert!(is_duplicate(&deliver(b, "wh_replicas").await));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_panicked_or_abandoned_handler_releases_the_claim_in_redis() {
    let redis = RedisServer::start();
    let url = redis.url();
    released_after_each_failure(|| redis_store(&url)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_mid_run_answers_503_without_calling_the_handler_and_recovers() {
    let mut redis = RedisServer::start();
    let calls = Arc::new(AtomicUsize::new(0));
    let store = redis_store(&redis.url());
    let (addr, _s) = serve(app(
        store,
        OnStoreError::FailClosed,
        counting(calls.clone(), Duration::ZERO, StatusCode::OK),
    ))
    .await;
    let ids: Vec<String> = (0..60).map(|i| format!("wh_outage_{i}")).collect();

    for id in &ids[..20] {
        assert_eq!(deliver(addr, id).await.status, 200);
    }
    redis.stop();
    for id in &ids[20..40] {
        let r = deliver(addr, id).await;
        assert_eq!(r.status, 503, "{id}");
        assert_eq!(r.header("retry-after"), Some("7"));
        assert_eq!(r.json()["error"], "dedupe store unavailable; retry later");
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        20,
        "a handler ran without a claim"
    );
    redis.restart();
    // The sender retries what got 503 and sends new events; the earlier ones
    // are still known (append-only file) and answered as duplicates.
    let back = Instant::now();
    while deliver(addr, &ids[20]).await.status != 200 {
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "no recovery after redis came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for id in &ids[21..] {
        let r = deliver(addr, id).await;
        assert_eq!(r.status, 200, "{id}");
        assert!(!is_duplicate(&r), "{id}");
    }
    for id in &ids[..20] {
        assert!(
            is_duplicate(&deliver(addr, id).await),
            "{id} processed twice"
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 60, "each event exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_open_runs_the_handler_when_redis_is_down() {
    let mut redis = RedisServer::start();
    let calls = Arc::new(AtomicUsize::new(0));
    let store = redis_store(&redis.url());
    let (addr, _s) = serve(app(
        store,
        OnStoreError::FailOpen,
        counting(calls.clone(), Duration::ZERO, StatusCode::OK),
    ))
    .await;
    redis.stop();
    assert_eq!(deliver(addr, "wh_open").await.status, 200);
    assert_eq!(deliver(addr, "wh_open").await.status, 200);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "fail-open passes every delivery"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_that_fails_after_the_handler_succeeded_is_retried_and_the_resend_is_a_duplicate()
{
    let redis = Arc::new(Mutex::new(RedisServer::start()));
    let url = redis.lock().unwrap().url();
    let calls = Arc::new(AtomicUsize::new(0));
    let (r, c) = (redis.clone(), calls.clone());
    // The handler succeeds, but Redis goes down under it: the claim was
    // taken, the commit after the handler fails.
    let behaviour: Behaviour = Arc::new(move |_| {
        let (r, c) = (r.clone(), c.clone());
        Box::pin(async move {
            if c.fetch_add(1, Ordering::SeqCst) == 0 {
                tokio::task::spawn_blocking(move || r.lock().unwrap().stop())
                    .await
                    .unwrap();
            }
            StatusCode::OK
        })
    });
    let (addr, _s) = serve(app(redis_store(&url), OnStoreError::FailClosed, behaviour)).await;

    let first = deliver(addr, "wh_commit_retry").await;
    assert_eq!(first.status, 200, "the handler succeeded: {:?}", first.body);
    assert!(!is_duplicate(&first));
    // Redis comes back with its append-only file (the claim still in flight).
    let r = redis.clone();
    tokio::task::spawn_blocking(move || r.lock().unwrap().restart())
        .await
        .unwrap();

    // The sender's retry: 409 (or 503 while the connection comes back) until
    // the background commit lands, then the duplicate answer. Without the
    // retried commit it would be 409 until the 60 s lease lapsed, and then
    // the handler would run a second time.
    let resent = Instant::now();
    let retry = loop {
        let reply = deliver(addr, "wh_commit_retry").await;
        if !matches!(reply.status, 409 | 503) {
            break reply;
        }
        assert!(
            resent.elapsed() < hookgate::dedupe::DEFAULT_LEASE + Duration::from_secs(10),
            "still {} after the lease",
            reply.status
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(retry.status, 200);
    assert!(is_duplicate(&retry), "the handler ran a second time");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    println!(
        "resend answered duplicate {} ms after redis was back",
        resent.elapsed().as_millis()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aexo_sender_with_retries_and_a_failing_handler_gets_every_event_processed_once_in_redis() {
    let redis = RedisServer::start();
    sender_simulation(redis_store(&redis.url())).await;
}
