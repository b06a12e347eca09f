//! `hookgate-loadbench server --row R --port P`: one row's server, on
//! 127.0.0.1 only. Every row serves the same route, `POST /webhook`, and
//! answers 200 `ok` once the event is parsed (or, for the inbox row, stored);
//! `GET /stats` answers `{"handled":N}`, the number of handler runs, which
//! the driver uses to check that a duplicate did not run the handler again.
//! No tracing subscriber and no metrics recorder are installed, so hookgate's
//! logs and counters cost what they cost an application that installs none.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hookgate::dedupe::MemoryStore;
use hookgate::events::{AexoEnvelope, AexoEvent, AxifiEnvelope, AxifiEvent};
use hookgate::inbox::{Inbox, WorkerConfig, Workers};
use hookgate::{Delivery, Verifier, WebhookLayer};

use crate::{AEXO_SECRET, AXIFI_SECRET};

/// Handler runs, shared by the route and `/stats`.
#[derive(Clone, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    fn bump(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn json(&self) -> String {
        format!("{{\"handled\":{}}}", self.0.load(Ordering::Relaxed))
    }
}

pub struct ServerArgs {
    pub row: String,
    pub port: u16,
    pub redis: Option<String>,
    pub sqlite: Option<String>,
}

pub fn run(args: ServerArgs) -> Result<(), String> {
    match args.row.as_str() {
        "plain-actix" | "hookgate-actix" | "hookgate-actix-memory" => actix(args),
        _ => axum_rows(args),
    }
}

// ---------------------------------------------------------------- axum rows

mod ax {
    use super::*;
    use axum::extract::State;
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use hookgate_axum::Webhook;

    /// Row (a) and the upstream of `hookgate serve`: buffer the body and
    /// parse it with serde_json into hookgate's typed AEXO envelope.
    pub async fn plain_aexo(State(c): State<Counter>, body: Bytes) -> Response {
        match serde_json::from_slice::<AexoEnvelope>(&body) {
            Ok(envelope) => {
                black_box(&envelope);
                c.bump();
                "ok".into_response()
            }
            Err(_) => (StatusCode::BAD_REQUEST, "not an AEXO envelope").into_response(),
        }
    }

    /// The webhook-verify row's handler: the verified bytes parsed as the
    /// AXIFI envelope (typed), as hookgate's AXIFI row does.
    pub async fn plain_axifi(State(c): State<Counter>, body: Bytes) -> Response {
        match serde_json::from_slice::<AxifiEnvelope>(&body) {
            Ok(envelope) => {
                black_box(&envelope);
                c.bump();
                "ok".into_response()
            }
            Err(_) => (StatusCode::BAD_REQUEST, "not an AXIFI envelope").into_response(),
        }
    }

    /// Row (a+hmac): (a) behind the least a correct AEXO check can do: the
    /// header's hex decoded, HMAC-SHA256 of the body from a key schedule
    /// made once (`Hmac` cloned per request), compared in constant time.
    /// The floor under any verifier of this scheme, hookgate's included.
    pub async fn hmac_aexo(
        State((c, mac)): State<(Counter, hmac::Hmac<sha2::Sha256>)>,
        headers: axum::http::HeaderMap,
        body: Bytes,
    ) -> Response {
        use hmac::Mac;
        let tag = headers
            .get("x-aexo-signature")
            .and_then(|v| hex::decode(v.as_bytes()).ok());
        let mut mac = mac;
        mac.update(&body);
        if !tag.is_some_and(|t| mac.verify_slice(&t).is_ok()) {
            return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
        }
        plain_aexo(State(c), body).await
    }

    pub async fn hook_aexo(State(c): State<Counter>, hook: Webhook<AexoEvent>) -> &'static str {
        black_box(&hook.event);
        c.bump();
        "ok"
    }

    pub async fn hook_axifi(State(c): State<Counter>, hook: Webhook<AxifiEvent>) -> &'static str {
        black_box(&hook.event);
        c.bump();
        "ok"
    }

    pub async fn stats(State(c): State<Counter>) -> String {
        c.json()
    }
}

