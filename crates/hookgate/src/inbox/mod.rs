//! The durable inbox: acknowledge a delivery once it is stored, then run the
//! handler from the store with retries, dead letters and replay.
//!
//! In the default, synchronous mode the sender waits for the handler. A
//! handler that is slow, or whose dependency is down, makes the sender see
//! 503s and spend its retries. In inbox mode (the [`Inbox`] service) the verified
//! event is written durably (insert-if-new on its dedupe key, one atomic
//! step) and the sender gets 200 at once; [`Workers`] then lease stored
//! events and run the handler, retrying on the [`RetrySchedule`] until it
//! succeeds or the event is declared dead, where an operator can see it and
//! replay it.
//!
//! | the store | the sender gets |
//! |---|---|
//! | took the event | 200 `{"queued":true}` |
//! | already had it (same key) | 200 `{"duplicate":true}`, `hookgate-dedupe: duplicate`; not stored twice |
//! | could not take it | 503 with `Retry-After`; never a 2xx, never a 4xx |
//!
//! A handled event shrinks to a marker (its body is dropped) that keeps a
//! late retry a duplicate until the freshness window has passed; see
//! [`WorkerConfig::keep_done_bodies`] to keep handled events replayable.
//!
//! Stores: `hookgate_sqlite::SqliteInbox` (embedded, one file, group
//! commit; the default) and `hookgate_redis::RedisInbox` (Redis Streams,
//! for several replicas; refuses a server that would lose what it
//! acknowledged).

mod service;
mod stored_headers;
mod worker;

pub use service::Inbox;
pub use stored_headers::StoredHeaders;
pub use worker::{HandlerError, RetrySchedule, WorkerConfig, Workers};

use std::fmt;
use std::future::Future;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

pub use crate::store::{KeySource, StoreError, Token};

/// The store's own id for a stored event (a row, a stream entry), shown by
/// `hookgate inbox list`; not the sender's event id (`event_id`).
pub type RowId = i64;

/// A verified delivery to store.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// The namespaced dedupe key; storing is "insert if this key is new".
    pub key: String,
    /// The scheme's name.
    pub scheme: String,
    /// The sender's event id, where it has one.
    pub event_id: Option<String>,
    /// The event type.
    pub event_type: String,
    /// When the delivery arrived.
    pub received_at: SystemTime,
    /// The verified body.
    pub body: Bytes,
    /// The request's end-to-end headers (signature included).
    pub headers: StoredHeaders,
    /// On a per-tenant route, the tenant whose secrets verified it
    /// ([`VerifiedEvent::tenant`](crate::VerifiedEvent::tenant)); it comes
    /// back with the lease, so the handler knows it on every attempt.
    pub tenant: Option<String>,
}

/// What `enqueue` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Stored (durably, before this is returned) under this id.
    Stored(RowId),
    /// An event with the same key is already stored (pending, done or dead).
    Duplicate,
}

/// Where a stored event is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Waiting for its due time or a worker.
    Pending,
    /// Held by a worker until its lease ends.
    Leased,
    /// The handler succeeded; a marker is kept (without the body, unless
    /// the workers were told to keep done bodies).
    Done,
    /// Given up on: retries exhausted or a permanent failure. Replayable.
    Dead,
}

impl State {
    /// The lowercase name (`pending`, `leased`, `done`, `dead`).
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Leased => "leased",
            State::Done => "done",
            State::Dead => "dead",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s output.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "pending" => State::Pending,
            "leased" => State::Leased,
            "done" => State::Done,
            "dead" => State::Dead,
            _ => return None,
        })
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored event handed to a worker.
#[derive(Debug, Clone)]
pub struct Leased {
    /// The store's id.
    pub id: RowId,
    /// The lease; only its holder can complete, reschedule or kill the event.
    pub token: Token,
    /// This attempt's number (1 for the first).
    pub attempt: u32,
    /// The previous attempt never finished: its worker stopped (the
    /// process was killed, say) or overran its lease, so the handler may
    /// have run for this event already.
    pub interrupted: bool,
    /// The scheme's name.
    pub scheme: String,
    /// The verified body.
    pub body: Bytes,
    /// The headers it arrived with (empty for events stored before hookgate
    /// kept them).
    pub headers: StoredHeaders,
    /// The tenant it was verified for ([`NewEvent::tenant`]; `None` for
    /// events stored before hookgate kept it).
    pub tenant: Option<String>,
}

