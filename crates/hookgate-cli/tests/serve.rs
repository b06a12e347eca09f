//! `hookgate serve`, run as a process: real TLS (a certificate made here),
//! a real upstream on 127.0.0.1, and a client that trusts the certificate.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hookgate_conformance::chaos;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use hookgate::scheme::Aexo;
use hookgate::testing;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "proxy-test-secret";

/// One request as the upstream saw it: its `hookgate-verified` values and
/// `hookgate-event-id`.
type Seen = (Vec<String>, Option<String>);

/// What the upstream saw, request by request.
#[derive(Clone, Default)]
struct Upstream {
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Upstream {
    fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    async fn start(&self) -> SocketAddr {
        let me = self.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let me = me.clone();
                async move {
                    if body.contains("slow") {
                        tokio::time::sleep(Duration::from_secs(3)).await;
                    }
                    if body.contains("pause") {
                        tokio::time::sleep(Duration::from_millis(700)).await;
                    }
                    let verified = headers
                        .get_all("hookgate-verified")
                        .iter()
                        .map(|v| v.to_str().unwrap().to_owned())
                        .collect();
                    let id = headers
                        .get("hookgate-event-id")
                        .map(|v| v.to_str().unwrap().to_owned());
                    me.seen.lock().unwrap().push((verified, id));
                    "upstream ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    }
}

struct Proxy {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for the proxy to exit by itself.
async fn exit_status(mut proxy: Proxy) -> std::process::ExitStatus {
    tokio::task::spawn_blocking(move || {
        let status = proxy.child.wait().unwrap();
        std::mem::forget(proxy);
        status
    })
    .await
    .unwrap()
}

impl Proxy {
    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args(["-s", name, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hookgate-serve-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A self-signed certificate for localhost, written as cert.pem/key.pem;
/// returns the certificate's PEM.
fn make_cert(dir: &Path) -> String {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let pem = ck.cert.pem();
    std::fs::write(dir.join("cert.pem"), &pem).unwrap();
    std::fs::write(dir.join("key.pem"), ck.signing_key.serialize_pem()).unwrap();
    pem
}

fn config(dir: &Path, upstream: SocketAddr, server_extra: &str) -> PathBuf {
    std::fs::write(dir.join("aexo.secret"), format!("{SECRET}\n")).unwrap();
    let text = format!(
        r#"[server]
listen = "127.0.0.1:0"
{server_extra}

[dedupe]
store = "memory"

[[route]]
path = "/webhooks/aexo"
scheme = "aexo"
secrets = [{{ file = "aexo.secret" }}]
upstream = "http://{upstream}/hook"
"#
    );
    let path = dir.join("hookgate.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn start(config: &Path) -> Proxy {
    start_logging(config, Stdio::null())
}

/// [`start`], with the proxy's warnings and errors written to `log`.
fn start_logging(config: &Path, log: impl Into<Stdio>) -> Proxy {
    start_with_env(config, &[], log)
}

/// [`start_logging`], with these environment variables set.
fn start_with_env(config: &Path, env: &[(&str, &str)], log: impl Into<Stdio>) -> Proxy {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hookgate"));
    cmd.args(["serve", "--config"])
        .arg(config)
        .envs(env.iter().copied());
    spawn_proxy(cmd, log)
}

/// Runs `cmd` (a `hookgate serve`, possibly wrapped) and reads the
/// address it prints.
fn spawn_proxy(mut cmd: Command, log: impl Into<Stdio>) -> Proxy {
    let mut child = cmd
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("://")
        .nth(1)
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .trim()
        .parse()
        .unwrap();
    Proxy { child, addr }
}

fn client(trusted_pem: &str, proxy: SocketAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(trusted_pem.as_bytes()).unwrap())
        .resolve("localhost", proxy)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A proxy terminating TLS with a certificate made for this test, in front
/// of `up`, with `extra` server settings; a client that trusts it; and the
/// AEXO route's URL.
fn tls_proxy(name: &str, up: SocketAddr, extra: &str) -> (Proxy, reqwest::Client, String) {
    let dir = temp_dir(name);
    let pem = make_cert(&dir);
    let settings = format!("tls = {{ cert = \"cert.pem\", key = \"key.pem\" }}\n{extra}");
    let proxy = start(&config(&dir, up, &settings));
    let client = client(&pem, proxy.addr);
    let url = format!("https://localhost:{}/webhooks/aexo", proxy.addr.port());
    (proxy, client, url)
}

fn delivery(id: &str, note: &str) -> (String, Vec<u8>) {
    let body = testing::aexo_body(id, "key.created", serde_json::json!({ "note": note }));
    let sig = testing::sign(&Aexo, SECRET, &body).remove(0).1;
    (sig, body)
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    sig: &str,
    body: &[u8],
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = client
        .post(url)
        .header("x-aexo-signature", sig)
        .body(body.to_vec());
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_real_tls_only_verified_deliveries_reach_the_upstream_once() {
    let upstream = Upstream::default();
    let up = upstream.start().await;
    let (proxy, client, url) = tls_proxy("tls", up, "");

    let (sig, body) = delivery("wh_proxy_1", "");
    let res = post(&client, &url, &sig, &body, &[]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "upstream ok");
    assert_eq!(upstream.count(), 1);
    assert_eq!(
        upstream.seen.lock().unwrap()[0],
        (vec!["aexo".to_owned()], Some("wh_proxy_1".to_owned()))
    );

    let again = post(&client, &url, &sig, &body, &[]).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["hookgate-dedupe"], "duplicate");
    assert_eq!(upstream.count(), 1, "a duplicate reached the upstream");

    let forged = testing::sign(&Aexo, "guessed", &body).remove(0).1;
    let (_, other) = delivery("wh_proxy_2", "");
    assert_eq!(
        post(&client, &url, &forged, &other, &[]).await.status(),
        401
    );
    assert_eq!(
        upstream.count(),
        1,
        "a forged delivery reached the upstream"
    );

    // A verified marker sent from outside is replaced, never passed on.
    let (sig3, body3) = delivery("wh_proxy_3", "");
    let res = post(
        &client,
        &url,
        &sig3,
        &body3,
        &[("hookgate-verified", "forged"), ("hookgate-event-id", "x")],
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        upstream.seen.lock().unwrap()[1],
        (vec!["aexo".to_owned()], Some("wh_proxy_3".to_owned()))
    );

    let health = client
        .get(format!("https://localhost:{}/healthz", proxy.addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    // Plain HTTP to the TLS port gets no HTTP answer at all.
    let mut tcp = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    let (sig4, body4) = delivery("wh_proxy_4", "");
    let request = format!(
        "POST /webhooks/aexo HTTP/1.1\r\nhost: x\r\nx-aexo-signature: {sig4}\r\ncontent-length: {}\r\n\r\n",
        body4.len()
    );
    let _ = tcp.write_all(request.as_bytes()).await;
    let _ = tcp.write_all(&body4).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer)).await;
    assert!(
        !String::from_utf8_lossy(&answer).contains("HTTP/1.1 200"),
        "{answer:?}"
    );
    assert_eq!(upstream.count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_outlives_the_deadline_gets_the_sender_a_503() {
    let upstream = Upstream::default();
    let up = upstream.start().await;
    let (_proxy, client, url) = tls_proxy("deadline", up, "deadline_secs = 1");
    let (sig, body) = delivery("wh_proxy_slow", "slow");
    let started = Instant::now();
    let res = post(&client, &url, &sig, &body, &[]).await;
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "30");
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_load_balancer_only_a_trusted_peers_forwarding_header_counts() {
    let upstream = Upstream::default();
    let up = upstream.start().await;
    let xfp = |v| vec![("x-forwarded-proto", v)];
    // A balancer that sets X-Forwarded-Proto and passes the client's own
    // Forwarded through: plain HTTP with a forged `Forwarded: proto=https`.
    let forged = vec![("forwarded", "proto=https"), ("x-forwarded-proto", "http")];
    for (n, (trusted, owner, headers, expected)) in [
        ("127.0.0.1/32", "", xfp("https"), 200),
        ("127.0.0.1/32", "", vec![], 403),
        ("10.0.0.0/8", "", xfp("https"), 403), // spoofed: the peer is not trusted
        ("127.0.0.1/32", "", forged.clone(), 403),
        (
            "127.0.0.1/32",
            "proxy_header = \"x-forwarded-proto\"",
            forged.clone(),
            403,
        ),
        (
            "127.0.0.1/32",
            "proxy_header = \"forwarded\"",
            xfp("https"),
            403,
        ),
        (
            "127.0.0.1/32",
            "proxy_header = \"x-forwarded-proto\"",
            xfp("https"),
            200,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let dir = temp_dir(&format!("lb-{n}"));
        let proxy = start(&config(
            &dir,
            up,
            &format!("trusted_proxies = [\"{trusted}\"]\n{owner}"),
        ));
        let url = format!("http://{}/webhooks/aexo", proxy.addr);
        let (sig, body) = delivery(&format!("wh_lb_{n}"), "");
        let res = post(&reqwest::Client::new(), &url, &sig, &body, &headers).await;
        assert_eq!(
            res.status().as_u16(),
            expected,
            "trusted {trusted}, {owner}, {headers:?}"
        );
        if expected == 403 {
            assert!(res.text().await.unwrap().contains("HTTPS is required"));
        }
    }
}

#[test]
fn a_bad_config_is_refused_at_start_with_the_line_and_the_reason() {
    let dir = temp_dir("bad");
    let path = config(&dir, "127.0.0.1:9".parse().unwrap(), "# server extra");
    let good = std::fs::read_to_string(&path).unwrap();
    std::fs::write(dir.join("a-file"), "not a folder").unwrap();
    let inbox = |section: &str| format!("{good}ack = \"inbox\"\n\n[inbox]\n{section}\n");
    // (the file, what stderr must say); lines: 3 is the server's extra
    // setting, 7 the dedupe store's second line, 9-12 the route.
    let cases = [
        (
            good.replace("scheme = \"aexo\"", "scheme = \"acme\""),
            "hookgate.toml:10: unknown scheme \"acme\"",
        ),
        (
            good.replace(
                "store = \"memory\"",
                "store = \"memory\"\ncapacity = 1000000000000",
            ),
            "hookgate.toml:7: capacity = 1000000000000: give 1 to 10000000 ids",
        ),
        (
            good.replace("# server extra", "deadline_secs = 1e-9"),
            "hookgate.toml:3: deadline_secs = 0.000000001: at least 1 second",
        ),
        (
            good.replace("path = \"/webhooks/aexo\"", "path = \"/healthz\""),
            "hookgate.toml:9: path \"/healthz\" is the proxy's own health check",
        ),
        (
            good.replace(
                "path = \"/webhooks/aexo\"",
                "path = \"/webhooks/aexo?tenant=1\"",
            ),
            "hookgate.toml:9: path \"/webhooks/aexo?tenant=1\": routes match the path alone",
        ),
        (
            good.replace("http://127.0.0.1:9/hook", "http://user:pw@127.0.0.1:9/hook"),
            "hookgate.toml:12: upstream has credentials",
        ),
        (
            good.replace("# server extra", "max_connections = 0"),
            "hookgate.toml:3: max_connections = 0",
        ),
        (
            good.replace("# server extra", "header_read_timeout_secs = 0"),
            "hookgate.toml:3: header_read_timeout_secs = 0",
        ),
        (
            good.replace(
                "# server extra",
                "tls = { cert = \"missing.pem\", key = \"missing.pem\" }",
            ),
            "hookgate.toml:3: certificate ",
        ),
        (
            good.replace(
                "store = \"memory\"",
                "store = \"redis\"\nredis_url = \"not a url\"",
            ),
            "hookgate.toml:7: redis_url \"not a url\"",
        ),
        (
            inbox("store = \"sqlite\"\nattempt_timeout_secs = 0"),
            "hookgate.toml:17: attempt_timeout_secs = 0",
        ),
        (
            inbox("store = \"sqlite\"\ndir = \"a-file\""),
            "hookgate.toml:17: inbox dir ",
        ),
        (
            inbox("store = \"redis\"\nredis_url = \"redis://127.0.0.1:1/0\""),
            "hookgate.toml:17: inbox redis_url \"redis://127.0.0.1:1/0\"",
        ),
    ];
    for (text, expected) in cases {
        std::fs::write(&path, &text).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_hookgate"))
            .args(["serve", "--config"])
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A file that is wrongly accepted would serve forever: stop it.
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                panic!("{expected}: the proxy started with this file\n{text}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{expected}: {stderr}");
        assert!(
            stderr.contains(expected),
            "want {expected:?}, got: {stderr}\n{text}"
        );
        assert!(!stderr.contains("dedupe store error"), "{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_certificate_for_new_connections() {
    let upstream = Upstream::default();
    let up = upstream.start().await;
    let dir = temp_dir("reload");
    let old = make_cert(&dir);
    let proxy = start(&config(
        &dir,
        up,
        "tls = { cert = \"cert.pem\", key = \"key.pem\" }",
    ));
    let health = |pem: &str| {
        let client = client(pem, proxy.addr);
        let url = format!("https://localhost:{}/healthz", proxy.addr.port());
        async move { client.get(url).send().await.is_ok() }
    };
    assert!(health(&old).await);
    let new = make_cert(&dir);
    proxy.signal("HUP");
    let mut switched = false;
    for _ in 0..50 {
        if health(&new).await {
            switched = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(switched, "the new certificate was not served after SIGHUP");
    assert!(!health(&old).await, "the old certificate is still served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_an_in_flight_delivery_finish_then_exits() {
    let upstream = Upstream::default();
    let up = upstream.start().await;
    let (proxy, client, url) = tls_proxy("term", up, "");
    let (sig, body) = delivery("wh_term", "pause");
    let in_flight =
        tokio::spawn(async move { post(&client, &url, &sig, &body, &[]).await.status() });
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.signal("TERM");
    assert_eq!(
        in_flight.await.unwrap(),
        200,
        "the in-flight delivery was cut off"
    );
    let status = exit_status(proxy).await;
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_proxies_sharing_redis_forward_an_event_once() {
    let redis = hookgate_conformance::redis_server::RedisServer::start();
    let upstream = Upstream::default();
    let up = upstream.start().await;
    let mut proxies = Vec::new();
    for name in ["redis-a", "redis-b"] {
        let dir = temp_dir(name);
        let path = config(&dir, up, "allow_plain_loopback = true");
        let text = std::fs::read_to_string(&path).unwrap().replace(
            "store = \"memory\"",
            &format!("store = \"redis\"\nredis_url = \"{}\"", redis.url()),
        );
        std::fs::write(&path, text).unwrap();
        proxies.push(start(&path));
    }
    let (sig, body) = delivery("wh_proxy_redis", "");
    let client = reqwest::Client::new();
    let first = post(
        &client,
        &format!("http://{}/webhooks/aexo", proxies[0].addr),
        &sig,
        &body,
        &[],
    )
    .await;
    assert_eq!(first.status(), 200);
    let second = post(
        &client,
        &format!("http://{}/webhooks/aexo", proxies[1].addr),
        &sig,
        &body,
        &[],
    )
    .await;
    assert_eq!(second.status(), 200);
    assert_eq!(second.headers()["hookgate-dedupe"], "duplicate");
    assert_eq!(upstream.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbox_route_acknowledges_at_once_and_retries_the_upstream_until_it_succeeds() {
    // An upstream that fails the first call and accepts the next.
    let calls = Arc::new(Mutex::new(Vec::<Option<String>>::new()));
    let c = calls.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap| {
            let c = c.clone();
            async move {
                let mut calls = c.lock().unwrap();
                calls.push(
                    headers
                        .get("hookgate-verified")
                        .map(|v| v.to_str().unwrap().to_owned()),
                );
                if calls.len() == 1 {
                    (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down")
                } else {
                    (axum::http::StatusCode::OK, "ok")
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = temp_dir("inbox-route");
    let path = config(&dir, up, "allow_plain_loopback = true");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "upstream = ",
        "ack = \"inbox\"\nupstream = ",
    ) + "\n[inbox]\nstore = \"sqlite\"\ndir = \"inbox\"\nworkers = 1\nattempt_timeout_secs = 5\nlease_secs = 10\nkeep_done_bodies = true\n";
    std::fs::write(&path, text).unwrap();
    let proxy = start(&path);
    let url = format!("http://{}/webhooks/aexo", proxy.addr);
    let (sig, body) = delivery("wh_inbox_route", "");
    let started = Instant::now();
    let res = post(&reqwest::Client::new(), &url, &sig, &body, &[]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "{\"queued\":true}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // The first attempt fails; the retry (5 s later on the default schedule) succeeds.
    let deadline = Instant::now() + Duration::from_secs(15);
    while calls.lock().unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "the upstream was not retried");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        *calls.lock().unwrap(),
        vec![Some("aexo".to_owned()), Some("aexo".to_owned())]
    );
    let out = Command::new(env!("CARGO_BIN_EXE_hookgate"))
        .args(["inbox", "--sqlite"])
        .arg(dir.join("inbox").join("webhooks_aexo.sqlite3"))
        .arg("stats")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut done = text.contains("done 1");
    for _ in 0..20 {
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let out = Command::new(env!("CARGO_BIN_EXE_hookgate"))
            .args(["inbox", "--sqlite"])
            .arg(dir.join("inbox").join("webhooks_aexo.sqlite3"))
            .arg("stats")
            .output()
            .unwrap();
        done = String::from_utf8_lossy(&out.stdout).contains("done 1");
    }
    assert!(done, "{text}");
    // keep_done_bodies: the handled event can be replayed to the upstream.
    let out = Command::new(env!("CARGO_BIN_EXE_hookgate"))
        .args(["inbox", "--sqlite"])
        .arg(dir.join("inbox").join("webhooks_aexo.sqlite3"))
        .args(["replay", "--since", "2000-01-01T00:00:00Z"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("replayed 1 events"), "{text}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while calls.lock().unwrap().len() < 3 {
        assert!(
            Instant::now() < deadline,
            "the replayed event did not reach the upstream"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One delivery over a fresh connection; `None` when the proxy is not
/// there or the connection broke (a sender would retry).
async fn try_deliver(addr: SocketAddr, sig: &str, body: &[u8]) -> Option<u16> {
    let request = format!(
        "POST /webhooks/aexo HTTP/1.1\r\nhost: x\r\nconnection: close\r\nx-aexo-signature: {sig}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let io = async {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.ok()?;
        tcp.write_all(request.as_bytes()).await.ok()?;
        tcp.write_all(body).await.ok()?;
        let mut answer = Vec::new();
        tcp.read_to_end(&mut answer).await.ok()?;
        String::from_utf8_lossy(&answer)
            .split(' ')
            .nth(1)?
            .parse()
            .ok()
    };
    tokio::time::timeout(Duration::from_secs(10), io)
        .await
        .ok()
        .flatten()
}

/// `kill -9` of `hookgate serve` (inbox routes) three times during a
/// 10,000-event load, at random points: every event answered 200 reaches the
/// upstream; one reaches it twice only where a kill cut its attempt, which
/// the proxy logged; forged deliveries (401) never reach it.
async fn kill_9_loses_nothing(inbox_section: &str, name: &str) {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    const EVENTS: usize = 10_000;
    let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap| {
            let s = s.clone();
            async move {
                let id = headers
                    .get("hookgate-event-id")
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned();
                *s.lock().unwrap().entry(id).or_default() += 1;
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = temp_dir(name);
    let path = config(&dir, up, "allow_plain_loopback = true");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("127.0.0.1:0", &format!("127.0.0.1:{port}"))
        .replace("upstream = ", "ack = \"inbox\"\nupstream = ")
        + inbox_section;
    std::fs::write(&path, text).unwrap();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let log = |run: usize| std::fs::File::create(dir.join(format!("run-{run}.log"))).unwrap();
    let proxy = Arc::new(Mutex::new(start_logging(&path, log(0))));
    let (acked, next) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let senders: Vec<_> = (0..64)
        .map(|_| {
            let (acked, next) = (acked.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    if n >= EVENTS {
                        return;
                    }
                    let (sig, body) = delivery(&format!("wh_kill_{n}"), "");
                    if chaos::forged_only(n) {
                        let (_, body) = delivery(&format!("wh_forged_{n}"), "");
                        chaos::forged(addr, &body).await;
                    }
                    if chaos::forged_first(n) {
                        chaos::forged(addr, &body).await;
                    }
                    loop {
                        match try_deliver(addr, &sig, &body).await {
                            Some(200) => break,
                            Some(other) => panic!("answered {other}"),
                            None => tokio::time::sleep(Duration::from_millis(20)).await,
                        }
                    }
                    acked.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    let kills = chaos::kill_points(3, EVENTS);
    for (run, at) in kills.iter().enumerate() {
        while acked.load(Ordering::SeqCst) < *at {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut p = proxy.lock().unwrap();
        let _ = p.child.kill(); // SIGKILL
        let _ = p.child.wait();
        *p = start_logging(&path, log(run + 1));
    }
    for s in senders {
        s.await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let missing = (0..EVENTS)
            .filter(|n| !seen.lock().unwrap().contains_key(&format!("wh_kill_{n}")))
            .count();
        if missing == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} acknowledged events never reached the upstream"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let logs: Vec<String> = (0..=kills.len())
        .map(|run| std::fs::read_to_string(dir.join(format!("run-{run}.log"))).unwrap())
        .collect();
    println!("{name}:");
    // A kill can cut, per worker (2), one attempt between the upstream's answer and the commit.
    chaos::check_second_runs(&seen.lock().unwrap(), &logs, kills.len(), 2);
    // Kept when a check fails, for a look at the logs and the inbox.
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_proxy_loses_no_acknowledged_event_on_sqlite() {
    kill_9_loses_nothing(
        "\n[inbox]\nstore = \"sqlite\"\ndir = \"inbox\"\nworkers = 2\nattempt_timeout_secs = 3\nlease_secs = 6\n",
        "kill-sqlite",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_proxy_loses_no_acknowledged_event_on_redis() {
    let redis = hookgate_conformance::redis_server::RedisServer::start();
    kill_9_loses_nothing(
        &format!(
            "\n[inbox]\nstore = \"redis\"\nredis_url = \"{}\"\nworkers = 2\nattempt_timeout_secs = 3\nlease_secs = 6\n",
            redis.url()
        ),
        "kill-redis",
    )
    .await;
}

/// A raw upstream on 127.0.0.1 that answers each request as its body's
/// note says, including answers no well-behaved server gives: `big` (200
/// with a 2 MiB body), `short` (200 whose body is shorter than its
/// Content-Length, then the connection closes), `stall` (200 head, then the
/// body stops), `hop` (headers named in `Connection`, and a forged
/// `hookgate-dedupe`). It records each request's head.
#[derive(Clone, Default)]
struct RawUpstream {
    heads: Arc<Mutex<Vec<String>>>,
}

impl RawUpstream {
    async fn start(&self) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let heads = self.heads.clone();
        tokio::spawn(async move {
            loop {
                let (mut tcp, _) = listener.accept().await.unwrap();
                let heads = heads.clone();
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    let mut buf = [0u8; 4096];
                    let head_end = loop {
                        let n = tcp.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        got.extend_from_slice(&buf[..n]);
                        if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&got[..head_end]).to_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    while got.len() < head_end + length {
                        let n = tcp.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        got.extend_from_slice(&buf[..n]);
                    }
                    let body = String::from_utf8_lossy(&got[head_end..]).into_owned();
                    heads.lock().unwrap().push(head);
                    let ok = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n";
                    if body.contains("\"big\"") {
                        let size = 2 * 1024 * 1024;
                        let answer = format!("{ok}content-length: {size}\r\n\r\n");
                        let _ = tcp.write_all(answer.as_bytes()).await;
                        let _ = tcp.write_all(&vec![b'x'; size]).await;
                    } else if body.contains("\"short\"") {
                        let answer = format!("{ok}content-length: 100\r\n\r\nonly ten b");
                        let _ = tcp.write_all(answer.as_bytes()).await;
                    } else if body.contains("\"stall\"") {
                        let answer = format!("{ok}content-length: 100\r\n\r\nstart");
                        let _ = tcp.write_all(answer.as_bytes()).await;
                        tokio::time::sleep(Duration::from_secs(60)).await;
                    } else {
                        let answer = format!(
                            "{ok}connection: x-up-hop\r\nx-up-hop: upstream-only\r\n\
                             hookgate-dedupe: duplicate\r\nx-kept: yes\r\ncontent-length: 2\r\n\r\nok"
                        );
                        let _ = tcp.write_all(answer.as_bytes()).await;
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                });
            }
        });
        addr
    }

    fn count(&self) -> usize {
        self.heads.lock().unwrap().len()
    }
}

fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_2xx_stands_when_its_body_is_too_big_cut_short_or_stalled() {
    let upstream = RawUpstream::default();
    let up = upstream.start().await;
    let dir = temp_dir("upstream-body");
    let proxy = start(&config(
        &dir,
        up,
        "allow_plain_loopback = true\ndeadline_secs = 3",
    ));
    let url = format!("http://127.0.0.1:{}/webhooks/aexo", proxy.addr.port());
    let client = plain_client();
    for (n, note) in ["big", "short", "stall"].into_iter().enumerate() {
        let (sig, body) = delivery(&format!("wh_body_{note}"), note);
        let res = post(&client, &url, &sig, &body, &[]).await;
        assert_eq!(res.status(), 200, "{note}: the upstream answered 200");
        assert!(res.headers().get("hookgate-dedupe").is_none(), "{note}");
        assert_eq!(upstream.count(), n + 1);
        // The sender's retry is a duplicate: the event is not forwarded again.
        let again = post(&client, &url, &sig, &body, &[]).await;
        assert_eq!(again.status(), 200, "{note}");
        assert_eq!(again.headers()["hookgate-dedupe"], "duplicate", "{note}");
        assert_eq!(upstream.count(), n + 1, "{note}: forwarded a second time");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_named_in_connection_and_forged_markers_are_dropped_both_ways() {
    let upstream = RawUpstream::default();
    let up = upstream.start().await;
    let dir = temp_dir("hop-by-hop");
    let proxy = start(&config(&dir, up, "allow_plain_loopback = true"));
    let url = format!("http://127.0.0.1:{}/webhooks/aexo", proxy.addr.port());
    let (sig, body) = delivery("wh_hop", "hop");
    let res = post(
        &plain_client(),
        &url,
        &sig,
        &body,
        &[
            ("connection", "keep-alive, x-sender-hop"),
            ("x-sender-hop", "for-the-proxy-only"),
            ("x-sender-kept", "yes"),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    let headers = res.headers().clone();
    assert_eq!(res.text().await.unwrap(), "ok");
    assert_eq!(headers["x-kept"], "yes");
    assert!(
        headers.get("x-up-hop").is_none(),
        "a header the upstream's Connection named reached the sender"
    );
    assert!(
        headers.get("hookgate-dedupe").is_none(),
        "the upstream forged the dedupe marker"
    );
    let head = upstream.heads.lock().unwrap()[0].clone();
    assert!(head.contains("x-sender-kept: yes"), "{head}");
    assert!(
        !head.contains("x-sender-hop:"),
        "a header the sender's Connection named reached the upstream: {head}"
    );
    assert!(head.contains("hookgate-verified: aexo"), "{head}");
}

/// The README's "Run it in front of any app" set-up as written: its
/// `hookgate.toml` (only the listening port and the application's address
/// made free), the example axum receiver as the application, verifying
/// every delivery itself, and `hookgate send` as the sender. Every event
/// the proxy acknowledges, on the sync route and on the inbox route, must
/// be handled by the application.
#[test]
fn the_readme_proxy_setup_delivers_every_acknowledged_event_to_the_application() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let written = readme
        .split("`hookgate.toml`:\n\n```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the README's hookgate.toml");
    assert!(written.contains("ack = \"inbox\""), "{written}");
    let dir = temp_dir("readme");
    make_cert(&dir);
    std::fs::write(
        dir.join("aexo-previous.secret"),
        "hookgate-dev-aexo-secret\n",
    )
    .unwrap();
    let secrets = [
        ("AEXO_WEBHOOK_SECRET", "hookgate-dev-aexo-secret"),
        ("AXIFI_WEBHOOK_SECRET", "hookgate-dev-axifi-secret"),
    ];

    // The application, as the README starts it (on a free port).
    let mut app = hookgate_conformance::process::receiver(
        hookgate_conformance::process::built_binary("axum-receiver")
            .to_str()
            .unwrap(),
    );
    let (app, app_log) =
        hookgate_conformance::process::start_logging(app.envs(secrets).env("RUST_LOG", "info"));
    let app_addr = app.addr;

    let config = written
        .replace("0.0.0.0:8443", "127.0.0.1:0")
        .replace("127.0.0.1:3000", &app_addr.to_string());
    assert_eq!(config.matches(&app_addr.to_string()).count(), 2, "{config}");
    std::fs::write(dir.join("hookgate.toml"), &config).unwrap();
    let proxy = start_with_env(&dir.join("hookgate.toml"), &secrets, Stdio::null());

    let send = |scheme: &str, secret: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_hookgate"))
            .args([
                "send",
                "--scheme",
                scheme,
                "--count",
                "5",
                "--duplicate",
                "1",
            ])
            .arg("--url")
            .arg(format!(
                "https://localhost:{}/webhooks/{scheme}",
                proxy.addr.port()
            ))
            .arg("--ca-cert")
            .arg(dir.join("cert.pem"))
            .env("HOOKGATE_SECRET", secret)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let aexo = send("aexo", "hookgate-dev-aexo-secret");
    assert!(
        aexo.contains("5 acknowledged, 0 not acknowledged; 5 duplicate answers"),
        "{aexo}"
    );
    let axifi = send("axifi", "hookgate-dev-axifi-secret");
    assert!(
        axifi.contains("5 acknowledged, 0 not acknowledged; 5 duplicate answers"),
        "{axifi}"
    );

    // The inbox route forwards from its workers: wait for the application.
    let handled = |what: &str| {
        app_log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(what))
            .count()
    };
    let started = Instant::now();
    while handled("axifi compound.created") < 5 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = app_log.lock().unwrap().join("\n");
    assert_eq!(handled("axifi compound.created"), 5, "{log}");
    assert_eq!(handled(": aexo "), 5, "{log}");
    assert_eq!(
        handled("rejected"),
        0,
        "the application refused a forwarded delivery: {log}"
    );
}

/// A plain proxy (loopback allowed) with 2-second header-read and idle
/// timeouts in front of `up`; its route's URL path is /webhooks/aexo.
fn bounded_proxy(name: &str, up: SocketAddr, extra: &str) -> Proxy {
    let dir = temp_dir(name);
    start(&config(
        &dir,
        up,
        &format!(
            "allow_plain_loopback = true\nheader_read_timeout_secs = 2\nidle_timeout_secs = 2\n{extra}"
        ),
    ))
}

/// A signed delivery straight over TCP; its status.
async fn deliver_plain(addr: SocketAddr, id: &str) -> u16 {
    let (sig, body) = delivery(id, "");
    let headers = [("x-aexo-signature", sig)];
    hookgate_conformance::post(addr, "/webhooks/aexo", &headers, &body)
        .await
        .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_slow_connections_to_the_proxy_are_closed_within_its_timeouts() {
    let upstream = Upstream::default();
    let up = upstream.start().await;
    let proxy = bounded_proxy("hostile", up, "");
    let addr = proxy.addr;
    hookgate_conformance::hostile::idle_and_slow_connections_are_closed_and_deliveries_pass(
        addr,
        proxy.child.id(),
        Duration::from_secs(2),
        || deliver_plain(addr, "wh_hostile_proxy"),
    )
    .await;
    assert_eq!(upstream.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_tls_handshake_is_cut_at_the_handshake_timeout() {
    let upstream = Upstream::default();
    let up = upstream.start().await;
    let (proxy, client, url) = tls_proxy("handshake", up, "handshake_timeout_secs = 1");
    // The first bytes of a ClientHello (a TLS 1.2 record header and the
    // start of the handshake message), and then nothing.
    let mut stalled = Vec::new();
    for _ in 0..200 {
        let mut conn = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
        conn.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01])
            .await
            .unwrap();
        stalled.push(conn);
    }
    let (sig, body) = delivery("wh_handshake", "");
    assert_eq!(post(&client, &url, &sig, &body, &[]).await.status(), 200);
    let open =
        hookgate_conformance::hostile::still_open_after(stalled, Duration::from_secs(3)).await;
    assert_eq!(
        open, 0,
        "half-sent handshakes still open after 3 s (timeout 1 s)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_file_descriptors_the_proxy_backs_off_instead_of_spinning() {
    use hookgate_conformance::hostile::{cpu_ticks, idle_connections};
    let upstream = Upstream::default();
    let up = upstream.start().await;
    let dir = temp_dir("emfile");
    let config = config(
        &dir,
        up,
        "allow_plain_loopback = true\nheader_read_timeout_secs = 3\nidle_timeout_secs = 3",
    );
    let log_path = dir.join("proxy.log");
    let mut cmd = Command::new("sh");
    // 64 descriptors: the runtime, the listener and a few dozen connections.
    cmd.args(["-c", "ulimit -n 64 && exec \"$0\" serve --config \"$1\""])
        .arg(env!("CARGO_BIN_EXE_hookgate"))
        .arg(&config);
    let proxy = spawn_proxy(cmd, std::fs::File::create(&log_path).unwrap());
    let pid = proxy.child.id();
    let conns = idle_connections(proxy.addr, 150).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (ticks, started) = (cpu_ticks(pid), Instant::now());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let used = cpu_ticks(pid) - ticks;
    let window = started.elapsed();
    let log = std::fs::read_to_string(&log_path).unwrap();
    let failures = log.matches("accept failed").count();
    assert!(
        log.contains("accept failed"),
        "the descriptors never ran out: the test proves nothing\n{log}"
    );
    // A spinning accept loop burns a whole core (150 ticks in 1.5 s).
    assert!(
        used < 40,
        "{used} ticks of CPU in {window:?} while out of descriptors"
    );
    assert!(
        failures <= 5,
        "{failures} accept failures logged in {window:?}: not rate-limited\n{log}"
    );
    drop(conns);
    // Once the clients are gone the proxy serves again.
    let mut status = 0;
    for n in 0..50 {
        status = deliver_plain(proxy.addr, &format!("wh_emfile_{n}")).await;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_does_not_wait_for_idle_connections() {
    let upstream = Upstream::default();
    let up = upstream.start().await;
    let dir = temp_dir("term-idle");
    let proxy = start(&config(
        &dir,
        up,
        "allow_plain_loopback = true\nheader_read_timeout_secs = 60\nidle_timeout_secs = 60",
    ));
    let idle = hookgate_conformance::hostile::idle_connections(proxy.addr, 50).await;
    assert_eq!(deliver_plain(proxy.addr, "wh_term_idle").await, 200);
    let kept_alive = tokio::spawn(hookgate_conformance::hostile::idle_after_a_request(
        proxy.addr,
        "/healthz",
        Duration::from_secs(30),
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = Instant::now();
    proxy.signal("TERM");
    let status = exit_status(proxy).await;
    assert!(status.success(), "{status:?}");
    assert!(
        signalled.elapsed() < Duration::from_secs(3),
        "exit took {:?} with only idle connections open",
        signalled.elapsed()
    );
    assert!(kept_alive.await.unwrap().is_some());
    drop(idle);
}

/// A client that sends a delivery's head and the start of its body, then
/// a byte every 500 ms: how long the proxy kept it (until it answered or
/// closed), or `None` if it was still open after `give_up`.
async fn slow_body(addr: SocketAddr, give_up: Duration) -> Option<Duration> {
    let (sig, body) = delivery("wh_slow_body", "");
    let started = Instant::now();
    let mut conn = tokio::net::TcpStream::connect(addr).await.ok()?;
    let head = format!(
        "POST /webhooks/aexo HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nx-aexo-signature: {sig}\r\n\r\n",
        body.len() + 4000
    );
    conn.write_all(head.as_bytes()).await.ok()?;
    conn.write_all(&body[..64]).await.ok()?;
    let mut buf = [0u8; 256];
    while started.elapsed() < give_up {
        match tokio::time::timeout(Duration::from_millis(500), conn.read(&mut buf)).await {
            // An answer (408) or a close ends it.
            Ok(_) => return Some(started.elapsed()),
            Err(_) => {
                if conn.write_all(b" ").await.is_err() {
                    return Some(started.elapsed());
                }
            }
        }
    }
    None
}

/// Issue 15's shedding measurement on the proxy: 1,000 connections sending
/// their bodies a byte at a time, a flood of 16 senders posting valid
/// deliveries back to back at a route capped at 4 handlers (an upstream
/// that takes 700 ms), and a well-behaved sender posting one delivery
/// every 300 ms and retrying after `Retry-After`. The proxy's memory is
/// sampled throughout: it stays bounded; every flood answer is 200 or 503
/// with `Retry-After` (nothing queues without bound); every well-behaved
/// attempt is answered within 2 s and every one of its events is
/// delivered; the slow bodies are cut at the body read timeout (10 s).
/// The figures are printed (`-- --nocapture`) for BENCHMARKS.md.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_bodies_and_a_flood_neither_grow_memory_nor_starve_a_well_behaved_sender() {
    use hookgate_conformance::hostile::rss_kib;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    let upstream = Upstream::default();
    let up = upstream.start().await;
    let dir = temp_dir("flood");
    std::fs::write(dir.join("aexo.secret"), format!("{SECRET}\n")).unwrap();
    let path = dir.join("hookgate.toml");
    std::fs::write(
        &path,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nallow_plain_loopback = true\n\
             header_read_timeout_secs = 2\nidle_timeout_secs = 2\nmax_connections = 2000\n\n\
             [dedupe]\nstore = \"memory\"\n\n\
             [[route]]\npath = \"/webhooks/aexo\"\nscheme = \"aexo\"\n\
             secrets = [{{ file = \"aexo.secret\" }}]\nupstream = \"http://{up}/hook\"\n\
             max_concurrent_handlers = 4\n"
        ),
    )
    .unwrap();
    let proxy = start(&path);
    let (addr, pid) = (proxy.addr, proxy.child.id());
    // Warm: one delivery through, so the baseline includes the first
    // connection's buffers and the upstream pool.
    assert_eq!(deliver_plain(addr, "wh_flood_warm").await, 200);
    let rss_before = rss_kib(pid);

    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut peak = 0;
            let mut samples = Vec::new();
            while !done.load(Ordering::Relaxed) {
                let rss = rss_kib(pid);
                peak = peak.max(rss);
                samples.push(rss);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            (peak, samples)
        })
    };
    let slow: Vec<_> = (0..1000)
        .map(|_| tokio::spawn(slow_body(addr, Duration::from_secs(20))))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let flood_until = Instant::now() + Duration::from_secs(6);
    let (ok, shed, other) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let flood: Vec<_> = (0..16)
        .map(|sender| {
            let (ok, shed, other) = (ok.clone(), shed.clone(), other.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while Instant::now() < flood_until {
                    n += 1;
                    let (sig, body) = delivery(&format!("wh_flood_{sender}_{n}"), "pause");
                    let reply = hookgate_conformance::post(
                        addr,
                        "/webhooks/aexo",
                        &[("x-aexo-signature", sig)],
                        &body,
                    )
                    .await;
                    let retry_after = reply.headers.iter().any(|(k, _)| k == "retry-after");
                    match reply.status {
                        200 => ok.fetch_add(1, Ordering::Relaxed),
                        503 if retry_after => shed.fetch_add(1, Ordering::Relaxed),
                        _ => other.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();

    // The well-behaved sender: one event every 300 ms while the flood
    // lasts, each retried after Retry-After until delivered.
    let mut slowest_answer = Duration::ZERO;
    let mut attempts = 0;
    let mut events = 0;
    let mut first_try = 0;
    while Instant::now() < flood_until {
        events += 1;
        let id = format!("wh_polite_{events}");
        let mut tries = 0;
        loop {
            tries += 1;
            attempts += 1;
            let asked = Instant::now();
            let (sig, body) = delivery(&id, "");
            let reply = tokio::time::timeout(
                Duration::from_secs(10),
                hookgate_conformance::post(
                    addr,
                    "/webhooks/aexo",
                    &[("x-aexo-signature", sig)],
                    &body,
                ),
            )
            .await
            .expect("a well-behaved delivery went unanswered for 10 s");
            slowest_answer = slowest_answer.max(asked.elapsed());
            match reply.status {
                200 => break,
                503 => {
                    let wait = reply
                        .headers
                        .iter()
                        .find(|(k, _)| k == "retry-after")
                        .and_then(|(_, v)| v.parse::<u64>().ok())
                        .expect("503 without Retry-After");
                    assert!(tries < 30, "{id} still refused after {tries} tries");
                    tokio::time::sleep(Duration::from_secs(wait)).await;
                }
                s => panic!("{id} answered {s}"),
            }
        }
        if tries == 1 {
            first_try += 1;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    for f in flood {
        f.await.unwrap();
    }
    let rss_flood_end = rss_kib(pid);
    let mut cut = Duration::ZERO;
    for s in slow {
        let lasted = s.await.unwrap().expect("a slow body still open after 20 s");
        cut = cut.max(lasted);
    }
    done.store(true, Ordering::Relaxed);
    let (peak, samples) = sampler.await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after = rss_kib(pid);
    let (ok, shed, other) = (
        ok.load(Ordering::Relaxed),
        shed.load(Ordering::Relaxed),
        other.load(Ordering::Relaxed),
    );
    eprintln!(
        "flood: {ok} delivered, {shed} shed (503 + Retry-After), {other} other; \
         well-behaved: {events} events, {first_try} on the first try, {attempts} attempts, \
         slowest answer {slowest_answer:?}; slow bodies cut after at most {cut:?}; \
         proxy RSS KiB: before {rss_before}, peak {peak}, at the flood's end {rss_flood_end}, \
         after {rss_after}; samples {samples:?}"
    );
    assert_eq!(
        other, 0,
        "flood answers other than 200 or 503 + Retry-After"
    );
    assert!(shed > 0, "the flood never reached the handler cap");
    assert!(ok > 0);
    assert!(
        slowest_answer < Duration::from_secs(2),
        "{slowest_answer:?}"
    );
    assert!(
        cut <= Duration::from_secs(13),
        "slow bodies kept {cut:?} (read timeout 10 s)"
    );
    // Bounded: under 64 KiB per open connection at the peak, and given back.
    assert!(
        peak.saturating_sub(rss_before) < 64 * 1000,
        "memory grew from {rss_before} KiB to a peak of {peak} KiB"
    );
    // Every delivered event reached the upstream once (the flood's and the
    // well-behaved sender's, plus the warm-up).
    assert_eq!(upstream.count(), ok + events + 1);
}
