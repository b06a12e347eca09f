//! Run with: cargo run -p axum-receiver -- --dev-secrets
//!
//! A verified AEXO and AXIFI webhook receiver. It logs each verified event
//! and answers per hookgate's status table; forged, stale, oversized or slow
//! deliveries never reach the handlers, and a duplicate of a processed event
//! is answered 200 without reaching them again (in-memory dedupe).
//!
//! Secrets come from the environment:
//!   AEXO_WEBHOOK_SECRET            AEXO's signing secret
//!   AEXO_WEBHOOK_SECRET_PREVIOUS   optional: the old one, while rotating
//!   AXIFI_WEBHOOK_SECRET           AXIFI's signing secret
//! `--dev-secrets` uses the development secrets printed at start instead;
//! never use it in production. `--addr HOST:PORT` (default 127.0.0.1:3000).

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::routing::{get, post};
use axum::{Json, Router};
use hookgate::dedupe::MemoryStore;
use hookgate::events::{AexoEvent, AxifiEvent};
use hookgate::scheme::{Aexo, Axifi};
use hookgate::{Secrets, Verifier};
use hookgate_axum::{Webhook, WebhookLayer};

/// The development secrets `--dev-secrets` uses (documented in the README).
const DEV_AEXO_SECRET: &str = "hookgate-dev-aexo-secret";
const DEV_AXIFI_SECRET: &str = "hookgate-dev-axifi-secret";

async fn on_aexo(hook: Webhook<AexoEvent>) -> Json<serde_json::Value> {
    match &hook.event {
        AexoEvent::DatasetRefreshed(d) => tracing::info!(
            id = hook.id(),
            dataset = %d.dataset_name,
            updated = d.records_updated,
            added = d.records_added,
            removed = d.records_removed,
            "aexo dataset.refreshed"
        ),
        AexoEvent::Unknown(other) => {
            tracing::info!(id = hook.id(), event = %other.event, "aexo event of a type this receiver does not know")
        }
        other => tracing::info!(
            id = hook.id(),
            event = hook.event_type(),
            ?other,
            "aexo event"
        ),
    }
    Json(serde_json::json!({ "ok": true }))
}

async fn on_axifi(hook: Webhook<AxifiEvent>) -> Json<serde_json::Value> {
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
    Json(serde_json::json!({ "ok": true }))
}

struct Options {
    dev_secrets: bool,
    addr: SocketAddr,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        dev_secrets: false,
        addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dev-secrets" => options.dev_secrets = true,
            "--addr" => {
                let value = args.next().ok_or("--addr needs HOST:PORT")?;
                options.addr = value.parse().map_err(|e| format!("--addr {value}: {e}"))?;
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(options)
}

const USAGE: &str = "usage: axum-receiver [--dev-secrets] [--addr HOST:PORT]";

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

fn build(options: &Options) -> Result<Router, String> {
    let aexo = secret("AEXO_WEBHOOK_SECRET", DEV_AEXO_SECRET, options.dev_secrets)?;
    let mut aexo_secrets = vec![aexo];
    if let Ok(previous) = std::env::var("AEXO_WEBHOOK_SECRET_PREVIOUS") {
        aexo_secrets.push(previous);
    }
    let axifi = secret(
        "AXIFI_WEBHOOK_SECRET",
        DEV_AXIFI_SECRET,
        options.dev_secrets,
    )?;
    let aexo = Verifier::new(Aexo, Secrets::new(aexo_secrets).map_err(|e| e.to_string())?);
    let axifi = Verifier::new(Axifi, Secrets::single(axifi).map_err(|e| e.to_string())?);
    // Verified, then de-duplicated in memory: a retried or replayed event
    // reaches its handler once.
    let aexo = WebhookLayer::new(aexo)
        .with_dedupe(MemoryStore::new())
        .map_err(|e| e.to_string())?;
    let axifi = WebhookLayer::new(axifi)
        .with_dedupe(MemoryStore::new())
        .map_err(|e| e.to_string())?;
    Ok(Router::new()
        .route("/webhooks/aexo", post(on_aexo).layer(aexo))
        .route("/webhooks/axifi", post(on_axifi).layer(axifi))
        .route("/healthz", get(|| async { "ok" })))
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,hookgate=debug".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let app = match build(&options) {
        Ok(app) => app,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(options.addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", options.addr);
            return ExitCode::from(1);
        }
    };
    let addr = listener.local_addr().map_or(options.addr, |a| a);
    println!("listening on http://{addr} (POST /webhooks/aexo, POST /webhooks/axifi)");
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        eprintln!("error: server failed: {e}");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
