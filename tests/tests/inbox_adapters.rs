//! Inbox mode through both adapters on real servers (127.0.0.1): stored and
//! acknowledged, a duplicate marked and not stored twice, a forgery refused,
//! an event the handler's type cannot take refused with 400 (as in
//! synchronous mode), and 503 with Retry-After when the store cannot take
//! the event; axum and actix-web answer each step alike.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use hookgate::events::AexoEvent;
use hookgate::inbox::{Inbox, InboxStore};
use hookgate::scheme::Aexo;
use hookgate::{testing, Verifier, WebhookLayer};
use hookgate_conformance::inbox::exclusive_lock;
use hookgate_conformance::wire::{post, Reply};
use hookgate_sqlite::SqliteInbox;

const SECRET: &str = "adapters-inbox-secret";
const PATH: &str = "/webhooks/aexo";

fn inbox_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hookgate-inbox-adapters-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.sqlite3"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

async fn axum_server(store: Arc<SqliteInbox>, verifier: Verifier) -> SocketAddr {
    let route = tower::ServiceBuilder::new()
        .layer(WebhookLayer::new(verifier.clone()))
        .service(Inbox::new(store, &verifier).parses_as::<AexoEvent>());
    let app = axum::Router::new().route_service(PATH, route);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn actix_server(store: Arc<SqliteInbox>, verifier: Verifier) -> SocketAddr {
    use actix_web::{web, App, HttpResponse, HttpServer};
    let middleware = hookgate_actix::VerifyWebhook::new(verifier.clone())
        .with_inbox(Inbox::new(store, &verifier).parses_as::<AexoEvent>());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                App::new().service(web::resource(PATH).wrap(middleware.clone()).route(
                    web::post().to(|| async {
                        // Not reached in inbox mode: the workers run the handler.
                        HttpResponse::InternalServerError().body("handler called in inbox mode")
                    }),
                ))
            })
            .workers(1)
            .bind(("127.0.0.1", 0))
            .unwrap();
            tx.send(server.addrs()[0]).unwrap();
            server.run().await
        })
    });
    rx.recv().unwrap()
}

/// An axum and an actix-web inbox server, each on its own fresh file
/// (`axum{suffix}`, `actix{suffix}`).
async fn both_servers(suffix: &str) -> [(SocketAddr, Arc<SqliteInbox>, PathBuf); 2] {
    let verifier = Verifier::aexo(SECRET).unwrap();
    let axum_file = inbox_file(&format!("axum{suffix}"));
    let actix_file = inbox_file(&format!("actix{suffix}"));
    let axum_store = Arc::new(SqliteInbox::open(&axum_file).unwrap());
    let actix_store = Arc::new(SqliteInbox::open(&actix_file).unwrap());
    let axum_addr = axum_server(axum_store.clone(), verifier.clone()).await;
    let actix_addr = actix_server(actix_store.clone(), verifier);
    [
        (axum_addr, axum_store, axum_file),
        (actix_addr, actix_store, actix_file),
    ]
}

/// What a sender sees of a reply: status, body, and the headers it acts on.
fn seen(reply: &Reply) -> (u16, String, Option<String>, Option<String>) {
    (
        reply.status,
        String::from_utf8_lossy(&reply.body).into_owned(),
        reply.header("hookgate-dedupe").map(str::to_owned),
        reply.header("retry-after").map(str::to_owned),
    )
}

async fn deliver(addr: SocketAddr, id: &str, secret: &str) -> Reply {
    let body = testing::aexo_body(id, "key.created", serde_json::json!({ "key_id": id }));
    post(addr, PATH, &testing::sign(&Aexo, secret, &body), &body).await
}

/// A `dataset.refreshed` event whose `records_updated` is not a number:
/// signed and a valid envelope, but `AexoEvent` cannot take it.
async fn deliver_mistyped(addr: SocketAddr, id: &str) -> Reply {
    let data = serde_json::json!({
        "dataset_name": "d", "records_updated": "not a number", "records_added": 1,
        "records_removed": 0, "refresh_cycle": "monthly"
    });
    let body = testing::aexo_body(id, "dataset.refreshed", data);
    post(addr, PATH, &testing::sign(&Aexo, SECRET, &body), &body).await
}

