//! The same routes on each adapter, with the shared [`Handler`]:
//! `/webhooks/aexo` (`Webhook<AexoEvent>`), `/webhooks/axifi`
//! (`Webhook<AxifiEvent>`) and `/webhooks/<name>` for every other route of
//! [`OTHER_SENDERS`] (`Webhook<()>`: the other built-in schemes, Standard
//! Webhooks with an ed25519 key, a configured `HmacScheme`), each verified
//! with [`verifier`] and
//! de-duplicated in memory.

use std::future::IntoFuture;
use std::net::SocketAddr;

use hookgate::dedupe::MemoryStore;
use hookgate::events::{AexoEvent, AxifiEvent};

use crate::{verifier, Handler, Sender, AEXO_PATH, AXIFI_PATH, OTHER_SENDERS};

async fn axum_answer(
    handler: &Handler,
    meta: &hookgate::VerifiedEvent,
) -> (axum::http::StatusCode, &'static str) {
    let status = handler.handle(meta).await;
    (
        axum::http::StatusCode::from_u16(status)
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR),
        Handler::body_for(status),
    )
}

/// The axum app.
pub fn axum_app(handler: Handler) -> axum::Router {
    use axum::extract::State;
    use axum::routing::post;
    use hookgate_axum::{Webhook, WebhookLayer};

    async fn on_aexo(
        State(h): State<Handler>,
        hook: Webhook<AexoEvent>,
    ) -> impl axum::response::IntoResponse {
        axum_answer(&h, hook.meta()).await
    }
    async fn on_axifi(
        State(h): State<Handler>,
        hook: Webhook<AxifiEvent>,
    ) -> impl axum::response::IntoResponse {
        axum_answer(&h, hook.meta()).await
    }
    async fn on_other(
        State(h): State<Handler>,
        hook: Webhook<()>,
    ) -> impl axum::response::IntoResponse {
        axum_answer(&h, hook.meta()).await
    }
    let layer = |sender| {
        WebhookLayer::new(verifier(sender))
            .with_dedupe(MemoryStore::new())
            .expect("dedupe config")
    };
    let mut app = axum::Router::new()
        .route(AEXO_PATH, post(on_aexo).layer(layer(Sender::Aexo)))
        .route(AXIFI_PATH, post(on_axifi).layer(layer(Sender::Axifi)));
    for (name, path) in OTHER_SENDERS {
        app = app.route(path, post(on_other).layer(layer(Sender::Other(name))));
    }
    app.with_state(handler)
}

/// The axum app served on 127.0.0.1 (a free port) until the runtime ends.
pub async fn axum_server(handler: Handler) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(axum::serve(listener, axum_app(handler)).into_future());
    addr
}

/// The actix-web app served on 127.0.0.1 (a free port), on its own thread
/// and actix system, for as long as the test process runs.
pub fn actix_server(handler: Handler) -> SocketAddr {
    use actix_web::{web, App, HttpResponse, HttpServer};
    use hookgate_actix::{VerifyWebhook, Webhook};

    async fn answer(h: &Handler, meta: &hookgate::VerifiedEvent) -> HttpResponse {
        let status = h.handle(meta).await;
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status"))
            .content_type("text/plain; charset=utf-8")
            .body(Handler::body_for(status))
    }
    async fn on_aexo(h: web::Data<Handler>, hook: Webhook<AexoEvent>) -> HttpResponse {
        answer(&h, hook.meta()).await
    }
    async fn on_axifi(h: web::Data<Handler>, hook: Webhook<AxifiEvent>) -> HttpResponse {
        answer(&h, hook.meta()).await
    }
    async fn on_other(h: web::Data<Handler>, hook: Webhook<()>) -> HttpResponse {
        answer(&h, hook.meta()).await
    }
    let middleware = |sender| {
        VerifyWebhook::new(verifier(sender))
            .with_dedupe(MemoryStore::new())
            .expect("dedupe config")
    };
    let (aexo, axifi) = (middleware(Sender::Aexo), middleware(Sender::Axifi));
    let others: Vec<_> = OTHER_SENDERS
        .iter()
        .map(|(name, path)| (*path, middleware(Sender::Other(name))))
        .collect();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(web::Data::new(handler.clone()))
                    .service(
                        web::resource(AEXO_PATH)
                            .wrap(aexo.clone())
                            .route(web::post().to(on_aexo)),
                    )
                    .service(
                        web::resource(AXIFI_PATH)
                            .wrap(axifi.clone())
                            .route(web::post().to(on_axifi)),
                    )
                    .configure(|cfg| {
                        for (path, mw) in &others {
                            cfg.service(
                                web::resource(*path)
                                    .wrap(mw.clone())
                                    .route(web::post().to(on_other)),
                            );
                        }
                    })
            })
            .workers(2)
            .bind(("127.0.0.1", 0))
            .expect("bind");
            tx.send(server.addrs()[0]).expect("send addr");
            server.run().await
        })
    });
    rx.recv().expect("actix server address")
}
