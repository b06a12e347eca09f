//! The conformance table against the axum adapter: every row through a real
//! server on 127.0.0.1 and through `oneshot`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::future::IntoFuture;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use futures_util::stream;
use hookgate::events::{AexoEvent, AxifiEvent};
use hookgate_axum::{Webhook, WebhookLayer};
use hookgate_conformance::{cases, check, verifier, Case, Framing, Sender};
use http_body_util::BodyExt;
use tower::ServiceExt;

type Calls = Arc<AtomicUsize>;

async fn on_aexo(State(calls): State<Calls>, hook: Webhook<AexoEvent>) -> &'static str {
    assert!(hook.id().is_some());
    calls.fetch_add(1, Ordering::SeqCst);
    "ok"
}

async fn on_axifi(State(calls): State<Calls>, _hook: Webhook<AxifiEvent>) -> &'static str {
    calls.fetch_add(1, Ordering::SeqCst);
    "ok"
}

fn app(calls: Calls) -> Router {
    Router::new()
        .route(
            Sender::Aexo.path(),
            post(on_aexo).layer(WebhookLayer::new(verifier(Sender::Aexo))),
        )
        .route(
            Sender::Axifi.path(),
            post(on_axifi).layer(WebhookLayer::new(verifier(Sender::Axifi))),
        )
        .with_state(calls)
}

fn body_for(case: &Case) -> Body {
    let bytes = case.body.clone();
    match case.framing {
        Framing::Length => Body::from(bytes),
        Framing::Chunked => {
            let chunks: Vec<Result<Bytes, Infallible>> = bytes
                .chunks(512)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            Body::from_stream(stream::iter(chunks))
        }
        Framing::Stall => {
            let half = bytes.slice(..bytes.len() / 2);
            let first = stream::iter([Ok::<_, Infallible>(half)]);
            Body::from_stream(futures_util::StreamExt::chain(first, stream::pending()))
        }
    }
}

#[tokio::test]
async fn every_conformance_case_holds_with_oneshot() {
    let calls = Calls::default();
    let app = app(calls.clone());
    let mut failures = Vec::new();
    for case in cases() {
        let before = calls.load(Ordering::SeqCst);
        let res = app.clone().oneshot(case.request(body_for)).await.unwrap();
        let status = res.status().as_u16();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        if let Err(e) = check(&case, status, &body, calls.load(Ordering::SeqCst) - before) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn every_conformance_case_holds_through_a_real_server() {
    let calls = Calls::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(axum::serve(listener, app(calls.clone())).into_future());
    let mut failures = Vec::new();
    for case in cases() {
        let before = calls.load(Ordering::SeqCst);
        let (status, body) = case.send_raw(addr).await;
        // The handler has answered before the response was written.
        if let Err(e) = check(&case, status, &body, calls.load(Ordering::SeqCst) - before) {
            failures.push(e);
        }
    }
    server.abort();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn a_stalled_body_is_answered_near_the_read_timeout_not_later() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(axum::serve(listener, app(Calls::default())).into_future());
    let case = cases()
        .into_iter()
        .find(|c| c.framing == Framing::Stall)
        .unwrap();
    let started = std::time::Instant::now();
    let (status, _) = case.send_raw(addr).await;
    assert_eq!(status, 408);
    // Generous bound: the point is that the connection is not held open.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    server.abort();
}

#[tokio::test]
async fn the_extractor_without_the_layer_answers_500_naming_the_layer() {
    let app: Router = Router::new().route("/hook", post(|_: Webhook<AexoEvent>| async { "ok" }));
    let case = cases().remove(0);
    let mut req = case.request(|c| Body::from(c.body.clone()));
    *req.uri_mut() = "/hook".parse().unwrap();
    let res = app.oneshot(req).await.unwrap();
    assert_eq!(res.status(), 500);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(v["error"].as_str().unwrap().contains("WebhookLayer"), "{v}");
}

#[tokio::test]
async fn the_handler_gets_the_verified_bytes_without_a_copy() {
    async fn same_bytes(hook: Webhook<()>, body: Bytes) -> &'static str {
        if body.as_ptr() == hook.raw().as_ptr() && body == *hook.raw() {
            "same"
        } else {
            "copied"
        }
    }
    let app: Router = Router::new()
        .route(Sender::Aexo.path(), post(same_bytes))
        .layer(WebhookLayer::new(verifier(Sender::Aexo)));
    let case = cases().remove(0);
    let res = app
        .oneshot(case.request(|c| Body::from(c.body.clone())))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        &res.into_body().collect().await.unwrap().to_bytes()[..],
        b"same"
    );
}
