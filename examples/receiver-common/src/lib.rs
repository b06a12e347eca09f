//! What the example receivers share, so that each example's `main.rs` shows
//! only its framework's wiring: arguments, secrets from the environment (or
//! the documented development secrets behind `--dev-secrets`), logging, and
//! what a handler does with each event (it logs it).

use std::net::SocketAddr;

use hookgate::events::{AexoEvent, AxifiEvent};
use hookgate::scheme::{Aexo, Axifi};
use hookgate::{Delivery, Secrets, Verifier};

/// The development secrets `--dev-secrets` uses (documented in the README).
pub const DEV_AEXO_SECRET: &str = "hookgate-dev-aexo-secret";
/// The AXIFI development secret.
pub const DEV_AXIFI_SECRET: &str = "hookgate-dev-axifi-secret";

/// Command-line options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Fall back to the development secrets.
    pub dev_secrets: bool,
    /// Where to listen.
    pub addr: SocketAddr,
    /// Inbox mode: the folder of the SQLite inbox files (one per route).
    pub inbox: Option<std::path::PathBuf>,
    /// Where to serve Prometheus metrics, if anywhere.
    pub metrics: Option<SocketAddr>,
    /// `--header-read-timeout SECS`: how long a request head may take.
    pub header_read_timeout: Option<std::time::Duration>,
    /// `--idle-timeout SECS`: how long a connection may stay idle.
    pub idle_timeout: Option<std::time::Duration>,
    /// `--max-connections N`: how many connections may be open at once.
    pub max_connections: Option<usize>,
}

fn seconds(flag: &str, value: Option<String>) -> Result<std::time::Duration, String> {
    let value = value.ok_or_else(|| format!("{flag} needs a number of seconds"))?;
    match value.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs <= 3600.0 => Ok(std::time::Duration::from_secs_f64(secs)),
        _ => Err(format!(
            "{flag} {value}: give seconds, above 0 and at most 3600"
        )),
    }
}

/// Parses `--dev-secrets`, `--addr HOST:PORT` (default 127.0.0.1:3000) and
/// `--inbox` (acknowledge once stored in `./hookgate-inbox/`; another folder
/// with `--inbox-dir DIR`), `--metrics-addr HOST:PORT`, and the connection
/// bounds `--header-read-timeout SECS`, `--idle-timeout SECS`,
/// `--max-connections N` (defaults: hookgate's server defaults).
pub fn parse_args(program: &str) -> Result<Options, String> {
    let usage =
        format!("usage: {program} [--dev-secrets] [--addr HOST:PORT] [--inbox [--inbox-dir DIR]] [--metrics-addr HOST:PORT] \
         [--header-read-timeout SECS] [--idle-timeout SECS] [--max-connections N]");
    let mut options = Options {
        dev_secrets: false,
        addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
        inbox: None,
        metrics: None,
        header_read_timeout: None,
        idle_timeout: None,
        max_connections: None,
    };
    let mut inbox_dir = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dev-secrets" => options.dev_secrets = true,
            "--addr" => {
                let value = args.next().ok_or("--addr needs HOST:PORT")?;
                options.addr = value.parse().map_err(|e| format!("--addr {value}: {e}"))?;
            }
            "--metrics-addr" => {
                let value = args.next().ok_or("--metrics-addr needs HOST:PORT")?;
                options.metrics = Some(
                    value
                        .parse()
                        .map_err(|e| format!("--metrics-addr {value}: {e}"))?,
                );
            }
            "--header-read-timeout" => {
                options.header_read_timeout = Some(seconds(&arg, args.next())?);
            }
            "--idle-timeout" => options.idle_timeout = Some(seconds(&arg, args.next())?),
            "--max-connections" => {
                let value = args.next().ok_or("--max-connections needs a number")?;
                options.max_connections = match value.parse::<usize>() {
                    Ok(n) if n > 0 => Some(n),
                    _ => {
                        return Err(format!(
                            "--max-connections {value}: give a whole number above 0"
                        ))
                    }
                };
            }
            "--inbox" => options.inbox = Some("hookgate-inbox".into()),
            "--inbox-dir" => inbox_dir = Some(args.next().ok_or("--inbox-dir needs a folder")?),
            "-h" | "--help" => return Err(usage),
            other => return Err(format!("unknown argument {other}\n{usage}")),
        }
    }
    if let Some(dir) = inbox_dir {
        options.inbox = Some(dir.into());
    }
    Ok(options)
}

/// The inbox file of one route, creating the folder.
pub fn inbox_file(dir: &std::path::Path, route: &str) -> Result<std::path::PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir.join(format!("{route}.sqlite3")))
}

