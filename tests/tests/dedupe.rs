//! De-duplication through real axum servers on 127.0.0.1, against the
//! in-memory store and a real redis-server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use hookgate::dedupe::{DedupeLayer, DedupeStore, Deduper, MemoryStore, OnStoreError};
use hookgate::{testing, VerifiedEvent};
use hookgate_axum::{Webhook, WebhookLayer};
use hookgate_conformance::redis_server::RedisServer;
use hookgate_conformance::{post_signed, Reply, Sender, SECRET};
use hookgate_redis::RedisStore;
use tokio::task::JoinHandle;
use tower::ServiceBuilder;

/// What the handler does with each delivery.
type Behaviour =
    Arc<dyn Fn(VerifiedEvent) -> Pin<Box<dyn Future<Output = StatusCode> + Send>> + Send + Sync>;

async fn handler(State(behaviour): State<Behaviour>, hook: Webhook) -> StatusCode {
    behaviour(hook.meta().clone()).await
}

fn verifier() -> hookgate::Verifier {
    // The real clock: these tests send bodies stamped now.
    hookgate::Verifier::aexo(SECRET).unwrap()
}

fn app<St: DedupeStore>(store: St, on_error: OnStoreError, behaviour: Behaviour) -> Router {
    let verifier = verifier();
    let deduper = Deduper::builder(store)
        .on_store_error(on_error)
        .retry_after(Duration::from_secs(7))
        .build(&verifier)
        .unwrap();
    let layers = ServiceBuilder::new()
        .layer(WebhookLayer::new(verifier))
        .layer(DedupeLayer::new(deduper));
    Router::new()
        .route(Sender::Aexo.path(), post(handler).layer(layers))
        .with_state(behaviour)
}

async fn serve(router: Router) -> (SocketAddr, JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).into_future().await;
    });
    (addr, task)
}

/// The Redis store's bound on one operation in these tests: generous, so that
/// no answer depends on Redis replying within a second on a busy machine.
/// (A stopped Redis refuses connections at once: still a quick 503.)
const STORE_TIMEOUT: Duration = Duration::from_secs(10);

fn redis_store(url: &str) -> RedisStore {
    RedisStore::new(url).unwrap().op_timeout(STORE_TIMEOUT)
}

fn body(id: &str) -> Vec<u8> {
    testing::aexo_body(id, "key.created", serde_json::json!({ "key_id": id }))
}

async fn deliver(addr: SocketAddr, id: &str) -> Reply {
    post_signed(addr, Sender::Aexo, SECRET, &body(id)).await
}

fn is_duplicate(reply: &Reply) -> bool {
    reply.header("hookgate-dedupe") == Some("duplicate")
}

/// A handler that counts calls and takes `delay` to answer `status`.
fn counting(calls: Arc<AtomicUsize>, delay: Duration, status: StatusCode) -> Behaviour {
    Arc::new(move |_| {
        let calls = calls.clone();
        Box::pin(async move {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            status
        })
    })
}

/// Sends `n` concurrent deliveries of one event, alternating over `addrs`,
/// and checks: one processed answer, every other 200-duplicate or 409.
async fn one_event_many_times(addrs: &[SocketAddr], n: usize, id: &str) -> (usize, usize, usize) {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let addr = addrs[i % addrs.len()];
            let id = id.to_owned();
            tokio::spawn(async move { deliver(addr, &id).await })
        })
        .collect();
    let (mut processed, mut duplicate, mut in_flight) = (0, 0, 0);
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            200 if is_duplicate(&r) => duplicate += 1,
            200 => processed += 1,
            409 => {
                assert_eq!(r.header("retry-after"), Some("7"));
                assert_eq!(r.header("hookgate-dedupe"), Some("in-flight"));
                in_flight += 1;
            }
            other => panic!("unexpected {other}: {:?}", r.body),
        }
    }
    (processed, duplicate, in_flight)
}

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

/// First call fails in the given way, later calls succeed.
fn failing_first(calls: Arc<AtomicUsize>, how: &'static str) -> Behaviour {
    Arc::new(move |_| {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            if n == 0 {
                match how {
                    "error" => return StatusCode::INTERNAL_SERVER_ERROR,
                    "panic" => panic!("handler panicked on purpose"),
                    "slow" => tokio::time::sleep(Duration::from_secs(30)).await,
                    _ => {}
                }
            }
            StatusCode::OK
        })
    })
}

