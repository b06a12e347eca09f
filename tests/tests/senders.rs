//! Every built-in scheme (Standard Webhooks with an HMAC secret and with an
//! ed25519 key), and one configured `HmacScheme`, through the
//! tower layer (`oneshot`), a real axum server and a real actix-web server
//! on 127.0.0.1: a signed delivery is handled once and its id and type reach
//! the handler, its retry is answered as a duplicate, and a wrong secret, a
//! changed byte, a stale timestamp and a missing header are refused with 401.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hookgate::dedupe::MemoryStore;
use hookgate::handshake::Handshake;
use hookgate::scheme::{self, Algorithm, Field, Scheme, SignInput, Source};
use hookgate::{testing, Secrets, Verifier, DEDUPE_HEADER};
use hookgate_conformance::wire::{self, Reply};
use tower::ServiceExt;

/// What each route's sender signs with: a Standard Webhooks secret is
/// base64, a Discord key a hex seed; the others are used as given. The
/// receiver is configured with `testing::verifying_secret` of it (the
/// public key, for ed25519 schemes).
fn secret_for(label: &str) -> &'static str {
    match label {
        "standard-webhooks" | "svix" => "whsec_c2VuZGVycy10ZXN0LWtleS0xMjM0NTY3ODkw",
        "standard-webhooks-v1a" => "whsk_c2VuZGVycy10ZXN0LXNlZWQtMDEyMzQ1Njc4OWFiY2Q=",
        "discord" => "1111111111111111111111111111111111111111111111111111111111111111",
        _ => "senders-test-secret",
    }
}

/// A signing secret of the same form that is not the route's.
fn wrong_secret_for(label: &str) -> &'static str {
    match label {
        "standard-webhooks" | "svix" => "whsec_b3RoZXIta2V5LW9mLXNvbWVvbmUtZWxzZQ==",
        "standard-webhooks-v1a" => "whsk_b3RoZXItc2VlZC1vZi1zb21lb25lLWVsc2UtMTIzNDU=",
        "discord" => "2222222222222222222222222222222222222222222222222222222222222222",
        _ => "not-the-secret",
    }
}

/// The conformance crate's configured scheme (`X-Acme-Signature`).
fn acme() -> Arc<dyn Scheme> {
    Arc::new(hookgate_conformance::acme().clone())
}

/// The routes: every built-in scheme, Standard Webhooks once more with an
/// ed25519 (`v1a`) key, and a configured `HmacScheme`.
fn schemes() -> Vec<(String, Arc<dyn Scheme>)> {
    let mut all: Vec<(String, Arc<dyn Scheme>)> = scheme::BUILTIN
        .iter()
        .map(|name| (name.to_string(), scheme::builtin(name).unwrap()))
        .collect();
    all.push((
        "standard-webhooks-v1a".into(),
        scheme::builtin("standard-webhooks").unwrap(),
    ));
    all.push(("acme".into(), acme()));
    all
}

/// The URL the senders that sign it (Square, Twilio) are configured to
/// call: not the server's own address, as behind a proxy.
fn public_url(scheme: &dyn Scheme) -> String {
    format!("https://hooks.example.com/in/{}", scheme.name())
}

/// The verify token of the Meta handshake on the `github` route.
const META_TOKEN: &str = "meta-verify-token-1";

fn verifier(label: &str, scheme: &Arc<dyn Scheme>) -> Verifier {
    let key = testing::verifying_secret(&**scheme, secret_for(label)).unwrap();
    let secrets = Secrets::single(key).unwrap();
    let v = if scheme.signs_url() {
        Verifier::with_public_url(scheme.clone(), secrets, &public_url(&**scheme)).unwrap()
    } else {
        Verifier::new(scheme.clone(), secrets).unwrap()
    };
    // Each sender's own handshake on its route, and the unsigned ones on
    // the GitHub route (any route may answer those).
    let handshakes = match label {
        "slack" => vec![Handshake::SlackUrlVerification],
        "zoom" => vec![Handshake::ZoomUrlValidation],
        "discord" => vec![Handshake::DiscordPing],
        "github" => vec![
            Handshake::GraphValidation,
            Handshake::DropboxChallenge,
            Handshake::MetaVerifyToken(META_TOKEN.into()),
        ],
        _ => vec![],
    };
    handshakes
        .into_iter()
        .fold(v, |v, h| v.handshake(h).unwrap())
}

