//! The conformance table against both adapters: an axum server and an
//! actix-web server on 127.0.0.1, and axum through `oneshot`. Every step
//! must match the table, and the adapters must agree with each other on
//! the status, hookgate's JSON body, the dedupe and Retry-After headers,
//! and the number of handler calls.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use bytes::Bytes;
use futures_util::stream;
use hookgate_conformance::servers::{actix_server, axum_app, axum_server};
use hookgate_conformance::table::{run, Run, SendFn};
use hookgate_conformance::wire::send;
use hookgate_conformance::{Case, Framing, Handler, Reply, DEADLINE};
use http_body_util::BodyExt;
use tower::ServiceExt;

fn over_tcp(addr: std::net::SocketAddr) -> SendFn {
    Arc::new(move |case: Case| Box::pin(async move { send(&case, addr).await }))
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

fn oneshot(handler: Handler) -> SendFn {
    let app = axum_app(handler);
    Arc::new(move |case: Case| {
        let app = app.clone();
        Box::pin(async move {
            let res = app.oneshot(case.request(body_for)).await.unwrap();
            let status = res.status().as_u16();
            let headers = res
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                .collect();
            let body = res.into_body().collect().await.unwrap().to_bytes();
            Reply {
                status,
                headers,
                body,
            }
        })
    })
}

/// What must be the same across adapters for one reply.
fn visible(reply: &Reply) -> (u16, Bytes, Option<String>, Option<String>, Option<String>) {
    (
        reply.status,
        reply.body.clone(),
        reply.header("content-type").map(str::to_owned),
        reply.header("hookgate-dedupe").map(str::to_owned),
        reply.header("retry-after").map(str::to_owned),
    )
}

fn assert_clean(name: &str, run: &Run) {
    assert!(
        run.failures.is_empty(),
        "{name}:\n{}",
        run.failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_gives_the_same_answers_on_axum_and_actix() {
    let axum_handler = Handler::default();
    let axum_run = run(
        over_tcp(axum_server(axum_handler.clone()).await),
        &axum_handler,
    )
    .await;
    assert_clean("axum on 127.0.0.1", &axum_run);

    let actix_handler = Handler::default();
    let actix_run = run(
        over_tcp(actix_server(actix_handler.clone())),
        &actix_handler,
    )
    .await;
    assert_clean("actix-web on 127.0.0.1", &actix_run);

    let oneshot_handler = Handler::default();
    let oneshot_run = run(oneshot(oneshot_handler.clone()), &oneshot_handler).await;
    assert_clean("axum oneshot", &oneshot_run);

    assert_eq!(axum_run.replies.len(), actix_run.replies.len());
    let mut differences = Vec::new();
    for ((label, a), (_, b)) in axum_run.replies.iter().zip(&actix_run.replies) {
        if visible(a) != visible(b) {
            differences.push(format!(
                "{label}:\n  axum  {:?}\n  actix {:?}",
                visible(a),
                visible(b)
            ));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    assert_eq!(
        axum_run.calls, actix_run.calls,
        "handler calls per scenario"
    );
    assert_eq!(
        axum_run.calls, oneshot_run.calls,
        "handler calls per scenario (oneshot)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_past_the_deadline_is_answered_within_the_deadline_plus_a_margin() {
    let margin = Duration::from_millis(500);
    let axum_handler = Handler::default();
    let actix_handler = Handler::default();
    let servers = [
        ("axum", axum_server(axum_handler).await),
        ("actix", actix_server(actix_handler)),
    ];
    for (name, addr) in servers {
        let t = hookgate_conformance::now() - time::Duration::minutes(1);
        let body =
            hookgate_conformance::table::aexo_body("wh_slow_once_timing", "key.created", t, None);
        let headers =
            hookgate::testing::sign(&hookgate::scheme::Aexo, hookgate_conformance::SECRET, &body);
        let started = Instant::now();
        let reply =
            hookgate_conformance::post(addr, hookgate_conformance::AEXO_PATH, &headers, &body)
                .await;
        let took = started.elapsed();
        assert_eq!(reply.status, 503, "{name}");
        assert!(
            took >= DEADLINE,
            "{name}: answered before the deadline ({took:?})"
        );
        assert!(
            took < DEADLINE + margin,
            "{name}: 503 after {took:?}, deadline {DEADLINE:?}"
        );
        assert_eq!(reply.header("retry-after"), Some("30"), "{name}");
    }
}
