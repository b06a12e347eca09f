//! The conformance table: every acceptance and rejection hookgate promises,
//! as data, with a raw HTTP/1.1 client to send each case to a real server
//! on 127.0.0.1 and a converter to send it with `oneshot`.
//!
//! A case added to [`cases`] runs against every adapter's test.

// Test support: a broken fixture should stop the test run loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hookgate::scheme::{Aexo, Axifi, Scheme};
use hookgate::{testing, ManualClock, Secrets, Verifier};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub mod redis_server;

/// The current secret of both test routes.
pub const SECRET: &str = "whsec_conformance_current";
/// The previous secret, still accepted on the AEXO route (rotation).
pub const OLD_SECRET: &str = "whsec_conformance_previous";
/// The body limit of both test routes.
pub const LIMIT: usize = 2048;
/// The body read timeout of both test routes.
pub const READ_TIMEOUT: Duration = Duration::from_millis(300);
/// Path of the AEXO route.
pub const AEXO_PATH: &str = "/webhooks/aexo";
/// Path of the AXIFI route.
pub const AXIFI_PATH: &str = "/webhooks/axifi";

/// The servers' "now": ten minutes after the AEXO seed's `created_at`.
pub fn now() -> OffsetDateTime {
    time::macros::datetime!(2026-05-17 08:40:00 UTC)
}

/// The clock every test server uses.
pub fn clock() -> ManualClock {
    ManualClock::new(SystemTime::from(now()))
}

/// The verifier for a route: current + previous secret on AEXO, the body
/// limit, the read timeout and the fixed clock.
pub fn verifier(sender: Sender) -> Verifier {
    let base = match sender {
        Sender::Aexo => Verifier::new(Aexo, Secrets::new([SECRET, OLD_SECRET]).expect("secrets")),
        Sender::Axifi => Verifier::new(Axifi, Secrets::new([SECRET]).expect("secrets")),
    };
    base.max_body_bytes(LIMIT)
        .read_timeout(READ_TIMEOUT)
        .clock(clock())
}

/// Which test route a case goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// `/webhooks/aexo`, handler takes `Webhook<AexoEvent>`.
    Aexo,
    /// `/webhooks/axifi`, handler takes `Webhook<AxifiEvent>`.
    Axifi,
}

impl Sender {
    /// The route's path.
    pub fn path(self) -> &'static str {
        match self {
            Sender::Aexo => AEXO_PATH,
            Sender::Axifi => AXIFI_PATH,
        }
    }

    fn scheme(self) -> &'static dyn Scheme {
        match self {
            Sender::Aexo => &Aexo,
            Sender::Axifi => &Axifi,
        }
    }
}

/// How the body is framed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length` and the whole body.
    Length,
    /// `Transfer-Encoding: chunked`, no `Content-Length`, in 512-byte chunks.
    Chunked,
    /// `Content-Length` of the whole body, then only half of it, then silence.
    Stall,
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Case {
    /// What the row shows, as a sentence.
    pub name: &'static str,
    /// The route.
    pub sender: Sender,
    /// Header lines (name, raw value bytes), signature headers included.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body bytes.
    pub body: Bytes,
    /// The framing.
    pub framing: Framing,
    /// The status the sender must see.
    pub status: u16,
    /// The `error` field of the JSON body, for rejections.
    pub error: Option<String>,
    /// Whether the handler runs.
    pub handled: bool,
}

/// An AEXO envelope at `created_at`, padded in `data.note` to `size` bytes
/// when `size` is given.
pub fn aexo_body(event: &str, created_at: OffsetDateTime, size: Option<usize>) -> Bytes {
    let make = |note: String| {
        testing::aexo_body_at(
            "wh_01HXYZ123456789",
            event,
            serde_json::json!({
                "dataset_name": "ny-verified-contractors", "records_updated": 847,
                "records_added": 203, "records_removed": 12, "refresh_cycle": "monthly",
                "note": note,
            }),
            created_at,
        )
    };
    let base = make(String::new());
    let body = match size {
        Some(size) => make("x".repeat(size.saturating_sub(base.len()))),
        None => base,
    };
    if let Some(size) = size {
        assert_eq!(body.len(), size, "padding");
    }
    Bytes::from(body)
}

