//! Every built-in sender against the vectors its own SDK tests or docs
//! publish (`tests/vectors/senders.json`: each vector names the
//! repository, file and commit it was transcribed from). Where a sender's
//! tests compute the signature at run time (Stripe, Linear), the vector's
//! `derived` flag is set: the inputs are the SDK test's, the signature was
//! computed with Python's `hmac` module, independently of this crate.
//! Discord and Zoom publish none: their vectors are signed with Python's
//! `cryptography` and `hmac` as their docs describe, and say so.
//!
//! Each vector is checked at its own time through the verifier's clock,
//! and each valid one that signs a timestamp is refused at today's time as
//! stale.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hookgate::scheme::{self, Scheme, Source};
use hookgate::{Clock, ManualClock, Rejection, Secrets, Verifier};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Vector {
    sender: String,
    source: Source_,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    additional_secrets: Vec<String>,
    /// For ed25519 schemes: the key a receiver configures.
    public_key: Option<String>,
    #[serde(default)]
    body: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// The URL the sender called, for schemes that sign it.
    url: Option<String>,
    /// How twilio's SDK signs (`form`, `form_dedupe`, `json`).
    twilio_mode: Option<String>,
    timestamp: Option<i64>,
    now: Option<u64>,
    tolerance: Option<u64>,
    expect: String,
    #[serde(default)]
    derived: bool,
    note: String,
}

#[derive(Debug, Deserialize)]
struct Source_ {
    repo: Option<String>,
    path: Option<String>,
    url: Option<String>,
}

fn vectors() -> Vec<Vector> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/senders.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The scheme a vector's sender uses, or `None` for senders whose scheme
/// is not built yet (named in [`NOT_YET`]).
fn scheme_of(sender: &str) -> Option<Arc<dyn Scheme>> {
    let name = match sender {
        "standard-webhooks-v1" | "standard-webhooks-v1a" => "standard-webhooks",
        other => other,
    };
    scheme::builtin(name)
}

/// Senders in the file whose schemes are still to come. When one is
/// built, it leaves this list, and this test then checks its vectors.
const NOT_YET: &[&str] = &[];

/// Vectors of one SDK that another of the same sender contradicts, and the
/// behaviour hookgate follows instead.
fn contradicted(v: &Vector) -> Option<&'static str> {
    (v.twilio_mode.as_deref() == Some("form_dedupe")).then_some(
        "twilio-node drops repeated identical parameter values before signing; \
         twilio-python (the validator hookgate follows) keeps them",
    )
}

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

struct Case<'v> {
    v: &'v Vector,
    scheme: Arc<dyn Scheme>,
    headers: Vec<(String, String)>,
    body: Bytes,
}

impl Case<'_> {
    /// The URL's part before the query (the route's public URL) and its query.
    fn url(&self) -> (Option<&str>, Option<&str>) {
        match self
            .v
            .url
            .as_deref()
            .map(|u| u.split_once('?').unwrap_or((u, "")))
        {
            Some((base, "")) => (Some(base), None),
            Some((base, query)) => (Some(base), Some(query)),
            None => (None, None),
        }
    }

    fn verifier(&self, clock: &ManualClock) -> Verifier {
        // An ed25519 route is configured with the sender's public key.
        let first = self.v.public_key.as_ref().unwrap_or(&self.v.secret);
        let secrets = Secrets::new(std::iter::once(first).chain(&self.v.additional_secrets));
        let built = match self.url().0 {
            Some(base) => Verifier::with_public_url(self.scheme.clone(), secrets.unwrap(), base),
            None => Verifier::new(self.scheme.clone(), secrets.unwrap()),
        };
        let mut verifier = built.unwrap().clock(clock.clone());
        if let Some(tolerance) = self.v.tolerance {
            // The SDK test's own tolerance, both ways, as it sets it.
            let tolerance = Duration::from_secs(tolerance);
            verifier = verifier.freshness(tolerance).max_future_skew(tolerance);
        }
        verifier
    }

    /// Whether the scheme reads its timestamp from the body (Linear).
    fn body_timestamp(&self) -> bool {
        self.scheme.envelope().timestamp.is_some()
    }

    /// Checks the vector at `now`: the signature and the signed timestamp.
    /// For a scheme whose timestamp is in the body, the whole delivery is
    /// verified, with the scheme's id header added (not signed) when the
    /// vector has none.
    fn check(&self, clock: &ManualClock) -> Result<Option<SystemTime>, Rejection> {
        let verifier = self.verifier(clock);
        let query = self.url().1;
        if !self.body_timestamp() {
            return verifier
                .authenticate_request(&self.headers, query, &self.body, clock.now())
                .map(|m| m.timestamp);
        }
        let mut headers = self.headers.clone();
        if let Some(scheme::Field {
            source: Source::Header(name),
            ..
        }) = self.scheme.envelope().id
        {
            if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                headers.push((name.to_owned(), "kat-delivery".to_owned()));
            }
        }
        verifier
            .verify_request(&headers, query, self.body.clone(), clock.now())
            .map(|event| event.timestamp().map(SystemTime::from))
    }
}

