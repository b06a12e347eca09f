//! The table: scenarios of one or more deliveries, each with the answer a
//! sender must get and how many times the handler runs.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hookgate::testing;
use time::OffsetDateTime;

use crate::handler::Handler;
use crate::wire::Reply;
use crate::{now, Sender, DEADLINE, LIMIT, OLD_SECRET, SECRET};

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

/// One delivery and the answer it must get.
#[derive(Debug, Clone)]
pub struct Case {
    /// What the step shows.
    pub name: String,
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
    /// The exact `error` field of hookgate's JSON body, for its own answers.
    pub error: Option<String>,
    /// The expected `hookgate-dedupe` header.
    pub marker: Option<&'static str>,
    /// Whether a `Retry-After` header must be sent.
    pub retry_after: bool,
    /// How many times the handler is entered for this step.
    pub calls: usize,
    /// Send it without waiting, and go on with the next step.
    pub background: bool,
}

/// A named sequence of deliveries (a sender's retries, duplicates, ...).
#[derive(Debug, Clone)]
pub struct Scenario {
    /// What the scenario shows, as a sentence.
    pub name: &'static str,
    /// The deliveries, in order.
    pub steps: Vec<Case>,
}

/// An AEXO envelope with event id `id` at `created_at`, padded in
/// `data.note` to `size` bytes when `size` is given.
pub fn aexo_body(id: &str, event: &str, created_at: OffsetDateTime, size: Option<usize>) -> Bytes {
    let make = |note: String| {
        testing::aexo_body_at(
            id,
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
    testing::sign(sender.scheme(), secret, body)
        .into_iter()
        .next()
        .map(|(_, v)| v.into_bytes())
        .unwrap_or_default()
}

fn header(sender: Sender, value: Vec<u8>) -> Vec<(String, Vec<u8>)> {
    vec![(sender.scheme().signature_header().to_owned(), value)]
}

/// A delivery of event `id` to one of the [`OTHER_SENDERS`](crate::OTHER_SENDERS),
/// as its sender signs it with `secret`, ten seconds before the servers'
/// "now" (inside every window, Linear's 60 s included).
pub fn delivered(name: &str, sender: Sender, id: &str, secret: &str) -> Case {
    let scheme = sender.scheme();
    let at = now() - time::Duration::seconds(10);
    let body = if scheme.name() == "twilio" {
        // Twilio posts forms.
        format!("MessageSid={id}&From=%2B14155550100&N=1").into_bytes()
    } else {
        testing::sample_body(
            scheme,
            id,
            "thing.happened",
            serde_json::json!({"n": 1}),
            at,
        )
    };
    let url = sender.public_url();
    let mut input = hookgate::scheme::SignInput::new(&body);
    input.timestamp = std::time::SystemTime::from(at);
    input.id = Some(id);
    input.event = Some("thing.happened");
    input.url = url.as_deref();
    let headers = testing::sign_input(scheme, secret, &input)
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v.into_bytes()))
        .collect();
    Case::accepted(name, sender, headers, Bytes::from(body))
}

