//! A route's handler cap (`Verifier::max_concurrent_handlers`): beyond it a
//! delivery is answered 503 with `Retry-After` at once, on both adapters,
//! and the route takes deliveries again as soon as a handler finishes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hookgate::scheme::GitHub;
use hookgate::{testing, Secrets, Verifier};
use hookgate_conformance::wire;
use tokio::sync::Semaphore;

const SECRET: &str = "shedding-secret";

/// Handlers enter, count themselves, and wait for the gate.
#[derive(Clone)]
struct Gate {
    entered: Arc<AtomicUsize>,
    open: Arc<Semaphore>,
}

impl Gate {
    fn new() -> Self {
        Self {
            entered: Arc::default(),
            open: Arc::new(Semaphore::new(0)),
        }
    }

    async fn pass(&self) -> &'static str {
        self.entered.fetch_add(1, Ordering::SeqCst);
        self.open.acquire().await.unwrap().forget();
        "handled"
    }
}

fn verifier() -> Verifier {
    Verifier::new(GitHub, Secrets::single(SECRET).unwrap())
        .unwrap()
        .max_concurrent_handlers(2)
        .unwrap()
}

async fn deliver(addr: SocketAddr, n: u32) -> wire::Reply {
    let body = format!(r#"{{"n":{n}}}"#).into_bytes();
    let headers = testing::sign(&GitHub, SECRET, &body);
    wire::post(addr, "/hook", &headers, &body).await
}

async fn check(addr: SocketAddr, gate: Gate) {
    let first = tokio::spawn(deliver(addr, 1));
    let second = tokio::spawn(deliver(addr, 2));
    let waiting = tokio::time::Instant::now();
    while gate.entered.load(Ordering::SeqCst) < 2 {
        assert!(
            waiting.elapsed() < Duration::from_secs(10),
            "handlers entered"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Two handlers run: the third delivery is shed, at once.
    let shed = deliver(addr, 3).await;
    assert_eq!(shed.status, 503, "{:?}", shed.body);
    assert_eq!(shed.header("retry-after"), Some("1"));
    assert_eq!(
        shed.json()["error"],
        "too many deliveries in progress; retry later"
    );
    assert_eq!(
        gate.entered.load(Ordering::SeqCst),
        2,
        "the shed one never entered"
    );
    gate.open.add_permits(2);
    assert_eq!(first.await.unwrap().status, 200);
    assert_eq!(second.await.unwrap().status, 200);
    // Room again: the sender's retry is handled.
    gate.open.add_permits(1);
    assert_eq!(deliver(addr, 3).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_handler_cap_deliveries_get_503_with_retry_after_on_axum() {
    let gate = Gate::new();
    let g = gate.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |_: hookgate_axum::Webhook<()>| {
            let g = g.clone();
            async move { g.pass().await }
        })
        .layer(hookgate_axum::WebhookLayer::new(verifier())),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    check(addr, gate).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_handler_cap_deliveries_get_503_with_retry_after_on_actix() {
    use actix_web::{web, App, HttpResponse, HttpServer};
    let gate = Gate::new();
    let g = gate.clone();
    let mw = hookgate_actix::VerifyWebhook::new(verifier());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server =
                HttpServer::new(move || {
                    let g = g.clone();
                    App::new().service(web::resource("/hook").wrap(mw.clone()).route(
                        web::post().to(move |_: hookgate_actix::Webhook<()>| {
                            let g = g.clone();
                            async move { HttpResponse::Ok().body(g.pass().await) }
                        }),
                    ))
                })
                .workers(2)
                .bind(("127.0.0.1", 0))
                .unwrap();
            tx.send(server.addrs()[0]).unwrap();
            server.run().await
        })
    });
    check(rx.recv().unwrap(), gate).await;
}

#[test]
fn a_cap_of_zero_is_refused_and_the_cap_reads_back() {
    let v = Verifier::new(GitHub, Secrets::single(SECRET).unwrap()).unwrap();
    assert_eq!(v.settings().max_concurrent_handlers, None);
    assert_eq!(
        v.clone().max_concurrent_handlers(0).unwrap_err(),
        hookgate::ConfigError::ZeroHandlerCap
    );
    assert_eq!(
        v.max_concurrent_handlers(8)
            .unwrap()
            .settings()
            .max_concurrent_handlers,
        Some(8)
    );
}