fn axum_rows(args: ServerArgs) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let counter = Counter::default();
        let (app, workers) = axum_app(&args, counter.clone()).await?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", args.port))?;
        println!("ready");
        // The same server (axum::serve, no extra limits) for every axum row,
        // so that the rows differ by the route's layers only.
        // The driver stops it with SIGTERM (the default action: exit).
        let _workers = workers;
        axum::serve(listener, app).await.map_err(|e| e.to_string())
    })
}

async fn axum_app(
    args: &ServerArgs,
    counter: Counter,
) -> Result<(axum::Router, Option<Workers>), String> {
    use axum::routing::{get, post};
    use axum::Router;
    let e = |e: hookgate::ConfigError| e.to_string();
    let stats = Router::new().route("/stats", get(ax::stats));
    let route = match args.row.as_str() {
        // (a) and the upstream of (g).
        "plain-axum" | "upstream" => post(ax::plain_aexo),
        // (b)
        "hookgate-axum" => post(ax::hook_aexo).layer(WebhookLayer::aexo(AEXO_SECRET).map_err(e)?),
        // (c)
        "hookgate-axum-memory" => post(ax::hook_aexo).layer(
            WebhookLayer::aexo(AEXO_SECRET)
                .map_err(e)?
                .with_dedupe(MemoryStore::new())
                .map_err(e)?,
        ),
        // (d)
        "hookgate-axum-redis" => {
            let url = args.redis.as_deref().ok_or("hookgate-axum-redis needs --redis URL")?;
            let store = hookgate_redis::RedisStore::new(url).map_err(e)?;
            store
                .connect()
                .await
                .map_err(|err| format!("redis {url}: {err}"))?;
            post(ax::hook_aexo).layer(
                WebhookLayer::aexo(AEXO_SECRET)
                    .map_err(e)?
                    .with_dedupe(store)
                    .map_err(e)?,
            )
        }
        // hookgate beside the peer: AXIFI, `X-Webhook-Signature: sha256=<hex>`.
        "hookgate-axum-axifi" => {
            post(ax::hook_axifi).layer(WebhookLayer::axifi(AXIFI_SECRET).map_err(e)?)
        }
        // The peer: webhook-verify's tower layer, GitHub provider.
        "webhook-verify" => {
            use axum::error_handling::HandleErrorLayer;
            use webhook_verify::tower::VerifyLayer;
            use webhook_verify::{Provider, Secret};
            // `VerifyLayer<axum::body::Body>` (what its README shows) does
            // not satisfy axum's `Sync` bound (axum's Body is not `Sync`), and
            // its error type is a BoxError, so: a `Sync` body type that axum
            // takes (`Full<Bytes>`), and axum's HandleErrorLayer for the
            // error (a body that fails to arrive).
            let layer = tower::ServiceBuilder::new()
                .layer(HandleErrorLayer::new(|_: webhook_verify::tower::BoxError| async {
                    axum::http::StatusCode::BAD_REQUEST
                }))
                .layer(VerifyLayer::<http_body_util::Full<Bytes>>::new(
                    Provider::GitHub,
                    Secret::new(AXIFI_SECRET),
                ));
            post(ax::plain_axifi).layer(layer)
        }
        // (a+hmac): the floor under any AEXO verifier.
        "plain-axum-hmac" => {
            use hmac::Mac;
            let mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(AEXO_SECRET.as_bytes())
                .map_err(|err| err.to_string())?;
            let app = Router::new()
                .route("/webhook", post(ax::hmac_aexo))
                .with_state((counter.clone(), mac))
                .merge(stats.with_state(counter));
            return Ok((app, None));
        }
        // (f): acknowledge once stored in SQLite; the handler runs from the inbox.
        "inbox-sqlite" => {
            let path = args.sqlite.as_deref().ok_or("inbox-sqlite needs --sqlite PATH")?;
            let store = Arc::new(
                hookgate_sqlite::SqliteInbox::open(path)
                    .map_err(|err| format!("sqlite {path}: {err}"))?,
            );
            let verifier = Verifier::aexo(AEXO_SECRET).map_err(e)?;
            let config = WorkerConfig::new(2, Duration::from_secs(120), Duration::from_secs(60))
                .map_err(e)?;
            let c = counter.clone();
            let workers = Workers::spawn(
                store.clone(),
                verifier.clone(),
                config,
                move |d: Delivery<AexoEvent>| {
                    let c = c.clone();
                    async move {
                        black_box(&d.event);
                        c.bump();
                        Ok(())
                    }
                },
            );
            let inbox = Inbox::new(store, &verifier).parses_as::<AexoEvent>();
            let service = tower::ServiceBuilder::new()
                .layer(WebhookLayer::new(verifier))
                .service(inbox);
            let app = Router::new()
                .route_service("/webhook", service)
                .merge(stats)
                .with_state(counter);
            return Ok((app, Some(workers)));
        }
        other => return Err(format!("unknown row {other:?}")),
    };
    let app = Router::new()
        .route("/webhook", route)
        .merge(stats)
        .with_state(counter);
    Ok((app, None))
}

