//! The Redis Streams inbox against a real redis-server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use hookgate::inbox::{Enqueued, Inbox, InboxStore, Replay, State, Workers};
use hookgate::scheme::Aexo;
use hookgate::{testing, Delivery, Verifier, WebhookLayer};
use hookgate_conformance::inbox::{new_event, quick};
use hookgate_conformance::redis_server::RedisServer;
use hookgate_redis::{DurabilityCheck, RedisInbox};
use tower::{ServiceBuilder, ServiceExt};

const SECRET: &str = "redis-inbox-secret";

async fn inbox(redis: &RedisServer, name: &str) -> RedisInbox {
    RedisInbox::connect(
        &redis.url(),
        &format!("test:{name}"),
        DurabilityCheck::Required,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_server_without_append_only_persistence_is_refused_naming_the_setting() {
    let redis = RedisServer::start_volatile();
    let err = RedisInbox::connect(&redis.url(), "test:volatile", DurabilityCheck::Required)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("appendonly no"), "{err}");
    // An operator of a managed server can vouch for it explicitly.
    assert!(RedisInbox::connect(
        &redis.url(),
        "test:volatile",
        DurabilityCheck::TrustOperator
    )
    .await
    .is_ok());
}

/// Sets one setting on a running server through `CONFIG SET`.
async fn config_set(redis: &RedisServer, name: &str, value: &str) {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query_async(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn eviction_of_any_key_and_a_lazy_fsync_are_refused_naming_the_setting() {
    let redis = RedisServer::start();
    let url = redis.url();
    let connect = || RedisInbox::connect(&url, "test:settings", DurabilityCheck::Required);
    assert!(
        connect().await.is_ok(),
        "appendonly yes, appendfsync always"
    );

    config_set(&redis, "maxmemory-policy", "allkeys-lru").await;
    let err = connect().await.unwrap_err().to_string();
    assert!(err.contains("maxmemory-policy allkeys-lru"), "{err}");
    config_set(&redis, "maxmemory-policy", "volatile-lru").await;
    assert!(
        connect().await.is_ok(),
        "only keys with a TTL can be evicted"
    );

    // This machine's Redis (7.0) has no WAITAOF to wait for the fsync with.
    config_set(&redis, "appendfsync", "everysec").await;
    let err = connect().await.unwrap_err().to_string();
    assert!(
        err.contains("appendfsync everysec") && err.contains("WAITAOF"),
        "{err}"
    );
}

#[tokio::test]
async fn a_server_hiding_config_needs_the_operators_word() {
    let redis = RedisServer::start_with_settings(&["--rename-command", "CONFIG", ""]);
    let err = RedisInbox::connect(&redis.url(), "test:managed", DurabilityCheck::Required)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot read the server's configuration") && err.contains("TrustOperator"),
        "{err}"
    );
    let store = RedisInbox::connect(&redis.url(), "test:managed", DurabilityCheck::TrustOperator)
        .await
        .unwrap();
    assert!(matches!(
        store.enqueue(new_event("wh_managed")).await.unwrap(),
        Enqueued::Stored(_)
    ));
}

#[tokio::test]
async fn enqueue_is_insert_if_new_and_leases_obey_their_tokens() {
    let redis = RedisServer::start();
    let store = inbox(&redis, "basics").await;
    hookgate_conformance::inbox::leases_obey_their_tokens(&store).await;

    store.enqueue(new_event("wh_r2")).await.unwrap();
    store.set_paused(true).await.unwrap();
    assert!(store
        .lease(1, Duration::from_secs(5), SystemTime::now())
        .await
        .unwrap()
        .is_empty());
    assert!(store.stats(SystemTime::now()).await.unwrap().paused);
    store.set_paused(false).await.unwrap();
    let l = store
        .lease(1, Duration::from_secs(5), SystemTime::now())
        .await
        .unwrap()
        .remove(0);
    assert!(store
        .kill(l.id, l.token, "no such customer", SystemTime::now())
        .await
        .unwrap());
    let dead = store.list(Some(State::Dead), 10).await.unwrap();
    assert_eq!(dead[0].last_error.as_deref(), Some("no such customer"));
    assert_eq!(
        store
            .replay(Replay::Dead, true, SystemTime::now())
            .await
            .unwrap(),
        vec![l.id]
    );
    assert_eq!(
        store.stats(SystemTime::now()).await.unwrap().dead,
        1,
        "dry run"
    );
    assert_eq!(
        store
            .replay(Replay::Dead, false, SystemTime::now())
            .await
            .unwrap(),
        vec![l.id]
    );
    let again = store
        .lease(1, Duration::from_secs(5), SystemTime::now())
        .await
        .unwrap()
        .remove(0);
    assert_eq!(again.id, l.id);
    store
        .kill(again.id, again.token, "still no", SystemTime::now())
        .await
        .unwrap();
    assert_eq!(
        store
            .purge_dead(SystemTime::now() + Duration::from_secs(1))
            .await
            .unwrap(),
        1
    );
    assert!(store.show(l.id).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flaky_handler_leaves_every_event_done_or_dead_and_replay_fixes_the_dead() {
    let redis = RedisServer::start();
    let store = Arc::new(inbox(&redis, "flaky").await);
    hookgate_conformance::inbox::flaky_handler_then_replay_dead(store, 400).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_mid_run_with_aof_loses_no_acknowledged_event() {
    let mut redis = RedisServer::start();
    let store = Arc::new(inbox(&redis, "restart").await);
    let verifier = Verifier::aexo(SECRET).unwrap();
    let route = ServiceBuilder::new()
        .layer(WebhookLayer::new(verifier.clone()))
        .service(Inbox::new(store.clone(), &verifier));
    let handled: Arc<Mutex<HashSet<String>>> = Arc::default();
    let h = handled.clone();
    let workers = Workers::spawn(store.clone(), verifier, quick(2), move |d: Delivery<()>| {
        h.lock().unwrap().insert(d.id().unwrap().to_owned());
        async { Ok(()) }
    });
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let mut acked_ids = Vec::new();
    let mut refused = 0;
    for i in 0..300 {
        if i == 100 {
            redis.stop();
        }
        if i == 110 {
            redis.restart();
        }
        let id = format!("wh_restart_{i}");
        let body = testing::aexo_body(&id, "key.created", serde_json::json!({}));
        // The sender retries what was not acknowledged.
        loop {
            let res = route
                .clone()
                .oneshot(testing::signed_request(&Aexo, SECRET, "/", body.clone()))
                .await
                .unwrap();
            match res.status().as_u16() {
                200 => break,
                503 => {
                    refused += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    if (100..110).contains(&i) {
                        break; // while Redis is down, move on; the sender retries later
                    }
                }
                other => panic!("{id}: {other}"),
            }
        }
        let status_ok = !(100..110).contains(&i);
        if status_ok {
            acked_ids.push(id);
            acknowledged.fetch_add(1, Ordering::SeqCst);
        }
    }
    assert!(refused > 0, "Redis being down never showed");
    // The events refused during the outage are delivered again now.
    for i in 100..110 {
        let id = format!("wh_restart_{i}");
        let body = testing::aexo_body(&id, "key.created", serde_json::json!({}));
        loop {
            let res = route
                .clone()
                .oneshot(testing::signed_request(&Aexo, SECRET, "/", body.clone()))
                .await
                .unwrap();
            if res.status() == 200 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        acked_ids.push(id);
    }
    let started = Instant::now();
    while handled.lock().unwrap().len() < acked_ids.len()
        && started.elapsed() < Duration::from_secs(60)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let handled = handled.lock().unwrap().clone();
    let missing: Vec<&String> = acked_ids
        .iter()
        .filter(|id| !handled.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged, never handled: {missing:?}"
    );
    assert_eq!(acked_ids.len(), 300);
    workers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handled_event_shrinks_to_a_marker_unless_bodies_are_kept() {
    let redis = RedisServer::start();
    let store = Arc::new(inbox(&redis, "markers").await);
    hookgate_conformance::inbox::done_events_shrink_to_markers(store).await;
}