fn path(label: &str) -> String {
    format!("/hook/{label}")
}

/// What the handler answers: the id and type it was handed.
fn seen(event: &hookgate::VerifiedEvent) -> String {
    format!(
        "{}|{}|{}",
        event.scheme(),
        event.id().unwrap_or("-"),
        event.event_type()
    )
}

struct Delivery {
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    id: String,
    event: String,
}

/// A delivery of event `n`, signed `age` ago with `secret`.
fn delivery(scheme: &dyn Scheme, n: u32, secret: &str, age: Duration) -> Delivery {
    let id = format!("evt_senders_{n}");
    let event = "thing.happened".to_owned();
    let at = SystemTime::now() - age;
    let body = if scheme.name() == "twilio" {
        // Twilio posts forms.
        format!("MessageSid=SM{n:08}&From=%2B14155550100&Body=Hello+{n}").into_bytes()
    } else {
        testing::sample_body(
            scheme,
            &id,
            &event,
            serde_json::json!({"n": n}),
            time::OffsetDateTime::from(at),
        )
    };
    let url = public_url(scheme);
    let mut input = SignInput::new(&body);
    input.timestamp = at;
    input.id = Some(&id);
    input.event = Some(&event);
    input.url = Some(&url);
    let headers = testing::sign_input(scheme, secret, &input);
    assert!(!headers.is_empty(), "{}", scheme.name());
    Delivery {
        headers,
        id,
        event,
        body,
    }
}

/// What the handler should be handed for `d`: the id the scheme reads
/// (Zoom sends none) and the event type.
fn expected(scheme: &dyn Scheme, d: &Delivery) -> String {
    let fields = scheme.envelope();
    let id = if fields.id.is_some() {
        d.id.as_str()
    } else {
        "-"
    };
    let event = match fields.event {
        Some(Field {
            source: Source::Header(_) | Source::Body(_),
            ..
        }) => d.event.as_str(),
        None => "",
    };
    format!("{}|{id}|{event}", scheme.name())
}

fn axum_app() -> axum::Router {
    use hookgate_axum::{Webhook, WebhookLayer};
    let mut app = axum::Router::new();
    for (label, scheme) in schemes() {
        let layer = WebhookLayer::new(verifier(&label, &scheme))
            .with_dedupe(MemoryStore::new())
            .unwrap();
        app = app.route(
            &path(&label),
            // `any`: the handshakes of some senders are GETs.
            axum::routing::any(|hook: Webhook<()>| async move { seen(hook.meta()) }).layer(layer),
        );
    }
    app
}

async fn axum_server() -> SocketAddr {
    serve_axum(axum_app()).await
}

fn actix_server() -> SocketAddr {
    use actix_web::{web, App, HttpResponse, HttpServer};
    use hookgate_actix::{VerifyWebhook, Webhook};
    let routes: Vec<(String, _)> = schemes()
        .into_iter()
        .map(|(label, s)| {
            let mw = VerifyWebhook::new(verifier(&label, &s))
                .with_dedupe(MemoryStore::new())
                .unwrap();
            (path(&label), mw)
        })
        .collect();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                let mut app = App::new();
                for (p, mw) in &routes {
                    app = app.service(web::resource(p.as_str()).wrap(mw.clone()).route(
                        web::route().to(|hook: Webhook<()>| async move {
                            HttpResponse::Ok().body(seen(hook.meta()))
                        }),
                    ));
                }
                app
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

fn text(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.body).into_owned()
}

