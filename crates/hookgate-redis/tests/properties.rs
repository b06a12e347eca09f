//! The Redis dedupe store against the contract's model (proptest): claim /
//! commit / release sequences on a real redis-server, with stale and
//! foreign tokens, keep the store's invariants: one holder at a time, a
//! commit remembered, a stale holder unable to commit over or release a
//! newer claim. Leases here outlast the check (Redis keeps real time); the
//! memory store runs the same model with a moving clock
//! (`tests/tests/properties.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hookgate_conformance::dedupe_model;
use hookgate_conformance::redis_server::RedisServer;
use hookgate_redis::RedisStore;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};

#[test]
fn the_redis_store_keeps_to_the_dedupe_model() {
    // One server and one runtime for every case; the server stops with the test.
    let redis = RedisServer::start_volatile();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = RedisStore::new(&redis.url())
        .unwrap()
        .op_timeout(Duration::from_secs(10));
    let mut runner = TestRunner::new(Config {
        cases: 128,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        source_file: Some(file!()),
        ..Config::default()
    });
    let case = AtomicUsize::new(0);
    let outcome = runner.run(&dedupe_model::ops(40, false), |ops| {
        // A fresh key space per case: cases share the server.
        let name = format!("case{}", case.fetch_add(1, Ordering::Relaxed));
        rt.block_on(dedupe_model::check(&store, None, &name, &ops))
            .map_err(TestCaseError::fail)
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
}