#[test]
fn every_built_in_sender_passes_its_own_published_vectors() {
    let vectors = vectors();
    let mut checked: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut pending = std::collections::BTreeSet::new();
    let mut contradictions = Vec::new();
    for v in &vectors {
        assert!(
            v.source.url.is_some() || (v.source.repo.is_some() && v.source.path.is_some()),
            "every vector names its source: {v:?}"
        );
        // Svix in its unbranded mode sends Standard Webhooks' own header
        // names; a route receiving those is a `standard-webhooks` route.
        let unbranded = v.sender == "svix" && v.headers.contains_key("webhook-signature");
        let sender = if unbranded {
            "standard-webhooks-v1"
        } else {
            &v.sender
        };
        let Some(scheme) = scheme_of(sender) else {
            pending.insert(v.sender.as_str());
            continue;
        };
        if let Some(why) = contradicted(v) {
            contradictions.push((v.note.as_str(), why));
            continue;
        }
        let case = Case {
            v,
            scheme,
            headers: v
                .headers
                .iter()
                .map(|(n, x)| (n.to_ascii_lowercase(), x.clone()))
                .collect(),
            body: Bytes::from(v.body.clone().into_bytes()),
        };
        // The vector's own time: its `now`, else its signed timestamp, else
        // today (senders that sign no timestamp).
        let own_time = v
            .now
            .or(v.timestamp.and_then(|t| u64::try_from(t).ok()))
            .map(at)
            .unwrap_or_else(SystemTime::now);
        let clock = ManualClock::new(own_time);
        let got = case.check(&clock);
        let what = format!(
            "{} {} ({}{}): {}",
            v.sender,
            v.expect,
            v.source
                .path
                .as_deref()
                .or(v.source.url.as_deref())
                .unwrap_or(""),
            if v.derived { ", derived" } else { "" },
            v.note
        );
        let counts = checked.entry(v.sender.as_str()).or_default();
        match v.expect.as_str() {
            "valid" => {
                let signed = got.unwrap_or_else(|e| panic!("{what}: refused with {e:?}"));
                counts.0 += 1;
                if signed.is_some() {
                    // Years old today: stale, not accepted forever.
                    clock.set(SystemTime::now());
                    assert_eq!(case.check(&clock).unwrap_err(), Rejection::Stale, "{what}");
                }
            }
            expect => {
                counts.1 += 1;
                let err = got.expect_err(&what);
                // A stale vector whose signature matches is refused as
                // stale; one whose signature does not, as a bad signature
                // (the signature is checked first).
                let signature_ok = case
                    .verifier(&clock)
                    .verify_signature_with_query(&case.headers, case.url().1, &case.body)
                    .is_ok();
                let allowed: &[Rejection] = match expect {
                    "invalid:signature" | "invalid:missing_body" | "invalid:body_hash" => {
                        &[Rejection::BadSignature, Rejection::MalformedSignature]
                    }
                    "invalid:timestamp_too_old" if signature_ok => &[Rejection::Stale],
                    "invalid:timestamp_too_old" => &[Rejection::BadSignature],
                    "invalid:timestamp_too_new" => &[Rejection::FromFuture],
                    "invalid:timestamp_unparseable"
                    | "invalid:timestamp_negative"
                    | "invalid:malformed_header"
                    | "invalid:no_v1_scheme" => &[Rejection::MalformedSignature],
                    e if e.starts_with("invalid:missing_header:") => {
                        // Absent is missing; present but empty is malformed.
                        &[Rejection::MissingSignature, Rejection::MalformedSignature]
                    }
                    other => panic!("{what}: unknown expectation {other}"),
                };
                assert!(
                    allowed.contains(&err),
                    "{what}: got {err:?}, want one of {allowed:?}"
                );
            }
        }
    }
    assert_eq!(
        pending.into_iter().collect::<Vec<&str>>(),
        NOT_YET,
        "senders in the vector file without a built-in scheme"
    );
    assert_eq!(contradictions.len(), 1, "{contradictions:?}");
    for sender in [
        "standard-webhooks-v1",
        "standard-webhooks-v1a",
        "discord",
        "svix",
        "github",
        "stripe",
        "slack",
        "shopify",
        "paddle",
        "linear",
        "square",
        "twilio",
        "zoom",
    ] {
        let (valid, invalid) = checked.get(sender).copied().unwrap_or_default();
        assert!(
            valid >= 1 && invalid >= 1,
            "{sender}: {valid} valid and {invalid} invalid vectors checked"
        );
    }
}