/// The AXIFI seed's event at `timestamp`.
pub fn axifi_body(event: &str, timestamp: OffsetDateTime) -> Bytes {
    Bytes::from(testing::axifi_body_at(
        event,
        serde_json::json!({"id": "compound-123", "name": "Aspirin", "category": "analgesic", "efficacy": 0.92}),
        timestamp,
    ))
}

fn sig(sender: Sender, secret: &str, body: &[u8]) -> Vec<u8> {
    let signed = testing::sign(sender.scheme(), secret, body);
    signed
        .into_iter()
        .next()
        .map(|(_, v)| v.into_bytes())
        .unwrap_or_default()
}

fn header(sender: Sender, value: Vec<u8>) -> Vec<(String, Vec<u8>)> {
    vec![(sender.scheme().signature_header().to_owned(), value)]
}

struct Row {
    name: &'static str,
    sender: Sender,
    body: Bytes,
    headers: Vec<(String, Vec<u8>)>,
    framing: Framing,
}

impl Row {
    fn signed(name: &'static str, sender: Sender, body: Bytes) -> Self {
        let headers = header(sender, sig(sender, SECRET, &body));
        Self {
            name,
            sender,
            body,
            headers,
            framing: Framing::Length,
        }
    }

    fn with_signature(mut self, value: impl Into<Vec<u8>>) -> Self {
        self.headers = header(self.sender, value.into());
        self
    }

    fn framing(mut self, framing: Framing) -> Self {
        self.framing = framing;
        self
    }

    fn accepted(self) -> Case {
        self.expect(200, None, true)
    }

    fn rejected(self, status: u16, error: &str) -> Case {
        self.expect(status, Some(error.to_owned()), false)
    }

    fn expect(self, status: u16, error: Option<String>, handled: bool) -> Case {
        Case {
            name: self.name,
            sender: self.sender,
            headers: self.headers,
            body: self.body,
            framing: self.framing,
            status,
            error,
            handled,
        }
    }
}

