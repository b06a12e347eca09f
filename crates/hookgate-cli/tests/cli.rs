//! The `hookgate` command, run as a process.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use hookgate::scheme::{Aexo, Axifi};
use hookgate::{testing, Verifier};

const BIN: &str = env!("CARGO_BIN_EXE_hookgate");

fn hookgate(secret: Option<&str>) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_remove("HOOKGATE_SECRET");
    if let Some(s) = secret {
        cmd.env("HOOKGATE_SECRET", s);
    }
    cmd
}

fn with_stdin(mut cmd: Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that refuses its arguments exits without reading its input:
    // then the write meets a closed pipe, which is not the test's concern.
    if let Err(e) = child.stdin.take().unwrap().write_all(input) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hookgate-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn header_value(line: &str) -> String {
    line.trim().split_once(": ").unwrap().1.to_owned()
}

#[test]
fn sign_output_is_accepted_by_the_library_and_equals_openssls() {
    let dir = temp_dir("sign");
    let body = testing::aexo_body(
        "wh_cli_1",
        "dataset.refreshed",
        serde_json::json!({"dataset_name": "x"}),
    );
    let file = write(&dir, "body.json", &body);
    let mut cmd = hookgate(Some("cli-secret"));
    cmd.args(["sign", "--scheme", "aexo"]).arg(&file);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stdout(&out);
    assert!(line.starts_with("X-AEXO-Signature: "), "{line}");
    let value = header_value(&line);

    let headers = vec![("x-aexo-signature", value.clone())];
    let verified = Verifier::aexo("cli-secret")
        .unwrap()
        .verify(&headers, body.clone().into())
        .unwrap();
    assert_eq!(verified.id(), Some("wh_cli_1"));

    let openssl = Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", "cli-secret"])
        .arg(&file)
        .output()
        .expect("openssl must be installed for this test");
    let openssl = String::from_utf8_lossy(&openssl.stdout);
    assert_eq!(openssl.trim().rsplit("= ").next().unwrap(), value);
}

#[test]
fn sign_reads_standard_input_and_writes_the_axifi_form() {
    let body = testing::axifi_body("compound.created", serde_json::json!({"id": "c-1"}));
    let mut cmd = hookgate(Some("axifi-secret"));
    cmd.args(["sign", "--scheme", "axifi", "--value-only"]);
    let out = with_stdin(cmd, &body);
    assert!(out.status.success(), "{}", stderr(&out));
    let value = stdout(&out).trim().to_owned();
    assert!(value.starts_with("sha256="), "{value}");
    let headers = vec![("x-webhook-signature", value)];
    assert!(Verifier::axifi("axifi-secret")
        .unwrap()
        .verify(&headers, body.into())
        .is_ok());
}

#[test]
fn the_secret_comes_from_the_environment_or_a_file_never_the_command_line() {
    let out = with_stdin(
        {
            let mut c = hookgate(None);
            c.args(["sign", "--scheme", "aexo"]);
            c
        },
        b"{}",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("export HOOKGATE_SECRET="),
        "{}",
        stderr(&out)
    );

    let out = hookgate(None)
        .args(["sign", "--scheme", "aexo", "--secret", "s"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("unexpected argument"),
        "{}",
        stderr(&out)
    );

    let dir = temp_dir("secretfile");
    let secret_file = write(&dir, "secret", b"from-a-file\n");
    let mut cmd = hookgate(None);
    cmd.args(["sign", "--scheme", "aexo", "--value-only", "--secret-file"])
        .arg(&secret_file);
    let out = with_stdin(cmd, b"{}");
    assert!(out.status.success(), "{}", stderr(&out));
    let expected = testing::sign(&Aexo, "from-a-file", b"{}").remove(0).1;
    assert_eq!(
        stdout(&out).trim(),
        expected,
        "the trailing newline is not part of the secret"
    );

    let empty = write(&dir, "empty", b"\n");
    let mut cmd = hookgate(None);
    cmd.args(["sign", "--scheme", "aexo", "--secret-file"])
        .arg(&empty);
    let out = with_stdin(cmd, b"{}");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("empty"), "{}", stderr(&out));
}

fn verify(dir: &Path, scheme: &str, headers: &str, body: &[u8], extra: &[&str]) -> Output {
    let h = write(dir, "headers.txt", headers.as_bytes());
    let b = write(dir, "body.json", body);
    let mut cmd = hookgate(Some("verify-secret"));
    cmd.args(["verify", "--scheme", scheme, "--headers"])
        .arg(h)
        .arg("--body")
        .arg(b)
        .args(extra);
    cmd.output().unwrap()
}

#[test]
fn verify_accepts_a_good_delivery_and_names_the_reason_for_each_bad_one() {
    let dir = temp_dir("verify");
    let body = testing::aexo_body("wh_v_1", "key.created", serde_json::json!({}));
    let sig = testing::sign(&Aexo, "verify-secret", &body).remove(0).1;
    let good = format!("Content-Type: application/json\nX-AEXO-Signature: {sig}\n");

    let out = verify(&dir, "aexo", &good, &body, &[]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).starts_with("verified: aexo key.created event wh_v_1"),
        "{}",
        stdout(&out)
    );

    let mut tampered = body.clone();
    tampered.push(b' ');
    let old = time::OffsetDateTime::now_utc() - time::Duration::hours(5);
    let stale = testing::aexo_body_at("wh_v_2", "key.created", serde_json::json!({}), old);
    let stale_sig = testing::sign(&Aexo, "verify-secret", &stale).remove(0).1;
    let not_envelope = br#"{"id":"wh_v_3","event":"key.created"}"#;
    let ne_sig = testing::sign(&Aexo, "verify-secret", not_envelope)
        .remove(0)
        .1;
    let cases: Vec<(&str, String, Vec<u8>, &str)> = vec![
        ("tampered", good.clone(), tampered, "bad_signature"),
        (
            "no header",
            "Content-Type: application/json\n".into(),
            body.clone(),
            "there is no X-AEXO-Signature header",
        ),
        (
            "two headers",
            format!("{good}X-AEXO-Signature: {sig}\n"),
            body.clone(),
            "appears 2 times",
        ),
        (
            "axifi prefix",
            format!("X-AEXO-Signature: sha256={sig}\n"),
            body.clone(),
            "`sha256=` is the AXIFI form",
        ),
        (
            "odd length",
            format!("X-AEXO-Signature: {}\n", &sig[..63]),
            body.clone(),
            "63 hex digits",
        ),
        (
            "non-hex",
            format!("X-AEXO-Signature: {}zz\n", &sig[..62]),
            body.clone(),
            "non-hex character 'z' at position 62",
        ),
        (
            "stale",
            format!("X-AEXO-Signature: {stale_sig}\n"),
            stale.clone(),
            "old; the aexo freshness window is 3h 0m",
        ),
        (
            "not an envelope",
            format!("X-AEXO-Signature: {ne_sig}\n"),
            not_envelope.to_vec(),
            "missing field `created_at`",
        ),
    ];
    for (name, headers, body, reason) in cases {
        let out = verify(&dir, "aexo", &headers, &body, &[]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        assert!(
            stdout(&out).starts_with("rejected ("),
            "{name}: {}",
            stdout(&out)
        );
        assert!(stdout(&out).contains(reason), "{name}: {}", stdout(&out));
        assert!(
            !stdout(&out).contains("verify-secret"),
            "{name}: echoes the secret"
        );
    }

    // The stale one verifies as of when it arrived.
    let at =
        time::OffsetDateTime::now_utc() - time::Duration::hours(5) + time::Duration::minutes(1);
    let at = at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let out = verify(
        &dir,
        "aexo",
        &format!("X-AEXO-Signature: {stale_sig}\n"),
        &stale,
        &["--at", &at],
    );
    assert!(out.status.success(), "{}", stdout(&out));

    let axifi = testing::axifi_body("compound.created", serde_json::json!({"id": "c"}));
    let bare = testing::sign(&Aexo, "verify-secret", &axifi).remove(0).1;
    let out = verify(
        &dir,
        "axifi",
        &format!("X-Webhook-Signature: {bare}\n"),
        &axifi,
        &[],
    );
    assert!(
        stdout(&out).contains("must start with `sha256=`"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn verify_reads_a_raw_saved_request() {
    let dir = temp_dir("raw");
    let body = testing::axifi_body("compound.created", serde_json::json!({"id": "c-9"}));
    let sig = testing::sign(&Axifi, "verify-secret", &body).remove(0).1;
    let mut raw = format!(
        "POST /webhooks/axifi HTTP/1.1\r\nHost: example\r\nX-Webhook-Signature: {sig}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(&body);
    let file = write(&dir, "request.http", &raw);
    let out = hookgate(Some("verify-secret"))
        .args(["verify", "--scheme", "axifi", "--request"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("verified: axifi compound.created"),
        "{}",
        stdout(&out)
    );
}

/// An example receiver binary, built by the workspace's `cargo test`.
fn example(name: &str) -> PathBuf {
    let dir = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let bin = dir.join(name);
    assert!(
        bin.exists(),
        "{} is not built: run the workspace tests (bash scripts/test.sh), or cargo build -p {name}",
        bin.display()
    );
    bin.to_str().unwrap().to_owned().into()
}

#[test]
fn send_delivers_signed_samples_and_duplicates_to_both_example_receivers() {
    for name in ["axum-receiver", "actix-receiver"] {
        let bin = example(name);
        let mut receiver = hookgate_conformance::process::receiver(bin.to_str().unwrap());
        let running = hookgate_conformance::process::start(receiver.arg("--dev-secrets"));
        for (scheme, path, secret, events) in [
            (
                "aexo",
                "/webhooks/aexo",
                "hookgate-dev-aexo-secret",
                vec![
                    "dataset.refreshed",
                    "export.completed",
                    "key.created",
                    "key.revoked",
                    "record.flagged",
                ],
            ),
            (
                "axifi",
                "/webhooks/axifi",
                "hookgate-dev-axifi-secret",
                vec!["compound.created"],
            ),
        ] {
            for event in events {
                let url = format!("http://{}{path}", running.addr);
                let out = hookgate(Some(secret))
                    .args(["send", "--scheme", scheme, "--event", event, "--url", &url])
                    .args(["--count", "4", "--concurrency", "2", "--duplicate", "1"])
                    .output()
                    .unwrap();
                let text = stdout(&out);
                assert!(
                    out.status.success(),
                    "{name} {event}: {text}{}",
                    stderr(&out)
                );
                assert!(
                    text.contains(
                        "sent 4 events: 4 acknowledged, 0 not acknowledged; 4 duplicate answers"
                    ),
                    "{name} {event}: {text}"
                );
                assert_eq!(
                    text.matches("[duplicate]").count(),
                    4,
                    "{name} {event}: {text}"
                );
                assert!(
                    text.contains("attempt 1: 200 in "),
                    "{name} {event}: {text}"
                );
            }
        }
        let url = format!("http://{}/webhooks/aexo", running.addr);
        let out = hookgate(Some("wrong-secret"))
            .args(["send", "--scheme", "aexo", "--url", &url])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert!(
            stdout(&out).contains("attempt 1: 401"),
            "{name}: {}",
            stdout(&out)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_follows_the_aexo_retry_schedule_until_the_receiver_succeeds() {
    use hookgate_conformance::{servers::axum_server, table, Handler, AEXO_PATH, SECRET};
    let handler = Handler::default();
    let addr = axum_server(handler.clone()).await;
    // The conformance server's clock stands at its own "now"; the body is stamped to match.
    let t = hookgate_conformance::now() - time::Duration::minutes(1);
    let body = table::aexo_body("wh_fail_once_cli", "key.created", t, None);
    let dir = temp_dir("retry");
    let file = write(&dir, "body.json", &body);
    let url = format!("http://{addr}{AEXO_PATH}");
    let out = tokio::task::spawn_blocking(move || {
        hookgate(Some(SECRET))
            .args([
                "send",
                "--scheme",
                "aexo",
                "--url",
                &url,
                "--retry-schedule",
                "aexo",
                "--time-scale",
                "0.0001",
                "--body",
            ])
            .arg(&file)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("attempt 1: 500"), "{text}");
    assert!(text.contains("attempt 2: 200"), "{text}");
    assert_eq!(handler.calls(), 2);
}

#[test]
fn send_refuses_a_time_scale_that_is_not_a_finite_factor_instead_of_panicking() {
    for scale in ["inf", "1e300", "NaN", "-1", "fast"] {
        let out = hookgate(Some("whsec_test"))
            .args([
                "send",
                "--scheme",
                "aexo",
                "--url",
                "http://127.0.0.1:9/webhooks/aexo",
                "--retry-schedule",
                "aexo",
            ])
            .arg(format!("--time-scale={scale}"))
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{scale}: {err}");
        assert!(err.contains("--time-scale"), "{scale}: {err}");
        assert!(!err.contains("panicked"), "{scale}: {err}");
        assert!(
            !stdout(&out).contains("acknowledged"),
            "{scale}: sent anyway"
        );
    }
}