/// The same scenarios for each of the other built-in senders: accepted
/// once, its retry a duplicate; a failed handler's event processed on the
/// retry (senders with an id); another secret and a changed byte refused.
fn other_senders() -> Vec<Scenario> {
    let bad = "signature does not match";
    let mut all = Vec::new();
    for (name, _) in crate::OTHER_SENDERS {
        let sender = Sender::Other(name);
        let secret = crate::signing_secret(sender);
        let leak = |text: String| -> &'static str { Box::leak(text.into_boxed_str()) };
        let good = delivered("delivered", sender, &format!("wh_{name}_1"), secret);
        all.push(scenario(
            leak(format!(
                "a valid {name} delivery is accepted, and its retry is a duplicate"
            )),
            vec![
                good.clone(),
                delivered("retry", sender, &format!("wh_{name}_1"), secret).duplicate(),
            ],
        ));
        if sender.scheme().envelope().id.is_some() {
            let id = format!("wh_fail_once_{name}");
            all.push(scenario(
                leak(format!(
                    "a {name} event whose handler fails is processed on its retry"
                )),
                vec![
                    delivered("fails", sender, &id, secret).answered(500, 1),
                    delivered("retry", sender, &id, secret),
                    delivered("again", sender, &id, secret).duplicate(),
                ],
            ));
        }
        let forged = delivered(
            "another secret",
            sender,
            &format!("wh_{name}_2"),
            crate::wrong_secret(sender),
        );
        all.push(forged.rejected(401, bad).alone_named(leak(format!(
            "a {name} delivery signed with another secret is refused"
        ))));
        let mut changed = delivered("changed", sender, &format!("wh_{name}_3"), secret);
        let mut body = changed.body.to_vec();
        if let Some(at) = body.windows(2).rposition(|w| w == b"=1" || w == b":1") {
            body[at + 1] = b'2';
        }
        changed.body = Bytes::from(body);
        all.push(changed.rejected(401, bad).alone_named(leak(format!(
            "a {name} delivery with a changed byte is refused"
        ))));
    }
    all
}

impl Case {
    fn alone_named(self, name: &'static str) -> Scenario {
        Scenario {
            name,
            steps: vec![self],
        }
    }

    /// A delivery with these headers, expected to be handled once (200).
    fn accepted(name: &str, sender: Sender, headers: Vec<(String, Vec<u8>)>, body: Bytes) -> Self {
        Self {
            name: name.to_owned(),
            headers,
            sender,
            body,
            framing: Framing::Length,
            status: 200,
            error: None,
            marker: None,
            retry_after: false,
            calls: 1,
            background: false,
        }
    }

    fn signed(name: &str, sender: Sender, body: Bytes) -> Self {
        let headers = header(sender, sig(sender, SECRET, &body));
        Self::accepted(name, sender, headers, body)
    }

    fn with_signature(mut self, value: impl Into<Vec<u8>>) -> Self {
        self.headers = header(self.sender, value.into());
        self
    }

    fn framing(mut self, framing: Framing) -> Self {
        self.framing = framing;
        self
    }

    fn rejected(mut self, status: u16, error: &str) -> Self {
        self.status = status;
        self.error = Some(error.to_owned());
        self.calls = 0;
        self
    }

    fn answered(mut self, status: u16, calls: usize) -> Self {
        self.status = status;
        self.calls = calls;
        self
    }

    fn hookgate_error(mut self, error: &str) -> Self {
        self.error = Some(error.to_owned());
        self
    }

    fn duplicate(mut self) -> Self {
        self.marker = Some("duplicate");
        self.error = None;
        self.calls = 0;
        self
    }

    fn retry_after(mut self) -> Self {
        self.retry_after = true;
        self
    }

    fn in_background(mut self) -> Self {
        self.background = true;
        self
    }

    fn alone(self) -> Scenario {
        Scenario {
            name: Box::leak(self.name.clone().into_boxed_str()),
            steps: vec![self],
        }
    }

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
}

fn scenario(name: &'static str, steps: Vec<Case>) -> Scenario {
    Scenario { name, steps }
}

