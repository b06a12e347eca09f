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

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hookgate::dedupe::{StoreError, Token};
use hookgate::inbox::{
    from_millis, millis, Enqueued, EventId, EventInfo, InboxStore, Leased, NewEvent, Replay, State,
    Stats, StoredHeaders,
};
use redis::aio::ConnectionManager;
use std::sync::LazyLock;

use redis::{Script, Value};

const GROUP: &str = "hookgate";

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(format!("redis inbox: {e}"))
}

/// Connections a [`RedisInbox`] opens for enqueues by default.
pub const DEFAULT_ENQUEUE_CONNECTIONS: usize = 8;

/// The Redis Streams inbox; see the [module docs](self).
#[derive(Clone)]
pub struct RedisInbox {
    conn: ConnectionManager,
    /// Connections for enqueues, taken in turn (see [`DEFAULT_ENQUEUE_CONNECTIONS`]).
    enqueue_conns: std::sync::Arc<[ConnectionManager]>,
    next_conn: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    prefix: String,
    consumer: String,
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

/// How to treat a server whose configuration cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DurabilityCheck {
    /// Read `CONFIG` and refuse a configuration that can lose events.
    #[default]
    Required,
    /// For managed servers that hide `CONFIG`: trust the operator, and log it.
    TrustOperator,
}

async fn config(conn: &mut ConnectionManager, name: &str) -> Result<String, StoreError> {
    let pair: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg(name)
        .query_async(conn)
        .await
        .map_err(|e| {
            err(format!(
                "cannot read the server's configuration ({e}), so cannot check that it keeps what it \
                 acknowledges (appendonly yes, appendfsync always, no allkeys-* eviction); on a managed \
                 server that hides CONFIG and guarantees those, connect with DurabilityCheck::TrustOperator \
                 (hookgate serve: trust_operator = true in [inbox])"
            ))
        })?;
    pair.get(1)
        .cloned()
        .ok_or_else(|| err(format!("CONFIG GET {name} returned nothing")))
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
    /// fsync; several carry more (measured in the `inbox_ack_redis` bench).
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
        let mut wait_aof = false;
        match check {
            DurabilityCheck::TrustOperator => {
                tracing::warn!(
                    "redis inbox: durability not checked (the operator vouches for AOF with fsync)"
                );
            }
            DurabilityCheck::Required => {
                let appendonly = config(&mut conn, "appendonly").await?;
                if appendonly != "yes" {
                    return Err(err(format!(
                        "the server has appendonly {appendonly}: acknowledged events would be lost on a restart; \
                         set appendonly yes (and appendfsync always)"
                    )));
                }
                let policy = config(&mut conn, "maxmemory-policy").await?;
                if policy.starts_with("allkeys-") {
                    return Err(err(format!(
                        "the server has maxmemory-policy {policy}: it may evict stored events; use noeviction"
                    )));
                }
                let fsync = config(&mut conn, "appendfsync").await?;
                if fsync != "always" {
                    let info: String = redis::cmd("INFO")
                        .arg("server")
                        .query_async(&mut conn)
                        .await
                        .map_err(err)?;
                    let version = info
                        .lines()
                        .find_map(|l| l.strip_prefix("redis_version:"))
                        .unwrap_or("0")
                        .trim()
                        .to_owned();
                    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
                    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
                    if (major, minor) < (7, 2) {
                        return Err(err(format!(
                            "the server has appendfsync {fsync} and is {version} (no WAITAOF): an acknowledged \
                             event could be lost; set appendfsync always"
                        )));
                    }
                    wait_aof = true;
                }
            }
        }
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
            next_conn: std::sync::Arc::default(),
            prefix: prefix.to_owned(),
            consumer: format!("c{:016x}", Token::new().get()),
            wait_aof,
        })
    }

    fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }

    fn ev(&self, id: EventId) -> String {
        format!("{}:ev:{id}", self.prefix)
    }

    async fn durable(&self) -> Result<(), StoreError> {
        self.durable_on(&mut self.conn.clone()).await
    }

    /// With `WAITAOF` in use, waits until this server has fsynced the AOF up
    /// to the last write made on `conn` (`WAITAOF` counts per connection, so
    /// it must be the connection that wrote).
    async fn durable_on(&self, conn: &mut ConnectionManager) -> Result<(), StoreError> {
        if self.wait_aof {
            let (local, _replicas): (i64, i64) = redis::cmd("WAITAOF")
                .arg(1)
                .arg(0)
                .arg(2000)
                .query_async(conn)
                .await
                .map_err(err)?;
            if local < 1 {
                return Err(err("the server did not fsync its AOF within 2 s (WAITAOF)"));
            }
        }
        Ok(())
    }

    async fn info(&self, id: EventId) -> Result<Option<(EventInfo, Bytes)>, StoreError> {
        let mut conn = self.conn.clone();
        let h: HashMap<String, Vec<u8>> = redis::cmd("HGETALL")
            .arg(self.ev(id))
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        if h.is_empty() {
            return Ok(None);
        }
        let text = |k: &str| {
            h.get(k)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default()
        };
        let num = |k: &str| text(k).parse::<i64>().ok();
        let info = EventInfo {
            id,
            key: text("key"),
            event_id: Some(text("event_id")).filter(|s| !s.is_empty()),
            event_type: text("event_type"),
            state: State::parse(&text("state")).unwrap_or(State::Dead),
            attempts: num("attempts")
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0),
            received_at: from_millis(num("received_at").unwrap_or(0)),
            due_at: num("due_at").map(from_millis),
            last_error: Some(text("last_error")).filter(|s| !s.is_empty()),
        };
        Ok(Some((
            info,
            Bytes::from(h.get("body").cloned().unwrap_or_default()),
        )))
    }

    async fn ids(&self, set: &str, limit: usize) -> Result<Vec<EventId>, StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("ZREVRANGE")
            .arg(self.key(set))
            .arg(0)
            .arg(i64::try_from(limit).map_or(-1, |n| n - 1))
            .query_async(&mut conn)
            .await
            .map_err(err)
    }

    async fn stream_ids(&self) -> Result<Vec<EventId>, StoreError> {
        let mut conn = self.conn.clone();
        let entries: Vec<(String, Vec<(String, EventId)>)> = redis::cmd("XRANGE")
            .arg(self.key("stream"))
            .arg("-")
            .arg("+")
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        let mut ids: Vec<EventId> = entries
            .into_iter()
            .flat_map(|(_, f)| f.into_iter().map(|(_, id)| id))
            .collect();
        let delayed: Vec<EventId> = redis::cmd("ZRANGE")
            .arg(self.key("delayed"))
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        ids.extend(delayed);
        Ok(ids)
    }
}

