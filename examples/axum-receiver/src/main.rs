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

use std::process::ExitCode;

use axum::routing::{get, post};
use axum::{Json, Router};
use hookgate::dedupe::MemoryStore;
use hookgate::events::{AexoEvent, AxifiEvent};
use hookgate_axum::{Webhook, WebhookLayer};
use receiver_common::Options;

async fn on_aexo(hook: Webhook<AexoEvent>) -> Json<serde_json::Value> {
    receiver_common::on_aexo(&hook);
    Json(serde_json::json!({ "ok": true }))
}

async fn on_axifi(hook: Webhook<AxifiEvent>) -> Json<serde_json::Value> {
    receiver_common::on_axifi(&hook);
    Json(serde_json::json!({ "ok": true }))
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
    let built = receiver_common::parse_args("axum-receiver")
        .and_then(|options| Ok((app(&options)?, options)));
    let (app, options) = match built {
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