// -------------------------------------------------------------- actix rows

mod ac {
    use super::*;
    use actix_web::{web, HttpResponse};
    use hookgate_actix::Webhook;

    pub async fn plain(c: web::Data<Counter>, body: web::Bytes) -> HttpResponse {
        match serde_json::from_slice::<AexoEnvelope>(&body) {
            Ok(envelope) => {
                black_box(&envelope);
                c.bump();
                HttpResponse::Ok().body("ok")
            }
            Err(_) => HttpResponse::BadRequest().body("not an AEXO envelope"),
        }
    }

    pub async fn hook(c: web::Data<Counter>, hook: Webhook<AexoEvent>) -> HttpResponse {
        black_box(&hook.event);
        c.bump();
        HttpResponse::Ok().body("ok")
    }

    pub async fn stats(c: web::Data<Counter>) -> HttpResponse {
        HttpResponse::Ok().body(c.json())
    }
}

fn actix(args: ServerArgs) -> Result<(), String> {
    use actix_web::{web, App, HttpServer};
    use hookgate_actix::VerifyWebhook;
    let port = args.port;
    let counter = web::Data::new(Counter::default());
    let e = |e: hookgate::ConfigError| e.to_string();
    let io = |e: std::io::Error| format!("actix on 127.0.0.1:{port}: {e}");
    actix_web::rt::System::new().block_on(async move {
        let server = match args.row.as_str() {
            "plain-actix" => HttpServer::new(move || {
                App::new()
                    .app_data(counter.clone())
                    .route("/webhook", web::post().to(ac::plain))
                    .route("/stats", web::get().to(ac::stats))
            })
            .workers(2)
            .bind(("127.0.0.1", port))
            .map_err(io)?
            .run(),
            "hookgate-actix" => {
                let verify = VerifyWebhook::aexo(AEXO_SECRET).map_err(e)?;
                HttpServer::new(move || {
                    App::new()
                        .app_data(counter.clone())
                        .service(
                            web::resource("/webhook")
                                .wrap(verify.clone())
                                .route(web::post().to(ac::hook)),
                        )
                        .route("/stats", web::get().to(ac::stats))
                })
                .workers(2)
                .bind(("127.0.0.1", port))
                .map_err(io)?
                .run()
            }
            "hookgate-actix-memory" => {
                // One store shared by both workers (the clones share it).
                let verify = VerifyWebhook::aexo(AEXO_SECRET)
                    .and_then(|v| v.with_dedupe(MemoryStore::new()))
                    .map_err(e)?;
                HttpServer::new(move || {
                    App::new()
                        .app_data(counter.clone())
                        .service(
                            web::resource("/webhook")
                                .wrap(verify.clone())
                                .route(web::post().to(ac::hook)),
                        )
                        .route("/stats", web::get().to(ac::stats))
                })
                .workers(2)
                .bind(("127.0.0.1", port))
                .map_err(io)?
                .run()
            }
            other => return Err(format!("unknown row {other:?}")),
        };
        println!("ready");
        server.await.map_err(io)
    })
}
