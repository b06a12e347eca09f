//! What every delivery runs: enqueue (at accept), lease (a worker takes
//! events) and settle (the attempt ends done, due again, or dead). One
//! script each, then the durability wait.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hookgate::inbox::{millis, Enqueued, Leased, NewEvent, RowId, StoredHeaders};
use hookgate::store::{StoreError, Token};

use super::store::{err, flag, RedisInbox, GROUP};
use crate::scripts::{ENQUEUE, LEASE, SETTLE};

/// How an attempt ends, for the settle script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Settle<'a> {
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

impl<'a> Settle<'a> {
    /// The handler succeeded at `now`, within its lease.
    pub(super) fn done(now: SystemTime, keep_body: bool) -> Self {
        Self {
            state: "done",
            set: "done",
            score: millis(now),
            error: "",
            check_lease: true,
            keep_body,
        }
    }

    /// The attempt failed with `error`: due again at `due`.
    pub(super) fn retry(due: SystemTime, error: &'a str) -> Self {
        Self {
            state: "pending",
            set: "delayed",
            score: millis(due),
            error,
            check_lease: false,
            keep_body: false,
        }
    }

    /// The event is given up at `now`, with `error`.
    pub(super) fn dead(now: SystemTime, error: &'a str) -> Self {
        Self {
            state: "dead",
            set: "dead",
            score: millis(now),
            error,
            check_lease: false,
            keep_body: false,
        }
    }
}

/// One leased event as the lease script returns it: id, token, attempt,
/// scheme, body, interrupted (1/0), headers, tenant ('' for none).
type LeaseRow = (RowId, String, u32, String, Vec<u8>, i64, Vec<u8>, String);

/// A lease script row as the worker's [`Leased`]. The interrupted column is
/// 1 when the entry was taken back from a worker whose lease ran out (its
/// attempt never finished).
fn leased((id, token, attempt, scheme, body, interrupted, headers, tenant): LeaseRow) -> Leased {
    Leased {
        id,
        token: Token::from_u64(token.parse().unwrap_or(0)),
        attempt,
        interrupted: interrupted == 1,
        scheme,
        body: Bytes::from(body),
        headers: StoredHeaders::from_stored(Bytes::from(headers)),
        tenant: (!tenant.is_empty()).then_some(tenant),
    }
}

impl RedisInbox {
    /// Enqueue: insert-if-new, on the next enqueue connection in turn, and
    /// `WAITAOF` on that connection.
    pub(super) async fn insert_if_new(&self, event: NewEvent) -> Result<Enqueued, StoreError> {
        let turn = self.next_conn.fetch_add(1, Ordering::Relaxed);
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
            .arg(event.tenant.as_deref().unwrap_or(""))
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

    /// Lease: up to `max` events (at least 1) for `lease`, each with a fresh
    /// token.
    pub(super) async fn lease_batch(
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
        let rows: Vec<LeaseRow> = script.invoke_async(&mut conn).await.map_err(err)?;
        self.durable().await?;
        Ok(rows.into_iter().map(leased).collect())
    }

    /// Settle: ends the attempt `how` says if `token` still holds the event.
    pub(super) async fn settle(
        &self,
        id: RowId,
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
            .arg(flag(how.check_lease))
            .arg(flag(how.keep_body))
            .invoke_async(&mut conn)
            .await
            .map_err(err)?;
        self.durable().await?;
        Ok(done == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_row_becomes_the_workers_leased_event() {
        let headers = b"x-aexo-delivery\0d_1\0".to_vec();
        let row = (
            7,
            "18446744073709551615".to_owned(),
            3,
            "aexo".to_owned(),
            b"{}".to_vec(),
            1,
            headers.clone(),
            "acme".to_owned(),
        );
        let l = leased(row);
        assert_eq!((l.id, l.attempt, l.scheme.as_str()), (7, 3, "aexo"));
        assert_eq!(l.token.get(), u64::MAX);
        assert!(l.interrupted);
        assert_eq!(l.body, Bytes::from_static(b"{}"));
        assert_eq!(l.headers.as_bytes().as_ref(), headers.as_slice());
        assert_eq!(l.tenant.as_deref(), Some("acme"));
        let fresh = leased((
            8,
            "5".to_owned(),
            1,
            "axifi".into(),
            Vec::new(),
            0,
            Vec::new(),
            String::new(),
        ));
        assert!(!fresh.interrupted);
        assert_eq!(fresh.tenant, None, "no tenant: an empty string");
        assert_eq!(fresh.token.get(), 5);
    }

    #[test]
    fn only_a_done_attempt_checks_its_lease_and_may_keep_its_body() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_500);
        let done = Settle::done(t, true);
        assert_eq!((done.state, done.set, done.score), ("done", "done", 1_500));
        assert!(done.check_lease && done.keep_body);
        assert!(!Settle::done(t, false).keep_body);
        let retry = Settle::retry(t, "upstream 500");
        assert_eq!(
            (retry.state, retry.set, retry.error),
            ("pending", "delayed", "upstream 500")
        );
        assert!(!retry.check_lease && !retry.keep_body);
        let dead = Settle::dead(t, "gone");
        assert_eq!((dead.state, dead.set, dead.score), ("dead", "dead", 1_500));
        assert!(!dead.check_lease && !dead.keep_body);
    }
}
