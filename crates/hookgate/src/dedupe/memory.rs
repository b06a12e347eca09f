use std::hash::{BuildHasher, RandomState};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lru::LruCache;

use super::store::{Claim, DedupeStore};
use crate::clock::{Clock, SystemClock};
use crate::store::{StoreError, Token};

/// Default capacity of [`MemoryStore`]: 100,000 ids.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// At most one eviction warning per this long, by the store's clock (each
/// eviction is still counted).
pub const EVICTION_WARNING_INTERVAL: Duration = Duration::from_secs(60);

/// The embedded dedupe store: a bounded LRU map in this process.
///
/// Each id is kept as a 16-byte digest of the namespaced key (two SipHash
/// values under this store's own random keys, so ids cannot be chosen to
/// collide; two ids of a million share a digest with odds of about 1 in
/// 10^27) with an expiry and a claim token, about 100 bytes per
/// remembered id in all (measured: `cargo bench -p hookgate --bench dedupe_memory`).
/// The hash table for `capacity` entries is allocated up front.
///
/// Size `capacity` to at least your peak event rate times the retention: an
/// id evicted for room while still inside its retention window could be
/// replayed. Such evictions are counted ([`evicted_within_retention`] and
/// the `hookgate_dedupe_evicted_within_retention_total` metric) and logged at
/// `warn`, at most once per [`EVICTION_WARNING_INTERVAL`] (a full store
/// evicts on every new id: one line each would flood the log).
///
/// The lock is held only for a map operation, never across an await.
///
/// [`evicted_within_retention`]: MemoryStore::evicted_within_retention
#[derive(Debug)]
pub struct MemoryStore {
    map: Mutex<LruCache<[u8; 16], Entry>>,
    clock: Arc<dyn Clock>,
    evicted_live: AtomicU64,
    /// When the last eviction warning was logged (store clock, ms; 0: never).
    warned_ms: AtomicU64,
    /// The two keyed hashes of [`digest`](Self::digest), keys drawn at random.
    hashers: [RandomState; 2],
}

