//! Memory per remembered id in the in-memory dedupe store.
//!
//! Run with: cargo bench -p hookgate --bench dedupe_memory
//!
//! Measures the growth of resident memory (Linux `/proc/self/statm`, what an
//! operator sees) while 1,000,000 ids are claimed and committed in a
//! `MemoryStore` of that capacity, and, as a baseline in the same
//! process, while the same 1,000,000 namespaced keys are put in a plain
//! `HashSet<String>` (what a naive dedupe keeps, without expiry or order).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::HashSet;
use std::time::Duration;

use hookgate::dedupe::{Claim, MemoryStore};

/// Resident memory of this process in bytes (Linux: /proc/self/statm).
fn rss() -> isize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux /proc/self/statm");
    let pages: isize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

const N: usize = 1_000_000;

fn key(i: usize) -> String {
    format!("aexo:wh_01HXYZ{i:012}")
}

fn main() {
    let lease = Duration::from_secs(60);
    let retention = Duration::from_secs(3 * 3600 + 300);

    let before = rss();
    let store = MemoryStore::with_capacity(N);
    for i in 0..N {
        let k = key(i);
        let Claim::New(token) = store.claim_now(&k, lease) else {
            panic!("{k} not new");
        };
        futures_executor_commit(&store, &k, token, retention);
    }
    let store_bytes = rss() - before;
    assert_eq!(store.len(), N);
    assert_eq!(store.evicted_within_retention(), 0);

    let before = rss();
    let mut naive: HashSet<String> = HashSet::with_capacity(N);
    for i in 0..N {
        naive.insert(key(i));
    }
    let naive_bytes = rss() - before;

    let per = store_bytes as f64 / N as f64;
    let naive_per = naive_bytes as f64 / N as f64;
    println!("dedupe_memory: {N} ids remembered (claimed and committed)");
    println!("  MemoryStore       {per:7.1} bytes/id  (target <= 128)");
    println!(
        "  HashSet<String>   {naive_per:7.1} bytes/id  (baseline, same keys, no expiry/order)"
    );
    println!("  ratio store/naive {:7.2}", per / naive_per);
    drop((store, naive));
}

/// Commits without an async runtime: the memory store's futures complete at once.
fn futures_executor_commit(
    store: &MemoryStore,
    key: &str,
    token: hookgate::dedupe::Token,
    retention: Duration,
) {
    use hookgate::dedupe::DedupeStore;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};
    let mut fut = pin!(store.commit(key, token, retention));
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(r) => r.unwrap(),
        Poll::Pending => panic!("memory store commit pending"),
    }
}
