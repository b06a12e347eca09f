//! Acknowledgement latency and throughput of the Redis Streams inbox on a
//! durable server (`appendonly yes`, `appendfsync always`), beside the cost
//! of one fsync on the same disk, measured in the same run.
//!
//! Run with: cargo bench -p hookgate-conformance --bench inbox_ack_redis
//! (starts its own redis-server, as the tests do).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use hookgate::inbox::{InboxStore, NewEvent};
use hookgate_conformance::redis_server::RedisServer;
use hookgate_redis::{DurabilityCheck, RedisInbox};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let redis = RedisServer::start();
    let mut file = tempfile_in_tmp();
    let block = vec![7u8; 2048];
    let mut fsyncs: Vec<Duration> = (0..300)
        .map(|_| {
            let t = Instant::now();
            file.write_all(&block).unwrap();
            file.sync_data().unwrap();
            t.elapsed()
        })
        .collect();
    fsyncs.sort();
    let f50 = percentile(&fsyncs, 0.5);
    println!(
        "disk: write 2 KB + fsync  p50 {:.3} ms  p99 {:.3} ms",
        ms(f50),
        ms(percentile(&fsyncs, 0.99))
    );
    println!("senders   p50 ms   p99 ms   p99/(fsync p50 + 1 ms)   events/s");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let body = Bytes::from(hookgate::testing::aexo_body(
        "wh_bench",
        "dataset.refreshed",
        serde_json::json!({ "note": "x".repeat(1800) }),
    ));
    for senders in [1usize, 32, 256] {
        let total = 10_240.max(senders * 8);
        let (p50, p99, eps) = rt.block_on(async {
            let prefix = format!("bench:{senders}");
            let store = Arc::new(
                RedisInbox::connect(&redis.url(), &prefix, DurabilityCheck::Required)
                    .await
                    .unwrap(),
            );
            let per = total / senders;
            let started = Instant::now();
            let tasks: Vec<_> = (0..senders)
                .map(|s| {
                    let (store, body) = (store.clone(), body.clone());
                    tokio::spawn(async move {
                        let mut lat = Vec::with_capacity(per);
                        for i in 0..per {
                            let n = s * per + i;
                            let event = NewEvent {
                                key: format!("aexo:wh_{n}"),
                                scheme: "aexo".into(),
                                event_id: Some(format!("wh_{n}")),
                                event_type: "dataset.refreshed".into(),
                                received_at: SystemTime::now(),
                                body: body.clone(),
                            };
                            let t = Instant::now();
                            store.enqueue(event).await.unwrap();
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
        });
        println!(
            "{senders:>7}  {:>7.3}  {:>7.3}   {:>22.2}   {:>8.0}",
            ms(p50),
            ms(p99),
            ms(p99) / (ms(f50) + 1.0),
            eps
        );
    }
}

fn tempfile_in_tmp() -> std::fs::File {
    let path = std::env::temp_dir().join(format!("hookgate-fsync-probe-{}", std::process::id()));
    std::fs::File::create(path).unwrap()
}
