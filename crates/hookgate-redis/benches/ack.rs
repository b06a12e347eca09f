//! Acknowledgement latency and throughput of the Redis Streams inbox on a
//! durable server (`appendonly yes`, `appendfsync always`), beside the cost
//! of one fsync on the same disk, measured in the same run.
//!
//! Run with: cargo bench -p hookgate-redis --bench ack
//! (starts its own redis-server, as the tests do).
//!
//! Closed loop: 1, 32 and 256 concurrent senders, with one connection for
//! enqueues and with the default pool. Open loop: 2,000, 10,000 and 20,000
//! events per second offered. Shared code: `hookgate_conformance::ackbench`.
//!
//! Each run starts from an empty server, and the server's automatic AOF
//! rewrite is off: with nothing consuming the inbox the data only grows, and
//! a rewrite (a fork writing the whole data set) in the middle of one run
//! and not another would measure the rewrite rather than the inbox.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use hookgate_conformance::ackbench::{
    closed_loop, fsync_cost, open_loop, print_baseline, print_row,
};
use hookgate_conformance::redis_server::RedisServer;
use hookgate_redis::{DurabilityCheck, RedisInbox, DEFAULT_ENQUEUE_CONNECTIONS};

fn main() {
    let redis = RedisServer::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // The server's files are in the temporary folder too.
    let fsync = fsync_cost(&std::env::temp_dir());
    print_baseline(&fsync);
    let store = |name: String, connections: usize| {
        let url = redis.url();
        async move {
            let check = DurabilityCheck::Required;
            Arc::new(
                RedisInbox::connect_with(&url, &name, check, connections)
                    .await
                    .unwrap(),
            )
        }
    };
    let reset = || {
        let mut admin = redis::Client::open(redis.url())
            .unwrap()
            .get_connection()
            .unwrap();
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("auto-aof-rewrite-percentage")
            .arg("0")
            .exec(&mut admin)
            .unwrap();
        redis::cmd("FLUSHALL").exec(&mut admin).unwrap();
        redis::cmd("BGREWRITEAOF").exec(&mut admin).unwrap();
        // Let the rewrite finish before the run.
        while {
            let info: String = redis::cmd("INFO")
                .arg("persistence")
                .query(&mut admin)
                .unwrap();
            info.contains("aof_rewrite_in_progress:1") || info.contains("aof_rewrite_scheduled:1")
        } {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    for senders in [1usize, 32, 256] {
        for connections in [1, DEFAULT_ENQUEUE_CONNECTIONS] {
            let total = 10_240.max(senders * 8);
            reset();
            let f = rt.block_on(async {
                let store = store(format!("bench:{senders}:{connections}"), connections).await;
                closed_loop(store, senders, total).await
            });
            let run = format!("{senders} senders, {connections} conn");
            print_row(&run, &f, &fsync);
        }
    }
    for rate in [2_000usize, 10_000, 20_000] {
        reset();
        let f = rt.block_on(async {
            let store = store(format!("bench:open:{rate}"), DEFAULT_ENQUEUE_CONNECTIONS).await;
            open_loop(store, rate, 2).await
        });
        print_row(&format!("open {rate}/s"), &f, &fsync);
    }
}