/// Every scenario. Rejection messages are the exact public `error` strings.
pub fn scenarios() -> Vec<Scenario> {
    use Sender::{Aexo as A, Axifi as X};
    let t = now() - time::Duration::minutes(10);
    let aexo = |id: &str| aexo_body(id, "dataset.refreshed", t, None);
    let good = aexo("wh_01HXYZ123456789");
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
    let not_envelope = "body is signed but is not a valid event envelope";
    let at_limit = |id: &str| aexo_body(id, "dataset.refreshed", t, Some(LIMIT));

    let mut all: Vec<Scenario> = vec![
        Case::signed("a valid AEXO delivery is accepted", A, good.clone()).alone(),
        Case::signed("a valid AXIFI delivery is accepted", X, good_x.clone()).alone(),
        Case::signed(
            "a body exactly at the limit is accepted",
            A,
            at_limit("wh_limit_1"),
        )
        .alone(),
        Case::signed(
            "a body exactly at the limit is accepted when chunked",
            A,
            at_limit("wh_limit_2"),
        )
        .framing(Framing::Chunked)
        .alone(),
        Case::signed(
            "a delivery signed with the previous secret is accepted during rotation",
            A,
            aexo("wh_rotated"),
        )
        .with_signature(sig(A, OLD_SECRET, &aexo("wh_rotated")))
        .alone(),
        Case::signed(
            "an unknown AEXO event type reaches the handler",
            A,
            aexo_body("wh_unknown", "dataset.archived", t, None),
        )
        .alone(),
        Case::signed(
            "an unknown AXIFI event type reaches the handler",
            X,
            axifi_body("compound.retired", t),
        )
        .alone(),
        Case::signed("uppercase hex is accepted", A, aexo("wh_upper"))
            .with_signature(
                String::from_utf8_lossy(&sig(A, SECRET, &aexo("wh_upper"))).to_uppercase(),
            )
            .alone(),
        Case::signed(
            "a timestamp within the clock allowance ahead is accepted",
            A,
            aexo_body(
                "wh_ahead",
                "key.created",
                now() + time::Duration::minutes(4),
                None,
            ),
        )
        .alone(),
        Case::signed(
            "a body with one byte changed is rejected",
            A,
            Bytes::from(tampered),
        )
        .with_signature(good_sig.clone())
        .rejected(401, bad)
        .alone(),
        Case::signed(
            "a delivery signed with a wrong secret is rejected",
            A,
            good.clone(),
        )
        .with_signature(sig(A, "whsec_attacker_guess", &good))
        .rejected(401, bad)
        .alone(),
        Case {
            headers: vec![],
            ..Case::signed(
                "a delivery without a signature header is rejected",
                A,
                good.clone(),
            )
        }
        .rejected(401, missing)
        .alone(),
        Case::signed("an empty signature header is rejected", A, good.clone())
            .with_signature("")
            .rejected(401, malformed)
            .alone(),
        Case::signed(
            "sha256= with nothing after it is rejected",
            X,
            good_x.clone(),
        )
        .with_signature("sha256=")
        .rejected(401, malformed)
        .alone(),
        Case::signed(
            "the AXIFI prefix on the AEXO header is rejected",
            A,
            good.clone(),
        )
        .with_signature([b"sha256=".as_slice(), &good_sig].concat())
        .rejected(401, malformed)
        .alone(),
        Case::signed(
            "AXIFI bare hex without its prefix is rejected",
            X,
            good_x.clone(),
        )
        .with_signature(sig(A, SECRET, &good_x))
        .rejected(401, malformed)
        .alone(),
        Case::signed("odd-length hex is rejected", A, good.clone())
            .with_signature(&good_sig[..63])
            .rejected(401, malformed)
            .alone(),
        Case::signed("non-hex characters are rejected", A, good.clone())
            .with_signature([&good_sig[..62], b"zz".as_slice()].concat())
            .rejected(401, malformed)
            .alone(),
        Case::signed("a truncated signature is rejected", A, good.clone())
            .with_signature(&good_sig[..32])
            .rejected(401, malformed)
            .alone(),
        Case::signed(
            "a signature of the empty body sent with a body is rejected",
            A,
            good.clone(),
        )
        .with_signature(sig(A, SECRET, b""))
        .rejected(401, bad)
        .alone(),
        Case {
            headers: vec![
                ("x-aexo-signature".into(), good_sig.clone()),
                ("x-aexo-signature".into(), good_sig.clone()),
            ],
            ..Case::signed("two signature headers are rejected", A, good.clone())
        }
        .rejected(401, "more than one signature header")
        .alone(),
        Case::signed("a non-UTF-8 signature header is rejected", A, good.clone())
            .with_signature(vec![0xff; 64])
            .rejected(401, malformed)
            .alone(),
        Case::signed(
            "a body one byte over the limit is rejected by Content-Length",
            A,
            aexo_body("wh_over", "dataset.refreshed", t, Some(LIMIT + 1)),
        )
        .rejected(413, &limit_msg)
        .alone(),
        Case::signed(
            "a chunked body one byte over the limit is rejected while reading",
            A,
            aexo_body("wh_over", "dataset.refreshed", t, Some(LIMIT + 1)),
        )
        .framing(Framing::Chunked)
        .rejected(413, &limit_msg)
        .alone(),
        Case::signed(
            "a body that stalls past the read timeout is rejected",
            A,
            good.clone(),
        )
        .framing(Framing::Stall)
        .rejected(408, "body was not received within the read timeout")
        .alone(),
        Case::signed(
            "a stale timestamp is rejected",
            A,
            aexo_body(
                "wh_stale",
                "dataset.refreshed",
                now() - time::Duration::hours(4),
                None,
            ),
        )
        .rejected(401, "signed timestamp is older than the freshness window")
        .alone(),
        Case::signed(
            "a timestamp from the future is rejected",
            A,
            aexo_body(
                "wh_future",
                "dataset.refreshed",
                now() + time::Duration::minutes(30),
                None,
            ),
        )
        .rejected(401, "signed timestamp is in the future")
        .alone(),
        Case::signed(
            "a signed body that is not an envelope is rejected",
            A,
            Bytes::from_static(b"{\"hello\":\"world\"}"),
        )
        .rejected(400, not_envelope)
        .alone(),
        Case::signed(
            "a known event whose data does not match its type is rejected",
            X,
            Bytes::from(testing::axifi_body_at(
                "compound.created",
                serde_json::json!({"id": 5}),
                t,
            )),
        )
        .rejected(400, "event data does not match the expected type")
        .alone(),
    ];

    let step = |name: &str, sender: Sender, body: &Bytes| Case::signed(name, sender, body.clone());
    all.push(scenario(
        "an empty event id is rejected with 400, as a missing one is, and is no dedupe key",
        vec![
            step("one event", A, &aexo("")).rejected(400, not_envelope),
            step("another event", A, &aexo_body("", "key.created", t, None))
                .rejected(400, not_envelope),
            step("the first again", A, &aexo("")).rejected(400, not_envelope),
        ],
    ));
    let dup = aexo("wh_dup_1");
    let busy = aexo("wh_busy_1");
    let failing = aexo("wh_fail_once_1");
    let panicking = aexo("wh_panic_once_1");
    let slow = aexo("wh_slow_once_1");
    let x_dup = axifi_body("compound.created", t - time::Duration::minutes(1));
    all.extend([
        scenario(
            "a duplicate of a processed event is answered 200 with the marker, without the handler",
            vec![
                step("first", A, &dup),
                step("again", A, &dup).duplicate(),
                step("and again", A, &dup).duplicate(),
            ],
        ),
        scenario(
            "AXIFI duplicates are recognised by the body's hash",
            vec![
                step("first", X, &x_dup),
                step("again", X, &x_dup).duplicate(),
            ],
        ),
        scenario(
            "a duplicate of an event in flight gets 409 with Retry-After",
            vec![
                step("first, slow", A, &busy).in_background(),
                Case {
                    marker: Some("in-flight"),
                    ..step("while it runs", A, &busy)
                }
                .answered(409, 0)
                .hookgate_error("this event is being processed; retry later")
                .retry_after(),
            ],
        ),
        scenario(
            "a failing handler's event is not acknowledged, and the retry is processed",
            vec![
                step("fails", A, &failing).answered(500, 1),
                step("retry", A, &failing),
                step("again", A, &failing).duplicate(),
            ],
        ),
        scenario(
            "a panicking handler is answered 500, and the retry is processed",
            vec![
                step("panics", A, &panicking)
                    .answered(500, 1)
                    .hookgate_error("handler failed"),
                step("retry", A, &panicking),
            ],
        ),
        scenario(
            "a handler past the deadline gets 503 with Retry-After, and the retry is processed",
            vec![
                step("too slow", A, &slow)
                    .answered(503, 1)
                    .hookgate_error("handler did not answer in time; retry later")
                    .retry_after(),
                step("retry", A, &slow),
                step("again", A, &slow).duplicate(),
            ],
        ),
    ]);
    all.extend(other_senders());
    all
}