const ENQUEUE_LUA: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local id = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], id)
redis.call('HSET', ARGV[1] .. ':ev:' .. id, 'key', ARGV[2], 'scheme', ARGV[3], 'event_id', ARGV[4],
  'event_type', ARGV[5], 'received_at', ARGV[6], 'body', ARGV[7], 'headers', ARGV[8], 'state', 'pending',
  'attempts', 0, 'due_at', ARGV[6])
redis.call('XADD', KEYS[3], '*', 'ev', id)
return id";

const LEASE_LUA: &str = r"
if redis.call('GET', KEYS[3]) == '1' then return {} end
local now = tonumber(ARGV[4])
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 100)
for _, id in ipairs(due) do
  redis.call('XADD', KEYS[1], '*', 'ev', id)
  redis.call('ZREM', KEYS[2], id)
end
local max = tonumber(ARGV[6])
local entries = {}
local claimed = redis.call('XAUTOCLAIM', KEYS[1], ARGV[2], ARGV[3], ARGV[5], '0-0', 'COUNT', max)
for _, e in ipairs(claimed[2]) do if e then table.insert(entries, e) end end
if #entries < max then
  local r = redis.call('XREADGROUP', 'GROUP', ARGV[2], ARGV[3], 'COUNT', max - #entries, 'STREAMS', KEYS[1], '>')
  if r then for _, e in ipairs(r[1][2]) do table.insert(entries, e) end end
end
local out = {}
for _, e in ipairs(entries) do
  local entry, id = e[1], e[2][2]
  local ev = ARGV[1] .. ':ev:' .. id
  local state = redis.call('HGET', ev, 'state')
  if (state == 'pending' or state == 'leased') and #out < max then
    local token = ARGV[7 + #out]
    local attempts = redis.call('HINCRBY', ev, 'attempts', 1)
    redis.call('HSET', ev, 'state', 'leased', 'token', token, 'due_at', now + tonumber(ARGV[5]), 'entry', entry)
    table.insert(out, {id, token, attempts, redis.call('HGET', ev, 'scheme'), redis.call('HGET', ev, 'body'),
      state == 'leased' and 1 or 0, redis.call('HGET', ev, 'headers') or ''})
  else
    redis.call('XACK', KEYS[1], ARGV[2], entry)
    redis.call('XDEL', KEYS[1], entry)
  end
end
return out";

/// KEYS: ev, stream, target set (done / delayed / dead). ARGV: token, now,
/// group, id, new state, score, error, lease check (1/0), keep the body of a
/// done event (1/0).
const SETTLE_LUA: &str = r"
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
if ARGV[8] == '1' and (tonumber(redis.call('HGET', KEYS[1], 'due_at')) or 0) <= tonumber(ARGV[2]) then return 0 end
local entry = redis.call('HGET', KEYS[1], 'entry')
if entry then
  redis.call('XACK', KEYS[2], ARGV[3], entry)
  redis.call('XDEL', KEYS[2], entry)
end
redis.call('HSET', KEYS[1], 'state', ARGV[5], 'token', '', 'last_error', ARGV[7])
if ARGV[5] == 'pending' then
  redis.call('HSET', KEYS[1], 'due_at', ARGV[6])
else
  redis.call('HSET', KEYS[1], 'finished_at', ARGV[2])
  redis.call('HDEL', KEYS[1], 'due_at')
  if ARGV[5] == 'done' and ARGV[9] ~= '1' then redis.call('HDEL', KEYS[1], 'body', 'headers') end
end
redis.call('ZADD', KEYS[3], ARGV[6], ARGV[4])
return 1";

/// KEYS: ev, stream, dead, done. ARGV: id, now, dry.
const REVIVE_LUA: &str = r"
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'done' and state ~= 'dead' then return 0 end
if redis.call('HEXISTS', KEYS[1], 'body') == 0 then return 0 end
if ARGV[3] == '1' then return 1 end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('HSET', KEYS[1], 'state', 'pending', 'attempts', 0, 'due_at', ARGV[2], 'token', '', 'last_error', '')
redis.call('HDEL', KEYS[1], 'finished_at')
redis.call('XADD', KEYS[2], '*', 'ev', ARGV[1])
return 1";

/// KEYS: the set (dead / done). ARGV: prefix, before.
const PURGE_LUA: &str = r"
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2])
for _, id in ipairs(ids) do
  local ev = ARGV[1] .. ':ev:' .. id
  local key = redis.call('HGET', ev, 'key')
  if key then redis.call('DEL', ARGV[1] .. ':key:' .. key) end
  redis.call('DEL', ev)
  redis.call('ZREM', KEYS[1], id)
