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

/// The path of the workspace binary `name` beside the running test's own
/// (`target/debug/`), built by the workspace's tests.
pub fn built_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    // target/debug/deps/<test> -> target/debug/<name>
    let dir = exe
        .parent()
        .and_then(std::path::Path::parent)
        .expect("a target folder");
    let bin = dir.join(name);
    assert!(
        bin.exists(),
        "{} is not built: run the workspace tests (bash scripts/test.sh), or cargo build -p {name}",
        bin.display()
    );
    bin
}

/// A receiver process, killed when dropped.
#[derive(Debug)]
pub struct Running {
    child: Child,
    /// The address it printed.
    pub addr: SocketAddr,
}

impl Running {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends the process `signal` (`TERM`, `KILL`, ...).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -s {signal}");
    }

    /// Waits up to `within` for the process to exit; its status, if it did.
    pub fn exited_within(
        &mut self,
        within: std::time::Duration,
    ) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cmd` on a free port and reads the address it prints.
pub fn start(cmd: &mut Command) -> Running {
    spawn(cmd, Stdio::null())
}

/// Lines a process wrote to its standard error, collected as it runs.
pub type Log = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// [`start`], collecting what the process logs.
pub fn start_logging(cmd: &mut Command) -> (Running, Log) {
    let mut running = spawn(cmd, Stdio::piped());
    let log = Log::default();
    let lines = log.clone();
    let stderr = running.child.stderr.take().expect("piped stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            lines.lock().expect("log").push(line);
        }
    });
    (running, log)
}

fn spawn(cmd: &mut Command, stderr: Stdio) -> Running {
    let mut child = cmd
        .args(["--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(stderr)
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

/// `bin --dev-secrets --inbox` on a fresh inbox directory named for `name`
/// and the binary; returns the process and the directory.
fn start_with_inbox(bin: &str, name: &str) -> (Running, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "hookgate-example-{name}-{}-{}",
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
    (running, dir)
}

/// With `--inbox` a delivery is acknowledged once stored and then handled
/// from the inbox file.
pub async fn with_inbox_a_delivery_is_stored_acknowledged_and_handled(bin: &str) {
    use hookgate::inbox::InboxStore;
    let (running, dir) = start_with_inbox(bin, "inbox");
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

/// With `--inbox`, deleting the inbox file under the running receiver: every
/// delivery after it is answered 503 with `Retry-After` (the sender keeps
/// it), none `{"queued":true}` into the unlinked file, which a restart would
/// lose; the event stored before the deletion was acknowledged once.
pub async fn deleting_the_inbox_file_under_a_running_receiver_answers_503(bin: &str) {
    let (running, dir) = start_with_inbox(bin, "inbox-deleted");
    let secret = "hookgate-dev-aexo-secret";
    let body =
        |id: &str| testing::aexo_body(id, "key.created", serde_json::json!({ "key_id": id }));
    let before = post_reply(
        running.addr,
        "/webhooks/aexo",
        &Aexo,
        secret,
        &body("wh_del_0"),
    )
    .await;
    assert_eq!(
        (before.status, before.json()),
        (200, serde_json::json!({"queued": true}))
    );
    std::fs::remove_file(dir.join("aexo.sqlite3")).unwrap();
    for i in 1..=10 {
        let id = format!("wh_del_{i}");
        let reply = post_reply(running.addr, "/webhooks/aexo", &Aexo, secret, &body(&id)).await;
        assert_eq!(
            reply.status,
            503,
            "{id} answered {} {:?} after the inbox file was deleted",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
        assert!(
            reply.header("retry-after").is_some(),
            "{id}: no Retry-After"
        );
    }
    drop(running);
    let _ = std::fs::remove_dir_all(&dir);
}

/// One delivery to `/webhooks/aexo` over a fresh connection; `None` when
/// the receiver is not there or the connection broke (a sender would retry).
pub async fn try_post(
    addr: SocketAddr,
    headers: &[(&'static str, String)],
    body: &[u8],
) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut wire = format!(
        "POST /webhooks/aexo HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        wire.push_str(&format!("{name}: {value}\r\n"));
    }
    wire.push_str("\r\n");
    let io = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        stream.write_all(wire.as_bytes()).await.ok()?;
        stream.write_all(body).await.ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        let text = String::from_utf8_lossy(&answer);
        text.split(' ').nth(1)?.parse().ok()
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), io)
        .await
        .ok()
        .flatten()
}

/// `kill -9` of an inbox receiver at three random points of a 10,000-event
/// load: every event answered 200 is handled (after a restart if need be) at
/// least once, and a second time only for attempts a kill interrupted, each
/// of which the receiver logged; forged deliveries (answered 401) are never
/// handled unless a genuine delivery of the event followed.
pub async fn kill_9_during_a_load_loses_no_acknowledged_event(bin: &str) {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    const EVENTS: usize = 10_000;
    const SENDERS: usize = 64;
    let kills = crate::chaos::kill_points(3, EVENTS);
    let dir = std::env::temp_dir().join(format!("hookgate-chaos-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let launch = |run: usize| -> Child {
        let log = std::fs::File::create(dir.join(format!("run-{run}.log"))).unwrap();
        let mut child = receiver(bin)
            .args(["--dev-secrets", "--inbox", "--inbox-dir"])
            .arg(dir.join("inbox"))
            .args(["--addr", &addr.to_string()])
            .env("RUST_LOG", "receiver_common=info,hookgate=warn")
            .env("HOOKGATE_INBOX_LEASE_SECS", "2")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.contains("listening"), "{line:?}");
        child
    };
    let child = Arc::new(Mutex::new(launch(0)));
    let acked = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();

    let senders: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (acked, next, acknowledged) = (acked.clone(), next.clone(), acknowledged.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    if n >= EVENTS {
                        return;
                    }
                    let id = format!("wh_chaos_{n}");
                    let body = testing::aexo_body(
                        &id,
                        "dataset.refreshed",
                        serde_json::json!({
                        "dataset_name": "chaos", "records_updated": n, "records_added": 0,
                        "records_removed": 0, "refresh_cycle": "monthly"}),
                    );
                    let headers = testing::sign(&Aexo, "hookgate-dev-aexo-secret", &body);
                    if crate::chaos::forged_only(n) {
                        let id = format!("wh_forged_{n}");
                        let body =
                            testing::aexo_body(&id, "dataset.refreshed", serde_json::json!({}));
                        crate::chaos::forged(addr, &body).await;
                    }
                    if crate::chaos::forged_first(n) {
                        crate::chaos::forged(addr, &body).await;
                    }
                    // A sender retries until it gets a 2xx.
                    loop {
                        match try_post(addr, &headers, &body).await {
                            Some(200) => break,
                            Some(other) => panic!("{id}: answered {other}"),
                            None => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
                        }
                    }
                    acknowledged.lock().unwrap().push(id);
                    acked.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();

    for (run, at) in kills.iter().enumerate() {
        while acked.load(Ordering::SeqCst) < *at {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let mut c = child.lock().unwrap();
        c.kill().unwrap(); // SIGKILL
        let _ = c.wait();
        *c = launch(run + 1);
    }
    for s in senders {
        s.await.unwrap();
    }
    assert_eq!(acked.load(Ordering::SeqCst), EVENTS);

    // Every acknowledged event is in the inbox and ends done.
    let store = hookgate_sqlite::SqliteInbox::open(dir.join("inbox").join("aexo.sqlite3")).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        use hookgate::inbox::InboxStore;
        // The receiver writes hard meanwhile; a read may still meet a busy file.
        if let Ok(stats) = store.stats(std::time::SystemTime::now()).await {
            if stats.done as usize == EVENTS && stats.pending + stats.leased == 0 {
                assert_eq!(stats.dead, 0);
                break;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not all handled within 60 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    {
        let mut c = child.lock().unwrap();
        let _ = c.kill();
        let _ = c.wait();
    }

    // The handler's own log, across the four runs: who was handled how often.
    let mut handled: HashMap<String, usize> = HashMap::new();
    let mut logs = Vec::new();
    for run in 0..=kills.len() {
        let log = std::fs::read_to_string(dir.join(format!("run-{run}.log"))).unwrap();
        for line in log.lines().filter(|l| l.contains("aexo dataset.refreshed")) {
            if let Some(id) = line.split("id=\"").nth(1).and_then(|r| r.split('"').next()) {
                *handled.entry(id.to_owned()).or_default() += 1;
            }
        }
        logs.push(log);
    }
    let acknowledged = acknowledged.lock().unwrap();
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !handled.contains_key(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged but never handled: {:?}",
        &missing[..missing.len().min(10)]
    );
    // The receiver runs 2 workers.
    crate::chaos::check_second_runs(&handled, &logs, kills.len(), 2);
    // Kept when a check fails, for a look at the logs and the inbox.
    let _ = std::fs::remove_dir_all(&dir);
}

/// With `--metrics-addr` the receiver serves Prometheus text with the
/// deliveries it verified and rejected, and its handler durations.
pub async fn metrics_are_served_as_prometheus_text(bin: &str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let metrics: SocketAddr = ([127, 0, 0, 1], port).into();
    let running = start(
        receiver(bin)
            .arg("--dev-secrets")
            .args(["--metrics-addr", &metrics.to_string()]),
    );
    let body = testing::aexo_body("wh_ex_metrics", "key.created", serde_json::json!({}));
    // Delivered, then again (a duplicate): two verified, one dedupe hit.
    for _ in 0..2 {
        let status = post(
            running.addr,
            "/webhooks/aexo",
            &Aexo,
            "hookgate-dev-aexo-secret",
            &body,
        )
        .await;
        assert_eq!(status, 200);
    }
    assert_eq!(
        post(running.addr, "/webhooks/aexo", &Aexo, "guessed", &body).await,
        401
    );
    let mut text = String::new();
    for _ in 0..50 {
        if let Ok(mut s) = tokio::net::TcpStream::connect(metrics).await {
            s.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                .await
                .unwrap();
            let mut raw = Vec::new();
            let _ = s.read_to_end(&mut raw).await;
            text = String::from_utf8_lossy(&raw).into_owned();
            if text.contains("hookgate_deliveries_total") {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // A sample line: the metric, each label, and the value.
    let has = |metric: &str, labels: &[&str], value: &str| {
        text.lines().any(|l| {
            l.starts_with(&format!("{metric}{{"))
                && labels.iter().all(|label| l.contains(label))
                && l.ends_with(&format!(" {value}"))
        })
    };
    let verified = ["scheme=\"aexo\"", "outcome=\"verified\""];
    assert!(has("hookgate_deliveries_total", &verified, "2"), "{text}");
    assert!(
        has(
            "hookgate_deliveries_total",
            &["reason=\"bad_signature\""],
            "1"
        ),
        "{text}"
    );
    assert!(
        has("hookgate_dedupe_total", &["result=\"duplicate\""], "1"),
        "{text}"
    );
    assert!(text.contains("hookgate_handler_duration_seconds"), "{text}");
}

/// With 2-second header-read and idle timeouts, 1,000 idle connections, 20
/// request heads sent a byte at a time and a kept-alive connection left
/// idle are all closed in time, memory stays bounded and a valid delivery
/// sent meanwhile is answered 200 (see [`crate::hostile`]).
pub async fn idle_and_slow_connections_are_closed_within_the_timeouts(bin: &str) {
    let timeout = std::time::Duration::from_secs(2);
    let mut cmd = receiver(bin);
    let running = start(cmd.args([
        "--dev-secrets",
        "--header-read-timeout",
        "2",
        "--idle-timeout",
        "2",
    ]));
    let addr = running.addr;
    crate::hostile::idle_and_slow_connections_are_closed_and_deliveries_pass(
        addr,
        running.pid(),
        timeout,
        || async move {
            let body = testing::aexo_body("wh_hostile_1", "key.created", serde_json::json!({}));
            post(
                addr,
                "/webhooks/aexo",
                &Aexo,
                "hookgate-dev-aexo-secret",
                &body,
            )
            .await
        },
    )
    .await;
}

/// SIGTERM while a delivery's body is still arriving: the delivery is
/// answered 200, idle connections do not hold the exit up, and the process
/// exits with success.
pub async fn sigterm_lets_a_delivery_in_flight_finish_then_exits(bin: &str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut cmd = receiver(bin);
    let mut running = start(cmd.arg("--dev-secrets"));
    let idle = crate::hostile::idle_connections(running.addr, 20).await;
    let body = testing::aexo_body("wh_sigterm_1", "key.created", serde_json::json!({}));
    let sig = testing::sign(&Aexo, "hookgate-dev-aexo-secret", &body)
        .remove(0)
        .1;
    let head = format!(
        "POST /webhooks/aexo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         x-aexo-signature: {sig}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let mut conn = tokio::net::TcpStream::connect(running.addr).await.unwrap();
    conn.write_all(head.as_bytes()).await.unwrap();
    let (first, rest) = body.split_at(body.len() / 2);
    conn.write_all(first).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    running.signal("TERM");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    conn.write_all(rest).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        conn.read_to_end(&mut answer),
    )
    .await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "the delivery in flight was cut: {answer:?}"
    );
    let status = running.exited_within(std::time::Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "after SIGTERM: {status:?}"
    );
    drop(idle);
}
