//! The durable inbox on Redis Streams, for receivers that run as several
//! replicas.
//!
//! Keys under a prefix `P`: `P:stream` (a stream of event ids, consumer
//! group `hookgate`), `P:ev:<id>` (a hash per event), `P:key:<dedupe key>`
//! (insert-if-new), `P:seq`, `P:delayed` (retries, by due time), `P:done`
//! and `P:dead` (by finish time), `P:paused`. Enqueue is one script (the
//! dedupe check, the hash and the `XADD`, one round trip). Workers lease with
//! one script: due retries are moved into the stream, expired leases are
//! taken back with `XAUTOCLAIM`, new entries read with `XREADGROUP`, and
//! each leased event gets a fresh token; `complete`, `reschedule` and `kill`
//! check the token (and `complete` the lease) before `XACK`.
//!
//! It is durable only when Redis is: [`RedisInbox::connect`] reads the
//! server's configuration and refuses `appendonly no`, an `allkeys-*`
//! eviction policy, or `appendfsync` other than `always` unless the server
//! has `WAITAOF` (7.2+), which is then used before every acknowledgement.
//!
//! The code is in four parts: `store` (connecting, keys, and the
//! `InboxStore` impl, which only routes each call), `durability` (the
//! server's persistence settings and `WAITAOF`), `hot_path` (enqueue, lease,
//! settle: what every delivery runs) and `operator` (stats, list, show,
//! replay, pause, purge, prune: what `hookgate inbox` runs). The scripts are
//! in `src/lua/`.

mod durability;
mod hot_path;
mod operator;
mod store;

pub use durability::DurabilityCheck;
pub use store::{RedisInbox, DEFAULT_ENQUEUE_CONNECTIONS};
