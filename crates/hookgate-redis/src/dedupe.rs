//! The dedupe store: claim, commit and release, each one Lua script.

use std::fmt;
use std::time::Duration;

use hookgate::dedupe::{Claim, DedupeStore, StoreError, Token};
use hookgate::ConfigError;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;
use tokio::sync::OnceCell;

use crate::scripts::{CLAIM, COMMIT, RELEASE};

/// Default prefix of every key this store writes.
pub const DEFAULT_KEY_PREFIX: &str = "hookgate:dedupe:";

/// Default bound on one store operation, connection included.
pub const DEFAULT_OP_TIMEOUT: Duration = Duration::from_secs(1);

/// A dedupe store in Redis, shared by every replica of a receiver.
///
/// Each operation is one atomic Lua script (one round trip, `EVALSHA`): a
/// claim is `GET`-or-`SET PX lease`, a commit swaps the holder's in-flight
/// value for a done marker with the retention as TTL, a release deletes the
/// key only while the holder's token is in it.
///
/// The connection is a redis-rs `ConnectionManager`, made on first use and
/// re-established by itself after Redis comes back. Every operation is
/// bounded by [`op_timeout`](Self::op_timeout); an error or a timeout makes
/// the dedupe layer answer 503 (fail closed) unless the route opted in to
/// fail-open.
pub struct RedisStore {
    client: redis::Client,
    conn: OnceCell<ConnectionManager>,
    prefix: String,
    op_timeout: Duration,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password: show only the address.
        let info = self.client.get_connection_info();
        f.debug_struct("RedisStore")
            .field("addr", &info.addr.to_string())
            .field("db", &info.redis.db)
            .field("prefix", &self.prefix)
            .field("op_timeout", &self.op_timeout)
            .field("connected", &self.conn.initialized())
            .finish()
    }
}

impl RedisStore {
    /// A store for the server at `url` (`redis://host:port/db`). Does not
    /// connect yet; a malformed URL is refused here.
    pub fn new(url: &str) -> Result<Self, ConfigError> {
        let client = redis::Client::open(url).map_err(|e| ConfigError::StoreUrl {
            reason: e.to_string(),
        })?;
        Ok(Self {
            client,
            conn: OnceCell::new(),
            prefix: DEFAULT_KEY_PREFIX.to_owned(),
            op_timeout: DEFAULT_OP_TIMEOUT,
        })
    }

    /// Prefix of every key (default `hookgate:dedupe:`), to share a server
    /// with other applications.
    #[must_use]
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Bound on one operation, connecting included (default 1 s).
    #[must_use]
    pub fn op_timeout(mut self, timeout: Duration) -> Self {
        self.op_timeout = timeout;
        self
    }

    /// Connects now, to fail at start rather than on the first delivery.
    pub async fn connect(&self) -> Result<(), StoreError> {
        self.connection().await.map(|_| ())
    }

    async fn connection(&self) -> Result<ConnectionManager, StoreError> {
        let half = self.op_timeout / 2;
        self.conn
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(half)
                    .set_response_timeout(half)
                    .set_number_of_retries(1)
                    .set_max_delay(200);
                ConnectionManager::new_with_config(self.client.clone(), config).await
            })
            .await
            .cloned()
            .map_err(|e| StoreError(format!("connect: {e}")))
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        what: &'static str,
        script: &Script,
        key: &str,
        args: &[&str],
    ) -> Result<T, StoreError> {
        let op = async {
            let mut conn = self.connection().await?;
            let mut invocation = script.prepare_invoke();
            invocation.key(format!("{}{key}", self.prefix));
            for arg in args {
                invocation.arg(*arg);
            }
            invocation
                .invoke_async::<T>(&mut conn)
                .await
                .map_err(|e| StoreError(format!("{what}: {e}")))
        };
        tokio::time::timeout(self.op_timeout, op)
            .await
            .map_err(|_| StoreError(format!("{what}: no answer within {:?}", self.op_timeout)))?
    }
}

fn in_flight_value(token: Token) -> String {
    format!("i:{:016x}", token.get())
}

fn millis(d: Duration) -> String {
    d.as_millis().max(1).to_string()
}

impl DedupeStore for RedisStore {
    async fn claim(&self, key: &str, lease: Duration) -> Result<Claim, StoreError> {
        let token = Token::new();
        let value = in_flight_value(token);
        let current: Option<String> = self
            .run("claim", &CLAIM, key, &[&value, &millis(lease)])
            .await?;
        Ok(match current.as_deref() {
            None => Claim::New(token),
            Some("d") => Claim::Done,
            Some(_) => Claim::InFlight,
        })
    }

    async fn commit(&self, key: &str, token: Token, retention: Duration) -> Result<(), StoreError> {
        let value = in_flight_value(token);
        let done: i64 = self
            .run("commit", &COMMIT, key, &[&value, &millis(retention)])
            .await?;
        if done == 0 {
            tracing::warn!(%key, "commit found another delivery's claim: its lease had expired");
        }
        Ok(())
    }

    async fn release(&self, key: &str, token: Token) -> Result<(), StoreError> {
        let value = in_flight_value(token);
        let _: i64 = self.run("release", &RELEASE, key, &[&value]).await?;
        Ok(())
    }
}