async fn released_after_each_failure<St: DedupeStore>(store: impl Fn() -> St) {
    for how in ["error", "panic"] {
        let calls = Arc::new(AtomicUsize::new(0));
        let (addr, _s) = serve(app(
            store(),
            OnStoreError::FailClosed,
            failing_first(calls.clone(), how),
        ))
        .await;
        let id = format!("wh_fail_{how}");
        let first = deliver(addr, &id).await;
        assert_eq!(first.status, 500, "{how}");
        let retry = deliver(addr, &id).await;
        assert_eq!(retry.status, 200, "{how}: the retry must be processed");
        assert!(!is_duplicate(&retry), "{how}");
        assert!(is_duplicate(&deliver(addr, &id).await), "{how}");
        assert_eq!(calls.load(Ordering::SeqCst), 2, "{how}");
    }

    // The sender hangs up while the handler runs: the request future is
    // dropped, and the claim with it, without the handler's help.
    let calls = Arc::new(AtomicUsize::new(0));
    let (addr, _s) = serve(app(
        store(),
        OnStoreError::FailClosed,
        failing_first(calls.clone(), "slow"),
    ))
    .await;
    let hung_up = tokio::spawn(async move { deliver(addr, "wh_hangup").await });
    while calls.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    hung_up.abort(); // closes the client socket
    let mut answer = None;
    for _ in 0..100 {
        let r = deliver(addr, "wh_hangup").await;
        if r.status != 409 {
            answer = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let retry = answer.expect("claim was never released after the sender hung up");
    assert_eq!(retry.status, 200);
    assert!(!is_duplicate(&retry));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_panicked_or_abandoned_handler_releases_the_claim_in_memory() {
    released_after_each_failure(MemoryStore::new).await;
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

// ---- The sender simulation ------------------------------------------------

/// AEXO's schedule: attempt 1 at once, then 5 min, 30 min, 2 h after each
/// failure; scaled here to 1 minute = 1 ms.
const AEXO_SCHEDULE_MS: [u64; 4] = [0, 5, 30, 120];

/// Whether the handler fails attempt `n` (1-based) of event `i`: 20% of
/// attempts, decided by a hash so the expected outcome is known.
fn fails(i: usize, n: usize) -> bool {
    let mut z = (i as u64) << 8 | n as u64;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) % 100 < 20
}

#[derive(Default)]
struct Ledger {
    attempts: HashMap<String, usize>,
    succeeded: HashMap<String, usize>,
}

async fn sender_simulation<St: DedupeStore>(store: St) {
    const EVENTS: usize = 1000;
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let l = ledger.clone();
    let behaviour: Behaviour = Arc::new(move |event| {
        let l = l.clone();
        Box::pin(async move {
            let id = event.id().unwrap().to_owned();
            let i: usize = id.trim_start_matches("wh_sim_").parse().unwrap();
            let n = {
                let mut l = l.lock().unwrap();
                let n = l.attempts.entry(id.clone()).or_default();
                *n += 1;
                *n
            };
            tokio::time::sleep(Duration::from_millis(2)).await;
            if fails(i, n) {
                return StatusCode::INTERNAL_SERVER_ERROR;
            }
            *l.lock().unwrap().succeeded.entry(id).or_default() += 1;
            StatusCode::OK
        })
    });
    let (addr, _s) = serve(app(store, OnStoreError::FailClosed, behaviour)).await;

    let senders: Vec<_> = (0..EVENTS)
        .map(|i| {
            let ledger = ledger.clone();
            tokio::spawn(async move {
                let id = format!("wh_sim_{i}");
                let body = body(&id); // AEXO keeps created_at across retries
                let mut acknowledged = false;
                for wait in AEXO_SCHEDULE_MS {
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                    let r = post_signed(addr, Sender::Aexo, SECRET, &body).await;
                    if (200..300).contains(&r.status) {
                        let done = ledger
                            .lock()
                            .unwrap()
                            .succeeded
                            .get(&id)
                            .copied()
                            .unwrap_or(0);
                        assert_eq!(
                            done, 1,
                            "{id} answered {} before its handler succeeded",
                            r.status
                        );
                        acknowledged = true;
                        break;
                    }
                }
                if acknowledged {
                    // A lost acknowledgement: the sender sends it once more.
                    let again = post_signed(addr, Sender::Aexo, SECRET, &body).await;
                    assert_eq!(again.status, 200, "{id}");
                    assert!(is_duplicate(&again), "{id} processed again");
                }
                (i, acknowledged)
            })
        })
        .collect();
    let mut acknowledged = vec![false; EVENTS];
    for s in senders {
        let (i, ack) = s.await.unwrap();
        acknowledged[i] = ack;
    }

    let ledger = ledger.lock().unwrap();
    let mut given_up = 0;
    for (i, ack) in acknowledged.iter().enumerate() {
        let id = format!("wh_sim_{i}");
        let expected = (1..=4).any(|n| !fails(i, n));
        let succeeded = ledger.succeeded.get(&id).copied().unwrap_or(0);
        assert_eq!(*ack, expected, "{id}");
        assert_eq!(
            succeeded,
            usize::from(expected),
            "{id} processed {succeeded} times"
        );
        if !expected {
            given_up += 1; // AEXO disables after 4 failures: the sender's loss, not ours
        }
    }
    assert!(given_up < 10, "{given_up}");
    let total_attempts: usize = ledger.attempts.values().sum();
    assert!(total_attempts > EVENTS, "no retries happened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aexo_sender_with_retries_and_a_failing_handler_gets_every_event_processed_once_in_memory()
{
    sender_simulation(MemoryStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aexo_sender_with_retries_and_a_failing_handler_gets_every_event_processed_once_in_redis() {
    let redis = RedisServer::start();
    sender_simulation(redis_store(&redis.url())).await;
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