/// How the examples' inbox workers run: 2 workers, the default retry
/// schedule, a lease of `HOOKGATE_INBOX_LEASE_SECS` (default 120 s: how
/// long an event held by a crashed process waits before another worker
/// takes it) and attempts bounded by half of it.
pub fn worker_config() -> Result<hookgate::inbox::WorkerConfig, String> {
    let lease_secs: u64 = match std::env::var("HOOKGATE_INBOX_LEASE_SECS") {
        Ok(v) => v
            .parse()
            .map_err(|_| format!("HOOKGATE_INBOX_LEASE_SECS={v:?} is not a number of seconds"))?,
        Err(_) => 120,
    };
    let lease = std::time::Duration::from_secs(lease_secs.max(2));
    hookgate::inbox::WorkerConfig::new(2, lease, lease / 2).map_err(|e| e.to_string())
}

/// Reads a secret from `var`; with `--dev-secrets`, falls back to `dev`.
fn secret(var: &str, dev: &str, dev_secrets: bool) -> Result<String, String> {
    match std::env::var(var) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        Ok(_) if !dev_secrets => Err(format!(
            "{var} is set but empty; hookgate refuses an empty secret. \
             Set it to the secret from the sender's dashboard: export {var}=..."
        )),
        Err(_) if !dev_secrets => Err(format!(
            "{var} is not set. Set it to the secret from the sender's dashboard \
             (export {var}=...), or run with --dev-secrets to use the development \
             secrets from the README (never in production)."
        )),
        _ => {
            tracing::warn!("{var} not set: using the development secret {dev:?} (--dev-secrets)");
            Ok(dev.to_owned())
        }
    }
}

/// The AEXO and AXIFI verifiers, from `AEXO_WEBHOOK_SECRET` (plus
/// `AEXO_WEBHOOK_SECRET_PREVIOUS` while rotating) and `AXIFI_WEBHOOK_SECRET`.
pub fn verifiers(options: &Options) -> Result<(Verifier, Verifier), String> {
    let mut aexo = vec![secret(
        "AEXO_WEBHOOK_SECRET",
        DEV_AEXO_SECRET,
        options.dev_secrets,
    )?];
    if let Ok(previous) = std::env::var("AEXO_WEBHOOK_SECRET_PREVIOUS") {
        aexo.push(previous);
    }
    let axifi = secret(
        "AXIFI_WEBHOOK_SECRET",
        DEV_AXIFI_SECRET,
        options.dev_secrets,
    )?;
    Ok((
        Verifier::new(Aexo, Secrets::new(aexo).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?,
        Verifier::new(Axifi, Secrets::single(axifi).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?,
    ))
}

/// Serves hookgate's metrics as Prometheus text on `addr` (any path).
/// Needs a tokio runtime.
pub fn serve_metrics(addr: SocketAddr) -> Result<(), String> {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_http_listener(addr)
        .install()
        .map_err(|e| format!("cannot serve metrics on {addr}: {e}"))
}

/// Logs to stderr (`RUST_LOG` filters; default `info,hookgate=debug`).
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,hookgate=debug".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// What the example does with an AEXO event: log it.
pub fn on_aexo(hook: &Delivery<AexoEvent>) {
    match &hook.event {
        AexoEvent::DatasetRefreshed(d) => tracing::info!(
            id = hook.id(),
            dataset = %d.dataset_name,
            updated = d.records_updated,
            added = d.records_added,
            removed = d.records_removed,
            "aexo dataset.refreshed"
        ),
        AexoEvent::Unknown(other) => tracing::info!(
            id = hook.id(),
            event = %other.event,
            "aexo event of a type this receiver does not know"
        ),
        other => tracing::info!(
            id = hook.id(),
            event = hook.event_type(),
            ?other,
            "aexo event"
        ),
    }
}

/// What the example does with an AXIFI event: log it.
pub fn on_axifi(hook: &Delivery<AxifiEvent>) {
    match &hook.event {
        AxifiEvent::CompoundCreated(c) => tracing::info!(
            compound = %c.id,
            name = %c.name,
            category = %c.category,
            efficacy = c.efficacy,
            "axifi compound.created"
        ),
        other => tracing::info!(event = hook.event_type(), ?other, "axifi event"),
    }
}

/// The line a receiver prints once it listens (tests read the address from it).
pub fn listening_line(addr: SocketAddr) -> String {
    format!("listening on http://{addr} (POST /webhooks/aexo, POST /webhooks/axifi)")
}