/// Checks one reply against its case; returns what differs.
pub fn check(case: &Case, reply: &Reply) -> Result<(), String> {
    let mut problems = Vec::new();
    if reply.status != case.status {
        problems.push(format!("status {}, expected {}", reply.status, case.status));
    }
    if let Some(expected) = &case.error {
        if reply.json()["error"] != expected.as_str() {
            problems.push(format!(
                "body {:?}, expected error {expected:?}",
                String::from_utf8_lossy(&reply.body)
            ));
        }
    }
    if reply.header("hookgate-dedupe") != case.marker {
        problems.push(format!(
            "hookgate-dedupe {:?}, expected {:?}",
            reply.header("hookgate-dedupe"),
            case.marker
        ));
    }
    if reply.header("retry-after").is_some() != case.retry_after {
        problems.push(format!("retry-after {:?}", reply.header("retry-after")));
    }
    let text = String::from_utf8_lossy(&reply.body);
    if text.contains(SECRET) || text.contains(OLD_SECRET) {
        problems.push("the body echoes a secret".into());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{}: {}", case.name, problems.join("; ")))
    }
}

/// Sends one case to a server under test.
pub type SendFn = Arc<dyn Fn(Case) -> Pin<Box<dyn Future<Output = Reply> + Send>> + Send + Sync>;

