//! The inbox's metrics, as a Prometheus scrape shows them, after real
//! deliveries over HTTP to an inbox route and real worker attempts (one
//! retried, one dead, the rest done). Its own test binary: the metrics
//! recorder is global to the process.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hookgate::inbox::{HandlerError, Inbox, Workers};
use hookgate::scheme::Aexo;
use hookgate::{testing, Delivery, Verifier, WebhookLayer};
use hookgate_conformance::inbox::{quick, settle};
use hookgate_conformance::wire::post;
use hookgate_sqlite::SqliteInbox;
use tower::ServiceBuilder;

const SECRET: &str = "metrics-secret";

/// The value of the sample of `metric` whose labels include all of `labels`.
fn sample(text: &str, metric: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(metric) && labels.iter().all(|label| l.contains(label)))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_dedupe_attempts_retries_dead_letters_and_depth_are_counted() {
    let scrape = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("hookgate-inbox-metrics-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = Arc::new(SqliteInbox::open(dir.join("aexo.sqlite3")).unwrap());
    let verifier = Verifier::aexo(SECRET).unwrap();

    // One event fails its first attempt, one fails for good, the rest succeed.
    let failed_once = Arc::new(AtomicBool::new(false));
    let workers = Workers::spawn(
        store.clone(),
        verifier.clone(),
        quick(1),
        move |d: Delivery<()>| {
            let outcome = match d.id() {
                Some("wh_m_retry") if !failed_once.swap(true, Ordering::SeqCst) => {
                    Err(HandlerError::Retry("try later".into()))
                }
                Some("wh_m_dead") => Err(HandlerError::Permanent("no such account".into())),
                _ => Ok(()),
            };
            async move { outcome }
        },
    );
    let route = ServiceBuilder::new()
        .layer(WebhookLayer::new(verifier.clone()))
        .service(Inbox::new(store.clone(), &verifier));
    let app = axum::Router::new().route_service("/webhooks/aexo", route);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let body =
        |id: &str| testing::aexo_body(id, "key.created", serde_json::json!({ "key_id": id }));
    for id in ["wh_m_ok", "wh_m_retry", "wh_m_dead", "wh_m_ok"] {
        let b = body(id);
        let reply = post(
            addr,
            "/webhooks/aexo",
            &testing::sign(&Aexo, SECRET, &b),
            &b,
        )
        .await;
        assert_eq!(reply.status, 200, "{id}");
    }
    let b = body("wh_m_forged");
    let reply = post(
        addr,
        "/webhooks/aexo",
        &testing::sign(&Aexo, "guessed", &b),
        &b,
    )
    .await;
    assert_eq!(reply.status, 401);

    let stats = settle(&*store, Duration::from_secs(10)).await;
    assert_eq!((stats.done, stats.dead), (2, 1), "{stats:?}");
    // Worker 0 refreshes the depth gauges every 5 s.
    let deadline = Instant::now() + Duration::from_secs(15);
    let text = loop {
        let text = scrape.render();
        if sample(&text, "hookgate_inbox_depth", &["state=\"dead\""]) == Some(1.0) {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "the dead letter never showed in the depth gauge:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    workers.shutdown().await;

    let count = |metric: &str, labels: &[&str]| sample(&text, metric, labels);
    let verified = ["scheme=\"aexo\"", "outcome=\"verified\""];
    assert_eq!(
        count("hookgate_deliveries_total", &verified),
        Some(4.0),
        "{text}"
    );
    let forged = ["reason=\"bad_signature\""];
    assert_eq!(
        count("hookgate_deliveries_total", &forged),
        Some(1.0),
        "{text}"
    );
    let stored = |result: &str| {
        count(
            "hookgate_inbox_stored_total",
            &[&format!("result=\"{result}\"")],
        )
    };
    assert_eq!(stored("stored"), Some(3.0), "{text}");
    assert_eq!(stored("duplicate"), Some(1.0), "{text}");
    let attempts = |result: &str| {
        count(
            "hookgate_inbox_attempts_total",
            &[&format!("result=\"{result}\"")],
        )
    };
    assert_eq!(attempts("done"), Some(2.0), "{text}");
    assert_eq!(attempts("retry"), Some(1.0), "{text}");
    assert_eq!(attempts("dead"), Some(1.0), "{text}");
    let inbox_runs = ["mode=\"inbox\""];
    assert_eq!(
        count("hookgate_handler_duration_seconds_count", &inbox_runs),
        Some(4.0),
        "{text}"
    );
    assert_eq!(
        count("hookgate_inbox_depth", &["state=\"pending\""]),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        count("hookgate_inbox_oldest_pending_seconds", &[]),
        Some(0.0),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