/// Every case. Rejection messages are the exact public `error` strings.
pub fn cases() -> Vec<Case> {
    use Sender::{Aexo as A, Axifi as X};
    let t = now() - time::Duration::minutes(10);
    let good = aexo_body("dataset.refreshed", t, None);
    let good_x = axifi_body("compound.created", t);
    let good_sig = sig(A, SECRET, &good);
    let mut tampered = good.to_vec();
    if let Some(b) = tampered.iter_mut().find(|b| **b == b'8') {
        *b = b'9'; // 847 -> 947 records
    }
    let limit_msg =
        format!("body exceeds the {LIMIT}-byte limit; the receiver can raise it (max_body_bytes)");
    let bad = "signature does not match";
    let malformed = "malformed signature header";
    let missing = "missing signature header";

    vec![
        Row::signed("a valid AEXO delivery is accepted", A, good.clone()).accepted(),
        Row::signed("a valid AXIFI delivery is accepted", X, good_x.clone()).accepted(),
        Row::signed(
            "a body exactly at the limit is accepted",
            A,
            aexo_body("dataset.refreshed", t, Some(LIMIT)),
        )
        .accepted(),
        Row::signed(
            "a body exactly at the limit is accepted when chunked",
            A,
            aexo_body("dataset.refreshed", t, Some(LIMIT)),
        )
        .framing(Framing::Chunked)
        .accepted(),
        Row::signed(
            "a delivery signed with the previous secret is accepted during rotation",
            A,
            good.clone(),
        )
        .with_signature(sig(A, OLD_SECRET, &good))
        .accepted(),
        Row::signed(
            "an unknown AEXO event type reaches the handler",
            A,
            aexo_body("dataset.archived", t, None),
        )
        .accepted(),
        Row::signed(
            "an unknown AXIFI event type reaches the handler",
            X,
            axifi_body("compound.retired", t),
        )
        .accepted(),
        Row::signed("uppercase hex is accepted", A, good.clone())
            .with_signature(String::from_utf8_lossy(&good_sig).to_uppercase())
            .accepted(),
        Row::signed(
            "a timestamp within the clock allowance ahead is accepted",
            A,
            aexo_body("key.created", now() + time::Duration::minutes(4), None),
        )
        .accepted(),
        Row::signed(
            "a body with one byte changed is rejected",
            A,
            Bytes::from(tampered),
        )
        .with_signature(good_sig.clone())
        .rejected(401, bad),
        Row::signed(
            "a delivery signed with a wrong secret is rejected",
            A,
            good.clone(),
        )
        .with_signature(sig(A, "whsec_attacker_guess", &good))
        .rejected(401, bad),
        Row {
            headers: vec![],
            ..Row::signed(
                "a delivery without a signature header is rejected",
                A,
                good.clone(),
            )
        }
        .rejected(401, missing),
        Row::signed("an empty signature header is rejected", A, good.clone())
            .with_signature("")
            .rejected(401, malformed),
        Row::signed(
            "sha256= with nothing after it is rejected",
            X,
            good_x.clone(),
        )
        .with_signature("sha256=")
        .rejected(401, malformed),
        Row::signed(
            "the AXIFI prefix on the AEXO header is rejected",
            A,
            good.clone(),
        )
        .with_signature([b"sha256=".as_slice(), &good_sig].concat())
        .rejected(401, malformed),
        Row::signed(
            "AXIFI bare hex without its prefix is rejected",
            X,
            good_x.clone(),
        )
        .with_signature(sig(A, SECRET, &good_x))
        .rejected(401, malformed),
        Row::signed("odd-length hex is rejected", A, good.clone())
            .with_signature(&good_sig[..63])
            .rejected(401, malformed),
        Row::signed("non-hex characters are rejected", A, good.clone())
            .with_signature([&good_sig[..62], b"zz".as_slice()].concat())
            .rejected(401, malformed),
        Row::signed("a truncated signature is rejected", A, good.clone())
            .with_signature(&good_sig[..32])
            .rejected(401, malformed),
        Row::signed(
            "a signature of the empty body sent with a body is rejected",
            A,
            good.clone(),
        )
        .with_signature(sig(A, SECRET, b""))
        .rejected(401, bad),
        Row {
            headers: vec![
                ("x-aexo-signature".into(), good_sig.clone()),
                ("x-aexo-signature".into(), good_sig.clone()),
            ],
            ..Row::signed("two signature headers are rejected", A, good.clone())
        }
        .rejected(401, "more than one signature header"),
        Row::signed("a non-UTF-8 signature header is rejected", A, good.clone())
            .with_signature(vec![0xff; 64])
            .rejected(401, malformed),
        Row::signed(
            "a body one byte over the limit is rejected by Content-Length",
            A,
            aexo_body("dataset.refreshed", t, Some(LIMIT + 1)),
        )
        .rejected(413, &limit_msg),
        Row::signed(
            "a chunked body one byte over the limit is rejected while reading",
            A,
            aexo_body("dataset.refreshed", t, Some(LIMIT + 1)),
        )
        .framing(Framing::Chunked)
        .rejected(413, &limit_msg),
        Row::signed(
            "a body that stalls past the read timeout is rejected",
            A,
            good.clone(),
        )
        .framing(Framing::Stall)
        .rejected(408, "body was not received within the read timeout"),
        Row::signed(
            "a stale timestamp is rejected",
            A,
            aexo_body("dataset.refreshed", now() - time::Duration::hours(4), None),
        )
        .rejected(401, "signed timestamp is older than the freshness window"),
        Row::signed(
            "a timestamp from the future is rejected",
            A,
            aexo_body(
                "dataset.refreshed",
                now() + time::Duration::minutes(30),
                None,
            ),
        )
        .rejected(401, "signed timestamp is in the future"),
        Row::signed(
            "a signed body that is not an envelope is rejected",
            A,
            Bytes::from_static(b"{\"hello\":\"world\"}"),
        )
        .rejected(400, "body is signed but is not a valid event envelope"),
        Row::signed(
            "a known event whose data does not match its type is rejected",
            X,
            Bytes::from(testing::axifi_body_at(
                "compound.created",
                serde_json::json!({"id": 5}),
                t,
            )),
        )
        .rejected(400, "event data does not match the expected type"),
    ]
}

impl Case {
    /// The case as an `http::Request` for `oneshot`, with a streaming body
    /// for the chunked and stalling framings.
    pub fn request<B>(&self, body: impl FnOnce(&Case) -> B) -> http::Request<B> {
        let mut req = http::Request::post(self.sender.path());
        for (name, value) in &self.headers {
            req = req.header(
                name.as_str(),
                http::HeaderValue::from_bytes(value).expect("header value"),
            );
        }
        req = req.header("content-type", "application/json");
        if self.framing != Framing::Chunked {
            req = req.header("content-length", self.body.len());
        }
        req.body(body(self)).expect("request")
    }

