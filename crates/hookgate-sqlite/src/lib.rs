#![doc = include_str!("../README.md")]

mod file;

use std::ffi::c_int;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hookgate::inbox::{
    from_millis, millis, Enqueued, EventInfo, InboxStore, Leased, NewEvent, Replay, RowId, State,
    Stats, StoreError, StoredHeaders, Token,
};
use rusqlite::wal::CheckpointMode;
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::oneshot;

/// Runs after the batch's transaction: `true` when it committed.
type Finish = Box<dyn FnOnce(bool) + Send>;

/// A write: runs in the batch's transaction (or, given `None`, answers that
/// the transaction could not begin) and returns what to do after COMMIT.
type WriteFn = Box<dyn FnOnce(Option<&Connection>) -> Finish + Send>;

/// Work for the writer thread: writes go into the batch's transaction;
/// reads run on their own, outside it (they need no write lock, so another
/// process's busy writer cannot starve them).
enum Command {
    /// Given no connection when the transaction could not begin: it then
    /// answers an error without running.
    Write(WriteFn),
    Read(Box<dyn FnOnce(&Connection) + Send>),
}

/// Most commands committed in one transaction.
const MAX_BATCH: usize = 1024;

/// The SQLite inbox; see the crate docs. Cloning is not needed: share it in
/// an `Arc`.
#[derive(Debug)]
pub struct SqliteInbox {
    tx: mpsc::Sender<Command>,
    path: PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  key TEXT NOT NULL UNIQUE,
  scheme TEXT NOT NULL,
  event_id TEXT,
  event_type TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  body BLOB,
  headers BLOB,
  tenant TEXT,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  due_at INTEGER,
  token INTEGER,
  finished_at INTEGER,
  last_error TEXT
);
CREATE INDEX IF NOT EXISTS events_due ON events(state, due_at);
CREATE TABLE IF NOT EXISTS control (name TEXT PRIMARY KEY, value TEXT NOT NULL);
";

/// Files made before the inbox kept request headers, or the tenant of a
/// per-tenant route's events, get those columns (empty for the events
/// already there).
fn add_missing_columns(conn: &Connection) -> rusqlite::Result<()> {
    for (column, kind) in [("headers", "BLOB"), ("tenant", "TEXT")] {
        let has: bool = conn.query_row(
            "SELECT count(*) FROM pragma_table_info('events') WHERE name = ?1",
            [column],
            |r| r.get::<_, i64>(0).map(|n| n > 0),
        )?;
        if !has {
            conn.execute_batch(&format!("ALTER TABLE events ADD COLUMN {column} {kind}"))?;
        }
    }
    Ok(())
}

fn store_error(e: impl std::fmt::Display) -> StoreError {
    StoreError(format!("sqlite: {e}"))
}

