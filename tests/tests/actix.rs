//! actix-web-specific checks beside the shared table (tests/conformance.rs).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use actix_web::{test, web, App, HttpResponse};
use hookgate::events::AexoEvent;
use hookgate::scheme::Aexo;
use hookgate_actix::{VerifyWebhook, Webhook};
use hookgate_conformance::{table, verifier, Sender, AEXO_PATH, LIMIT, SECRET};

async fn length(hook: Webhook<()>) -> HttpResponse {
    HttpResponse::Ok().body(hook.raw().len().to_string())
}

fn signed(body: &[u8]) -> actix_http::Request {
    let mut req = test::TestRequest::post().uri(AEXO_PATH);
    for (name, value) in hookgate::testing::sign(&Aexo, SECRET, body) {
        req = req.insert_header((name, value));
    }
    req.set_payload(body.to_vec()).to_request()
}

fn body_of(size: usize, id: &str) -> bytes::Bytes {
    let t = hookgate_conformance::now() - time::Duration::minutes(1);
    table::aexo_body(id, "key.created", t, Some(size))
}

#[actix_web::test]
async fn payload_config_neither_cuts_nor_refuses_a_body_within_hookgates_limit() {
    // actix's PayloadConfig is set far below hookgate's limit.
    let app = test::init_service(
        App::new().app_data(web::PayloadConfig::new(1024)).service(
            web::resource(AEXO_PATH)
                .wrap(VerifyWebhook::new(verifier(Sender::Aexo)))
                .route(web::post().to(length)),
        ),
    )
    .await;
    let body = body_of(1500, "wh_payload_1");
    let res = test::call_service(&app, signed(&body)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        test::read_body(res).await,
        "1500",
        "the handler saw the whole body"
    );

    // Over hookgate's limit: hookgate's own 413, the same body as on axum.
    let over = body_of(LIMIT + 1, "wh_payload_2");
    let res = test::call_service(&app, signed(&over)).await;
    assert_eq!(res.status(), 413);
    let json: serde_json::Value = serde_json::from_slice(&test::read_body(res).await).unwrap();
    assert_eq!(
        json["error"],
        format!("body exceeds the {LIMIT}-byte limit; the receiver can raise it (max_body_bytes)")
    );
}

#[actix_web::test]
async fn a_body_above_actix_default_payload_limit_reaches_the_handler_whole() {
    // actix's default PayloadConfig limit is 256 KiB; hookgate's is raised to 1 MiB.
    let verifier = verifier(Sender::Aexo).max_body_bytes(1024 * 1024);
    let app = test::init_service(
        App::new().service(
            web::resource(AEXO_PATH)
                .wrap(VerifyWebhook::new(verifier))
                .route(web::post().to(length)),
        ),
    )
    .await;
    let body = body_of(300 * 1024, "wh_payload_3");
    let res = test::call_service(&app, signed(&body)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(test::read_body(res).await, (300 * 1024).to_string());
}

#[actix_web::test]
async fn the_handler_can_still_read_the_verified_payload() {
    async fn echo(_hook: Webhook<AexoEvent>, body: web::Bytes) -> HttpResponse {
        HttpResponse::Ok().body(body)
    }
    let app = test::init_service(
        App::new().service(
            web::resource(AEXO_PATH)
                .wrap(VerifyWebhook::new(verifier(Sender::Aexo)))
                .route(web::post().to(echo)),
        ),
    )
    .await;
    let body = body_of(700, "wh_payload_4");
    let res = test::call_service(&app, signed(&body)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(test::read_body(res).await, body);
}

#[actix_web::test]
async fn the_extractor_without_the_middleware_answers_500_naming_it() {
    let app = test::init_service(App::new().route(AEXO_PATH, web::post().to(length))).await;
    let res = test::call_service(&app, signed(&body_of(600, "wh_nomw"))).await;
    assert_eq!(res.status(), 500);
    let json: serde_json::Value = serde_json::from_slice(&test::read_body(res).await).unwrap();
    assert!(
        json["error"].as_str().unwrap().contains("VerifyWebhook"),
        "{json}"
    );
}

#[actix_web::test]
async fn dedupe_on_redis_works_through_the_actix_middleware() {
    let redis = hookgate_conformance::redis_server::RedisServer::start();
    // Generous: no answer may depend on Redis replying within a second.
    let store = hookgate_redis::RedisStore::new(&redis.url())
        .unwrap()
        .op_timeout(std::time::Duration::from_secs(10));
    let middleware = VerifyWebhook::new(verifier(Sender::Aexo))
        .with_dedupe(store)
        .unwrap();
    let app = test::init_service(
        App::new().service(
            web::resource(AEXO_PATH)
                .wrap(middleware)
                .route(web::post().to(length)),
        ),
    )
    .await;
    let body = body_of(600, "wh_actix_redis");
    let first = test::call_service(&app, signed(&body)).await;
    assert_eq!(first.status(), 200);
    assert!(first.headers().get("hookgate-dedupe").is_none());
    let again = test::call_service(&app, signed(&body)).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers().get("hookgate-dedupe").unwrap(), "duplicate");
    assert_eq!(test::read_body(again).await, "{\"duplicate\":true}");
}

#[actix_web::test]
async fn hookgates_answers_carry_the_answer_in_the_extensions_and_the_handlers_do_not() {
    let app = test::init_service(
        App::new().service(
            web::resource(AEXO_PATH)
                .wrap(
                    VerifyWebhook::new(verifier(Sender::Aexo))
                        .with_dedupe(hookgate::dedupe::MemoryStore::new())
                        .unwrap(),
                )
                .route(web::post().to(length)),
        ),
    )
    .await;
    let reason = |res: &actix_web::dev::ServiceResponse<_>| {
        res.response()
            .extensions()
            .get::<hookgate::Answer>()
            .map(hookgate::Answer::reason)
    };
    let body = body_of(600, "wh_answer_1");
    let first = test::call_service(&app, signed(&body)).await;
    assert_eq!(first.status(), 200);
    assert_eq!(reason(&first), None, "the handler's own answer");
    let again = test::call_service(&app, signed(&body)).await;
    assert_eq!(reason(&again), Some("duplicate"));

    let mut forged = test::TestRequest::post().uri(AEXO_PATH);
    for (name, value) in hookgate::testing::sign(&Aexo, "not-the-secret", &body) {
        forged = forged.insert_header((name, value));
    }
    let res = test::call_service(&app, forged.set_payload(body.to_vec()).to_request()).await;
    assert_eq!(res.status(), 401);
    assert_eq!(reason(&res), Some("bad_signature"));
}