end
return #ids";

// Each script's SHA-1 is computed once, not on every call (as the dedupe
// store's scripts in lib.rs).
static ENQUEUE: LazyLock<Script> = LazyLock::new(|| Script::new(ENQUEUE_LUA));
static LEASE: LazyLock<Script> = LazyLock::new(|| Script::new(LEASE_LUA));
static SETTLE: LazyLock<Script> = LazyLock::new(|| Script::new(SETTLE_LUA));
static REVIVE: LazyLock<Script> = LazyLock::new(|| Script::new(REVIVE_LUA));
static PURGE: LazyLock<Script> = LazyLock::new(|| Script::new(PURGE_LUA));

/// How an attempt ends, for the SETTLE script.
struct Settle<'a> {
    /// The new state: `done`, `pending` (a retry) or `dead`.
    state: &'static str,
    /// The sorted set it goes into: `done`, `delayed` or `dead`.
    set: &'static str,
    /// Its score there: finish time, or due time for a retry.
    score: i64,
    error: &'a str,
    /// Whether the lease must still be running (only for `done`).
    check_lease: bool,
    /// Whether a done event keeps its body.
    keep_body: bool,
}

impl RedisInbox {
    async fn settle(
        &self,
        id: EventId,
        token: Token,
        now: SystemTime,
        how: Settle<'_>,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let done: i64 = SETTLE
            .key(self.ev(id))
            .key(self.key("stream"))
            .key(self.key(how.set))
            .arg(token.get().to_string())
            .arg(millis(now))
            .arg(GROUP)
            .arg(id)
            .arg(how.state)
            .arg(how.score)
            .arg(how.error)
            .arg(if how.check_lease { "1" } else { "0" })
            .arg(if how.keep_body { "1" } else { "0" })
            .invoke_async(&mut conn)
            .await
            .map_err(err)?;
        self.durable().await?;
        Ok(done == 1)
    }
}

