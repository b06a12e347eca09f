//! `hookgate inbox`, run as a process against an inbox file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hookgate::inbox::{InboxStore, NewEvent, State};
use hookgate_sqlite::SqliteInbox;

fn inbox(path: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hookgate"))
        .arg("inbox")
        .arg("--sqlite")
        .arg(path)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn event(id: &str) -> NewEvent {
    NewEvent {
        key: format!("aexo:{id}"),
        scheme: "aexo".into(),
        event_id: Some(id.into()),
        event_type: "record.flagged".into(),
        received_at: SystemTime::now(),
        body: Bytes::from(hookgate::testing::aexo_body(
            id,
            "record.flagged",
            serde_json::json!({"record_id": id}),
        )),
        headers: Default::default(),
        tenant: None,
    }
}

/// An empty directory of its own for a test.
fn fresh_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hookgate-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Stores event `id` and makes it dead (one lease, then a permanent failure).
async fn one_dead<S: InboxStore>(store: &S, id: &str) {
    store.enqueue(event(id)).await.unwrap();
    let l = store
        .lease(1, Duration::from_secs(30), SystemTime::now())
        .await
        .unwrap()
        .remove(0);
    store
        .kill(l.id, l.token, "bad", SystemTime::now())
        .await
        .unwrap();
}

#[tokio::test]
async fn the_inbox_commands_show_and_operate_the_store() {
    let dir = fresh_dir("inbox");
    let path = dir.join("inbox.sqlite3");
    let store = SqliteInbox::open(&path).unwrap();
    for id in ["wh_a", "wh_b", "wh_c"] {
        store.enqueue(event(id)).await.unwrap();
    }
    let lease = |n| store.lease(n, Duration::from_secs(30), SystemTime::now());
    let mut leased = lease(2).await.unwrap();
    let (first, second) = (leased.remove(0), leased.remove(0));
    store
        .kill(
            first.id,
            first.token,
            "downstream said no",
            SystemTime::now(),
        )
        .await
        .unwrap();
    store
        .complete(second.id, second.token, SystemTime::now(), true)
        .await
        .unwrap();

    let (ok, out) = inbox(&path, &["stats"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("pending 1\nleased 0\ndone 1\ndead 1\n"),
        "{out}"
    );

    let (ok, out) = inbox(&path, &["ls", "--state", "dead"]);
    assert!(
        ok && out.contains("\tdead\t1\trecord.flagged\twh_a\t")
            && out.contains("downstream said no"),
        "{out}"
    );

    let (ok, out) = inbox(&path, &["show", &first.id.to_string()]);
    assert!(ok && out.contains("\"record_id\":\"wh_a\""), "{out}");

    let (ok, out) = inbox(&path, &["replay", "--dead", "--dry-run"]);
    assert!(ok && out.contains("would replay 1 events"), "{out}");
    assert_eq!(store.stats(SystemTime::now()).await.unwrap().dead, 1);
    let (ok, out) = inbox(&path, &["replay", "--dead"]);
    assert!(
        ok && out.contains("replayed 1 events; replay does not re-check signatures"),
        "{out}"
    );
    assert_eq!(
        store.show(first.id).await.unwrap().unwrap().0.state,
        State::Pending
    );

    let (ok, out) = inbox(&path, &["replay", &second.id.to_string()]);
    assert!(ok && out.contains("replayed 1 events"), "{out}");

    let (ok, _) = inbox(&path, &["pause"]);
    assert!(ok);
    assert!(store
        .lease(3, Duration::from_secs(30), SystemTime::now())
        .await
        .unwrap()
        .is_empty());
    let (ok, _) = inbox(&path, &["resume"]);
    assert!(ok);
    let all = lease(3).await.unwrap();
    assert_eq!(all.len(), 3);
    for l in all {
        store
            .kill(l.id, l.token, "again", SystemTime::now())
            .await
            .unwrap();
    }
    let (ok, out) = inbox(&path, &["purge", "--dead", "--older-than", "1d"]);
    assert!(ok && out.contains("purged 0 dead events"), "{out}");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (ok, out) = inbox(&path, &["purge", "--dead", "--older-than", "0s"]);
    assert!(ok && out.contains("purged 3 dead events"), "{out}");

    // By default a handled event shrinks to a marker: shown as such, and
    // replaying it says why it cannot be.
    store.enqueue(event("wh_d")).await.unwrap();
    let marker = lease(1).await.unwrap().remove(0);
    store
        .complete(marker.id, marker.token, SystemTime::now(), false)
        .await
        .unwrap();
    let (ok, out) = inbox(&path, &["show", &marker.id.to_string()]);
    assert!(
        ok && out.contains("only its marker is kept") && !out.contains("record_id"),
        "{out}"
    );
    let (ok, out) = inbox(&path, &["replay", &marker.id.to_string()]);
    assert!(
        !ok && out.contains("was handled and only its marker is kept"),
        "{out}"
    );
    let (ok, out) = inbox(&path, &["replay", "--since", "2000-01-01T00:00:00Z"]);
    assert!(ok && out.contains("replayed 0 events"), "{out}");

    let (ok, out) = inbox(&dir.join("missing.sqlite3"), &["stats"]);
    assert!(!ok && out.contains("no inbox at"), "{out}");
}

#[tokio::test]
async fn the_inbox_commands_work_on_a_redis_inbox_too() {
    let redis = hookgate_conformance::redis_server::RedisServer::start();
    let check = hookgate_redis::DurabilityCheck::Required;
    let store = hookgate_redis::RedisInbox::connect(&redis.url(), "cli:aexo", check)
        .await
        .unwrap();
    one_dead(&store, "wh_r_a").await;
    store.enqueue(event("wh_r_b")).await.unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_hookgate"))
            .args(["inbox", "--redis", &redis.url(), "--prefix", "cli:aexo"])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (ok, out) = run(&["stats"]);
    assert!(
        ok && out.contains("pending 1\nleased 0\ndone 0\ndead 1\n"),
        "{out}"
    );
    let (ok, out) = run(&["ls", "--state", "dead"]);
    assert!(
        ok && out.contains("wh_r_a") && out.contains("\tbad"),
        "{out}"
    );
    let (ok, out) = run(&["replay", "--dead"]);
    assert!(ok && out.contains("replayed 1 events"), "{out}");
    assert_eq!(store.stats(SystemTime::now()).await.unwrap().pending, 2);
}

#[test]
fn inbox_commands_refuse_a_file_that_is_not_an_inbox_and_change_nothing() {
    let dir = fresh_dir("not-inbox");
    let app_db = dir.join("other.db");
    hookgate_conformance::inbox::not_an_inbox(&app_db);
    let text = dir.join("notes.txt");
    std::fs::write(&text, "not a database at all\n").unwrap();

    for file in [&app_db, &text] {
        let before = std::fs::read(file).unwrap();
        for args in [
            &["stats"][..],
            &["ls"],
            &["show", "1"],
            &["pause"],
            &["replay", "--dead"],
            &["purge", "--dead", "--older-than", "1d"],
        ] {
            let (ok, out) = inbox(file, args);
            assert!(!ok, "{args:?} on {}: {out}", file.display());
            assert!(
                out.contains("is not a hookgate inbox") && out.contains("nothing was changed"),
                "{args:?} on {}: {out}",
                file.display()
            );
            assert!(!out.contains("panicked"), "{out}");
        }
        assert_eq!(
            std::fs::read(file).unwrap(),
            before,
            "{} was changed",
            file.display()
        );
        for suffix in ["-wal", "-shm", "-journal"] {
            let side = format!("{}{suffix}", file.display());
            assert!(!Path::new(&side).exists(), "{side} was created");
        }
    }
    // The journal mode byte pair of the header (18, 19) still says rollback.
    assert_eq!(&std::fs::read(&app_db).unwrap()[18..20], &[1, 1]);
}

#[tokio::test]
async fn purge_with_an_age_longer_than_the_epoch_purges_nothing_instead_of_panicking() {
    let path = fresh_dir("purge").join("inbox.sqlite3");
    let store = SqliteInbox::open(&path).unwrap();
    one_dead(&store, "wh_old").await;

    let (ok, out) = inbox(
        &path,
        &["purge", "--dead", "--older-than", "999999999999999d"],
    );
    assert!(ok && out.contains("purged 0 dead events"), "{out}");
    assert!(!out.contains("panicked"), "{out}");
    assert_eq!(store.stats(SystemTime::now()).await.unwrap().dead, 1);

    let (ok, out) = inbox(
        &path,
        &["purge", "--dead", "--older-than", "99999999999999999999d"],
    );
    assert!(!ok && out.contains("want a number and a unit"), "{out}");
}