/// The checks, against a server at `addr`; `n` keeps event ids apart.
async fn check_server(addr: SocketAddr, base: u32) {
    for (i, (label, scheme)) in schemes().iter().enumerate() {
        let scheme = &**scheme;
        let name = label.as_str();
        let p = path(label);
        let n = base + i as u32;
        let secret = secret_for(label);
        let d = delivery(scheme, n, secret, Duration::ZERO);

        let first = wire::post(addr, &p, &d.headers, &d.body).await;
        assert_eq!(first.status, 200, "{name}: {}", text(&first));
        assert_eq!(text(&first), expected(scheme, &d), "{name}");
        let again = wire::post(addr, &p, &d.headers, &d.body).await;
        assert_eq!(again.status, 200, "{name}");
        assert_eq!(again.header(DEDUPE_HEADER), Some("duplicate"), "{name}");

        let forged = delivery(scheme, n + 1000, wrong_secret_for(label), Duration::ZERO);
        let reply = wire::post(addr, &p, &forged.headers, &forged.body).await;
        assert_eq!(reply.status, 401, "{name} wrong secret: {}", text(&reply));

        let mut changed = delivery(scheme, n + 2000, secret, Duration::ZERO);
        let last = changed.body.len() - 2;
        changed.body[last] ^= 0x01;
        let reply = wire::post(addr, &p, &changed.headers, &changed.body).await;
        assert_eq!(reply.status, 401, "{name} changed byte: {}", text(&reply));

        let signature_header = scheme.signature_header();
        let unsigned: Vec<(&str, String)> = d
            .headers
            .iter()
            .filter(|(h, _)| *h != signature_header)
            .cloned()
            .collect();
        let reply = wire::post(addr, &p, &unsigned, &d.body).await;
        assert_eq!(reply.status, 401, "{name} no signature: {}", text(&reply));

        // A day-old signature: refused where the scheme signs a timestamp
        // (header or body); GitHub, Shopify, Square and Twilio sign none, so
        // their replay protection is the dedupe window, which holds this
        // new event id.
        let old = delivery(scheme, n + 3000, secret, Duration::from_secs(86_400 * 2));
        let reply = wire::post(addr, &p, &old.headers, &old.body).await;
        let signs_time = !matches!(name, "github" | "shopify" | "square" | "twilio");
        let want = if signs_time { 401 } else { 200 };
        assert_eq!(reply.status, want, "{name} two days old: {}", text(&reply));
    }
}

#[tokio::test]
async fn every_scheme_through_a_real_axum_server() {
    check_server(axum_server().await, 0).await;
}

#[tokio::test]
async fn every_scheme_through_a_real_actix_server() {
    check_server(actix_server(), 100).await;
}

#[tokio::test]
async fn every_scheme_through_the_tower_layer_with_oneshot() {
    let app = axum_app();
    for (label, scheme) in schemes() {
        let d = delivery(&*scheme, 7, secret_for(&label), Duration::ZERO);
        let mut req = http::Request::post(path(&label));
        for (name, value) in &d.headers {
            req = req.header(*name, value);
        }
        let req = req
            .header("content-length", d.body.len())
            .body(axum::body::Body::from(d.body.clone()))
            .unwrap();
        let res = app.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), 200, "{}", scheme.name());
        let body = http_body_util::BodyExt::collect(res.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(
            String::from_utf8_lossy(&body),
            expected(&*scheme, &d),
            "{}",
            scheme.name()
        );
    }
}

/// Twilio's JSON deliveries sign the URL with the body's hash in its query:
/// both adapters hand the request's query to the verifier.
async fn check_twilio_json(addr: SocketAddr) {
    use sha2::Digest;
    let scheme = scheme::builtin("twilio").unwrap();
    let body = br#"{"AccountSid":"AC1","EventType":"com.twilio.messaging.message.delivered"}"#;
    let hash = hex::encode(sha2::Sha256::digest(body));
    let query = format!("tenant=7&bodySHA256={hash}");
    let url = format!("{}?{query}", public_url(&*scheme));
    let mut input = SignInput::new(body);
    input.url = Some(&url);
    let headers = testing::sign_input(&*scheme, secret_for("twilio"), &input);
    let ok = wire::post(addr, &format!("/hook/twilio?{query}"), &headers, body).await;
    assert_eq!(ok.status, 200, "{}", text(&ok));
    // The same signature, another body: its hash no longer matches.
    let other = br#"{"AccountSid":"AC2","EventType":"com.twilio.messaging.message.delivered"}"#;
    let bad = wire::post(addr, &format!("/hook/twilio?{query}"), &headers, other).await;
    assert_eq!(bad.status, 401, "{}", text(&bad));
    // The query changed on the way: the signed URL is not the one called.
    let moved = wire::post(addr, &format!("/hook/twilio?{query}&x=1"), &headers, body).await;
    assert_eq!(moved.status, 401, "{}", text(&moved));
}

