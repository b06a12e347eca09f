//! Run with: cargo run -p actix-receiver -- --dev-secrets
//!
//! The same verified AEXO and AXIFI receiver as the axum example, on
//! actix-web: same routes, secrets, flags and answers.
//!
//! Secrets come from the environment:
//!   AEXO_WEBHOOK_SECRET            AEXO's signing secret
//!   AEXO_WEBHOOK_SECRET_PREVIOUS   optional: the old one, while rotating
//!   AXIFI_WEBHOOK_SECRET           AXIFI's signing secret
//! `--dev-secrets` uses the development secrets from the README instead;
//! never use it in production. `--addr HOST:PORT` (default 127.0.0.1:3000).

use std::process::ExitCode;

use actix_web::{web, App, HttpResponse, HttpServer};
use hookgate::dedupe::MemoryStore;
use hookgate::events::{AexoEvent, AxifiEvent};
use hookgate_actix::{VerifyWebhook, Webhook};

async fn on_aexo(hook: Webhook<AexoEvent>) -> HttpResponse {
    receiver_common::on_aexo(&hook);
    HttpResponse::Ok().json(serde_json::json!({ "ok": true }))
}

async fn on_axifi(hook: Webhook<AxifiEvent>) -> HttpResponse {
    receiver_common::on_axifi(&hook);
    HttpResponse::Ok().json(serde_json::json!({ "ok": true }))
}

#[actix_web::main]
async fn main() -> ExitCode {
    receiver_common::init_tracing();
    let built = receiver_common::parse_args("actix-receiver").and_then(|options| {
        let (aexo, axifi) = receiver_common::verifiers(&options)?;
        // Verified, then de-duplicated in memory (one store shared by all workers).
        let aexo = VerifyWebhook::new(aexo).with_dedupe(MemoryStore::new());
        let axifi = VerifyWebhook::new(axifi).with_dedupe(MemoryStore::new());
        Ok((
            aexo.map_err(|e| e.to_string())?,
            axifi.map_err(|e| e.to_string())?,
            options,
        ))
    });
    let (aexo, axifi, options) = match built {
        Ok(built) => built,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let server = HttpServer::new(move || {
        App::new()
            .service(
                web::resource("/webhooks/aexo")
                    .wrap(aexo.clone())
                    .route(web::post().to(on_aexo)),
            )
            .service(
                web::resource("/webhooks/axifi")
                    .wrap(axifi.clone())
                    .route(web::post().to(on_axifi)),
            )
            .route("/healthz", web::get().to(|| async { "ok" }))
    })
    .bind(options.addr);
    let server = match server {
        Ok(server) => server,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", options.addr);
            return ExitCode::from(1);
        }
    };
    let addr = server.addrs().first().copied().unwrap_or(options.addr);
    println!("{}", receiver_common::listening_line(addr));
    match server.run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: server failed: {e}");
            ExitCode::from(1)
        }
    }
}
