//! Shared pieces of the inbox store tests: the same scenario runs against
//! the SQLite and the Redis Streams store.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use hookgate::inbox::{
    Enqueued, HandlerError, InboxStore, NewEvent, Replay, RetrySchedule, State, Stats,
    StoredHeaders, WorkerConfig, Workers,
};
use hookgate::{testing, Delivery, Verifier};

/// An AEXO `key.created` event with id `id`, received now, with the
/// headers it was signed with.
pub fn new_event(id: &str) -> NewEvent {
    let body = testing::aexo_body(id, "key.created", serde_json::json!({ "key_id": id }));
    let mut headers = testing::sign(&hookgate::scheme::Aexo, "inbox-secret", &body);
    headers.push(("content-type", "application/json".into()));
    NewEvent {
        key: format!("aexo:{id}"),
        scheme: "aexo".into(),
        event_id: Some(id.into()),
        event_type: "key.created".into(),
        received_at: SystemTime::now(),
        body: Bytes::from(body),
        headers: StoredHeaders::capture(&headers),
        tenant: None,
    }
}

/// Waits until nothing is pending or leased (or `within` passes).
pub async fn settle<S: InboxStore>(store: &S, within: Duration) -> Stats {
    let started = Instant::now();
    loop {
        let stats = store.stats(SystemTime::now()).await.expect("stats");
        if stats.pending + stats.leased == 0 || started.elapsed() > within {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Workers for tests: a 20 s lease, 10 s per attempt, three attempts 5 ms
/// apart (50% jitter), polling every 10 ms.
pub fn quick(workers: usize) -> WorkerConfig {
    WorkerConfig::new(workers, Duration::from_secs(20), Duration::from_secs(10))
        .expect("lease > timeout")
        .poll(Duration::from_millis(10))
        .schedule(
            RetrySchedule::new(vec![
                Duration::ZERO,
                Duration::from_millis(5),
                Duration::from_millis(5),
            ])
            .jitter(0.5),
        )
}

/// Whether attempt `attempt` of event `id` fails: 30% of attempts, decided
/// by a hash so that the expected outcome is known.
pub fn flaky(id: &str, attempt: usize) -> bool {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes().chain(attempt.to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    // splitmix64's finalizer, so that attempts of one event are independent.
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (h ^ (h >> 31)) % 100 < 30
}

/// Stores `events` events, runs 4 workers whose handler fails 30% of
/// attempts ([`flaky`]), and checks: every event ends done or dead, the dead
/// are exactly those whose three attempts all failed, and once the handler is
/// fixed `replay --dead` (a dry run first) brings every one of them to done.
pub async fn flaky_handler_then_replay_dead<S: InboxStore>(store: Arc<S>, events: usize) {
    let verifier = Verifier::aexo("inbox-secret").expect("secret");
    for i in 0..events {
        let stored = store
            .enqueue(new_event(&format!("wh_flaky_{i}")))
            .await
            .expect("enqueue");
        assert!(matches!(stored, Enqueued::Stored(_)));
    }
    let fixed = Arc::new(AtomicBool::new(false));
    let attempts: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let successes = Arc::new(AtomicUsize::new(0));
    let (f, a, s) = (fixed.clone(), attempts.clone(), successes.clone());
    let workers = Workers::spawn(store.clone(), verifier, quick(4), move |d: Delivery<()>| {
        let id = d.id().unwrap_or_default().to_owned();
        let attempt = {
            let mut a = a.lock().unwrap_or_else(|e| e.into_inner());
            let n = a.entry(id.clone()).or_default();
            *n += 1;
            *n
        };
        let fail = !f.load(Ordering::SeqCst) && flaky(&id, attempt);
        let s = s.clone();
        async move {
            if fail {
                return Err(HandlerError::Retry("flaky dependency".into()));
            }
            s.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    });
    let total = events as u64;
    let stats = settle(&*store, Duration::from_secs(60)).await;
    assert_eq!(stats.pending + stats.leased, 0, "{stats:?}");
    assert_eq!(stats.done + stats.dead, total, "{stats:?}");
    // Exactly the events whose three attempts all failed are dead (about 2.7%).
    let expected_dead = (0..events)
        .filter(|i| (1..=3).all(|n| flaky(&format!("wh_flaky_{i}"), n)))
        .count() as u64;
    assert!(expected_dead > 0);
    assert_eq!(stats.dead, expected_dead, "{stats:?}");
    assert_eq!(successes.load(Ordering::SeqCst) as u64, stats.done);
    let dead = store.list(Some(State::Dead), events).await.expect("list");
    assert!(dead
        .iter()
        .all(|e| e.attempts == 3 && e.last_error.as_deref() == Some("flaky dependency")));

    fixed.store(true, Ordering::SeqCst);
    let dry = store
        .replay(Replay::Dead, true, SystemTime::now())
        .await
        .expect("dry run");
    assert_eq!(dry.len() as u64, stats.dead);
    let still = store.stats(SystemTime::now()).await.expect("stats").dead;
    assert_eq!(still, stats.dead, "a dry run changed nothing");
    let replayed = store
        .replay(Replay::Dead, false, SystemTime::now())
        .await
        .expect("replay");
    assert_eq!(replayed, dry);
    let after = settle(&*store, Duration::from_secs(30)).await;
    assert_eq!((after.done, after.dead), (total, 0), "{after:?}");
    workers.shutdown().await;
}

/// Handles two events through real workers, first with the default
/// configuration, then with `keep_done_bodies`, and checks what the issue
/// asks of finished events: by default a handled event shrinks to a marker
/// (no body; a late retry of it is still a duplicate; replay leaves it out),
/// while a kept body can be replayed by id or `--since` and reaches the
/// handler again.
pub async fn done_events_shrink_to_markers<S: InboxStore>(store: Arc<S>) {
    let verifier = Verifier::aexo("inbox-secret").expect("secret");
    let since = SystemTime::now();
    let handled: Arc<Mutex<Vec<String>>> = Arc::default();
    let spawn = |config: WorkerConfig| {
        let handled = handled.clone();
        Workers::spawn(
            store.clone(),
            verifier.clone(),
            config,
            move |d: Delivery<()>| {
                let id = d.id().unwrap_or_default().to_owned();
                handled.lock().unwrap_or_else(|e| e.into_inner()).push(id);
                async { Ok(()) }
            },
        )
    };
    let stored = |e: Enqueued| match e {
        Enqueued::Stored(id) => id,
        Enqueued::Duplicate => panic!("a new key was taken for a duplicate"),
    };

    let marker = stored(
        store
            .enqueue(new_event("wh_marker"))
            .await
            .expect("enqueue"),
    );
    let workers = spawn(quick(1));
    let stats = settle(&*store, Duration::from_secs(10)).await;
    workers.shutdown().await;
    assert_eq!(stats.done, 1, "{stats:?}");
    let (info, body) = store.show(marker).await.expect("show").expect("kept");
    assert_eq!(info.state, State::Done);
    assert!(body.is_empty(), "the body of a handled event was kept");
    assert_eq!(
        store
            .enqueue(new_event("wh_marker"))
            .await
            .expect("enqueue"),
        Enqueued::Duplicate,
        "a marker keeps a late retry a duplicate"
    );
    let now = SystemTime::now();
    for which in [Replay::One(marker), Replay::Since(since)] {
        let ids = store.replay(which, false, now).await.expect("replay");
        assert!(ids.is_empty(), "a marker without its body was replayed");
    }

    let kept = stored(store.enqueue(new_event("wh_kept")).await.expect("enqueue"));
    let workers = spawn(quick(1).keep_done_bodies(true));
    settle(&*store, Duration::from_secs(10)).await;
    let (info, body) = store.show(kept).await.expect("show").expect("kept");
    assert_eq!(info.state, State::Done);
    assert!(
        String::from_utf8_lossy(&body).contains("\"wh_kept\""),
        "the kept body is the stored event"
    );
    let dry = store
        .replay(Replay::Since(since), true, SystemTime::now())
        .await
        .expect("dry run");
    assert_eq!(dry, vec![kept], "only the event with a body is replayable");
    let replayed = store
        .replay(Replay::Since(since), false, SystemTime::now())
        .await
        .expect("replay");
    assert_eq!(replayed, vec![kept]);
    let stats = settle(&*store, Duration::from_secs(10)).await;
    workers.shutdown().await;
    assert_eq!(
        (stats.done, stats.pending, stats.dead),
        (2, 0, 0),
        "{stats:?}"
    );
    let handled = handled.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(handled, ["wh_marker", "wh_kept", "wh_kept"]);
}

/// A second connection holding an exclusive transaction on `path` until
/// dropped, as another process (an operator's tool) could.
pub fn exclusive_lock(path: &std::path::Path) -> impl Drop {
    struct Held(
        Option<std::sync::mpsc::Sender<()>>,
        Option<std::thread::JoinHandle<()>>,
    );
    impl Drop for Held {
        fn drop(&mut self) {
            drop(self.0.take());
            if let Some(holder) = self.1.take() {
                let _ = holder.join();
            }
        }
    }
    let (locked, is_locked) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let path = path.to_owned();
    let holder = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
        locked.send(()).unwrap();
        // Until the sender is dropped.
        let _ = released.recv();
        let _ = conn.execute_batch("ROLLBACK");
    });
    is_locked.recv().unwrap();
    Held(Some(release), Some(holder))
}

/// Creates at `path` an SQLite database that is not an inbox, as an
/// application's own file would be: a `notes` table (and one `events` table
/// of other columns), rollback journal.
pub fn not_an_inbox(path: &std::path::Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode=DELETE;
         CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL);
         CREATE TABLE events (id INTEGER PRIMARY KEY, title TEXT);
         INSERT INTO notes (text) VALUES ('keep me');",
    )
    .unwrap();
}

/// Leases and their tokens, alike on every store: an event is leased once;
/// once its lease has run out (real time: Redis reclaims entries by idle
/// time) the holder can no longer complete it, the next lease takes it back
/// and says the first attempt never finished, the old token can do nothing,
/// and a recorded failure is a retry, not an interruption.
pub async fn leases_obey_their_tokens<S: InboxStore>(store: &S) {
    // The event as sent: built once, since a second one made later can
    // carry another second in its timestamp (and so another signature).
    let sent = NewEvent {
        tenant: Some("acme".into()),
        ..new_event("wh_lease")
    };
    let Enqueued::Stored(id) = store.enqueue(sent.clone()).await.expect("enqueue") else {
        panic!("a new key was taken for a duplicate")
    };
    // Every worker of an inbox leases for the same time.
    let lease = Duration::from_millis(100);
    let take = |lease: Duration| async move {
        let mut leased = store
            .lease(1, lease, SystemTime::now())
            .await
            .expect("lease");
        assert_eq!(leased.len(), 1, "nothing leased");
        leased.remove(0)
    };
    let first = take(lease).await;
    assert_eq!((first.id, first.attempt, first.interrupted), (id, 1, false));
    assert_eq!(first.body, sent.body);
    assert_eq!(
        first.headers, sent.headers,
        "the headers stored with the event come back with its lease"
    );
    assert_eq!(
        first.tenant.as_deref(),
        Some("acme"),
        "so does the tenant it was verified for"
    );
    assert_eq!(first.headers.iter().count(), 2);
    let twice = store
        .lease(1, lease, SystemTime::now())
        .await
        .expect("lease");
    assert!(twice.is_empty(), "leased twice");

    tokio::time::sleep(Duration::from_millis(150)).await;
    let later = SystemTime::now();
    let done = store.complete(first.id, first.token, later, false);
    assert!(!done.await.expect("complete"), "an expired lease completed");
    let second = take(lease).await;
    assert_eq!(
        (second.id, second.attempt),
        (id, 2),
        "the expired lease was not taken back"
    );
    assert!(second.interrupted, "the first attempt never finished");
    let done = store.complete(first.id, first.token, later, false);
    assert!(!done.await.expect("complete"), "the old token completed");
    let retried = store.reschedule(first.id, first.token, later, "x");
    assert!(
        !retried.await.expect("reschedule"),
        "the old token rescheduled"
    );

    let retried = store.reschedule(second.id, second.token, later, "try again");
    assert!(retried.await.expect("reschedule"));
    let third = take(Duration::from_secs(5)).await;
    assert_eq!((third.attempt, third.interrupted), (3, false));
    let done = store.complete(third.id, third.token, SystemTime::now(), false);
    assert!(done.await.expect("complete"));
    let (info, _) = store.show(id).await.expect("show").expect("kept");
    assert_eq!(info.state, State::Done);
    assert_eq!(
        store.enqueue(new_event("wh_lease")).await.expect("enqueue"),
        Enqueued::Duplicate,
        "a done marker keeps a late retry a duplicate"
    );
}
