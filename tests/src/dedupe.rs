//! De-duplication through real axum servers on 127.0.0.1, shared by the
//! in-memory store's tests (`tests/tests/dedupe.rs`) and the Redis store's
//! (`crates/hookgate-redis/tests/dedupe.rs`): the test server, the signed
//! deliveries, handler behaviours, and the scenarios that run against any
//! [`DedupeStore`].

use std::collections::HashMap;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use hookgate::dedupe::{DedupeLayer, DedupeStore, Deduper, OnStoreError};
use hookgate::{testing, VerifiedEvent};
use hookgate_axum::{Webhook, WebhookLayer};
use tokio::task::JoinHandle;
use tower::ServiceBuilder;

use crate::{post_signed, Reply, Sender, SECRET};

/// What the handler does with each delivery.
pub type Behaviour =
    Arc<dyn Fn(VerifiedEvent) -> Pin<Box<dyn Future<Output = StatusCode> + Send>> + Send + Sync>;

async fn handler(State(behaviour): State<Behaviour>, hook: Webhook) -> StatusCode {
    behaviour(hook.meta().clone()).await
}

/// The AEXO verifier of these tests, on the real clock: they send bodies
/// stamped now.
pub fn verifier() -> hookgate::Verifier {
    hookgate::Verifier::aexo(SECRET).unwrap()
}

/// The AEXO route: verify, then dedupe on `store` (`Retry-After: 7`), then
/// `behaviour`.
pub fn app<St: DedupeStore>(store: St, on_error: OnStoreError, behaviour: Behaviour) -> Router {
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

/// Serves `router` on a free port of 127.0.0.1.
pub async fn serve(router: Router) -> (SocketAddr, JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).into_future().await;
    });
    (addr, task)
}

/// A signed AEXO body for the event `id`.
pub fn body(id: &str) -> Vec<u8> {
    testing::aexo_body(id, "key.created", serde_json::json!({ "key_id": id }))
}

/// Delivers the event `id` to the AEXO route at `addr`.
pub async fn deliver(addr: SocketAddr, id: &str) -> Reply {
    post_signed(addr, Sender::Aexo, SECRET, &body(id)).await
}

/// Whether the dedupe layer answered a duplicate.
pub fn is_duplicate(reply: &Reply) -> bool {
    reply.header("hookgate-dedupe") == Some("duplicate")
}

/// A handler that counts calls and takes `delay` to answer `status`.
pub fn counting(calls: Arc<AtomicUsize>, delay: Duration, status: StatusCode) -> Behaviour {
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
pub async fn one_event_many_times(
    addrs: &[SocketAddr],
    n: usize,
    id: &str,
) -> (usize, usize, usize) {
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

/// A handler that fails (500), panics, or is abandoned by a sender who hangs
/// up leaves no claim behind: the retry is processed, once.
pub async fn released_after_each_failure<St: DedupeStore>(store: impl Fn() -> St) {
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

/// 1,000 events sent on AEXO's retry schedule to a handler that fails 20%
/// of attempts, each acknowledgement lost once: every event the sender did
/// not give up on is processed exactly once.
pub async fn sender_simulation<St: DedupeStore>(store: St) {
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