impl SqliteInbox {
    /// Opens (or creates) the inbox file at `path`, with group commit.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, true)
    }

    /// Opens the inbox; `group_commit: false` commits each command on its own
    /// (for comparison in the benchmark).
    pub fn open_with(path: impl AsRef<Path>, group_commit: bool) -> Result<Self, StoreError> {
        let path = path.as_ref().to_owned();
        let conn = Connection::open(&path).map_err(store_error)?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(store_error)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(store_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError(format!(
                "sqlite: journal_mode is {mode}, WAL is required"
            )));
        }
        conn.execute_batch("PRAGMA synchronous=FULL;")
            .map_err(store_error)?;
        conn.execute_batch(SCHEMA).map_err(store_error)?;
        add_missing_columns(&conn).map_err(store_error)?;
        let identity = file::FileIdentity::of(&path);
        Self::start(conn, path, group_commit, identity)
    }

    /// Starts the writer thread on `conn`; it checks before each batch of
    /// writes that `identity` (when known) is still the file at its path.
    fn start(
        conn: Connection,
        path: PathBuf,
        group_commit: bool,
        identity: Option<file::FileIdentity>,
    ) -> Result<Self, StoreError> {
        let (tx, rx) = mpsc::channel::<Command>();
        std::thread::Builder::new()
            .name("hookgate-sqlite-writer".into())
            .spawn(move || {
                let mut conn = conn;
                let frames = checkpoint_in_commits(&mut conn);
                writer(conn, rx, group_commit, &frames, identity);
            })
            .map_err(store_error)?;
        Ok(Self { tx, path })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the writer thread inside a transaction; the result is
    /// delivered only once that transaction has committed.
    async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let command = Command::Write(Box::new(move |conn| {
            let result = match conn {
                Some(conn) => f(conn).map_err(store_error),
                None => Err(StoreError("sqlite: could not begin a transaction".into())),
            };
            Box::new(move |committed| {
                let _ = reply.send(match (committed, result) {
                    (true, result) => result,
                    (false, _) => Err(StoreError("sqlite: the transaction did not commit".into())),
                });
            })
        }));
        self.tx
            .send(command)
            .map_err(|_| StoreError("sqlite: the writer thread stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError("sqlite: the writer thread stopped".into()))?
    }

    /// [`call`](Self::call) for a command of several statements: in a
    /// savepoint, so that a statement failing part way undoes the
    /// command's earlier ones instead of committing them with the batch.
    async fn call_atomic<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        self.call(move |conn| {
            conn.execute_batch("SAVEPOINT command")?;
            let result = f(conn);
            if result.is_err() {
                conn.execute_batch("ROLLBACK TO command")?;
            }
            conn.execute_batch("RELEASE command")?;
            result
        })
        .await
    }

    /// Runs the read-only `f` on the writer thread, outside any transaction.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let command = Command::Read(Box::new(move |conn| {
            let _ = reply.send(f(conn).map_err(store_error));
        }));
        self.tx
            .send(command)
            .map_err(|_| StoreError("sqlite: the writer thread stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError("sqlite: the writer thread stopped".into()))?
    }
}

/// WAL frames at which a commit checkpoints before it answers (SQLite's own
/// default): the backstop when the writer is never idle.
const CHECKPOINT_IN_COMMIT: i32 = 1000;
/// WAL frames at which an idle writer checkpoints.
const CHECKPOINT_WHEN_IDLE: i32 = 128;
/// How long without a command counts as idle.
const IDLE: Duration = Duration::from_micros(200);

/// Replaces SQLite's automatic checkpoint (itself a WAL hook) with the same
/// rule (a PASSIVE checkpoint in the commit that brings the WAL to
/// `CHECKPOINT_IN_COMMIT` frames) plus a record of the WAL's size, which
/// the writer reads to checkpoint when idle. Returns that record.
fn checkpoint_in_commits(conn: &mut Connection) -> Arc<AtomicI32> {
    let frames = Arc::new(AtomicI32::new(0));
    let seen = frames.clone();
    let hooked = conn.wal_hook(Some(move |wal: &mut rusqlite::hooks::Wal, n: c_int| {
        seen.store(n, Ordering::Relaxed);
        if n >= CHECKPOINT_IN_COMMIT && wal.checkpoint().is_ok() {
            seen.store(0, Ordering::Relaxed);
        }
        Ok(())
    }));
    if let Err(e) = hooked {
        // SQLite's own automatic checkpoint stays in place.
        tracing::warn!(error = %e, "sqlite inbox: no WAL hook; automatic checkpoints only");
    }
    frames
}

