//! The memory store's eviction warning, as the log shows it. Its own test
//! binary: the subscriber that counts the lines is global to the process.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use hookgate::dedupe::{Claim, DedupeStore, MemoryStore, EVICTION_WARNING_INTERVAL};
use hookgate::ManualClock;

/// Counts the `warn` lines logged.
#[derive(Clone, Default)]
struct Warnings(Arc<AtomicU64>);

impl tracing::Subscriber for Warnings {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if *event.metadata().level() == tracing::Level::WARN {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn a_full_memory_store_logs_one_eviction_warning_a_minute_and_counts_every_eviction() {
    let warnings = Warnings::default();
    tracing::subscriber::set_global_default(warnings.clone()).unwrap();
    let lines = || warnings.0.load(Ordering::Relaxed);
    let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_800_000_000));
    let store = MemoryStore::with_capacity(100).clock(clock.clone());
    let (lease, retention) = (Duration::from_secs(60), Duration::from_secs(3600));

    // The load: 209,160 ids through a store far too small for them,
    // all within one minute of the store's clock.
    for i in 0..209_160 {
        let key = format!("aexo:wh_{i}");
        let Claim::New(token) = store.claim_now(&key, lease) else {
            panic!("{key} was not new")
        };
        store.commit(&key, token, retention).await.unwrap();
    }
    assert_eq!(store.evicted_within_retention(), 209_160 - 100);
    assert_eq!(lines(), 1, "one warning, not one per eviction");

    clock.advance(EVICTION_WARNING_INTERVAL - Duration::from_millis(1));
    let _ = store.claim_now("aexo:later", lease);
    assert_eq!(lines(), 1);
    clock.advance(Duration::from_millis(1));
    let _ = store.claim_now("aexo:a_minute_later", lease);
    assert_eq!(lines(), 2, "the next minute warns again");
    assert_eq!(store.evicted_within_retention(), 209_160 - 100 + 2);
}
