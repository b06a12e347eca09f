//! The durable inbox on a real SQLite file: acknowledgement, dedupe on
//! insert, workers with retries and dead letters, replay, leases.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use hookgate::events::AexoEvent;
use hookgate::inbox::{Enqueued, HandlerError, Inbox, InboxStore, State, WorkerConfig, Workers};
use hookgate::scheme::Aexo;
use hookgate::{testing, Delivery, Verifier, WebhookLayer};
use hookgate_conformance::inbox::{new_event, quick, settle};
use hookgate_sqlite::SqliteInbox;
use tower::{ServiceBuilder, ServiceExt};

const SECRET: &str = "inbox-secret";

fn temp_db(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hookgate-inbox-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("inbox.sqlite3")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sender_gets_200_at_once_while_the_handler_takes_far_longer() {
    let store = Arc::new(SqliteInbox::open(temp_db("slow")).unwrap());
    let verifier = Verifier::aexo(SECRET).unwrap();
    let route = ServiceBuilder::new()
        .layer(WebhookLayer::new(verifier.clone()))
        .service(Inbox::new(store.clone(), &verifier));
    // The sender's 30 s, scaled to 1 s; the handler takes 3 "minutes" (3 s).
    let handled = Arc::new(Mutex::new(Vec::new()));
    let h = handled.clone();
    let workers = Workers::spawn(
        store.clone(),
        verifier.clone(),
        quick(1),
        move |d: Delivery<AexoEvent>| {
            let h = h.clone();
            async move {
                tokio::time::sleep(Duration::from_secs(3)).await;
                assert!(
                    matches!(d.event, AexoEvent::KeyCreated(_)),
                    "the typed event, as in sync mode"
                );
                h.lock().unwrap().push(d.id().unwrap().to_owned());
                Ok(())
            }
        },
    );
    let started = Instant::now();
    let res = route
        .clone()
        .oneshot(testing::signed_request(
            &Aexo,
            SECRET,
            "/",
            testing::aexo_body("wh_slow_1", "key.created", serde_json::json!({})),
        ))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(handled.lock().unwrap().is_empty());

    // A duplicate while it is pending: 200 with the marker, not stored twice.
    let dup = route
        .oneshot(testing::signed_request(
            &Aexo,
            SECRET,
            "/",
            testing::aexo_body("wh_slow_1", "key.created", serde_json::json!({})),
        ))
        .await
        .unwrap();
    assert_eq!(dup.status(), 200);
    assert_eq!(dup.headers()["hookgate-dedupe"], "duplicate");

    let stats = settle(&*store, Duration::from_secs(10)).await;
    assert_eq!((stats.done, stats.dead), (1, 0));
    assert_eq!(*handled.lock().unwrap(), vec!["wh_slow_1".to_owned()]);
    workers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_cannot_take_the_event_answers_503_never_2xx() {
    let path = temp_db("locked");
    let store = Arc::new(SqliteInbox::open(&path).unwrap());
    let verifier = Verifier::aexo(SECRET).unwrap();
    let route = ServiceBuilder::new()
        .layer(WebhookLayer::new(verifier.clone()))
        .service(Inbox::new(store.clone(), &verifier));
    // Another process-like connection holds the write lock past the busy timeout.
    let blocker = hookgate_conformance::inbox::exclusive_lock(&path);
    let res = route
        .oneshot(testing::signed_request(
            &Aexo,
            SECRET,
            "/",
            testing::aexo_body("wh_locked", "key.created", serde_json::json!({})),
        ))
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    drop(blocker);
    assert_eq!(store.stats(SystemTime::now()).await.unwrap().pending, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flaky_handler_leaves_every_event_done_or_dead_and_replay_brings_the_dead_to_done() {
    let store = Arc::new(SqliteInbox::open(temp_db("flaky")).unwrap());
    hookgate_conformance::inbox::flaky_handler_then_replay_dead(store, 1000).await;
}

#[tokio::test]
async fn a_permanent_failure_goes_straight_to_the_dead_letters() {
    let store = Arc::new(SqliteInbox::open(temp_db("permanent")).unwrap());
    store.enqueue(new_event("wh_perm")).await.unwrap();
    let workers = Workers::spawn(
        store.clone(),
        Verifier::aexo(SECRET).unwrap(),
        quick(1),
        |_: Delivery<()>| async { Err(HandlerError::Permanent("unknown customer".into())) },
    );
    let stats = settle(&*store, Duration::from_secs(10)).await;
    assert_eq!(stats.dead, 1);
    let dead = store.list(Some(State::Dead), 10).await.unwrap();
    assert_eq!(
        (dead[0].attempts, dead[0].last_error.as_deref()),
        (1, Some("unknown customer"))
    );
    workers.shutdown().await;
}

#[tokio::test]
async fn workers_of_another_scheme_dead_letter_the_event_without_calling_the_handler() {
    let store = Arc::new(SqliteInbox::open(temp_db("scheme")).unwrap());
    // An AEXO event, in a store whose workers verify AXIFI.
    store.enqueue(new_event("wh_scheme")).await.unwrap();
    let calls = Arc::new(Mutex::new(0));
    let seen = calls.clone();
    let workers = Workers::spawn(
        store.clone(),
        Verifier::axifi(SECRET).unwrap(),
        quick(1),
        move |_: Delivery<()>| {
            *seen.lock().unwrap() += 1;
            async { Ok(()) }
        },
    );
    let stats = settle(&*store, Duration::from_secs(10)).await;
    workers.shutdown().await;
    assert_eq!((stats.done, stats.dead), (0, 1));
    let dead = store.list(Some(State::Dead), 10).await.unwrap();
    let why = dead[0].last_error.as_deref().unwrap_or_default();
    assert!(
        why.contains("\"aexo\"") && why.contains("\"axifi\""),
        "{why}"
    );
    assert_eq!(*calls.lock().unwrap(), 0, "the handler ran");
}

#[test]
fn a_lease_not_longer_than_the_handler_timeout_is_refused() {
    let t = Duration::from_secs(30);
    let err = WorkerConfig::new(2, t, t).unwrap_err();
    assert!(
        err.to_string()
            .contains("must be longer than the handler timeout"),
        "{err}"
    );
    assert!(WorkerConfig::new(2, t + Duration::from_millis(1), t).is_ok());
}

#[tokio::test]
async fn a_worker_whose_lease_expired_cannot_complete_the_event() {
    let store = SqliteInbox::open(temp_db("lease")).unwrap();
    hookgate_conformance::inbox::leases_obey_their_tokens(&store).await;
}

#[tokio::test]
async fn pause_resume_purge_and_prune_work_on_the_file() {
    let path = temp_db("ops");
    let store = SqliteInbox::open(&path).unwrap();
    store.enqueue(new_event("wh_ops_1")).await.unwrap();
    store.set_paused(true).await.unwrap();
    assert!(store
        .lease(1, Duration::from_secs(5), SystemTime::now())
        .await
        .unwrap()
        .is_empty());
    // Another handle on the same file (as the CLI would open it) sees the pause.
    let other = SqliteInbox::open(&path).unwrap();
    assert!(other.stats(SystemTime::now()).await.unwrap().paused);
    other.set_paused(false).await.unwrap();
    let l = store
        .lease(1, Duration::from_secs(5), SystemTime::now())
        .await
        .unwrap()
        .remove(0);
    let now = SystemTime::now();
    store.kill(l.id, l.token, "bad", now).await.unwrap();
    assert_eq!(
        store.purge_dead(now).await.unwrap(),
        0,
        "not older than the cut-off"
    );
    assert_eq!(
        store
            .purge_dead(now + Duration::from_secs(1))
            .await
            .unwrap(),
        1
    );

    store.enqueue(new_event("wh_ops_2")).await.unwrap();
    let l = store
        .lease(1, Duration::from_secs(5), SystemTime::now())
        .await
        .unwrap()
        .remove(0);
    store
        .complete(l.id, l.token, SystemTime::now(), false)
        .await
        .unwrap();
    // A done marker keeps a late retry a duplicate until it is pruned.
    assert_eq!(
        store.enqueue(new_event("wh_ops_2")).await.unwrap(),
        Enqueued::Duplicate
    );
    assert_eq!(
        store
            .prune_done(SystemTime::now() + Duration::from_secs(1))
            .await
            .unwrap(),
        1
    );
    assert!(matches!(
        store.enqueue(new_event("wh_ops_2")).await.unwrap(),
        Enqueued::Stored(_)
    ));
}

#[tokio::test]
async fn done_markers_are_pruned_once_the_freshness_window_has_passed() {
    let store = Arc::new(SqliteInbox::open(temp_db("prune")).unwrap());
    // A route whose deliveries are accepted for one second at most.
    let verifier = Verifier::aexo(SECRET)
        .unwrap()
        .freshness(Duration::from_secs(1))
        .max_future_skew(Duration::ZERO);
    store.enqueue(new_event("wh_prune")).await.unwrap();
    let workers = Workers::spawn(store.clone(), verifier, quick(1), |_: Delivery<()>| async {
        Ok(())
    });
    let stats = settle(&*store, Duration::from_secs(5)).await;
    assert_eq!(stats.done, 1);
    // Within the window a retry is still a duplicate...
    assert_eq!(
        store.enqueue(new_event("wh_prune")).await.unwrap(),
        Enqueued::Duplicate
    );
    // ...after it, the marker is gone (no delivery of it would pass verification any more).
    let started = Instant::now();
    while store.stats(SystemTime::now()).await.unwrap().done > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the done marker was never pruned"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    workers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handled_event_shrinks_to_a_marker_unless_bodies_are_kept() {
    let store = Arc::new(SqliteInbox::open(temp_db("markers")).unwrap());
    hookgate_conformance::inbox::done_events_shrink_to_markers(store).await;
}

/// The writer copies the WAL into the database file in the gaps between
/// arrivals (short checkpoints off the acknowledgement path) instead of
/// waiting for SQLite's 1,000-frame threshold inside a commit.
#[tokio::test]
async fn an_idle_writer_checkpoints_the_wal_into_the_database() {
    let path = temp_db("idle-checkpoint");
    let store = SqliteInbox::open(&path).unwrap();
    store.enqueue(new_event("wh_idle_first")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let before = std::fs::metadata(&path).unwrap().len();
    // One commit each: a few hundred frames, below SQLite's own threshold.
    for i in 0..100 {
        store
            .enqueue(new_event(&format!("wh_idle_{i}")))
            .await
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let after = std::fs::metadata(&path).unwrap().len();
        // At least half of what the hundred bodies take.
        if after >= before + 50 * new_event("wh_idle_0").body.len() as u64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the database file stayed at {after} bytes (was {before}): no checkpoint while idle"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_inbox_file_replaced_under_the_store_refuses_writes() {
    let path = temp_db("replaced");
    let store = SqliteInbox::open(&path).unwrap();
    assert!(matches!(
        store.enqueue(new_event("wh_rep_1")).await.unwrap(),
        Enqueued::Stored(_)
    ));
    // Another inbox file moved over the path, as `mv` would.
    let other = path.with_file_name("other.sqlite3");
    drop(SqliteInbox::open(&other).unwrap());
    std::fs::rename(&other, &path).unwrap();

    let refused = store.enqueue(new_event("wh_rep_2")).await;
    assert!(
        refused.is_err(),
        "stored into the replaced file: {refused:?}"
    );
    // What a restart would open does not hold the refused event.
    let restarted = SqliteInbox::open_read_only(&path).unwrap();
    let held = restarted.list(None, 10).await.unwrap();
    assert!(
        held.iter()
            .all(|e| e.event_id.as_deref() != Some("wh_rep_2")),
        "{held:?}"
    );
}

#[tokio::test]
async fn a_read_only_inbox_reads_and_refuses_writes() {
    let path = temp_db("read-only");
    let store = SqliteInbox::open(&path).unwrap();
    store.enqueue(new_event("wh_ro_1")).await.unwrap();
    let reader = SqliteInbox::open_read_only(&path).unwrap();
    assert_eq!(reader.stats(SystemTime::now()).await.unwrap().pending, 1);
    assert!(reader.enqueue(new_event("wh_ro_2")).await.is_err());
    assert_eq!(store.stats(SystemTime::now()).await.unwrap().pending, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheme_whose_id_and_type_are_headers_keeps_them_through_the_inbox() {
    // GitHub's id (X-GitHub-Delivery) and type (X-GitHub-Event) are not in
    // the body: the worker reads them back from the stored headers.
    use hookgate::scheme::{GitHub, SignInput};
    let store = Arc::new(SqliteInbox::open(temp_db("github")).unwrap());
    let verifier = Verifier::new(GitHub, hookgate::Secrets::single(SECRET).unwrap()).unwrap();
    let route = ServiceBuilder::new()
        .layer(WebhookLayer::new(verifier.clone()))
        .service(Inbox::new(store.clone(), &verifier));
    let handled = Arc::new(Mutex::new(Vec::new()));
    let h = handled.clone();
    let workers = Workers::spawn(
        store.clone(),
        verifier.clone(),
        quick(1),
        move |d: Delivery<()>| {
            let h = h.clone();
            async move {
                let meta = d.meta();
                h.lock().unwrap().push(format!(
                    "{}|{}",
                    meta.id().unwrap_or("-"),
                    meta.event_type()
                ));
                Ok(())
            }
        },
    );
    let body = br#"{"ref":"refs/heads/main"}"#;
    // The helper signs as GitHub sends: a delivery id (made from the body,
    // so a resend is the same delivery) and `X-GitHub-Event: ping`.
    let id = SignInput::new(body).id_or_made_up("");
    let send = || testing::signed_request(&GitHub, SECRET, "/", &body[..]);
    let res = route.clone().oneshot(send()).await.unwrap();
    assert_eq!(res.status(), 200);
    let dup = route.oneshot(send()).await.unwrap();
    assert_eq!(dup.headers()["hookgate-dedupe"], "duplicate");
    let stats = settle(&*store, Duration::from_secs(10)).await;
    assert_eq!((stats.done, stats.dead), (1, 0));
    assert_eq!(*handled.lock().unwrap(), vec![format!("{id}|ping")]);
    workers.shutdown().await;
}
