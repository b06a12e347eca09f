//! HTTPS enforcement through both adapters: plain HTTP refused with 403,
//! forwarding headers honoured only from trusted proxies, plain loopback
//! only with the development switch.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;

use axum::routing::post;
use axum::Router;
use hookgate::https::{HttpsPolicy, RequireHttpsLayer};
use hookgate::scheme::Aexo;
use hookgate_axum::{Webhook, WebhookLayer};
use hookgate_conformance::{post as send, table, verifier, Reply, Sender, AEXO_PATH, SECRET};

fn delivery(id: &str) -> (Vec<(&'static str, String)>, bytes::Bytes) {
    let t = hookgate_conformance::now() - time::Duration::minutes(1);
    let body = table::aexo_body(id, "key.created", t, None);
    (hookgate::testing::sign(&Aexo, SECRET, &body), body)
}

async fn axum_with(policy: HttpsPolicy) -> SocketAddr {
    let app = Router::new()
        .route(AEXO_PATH, post(|_: Webhook| async { "ok" }))
        .layer(WebhookLayer::new(verifier(Sender::Aexo)))
        .layer(RequireHttpsLayer::new(policy).connection_from(hookgate_axum::connect_info));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap()
    });
    addr
}

async fn deliver(addr: SocketAddr, extra: &[(&'static str, &str)]) -> Reply {
    let (mut headers, body) = delivery("wh_https");
    headers.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    send(addr, AEXO_PATH, &headers, &body).await
}

fn refused(reply: &Reply) -> bool {
    reply.status == 403
        && reply.json()["error"]
            .as_str()
            .unwrap_or("")
            .contains("HTTPS is required")
}

#[tokio::test]
async fn axum_refuses_plain_http_and_spoofed_forwarding_headers() {
    // The test client is 127.0.0.1; the trusted proxies are elsewhere.
    let addr = axum_with(HttpsPolicy::new().trust_proxies(["10.0.0.0/8"]).unwrap()).await;
    assert!(refused(&deliver(addr, &[]).await));
    assert!(refused(
        &deliver(addr, &[("x-forwarded-proto", "https")]).await
    ));
    assert!(refused(
        &deliver(addr, &[("forwarded", "for=203.0.113.5;proto=https")]).await
    ));
}

#[tokio::test]
async fn axum_accepts_forwarding_headers_from_a_trusted_proxy() {
    let addr = axum_with(HttpsPolicy::new().trust_proxies(["127.0.0.1/32"]).unwrap()).await;
    assert_eq!(
        deliver(addr, &[("x-forwarded-proto", "https")])
            .await
            .status,
        200
    );
    assert_eq!(
        deliver(addr, &[("forwarded", "for=203.0.113.5;proto=https")])
            .await
            .status,
        200
    );
    assert!(refused(
        &deliver(addr, &[("x-forwarded-proto", "http")]).await
    ));
    assert!(refused(&deliver(addr, &[]).await));
}

#[tokio::test]
async fn axum_lets_plain_loopback_through_only_with_the_development_switch() {
    let dev = axum_with(HttpsPolicy::new().allow_plain_loopback_for_development(true)).await;
    assert_eq!(deliver(dev, &[]).await.status, 200);
    let strict = axum_with(HttpsPolicy::new()).await;
    assert!(refused(&deliver(strict, &[]).await));
}

mod actix {
    use actix_web::{test, web, App, HttpResponse};
    use hookgate::https::HttpsPolicy;
    use hookgate_actix::{VerifyWebhook, Webhook};
    use hookgate_conformance::{verifier, Sender, AEXO_PATH};

    async fn status_for(
        policy: HttpsPolicy,
        peer: &str,
        extra: &[(&str, &str)],
    ) -> (u16, serde_json::Value) {
        let middleware = VerifyWebhook::new(verifier(Sender::Aexo)).require_https(policy);
        let app = test::init_service(
            App::new().service(
                web::resource(AEXO_PATH)
                    .wrap(middleware)
                    .route(web::post().to(|_: Webhook| async { HttpResponse::Ok().body("ok") })),
            ),
        )
        .await;
        let (headers, body) = super::delivery("wh_https_actix");
        let mut req = test::TestRequest::post()
            .uri(AEXO_PATH)
            .peer_addr(peer.parse().unwrap());
        for (k, v) in headers {
            req = req.insert_header((k, v));
        }
        for (k, v) in extra {
            req = req.insert_header((*k, *v));
        }
        let res = test::call_service(&app, req.set_payload(body.to_vec()).to_request()).await;
        let status = res.status().as_u16();
        let body = test::read_body(res).await;
        (status, serde_json::from_slice(&body).unwrap_or_default())
    }

    #[actix_web::test]
    async fn actix_applies_the_same_policy() {
        let trusted = || HttpsPolicy::new().trust_proxies(["10.0.0.0/8"]).unwrap();
        let (s, body) = status_for(
            trusted(),
            "203.0.113.9:5000",
            &[("x-forwarded-proto", "https")],
        )
        .await;
        assert_eq!(s, 403, "spoofed from an untrusted peer");
        assert_eq!(
            body["error"],
            hookgate::Rejection::HttpsRequired.message().as_ref()
        );
        assert_eq!(
            status_for(
                trusted(),
                "10.1.2.3:5000",
                &[("x-forwarded-proto", "https")]
            )
            .await
            .0,
            200
        );
        assert_eq!(status_for(trusted(), "10.1.2.3:5000", &[]).await.0, 403);
        assert_eq!(status_for(trusted(), "127.0.0.1:5000", &[]).await.0, 403);
        let dev = HttpsPolicy::new().allow_plain_loopback_for_development(true);
        assert_eq!(status_for(dev, "127.0.0.1:5000", &[]).await.0, 200);
    }
}