/// One leased event as the lease script returns it: id, token, attempt,
/// scheme, body, interrupted (1/0), headers.
type LeaseRow = (EventId, String, u32, String, Vec<u8>, i64, Vec<u8>);

impl InboxStore for RedisInbox {
    async fn enqueue(&self, event: NewEvent) -> Result<Enqueued, StoreError> {
        let turn = self
            .next_conn
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut conn = self.enqueue_conns[turn % self.enqueue_conns.len()].clone();
        let id: i64 = ENQUEUE
            .key(format!("{}:key:{}", self.prefix, event.key))
            .key(self.key("seq"))
            .key(self.key("stream"))
            .arg(&self.prefix)
            .arg(&event.key)
            .arg(&event.scheme)
            .arg(event.event_id.as_deref().unwrap_or(""))
            .arg(&event.event_type)
            .arg(millis(event.received_at))
            .arg(event.body.as_ref())
            .arg(event.headers.as_bytes().as_ref())
            .invoke_async(&mut conn)
            .await
            .map_err(err)?;
        self.durable_on(&mut conn).await?;
        Ok(if id == 0 {
            Enqueued::Duplicate
        } else {
            Enqueued::Stored(id)
        })
    }

    async fn lease(
        &self,
        max: usize,
        lease: Duration,
        now: SystemTime,
    ) -> Result<Vec<Leased>, StoreError> {
        let mut conn = self.conn.clone();
        let tokens: Vec<Token> = (0..max.max(1)).map(|_| Token::new()).collect();
        let mut script = LEASE.prepare_invoke();
        script
            .key(self.key("stream"))
            .key(self.key("delayed"))
            .key(self.key("paused"))
            .arg(&self.prefix)
            .arg(GROUP)
            .arg(&self.consumer)
            .arg(millis(now))
            .arg(lease.as_millis().max(1).to_string())
            .arg(max.max(1));
        for t in &tokens {
            script.arg(t.get().to_string());
        }
        // The last column: 1 when the entry was taken back from a worker
        // whose lease ran out (its attempt never finished).
        let rows: Vec<LeaseRow> = script.invoke_async(&mut conn).await.map_err(err)?;
        self.durable().await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, token, attempt, scheme, body, interrupted, headers)| Leased {
                    id,
                    token: Token::from_u64(token.parse().unwrap_or(0)),
                    attempt,
                    interrupted: interrupted == 1,
                    scheme,
                    body: Bytes::from(body),
                    headers: StoredHeaders::from_stored(Bytes::from(headers)),
                },
            )
            .collect())
    }

    async fn complete(
        &self,
        id: EventId,
        token: Token,
        now: SystemTime,
        keep_body: bool,
    ) -> Result<bool, StoreError> {
        let how = Settle {
            state: "done",
            set: "done",
            score: millis(now),
            error: "",
            check_lease: true,
            keep_body,
        };
        self.settle(id, token, now, how).await
    }

    async fn reschedule(
        &self,
        id: EventId,
        token: Token,
        due: SystemTime,
        error: &str,
    ) -> Result<bool, StoreError> {
        let how = Settle {
            state: "pending",
            set: "delayed",
            score: millis(due),
            error,
            check_lease: false,
            keep_body: false,
        };
        self.settle(id, token, SystemTime::now(), how).await
    }

    async fn kill(
        &self,
        id: EventId,
        token: Token,
        error: &str,
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        let how = Settle {
            state: "dead",
            set: "dead",
            score: millis(now),
            error,
            check_lease: false,
            keep_body: false,
        };
        self.settle(id, token, now, how).await
    }

    async fn stats(&self, now: SystemTime) -> Result<Stats, StoreError> {
        let mut conn = self.conn.clone();
        let stream = self.key("stream");
        let len: u64 = redis::cmd("XLEN")
            .arg(&stream)
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        let pel: Vec<Value> = redis::cmd("XPENDING")
            .arg(&stream)
            .arg(GROUP)
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        let leased = match pel.first() {
            Some(Value::Int(n)) => u64::try_from(*n).unwrap_or(0),
            _ => 0,
        };
        let card = |set: &str| redis::cmd("ZCARD").arg(self.key(set)).clone();
        let delayed: u64 = card("delayed").query_async(&mut conn).await.map_err(err)?;
        let done: u64 = card("done").query_async(&mut conn).await.map_err(err)?;
        let dead: u64 = card("dead").query_async(&mut conn).await.map_err(err)?;
        let paused: Option<String> = redis::cmd("GET")
            .arg(self.key("paused"))
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        let mut oldest = None;
        for id in self.stream_ids().await?.into_iter().take(1) {
            if let Some((info, _)) = self.info(id).await? {
                oldest = now.duration_since(info.received_at).ok();
            }
        }
        Ok(Stats {
            pending: len.saturating_sub(leased) + delayed,
            leased,
            done,
            dead,
            oldest_pending: oldest,
            paused: paused.as_deref() == Some("1"),
        })
    }

    async fn list(&self, state: Option<State>, limit: usize) -> Result<Vec<EventInfo>, StoreError> {
        let mut ids = match state {
            Some(State::Dead) => self.ids("dead", limit).await?,
            Some(State::Done) => self.ids("done", limit).await?,
            Some(State::Pending | State::Leased) => self.stream_ids().await?,
            None => {
                let mut all = self.stream_ids().await?;
                all.extend(self.ids("dead", limit).await?);
                all.extend(self.ids("done", limit).await?);
                all
            }
        };
        ids.sort_unstable_by(|a, b| b.cmp(a));
        ids.dedup();
        let mut out = Vec::new();
        for id in ids {
            if out.len() >= limit {
                break;
            }
            if let Some((info, _)) = self.info(id).await? {
                if state.is_none_or(|s| s == info.state) {
                    out.push(info);
                }
            }
        }
        Ok(out)
    }

    async fn show(&self, id: EventId) -> Result<Option<(EventInfo, Bytes)>, StoreError> {
        self.info(id).await
    }

    async fn replay(
        &self,
        which: Replay,
        dry_run: bool,
        now: SystemTime,
    ) -> Result<Vec<EventId>, StoreError> {
        let candidates: Vec<EventId> = match &which {
            Replay::One(id) => vec![*id],
            Replay::Dead => self.ids("dead", usize::MAX).await?,
            Replay::Since(_) => {
                let mut all = self.ids("dead", usize::MAX).await?;
                all.extend(self.ids("done", usize::MAX).await?);
                all
            }
        };
        let mut replayed = Vec::new();
        for id in candidates {
            if let Replay::Since(t) = which {
                match self.info(id).await? {
                    Some((info, _)) if info.received_at >= t => {}
                    _ => continue,
                }
            }
            let mut conn = self.conn.clone();
            let ok: i64 = REVIVE
                .key(self.ev(id))
                .key(self.key("stream"))
                .key(self.key("dead"))
                .key(self.key("done"))
                .arg(id)
                .arg(millis(now))
                .arg(if dry_run { "1" } else { "0" })
                .invoke_async(&mut conn)
                .await
                .map_err(err)?;
            if ok == 1 {
                replayed.push(id);
            }
        }
        replayed.sort_unstable();
        self.durable().await?;
        Ok(replayed)
    }

    async fn set_paused(&self, paused: bool) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: () = redis::cmd("SET")
            .arg(self.key("paused"))
            .arg(if paused { "1" } else { "0" })
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        self.durable().await
    }

    async fn purge_dead(&self, before: SystemTime) -> Result<u64, StoreError> {
        self.purge("dead", before).await
    }

    async fn prune_done(&self, before: SystemTime) -> Result<u64, StoreError> {
        self.purge("done", before).await
    }
}

impl RedisInbox {
    async fn purge(&self, set: &str, before: SystemTime) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        let n: u64 = PURGE
            .key(self.key(set))
            .arg(&self.prefix)
            .arg(millis(before))
            .invoke_async(&mut conn)
            .await
            .map_err(err)?;
        self.durable().await?;
        Ok(n)
    }
}
