//! A file written before the inbox kept request headers and tenants still
//! opens, keeps its events, and takes headers and tenants from then on.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hookgate::inbox::{Enqueued, InboxStore, NewEvent, StoredHeaders};
use hookgate_sqlite::SqliteInbox;

#[tokio::test]
async fn a_file_from_before_stored_headers_opens_and_keeps_its_events() {
    let dir = std::env::temp_dir().join(format!("hookgate-migration-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("old.sqlite3");
    {
        // The schema as the first release wrote it, with one pending event.
        let conn = rusqlite::Connection::open(&file).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             CREATE TABLE events (
               id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, scheme TEXT NOT NULL,
               event_id TEXT, event_type TEXT NOT NULL, received_at INTEGER NOT NULL, body BLOB,
               state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, due_at INTEGER,
               token INTEGER, finished_at INTEGER, last_error TEXT);
             CREATE TABLE control (name TEXT PRIMARY KEY, value TEXT NOT NULL);
             INSERT INTO events (key, scheme, event_type, received_at, body, state, due_at)
               VALUES ('aexo:old', 'aexo', 'key.created', 0, x'7b7d', 'pending', 0);",
        )
        .unwrap();
    }
    let store = SqliteInbox::open(&file).unwrap();
    let old = store
        .lease(1, Duration::from_secs(60), SystemTime::now())
        .await
        .unwrap();
    assert_eq!(old.len(), 1);
    assert_eq!(old[0].body, Bytes::from_static(b"{}"));
    assert!(old[0].headers.is_empty(), "no headers were kept then");
    assert_eq!(old[0].tenant, None, "nor tenants");

    let headers = vec![("x-aexo-signature", "00ff")];
    let new = NewEvent {
        key: "aexo:new".into(),
        scheme: "aexo".into(),
        event_id: Some("new".into()),
        event_type: "key.created".into(),
        received_at: SystemTime::now(),
        body: Bytes::from_static(b"{}"),
        headers: StoredHeaders::capture(&headers),
        tenant: Some("acme".into()),
    };
    assert!(matches!(
        store.enqueue(new).await.unwrap(),
        Enqueued::Stored(_)
    ));
    let leased = store
        .lease(1, Duration::from_secs(60), SystemTime::now())
        .await
        .unwrap();
    assert_eq!(
        leased[0].headers.iter().collect::<Vec<_>>(),
        vec![("x-aexo-signature", &b"00ff"[..])]
    );
    assert_eq!(
        leased[0].tenant.as_deref(),
        Some("acme"),
        "an upgraded file keeps the tenants of new events"
    );
}
