//! Report-only mode ([`Verifier::report_only`]): never the default, loud in
//! the log when a route is built with it (the tower layer and the actix
//! middleware), and counted in `hookgate_report_only_total` with its
//! verdict, as a Prometheus scrape shows it. Its own test binary: the log
//! subscriber and the metrics recorder are global to the process.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use hookgate::dedupe::MemoryStore;
use hookgate::scheme::GitHub;
use hookgate::{testing, Secrets, Verifier, WebhookLayer};
use tower::ServiceExt;

const SECRET: &str = "report-only-secret";

/// The log, at `warn` and above, as the application's log shows it.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    /// Captures the process's log from now on.
    fn install() -> Self {
        let log = Self::default();
        let writer = log.clone();
        let installed = tracing_subscriber::fmt()
            .with_max_level(tracing_subscriber::filter::LevelFilter::WARN)
            .with_ansi(false)
            .without_time()
            .with_writer(move || writer.clone())
            .try_init();
        installed.unwrap();
        log
    }

    /// The lines logged since the last call.
    fn take(&self) -> Vec<String> {
        let bytes = std::mem::take(&mut *self.0.lock().unwrap());
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// The value of the sample of `metric` whose labels include all of `labels`.
fn sample(text: &str, metric: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(metric) && labels.iter().all(|label| l.contains(label)))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

fn github() -> Verifier {
    Verifier::new(GitHub, Secrets::single(SECRET).unwrap()).unwrap()
}

/// A GitHub delivery of event `n` signed with `secret` (`None`: unsigned).
fn delivery(n: u32, secret: Option<&str>) -> (Vec<(&'static str, String)>, Vec<u8>) {
    let body = format!(r#"{{"action":"opened","number":{n}}}"#).into_bytes();
    let id = format!("report-only-{n}");
    let mut input = hookgate::scheme::SignInput::new(&body);
    input.id = Some(&id);
    let mut headers = testing::sign_input(&GitHub, secret.unwrap_or(SECRET), &input);
    if secret.is_none() {
        headers.retain(|(h, _)| *h != "x-hub-signature-256");
    }
    (headers, body)
}

/// The status and body of `delivery` through an axum route whose handler
/// says whether it was handed a verified event.
async fn through_axum(
    app: &axum::Router,
    (headers, body): (Vec<(&'static str, String)>, Vec<u8>),
) -> (u16, String) {
    let mut req = http::Request::post("/hook");
    for (name, value) in &headers {
        req = req.header(*name, value);
    }
    let req = req.body(axum::body::Body::from(body)).unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status().as_u16();
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn verdict(ext: &http::Extensions) -> &'static str {
    match (
        ext.get::<hookgate::VerifiedEvent>(),
        ext.get::<hookgate::ReportOnly>(),
    ) {
        (Some(_), _) => "verified",
        (None, Some(_)) => "unverified",
        (None, None) => "neither",
    }
}

fn app(verifier: Verifier) -> axum::Router {
    axum::Router::new().route(
        "/hook",
        axum::routing::post(|req: axum::extract::Request| async move { verdict(req.extensions()) })
            .layer(WebhookLayer::new(verifier)),
    )
}

#[tokio::test]
async fn report_only_is_off_by_default_loud_when_a_route_is_built_and_counted_by_verdict() {
    let warnings = Log::install();
    let scrape = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .unwrap();

    // Off by default: a forgery is refused, and nothing is said about
    // report-only when the route is built.
    let default = github();
    assert!(!default.is_report_only());
    let strict = app(default.clone());
    let _ = hookgate_actix::VerifyWebhook::new(default);
    assert_eq!(
        through_axum(&strict, delivery(1, Some("guessed"))).await.0,
        401
    );
    let said = warnings.take();
    assert!(!said.iter().any(|w| w.contains("REPORT-ONLY")), "{said:?}");

    // Setting it warns, and so does each layer and middleware built with it.
    let report = github().report_only();
    assert!(report.is_report_only());
    let set = warnings.take();
    assert_eq!(set.len(), 1, "{set:?}");
    assert!(set[0].contains("REPORT-ONLY"), "{set:?}");
    let lenient = app(report.clone());
    let mw = hookgate_actix::VerifyWebhook::new(report.clone())
        .with_dedupe(MemoryStore::new())
        .unwrap();
    let built = warnings.take();
    assert_eq!(built.len(), 2, "{built:?}");
    for (said, adapter) in built.iter().zip(["tower", "actix"]) {
        assert!(
            said.contains("REPORT-ONLY")
                && said.contains("scheme=\"github\"")
                && said.contains(&format!("adapter=\"{adapter}\"")),
            "{said}"
        );
    }

    // Each verdict counted under its label, through both adapters.
    let tower_cases = [
        (delivery(10, None), "unverified"),
        (delivery(11, Some(SECRET)), "verified"),
        (delivery(12, Some("guessed")), "unverified"),
        (delivery(13, Some("guessed")), "unverified"),
    ];
    for (d, want) in tower_cases {
        assert_eq!(through_axum(&lenient, d).await, (200, want.to_owned()));
    }
    let actix = actix_web::test::init_service(
        actix_web::App::new().service(
            actix_web::web::resource("/hook")
                .wrap(mw)
                .route(actix_web::web::post().to(|| async { "handled" })),
        ),
    )
    .await;
    for (headers, body) in [delivery(20, Some(SECRET)), delivery(21, Some("guessed"))] {
        let mut req = actix_web::test::TestRequest::post().uri("/hook");
        for (name, value) in headers {
            req = req.insert_header((name, value));
        }
        let res = actix_web::test::call_service(&actix, req.set_payload(body).to_request()).await;
        assert_eq!(res.status(), 200);
    }

    let text = scrape.render();
    let count = |verdict: &str| {
        sample(
            &text,
            "hookgate_report_only_total",
            &["scheme=\"github\"", &format!("verdict=\"{verdict}\"")],
        )
    };
    assert_eq!(count("verified"), Some(2.0), "{text}");
    assert_eq!(count("bad_signature"), Some(3.0), "{text}");
    assert_eq!(count("missing_signature"), Some(1.0), "{text}");
    // The strict route's refusal is a rejection, not a report.
    assert_eq!(
        sample(
            &text,
            "hookgate_deliveries_total",
            &["outcome=\"rejected\"", "reason=\"bad_signature\""]
        ),
        Some(1.0),
        "{text}"
    );
}
