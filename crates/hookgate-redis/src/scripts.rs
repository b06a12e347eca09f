//! Every Lua script of this crate, one `.lua` file each in `lua/` (each file
//! opens with its KEYS, ARGV and answer). A script's SHA-1 is computed once,
//! on first use, and each call is one `EVALSHA` round trip.

use std::sync::LazyLock;

use redis::Script;

/// A script from `lua/<file>`, hashed on first use.
macro_rules! script {
    ($file:literal) => {
        LazyLock::new(|| Script::new(include_str!(concat!("lua/", $file))))
    };
}

/// Dedupe claim: `nil` = new, `"d"` = done, `"i:<token>"` = in flight.
pub(crate) static CLAIM: LazyLock<Script> = script!("dedupe_claim.lua");
/// Dedupe commit: done for the retention while the token (or nobody) holds the key.
pub(crate) static COMMIT: LazyLock<Script> = script!("dedupe_commit.lua");
/// Dedupe release: delete the key while the token holds it.
pub(crate) static RELEASE: LazyLock<Script> = script!("dedupe_release.lua");

/// Inbox enqueue: insert-if-new, the hash and the stream entry.
pub(crate) static ENQUEUE: LazyLock<Script> = script!("inbox_enqueue.lua");
/// Inbox lease: due retries, expired leases, then new entries, each with a token.
pub(crate) static LEASE: LazyLock<Script> = script!("inbox_lease.lua");
/// Inbox settle: how an attempt ends (done, retry, dead), checked by token.
pub(crate) static SETTLE: LazyLock<Script> = script!("inbox_settle.lua");
/// Inbox replay of one done or dead event that still has its body.
pub(crate) static REVIVE: LazyLock<Script> = script!("inbox_revive.lua");
/// Inbox purge of a finished set before a time, dedupe keys included.
pub(crate) static PURGE: LazyLock<Script> = script!("inbox_purge.lua");

