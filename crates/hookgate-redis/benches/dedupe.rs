//! Claim/commit cost of the Redis dedupe store, and its round trips per
//! step, beside the in-memory store as a reference.
//!
//! Run with: cargo bench -p hookgate-redis --bench dedupe
//! (starts its own redis-server on a free port, as the tests do).
//!
//! - `memory/claim_commit`: one new id claimed and committed in `MemoryStore`.
//! - `redis/ping`: one PING over the same kind of connection the store uses
//!   (redis-rs `ConnectionManager`): the cost of one round trip, the baseline.
//! - `redis/claim` and `redis/claim_commit`: the store's operations. A claim
//!   costs one round trip (ratio ~1 to `ping`), claim + commit two (~2).
//!
//! Before the timings it counts, from Redis' own `INFO commandstats`, the
//! commands clients sent per claim and per commit (script-internal GET, SET
//! and DEL excluded): one each means one round trip each.
//! The server runs without persistence here, so no fsync is timed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use hookgate::dedupe::{Claim, DedupeStore, MemoryStore};
use hookgate_conformance::redis_server::RedisServer;
use hookgate_redis::RedisStore;

const LEASE: Duration = Duration::from_secs(60);
const RETENTION: Duration = Duration::from_secs(3 * 3600 + 300);

static NEXT: AtomicU64 = AtomicU64::new(0);

fn fresh_key() -> String {
    format!("aexo:wh_bench_{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

async fn claim_commit<St: DedupeStore>(store: &St) {
    let key = fresh_key();
    let Claim::New(token) = store.claim(&key, LEASE).await.unwrap() else {
        panic!("not new");
    };
    store.commit(&key, token, RETENTION).await.unwrap();
}

/// Commands sent by clients (not those run inside scripts): every
/// `cmdstat_*` except the ones a script calls.
async fn client_commands(conn: &mut redis::aio::ConnectionManager) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .unwrap();
    info.lines()
        .filter(|l| {
            l.starts_with("cmdstat_")
                && !l.starts_with("cmdstat_get:")
                && !l.starts_with("cmdstat_set:")
                && !l.starts_with("cmdstat_del:")
        })
        .filter_map(|l| {
            l.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let redis = RedisServer::start_volatile();
    let store = RedisStore::new(&redis.url()).unwrap();
    let mut conn = rt.block_on(async {
        let client = redis::Client::open(redis.url()).unwrap();
        redis::aio::ConnectionManager::new(client).await.unwrap()
    });

    // Round trips per step, counted by the server.
    rt.block_on(async {
        claim_commit(&store).await; // loads the scripts
        const N: u64 = 1000;
        let keys: Vec<String> = (0..N).map(|_| fresh_key()).collect();
        let c0 = client_commands(&mut conn).await;
        let mut tokens = Vec::new();
        for k in &keys {
            let Claim::New(t) = store.claim(k, LEASE).await.unwrap() else {
                panic!()
            };
            tokens.push(t);
        }
        let c1 = client_commands(&mut conn).await;
        for (k, t) in keys.iter().zip(tokens) {
            store.commit(k, t, RETENTION).await.unwrap();
        }
        let c2 = client_commands(&mut conn).await;
        // Each INFO is counted once, by the next INFO.
        println!(
            "redis client commands (round trips) per claim: {:.3}, per commit: {:.3}",
            (c1 - c0 - 1) as f64 / N as f64,
            (c2 - c1 - 1) as f64 / N as f64
        );
    });

    let memory = MemoryStore::with_capacity(4_000_000);
    let mut g = c.benchmark_group("dedupe");
    g.bench_function("memory/claim_commit", |b| {
        b.iter(|| rt.block_on(claim_commit(&memory)))
    });
    g.bench_function("redis/ping", |b| {
        b.iter(|| {
            rt.block_on(async {
                let _: String = redis::cmd("PING").query_async(&mut conn).await.unwrap();
            })
        })
    });
    g.bench_function("redis/claim", |b| {
        b.iter(|| rt.block_on(async { store.claim(&fresh_key(), LEASE).await.unwrap() }))
    });
    g.bench_function("redis/claim_commit", |b| {
        b.iter(|| rt.block_on(claim_commit(&store)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
