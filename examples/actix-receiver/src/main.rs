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
//! `--inbox`: acknowledge each event once it is stored in
//! `./hookgate-inbox/<route>.sqlite3` and handle it from there.

use std::process::ExitCode;

use actix_web::{web, App, HttpResponse, HttpServer};
use std::sync::Arc;

use hookgate::dedupe::MemoryStore;
use hookgate::events::{AexoEvent, AxifiEvent};
use hookgate::inbox::{Inbox, Workers};
use hookgate::Delivery;
use hookgate_actix::mode::Mode;
use hookgate_actix::{VerifyWebhook, Webhook};
use hookgate_sqlite::SqliteInbox;

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
    let options = match receiver_common::parse_args("actix-receiver") {
        Ok(options) => options,
        Err(message) => return failed(&message),
    };
    let (aexo_v, axifi_v) = match receiver_common::verifiers(&options) {
        Ok(verifiers) => verifiers,
        Err(message) => return failed(&message),
    };
    let Some(dir) = options.inbox.clone() else {
        // Verified, then de-duplicated in memory (one store shared by all workers).
        let routes = VerifyWebhook::new(aexo_v)
            .with_dedupe(MemoryStore::new())
            .and_then(|aexo| {
                Ok((
                    aexo,
                    VerifyWebhook::new(axifi_v).with_dedupe(MemoryStore::new())?,
                ))
            });
        return match routes {
            Ok((aexo, axifi)) => serve(aexo, axifi, &options, Vec::new()).await,
            Err(e) => failed(&e.to_string()),
        };
    };
    // Inbox mode: store, answer 200 at once, handle from the inbox. The
    // inbox's insert-if-new is the route's dedupe.
    let open = |route: &str| -> Result<Arc<SqliteInbox>, String> {
        let file = receiver_common::inbox_file(&dir, route)?;
        SqliteInbox::open(&file)
            .map(Arc::new)
            .map_err(|e| e.to_string())
    };
    let stores = open("aexo").and_then(|a| Ok((a, open("axifi")?)));
    let config = receiver_common::worker_config();
    let ((aexo_store, axifi_store), config) = match (stores, config) {
        (Ok(stores), Ok(config)) => (stores, config),
        (Err(message), _) | (_, Err(message)) => return failed(&message),
    };
    // Events the handlers' types cannot take are refused with 400.
    let aexo = VerifyWebhook::new(aexo_v.clone())
        .with_inbox(Inbox::new(aexo_store.clone(), &aexo_v).parses_as::<AexoEvent>());
    let axifi = VerifyWebhook::new(axifi_v.clone())
        .with_inbox(Inbox::new(axifi_store.clone(), &axifi_v).parses_as::<AxifiEvent>());
    let workers = vec![
        Workers::spawn(
            aexo_store,
            aexo_v,
            config.clone(),
            |d: Delivery<AexoEvent>| async move {
                receiver_common::on_aexo(&d);
                Ok(())
            },
        ),
        Workers::spawn(
            axifi_store,
            axifi_v,
            config,
            |d: Delivery<AxifiEvent>| async move {
                receiver_common::on_axifi(&d);
                Ok(())
            },
        ),
    ];
    serve(aexo, axifi, &options, workers).await
}

fn failed(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

/// Serves both routes, in whichever mode they were built, until a signal;
/// then stops the inbox workers, if any.
async fn serve<A: Mode + Send, X: Mode + Send>(
    aexo: VerifyWebhook<A>,
    axifi: VerifyWebhook<X>,
    options: &receiver_common::Options,
    workers: Vec<Workers>,
) -> ExitCode {
    if let Some(addr) = options.metrics {
        if let Err(message) = receiver_common::serve_metrics(addr) {
            return failed(&message);
        }
    }
    // actix bounds the request head (client_request_timeout, default 5 s)
    // and idle keep-alive (5 s) itself; the flags set them as for axum.
    let mut server = HttpServer::new(move || {
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
    });
    if let Some(t) = options.header_read_timeout {
        server = server.client_request_timeout(t);
    }
    if let Some(t) = options.idle_timeout {
        server = server.keep_alive(t);
    }
    if let Some(n) = options.max_connections {
        server = server.max_connections(n);
    }
    let server = match server.bind(options.addr) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", options.addr);
            return ExitCode::from(1);
        }
    };
    let addr = server.addrs().first().copied().unwrap_or(options.addr);
    println!("{}", receiver_common::listening_line(addr));
    let served = server.run().await;
    for w in workers {
        w.shutdown().await;
    }
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: server failed: {e}");
            ExitCode::from(1)
        }
    }
}
