//! Acknowledgement latency and throughput of the SQLite inbox, beside the
//! cost of one fsync on the same disk, measured in the same run.
//!
//! Run with: cargo bench -p hookgate-sqlite --bench ack
//!
//! For 1, 32 and 256 concurrent senders, with and without group commit, it
//! enqueues events (a 2 KB AEXO body each) into a fresh inbox file and
//! reports the p50 and p99 of the time from `enqueue` to its durable
//! answer, and events per second. The baseline is `write 2 KB + fsync` on a
//! file in the same folder.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use hookgate::inbox::{InboxStore, NewEvent};
use hookgate_sqlite::SqliteInbox;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn fsync_cost(dir: &std::path::Path) -> (Duration, Duration) {
    let mut file = std::fs::File::create(dir.join("fsync-probe")).unwrap();
    let block = vec![7u8; 2048];
    let mut times: Vec<Duration> = (0..300)
        .map(|_| {
            let t = Instant::now();
            file.write_all(&block).unwrap();
            file.sync_data().unwrap();
            t.elapsed()
        })
        .collect();
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

fn event(n: usize, body: &Bytes) -> NewEvent {
    NewEvent {
        key: format!("aexo:wh_bench_{n}"),
        scheme: "aexo".into(),
        event_id: Some(format!("wh_bench_{n}")),
        event_type: "dataset.refreshed".into(),
        received_at: SystemTime::now(),
        body: body.clone(),
    }
}

async fn run(
    dir: &std::path::Path,
    senders: usize,
    group: bool,
    total: usize,
) -> (Duration, Duration, f64) {
    let path = dir.join(format!("inbox-{senders}-{group}.sqlite3"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let store = Arc::new(SqliteInbox::open_with(&path, group).unwrap());
    let body = Bytes::from(hookgate::testing::aexo_body(
        "wh_bench",
        "dataset.refreshed",
        serde_json::json!({ "note": "x".repeat(1800) }),
    ));
    let per = total / senders;
    let started = Instant::now();
    let tasks: Vec<_> = (0..senders)
        .map(|s| {
            let (store, body) = (store.clone(), body.clone());
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per);
                for i in 0..per {
                    let t = Instant::now();
                    store.enqueue(event(s * per + i, &body)).await.unwrap();
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let secs = started.elapsed().as_secs_f64();
    all.sort();
    (
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        all.len() as f64 / secs,
    )
}

/// Open loop: events arrive at `rate` per second whatever the answers do
/// (as from many independent senders), dispatched on each 1 ms tick in a
/// burst; latency counts from the dispatch. Group commit on.
async fn open_loop(
    dir: &std::path::Path,
    rate: usize,
    seconds: usize,
) -> (Duration, Duration, f64) {
    let path = dir.join(format!("inbox-open-{rate}.sqlite3"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let store = Arc::new(SqliteInbox::open(&path).unwrap());
    let body = Bytes::from(hookgate::testing::aexo_body(
        "wh_bench",
        "dataset.refreshed",
        serde_json::json!({ "note": "x".repeat(1800) }),
    ));
    let total = rate * seconds;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut sent = 0;
    let mut tasks = Vec::with_capacity(total);
    while sent < total {
        tick.tick().await;
        let due = ((started.elapsed().as_secs_f64() * rate as f64) as usize).min(total);
        while sent < due {
            let (store, event) = (store.clone(), event(sent, &body));
            tasks.push(tokio::spawn(async move {
                let t = Instant::now();
                store.enqueue(event).await.unwrap();
                t.elapsed()
            }));
            sent += 1;
        }
    }
    let mut all = Vec::with_capacity(total);
    for t in tasks {
        all.push(t.await.unwrap());
    }
    let secs = started.elapsed().as_secs_f64();
    all.sort();
    (
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        all.len() as f64 / secs,
    )
}

fn main() {
    let dir = std::env::temp_dir().join(format!("hookgate-sqlite-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (f50, f99) = fsync_cost(&dir);
    println!(
        "disk: write 2 KB + fsync  p50 {:>8.3} ms  p99 {:>8.3} ms",
        ms(f50),
        ms(f99)
    );
    println!("senders  group   p50 ms   p99 ms   p99/(fsync p50 + 1 ms)   events/s");
    for senders in [1usize, 32, 256] {
        for group in [true, false] {
            let total = if group { 20_480 } else { 2_560 }.max(senders * 8);
            let (p50, p99, eps) = rt.block_on(run(&dir, senders, group, total));
            println!(
                "{senders:>7}  {:<5}  {:>7.3}  {:>7.3}   {:>22.2}   {:>8.0}",
                if group { "on" } else { "off" },
                ms(p50),
                ms(p99),
                ms(p99) / (ms(f50) + 1.0),
                eps
            );
        }
    }
    println!("open loop (group commit on): offered/s   p50 ms   p99 ms   p99/(fsync p50 + 1 ms)   events/s");
    for rate in [2_000usize, 10_000, 20_000] {
        let (p50, p99, eps) = rt.block_on(open_loop(&dir, rate, 2));
        println!(
            "{rate:>39}  {:>7.3}  {:>7.3}   {:>22.2}   {:>8.0}",
            ms(p50),
            ms(p99),
            ms(p99) / (ms(f50) + 1.0),
            eps
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
