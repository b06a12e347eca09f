//! The example receiver, run as a process the way the README starts it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use hookgate::scheme::{Aexo, Axifi, Scheme};
use hookgate::testing;

fn receiver() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_axum-receiver"));
    for var in [
        "AEXO_WEBHOOK_SECRET",
        "AEXO_WEBHOOK_SECRET_PREVIOUS",
        "AXIFI_WEBHOOK_SECRET",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("RUST_LOG", "warn");
    cmd
}

struct Running {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(cmd: &mut Command) -> Running {
    let mut child = cmd
        .args(["--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .parse()
        .unwrap();
    Running { child, addr }
}

async fn post(addr: SocketAddr, path: &str, scheme: &dyn Scheme, secret: &str, body: &[u8]) -> u16 {
    post_reply(addr, path, scheme, secret, body).await.status
}

async fn post_reply(
    addr: SocketAddr,
    path: &str,
    scheme: &dyn Scheme,
    secret: &str,
    body: &[u8],
) -> hookgate_conformance::Reply {
    hookgate_conformance::post(addr, path, &testing::sign(scheme, secret, body), body).await
}

#[test]
fn without_secrets_it_names_the_variable_and_the_dev_flag_and_exits() {
    let out = receiver().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("AEXO_WEBHOOK_SECRET is not set"),
        "{stderr}"
    );
    assert!(stderr.contains("--dev-secrets"), "{stderr}");
}

#[test]
fn an_empty_secret_is_refused_even_with_the_other_one_set() {
    let out = receiver()
        .env("AEXO_WEBHOOK_SECRET", "a-real-secret")
        .env("AXIFI_WEBHOOK_SECRET", "")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("AXIFI_WEBHOOK_SECRET is set but empty"),
        "{stderr}"
    );
}

#[tokio::test]
async fn with_dev_secrets_it_accepts_signed_deliveries_and_refuses_forged_ones() {
    let running = start(receiver().arg("--dev-secrets"));
    let aexo = testing::aexo_body(
        "wh_ex_1",
        "dataset.refreshed",
        serde_json::json!({
        "dataset_name": "ny-verified-contractors", "records_updated": 847,
        "records_added": 203, "records_removed": 12, "refresh_cycle": "monthly"}),
    );
    let axifi = testing::axifi_body(
        "compound.created",
        serde_json::json!({
        "id": "compound-123", "name": "Aspirin", "category": "analgesic", "efficacy": 0.92}),
    );
    assert_eq!(
        post(
            running.addr,
            "/webhooks/aexo",
            &Aexo,
            "hookgate-dev-aexo-secret",
            &aexo
        )
        .await,
        200
    );
    assert_eq!(
        post(
            running.addr,
            "/webhooks/axifi",
            &Axifi,
            "hookgate-dev-axifi-secret",
            &axifi
        )
        .await,
        200
    );
    assert_eq!(
        post(running.addr, "/webhooks/aexo", &Aexo, "guessed", &aexo).await,
        401
    );
    assert_eq!(
        post(
            running.addr,
            "/webhooks/axifi",
            &Axifi,
            "hookgate-dev-aexo-secret",
            &axifi
        )
        .await,
        401
    );
}

#[tokio::test]
async fn secrets_from_the_environment_replace_the_dev_ones_and_rotation_works() {
    let running = start(
        receiver()
            .env("AEXO_WEBHOOK_SECRET", "aexo-new")
            .env("AEXO_WEBHOOK_SECRET_PREVIOUS", "aexo-old")
            .env("AXIFI_WEBHOOK_SECRET", "axifi-live"),
    );
    let body = testing::aexo_body("wh_ex_2", "key.created", serde_json::json!({}));
    assert_eq!(
        post(running.addr, "/webhooks/aexo", &Aexo, "aexo-new", &body).await,
        200
    );
    assert_eq!(
        post(running.addr, "/webhooks/aexo", &Aexo, "aexo-old", &body).await,
        200
    );
    assert_eq!(
        post(
            running.addr,
            "/webhooks/aexo",
            &Aexo,
            "hookgate-dev-aexo-secret",
            &body
        )
        .await,
        401
    );
}

#[tokio::test]
async fn a_redelivered_event_is_answered_as_a_duplicate() {
    let running = start(receiver().arg("--dev-secrets"));
    let body = testing::aexo_body(
        "wh_ex_dup",
        "key.revoked",
        serde_json::json!({"key_id": "k"}),
    );
    let secret = "hookgate-dev-aexo-secret";
    let first = post_reply(running.addr, "/webhooks/aexo", &Aexo, secret, &body).await;
    assert_eq!((first.status, first.header("hookgate-dedupe")), (200, None));
    let again = post_reply(running.addr, "/webhooks/aexo", &Aexo, secret, &body).await;
    assert_eq!(
        (again.status, again.header("hookgate-dedupe")),
        (200, Some("duplicate"))
    );
}
