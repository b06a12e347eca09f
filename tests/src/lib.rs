//! The conformance table: every acceptance and rejection hookgate promises,
//! as data ([`table::scenarios`]), a raw HTTP/1.1 client to send each case
//! to a real server on 127.0.0.1 ([`wire`]), and one handler behaviour
//! ([`handler::Handler`]) that every adapter's test server runs, so that the
//! axum and actix-web adapters can be held to the same answers.
//!
//! A scenario added to the table runs against every adapter.

// Test support: a broken fixture should stop the test run loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, SystemTime};

use hookgate::scheme::{Aexo, Axifi, Scheme};
use hookgate::{ManualClock, Secrets, Verifier};
use time::OffsetDateTime;

pub mod ackbench;
pub mod chaos;
pub mod dedupe;
pub mod dedupe_model;
pub mod handler;
pub mod hostile;
pub mod inbox;
pub mod process;
pub mod redis_server;
pub mod servers;
pub mod table;
pub mod wire;

pub use handler::Handler;
pub use table::{check, scenarios, Case, Framing, Scenario};
pub use wire::{post, post_signed, read_response, Reply};

/// The current secret of both test routes.
pub const SECRET: &str = "whsec_conformance_current";
/// The previous secret, still accepted on the AEXO route (rotation).
pub const OLD_SECRET: &str = "whsec_conformance_previous";
/// The body limit of both test routes.
pub const LIMIT: usize = 2048;
/// The body read timeout of both test routes.
pub const READ_TIMEOUT: Duration = Duration::from_millis(300);
/// The handler deadline of both test routes (short, so the test is quick).
pub const DEADLINE: Duration = Duration::from_millis(800);
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
/// limit, the read timeout, the deadline and the fixed clock.
pub fn verifier(sender: Sender) -> Verifier {
    let base = match sender {
        Sender::Aexo => Verifier::new(Aexo, Secrets::new([SECRET, OLD_SECRET]).expect("secrets")),
        Sender::Axifi => Verifier::new(Axifi, Secrets::new([SECRET]).expect("secrets")),
        Sender::Other(name) => {
            let scheme = sender.scheme();
            let key = hookgate::testing::verifying_secret(scheme, signing_secret(sender))
                .expect("verifying secret");
            let secrets = Secrets::single(key).expect("secrets");
            let scheme = other_scheme(name);
            match sender.public_url() {
                Some(url) => Verifier::with_public_url(scheme, secrets, &url),
                None => Verifier::new(scheme, secrets),
            }
        }
    }
    .expect("verifier");
    base.max_body_bytes(LIMIT)
        .read_timeout(READ_TIMEOUT)
        .clock(clock())
        .handler_deadline(DEADLINE)
        .expect("deadline")
}

/// Which test route a case goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// `/webhooks/aexo`, handler takes `Webhook<AexoEvent>`.
    Aexo,
    /// `/webhooks/axifi`, handler takes `Webhook<AxifiEvent>`.
    Axifi,
    /// `/webhooks/<name>` for every other route (one of [`OTHER_SENDERS`]:
    /// the other built-in schemes, a `v1a` key, a configured scheme),
    /// handler takes `Webhook<()>`.
    Other(&'static str),
}

/// The routes besides AEXO and AXIFI, and their paths: every other
/// built-in scheme, Standard Webhooks with an ed25519 key, and a configured
/// [`HmacScheme`](hookgate::scheme::HmacScheme).
pub const OTHER_SENDERS: &[(&str, &str)] = &[
    ("standard-webhooks", "/webhooks/standard-webhooks"),
    ("svix", "/webhooks/svix"),
    ("github", "/webhooks/github"),
    ("stripe", "/webhooks/stripe"),
    ("slack", "/webhooks/slack"),
    ("shopify", "/webhooks/shopify"),
    ("paddle", "/webhooks/paddle"),
    ("linear", "/webhooks/linear"),
    ("zoom", "/webhooks/zoom"),
    ("discord", "/webhooks/discord"),
    ("square", "/webhooks/square"),
    ("twilio", "/webhooks/twilio"),
    // Standard Webhooks once more, with an ed25519 (`v1a`) key.
    ("standard-webhooks-v1a", "/webhooks/standard-webhooks-v1a"),
    // A configured scheme ([`acme`]).
    ("acme", "/webhooks/acme"),
];