/// `token == 0`: done; otherwise in flight, held by that token.
#[derive(Debug, Clone, Copy)]
struct Entry {
    expires_ms: u64,
    token: u64,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// A store for [`DEFAULT_CAPACITY`] ids.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// A store for `capacity` ids (at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Self {
            map: Mutex::new(LruCache::new(capacity)),
            clock: Arc::new(SystemClock),
            evicted_live: AtomicU64::new(0),
            warned_ms: AtomicU64::new(0),
            hashers: [RandomState::new(), RandomState::new()],
        }
    }

    /// Uses `clock` for expiry (tests move time with a `ManualClock`).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// How many ids were evicted for room while still inside their
    /// retention or lease: each is a gap in replay protection.
    pub fn evicted_within_retention(&self) -> u64 {
        self.evicted_live.load(Ordering::Relaxed)
    }

    /// How many ids are held (done or in flight, expired or not).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no id is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, LruCache<[u8; 16], Entry>> {
        // The map holds plain data; a panic elsewhere cannot leave it torn.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now_ms(&self) -> u64 {
        millis(self.clock.now())
    }

    /// The id's 16-byte digest. Keyed SipHash rather than SHA-256: this
    /// store's digests never leave the process, and two SipHash runs take
    /// a fraction of a SHA-256 per claim and per commit.
    fn digest(&self, key: &str) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.hashers[0].hash_one(key).to_le_bytes());
        out[8..].copy_from_slice(&self.hashers[1].hash_one(key).to_le_bytes());
        out
    }

    /// The synchronous claim; the async trait methods call it.
    pub fn claim_now(&self, key: &str, lease: Duration) -> Claim {
        let digest = self.digest(key);
        let now = self.now_ms();
        let mut map = self.lock();
        if let Some(entry) = map.get(&digest) {
            if entry.expires_ms > now {
                return if entry.token == 0 {
                    Claim::Done
                } else {
                    Claim::InFlight
                };
            }
        }
        let token = Token::new();
        let entry = Entry {
            expires_ms: now.saturating_add(lease.as_millis() as u64),
            token: token.get(),
        };
        if let Some((_, evicted)) = map.push(digest, entry) {
            if evicted.expires_ms > now {
                drop(map);
                let total = self.evicted_live.fetch_add(1, Ordering::Relaxed) + 1;
                crate::metrics::dedupe_evicted_within_retention();
                if self.time_to_warn(now) {
                    tracing::warn!(
                        evicted_within_retention = total,
                        "dedupe memory store is full: ids still inside their retention are being \
                         evicted, so a replay of one would be processed again; raise the capacity \
                         (logged at most once a minute; every eviction is counted)"
                    );
                }
            }
        }
        Claim::New(token)
    }

    /// Whether an eviction at `now` (ms) is to be logged: the first one, then
    /// one per [`EVICTION_WARNING_INTERVAL`]; one caller wins a race.
    fn time_to_warn(&self, now: u64) -> bool {
        let last = self.warned_ms.load(Ordering::Relaxed);
        let interval = EVICTION_WARNING_INTERVAL.as_millis() as u64;
        (last == 0 || now >= last.saturating_add(interval))
            && self
                .warned_ms
                .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    fn commit_now(&self, key: &str, token: Token, retention: Duration) {
        let digest = self.digest(key);
        let now = self.now_ms();
        let done = Entry {
            expires_ms: now.saturating_add(retention.as_millis() as u64),
            token: 0,
        };
        let mut map = self.lock();
        match map.get_mut(&digest) {
            Some(entry) if entry.token == token.get() => *entry = done,
            // Lease expired and nobody claimed since: still remember it.
            Some(entry) if entry.expires_ms <= now => *entry = done,
            Some(_) => {}
            None => {
                map.push(digest, done);
            }
        }
    }

    fn release_now(&self, key: &str, token: Token) {
        let digest = self.digest(key);
        let mut map = self.lock();
        if map.peek(&digest).is_some_and(|e| e.token == token.get()) {
            map.pop(&digest);
        }
    }
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl DedupeStore for MemoryStore {
    async fn claim(&self, key: &str, lease: Duration) -> Result<Claim, StoreError> {
        Ok(self.claim_now(key, lease))
    }

    async fn commit(&self, key: &str, token: Token, retention: Duration) -> Result<(), StoreError> {
        self.commit_now(key, token, retention);
        Ok(())
    }

    async fn release(&self, key: &str, token: Token) -> Result<(), StoreError> {
        self.release_now(key, token);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;

    const LEASE: Duration = Duration::from_secs(60);
    const RETAIN: Duration = Duration::from_secs(3600);

    fn store() -> (MemoryStore, ManualClock) {
        let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_800_000_000));
        (MemoryStore::with_capacity(4).clock(clock.clone()), clock)
    }

    fn token(c: Claim) -> Token {
        match c {
            Claim::New(t) => t,
            other => panic!("expected New, got {other:?}"),
        }
    }

    #[test]
    fn claim_commit_then_duplicate_is_done_until_retention_ends() {
        let (s, clock) = store();
        let t = token(s.claim_now("a", LEASE));
        assert_eq!(s.claim_now("a", LEASE), Claim::InFlight);
        s.commit_now("a", t, RETAIN);
        assert_eq!(s.claim_now("a", LEASE), Claim::Done);
        clock.advance(RETAIN - Duration::from_millis(1));
        assert_eq!(s.claim_now("a", LEASE), Claim::Done);
        clock.advance(Duration::from_millis(1));
        assert!(matches!(s.claim_now("a", LEASE), Claim::New(_)));
    }

    #[test]
    fn release_lets_the_next_delivery_claim() {
        let (s, _) = store();
        let t = token(s.claim_now("a", LEASE));
        s.release_now("a", t);
        assert!(matches!(s.claim_now("a", LEASE), Claim::New(_)));
    }

    #[test]
    fn an_expired_lease_frees_the_id_and_the_old_holder_cannot_touch_the_new_claim() {
        let (s, clock) = store();
        let old = token(s.claim_now("a", LEASE));
        clock.advance(LEASE);
        let new = token(s.claim_now("a", LEASE));
        s.release_now("a", old);
        assert_eq!(
            s.claim_now("a", LEASE),
            Claim::InFlight,
            "old holder released the new claim"
        );
        s.commit_now("a", old, RETAIN);
        assert_eq!(
            s.claim_now("a", LEASE),
            Claim::InFlight,
            "old holder committed the new claim"
        );
        s.commit_now("a", new, RETAIN);
        assert_eq!(s.claim_now("a", LEASE), Claim::Done);
    }

    #[test]
    fn evicting_a_live_id_is_counted_but_evicting_an_expired_one_is_not() {
        let (s, clock) = store();
        for k in ["a", "b", "c", "d"] {
            let t = token(s.claim_now(k, LEASE));
            s.commit_now(k, t, RETAIN);
        }
        assert_eq!(s.evicted_within_retention(), 0);
        let _ = s.claim_now("e", LEASE); // evicts "a", still retained
        assert_eq!(s.evicted_within_retention(), 1);
        clock.advance(RETAIN);
        let _ = s.claim_now("f", LEASE); // evicts "b", expired
        assert_eq!(s.evicted_within_retention(), 1);
        assert_eq!(s.len(), 4);
    }
}