/// The four steps against one server; returns what the sender saw at each.
async fn steps(
    addr: SocketAddr,
    store: &SqliteInbox,
    file: &std::path::Path,
) -> Vec<(u16, String, Option<String>, Option<String>)> {
    let stored = deliver(addr, "wh_ad_1", SECRET).await;
    let duplicate = deliver(addr, "wh_ad_1", SECRET).await;
    let forged = deliver(addr, "wh_ad_2", "guessed").await;
    let mistyped = deliver_mistyped(addr, "wh_ad_4").await;
    let lock = exclusive_lock(file);
    let unavailable = deliver(addr, "wh_ad_3", SECRET).await;
    drop(lock);
    let stats = store.stats(SystemTime::now()).await.unwrap();
    assert_eq!(
        stats.pending, 1,
        "only the first event is stored: {stats:?}"
    );
    [stored, duplicate, forged, mistyped, unavailable]
        .iter()
        .map(seen)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_adapters_store_mark_duplicates_refuse_mistyped_events_and_answer_503_when_the_store_cannot_take_it(
) {
    let [(axum_addr, axum_store, axum_file), (actix_addr, actix_store, actix_file)] =
        both_servers("").await;
    let (on_axum, on_actix) = tokio::join!(
        steps(axum_addr, &axum_store, &axum_file),
        steps(actix_addr, &actix_store, &actix_file)
    );
    let [stored, duplicate, forged, mistyped, unavailable] = &on_axum[..] else {
        panic!("{on_axum:?}")
    };
    assert_eq!(stored, &(200, "{\"queued\":true}".into(), None, None));
    assert_eq!(
        (duplicate.0, duplicate.2.as_deref()),
        (200, Some("duplicate"))
    );
    assert_eq!(forged.0, 401);
    assert_eq!(
        mistyped,
        &(
            400,
            "{\"error\":\"event data does not match the expected type\"}".into(),
            None,
            None
        ),
        "acknowledged an event the handler can never take"
    );
    assert_eq!(unavailable.0, 503, "{unavailable:?}");
    assert!(unavailable.3.is_some(), "503 without Retry-After");
    assert_eq!(on_axum, on_actix, "the adapters answered differently");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_event_id_is_refused_with_400_by_both_adapters_and_nothing_is_stored() {
    let [(axum_addr, axum_store, _), (actix_addr, actix_store, _)] =
        both_servers("-empty-id").await;
    for (name, addr, store) in [
        ("axum", axum_addr, &axum_store),
        ("actix", actix_addr, &actix_store),
    ] {
        // Two different events, both with `"id": ""`: neither may become the
        // other's duplicate, and neither is stored.
        let other = testing::aexo_body("", "key.revoked", serde_json::json!({ "key_id": "k2" }));
        let replies = [
            deliver(addr, "", SECRET).await,
            post(addr, PATH, &testing::sign(&Aexo, SECRET, &other), &other).await,
            deliver(addr, "", SECRET).await,
        ];
        for reply in &replies {
            assert_eq!(reply.status, 400, "{name}: {reply:?}");
            assert_eq!(
                reply.json()["error"],
                "body is signed but is not a valid event envelope",
                "{name}"
            );
            assert_eq!(reply.header("hookgate-dedupe"), None, "{name}");
        }
        let stats = store.stats(SystemTime::now()).await.unwrap();
        assert_eq!(
            stats.pending + stats.leased + stats.done + stats.dead,
            0,
            "{name}: an event with an empty id was stored: {stats:?}"
        );
        let real = deliver(addr, "wh_after_empty", SECRET).await;
        assert_eq!(
            (real.status, &real.body[..]),
            (200, &b"{\"queued\":true}"[..]),
            "{name}"
        );
    }
}
