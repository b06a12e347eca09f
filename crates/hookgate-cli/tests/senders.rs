//! Every built-in scheme, Standard Webhooks' v1a (ed25519) and an HMAC
//! scheme described in a file, through the `hookgate` process: `sign`
//! output is what `verify` accepts (and a changed byte is refused), and
//! `serve` forwards each sender's verified deliveries to an application
//! that verifies them itself with hookgate, as users run it, once each, and
//! answers the senders' handshakes itself.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use hookgate::dedupe::MemoryStore;
use hookgate::scheme::{self, Scheme, SignInput};
use hookgate::{testing, Secrets, Verifier};

const BIN: &str = env!("CARGO_BIN_EXE_hookgate");

/// What the sender signs with (Discord: a private key's hex seed).
fn secret_for(name: &str) -> &'static str {
    match name {
        "standard-webhooks" | "svix" => "whsec_Y2xpLXNlbmRlcnMtdGVzdC1rZXktMDEyMzQ1Njc=",
        "discord" => "3333333333333333333333333333333333333333333333333333333333333333",
        _ => "cli-senders-secret",
    }
}

/// A signing secret of the route's form that is not the route's.
fn forged_secret_for(name: &str) -> &'static str {
    match name {
        "discord" => "4444444444444444444444444444444444444444444444444444444444444444",
        _ => "whsec_Zm9yZ2VkLWtleS1mb3ItdGhlLXRlc3Q=",
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hookgate-senders-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The URL the senders that sign it are configured to call.
fn public_url(name: &str) -> String {
    format!("https://hooks.example.com/in/{name}")
}

fn sample(scheme: &dyn Scheme, n: usize) -> Vec<u8> {
    if scheme.name() == "twilio" {
        // Twilio posts forms.
        return format!("MessageSid=SM{n:08}&From=%2B14155550100&Body=Hi+{n}").into_bytes();
    }
    testing::sample_body(
        scheme,
        &format!("evt_cli_{n}"),
        "thing.happened",
        serde_json::json!({"n": n}),
        time::OffsetDateTime::now_utc(),
    )
}

fn run(args: &[&str], secret: &str) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env("HOOKGATE_SECRET", secret)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A Standard Webhooks v1a signing key (`whsk_`, the base64 of an ed25519
/// seed), and another that the receivers do not know.
const V1A_KEY: &str = "whsk_VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVU=";
const V1A_FORGED_KEY: &str = "whsk_ZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmY=";

/// The README's HMAC sender, built in code as an application would.
fn acme_scheme() -> Arc<dyn Scheme> {
    use hookgate::scheme::{
        Algorithm, Encoding, Field, HmacScheme, Part, TimeFormat, TimestampSource,
    };
    let scheme = HmacScheme::new("acme", "x-acme-signature")
        .algorithm(Algorithm::HmacSha512)
        .encoding(Encoding::Base64)
        .prefix("s=")
        .signed_content(vec![
            Part::Header("x-acme-timestamp"),
            Part::Literal("."),
            Part::Body,
        ])
        .timestamp(TimestampSource::Header(
            "x-acme-timestamp",
            TimeFormat::UnixSeconds,
        ))
        .id(Field::header("x-acme-delivery"))
        .event(Field::body("type").optional());
    Arc::new(scheme.build().unwrap())
}

/// One sender through the command and the proxy: every built-in scheme,
/// Standard Webhooks' v1a (ed25519, `whpk_` keys) and the README's HMAC
/// sender (`--scheme hmac`, `scheme = "hmac"`).
struct Case {
    /// Route and file names: the scheme's name, `standard-webhooks-v1a` or `hmac`.
    key: &'static str,
    scheme: Arc<dyn Scheme>,
    /// What the sender signs with.
    signing: &'static str,
    /// A signing secret of the same form that is not the route's.
    forged: &'static str,
}

impl Case {
    /// What the receiver is configured with (ed25519: the public key).
    fn verifying(&self) -> String {
        testing::verifying_secret(&*self.scheme, self.signing).unwrap()
    }

    /// The command-line flags that choose the scheme; the HMAC sender's
    /// `--scheme-config` file is written to `dir`.
    fn scheme_flags(&self, dir: &Path) -> Vec<String> {
        let flag = match self.key {
            "hmac" => {
                let file = dir.join("acme.toml");
                std::fs::write(&file, acme_hmac()).unwrap();
                return [
                    "--scheme",
                    "hmac",
                    "--scheme-config",
                    file.to_str().unwrap(),
                ]
                .map(String::from)
                .to_vec();
            }
            _ => self.scheme.name(),
        };
        vec!["--scheme".into(), flag.into()]
    }

    /// The route's `scheme` line in serve's configuration, and what ends
    /// the route (the HMAC sender's table, after every other key).
    fn route_scheme(&self) -> (String, String) {
        match self.key {
            "hmac" => ("hmac".into(), format!("[route.hmac]\n{}", acme_hmac())),
            _ => (self.scheme.name().into(), String::new()),
        }
    }
}

fn cases() -> Vec<Case> {
    let mut cases: Vec<Case> = scheme::BUILTIN
        .iter()
        .map(|name| Case {
            key: name,
            scheme: scheme::builtin(name).unwrap(),
            signing: secret_for(name),
            forged: forged_secret_for(name),
        })
        .collect();
    cases.push(Case {
        key: "standard-webhooks-v1a",
        scheme: scheme::builtin("standard-webhooks").unwrap(),
        signing: V1A_KEY,
        forged: V1A_FORGED_KEY,
    });
    cases.push(Case {
        key: "hmac",
        scheme: acme_scheme(),
        signing: "acme-proxy-secret",
        forged: forged_secret_for("hmac"),
    });
    cases
}

#[test]
fn sign_then_verify_as_processes_for_every_scheme() {
    let dir = temp_dir("sign-verify");
    for (n, case) in cases().iter().enumerate() {
        let (key, scheme) = (case.key, &case.scheme);
        let body = sample(&**scheme, n);
        let body_file = dir.join(format!("{key}.json"));
        std::fs::write(&body_file, &body).unwrap();
        let id = format!("evt_cli_{n}");
        let url = public_url(key);
        let flags = case.scheme_flags(&dir);
        let mut args: Vec<&str> = vec!["sign"];
        args.extend(flags.iter().map(String::as_str));
        args.extend(["--id", &id, "--event", "thing.happened"]);
        if scheme.signs_url() {
            args.extend(["--url", url.as_str()]);
        }
        args.push(body_file.to_str().unwrap());
        let (ok, out, err) = run(&args, case.signing);
        assert!(ok, "{key}: {err}");
        assert!(
            out.to_ascii_lowercase().contains(scheme.signature_header()),
            "{key}: {out}"
        );
        if key == "standard-webhooks-v1a" {
            assert!(out.contains("webhook-signature: v1a,"), "{out}");
        }
        let headers_file = dir.join(format!("{key}.headers"));
        std::fs::write(&headers_file, &out).unwrap();
        let verify = |body: &Path, secret: &str| {
            let mut args: Vec<&str> = vec!["verify"];
            args.extend(flags.iter().map(String::as_str));
            args.extend([
                "--headers",
                headers_file.to_str().unwrap(),
                "--body",
                body.to_str().unwrap(),
            ]);
            if scheme.signs_url() {
                args.extend(["--url", url.as_str()]);
            }
            run(&args, secret)
        };
        let (ok, out, err) = verify(&body_file, &case.verifying());
        assert!(ok && out.starts_with("verified:"), "{key}: {out} {err}");
        assert!(out.contains(scheme.name()), "{key}: {out}");

        let mut changed = body.clone();
        let last = changed.len() - 2;
        changed[last] ^= 1;
        let changed_file = dir.join(format!("{key}.changed.json"));
        std::fs::write(&changed_file, &changed).unwrap();
        let (ok, out, _) = verify(&changed_file, &case.verifying());
        assert!(!ok && out.starts_with("rejected (401"), "{key}: {out}");
    }
}

/// The README's `[route.hmac]` example (the keys of the table), as a
/// `--scheme-config` file.
fn acme_hmac() -> String {
    let readme = include_str!("../../../README.md");
    let table = readme
        .split("[route.hmac]\n")
        .nth(1)
        .expect("the README's hmac route");
    table.split("```").next().unwrap().to_owned()
}

#[test]
fn sign_then_verify_as_processes_for_an_hmac_scheme_described_in_a_file() {
    let dir = temp_dir("hmac-file");
    let config = dir.join("acme.toml");
    std::fs::write(&config, acme_hmac()).unwrap();
    let config = config.to_str().unwrap();
    let body = br#"{"type":"order.paid","order":{"id":"ord_1","total":4200}}"#;
    let body_file = dir.join("body.json");
    std::fs::write(&body_file, body).unwrap();
    let body_file = body_file.to_str().unwrap();
    let secret = "acme-cli-secret";
    let (ok, out, err) = run(
        &[
            "sign",
            "--scheme",
            "hmac",
            "--scheme-config",
            config,
            "--id",
            "dlv_1",
            body_file,
        ],
        secret,
    );
    assert!(ok, "{err}");
    assert!(out.contains("x-acme-signature: s="), "{out}");
    assert!(out.contains("x-acme-delivery: dlv_1"), "{out}");
    assert!(out.contains("x-acme-timestamp: "), "{out}");
    let headers = dir.join("headers");
    std::fs::write(&headers, &out).unwrap();
    let verify = |body: &str, secret: &str| {
        let args = [
            "verify",
            "--scheme",
            "hmac",
            "--scheme-config",
            config,
            "--headers",
            headers.to_str().unwrap(),
            "--body",
            body,
        ];
        run(&args, secret)
    };
    let (ok, out, err) = verify(body_file, secret);
    assert!(ok, "{out} {err}");
    assert!(
        out.starts_with("verified: acme order.paid event dlv_1"),
        "{out}"
    );
    let mut changed = body.to_vec();
    changed[25] ^= 1;
    let changed_file = dir.join("changed.json");
    std::fs::write(&changed_file, &changed).unwrap();
    let (ok, out, _) = verify(changed_file.to_str().unwrap(), secret);
    assert!(
        !ok && out.starts_with("rejected (401 bad_signature)"),
        "{out}"
    );
    let (ok, out, _) = verify(body_file, "another-secret");
    assert!(
        !ok && out.starts_with("rejected (401 bad_signature)"),
        "{out}"
    );
}

#[test]
fn a_missing_misplaced_or_wrong_scheme_config_is_refused_with_the_reason() {
    let dir = temp_dir("hmac-file-errors");
    let body = dir.join("b.json");
    std::fs::write(&body, b"{}").unwrap();
    let body = body.to_str().unwrap();
    let sign = |extra: &[&str]| {
        let mut args = vec!["sign"];
        args.extend(extra);
        args.push(body);
        let out = Command::new(BIN)
            .args(&args)
            .env("HOOKGATE_SECRET", "s")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = sign(&["--scheme", "hmac"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("--scheme hmac needs --scheme-config FILE"),
        "{err}"
    );

    let file = dir.join("acme.toml");
    std::fs::write(&file, acme_hmac()).unwrap();
    let file_arg = file.to_str().unwrap();
    let (code, err) = sign(&["--scheme", "github", "--scheme-config", file_arg]);
    assert_eq!(code, Some(2));
    assert!(err.contains("remove --scheme-config"), "{err}");

    std::fs::write(&file, acme_hmac().replace("sha512", "md5")).unwrap();
    let (code, err) = sign(&["--scheme", "hmac", "--scheme-config", file_arg]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains(file_arg) && err.contains("algorithm \"md5\""),
        "{err}"
    );
    std::fs::write(&file, acme_hmac().replace("prefix =", "prefx =")).unwrap();
    let (code, err) = sign(&["--scheme", "hmac", "--scheme-config", file_arg]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains(&format!("{file_arg}:5:")) && err.contains("prefx"),
        "{err}"
    );
    let missing = dir.join("missing.toml");
    let (code, err) = sign(&[
        "--scheme",
        "hmac",
        "--scheme-config",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("cannot read"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_secret_not_in_the_schemes_form_is_refused_by_every_command() {
    let dir = temp_dir("bad-secret");
    let body = dir.join("b.json");
    std::fs::write(&body, b"{}").unwrap();
    let (ok, _, err) = run(
        &[
            "sign",
            "--scheme",
            "standard-webhooks",
            body.to_str().unwrap(),
        ],
        "whsec_not base64!",
    );
    assert!(!ok && err.contains("whsec_"), "{err}");
}

/// The application behind the proxy: one route per case, each verifying
/// with hookgate, recording the ids its handler was handed.
#[derive(Clone, Default)]
struct App {
    handled: Arc<Mutex<BTreeMap<String, Vec<String>>>>,
}

impl App {
    /// Serves the routes on 127.0.0.1 at a free port; `url(addr, key)` is
    /// the URL that the senders signing one sign.
    async fn start(&self, url: impl Fn(SocketAddr, &str) -> String) -> SocketAddr {
        use axum::routing::post;
        use hookgate_axum::{Webhook, WebhookLayer};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut router = axum::Router::new();
        for case in cases() {
            let s = case.scheme.clone();
            let secrets = Secrets::single(case.verifying()).unwrap();
            let verifier = if s.signs_url() {
                Verifier::with_public_url(s, secrets, &url(addr, case.key)).unwrap()
            } else {
                Verifier::new(s, secrets).unwrap()
            };
            let layer = WebhookLayer::new(verifier)
                .with_dedupe(MemoryStore::new())
                .unwrap();
            let me = self.clone();
            router = router.route(
                &format!("/app/{}", case.key),
                post(move |hook: Webhook<()>| {
                    let me = me.clone();
                    async move {
                        let mut handled = me.handled.lock().unwrap();
                        let list = handled.entry(case.key.to_owned()).or_default();
                        list.push(hook.meta().id().unwrap_or("-").to_owned());
                        "app ok"
                    }
                })
                .layer(layer),
            );
        }
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        addr
    }
}

struct Proxy(Child, SocketAddr);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_proxy(dir: &Path, app: SocketAddr) -> Proxy {
    let mut text = String::from(
        "[server]\nlisten = \"127.0.0.1:0\"\nallow_plain_loopback = true\n\n[dedupe]\nstore = \"memory\"\n",
    );
    for case in cases() {
        let key = case.key;
        std::fs::write(dir.join(format!("{key}.secret")), case.verifying()).unwrap();
        let (scheme, table) = case.route_scheme();
        text.push_str(&format!(
            "\n[[route]]\npath = \"/hook/{key}\"\nscheme = \"{scheme}\"\n\
             secrets = [{{ file = \"{key}.secret\" }}]\nupstream = \"http://{app}/app/{key}\"\n"
        ));
        if case.scheme.signs_url() {
            text.push_str(&format!("public_url = \"{}\"\n", public_url(key)));
        }
        match key {
            "slack" => text.push_str("handshakes = [\"slack_url_verification\"]\n"),
            "zoom" => text.push_str("handshakes = [\"zoom_url_validation\"]\n"),
            "discord" => text.push_str("handshakes = [\"discord_ping\"]\n"),
            "github" => text.push_str(
                "handshakes = [\"dropbox_challenge\", \"graph_validation\"]\n\
                 meta_verify_token = { file = \"meta.token\" }\n",
            ),
            _ => {}
        }
        text.push_str(&table);
    }
    std::fs::write(dir.join("meta.token"), "meta-token-7\n").unwrap();
    let config = dir.join("hookgate.toml");
    std::fs::write(&config, text).unwrap();
    serve(&config, Stdio::null())
}

/// `router` served on 127.0.0.1 (a free port) for the rest of the test.
async fn serve_app(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// `hookgate serve` on a plain loopback listener with `sections` after
/// `[server]`, in a fresh folder `name` holding `files` (name, content).
fn serve_routes(name: &str, files: &[(&str, &str)], sections: &str) -> Proxy {
    let dir = temp_dir(name);
    for (file, content) in files {
        std::fs::write(dir.join(file), content).unwrap();
    }
    let config = dir.join("hookgate.toml");
    let server = "[server]\nlisten = \"127.0.0.1:0\"\nallow_plain_loopback = true\n\n";
    std::fs::write(&config, format!("{server}{sections}")).unwrap();
    serve(&config, Stdio::null())
}

/// `hookgate serve --config config`, its log to `log`, at the address it
/// prints.
fn serve(config: &Path, log: impl Into<Stdio>) -> Proxy {
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.split("://").nth(1).unwrap().trim().parse().unwrap();
    Proxy(child, addr)
}

/// `body` posted to `url`, signed by `scheme` with `secret`.
fn signed_post(
    client: &reqwest::Client,
    url: &str,
    scheme: &dyn Scheme,
    secret: &str,
    body: &[u8],
) -> reqwest::RequestBuilder {
    let mut req = client.post(url).body(body.to_vec());
    for (h, v) in testing::sign(scheme, secret, body) {
        req = req.header(h, v);
    }
    req
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_forwards_every_schemes_deliveries_to_an_application_that_verifies_them() {
    let app = App::default();
    // The application checks the URL the sender signed.
    let app_addr = app.start(|_, key| public_url(key)).await;
    let dir = temp_dir("serve");
    let proxy = start_proxy(&dir, app_addr);
    let client = reqwest::Client::new();
    let cases = cases();
    for (n, case) in cases.iter().enumerate() {
        let (key, scheme) = (case.key, &*case.scheme);
        let body = sample(scheme, n);
        let id = format!("evt_cli_{n}");
        let url = public_url(key);
        let mut input = SignInput::new(&body);
        input.id = Some(&id);
        input.event = Some("thing.happened");
        input.url = Some(&url);
        let headers = testing::sign_input(scheme, case.signing, &input);
        let post = |headers: &[(&'static str, String)]| {
            let mut req = client
                .post(format!("http://{}/hook/{key}", proxy.1))
                .body(body.clone());
            for (h, v) in headers {
                req = req.header(*h, v);
            }
            req.send()
        };
        let first = post(&headers).await.unwrap();
        assert_eq!(
            first.status(),
            200,
            "{key}: {}",
            first.text().await.unwrap()
        );
        let retry = post(&headers).await.unwrap();
        assert_eq!(retry.status(), 200, "{key}");
        assert_eq!(
            retry
                .headers()
                .get("hookgate-dedupe")
                .map(|v| v.to_str().unwrap()),
            Some("duplicate"),
            "{key}"
        );
        let forged = testing::sign_input(scheme, case.forged, &input);
        assert!(!forged.is_empty(), "{key}");
        let refused = post(&forged).await.unwrap();
        assert_eq!(refused.status(), 401, "{key}");
    }
    // Handshakes answered by the proxy, not forwarded.
    let hook = |key: &str| format!("http://{}/hook/{key}", proxy.1);
    let signed = |key: &str, body: &[u8]| {
        let scheme = scheme::builtin(key).unwrap();
        signed_post(&client, &hook(key), &*scheme, secret_for(key), body).send()
    };
    let body = br#"{"token":"t","challenge":"slack-challenge-1","type":"url_verification"}"#;
    let res = signed("slack", body).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.text().await.unwrap(),
        r#"{"challenge":"slack-challenge-1"}"#
    );
    let body = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680}"#;
    let res = signed("zoom", body).await.unwrap();
    assert_eq!(res.status(), 200);
    let answer: serde_json::Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    // hex HMAC-SHA256("cli-senders-secret", plainToken), computed with
    // Python's hmac module, not with hookgate.
    assert_eq!(
        answer,
        serde_json::json!({
            "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
            "encryptedToken": "0efa8d38713cabbdabfc4c8dc68517c1d8317a8eccee5cab81c1aa052c2cbc86",
        })
    );
    let forged = signed_post(
        &client,
        &hook("zoom"),
        &scheme::Zoom,
        forged_secret_for("zoom"),
        body,
    );
    assert_eq!(forged.send().await.unwrap().status(), 401);
    // Discord: an interaction PING is answered with a PONG, a webhook
    // event PING with 204; a forged PING is refused.
    let res = signed("discord", br#"{"type":1}"#).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), r#"{"type":1}"#);
    let event_ping = br#"{"version":1,"application_id":"1234567890","type":0}"#;
    let res = signed("discord", event_ping).await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(res.text().await.unwrap(), "");
    let forged = signed_post(
        &client,
        &hook("discord"),
        &scheme::Discord,
        forged_secret_for("discord"),
        br#"{"type":1}"#,
    );
    assert_eq!(forged.send().await.unwrap().status(), 401);
    // Microsoft Graph: an unsigned POST with validationToken, echoed as text.
    let res = client
        .post(format!(
            "{}?validationToken=graph%20token%3A7",
            hook("github")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"),
        "{:?}",
        res.headers()
    );
    assert_eq!(res.text().await.unwrap(), "graph token:7");
    let get = |q: &str| client.get(format!("{}?{q}", hook("github"))).send();
    let res = get("challenge=dbx-1").await.unwrap();
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        (res.status().as_u16(), res.text().await.unwrap()),
        (200, "dbx-1".into())
    );
    let meta = "hub.mode=subscribe&hub.verify_token=meta-token-7&hub.challenge=42";
    let res = get(meta).await.unwrap();
    assert_eq!(
        (res.status().as_u16(), res.text().await.unwrap()),
        (200, "42".into())
    );
    let res = get(&meta.replace("meta-token-7", "guess")).await.unwrap();
    assert_eq!(res.status(), 403);

    // Each delivery reached the application once; no handshake did.
    let handled = app.handled.lock().unwrap().clone();
    for (n, case) in cases.iter().enumerate() {
        let want = if case.scheme.envelope().id.is_some() {
            format!("evt_cli_{n}")
        } else {
            "-".to_owned()
        };
        assert_eq!(
            handled.get(case.key),
            Some(&vec![want]),
            "{}: the application verified and handled it once",
            case.key
        );
    }
    drop(proxy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_only_route_says_so_at_start_and_forwards_failures_without_the_verified_header() {
    // The application records whether hookgate marked each request verified.
    let marks: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let m = marks.clone();
    let app = axum::Router::new().route(
        "/app",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let m = m.clone();
            async move {
                let mark = headers
                    .get("hookgate-verified")
                    .map(|v| v.to_str().unwrap().to_owned());
                m.lock().unwrap().push(mark);
                "app ok"
            }
        }),
    );
    let app_addr = serve_app(app).await;

    let dir = temp_dir("report-only");
    std::fs::write(dir.join("gh.secret"), secret_for("github")).unwrap();
    let config = dir.join("hookgate.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nallow_plain_loopback = true\n\n\
             [[route]]\npath = \"/hook\"\nscheme = \"github\"\nreport_only = true\n\
             secrets = [{{ file = \"gh.secret\" }}]\nupstream = \"http://{app_addr}/app\"\n"
        ),
    )
    .unwrap();
    let log = dir.join("proxy.log");
    let proxy = serve(&config, std::fs::File::create(&log).unwrap());
    let addr = proxy.1;
    let client = reqwest::Client::new();
    let send = |secret: &'static str| {
        let body = br#"{"zen":"Keep it logically awesome."}"#.to_vec();
        let headers = testing::sign(&scheme::GitHub, secret, &body);
        let mut req = client.post(format!("http://{addr}/hook")).body(body);
        for (h, v) in headers {
            req = req.header(h, v);
        }
        req.send()
    };
    assert_eq!(send(secret_for("github")).await.unwrap().status(), 200);
    assert_eq!(send("forged-secret").await.unwrap().status(), 200);
    assert_eq!(
        *marks.lock().unwrap(),
        vec![Some("github".to_owned()), None],
        "the verified delivery is marked, the forged one passed on unmarked"
    );
    drop(proxy);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("REPORT-ONLY verification"), "{logged}");
    assert!(logged.contains("bad_signature"), "{logged}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_delivers_each_schemes_sample_events_to_an_application_that_verifies_them() {
    let app = App::default();
    // `send` signs the URL it posts to, for the schemes that sign one.
    let addr = app
        .start(|addr, key| format!("http://{addr}/app/{key}"))
        .await;
    let dir = temp_dir("send");
    for case in cases() {
        let url = format!("http://{addr}/app/{}", case.key);
        let mut args: Vec<String> = vec!["send".into()];
        args.extend(case.scheme_flags(&dir));
        args.extend(["--url", &url, "--count", "3", "--duplicate", "1"].map(String::from));
        let secret = case.signing;
        // A blocking process: off the runtime that serves the application.
        let (ok, out, err) = tokio::task::spawn_blocking(move || {
            run(&args.iter().map(String::as_str).collect::<Vec<_>>(), secret)
        })
        .await
        .unwrap();
        assert!(ok, "{}: {out} {err}", case.key);
        assert!(
            out.contains("3 acknowledged, 0 not acknowledged; 3 duplicate answers"),
            "{}: {out}",
            case.key
        );
    }
    let handled = app.handled.lock().unwrap().clone();
    for case in cases() {
        assert_eq!(
            handled.get(case.key).map(Vec::len),
            Some(3),
            "{}: three events, each handled once",
            case.key
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_looks_each_tenants_secrets_up_by_header_and_refuses_unknown_tenants() {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/app",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let s = s.clone();
            async move {
                let tenant = headers["x-tenant"].to_str().unwrap().to_owned();
                s.lock().unwrap().push(tenant);
                "app ok"
            }
        }),
    );
    let app_addr = serve_app(app).await;

    let proxy = serve_routes(
        "tenants",
        &[
            ("acme.secret", "acme-new"),
            ("acme-old.secret", "acme-old"),
            ("globex.secret", "globex-secret"),
        ],
        &format!(
            "[dedupe]\nstore = \"memory\"\n\n\
             [[route]]\npath = \"/hook\"\nscheme = \"github\"\nupstream = \"http://{app_addr}/app\"\n\
             [route.tenants]\nheader = \"X-Tenant\"\n\
             secrets = {{ acme = [{{ file = \"acme.secret\" }}, {{ file = \"acme-old.secret\" }}], \
             globex = [{{ file = \"globex.secret\" }}] }}\n"
        ),
    );
    let client = reqwest::Client::new();
    let send = |tenant: &'static str, secret: &'static str| {
        // The same body, so the same delivery id, for every tenant.
        let body = br#"{"zen":"Design for failure."}"#.to_vec();
        let headers = testing::sign(&scheme::GitHub, secret, &body);
        let mut req = client
            .post(format!("http://{}/hook", proxy.1))
            .header("x-tenant", tenant)
            .body(body);
        for (h, v) in headers {
            req = req.header(h, v);
        }
        req.send()
    };
    assert_eq!(send("acme", "acme-new").await.unwrap().status(), 200);
    assert_eq!(send("globex", "globex-secret").await.unwrap().status(), 200);
    let again = send("acme", "acme-old").await.unwrap();
    assert_eq!(
        again.headers()["hookgate-dedupe"],
        "duplicate",
        "acme's retry, old secret"
    );
    assert_eq!(send("globex", "acme-new").await.unwrap().status(), 401);
    assert_eq!(send("initech", "acme-new").await.unwrap().status(), 401);
    // A request that names no tenant is refused, never verified with anyone's secret.
    let body = br#"{"zen":"Anything added dilutes everything else."}"#.to_vec();
    let mut req = client
        .post(format!("http://{}/hook", proxy.1))
        .body(body.clone());
    for (h, v) in testing::sign(&scheme::GitHub, "acme-new", &body) {
        req = req.header(h, v);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.text().await.unwrap().contains("tenant"));
    assert_eq!(
        *seen.lock().unwrap(),
        vec!["acme".to_owned(), "globex".to_owned()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_routes_every_tenants_path_to_one_route_and_verifies_each_with_its_own_secrets() {
    use hookgate::tenant::TenantKey;
    use hookgate_axum::{Webhook, WebhookLayer};
    // The application verifies again, with the secrets of the tenant the
    // proxy names in `hookgate-tenant`, and records whose delivery it handled.
    let tenants = BTreeMap::from([
        ("acme".to_owned(), Secrets::single("acme-secret").unwrap()),
        (
            "globex".to_owned(),
            Secrets::single("globex-secret").unwrap(),
        ),
    ]);
    let lookup = move |tenant: String| {
        let found = tenants.get(&tenant).cloned();
        async move { Ok(found) }
    };
    let key = TenantKey::Header("hookgate-tenant".into());
    let verifier = Verifier::per_tenant(scheme::GitHub, key, lookup).unwrap();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/app",
        axum::routing::post(move |hook: Webhook<()>| {
            let s = s.clone();
            async move {
                s.lock()
                    .unwrap()
                    .push(hook.meta().tenant().unwrap().to_owned());
                "app ok"
            }
        })
        .layer(WebhookLayer::new(verifier)),
    );
    let app_addr = serve_app(app).await;

    let proxy = serve_routes(
        "path-tenants",
        &[("acme.secret", "acme-secret"), ("globex.secret", "globex-secret")],
        &format!(
            "[[route]]\npath = \"/webhooks/{{tenant}}/github\"\nscheme = \"github\"\n\
             upstream = \"http://{app_addr}/app\"\n\
             [route.tenants]\n\
             secrets = {{ acme = [{{ file = \"acme.secret\" }}], globex = [{{ file = \"globex.secret\" }}] }}\n"
        ),
    );
    let client = reqwest::Client::new();
    let send = |path: &str, secret: &'static str, n: u32| {
        let body = format!(r#"{{"zen":"Half measures are as bad as nothing at all.","n":{n}}}"#);
        let url = format!("http://{}{path}", proxy.1);
        signed_post(&client, &url, &scheme::GitHub, secret, body.as_bytes())
            .header("hookgate-tenant", "acme")
            .send()
    };
    let acme = send("/webhooks/acme/github", "acme-secret", 1)
        .await
        .unwrap();
    assert_eq!(acme.status(), 200);
    assert_eq!(acme.text().await.unwrap(), "app ok");
    let globex = send("/webhooks/globex/github", "globex-secret", 2);
    assert_eq!(globex.await.unwrap().status(), 200);
    // globex's path with acme's secret: each tenant is checked with its own.
    let crossed = send("/webhooks/globex/github", "acme-secret", 3);
    assert_eq!(crossed.await.unwrap().status(), 401);
    let unknown = send("/webhooks/initech/github", "acme-secret", 4);
    assert_eq!(unknown.await.unwrap().status(), 401);
    let none = send("/webhooks//github", "acme-secret", 5).await.unwrap();
    assert_eq!(none.status(), 401);
    assert!(none.text().await.unwrap().contains("tenant"));
    let elsewhere = send("/webhooks/acme/gitlab", "acme-secret", 6);
    assert_eq!(elsewhere.await.unwrap().status(), 404);
    assert_eq!(
        *seen.lock().unwrap(),
        vec!["acme".to_owned(), "globex".to_owned()],
        "the proxy named each verified tenant (not the sender's forged header)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_zoom_url_validation_on_a_tenant_path_with_that_tenants_secret() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let forwarded = Arc::new(AtomicUsize::new(0));
    let f = forwarded.clone();
    let app = axum::Router::new().route(
        "/app",
        axum::routing::post(move || {
            f.fetch_add(1, Ordering::SeqCst);
            async { "app ok" }
        }),
    );
    let app_addr = serve_app(app).await;
    let proxy = serve_routes(
        "zoom-tenants",
        &[
            ("acme.secret", "acme-zoom-secret"),
            ("globex.secret", "globex-zoom-secret"),
        ],
        &format!(
            "[[route]]\npath = \"/webhooks/{{tenant}}/zoom\"\nscheme = \"zoom\"\n\
             upstream = \"http://{app_addr}/app\"\nhandshakes = [\"zoom_url_validation\"]\n\
             [route.tenants]\n\
             secrets = {{ acme = [{{ file = \"acme.secret\" }}], globex = [{{ file = \"globex.secret\" }}] }}\n"
        ),
    );
    let client = reqwest::Client::new();
    let body = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680}"#;
    let validate = |tenant: &str, secret: &'static str| {
        let url = format!("http://{}/webhooks/{tenant}/zoom", proxy.1);
        signed_post(&client, &url, &scheme::Zoom, secret, body).send()
    };
    // hex HMAC-SHA256(tenant's secret, plainToken), computed with Python's
    // hmac module, not with hookgate: each tenant's answer is its own.
    for (tenant, secret, token) in [
        (
            "acme",
            "acme-zoom-secret",
            "6ca37018b8d188f61aff1f605d6bfc7bf65f60bf4e290d46a3b93fa4d3ffe912",
        ),
        (
            "globex",
            "globex-zoom-secret",
            "6aafd1d5c83e3863da8bc43655ea50bd776378b4f89a4317fcae69afdd459f14",
        ),
    ] {
        let res = validate(tenant, secret).await.unwrap();
        assert_eq!(res.status(), 200, "{tenant}");
        let answer: serde_json::Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
        assert_eq!(
            answer,
            serde_json::json!({ "plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": token }),
            "{tenant}"
        );
    }
    // Another tenant's secret, or a tenant the route does not know: 401,
    // and no token is given away.
    let crossed = validate("globex", "acme-zoom-secret").await.unwrap();
    assert_eq!(crossed.status(), 401);
    assert!(!crossed.text().await.unwrap().contains("encryptedToken"));
    let unknown = validate("initech", "acme-zoom-secret").await.unwrap();
    assert_eq!(unknown.status(), 401);
    assert_eq!(
        forwarded.load(Ordering::SeqCst),
        0,
        "the proxy answers the handshake itself"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_inbox_on_a_tenant_path_tells_the_upstream_each_events_tenant() {
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/app",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let s = s.clone();
            async move {
                let tenant = headers
                    .get("hookgate-tenant")
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default();
                s.lock().unwrap().push((tenant, body));
                "app ok"
            }
        }),
    );
    let app_addr = serve_app(app).await;
    let proxy = serve_routes(
        "inbox-tenants",
        &[("acme.secret", "acme-secret"), ("globex.secret", "globex-secret")],
        &format!(
            "[[route]]\npath = \"/webhooks/{{tenant}}/github\"\nscheme = \"github\"\n\
             ack = \"inbox\"\nupstream = \"http://{app_addr}/app\"\n\
             [route.tenants]\n\
             secrets = {{ acme = [{{ file = \"acme.secret\" }}], globex = [{{ file = \"globex.secret\" }}] }}\n\
             \n[inbox]\nstore = \"sqlite\"\ndir = \"inbox\"\nworkers = 1\n\
             attempt_timeout_secs = 5\nlease_secs = 10\n"
        ),
    );
    let client = reqwest::Client::new();
    let send = |tenant: &str, secret: &'static str, n: u32| {
        let body = format!(r#"{{"zen":"Design for failure.","n":{n}}}"#);
        let url = format!("http://{}/webhooks/{tenant}/github", proxy.1);
        // A forged tenant header from the sender is not what the upstream
        // is told.
        signed_post(&client, &url, &scheme::GitHub, secret, body.as_bytes())
            .header("hookgate-tenant", "globex")
            .send()
    };
    for (tenant, secret, n) in [("acme", "acme-secret", 1), ("globex", "globex-secret", 2)] {
        let res = send(tenant, secret, n).await.unwrap();
        assert_eq!(res.status(), 200, "{tenant}");
        assert_eq!(res.text().await.unwrap(), r#"{"queued":true}"#);
    }
    let crossed = send("globex", "acme-secret", 3).await.unwrap();
    assert_eq!(crossed.status(), 401);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while seen.lock().unwrap().len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the inbox did not forward both events: {:?}",
            seen.lock().unwrap()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut got = seen.lock().unwrap().clone();
    got.sort();
    assert_eq!(
        got.iter()
            .map(|(t, b)| (t.as_str(), b.contains(r#""n":1"#)))
            .collect::<Vec<_>>(),
        vec![("acme", true), ("globex", false)],
        "each stored event reached the upstream with its own tenant: {got:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_sheds_deliveries_beyond_a_routes_handler_cap_with_503() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let entered = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let (e, g) = (entered.clone(), gate.clone());
    let app = axum::Router::new().route(
        "/app",
        axum::routing::post(move || {
            let (e, g) = (e.clone(), g.clone());
            async move {
                e.fetch_add(1, Ordering::SeqCst);
                g.acquire().await.unwrap().forget();
                "app ok"
            }
        }),
    );
    let app_addr = serve_app(app).await;
    let dir = temp_dir("shedding");
    std::fs::write(dir.join("gh.secret"), secret_for("github")).unwrap();
    let config = dir.join("hookgate.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nallow_plain_loopback = true\n\n\
             [[route]]\npath = \"/hook\"\nscheme = \"github\"\nmax_concurrent_handlers = 1\n\
             secrets = [{{ file = \"gh.secret\" }}]\nupstream = \"http://{app_addr}/app\"\n"
        ),
    )
    .unwrap();
    let proxy = serve(&config, Stdio::null());
    let client = reqwest::Client::new();
    let send = |n: u32| {
        let body = format!(r#"{{"n":{n}}}"#).into_bytes();
        let headers = testing::sign(&scheme::GitHub, secret_for("github"), &body);
        let mut req = client.post(format!("http://{}/hook", proxy.1)).body(body);
        for (h, v) in headers {
            req = req.header(h, v);
        }
        req.send()
    };
    let first = tokio::spawn(send(1));
    while entered.load(Ordering::SeqCst) < 1 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let shed = send(2).await.unwrap();
    assert_eq!(shed.status(), 503);
    assert_eq!(shed.headers()["retry-after"], "1");
    gate.add_permits(2);
    assert_eq!(first.await.unwrap().unwrap().status(), 200);
    assert_eq!(
        send(2).await.unwrap().status(),
        200,
        "the retry, once there is room"
    );
    assert_eq!(entered.load(Ordering::SeqCst), 2);
}