/// The writer thread: runs each batch of commands in one transaction and
/// answers after COMMIT (see [`SqliteInbox`]).
///
/// Checkpoints (copying the WAL into the database file and fsyncing it) are
/// what makes the slowest acknowledgements: one run inside a commit holds
/// every sender waiting on that commit, and on this project's disk a
/// checkpoint of 1,000 frames took about 2.5 ms. So the writer checkpoints
/// when it has been idle for `IDLE` with at least `CHECKPOINT_WHEN_IDLE`
/// frames in the WAL: small checkpoints in the gaps between arrivals, which
/// also keep the WAL short. Under a load that never lets the writer idle,
/// commits checkpoint at `CHECKPOINT_IN_COMMIT` frames, as SQLite would.
fn writer(
    conn: Connection,
    rx: mpsc::Receiver<Command>,
    group_commit: bool,
    frames: &AtomicI32,
    mut identity: Option<file::FileIdentity>,
) {
    loop {
        let first = match rx.recv_timeout(IDLE) {
            Ok(command) => command,
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if frames.load(Ordering::Relaxed) >= CHECKPOINT_WHEN_IDLE {
                    match conn.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE) {
                        Ok(_) => frames.store(0, Ordering::Relaxed),
                        Err(e) => tracing::warn!(error = %e, "sqlite inbox checkpoint failed"),
                    }
                }
                match rx.recv() {
                    Ok(command) => command,
                    Err(_) => return,
                }
            }
        };
        let mut batch = vec![first];
        if group_commit {
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(command) => batch.push(command),
                    Err(_) => break,
                }
            }
        }
        let mut writes = Vec::with_capacity(batch.len());
        for command in batch {
            match command {
                Command::Read(read) => read(&conn),
                Command::Write(write) => writes.push(write),
            }
        }
        if writes.is_empty() {
            continue;
        }
        // A batch that cannot begin (another process holds the write lock
        // past the busy timeout) runs nothing: its commands must not
        // autocommit one by one while their callers hear "failed".
        // Nor one whose file was deleted or replaced: its commits would be lost.
        let began = identity
            .as_mut()
            .is_none_or(file::FileIdentity::still_there)
            && conn.execute_batch("BEGIN IMMEDIATE").is_ok();
        let run = began.then_some(&conn);
        let finishers: Vec<Finish> = writes.into_iter().map(|command| command(run)).collect();
        let committed = began && conn.execute_batch("COMMIT").is_ok();
        if !committed {
            tracing::error!("sqlite inbox transaction failed; its callers get errors");
            let _ = conn.execute_batch("ROLLBACK");
        }
        for finish in finishers {
            finish(committed);
        }
    }
}

fn info(row: &rusqlite::Row<'_>) -> rusqlite::Result<EventInfo> {
    let state: String = row.get("state")?;
    Ok(EventInfo {
        id: row.get("id")?,
        key: row.get("key")?,
        event_id: row.get("event_id")?,
        event_type: row.get("event_type")?,
        state: State::parse(&state).unwrap_or(State::Dead),
        attempts: row.get("attempts")?,
        received_at: from_millis(row.get("received_at")?),
        due_at: row.get::<_, Option<i64>>("due_at")?.map(from_millis),
        last_error: row.get("last_error")?,
    })
}

const INFO_COLUMNS: &str =
    "id, key, event_id, event_type, state, attempts, received_at, due_at, last_error";

fn paused(conn: &Connection) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached("SELECT value FROM control WHERE name = 'paused'")?
        .query_row([], |r| r.get::<_, String>(0))
        .optional()?
        .is_some_and(|v| v == "1"))
}

impl InboxStore for SqliteInbox {
    async fn enqueue(&self, event: NewEvent) -> Result<Enqueued, StoreError> {
        self.call(move |conn| {
            let now = millis(event.received_at);
            let inserted = conn.prepare_cached(
                "INSERT INTO events (key, scheme, event_id, event_type, received_at, body, headers, tenant, state, attempts, due_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', 0, ?5)
                 ON CONFLICT(key) DO NOTHING",
            )?.execute(params![event.key, event.scheme, event.event_id, event.event_type, now, event.body.as_ref(), event.headers.as_bytes().as_ref(), event.tenant])?;
            Ok(if inserted == 1 {
                Enqueued::Stored(conn.last_insert_rowid())
            } else {
                Enqueued::Duplicate
            })
        })
        .await
    }