/// The configured scheme of the `acme` route: `X-Acme-Signature:
/// s=<base64url HMAC-SHA512 of {x-acme-timestamp}.{body}>` (a list, split
/// on `,`), a signed Unix-seconds timestamp, the delivery id in
/// `X-Acme-Delivery`, the event type in the body's `type`.
pub fn acme() -> &'static hookgate::scheme::HmacScheme {
    use hookgate::scheme::{
        Algorithm, Encoding, Field, HmacScheme, Part, TimeFormat, TimestampSource,
    };
    static ACME: std::sync::LazyLock<HmacScheme> = std::sync::LazyLock::new(|| {
        HmacScheme::new("acme", "x-acme-signature")
            .algorithm(Algorithm::HmacSha512)
            .encoding(Encoding::Base64Url)
            .list(b',', "s=")
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
            .event(Field::body("type"))
            .build()
            .expect("the acme scheme")
    });
    &ACME
}

/// The scheme of the route named `name` in [`OTHER_SENDERS`], shared.
pub fn other_scheme(name: &str) -> std::sync::Arc<dyn Scheme> {
    match name {
        "acme" => std::sync::Arc::new(acme().clone()),
        "standard-webhooks-v1a" => std::sync::Arc::new(hookgate::scheme::StandardWebhooks::V1),
        _ => hookgate::scheme::builtin(name).expect("a built-in scheme"),
    }
}

/// What a route's sender signs with: a Standard Webhooks secret is base64,
/// a Discord key a hex seed, a `v1a` key a `whsk_` base64 seed (the routes
/// of ed25519 schemes hold the public key).
pub fn signing_secret(sender: Sender) -> &'static str {
    match sender {
        Sender::Other("standard-webhooks" | "svix") => "whsec_Y29uZm9ybWFuY2UtY3VycmVudC1rZXk=",
        Sender::Other("standard-webhooks-v1a") => {
            "whsk_Y29uZm9ybWFuY2UtZWQyNTUxOS1zZWVkLTAxMjM0NTY="
        }
        Sender::Other("discord") => {
            "6363636363636363636363636363636363636363636363636363636363636363"
        }
        _ => SECRET,
    }
}

/// A signing secret of the route's form that is not the route's.
pub fn wrong_secret(sender: Sender) -> &'static str {
    match sender {
        Sender::Other("standard-webhooks" | "svix") => "whsec_c29tZW9uZS1lbHNlcy1rZXk=",
        Sender::Other("standard-webhooks-v1a") => {
            "whsk_c29tZW9uZS1lbHNlcy1lZDI1NTE5LXNlZWQtMDEyMzQ="
        }
        Sender::Other("discord") => {
            "6464646464646464646464646464646464646464646464646464646464646464"
        }
        _ => "whsec_not_the_secret",
    }
}

impl Sender {
    /// The route's path.
    pub fn path(self) -> &'static str {
        match self {
            Sender::Aexo => AEXO_PATH,
            Sender::Axifi => AXIFI_PATH,
            Sender::Other(name) => OTHER_SENDERS
                .iter()
                .find(|(n, _)| *n == name)
                .map_or("/webhooks/unknown", |(_, p)| p),
        }
    }

    /// The URL the sender is configured to call, for schemes that sign it
    /// (not the server's own address, as behind a proxy).
    pub fn public_url(self) -> Option<String> {
        self.scheme()
            .signs_url()
            .then(|| format!("https://hooks.example.com{}", self.path()))
    }

    /// The route's scheme.
    pub fn scheme(self) -> &'static dyn Scheme {
        use hookgate::scheme::{
            Discord, GitHub, Linear, Paddle, Shopify, Slack, Square, StandardWebhooks, Stripe,
            Twilio, Zoom,
        };
        match self {
            Sender::Aexo => &Aexo,
            Sender::Axifi => &Axifi,
            Sender::Other("standard-webhooks" | "standard-webhooks-v1a") => &StandardWebhooks::V1,
            Sender::Other("acme") => acme(),
            Sender::Other("svix") => &StandardWebhooks::SVIX,
            Sender::Other("github") => &GitHub,
            Sender::Other("stripe") => &Stripe,
            Sender::Other("slack") => &Slack,
            Sender::Other("shopify") => &Shopify,
            Sender::Other("paddle") => &Paddle,
            Sender::Other("linear") => &Linear,
            Sender::Other("zoom") => &Zoom,
            Sender::Other("discord") => &Discord,
            Sender::Other("square") => &Square,
            Sender::Other("twilio") => &Twilio,
            Sender::Other(_) => &Aexo,
        }
    }
}

/// The workspace README's Rust examples, compiled and run as doctests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
