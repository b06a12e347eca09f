//! Acknowledgement latency and throughput of the SQLite inbox, beside the
//! cost of one fsync on the same disk, measured in the same run.
//!
//! Run with: cargo bench -p hookgate-sqlite --bench ack
//!
//! Closed loop: 1, 32 and 256 concurrent senders, with and without group
//! commit. Open loop (group commit on): 2,000, 10,000 and 20,000 events per
//! second offered. Each run uses a fresh inbox file in one folder, where the
//! fsync baseline is measured too. Shared code: `hookgate_conformance::ackbench`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hookgate_conformance::ackbench::{
    closed_loop, fsync_cost, open_loop, print_baseline, print_row,
};
use hookgate_sqlite::SqliteInbox;

fn fresh(dir: &Path, name: &str, group: bool) -> Arc<SqliteInbox> {
    let path: PathBuf = dir.join(format!("{name}.sqlite3"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    Arc::new(SqliteInbox::open_with(&path, group).unwrap())
}

fn main() {
    let dir = std::env::temp_dir().join(format!("hookgate-sqlite-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let fsync = fsync_cost(&dir);
    print_baseline(&fsync);
    for senders in [1usize, 32, 256] {
        for group in [true, false] {
            let total = if group { 20_480 } else { 2_560 }.max(senders * 8);
            let store = fresh(&dir, &format!("closed-{senders}-{group}"), group);
            let f = rt.block_on(closed_loop(store, senders, total));
            let on = if group { "on" } else { "off" };
            print_row(&format!("{senders} senders, group {on}"), &f, &fsync);
        }
    }
    for rate in [2_000usize, 10_000, 20_000] {
        let store = fresh(&dir, &format!("open-{rate}"), true);
        let f = rt.block_on(open_loop(store, rate, 2));
        print_row(&format!("open {rate}/s, group on"), &f, &fsync);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
