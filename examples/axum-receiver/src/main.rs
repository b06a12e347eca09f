//! Run with: cargo run -p axum-receiver -- --dev-secrets
//!
//! A verified AEXO and AXIFI webhook receiver on axum. It logs each verified
//! event and answers per hookgate's status table; forged, stale, oversized
//! or slow deliveries never reach the handlers, and a duplicate of a
//! processed event is answered 200 without reaching them again.
//!
//! Secrets come from the environment:
//!   AEXO_WEBHOOK_SECRET            AEXO's signing secret
//!   AEXO_WEBHOOK_SECRET_PREVIOUS   optional: the old one, while rotating
//!   AXIFI_WEBHOOK_SECRET           AXIFI's signing secret
//! `--dev-secrets` uses the development secrets from the README instead;
//! never use it in production. `--addr HOST:PORT` (default 127.0.0.1:3000).
//! It serves with `hookgate_axum::serve`: request heads, idle connections
//! and the number of connections are bounded (`--header-read-timeout`,
//! `--idle-timeout`, `--max-connections`), and SIGTERM lets deliveries in
//! flight finish before it exits.
//! `--inbox`: acknowledge each event once it is stored in
//! `./hookgate-inbox/<route>.sqlite3` and handle it from there (durable
//! inbox, for handlers that cannot answer within the sender's 30 s).

use std::process::ExitCode;

use axum::routing::{get, post};
use axum::{Json, Router};
use std::sync::Arc;

use hookgate::dedupe::MemoryStore;
use hookgate::events::{AexoEvent, AxifiEvent};
use hookgate::inbox::{Inbox, Workers};
use hookgate::Delivery;
use hookgate_axum::{ServerLimits, Webhook, WebhookLayer};
use hookgate_sqlite::SqliteInbox;
use receiver_common::Options;
use tower::ServiceBuilder;

async fn on_aexo(hook: Webhook<AexoEvent>) -> Json<serde_json::Value> {
    receiver_common::on_aexo(&hook);
    Json(serde_json::json!({ "ok": true }))
}

async fn on_axifi(hook: Webhook<AxifiEvent>) -> Json<serde_json::Value> {
    receiver_common::on_axifi(&hook);
    Json(serde_json::json!({ "ok": true }))
}

/// Inbox mode: each route stores verified events in its SQLite file and
/// answers 200 at once; workers run the same handlers from the inbox.
fn inbox_app(options: &Options, dir: &std::path::Path) -> Result<(Router, Vec<Workers>), String> {
    let (aexo, axifi) = receiver_common::verifiers(options)?;
    let open = |route: &str| -> Result<Arc<SqliteInbox>, String> {
        let file = receiver_common::inbox_file(dir, route)?;
        SqliteInbox::open(&file)
            .map(Arc::new)
            .map_err(|e| e.to_string())
    };
    let (aexo_store, axifi_store) = (open("aexo")?, open("axifi")?);
    let config = receiver_common::worker_config()?;
    let workers = vec![
        Workers::spawn(
            aexo_store.clone(),
            aexo.clone(),
            config.clone(),
            |d: Delivery<AexoEvent>| async move {
                receiver_common::on_aexo(&d);
                Ok(())
            },
        ),
        Workers::spawn(
            axifi_store.clone(),
            axifi.clone(),
            config,
            |d: Delivery<AxifiEvent>| async move {
                receiver_common::on_axifi(&d);
                Ok(())
            },
        ),
    ];
    // Events the handlers' types cannot take are refused with 400, as in
    // synchronous mode, instead of being acknowledged and then dead.
    let aexo_inbox = Inbox::new(aexo_store, &aexo).parses_as::<AexoEvent>();
    let axifi_inbox = Inbox::new(axifi_store, &axifi).parses_as::<AxifiEvent>();
    let app = Router::new()
        .route_service(
            "/webhooks/aexo",
            ServiceBuilder::new()
                .layer(WebhookLayer::new(aexo))
                .service(aexo_inbox),
        )
        .route_service(
            "/webhooks/axifi",
            ServiceBuilder::new()
                .layer(WebhookLayer::new(axifi))
                .service(axifi_inbox),
        )
        .route("/healthz", get(|| async { "ok" }));
    Ok((app, workers))
}

fn app(options: &Options) -> Result<Router, String> {
    let (aexo, axifi) = receiver_common::verifiers(options)?;
    // Verified, then de-duplicated in memory: a retried or replayed event
    // reaches its handler once.
    let aexo = WebhookLayer::new(aexo).with_dedupe(MemoryStore::new());
    let axifi = WebhookLayer::new(axifi).with_dedupe(MemoryStore::new());
    Ok(Router::new()
        .route(
            "/webhooks/aexo",
            post(on_aexo).layer(aexo.map_err(|e| e.to_string())?),
        )
        .route(
            "/webhooks/axifi",
            post(on_axifi).layer(axifi.map_err(|e| e.to_string())?),
        )
        .route("/healthz", get(|| async { "ok" })))
}

#[tokio::main]
async fn main() -> ExitCode {
    receiver_common::init_tracing();
    let built = receiver_common::parse_args("axum-receiver").and_then(|options| {
        let (app, workers) = match &options.inbox {
            Some(dir) => inbox_app(&options, dir)?,
            None => (app(&options)?, Vec::new()),
        };
        Ok((app, workers, options))
    });
    let built = built.and_then(|(app, workers, options)| {
        if let Some(addr) = options.metrics {
            receiver_common::serve_metrics(addr)?;
        }
        Ok((app, workers, options))
    });
    let (app, workers, options) = match built {
        Ok(built) => built,
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
    println!("{}", receiver_common::listening_line(addr));
    // Bounded connections (header-read, idle, count); SIGTERM or Ctrl-C
    // stops accepting and lets deliveries in flight finish.
    let mut limits = ServerLimits::new();
    if let Some(t) = options.header_read_timeout {
        limits = limits.header_read_timeout(t);
    }
    if let Some(t) = options.idle_timeout {
        limits = limits.idle_timeout(t);
    }
    if let Some(n) = options.max_connections {
        limits = limits.max_connections(n);
    }
    if let Err(e) = hookgate_axum::serve(listener, app).limits(limits).await {
        eprintln!("error: server failed: {e}");
        return ExitCode::from(1);
    }
    for w in workers {
        w.shutdown().await;
    }
    ExitCode::SUCCESS
}
