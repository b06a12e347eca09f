//! The operator's side, what `hookgate inbox` runs: stats, list, show,
//! replay, pause, purge and prune. None of it is on a delivery's path.

use std::collections::HashMap;
use std::time::SystemTime;

use bytes::Bytes;
use hookgate::inbox::{from_millis, millis, EventInfo, Replay, RowId, State, Stats};
use hookgate::store::StoreError;
use redis::Value;

use super::store::{err, flag, RedisInbox, GROUP};
use crate::scripts::{PURGE, REVIVE};

/// An event's hash (`HGETALL P:ev:<id>`) as its [`EventInfo`] and body; `None`
/// for an empty hash (no such event). A missing or unreadable field takes
/// its neutral value (an unknown state reads as dead).
fn decode(id: RowId, h: &HashMap<String, Vec<u8>>) -> Option<(EventInfo, Bytes)> {
    if h.is_empty() {
        return None;
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
    Some((
        info,
        Bytes::from(h.get("body").cloned().unwrap_or_default()),
    ))
}

/// The leased count in `XPENDING`'s summary answer (its first element).
fn pending_count(summary: &[Value]) -> u64 {
    match summary.first() {
        Some(Value::Int(n)) => u64::try_from(*n).unwrap_or(0),
        _ => 0,
    }
}

impl RedisInbox {
    /// One event and its body.
    pub(super) async fn info(&self, id: RowId) -> Result<Option<(EventInfo, Bytes)>, StoreError> {
        let mut conn = self.conn.clone();
        let h: HashMap<String, Vec<u8>> = redis::cmd("HGETALL")
            .arg(self.ev(id))
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        Ok(decode(id, &h))
    }

    /// The newest `limit` ids of a finished set (`dead` or `done`).
    async fn ids(&self, set: &str, limit: usize) -> Result<Vec<RowId>, StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("ZREVRANGE")
            .arg(self.key(set))
            .arg(0)
            .arg(i64::try_from(limit).map_or(-1, |n| n - 1))
            .query_async(&mut conn)
            .await
            .map_err(err)
    }

    /// The ids in the stream (pending or leased), then the delayed retries.
    async fn stream_ids(&self) -> Result<Vec<RowId>, StoreError> {
        let mut conn = self.conn.clone();
        let entries: Vec<(String, Vec<(String, RowId)>)> = redis::cmd("XRANGE")
            .arg(self.key("stream"))
            .arg("-")
            .arg("+")
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        let mut ids: Vec<RowId> = entries
            .into_iter()
            .flat_map(|(_, f)| f.into_iter().map(|(_, id)| id))
            .collect();
        let delayed: Vec<RowId> = redis::cmd("ZRANGE")
            .arg(self.key("delayed"))
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        ids.extend(delayed);
        Ok(ids)
    }

    /// Stats: counts by state, the oldest pending event's age, paused.
    pub(super) async fn counts(&self, now: SystemTime) -> Result<Stats, StoreError> {
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
        let leased = pending_count(&pel);
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

    /// List: events in `state` (all when `None`), newest first, at most `limit`.
    pub(super) async fn events(
        &self,
        state: Option<State>,
        limit: usize,
    ) -> Result<Vec<EventInfo>, StoreError> {
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

    /// Replay: the selected done or dead events that still have their body
    /// become pending, due `now` (with `dry_run`, only named).
    pub(super) async fn revive(
        &self,
        which: Replay,
        dry_run: bool,
        now: SystemTime,
    ) -> Result<Vec<RowId>, StoreError> {
        let candidates: Vec<RowId> = match &which {
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
                .arg(flag(dry_run))
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

    /// Pause or resume every worker on this inbox.
    pub(super) async fn pause(&self, paused: bool) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: () = redis::cmd("SET")
            .arg(self.key("paused"))
            .arg(flag(paused))
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        self.durable().await
    }

    /// Purge (`dead`) or prune (`done`): deletes the set's events finished
    /// before `before`, with their dedupe keys.
    pub(super) async fn purge(&self, set: &str, before: SystemTime) -> Result<u64, StoreError> {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use super::*;

    fn hash(fields: &[(&str, &[u8])]) -> HashMap<String, Vec<u8>> {
        fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
            .collect()
    }

    #[test]
    fn an_event_hash_decodes_every_field() {
        let h = hash(&[
            ("key", b"aexo:wh_1"),
            ("scheme", b"aexo"),
            ("event_id", b"wh_1"),
            ("event_type", b"key.created"),
            ("state", b"pending"),
            ("attempts", b"2"),
            ("received_at", b"1500"),
            ("due_at", b"2500"),
            ("last_error", b"upstream 503"),
            ("body", b"{}"),
        ]);
        let (info, body) = decode(9, &h).unwrap();
        assert_eq!(info.id, 9);
        assert_eq!(info.key, "aexo:wh_1");
        assert_eq!(info.event_id.as_deref(), Some("wh_1"));
        assert_eq!(info.event_type, "key.created");
        assert_eq!(info.state, State::Pending);
        assert_eq!(info.attempts, 2);
        let at = |ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
        assert_eq!(info.received_at, at(1500));
        assert_eq!(info.due_at, Some(at(2500)));
        assert_eq!(info.last_error.as_deref(), Some("upstream 503"));
        assert_eq!(body, Bytes::from_static(b"{}"));
    }

    #[test]
    fn a_done_marker_without_body_or_optional_fields_decodes_to_empty_values() {
        // What the settle script leaves of a done event: no body, no due_at,
        // an empty event id (a sender without ids) and an empty error.
        let h = hash(&[
            ("key", b"sha256:ab"),
            ("event_id", b""),
            ("state", b"done"),
            ("attempts", b"1"),
            ("received_at", b"7"),
            ("last_error", b""),
        ]);
        let (info, body) = decode(1, &h).unwrap();
        assert_eq!(info.state, State::Done);
        assert_eq!(info.event_id, None);
        assert_eq!(info.due_at, None);
        assert_eq!(info.last_error, None);
        assert!(body.is_empty());
    }

    #[test]
    fn unreadable_fields_take_neutral_values_and_an_empty_hash_is_no_event() {
        assert!(decode(1, &HashMap::new()).is_none());
        let h = hash(&[
            ("state", b"exploded"),
            ("attempts", b"-1"),
            ("received_at", b"soon"),
            ("due_at", b"\xff"),
            ("event_type", b"caf\xc3\xa9 \xff"),
        ]);
        let (info, _) = decode(2, &h).unwrap();
        assert_eq!(info.state, State::Dead);
        assert_eq!(info.attempts, 0);
        assert_eq!(info.received_at, SystemTime::UNIX_EPOCH);
        assert_eq!(info.due_at, None);
        assert_eq!(info.event_type, "café \u{fffd}");
    }

    #[test]
    fn the_leased_count_is_the_first_element_of_the_xpending_summary() {
        let summary = [
            Value::Int(3),
            Value::SimpleString("1-0".into()),
            Value::SimpleString("3-0".into()),
            Value::Nil,
        ];
        assert_eq!(pending_count(&summary), 3);
        assert_eq!(pending_count(&[Value::Int(-1)]), 0);
        assert_eq!(pending_count(&[Value::Nil]), 0);
        assert_eq!(pending_count(&[]), 0);
    }
}