/// Each script against a real redis-server, through the KEYS and ARGV its
/// file documents (the stores' own tests run them through the Rust side).
#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use hookgate_conformance::redis_server::RedisServer;
    use redis::aio::MultiplexedConnection;

    use super::*;

    async fn connect(server: &RedisServer) -> MultiplexedConnection {
        let client = redis::Client::open(server.url()).unwrap();
        client.get_multiplexed_async_connection().await.unwrap()
    }

    async fn run<T: redis::FromRedisValue>(
        conn: &mut MultiplexedConnection,
        script: &Script,
        keys: &[&str],
        args: &[&str],
    ) -> T {
        let mut invocation = script.prepare_invoke();
        for k in keys {
            invocation.key(*k);
        }
        for a in args {
            invocation.arg(*a);
        }
        invocation.invoke_async(conn).await.unwrap()
    }

    /// Any command, as its words.
    async fn cmd<T: redis::FromRedisValue>(conn: &mut MultiplexedConnection, words: &[&str]) -> T {
        redis::cmd(words[0])
            .arg(&words[1..])
            .query_async(conn)
            .await
            .unwrap()
    }

    async fn hget(conn: &mut MultiplexedConnection, key: &str, field: &str) -> Option<String> {
        cmd(conn, &["HGET", key, field]).await
    }

    async fn get(conn: &mut MultiplexedConnection, key: &str) -> Option<String> {
        cmd(conn, &["GET", key]).await
    }

    async fn hset(conn: &mut MultiplexedConnection, key: &str, fields: &[(&str, &str)]) {
        let mut words = vec!["HSET", key];
        words.extend(fields.iter().flat_map(|(f, v)| [*f, *v]));
        let _: i64 = cmd(conn, &words).await;
    }

    #[tokio::test]
    async fn the_dedupe_scripts_claim_once_and_commit_or_release_only_by_the_holders_token() {
        let server = RedisServer::start_volatile();
        let c = &mut connect(&server).await;
        let k = &["d:k"];
        let new: Option<String> = run(c, &CLAIM, k, &["i:1", "60000"]).await;
        assert_eq!(new, None);
        let taken: Option<String> = run(c, &CLAIM, k, &["i:2", "60000"]).await;
        assert_eq!(taken.as_deref(), Some("i:1"));
        assert_eq!(run::<i64>(c, &RELEASE, k, &["i:2"]).await, 0);
        assert_eq!(run::<i64>(c, &COMMIT, k, &["i:2", "1000"]).await, 0);
        assert_eq!(get(c, "d:k").await.as_deref(), Some("i:1"));
        assert_eq!(run::<i64>(c, &COMMIT, k, &["i:1", "1000"]).await, 1);
        assert_eq!(get(c, "d:k").await.as_deref(), Some("d"));
        let ttl: i64 = cmd(c, &["PTTL", "d:k"]).await;
        assert!((1..=1000).contains(&ttl), "{ttl}");
        let done: Option<String> = run(c, &CLAIM, k, &["i:3", "60000"]).await;
        assert_eq!(done.as_deref(), Some("d"));

        let r = &["d:released"];
        let _: Option<String> = run(c, &CLAIM, r, &["i:4", "60000"]).await;
        assert_eq!(run::<i64>(c, &RELEASE, r, &["i:4"]).await, 1);
        assert_eq!(get(c, "d:released").await, None);
        // A lease that lapsed with nobody claiming since: the commit lands.
        assert_eq!(run::<i64>(c, &COMMIT, r, &["i:4", "1000"]).await, 1);
        assert_eq!(get(c, "d:released").await.as_deref(), Some("d"));
    }

    #[tokio::test]
    async fn enqueue_stores_a_key_once_and_lease_hands_out_the_given_tokens() {
        let server = RedisServer::start_volatile();
        let c = &mut connect(&server).await;
        let _: () = cmd(c, &["XGROUP", "CREATE", "t:stream", "g", "0", "MKSTREAM"]).await;
        let keys = ["t:key:aexo:wh_1", "t:seq", "t:stream"];
        let args = [
            "t",
            "aexo:wh_1",
            "aexo",
            "wh_1",
            "key.created",
            "1000",
            "{}",
            "hdrs",
            "acme",
        ];
        assert_eq!(run::<i64>(c, &ENQUEUE, &keys, &args).await, 1);
        assert_eq!(run::<i64>(c, &ENQUEUE, &keys, &args).await, 0, "duplicate");
        assert_eq!(hget(c, "t:ev:1", "state").await.as_deref(), Some("pending"));
        assert_eq!(hget(c, "t:ev:1", "due_at").await.as_deref(), Some("1000"));
        let len: i64 = cmd(c, &["XLEN", "t:stream"]).await;
        assert_eq!(len, 1);

        let lease_keys = ["t:stream", "t:delayed", "t:paused"];
        let lease = ["t", "g", "c1", "2000", "5000", "2", "11", "12"];
        let _: () = cmd(c, &["SET", "t:paused", "1"]).await;
        type Row = (i64, String, u32, String, Vec<u8>, i64, Vec<u8>, String);
        let paused: Vec<Row> = run(c, &LEASE, &lease_keys, &lease).await;
        assert!(paused.is_empty());
        let _: () = cmd(c, &["SET", "t:paused", "0"]).await;
        // A retry of event 2, due now, joins the stream and is leased too.
        hset(
            c,
            "t:ev:2",
            &[("state", "pending"), ("scheme", "axifi"), ("body", "b")],
        )
        .await;
        let _: i64 = cmd(c, &["ZADD", "t:delayed", "1500", "2"]).await;
        let rows: Vec<Row> = run(c, &LEASE, &lease_keys, &lease).await;
        let tokens: Vec<(i64, &str, u32)> = rows.iter().map(|r| (r.0, r.1.as_str(), r.2)).collect();
        assert_eq!(tokens, [(1, "11", 1), (2, "12", 1)]);
        assert_eq!(rows[0].6, b"hdrs");
        // The tenant comes back with the lease; event 2 was stored without
        // one (as before tenants were kept): empty.
        assert_eq!((rows[0].7.as_str(), rows[1].7.as_str()), ("acme", ""));
        assert_eq!((rows[0].5, rows[1].5), (0, 0), "not interrupted");
        assert_eq!(hget(c, "t:ev:1", "state").await.as_deref(), Some("leased"));
        assert_eq!(hget(c, "t:ev:1", "due_at").await.as_deref(), Some("7000"));
        let delayed: i64 = cmd(c, &["ZCARD", "t:delayed"]).await;
        assert_eq!(delayed, 0);
    }

    #[tokio::test]
    async fn settle_obeys_the_token_and_for_done_the_lease() {
        let server = RedisServer::start_volatile();
        let c = &mut connect(&server).await;
        let leased = [
            ("state", "leased"),
            ("token", "42"),
            ("due_at", "2000"),
            ("body", "b"),
            ("headers", "h"),
        ];
        hset(c, "s:ev:5", &leased).await;
        let done_keys = ["s:ev:5", "s:stream", "s:done"];
        let done = |token, now| [token, now, "g", "5", "done", now, "", "1", "0"];
        assert_eq!(
            run::<i64>(c, &SETTLE, &done_keys, &done("41", "1000")).await,
            0
        );
        assert_eq!(
            run::<i64>(c, &SETTLE, &done_keys, &done("42", "2000")).await,
            0,
            "lease over"
        );
        assert_eq!(
            run::<i64>(c, &SETTLE, &done_keys, &done("42", "1999")).await,
            1
        );
        assert_eq!(hget(c, "s:ev:5", "state").await.as_deref(), Some("done"));
        assert_eq!(
            hget(c, "s:ev:5", "finished_at").await.as_deref(),
            Some("1999")
        );
        assert_eq!(hget(c, "s:ev:5", "due_at").await, None);
        assert_eq!(hget(c, "s:ev:5", "body").await, None, "a marker");
        assert_eq!(hget(c, "s:ev:5", "token").await.as_deref(), Some(""));
        let score: f64 = cmd(c, &["ZSCORE", "s:done", "5"]).await;
        assert_eq!(score, 1999.0);

        // A retry keeps the body and is due at its score; no lease check.
        hset(c, "s:ev:6", &leased).await;
        let retry = [
            "42",
            "9000",
            "g",
            "6",
            "pending",
            "12000",
            "upstream 500",
            "0",
            "0",
        ];
        let retry_keys = ["s:ev:6", "s:stream", "s:delayed"];
        assert_eq!(run::<i64>(c, &SETTLE, &retry_keys, &retry).await, 1);
        assert_eq!(hget(c, "s:ev:6", "state").await.as_deref(), Some("pending"));
        assert_eq!(hget(c, "s:ev:6", "due_at").await.as_deref(), Some("12000"));
        assert_eq!(hget(c, "s:ev:6", "body").await.as_deref(), Some("b"));
        assert_eq!(
            hget(c, "s:ev:6", "last_error").await.as_deref(),
            Some("upstream 500")
        );
    }

    async fn revive_one(c: &mut MultiplexedConnection, id: i64, dry_run: &str) -> i64 {
        let ev = format!("r:ev:{id}");
        let keys = [ev.as_str(), "r:stream", "r:dead", "r:done"];
        run(c, &REVIVE, &keys, &[&id.to_string(), "5000", dry_run]).await
    }

    #[tokio::test]
    async fn revive_takes_back_finished_events_with_a_body_and_purge_deletes_before_a_time() {
        let server = RedisServer::start_volatile();
        let c = &mut connect(&server).await;
        hset(
            c,
            "r:ev:1",
            &[("state", "dead"), ("body", "b"), ("key", "k1")],
        )
        .await;
        hset(c, "r:ev:2", &[("state", "done"), ("key", "k2")]).await;
        hset(c, "r:ev:3", &[("state", "pending"), ("body", "b")]).await;
        let _: i64 = cmd(c, &["ZADD", "r:dead", "100", "1"]).await;
        assert_eq!(revive_one(c, 1, "1").await, 1, "dry run");
        assert_eq!(hget(c, "r:ev:1", "state").await.as_deref(), Some("dead"));
        assert_eq!(revive_one(c, 2, "0").await, 0, "a marker without its body");
        assert_eq!(revive_one(c, 3, "0").await, 0, "not finished");
        assert_eq!(revive_one(c, 1, "0").await, 1);
        assert_eq!(hget(c, "r:ev:1", "state").await.as_deref(), Some("pending"));
        assert_eq!(hget(c, "r:ev:1", "due_at").await.as_deref(), Some("5000"));
        let len: i64 = cmd(c, &["XLEN", "r:stream"]).await;
        assert_eq!(len, 1);

        for (id, at) in [("4", "100"), ("5", "200")] {
            let (ev, key) = (format!("r:ev:{id}"), format!("k{id}"));
            hset(c, &ev, &[("state", "dead"), ("key", &key)]).await;
            let _: () = cmd(c, &["SET", &format!("r:key:{key}"), id]).await;
            let _: i64 = cmd(c, &["ZADD", "p:dead", at, id]).await;
        }
        assert_eq!(run::<i64>(c, &PURGE, &["p:dead"], &["r", "200"]).await, 1);
        assert_eq!(hget(c, "r:ev:4", "state").await, None);
        assert_eq!(get(c, "r:key:k4").await, None, "its dedupe key too");
        assert_eq!(hget(c, "r:ev:5", "state").await.as_deref(), Some("dead"));
        assert_eq!(get(c, "r:key:k5").await.as_deref(), Some("5"));
    }
}