/// Every step's reply, in table order, for comparing adapters.
#[derive(Debug, Default)]
pub struct Run {
    /// `(scenario, step, reply)` for each step.
    pub replies: Vec<(String, Reply)>,
    /// `(scenario, handler calls)`.
    pub calls: Vec<(String, usize)>,
    /// Everything that differed from the table.
    pub failures: Vec<String>,
}

/// Runs every scenario through `send` against a server whose handler is
/// `handler`, checking each reply and each scenario's handler calls.
pub async fn run(send: SendFn, handler: &Handler) -> Run {
    let mut run = Run::default();
    for sc in scenarios() {
        let before = handler.calls();
        let mut background = Vec::new();
        for case in &sc.steps {
            let label = format!("{} / {}", sc.name, case.name);
            if case.background {
                // Go on once the background delivery is inside the handler.
                let entered = handler.calls();
                background.push((label, case.clone(), tokio::spawn(send(case.clone()))));
                let waiting = tokio::time::Instant::now();
                while handler.calls() == entered && waiting.elapsed() < DEADLINE {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                continue;
            }
            let reply = send(case.clone()).await;
            if let Err(e) = check(case, &reply) {
                run.failures.push(format!("{}: {e}", sc.name));
            }
            run.replies.push((label, reply));
            // A sender's retry comes later than at once; let a released claim settle.
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        for (label, case, task) in background {
            let reply = task.await.expect("background step");
            if let Err(e) = check(&case, &reply) {
                run.failures.push(format!("{}: {e}", sc.name));
            }
            run.replies.push((label, reply));
        }
        let calls = handler.calls() - before;
        let expected: usize = sc.steps.iter().map(|c| c.calls).sum();
        if calls != expected {
            run.failures.push(format!(
                "{}: handler entered {calls} times, expected {expected}",
                sc.name
            ));
        }
        run.calls.push((sc.name.to_owned(), calls));
    }
    run
}
