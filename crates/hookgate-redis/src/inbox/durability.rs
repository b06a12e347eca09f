//! Whether the server keeps what it acknowledges: its persistence settings,
//! read once at connect, and the `WAITAOF` wait after each write when the
//! server fsyncs lazily but can be waited on.

use hookgate::store::StoreError;
use redis::aio::ConnectionManager;

use super::store::err;

/// How to treat a server whose configuration cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DurabilityCheck {
    /// Read `CONFIG` and refuse a configuration that can lose events.
    #[default]
    Required,
    /// For managed servers that hide `CONFIG`: trust the operator, and log it.
    TrustOperator,
}

/// Checks the server as `check` says. Answers whether every
/// acknowledgement must first wait for `WAITAOF` (a server with
/// `appendfsync` other than `always`, 7.2 or later).
pub(super) async fn check(
    conn: &mut ConnectionManager,
    check: DurabilityCheck,
) -> Result<bool, StoreError> {
    match check {
        DurabilityCheck::TrustOperator => {
            tracing::warn!(
                "redis inbox: durability not checked (the operator vouches for AOF with fsync)"
            );
            Ok(false)
        }
        DurabilityCheck::Required => {
            refuse_volatile(&config(conn, "appendonly").await?)?;
            refuse_eviction(&config(conn, "maxmemory-policy").await?)?;
            let fsync = config(conn, "appendfsync").await?;
            if fsync == "always" {
                return Ok(false);
            }
            let info: String = redis::cmd("INFO")
                .arg("server")
                .query_async(conn)
                .await
                .map_err(err)?;
            refuse_lazy_fsync(&fsync, &redis_version(&info))?;
            Ok(true)
        }
    }
}

/// Waits until this server has fsynced the AOF up to the last write made on
/// `conn` (`WAITAOF` counts per connection, so it must be the connection
/// that wrote), for at most 2 s.
pub(super) async fn wait_for_fsync(conn: &mut ConnectionManager) -> Result<(), StoreError> {
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
    Ok(())
}

/// One setting, through `CONFIG GET`. A server that refuses the command
/// cannot be checked: the error says how an operator vouches for it.
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
    config_value(name, pair)
}

/// The value in `CONFIG GET`'s answer `[name, value]`.
fn config_value(name: &str, pair: Vec<String>) -> Result<String, StoreError> {
    pair.get(1)
        .cloned()
        .ok_or_else(|| err(format!("CONFIG GET {name} returned nothing")))
}

/// Without the append-only file, a restart loses what was acknowledged.
fn refuse_volatile(appendonly: &str) -> Result<(), StoreError> {
    if appendonly != "yes" {
        return Err(err(format!(
            "the server has appendonly {appendonly}: acknowledged events would be lost on a restart; \
             set appendonly yes (and appendfsync always)"
        )));
    }
    Ok(())
}

/// An `allkeys-*` policy may evict an event's keys; `volatile-*` evicts only
/// keys with a TTL, and the inbox sets none.
fn refuse_eviction(policy: &str) -> Result<(), StoreError> {
    if policy.starts_with("allkeys-") {
        return Err(err(format!(
            "the server has maxmemory-policy {policy}: it may evict stored events; use noeviction"
        )));
    }
    Ok(())
}

/// `appendfsync` other than `always` is acceptable only where `WAITAOF`
/// (7.2+) can wait for the fsync.
fn refuse_lazy_fsync(fsync: &str, version: &str) -> Result<(), StoreError> {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if (major, minor) < (7, 2) {
        return Err(err(format!(
            "the server has appendfsync {fsync} and is {version} (no WAITAOF): an acknowledged \
             event could be lost; set appendfsync always"
        )));
    }
    Ok(())
}

/// `redis_version` from `INFO server`, `"0"` when absent.
fn redis_version(info: &str) -> String {
    info.lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .unwrap_or("0")
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_config_answer_gives_its_value_and_an_empty_one_names_the_setting() {
        let pair = vec!["appendonly".to_owned(), "yes".to_owned()];
        assert_eq!(config_value("appendonly", pair).unwrap(), "yes");
        let e = config_value("appendfsync", Vec::new()).unwrap_err();
        assert_eq!(e.0, "redis inbox: CONFIG GET appendfsync returned nothing");
    }

    #[test]
    fn only_appendonly_yes_passes() {
        assert!(refuse_volatile("yes").is_ok());
        for value in ["no", "", "YES"] {
            let e = refuse_volatile(value).unwrap_err().0;
            assert!(e.contains(&format!("appendonly {value}:")), "{e}");
        }
    }

    #[test]
    fn only_policies_that_may_evict_any_key_are_refused() {
        for policy in ["noeviction", "volatile-lru", "volatile-ttl", "volatile-lfu"] {
            assert!(refuse_eviction(policy).is_ok(), "{policy}");
        }
        for policy in ["allkeys-lru", "allkeys-lfu", "allkeys-random"] {
            let e = refuse_eviction(policy).unwrap_err().0;
            assert!(e.contains(&format!("maxmemory-policy {policy}")), "{e}");
        }
    }

    #[test]
    fn the_version_is_read_from_info_server_with_its_crlf_lines() {
        let info = "# Server\r\nredis_version:7.0.15\r\nredis_git_sha1:00000000\r\n";
        assert_eq!(redis_version(info), "7.0.15");
        assert_eq!(redis_version("# Server\r\nredis_mode:standalone\r\n"), "0");
        assert_eq!(redis_version(""), "0");
    }

    #[test]
    fn a_lazy_fsync_passes_from_redis_7_2_on_where_waitaof_exists() {
        for version in ["7.2.0", "7.2.4", "7.4.1", "8.0.0", "10.0.1"] {
            assert!(refuse_lazy_fsync("everysec", version).is_ok(), "{version}");
        }
        for version in ["7.0.15", "6.2.14", "7", "0", "", "seven"] {
            let e = refuse_lazy_fsync("everysec", version).unwrap_err().0;
            assert!(
                e.contains(&format!(
                    "appendfsync everysec and is {version} (no WAITAOF)"
                )),
                "{e}"
            );
        }
    }
}
