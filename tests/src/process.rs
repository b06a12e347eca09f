//! The example receivers, run as processes the way the README starts them:
//! the checks every example must pass, each taking the binary's path.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use hookgate::scheme::{Aexo, Axifi, Scheme};
use hookgate::testing;

/// The receiver binary at `bin`, with no secret variables and quiet logs.
pub fn receiver(bin: &str) -> Command {
    let mut cmd = Command::new(bin);
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

/// A receiver process, killed when dropped.
#[derive(Debug)]
pub struct Running {
    child: Child,
    /// The address it printed.
    pub addr: SocketAddr,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cmd` on a free port and reads the address it prints.
pub fn start(cmd: &mut Command) -> Running {
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

/// POSTs a delivery signed with `secret`; returns the status.
pub async fn post(
    addr: SocketAddr,
    path: &str,
    scheme: &dyn Scheme,
    secret: &str,
    body: &[u8],
) -> u16 {
    post_reply(addr, path, scheme, secret, body).await.status
}

/// POSTs a delivery signed with `secret`.
pub async fn post_reply(
    addr: SocketAddr,
    path: &str,
    scheme: &dyn Scheme,
    secret: &str,
    body: &[u8],
) -> crate::Reply {
    crate::post(addr, path, &testing::sign(scheme, secret, body), body).await
}

/// Without secrets it names the variable and the dev flag, and exits 2.
pub fn without_secrets_it_names_the_variable_and_the_dev_flag_and_exits(bin: &str) {
    let out = receiver(bin).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("AEXO_WEBHOOK_SECRET is not set"),
        "{stderr}"
    );
    assert!(stderr.contains("--dev-secrets"), "{stderr}");
}

/// An empty secret is refused, even with the other one set.
pub fn an_empty_secret_is_refused_even_with_the_other_one_set(bin: &str) {
    let out = receiver(bin)
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

/// With `--dev-secrets` it accepts signed deliveries and refuses forged ones.
pub async fn with_dev_secrets_it_accepts_signed_deliveries_and_refuses_forged_ones(bin: &str) {
    let running = start(receiver(bin).arg("--dev-secrets"));
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

/// Secrets from the environment replace the dev ones; rotation works.
pub async fn secrets_from_the_environment_replace_the_dev_ones_and_rotation_works(bin: &str) {
    let running = start(
        receiver(bin)
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

/// A redelivered event is answered as a duplicate.
pub async fn a_redelivered_event_is_answered_as_a_duplicate(bin: &str) {
    let running = start(receiver(bin).arg("--dev-secrets"));
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

/// With `--inbox` a delivery is acknowledged once stored and then handled
/// from the inbox file.
pub async fn with_inbox_a_delivery_is_stored_acknowledged_and_handled(bin: &str) {
    use hookgate::inbox::InboxStore;
    let dir = std::env::temp_dir().join(format!(
        "hookgate-example-inbox-{}-{}",
        std::process::id(),
        bin.rsplit('/').next().unwrap_or("bin")
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let running = start(
        receiver(bin)
            .arg("--dev-secrets")
            .arg("--inbox")
            .arg("--inbox-dir")
            .arg(&dir),
    );
    let body = testing::aexo_body(
        "wh_ex_inbox",
        "dataset.refreshed",
        serde_json::json!({
        "dataset_name": "ny-verified-contractors", "records_updated": 847,
        "records_added": 203, "records_removed": 12, "refresh_cycle": "monthly"}),
    );
    let secret = "hookgate-dev-aexo-secret";
    let first = post_reply(running.addr, "/webhooks/aexo", &Aexo, secret, &body).await;
    assert_eq!(
        (first.status, first.json()),
        (200, serde_json::json!({"queued": true}))
    );
    let again = post_reply(running.addr, "/webhooks/aexo", &Aexo, secret, &body).await;
    assert_eq!(
        (again.status, again.header("hookgate-dedupe")),
        (200, Some("duplicate"))
    );
    assert_eq!(
        post(running.addr, "/webhooks/aexo", &Aexo, "guessed", &body).await,
        401
    );

    let store = hookgate_sqlite::SqliteInbox::open(dir.join("aexo.sqlite3")).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let stats = store.stats(std::time::SystemTime::now()).await.unwrap();
        if stats.done == 1 {
            assert_eq!((stats.pending, stats.leased, stats.dead), (0, 0, 0));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not handled from the inbox: {stats:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