/// What an operator sees of a stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventInfo {
    /// The store's id.
    pub id: RowId,
    /// The dedupe key.
    pub key: String,
    /// The sender's event id.
    pub event_id: Option<String>,
    /// The event type.
    pub event_type: String,
    /// Its state.
    pub state: State,
    /// Attempts made so far.
    pub attempts: u32,
    /// When it arrived.
    pub received_at: SystemTime,
    /// When it is next due (pending) or its lease ends (leased).
    pub due_at: Option<SystemTime>,
    /// The last failure, if any.
    pub last_error: Option<String>,
}

/// Counts for `hookgate inbox stats` and the metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Waiting.
    pub pending: u64,
    /// Held by workers.
    pub leased: u64,
    /// Finished (markers).
    pub done: u64,
    /// Given up on.
    pub dead: u64,
    /// Age of the oldest pending or leased event.
    pub oldest_pending: Option<Duration>,
    /// Whether workers are paused.
    pub paused: bool,
}

/// Which events to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replay {
    /// One event (done or dead).
    One(RowId),
    /// Every dead event.
    Dead,
    /// Every dead event, and every done event whose body was kept,
    /// received at or after this time.
    Since(SystemTime),
}

/// A durable store for the inbox. Every method is one atomic step.
///
/// Lease tokens make `complete`, `reschedule` and `kill` act only for the
/// worker that holds the event: after a lease expires and another worker
/// leases the event, the first worker's calls return `Ok(false)`.
pub trait InboxStore: Send + Sync + 'static {
    /// Stores `event` if its key is new, durably, before returning.
    fn enqueue(&self, event: NewEvent)
        -> impl Future<Output = Result<Enqueued, StoreError>> + Send;

    /// Leases up to `max` due events (pending and due, or leased with an
    /// expired lease) for `lease`. Nothing while paused.
    fn lease(
        &self,
        max: usize,
        lease: Duration,
        now: SystemTime,
    ) -> impl Future<Output = Result<Vec<Leased>, StoreError>> + Send;

    /// The handler succeeded: the event becomes a done marker. Its body is
    /// dropped unless `keep_body` (then `replay` can still run it again until
    /// the marker is pruned).
    fn complete(
        &self,
        id: RowId,
        token: Token,
        now: SystemTime,
        keep_body: bool,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The attempt failed: due again at `due`.
    fn reschedule(
        &self,
        id: RowId,
        token: Token,
        due: SystemTime,
        error: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Declares the event dead.
    fn kill(
        &self,
        id: RowId,
        token: Token,
        error: &str,
        now: SystemTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Counts by state.
    fn stats(&self, now: SystemTime) -> impl Future<Output = Result<Stats, StoreError>> + Send;

    /// Events in `state` (all when `None`), newest first, at most `limit`.
    fn list(
        &self,
        state: Option<State>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<EventInfo>, StoreError>> + Send;

    /// One event and its body (empty for done markers).
    fn show(
        &self,
        id: RowId,
    ) -> impl Future<Output = Result<Option<(EventInfo, Bytes)>, StoreError>> + Send;

    /// Makes the selected done or dead events pending again (due now); with
    /// `dry_run`, only says which. Done markers whose body was dropped are
    /// not replayable and are left out. Replay does not re-check signatures.
    fn replay(
        &self,
        which: Replay,
        dry_run: bool,
        now: SystemTime,
    ) -> impl Future<Output = Result<Vec<RowId>, StoreError>> + Send;

    /// Pauses or resumes every worker on this store.
    fn set_paused(&self, paused: bool) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes dead events that died before `before`.
    fn purge_dead(
        &self,
        before: SystemTime,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Deletes done markers finished before `before` (keep them at least as
    /// long as the freshness window, so that a late retry stays a duplicate).
    fn prune_done(
        &self,
        before: SystemTime,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// Milliseconds since the Unix epoch (stores keep times as integers).
pub fn millis(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The inverse of [`millis`].
pub fn from_millis(ms: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}
