//! What the targets share: a verifier for each built-in scheme, with a
//! secret of the scheme's form, and a fixed "now".

#![allow(dead_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hookgate::scheme::{builtin, SignInput, BUILTIN};
use hookgate::{testing, ManualClock, Secrets, Verifier};

/// 2026-05-17 08:40:00 UTC.
pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_779_007_200)
}

/// The signing secret for `name`, in the scheme's form.
pub fn signing_secret(name: &str) -> &'static str {
    match name {
        "standard-webhooks" | "svix" => "whsec_Y29uZm9ybWFuY2UtY3VycmVudC1rZXk=",
        "discord" => "6363636363636363636363636363636363636363636363636363636363636363",
        _ => "fuzz-secret",
    }
}

pub fn public_url(name: &str) -> Option<String> {
    matches!(name, "square" | "twilio").then(|| format!("https://hooks.example.com/{name}"))
}

/// The scheme's name for a fuzzer byte.
pub fn scheme_name(pick: u8) -> &'static str {
    BUILTIN[pick as usize % BUILTIN.len()]
}

/// A verifier for `name` on the fixed clock.
pub fn verifier(name: &str) -> Verifier {
    let scheme = builtin(name).unwrap();
    let key = testing::verifying_secret(&*scheme, signing_secret(name)).unwrap();
    let secrets = Secrets::single(key).unwrap();
    let verifier = match public_url(name) {
        Some(url) => Verifier::with_public_url(scheme, secrets, &url),
        None => Verifier::new(scheme, secrets),
    }
    .unwrap();
    verifier.clock(ManualClock::new(now()))
}

/// The headers `name`'s sender sends for `body`, signed at `now() - age`.
pub fn sign(name: &str, body: &[u8], id: &str, age: u64) -> Vec<(String, Vec<u8>)> {
    let scheme = builtin(name).unwrap();
    let url = public_url(name);
    let mut input = SignInput::new(body);
    input.timestamp = now() - Duration::from_secs(age);
    input.id = Some(id);
    input.event = Some("thing.happened");
    input.url = url.as_deref();
    testing::sign_input(&*scheme, signing_secret(name), &input)
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v.into_bytes()))
        .collect()
}

/// Header names the schemes read besides their signature header.
pub const OTHER_HEADERS: &[&str] = &[
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    "x-slack-request-timestamp",
    "x-zm-request-timestamp",
    "x-signature-timestamp",
    "x-github-delivery",
    "x-github-event",
    "x-shopify-event-id",
    "x-shopify-topic",
    "content-type",
];