#[tokio::test]
async fn a_signed_query_reaches_the_verifier_through_both_adapters() {
    check_twilio_json(axum_server().await).await;
    check_twilio_json(actix_server()).await;
}

/// A signed delivery of `body` for `label`'s route, as its sender signs it.
fn signed_body(label: &str, body: &[u8]) -> Vec<(&'static str, String)> {
    let scheme = scheme::builtin(label).unwrap();
    testing::sign(&*scheme, secret_for(label), body)
}

async fn get(addr: SocketAddr, target: &str) -> Reply {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!("GET {target} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    wire::read_response(&mut stream).await
}

/// Every handshake, answered by the layer without the handler.
async fn check_handshakes(addr: SocketAddr) {
    // Slack's documented url_verification.
    let body = br#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let reply = wire::post(addr, "/hook/slack", &signed_body("slack", body), body).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
    assert_eq!(
        reply.json(),
        serde_json::json!({"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
    );
    // Unsigned, or signed with another secret: 401 like any forgery.
    let forged = testing::sign(&scheme::Slack, "not-the-secret", body);
    let reply = wire::post(addr, "/hook/slack", &forged, body).await;
    assert_eq!(reply.status, 401);

    // Zoom: the plain token back, with its HMAC under the secret token.
    let body = br#"{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}"#;
    let reply = wire::post(addr, "/hook/zoom", &signed_body("zoom", body), body).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
    let want = hex::encode(
        Algorithm::HmacSha256.tag(secret_for("zoom").as_bytes(), &[b"qgg8vlvZRS6UYooatFL8Aw"]),
    );
    assert_eq!(
        reply.json(),
        serde_json::json!({"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": want})
    );

    // Discord: an interaction PING gets a PONG, a webhook-event PING 204.
    let body = br#"{"id":"1","application_id":"2","type":1,"version":1}"#;
    let reply = wire::post(addr, "/hook/discord", &signed_body("discord", body), body).await;
    assert_eq!(
        (reply.status, reply.json()),
        (200, serde_json::json!({"type": 1}))
    );
    let body = br#"{"version":1,"application_id":"2","type":0}"#;
    let reply = wire::post(addr, "/hook/discord", &signed_body("discord", body), body).await;
    assert_eq!(reply.status, 204, "{}", text(&reply));
    // A webhook event is `type` 1 with an `event` object: not a PING, it
    // reaches the handler.
    let body = br#"{"version":1,"application_id":"2","type":1,"event":{"type":"APPLICATION_AUTHORIZED","timestamp":"2024-10-18T14:42:53.064834","data":{}}}"#;
    let reply = wire::post(addr, "/hook/discord", &signed_body("discord", body), body).await;
    assert_eq!(
        (reply.status, text(&reply).as_str()),
        (200, "discord|-|1"),
        "a type-1 webhook event is handed to the handler"
    );

    // Microsoft Graph: the decoded token, as text that is not sniffed.
    let reply = wire::post(
        addr,
        "/hook/github?validationToken=Validation%3A%20Testing",
        &[],
        b"",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
    assert_eq!(text(&reply), "Validation: Testing");
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    assert!(reply
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));

    // Dropbox and Meta: GETs.
    let reply = get(addr, "/hook/github?challenge=dropbox-challenge-9").await;
    assert_eq!(
        (reply.status, text(&reply).as_str()),
        (200, "dropbox-challenge-9")
    );
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    let meta = |token: &str| {
        format!("/hook/github?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444")
    };
    let reply = get(addr, &meta(META_TOKEN)).await;
    assert_eq!((reply.status, text(&reply).as_str()), (200, "1158201444"));
    let reply = get(addr, &meta("guess")).await;
    assert_eq!(reply.status, 403);

    // A route that did not opt in treats the same requests as deliveries.
    let reply = get(addr, "/hook/stripe?challenge=x").await;
    assert_eq!(reply.status, 401, "{}", text(&reply));
}

#[tokio::test]
async fn handshakes_are_answered_by_the_layer_in_both_adapters() {
    check_handshakes(axum_server().await).await;
    check_handshakes(actix_server()).await;
}

/// `router` served on 127.0.0.1 (a free port) for the rest of the test.
async fn serve_axum(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

/// One actix-web resource at `path`, wrapped in `mw`, its route from
/// `route`, served on 127.0.0.1 on its own thread and actix system.
fn serve_actix(
    path: &'static str,
    mw: hookgate_actix::VerifyWebhook<hookgate_actix::mode::Deduped<MemoryStore>>,
    route: fn() -> actix_web::Route,
) -> SocketAddr {
    use actix_web::{web, App, HttpServer};
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                App::new().service(web::resource(path).wrap(mw.clone()).route(route()))
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

/// What a report-only route's handler was handed.
fn verdict(ext: &http::Extensions) -> String {
    describe(
        ext.get::<hookgate::VerifiedEvent>(),
        ext.get::<hookgate::ReportOnly>(),
    )
}

/// [`verdict`] for actix-web's extensions.
fn verdict_of(ext: &actix_web::dev::Extensions) -> String {
    describe(
        ext.get::<hookgate::VerifiedEvent>(),
        ext.get::<hookgate::ReportOnly>(),
    )
}

fn describe(
    event: Option<&hookgate::VerifiedEvent>,
    report: Option<&hookgate::ReportOnly>,
) -> String {
    match (event, report) {
        (Some(event), _) => format!("verified:{}", event.id().unwrap_or("-")),
        (None, Some(report)) => format!("unverified:{}", report.rejection.reason()),
        (None, None) => "neither".into(),
    }
}

fn report_only_verifier() -> Verifier {
    Verifier::new(
        scheme::GitHub,
        Secrets::single(secret_for("github")).unwrap(),
    )
    .unwrap()
    .max_body_bytes(4096)
    .report_only()
}

async fn check_report_only(addr: SocketAddr) {
    let d = delivery(&scheme::GitHub, 900, secret_for("github"), Duration::ZERO);
    let ok = wire::post(addr, "/report", &d.headers, &d.body).await;
    assert_eq!((ok.status, text(&ok)), (200, format!("verified:{}", d.id)));
    let again = wire::post(addr, "/report", &d.headers, &d.body).await;
    assert_eq!(
        again.header(DEDUPE_HEADER),
        Some("duplicate"),
        "verified deliveries dedupe"
    );
    let forged = delivery(&scheme::GitHub, 901, "not-the-secret", Duration::ZERO);
    let reply = wire::post(addr, "/report", &forged.headers, &forged.body).await;
    assert_eq!(
        (reply.status, text(&reply).as_str()),
        (200, "unverified:bad_signature")
    );
    let reply = wire::post(addr, "/report", &[], &forged.body).await;
    assert_eq!(
        (reply.status, text(&reply).as_str()),
        (200, "unverified:missing_signature")
    );
    // The body limit still protects the server.
    let big = vec![b'x'; 5000];
    let reply = wire::post(addr, "/report", &forged.headers, &big).await;
    assert_eq!(reply.status, 413);
}

#[tokio::test]
async fn a_report_only_route_passes_failures_on_marked_and_still_verifies_and_dedupes() {
    let layer = hookgate_axum::WebhookLayer::new(report_only_verifier())
        .with_dedupe(MemoryStore::new())
        .unwrap();
    let app = axum::Router::new().route(
        "/report",
        axum::routing::post(|req: axum::extract::Request| async move { verdict(req.extensions()) })
            .layer(layer),
    );
    check_report_only(serve_axum(app).await).await;

    use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
    let mw = hookgate_actix::VerifyWebhook::new(report_only_verifier())
        .with_dedupe(MemoryStore::new())
        .unwrap();
    let addr = serve_actix("/report", mw, || {
        web::post().to(|req: HttpRequest| async move {
            HttpResponse::Ok().body(verdict_of(&req.extensions()))
        })
    });
    check_report_only(addr).await;
}

/// A per-tenant route: tenants `acme` (rotating: new and old secret) and
/// `globex`; `down` makes the lookup fail.
fn tenant_verifier() -> Verifier {
    use hookgate::store::StoreError;
    use hookgate::tenant::TenantKey;
    let lookup = |tenant: String| async move {
        match tenant.as_str() {
            "acme" => Ok(Some(Secrets::new(["acme-new", "acme-old"]).unwrap())),
            "globex" => Ok(Some(Secrets::single("globex-secret").unwrap())),
            "down" => Err(StoreError("secret store unreachable".into())),
            _ => Ok(None),
        }
    };
    Verifier::per_tenant(scheme::GitHub, TenantKey::Header("x-tenant".into()), lookup).unwrap()
}

async fn check_tenants(addr: SocketAddr) {
    let send = |tenant: Option<&'static str>, secret: &'static str, n: u32| async move {
        let d = delivery(&scheme::GitHub, n, secret, Duration::ZERO);
        let mut headers = d.headers.clone();
        if let Some(t) = tenant {
            headers.push(("x-tenant", t.to_owned()));
        }
        wire::post(addr, "/tenant", &headers, &d.body).await
    };
    assert_eq!(send(Some("acme"), "acme-new", 1).await.status, 200);
    let old = send(Some("acme"), "acme-old", 2).await;
    assert_eq!(
        (old.status, text(&old)),
        (200, "github|evt_senders_2|thing.happened".into())
    );
    assert_eq!(send(Some("globex"), "globex-secret", 3).await.status, 200);
    // Another tenant's secret is not this tenant's.
    assert_eq!(send(Some("globex"), "acme-new", 4).await.status, 401);
    // Nothing found, or no tenant named: refused, never a pass.
    let unknown = send(Some("initech"), "acme-new", 5).await;
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.json()["error"], "no webhook secret for this tenant");
    assert_eq!(send(None, "acme-new", 6).await.status, 401);
    // The same event id from two tenants: two events, each handled once.
    let a = send(Some("acme"), "acme-new", 20).await;
    let g = send(Some("globex"), "globex-secret", 20).await;
    assert_eq!((a.status, a.header(DEDUPE_HEADER)), (200, None));
    assert_eq!((g.status, g.header(DEDUPE_HEADER)), (200, None));
    let again = send(Some("acme"), "acme-new", 20).await;
    assert_eq!(again.header(DEDUPE_HEADER), Some("duplicate"));
    // A lookup that fails: 503 with Retry-After, so the sender retries.
    let down = send(Some("down"), "acme-new", 7).await;
    assert_eq!(down.status, 503);
    assert!(down.header("retry-after").is_some());
}

#[tokio::test]
async fn a_per_tenant_route_looks_each_tenants_secrets_up_and_fails_closed() {
    let layer = hookgate_axum::WebhookLayer::new(tenant_verifier())
        .with_dedupe(MemoryStore::new())
        .unwrap();
    let app = axum::Router::new().route(
        "/tenant",
        axum::routing::post(|hook: hookgate_axum::Webhook<()>| async move { seen(hook.meta()) })
            .layer(layer),
    );
    check_tenants(serve_axum(app).await).await;

    use actix_web::{web, HttpResponse};
    let mw = hookgate_actix::VerifyWebhook::new(tenant_verifier())
        .with_dedupe(MemoryStore::new())
        .unwrap();
    let addr = serve_actix("/tenant", mw, || {
        web::post().to(|hook: hookgate_actix::Webhook<()>| async move {
            HttpResponse::Ok().body(seen(hook.meta()))
        })
    });
    check_tenants(addr).await;

    // The synchronous call has no tenant's secrets: refused.
    let d = delivery(&scheme::GitHub, 8, "acme-new", Duration::ZERO);
    assert_eq!(
        tenant_verifier()
            .verify(&d.headers, d.body.clone().into())
            .unwrap_err(),
        hookgate::Rejection::UnknownTenant
    );
    let acme = tenant_verifier()
        .with_secrets(&Secrets::single("acme-new").unwrap())
        .unwrap();
    assert!(acme.verify(&d.headers, d.body.into()).is_ok());
}
