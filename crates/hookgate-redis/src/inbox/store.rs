//! [`RedisInbox`]: connecting, the key names, and the [`InboxStore`] impl,
//! which only routes each call to the hot path or the operator's side.

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hookgate::inbox::{
    Enqueued, EventInfo, InboxStore, Leased, NewEvent, Replay, RowId, State, Stats,
};
use hookgate::store::{StoreError, Token};
use redis::aio::ConnectionManager;

use super::durability::{self, DurabilityCheck};
use super::hot_path::Settle;

/// The stream's consumer group.
pub(super) const GROUP: &str = "hookgate";

pub(super) fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(format!("redis inbox: {e}"))
}

/// A script's or a key's yes/no: `"1"` or `"0"`.
pub(super) fn flag(on: bool) -> &'static str {
    if on {
        "1"
    } else {
        "0"
    }
}

/// Connections a [`RedisInbox`] opens for enqueues by default.
pub const DEFAULT_ENQUEUE_CONNECTIONS: usize = 8;

/// The Redis Streams inbox; see the [module docs](super).
#[derive(Clone)]
pub struct RedisInbox {
    pub(super) conn: ConnectionManager,
    /// Connections for enqueues, taken in turn (see [`DEFAULT_ENQUEUE_CONNECTIONS`]).
    pub(super) enqueue_conns: Arc<[ConnectionManager]>,
    pub(super) next_conn: Arc<AtomicUsize>,
    pub(super) prefix: String,
    pub(super) consumer: String,
    wait_aof: bool,
}

impl std::fmt::Debug for RedisInbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisInbox")
            .field("prefix", &self.prefix)
            .field("wait_aof", &self.wait_aof)
            .finish_non_exhaustive()
    }
}

impl RedisInbox {
    /// Connects to `url`, checks that the server keeps what it acknowledges,
    /// and creates the stream's consumer group. `prefix` names this inbox
    /// (one per route, e.g. `hookgate:inbox:aexo`).
    pub async fn connect(
        url: &str,
        prefix: &str,
        check: DurabilityCheck,
    ) -> Result<Self, StoreError> {
        Self::connect_with(url, prefix, check, DEFAULT_ENQUEUE_CONNECTIONS).await
    }

    /// [`connect`](Self::connect) with `enqueue_connections` connections for
    /// enqueues (at least 1), used in turn. Redis reads a bounded amount
    /// from each connection per event-loop turn and fsyncs the AOF once per
    /// turn, so with 2 KB events one connection carries only a handful per
    /// fsync; several carry more (measured in `hookgate-redis`'s `ack` bench).
    pub async fn connect_with(
        url: &str,
        prefix: &str,
        check: DurabilityCheck,
        enqueue_connections: usize,
    ) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(err)?;
        // Bounded waits: while Redis is away, enqueues fail fast (503) and
        // workers retry, instead of hanging; the manager reconnects by itself.
        let manager = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(1))
            .set_response_timeout(Duration::from_secs(3))
            .set_number_of_retries(1)
            .set_max_delay(200);
        let mut conn = ConnectionManager::new_with_config(client.clone(), manager.clone())
            .await
            .map_err(err)?;
        let wait_aof = durability::check(&mut conn, check).await?;
        let created: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(format!("{prefix}:stream"))
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut conn)
            .await;
        if let Err(e) = created {
            if !e.to_string().contains("BUSYGROUP") {
                return Err(err(e));
            }
        }
        let mut enqueue_conns = vec![conn.clone()];
        for _ in 1..enqueue_connections.max(1) {
            enqueue_conns.push(
                ConnectionManager::new_with_config(client.clone(), manager.clone())
                    .await
                    .map_err(err)?,
            );
        }
        Ok(Self {
            conn,
            enqueue_conns: enqueue_conns.into(),
            next_conn: Arc::default(),
            prefix: prefix.to_owned(),
            consumer: format!("c{:016x}", Token::new().get()),
            wait_aof,
        })
    }

    /// `P:<name>`.
    pub(super) fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }

    /// `P:ev:<id>`, the event's hash.
    pub(super) fn ev(&self, id: RowId) -> String {
        format!("{}:ev:{id}", self.prefix)
    }

    /// [`durable_on`](Self::durable_on) the shared connection.
    pub(super) async fn durable(&self) -> Result<(), StoreError> {
        self.durable_on(&mut self.conn.clone()).await
    }

    /// With `WAITAOF` in use, waits until this server has fsynced the AOF up
    /// to the last write made on `conn`; otherwise the write was fsynced
    /// before Redis answered it (`appendfsync always`).
    pub(super) async fn durable_on(&self, conn: &mut ConnectionManager) -> Result<(), StoreError> {
        if self.wait_aof {
            durability::wait_for_fsync(conn).await?;
        }
        Ok(())
    }
}

impl InboxStore for RedisInbox {
    async fn enqueue(&self, event: NewEvent) -> Result<Enqueued, StoreError> {
        self.insert_if_new(event).await
    }

    async fn lease(
        &self,
        max: usize,
        lease: Duration,
        now: SystemTime,
    ) -> Result<Vec<Leased>, StoreError> {
        self.lease_batch(max, lease, now).await
    }

    async fn complete(
        &self,
        id: RowId,
        token: Token,
        now: SystemTime,
        keep_body: bool,
    ) -> Result<bool, StoreError> {
        self.settle(id, token, now, Settle::done(now, keep_body))
            .await
    }

    async fn reschedule(
        &self,
        id: RowId,
        token: Token,
        due: SystemTime,
        error: &str,
    ) -> Result<bool, StoreError> {
        self.settle(id, token, SystemTime::now(), Settle::retry(due, error))
            .await
    }

    async fn kill(
        &self,
        id: RowId,
        token: Token,
        error: &str,
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        self.settle(id, token, now, Settle::dead(now, error)).await
    }

    async fn stats(&self, now: SystemTime) -> Result<Stats, StoreError> {
        self.counts(now).await
    }

    async fn list(&self, state: Option<State>, limit: usize) -> Result<Vec<EventInfo>, StoreError> {
        self.events(state, limit).await
    }

    async fn show(&self, id: RowId) -> Result<Option<(EventInfo, Bytes)>, StoreError> {
        self.info(id).await
    }

    async fn replay(
        &self,
        which: Replay,
        dry_run: bool,
        now: SystemTime,
    ) -> Result<Vec<RowId>, StoreError> {
        self.revive(which, dry_run, now).await
    }

    async fn set_paused(&self, paused: bool) -> Result<(), StoreError> {
        self.pause(paused).await
    }

    async fn purge_dead(&self, before: SystemTime) -> Result<u64, StoreError> {
        self.purge("dead", before).await
    }

    async fn prune_done(&self, before: SystemTime) -> Result<u64, StoreError> {
        self.purge("done", before).await
    }
}