    async fn lease(
        &self,
        max: usize,
        lease: Duration,
        now: SystemTime,
    ) -> Result<Vec<Leased>, StoreError> {
        self.call_atomic(move |conn| {
            if paused(conn)? {
                return Ok(Vec::new());
            }
            let now = millis(now);
            let until = now.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX));
            let mut due = conn.prepare_cached(
                "SELECT id, state = 'leased' FROM events WHERE state IN ('pending', 'leased') AND due_at <= ?1
                 ORDER BY due_at LIMIT ?2",
            )?;
            // A leased event whose lease has run out: its attempt never finished.
            let ids: Vec<(RowId, bool)> = due
                .query_map(params![now, i64::try_from(max).unwrap_or(i64::MAX)], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?
                .collect::<Result<_, _>>()?;
            let mut leased = Vec::new();
            for (id, interrupted) in ids {
                let token = Token::new();
                let (attempt, scheme, body, headers, tenant): (u32, String, Vec<u8>, Vec<u8>, Option<String>) = conn.prepare_cached(
                    "UPDATE events SET state = 'leased', token = ?1, due_at = ?2, attempts = attempts + 1
                     WHERE id = ?3 RETURNING attempts, scheme, body, headers, tenant",
                )?.query_row(
                    params![token.get() as i64, until, id],
                    |r| Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get::<_, Option<Vec<u8>>>(2)?.unwrap_or_default(),
                        r.get::<_, Option<Vec<u8>>>(3)?.unwrap_or_default(),
                        r.get(4)?,
                    )),
                )?;
                leased.push(Leased {
                    id,
                    token,
                    attempt,
                    interrupted,
                    scheme,
                    body: Bytes::from(body),
                    headers: StoredHeaders::from_stored(Bytes::from(headers)),
                    tenant,
                });
            }
            Ok(leased)
        })
        .await
    }

    async fn complete(
        &self,
        id: RowId,
        token: Token,
        now: SystemTime,
        keep_body: bool,
    ) -> Result<bool, StoreError> {
        self.call(move |conn| {
            // Only the holder, and only while its lease lasts.
            let changed = conn.prepare_cached(
                "UPDATE events SET state = 'done', finished_at = ?1, token = NULL, due_at = NULL, last_error = NULL,
                   body = CASE WHEN ?4 THEN body END, headers = CASE WHEN ?4 THEN headers END
                 WHERE id = ?2 AND state = 'leased' AND token = ?3 AND due_at > ?1",
            )?.execute(params![millis(now), id, token.get() as i64, keep_body])?;
            Ok(changed == 1)
        })
        .await
    }

    async fn reschedule(
        &self,
        id: RowId,
        token: Token,
        due: SystemTime,
        error: &str,
    ) -> Result<bool, StoreError> {
        let error = error.to_owned();
        self.call(move |conn| {
            let changed = conn.prepare_cached(
                "UPDATE events SET state = 'pending', due_at = ?1, token = NULL, last_error = ?2
                 WHERE id = ?3 AND state = 'leased' AND token = ?4",
            )?.execute(params![millis(due), error, id, token.get() as i64])?;
            Ok(changed == 1)
        })
        .await
    }

    async fn kill(
        &self,
        id: RowId,
        token: Token,
        error: &str,
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        let error = error.to_owned();
        self.call(move |conn| {
            let changed = conn.prepare_cached(
                "UPDATE events SET state = 'dead', finished_at = ?1, token = NULL, due_at = NULL, last_error = ?2
                 WHERE id = ?3 AND state = 'leased' AND token = ?4",
            )?.execute(params![millis(now), error, id, token.get() as i64])?;
            Ok(changed == 1)
        })
        .await
    }

    async fn stats(&self, now: SystemTime) -> Result<Stats, StoreError> {
        self.read(move |conn| {
            let mut stats = Stats {
                paused: paused(conn)?,
                ..Stats::default()
            };
            let mut by_state = conn.prepare("SELECT state, COUNT(*) FROM events GROUP BY state")?;
            for row in
                by_state.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
            {
                let (state, n) = row?;
                let n = u64::try_from(n).unwrap_or(0);
                match State::parse(&state) {
                    Some(State::Pending) => stats.pending = n,
                    Some(State::Leased) => stats.leased = n,
                    Some(State::Done) => stats.done = n,
                    Some(State::Dead) => stats.dead = n,
                    None => {}
                }
            }
            let oldest: Option<i64> = conn.query_row(
                "SELECT MIN(received_at) FROM events WHERE state IN ('pending', 'leased')",
                [],
                |r| r.get(0),
            )?;
            stats.oldest_pending = oldest.and_then(|t| now.duration_since(from_millis(t)).ok());
            Ok(stats)
        })
        .await
    }

    async fn list(&self, state: Option<State>, limit: usize) -> Result<Vec<EventInfo>, StoreError> {
        self.read(move |conn| {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let mut stmt = conn.prepare(&format!(
                "SELECT {INFO_COLUMNS} FROM events WHERE (?1 IS NULL OR state = ?1) ORDER BY id DESC LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![state.map(State::as_str), limit], info)?;
            rows.collect()
        })
        .await
    }

    async fn show(&self, id: RowId) -> Result<Option<(EventInfo, Bytes)>, StoreError> {
        self.read(move |conn| {
            conn.query_row(
                &format!("SELECT {INFO_COLUMNS}, body FROM events WHERE id = ?1"),
                params![id],
                |r| {
                    Ok((
                        info(r)?,
                        Bytes::from(r.get::<_, Option<Vec<u8>>>("body")?.unwrap_or_default()),
                    ))
                },
            )
            .optional()
        })
        .await
    }

    async fn replay(
        &self,
        which: Replay,
        dry_run: bool,
        now: SystemTime,
    ) -> Result<Vec<RowId>, StoreError> {
        self.call_atomic(move |conn| {
            let (filter, arg): (&str, i64) = match which {
                Replay::One(id) => ("id = ?1 AND state IN ('done', 'dead')", id),
                Replay::Dead => ("state = 'dead' AND ?1 = ?1", 0),
                Replay::Since(t) => ("state IN ('done', 'dead') AND received_at >= ?1", millis(t)),
            };
            let mut select = conn.prepare(&format!("SELECT id FROM events WHERE {filter} AND body IS NOT NULL ORDER BY id"))?;
            let ids: Vec<RowId> = select.query_map(params![arg], |r| r.get(0))?.collect::<Result<_, _>>()?;
            if !dry_run {
                for id in &ids {
                    conn.execute(
                        "UPDATE events SET state = 'pending', due_at = ?1, attempts = 0, token = NULL,
                         finished_at = NULL, last_error = NULL WHERE id = ?2",
                        params![millis(now), id],
                    )?;
                }
            }
            Ok(ids)
        })
        .await
    }

    async fn set_paused(&self, paused: bool) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO control (name, value) VALUES ('paused', ?1)
                 ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                params![if paused { "1" } else { "0" }],
            )?;
            Ok(())
        })
        .await
    }

    async fn purge_dead(&self, before: SystemTime) -> Result<u64, StoreError> {
        self.delete_finished(State::Dead, before).await
    }

    async fn prune_done(&self, before: SystemTime) -> Result<u64, StoreError> {
        self.delete_finished(State::Done, before).await
    }
}

impl SqliteInbox {
    /// Deletes the events in `state` (done or dead) finished before `before`.
    async fn delete_finished(&self, state: State, before: SystemTime) -> Result<u64, StoreError> {
        self.call(move |conn| {
            let n = conn.execute(
                "DELETE FROM events WHERE state = ?1 AND finished_at < ?2",
                params![state.as_str(), millis(before)],
            )?;
            Ok(n as u64)
        })
        .await
    }
}