#[test]
fn the_public_keys_are_the_ones_of_the_published_signing_keys() {
    // The v1a vectors publish the signing seed; the public key in the file
    // was derived from it with Python. The crate derives the same one.
    for v in vectors().iter().filter(|v| v.public_key.is_some()) {
        let scheme = scheme_of(&v.sender).unwrap();
        let signing = match v.sender.as_str() {
            "standard-webhooks-v1a" if !v.secret.starts_with("whsk_") => {
                format!("whsk_{}", v.secret)
            }
            _ => v.secret.clone(),
        };
        if v.secret.is_empty() {
            continue;
        }
        assert_eq!(
            hookgate::testing::verifying_secret(&*scheme, &signing).as_deref(),
            v.public_key.as_deref(),
            "{}: {}",
            v.sender,
            v.note
        );
    }
}

#[test]
fn the_github_docs_vector_is_the_one_github_publishes() {
    // docs.github.com "Validating webhook deliveries", the example under
    // "Testing the webhook payload validation".
    let v = Verifier::new(
        scheme::GitHub,
        Secrets::single("It's a Secret to Everybody").unwrap(),
    )
    .unwrap();
    let headers = vec![(
        "x-hub-signature-256",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    )];
    assert!(v.verify_signature(&headers, b"Hello, World!").is_ok());
    assert_eq!(
        v.verify_signature(&headers, b"Hello, World?").unwrap_err(),
        Rejection::BadSignature
    );
}

#[test]
fn signing_reproduces_the_published_signatures() {
    // Standard Webhooks' `sign` known answer (libraries/python/tests/
    // test_webhooks.py, test_sign_function, and the same in go, js, php).
    let secret = b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let mut input = scheme::SignInput::new(br#"{"test": 2432232314}"#);
    input.id = Some("msg_p5jXN8AQM9LWM0D4loKWxJek");
    input.timestamp = at(1_614_265_330);
    let headers = scheme::StandardWebhooks::V1.sign(secret, &input).unwrap();
    assert!(headers.contains(&(
        "webhook-signature",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".to_owned()
    )));
    // The asymmetric one (libraries/go/webhook_asymmetric_test.go,
    // TestAsymmetricWebhookSign): ed25519 signatures are deterministic.
    let headers = scheme::StandardWebhooks::V1
        .sign(b"whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=", &input)
        .unwrap();
    assert!(
        headers.contains(&(
        "webhook-signature",
        "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag=="
            .to_owned()
        )),
        "{headers:?}"
    );
    // Shopify's validate test (shopify-app-js, validate.test.ts).
    let shopify = scheme::Shopify
        .sign(
            b"test_secret_key",
            &scheme::SignInput::new(br#"{"foo": "bar"}"#),
        )
        .unwrap();
    assert!(shopify.contains(&(
        "x-shopify-hmac-sha256",
        "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g=".to_owned()
    )));
    // Slack's documented example (python-slack-sdk's signature test).
    let body = vectors()
        .into_iter()
        .find(|v| v.sender == "slack" && v.expect == "valid")
        .unwrap()
        .body;
    let mut input = scheme::SignInput::new(body.as_bytes());
    input.timestamp = at(1_531_420_618);
    let slack = scheme::Slack
        .sign(b"8f742231b10e8888abcd99yyyzzz85a5", &input)
        .unwrap();
    assert!(slack.contains(&(
        "x-slack-signature",
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503".to_owned()
    )));
}
