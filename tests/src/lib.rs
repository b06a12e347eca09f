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
}

impl Sender {
    /// The route's path.
    pub fn path(self) -> &'static str {
        match self {
            Sender::Aexo => AEXO_PATH,
            Sender::Axifi => AXIFI_PATH,
        }
    }

    /// The route's scheme.
    pub fn scheme(self) -> &'static dyn Scheme {
        match self {
            Sender::Aexo => &Aexo,
            Sender::Axifi => &Axifi,
        }
    }
}

/// The workspace README's Rust examples, compiled and run as doctests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
