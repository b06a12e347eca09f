//! axum-specific checks beside the shared table (tests/conformance.rs).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use axum::body::Body;
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use hookgate::events::AexoEvent;
use hookgate_axum::{Webhook, WebhookLayer};
use hookgate_conformance::servers::axum_server;
use hookgate_conformance::{scenarios, verifier, wire, Case, Framing, Handler, Sender};
use http_body_util::BodyExt;
use tower::ServiceExt;

fn valid_delivery() -> Case {
    scenarios().remove(0).steps.remove(0)
}

#[tokio::test]
async fn a_stalled_body_is_answered_near_the_read_timeout_not_later() {
    let addr = axum_server(Handler::default()).await;
    let case = scenarios()
        .into_iter()
        .flat_map(|s| s.steps)
        .find(|c| c.framing == Framing::Stall)
        .unwrap();
    let started = std::time::Instant::now();
    let reply = wire::send(&case, addr).await;
    assert_eq!(reply.status, 408);
    // Generous bound: the point is that the connection is not held open.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_extractor_without_the_layer_answers_500_naming_the_layer() {
    let app: Router = Router::new().route("/hook", post(|_: Webhook<AexoEvent>| async { "ok" }));
    let case = valid_delivery();
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
    let case = valid_delivery();
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
