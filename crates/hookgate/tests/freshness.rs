//! The freshness window both ways, for every scheme that signs a
//! timestamp (in a header, or in the signed body as Linear, AEXO and
//! AXIFI): each scheme's default window and future allowance are the ones
//! its docs call for, a delivery is accepted at its own time and at both
//! edges, refused as stale one second past the window and as from the
//! future one second past the allowance. Stripe's own libraries accept any
//! future timestamp; none of these schemes may.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hookgate::scheme::{
    self, Field, HmacScheme, Part, Scheme, SignInput, TimeFormat, TimestampSource,
};
use hookgate::{testing, Rejection, Secrets, Verifier};

/// When every delivery here is signed.
const SIGNED_AT: u64 = 1_800_000_000;

const MIN: u64 = 60;

/// A scheme with a signed timestamp: its route label, the scheme, the
/// secret its sender signs with, its default window and future allowance
/// in seconds.
struct Case {
    label: &'static str,
    scheme: Arc<dyn Scheme>,
    secret: &'static str,
    window: u64,
    future: u64,
}

fn builtin(label: &'static str, secret: &'static str, window: u64, future: u64) -> Case {
    Case {
        label,
        scheme: scheme::builtin(label).unwrap(),
        secret,
        window,
        future,
    }
}

/// A configured scheme with a header timestamp: `{ts}.{body}`.
fn acme() -> HmacScheme {
    HmacScheme::new("acme", "x-acme-signature")
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
}

fn cases() -> Vec<Case> {
    let sw = "whsec_c2VuZGVycy10ZXN0LWtleS0xMjM0NTY3ODkw";
    vec![
        // Standard Webhooks, Svix, Slack, Zoom: 5 minutes both ways.
        builtin("standard-webhooks", sw, 5 * MIN, 5 * MIN),
        builtin("svix", sw, 5 * MIN, 5 * MIN),
        Case {
            label: "standard-webhooks-v1a",
            ..builtin(
                "standard-webhooks",
                "whsk_c2VuZGVycy10ZXN0LXNlZWQtMDEyMzQ1Njc4OWFiY2Q=",
                5 * MIN,
                5 * MIN,
            )
        },
        builtin("slack", "slack-secret", 5 * MIN, 5 * MIN),
        builtin("zoom", "zoom-secret", 5 * MIN, 5 * MIN),
        // Stripe's tolerance is 300 s; hookgate applies it ahead as well.
        builtin("stripe", "whsec_stripe", 5 * MIN, 5 * MIN),
        builtin("paddle", "pdl_ntfset_secret", 5 * MIN, 5 * MIN),
        builtin("discord", DISCORD_SEED, 5 * MIN, 5 * MIN),
        // Linear: `webhookTimestamp` in the body, "within a minute".
        builtin("linear", "lin_wh_secret", MIN, MIN),
        // AEXO keeps its first timestamp across 2 h 37 min of retries;
        // AXIFI's window is a day.
        builtin("aexo", "aexo-secret", 3 * 60 * MIN, 5 * MIN),
        builtin("axifi", "axifi-secret", 24 * 60 * MIN, 5 * MIN),
        // A configured scheme: 5 minutes unless configured otherwise.
        Case {
            label: "acme",
            scheme: Arc::new(acme().build().unwrap()),
            secret: "acme-secret",
            window: 5 * MIN,
            future: 5 * MIN,
        },
        Case {
            label: "acme-configured",
            scheme: Arc::new(
                acme()
                    .freshness(Duration::from_secs(90))
                    .future_skew(Duration::from_secs(10))
                    .build()
                    .unwrap(),
            ),
            secret: "acme-secret",
            window: 90,
            future: 10,
        },
    ]
}

/// A Discord signing key's seed, in hex.
const DISCORD_SEED: &str = "1111111111111111111111111111111111111111111111111111111111111111";

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

impl Case {
    fn verifier(&self) -> Verifier {
        let key = testing::verifying_secret(&*self.scheme, self.secret).unwrap();
        Verifier::new(self.scheme.clone(), Secrets::single(key).unwrap()).unwrap()
    }

    /// A delivery in the scheme's envelope signed at [`SIGNED_AT`].
    fn delivery(&self) -> (Vec<(&'static str, String)>, Bytes) {
        let signed_at = at(SIGNED_AT);
        let body = testing::sample_body(
            &*self.scheme,
            "evt_fresh_1",
            "thing.happened",
            serde_json::json!({"n": 1}),
            time::OffsetDateTime::from(signed_at),
        );
        let mut input = SignInput::new(&body);
        input.timestamp = signed_at;
        input.id = Some("evt_fresh_1");
        input.event = Some("thing.happened");
        let headers = testing::sign_input(&*self.scheme, self.secret, &input);
        assert!(!headers.is_empty(), "{}", self.label);
        (headers, Bytes::from(body))
    }
}

#[test]
fn each_schemes_default_window_is_the_one_its_sender_calls_for() {
    for case in cases() {
        let settings = case.verifier().settings();
        assert_eq!(
            (
                case.scheme.default_freshness(),
                case.scheme.default_future_skew()
            ),
            (
                Duration::from_secs(case.window),
                Duration::from_secs(case.future)
            ),
            "{}",
            case.label
        );
        assert_eq!(
            (settings.freshness, settings.max_future_skew),
            (
                Duration::from_secs(case.window),
                Duration::from_secs(case.future)
            ),
            "{}: the verifier takes the scheme's defaults",
            case.label
        );
    }
}

#[test]
fn every_signed_timestamp_is_refused_stale_past_the_window_and_too_new_past_the_allowance() {
    let cases = cases();
    // Every built-in scheme that signs a timestamp is here; the others sign
    // none (replay protection is the dedupe window).
    for name in scheme::BUILTIN {
        let listed = cases.iter().any(|c| c.scheme.name() == *name);
        let unsigned = ["github", "shopify", "square", "twilio"].contains(name);
        assert!(listed != unsigned, "{name}: listed {listed}");
    }
    for case in &cases {
        let verifier = case.verifier();
        let (headers, body) = case.delivery();
        let check = |now: u64| {
            verifier
                .verify_at(&headers, body.clone(), at(now))
                .map(|event| event.id().map(str::to_owned))
        };
        let label = case.label;
        assert!(check(SIGNED_AT).is_ok(), "{label}: at its own time");
        assert!(
            check(SIGNED_AT + case.window).is_ok(),
            "{label}: at the window's edge"
        );
        assert_eq!(
            check(SIGNED_AT + case.window + 1),
            Err(Rejection::Stale),
            "{label}: a second past the window"
        );
        assert!(
            check(SIGNED_AT - case.future).is_ok(),
            "{label}: as far ahead as allowed"
        );
        assert_eq!(
            check(SIGNED_AT - case.future - 1),
            Err(Rejection::FromFuture),
            "{label}: a second further ahead than allowed"
        );
        // Signed a day ahead (a sender's clock, or a replay of a
        // pre-signed request): refused, not accepted for a day.
        assert_eq!(
            check(SIGNED_AT - 86_400),
            Err(Rejection::FromFuture),
            "{label}: a day ahead"
        );
    }
}