    /// Sends the case over a fresh TCP connection to `addr` and returns the
    /// status and body of the response.
    pub async fn send_raw(&self, addr: SocketAddr) -> (u16, Bytes) {
        let mut head = format!("POST {} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-type: application/json\r\n", self.sender.path()).into_bytes();
        for (name, value) in &self.headers {
            head.extend_from_slice(name.as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value);
            head.extend_from_slice(b"\r\n");
        }
        let mut wire = head;
        match self.framing {
            Framing::Length | Framing::Stall => {
                wire.extend_from_slice(
                    format!("content-length: {}\r\n\r\n", self.body.len()).as_bytes(),
                );
                let end = if self.framing == Framing::Stall {
                    self.body.len() / 2
                } else {
                    self.body.len()
                };
                wire.extend_from_slice(&self.body[..end]);
            }
            Framing::Chunked => {
                wire.extend_from_slice(b"transfer-encoding: chunked\r\n\r\n");
                for chunk in self.body.chunks(512) {
                    wire.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                    wire.extend_from_slice(chunk);
                    wire.extend_from_slice(b"\r\n");
                }
                wire.extend_from_slice(b"0\r\n\r\n");
            }
        }
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        // One write: the server may answer (413) before reading the body.
        let _ = stream.write_all(&wire).await;
        let reply = tokio::time::timeout(Duration::from_secs(10), read_response(&mut stream))
            .await
            .expect("response within 10 s");
        (reply.status, reply.body)
    }
}

/// A response read off the wire.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Header lines, names in lowercase.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
}

impl Reply {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }
}

/// Reads one HTTP/1.1 response (Content-Length or to EOF).
pub async fn read_response(stream: &mut TcpStream) -> Reply {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        let n = stream.read(&mut chunk).await.expect("read head");
        assert!(
            n > 0,
            "connection closed before a response: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers: Vec<(String, String)> = head
        .lines()
        .skip(1)
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        })
        .collect();
    let length = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let mut body = buf[head_end..].to_vec();
    loop {
        if length.is_some_and(|len| body.len() >= len) {
            break;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    Reply {
        status,
        headers,
        body: Bytes::from(body),
    }
}

/// POSTs `body` with `headers` to `addr` over a fresh connection.
pub async fn post(addr: SocketAddr, path: &str, headers: &[(&str, String)], body: &[u8]) -> Reply {
    let mut wire = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    )
    .into_bytes();
    for (name, value) in headers {
        wire.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    wire.extend_from_slice(b"\r\n");
    wire.extend_from_slice(body);
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let _ = stream.write_all(&wire).await;
    tokio::time::timeout(Duration::from_secs(20), read_response(&mut stream))
        .await
        .expect("response within 20 s")
}

/// POSTs a delivery signed for `sender` with `secret`.
pub async fn post_signed(addr: SocketAddr, sender: Sender, secret: &str, body: &[u8]) -> Reply {
    let headers = testing::sign(sender.scheme(), secret, body);
    post(addr, sender.path(), &headers, body).await
}

/// Checks a response against the case; returns a description of the mismatch.
pub fn check(case: &Case, status: u16, body: &[u8], handled_delta: usize) -> Result<(), String> {
    let mut problems = Vec::new();
    if status != case.status {
        problems.push(format!("status {status}, expected {}", case.status));
    }
    if let Some(expected) = &case.error {
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(v) if v["error"] == expected.as_str() => {}
            _ => problems.push(format!(
                "body {:?}, expected error {expected:?}",
                String::from_utf8_lossy(body)
            )),
        }
        for secret in [SECRET, OLD_SECRET] {
            if String::from_utf8_lossy(body).contains(secret) {
                problems.push("the body echoes a secret".into());
            }
        }
    }
    let expected_calls = usize::from(case.handled);
    if handled_delta != expected_calls {
        problems.push(format!(
            "handler ran {handled_delta} times, expected {expected_calls}"
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{}: {}", case.name, problems.join("; ")))
    }
}

/// The workspace README's Rust examples, compiled and run as doctests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
