//! Property tests (proptest) over every built-in scheme, the HTTPS policy's
//! header parsing and the in-memory dedupe store:
//! - a delivery signed as its sender signs it always verifies;
//! - flipping any one bit of the body, of the signature header or of a
//!   signed header (id, timestamp) always fails;
//! - arbitrary header values and bodies never panic a parser and never
//!   verify;
//! - a correctly signed body of arbitrary bytes is accepted or refused,
//!   never a panic;
//! - a plain connection is never taken for HTTPS unless a trusted peer's
//!   forwarding header says `https`;
//! - claim / commit / release / time sequences on the memory store keep to
//!   the contract's model (`hookgate_conformance::dedupe_model`).
//!
//! The Redis store runs the same model check in
//! `crates/hookgate-redis/tests/properties.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hookgate::dedupe::MemoryStore;
use hookgate::https::{Connection, HttpsPolicy, ProxyHeader};
use hookgate::scheme::SignInput;
use hookgate::{testing, ManualClock, Rejection};
use hookgate_conformance::{
    dedupe_model, now, signing_secret, verifier, Sender, LIMIT, OTHER_SENDERS,
};
use proptest::prelude::*;

/// Every route of the conformance crate: AEXO, AXIFI and the
/// [`OTHER_SENDERS`] (the other built-in schemes, a `v1a` key, a
/// configured scheme).
fn senders() -> Vec<Sender> {
    let mut all = vec![Sender::Aexo, Sender::Axifi];
    all.extend(OTHER_SENDERS.iter().map(|(name, _)| Sender::Other(name)));
    all
}

fn sender() -> impl Strategy<Value = Sender> {
    proptest::sample::select(senders())
}

fn secret(sender: Sender) -> &'static str {
    match sender {
        Sender::Aexo | Sender::Axifi => hookgate_conformance::SECRET,
        other => signing_secret(other),
    }
}

/// Schemes whose tags are hex: a case change of a hex letter in their
/// signature is the same signature.
fn hex_tags(sender: Sender) -> bool {
    matches!(
        sender.scheme().name(),
        "aexo" | "axifi" | "github" | "stripe" | "slack" | "paddle" | "linear" | "zoom" | "discord"
    )
}

/// The headers besides the signature whose values a scheme signs.
fn signed_headers(sender: Sender) -> &'static [&'static str] {
    match sender.scheme().name() {
        "standard-webhooks" => &["webhook-id", "webhook-timestamp"],
        "svix" => &["svix-id", "svix-timestamp"],
        "slack" => &["x-slack-request-timestamp"],
        "zoom" => &["x-zm-request-timestamp"],
        "discord" => &["x-signature-timestamp"],
        "acme" => &["x-acme-timestamp"],
        _ => &[],
    }
}

/// A delivery as `sender` signs it: event `id`, a free-text `note` in its
/// data, signed `age` seconds before the servers' "now".
#[derive(Debug, Clone)]
struct Delivery {
    sender: Sender,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

fn delivery(sender: Sender, id: &str, note: &str, age: i64) -> Delivery {
    let scheme = sender.scheme();
    let at = now() - time::Duration::seconds(age);
    let body = if scheme.name() == "twilio" {
        // Twilio posts forms; the note is kept to form-safe characters.
        let note: String = note.chars().filter(char::is_ascii_alphanumeric).collect();
        format!("MessageSid={id}&Body={note}&N=1").into_bytes()
    } else {
        testing::sample_body(
            scheme,
            id,
            "thing.happened",
            serde_json::json!({ "note": note }),
            at,
        )
    };
    let url = sender.public_url();
    let mut input = SignInput::new(&body);
    input.timestamp = SystemTime::from(at);
    input.id = Some(id);
    input.event = Some("thing.happened");
    input.url = url.as_deref();
    let headers = testing::sign_input(scheme, secret(sender), &input)
        .into_iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.into_bytes()))
        .collect();
    Delivery {
        sender,
        headers,
        body,
    }
}

fn verify(d: &Delivery) -> Result<hookgate::VerifiedEvent, Rejection> {
    verifier(d.sender).verify(&d.headers, Bytes::from(d.body.clone()))
}

/// Deliveries of every sender: ids as senders make them, any text in the
/// data (kept under the routes' body limit), signed up to 50 s ago (inside
/// every window, Linear's 60 s included).
fn deliveries() -> impl Strategy<Value = Delivery> {
    (
        sender(),
        "[A-Za-z0-9_]{1,40}",
        proptest::string::string_regex(".{0,300}").unwrap(),
        0i64..=50,
    )
        .prop_map(|(sender, id, note, age)| delivery(sender, &id, &note, age))
        .prop_filter("under the body limit", |d| d.body.len() <= LIMIT)
}

/// `cases` per property; a failing case is saved next to this file
/// (`properties.proptest-regressions`) and replayed first on the next run.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..ProptestConfig::default()
    }
}

fn flip(bytes: &mut [u8], bit: usize) -> (usize, u8, u8) {
    let at = (bit / 8) % bytes.len();
    let before = bytes[at];
    bytes[at] ^= 1 << (bit % 8);
    (at, before, bytes[at])
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn a_delivery_signed_as_its_sender_signs_it_always_verifies(d in deliveries()) {
        match verify(&d) {
            Ok(event) => prop_assert_eq!(event.body(), &d.body[..]),
            Err(e) => prop_assert!(false, "{:?}: {:?}", d.sender, e),
        }
    }

    #[test]
    fn flipping_any_bit_of_the_body_fails(d in deliveries(), bit in any::<usize>()) {
        let mut d = d;
        let (at, before, after) = flip(&mut d.body, bit);
        let verdict = verify(&d);
        prop_assert!(
            verdict.is_err(),
            "{:?}: byte {} {:?} -> {:?} still verifies", d.sender, at, before as char, after as char
        );
    }

    #[test]
    fn flipping_any_bit_of_the_signature_or_a_signed_header_fails(
        d in deliveries(),
        which in any::<proptest::sample::Index>(),
        bit in any::<usize>(),
    ) {
        let mut d = d;
        let sig = d.sender.scheme().signature_header().to_ascii_lowercase();
        let mut names = vec![sig.clone()];
        names.extend(signed_headers(d.sender).iter().map(|n| n.to_string()));
        let name = which.get(&names).clone();
        let value = &mut d.headers.iter_mut().find(|(n, _)| *n == name).unwrap().1;
        let (at, before, after) = flip(value, bit);
        // A hex letter in another case is the same tag.
        prop_assume!(!(name == sig
            && hex_tags(d.sender)
            && before.is_ascii_hexdigit()
            && before.is_ascii_alphabetic()
            && before.eq_ignore_ascii_case(&after)));
        let verdict = verify(&d);
        prop_assert!(
            verdict.is_err(),
            "{:?}: {} byte {} {:?} -> {:?} still verifies",
            d.sender, name, at, before as char, after as char
        );
    }

    #[test]
    fn arbitrary_headers_and_bodies_never_panic_and_never_verify(
        s in sender(),
        sig in proptest::collection::vec(any::<u8>(), 0..200),
        printable in "[ -~]{0,120}",
        extra in proptest::collection::vec(any::<u8>(), 0..40),
        body in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let names = std::iter::once(s.scheme().signature_header())
            .chain(signed_headers(s).iter().copied());
        for value in [sig.clone(), printable.clone().into_bytes()] {
            let headers: Vec<(String, Vec<u8>)> = names
                .clone()
                .enumerate()
                .map(|(i, n)| (n.to_owned(), if i == 0 { value.clone() } else { extra.clone() }))
                .collect();
            let verdict = verifier(s).verify(&headers, Bytes::from(body.clone()));
            prop_assert!(verdict.is_err(), "{:?} accepted made-up headers", s);
        }
    }

    #[test]
    fn a_correctly_signed_body_of_any_bytes_is_answered_never_a_panic(
        s in sender(),
        body in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..600),
            "\\{\"[a-z_]{1,12}\":(\"[ -~]{0,40}\"|[0-9]{1,20}|null|\\{\\}|\\[\\])\\}".prop_map(String::into_bytes),
        ],
    ) {
        let mut input = SignInput::new(&body);
        input.timestamp = SystemTime::from(now());
        input.id = Some("wh_prop");
        let url = s.public_url();
        input.url = url.as_deref();
        let headers = testing::sign_input(s.scheme(), secret(s), &input);
        // Accepted or refused with a rejection: the point is no panic, and
        // that an accepted body is the very bytes signed.
        if let Ok(event) = verifier(s).verify(&headers, Bytes::from(body.clone())) {
            prop_assert_eq!(event.body(), &body[..]);
        }
    }

    #[test]
    fn a_plain_connection_is_https_only_when_a_trusted_proxy_says_so(
        peer in any::<[u8; 4]>(),
        forwarded in proptest::option::of("[ -~]{0,80}"),
        xfp in proptest::option::of("[ -~]{0,20}"),
        raw in proptest::collection::vec(any::<u8>(), 0..60),
        header in proptest::sample::select(vec![ProxyHeader::Either, ProxyHeader::Forwarded, ProxyHeader::XForwardedProto]),
    ) {
        let policy = HttpsPolicy::new()
            .trust_proxies(["10.0.0.0/8"])
            .unwrap()
            .proxy_header(header);
        let ip = IpAddr::V4(Ipv4Addr::from(peer));
        let conn = Connection::plain(ip);
        let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
        if let Some(f) = &forwarded {
            headers.push(("forwarded".into(), f.clone().into_bytes()));
        }
        if let Some(x) = &xfp {
            headers.push(("x-forwarded-proto".into(), x.clone().into_bytes()));
        }
        let verdict = policy.check(&conn, &headers);
        let says_https = |v: &Option<String>| {
            v.as_deref().is_some_and(|v| v.to_ascii_lowercase().contains("https"))
        };
        if !ip.to_string().starts_with("10.") || !(says_https(&forwarded) || says_https(&xfp)) {
            prop_assert!(verdict.is_err(), "{ip} {forwarded:?} {xfp:?} taken for HTTPS");
        }
        // Raw bytes in either header: no panic, and never HTTPS from outside.
        headers.push(("forwarded".into(), raw.clone()));
        headers.push(("x-forwarded-proto".into(), raw));
        let verdict = policy.check(&conn, &headers);
        if !ip.to_string().starts_with("10.") {
            prop_assert!(verdict.is_err());
        }
        prop_assert!(policy.check(&Connection::tls(ip), &headers).is_ok());
    }
}

proptest! {
    #![proptest_config(config(400))]

    #[test]
    fn the_memory_store_keeps_to_the_dedupe_model(ops in dedupe_model::ops(40, true)) {
        let clock = ManualClock::new(SystemTime::now());
        let store = MemoryStore::new().clock(clock.clone());
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let outcome = rt.block_on(dedupe_model::check(&store, Some(&clock), "prop", &ops));
        prop_assert!(outcome.is_ok(), "{}", outcome.unwrap_err());
    }
}

/// The model check can fail: a store that forgets releases (answers
/// `InFlight` where the contract says the key is free) is caught.
#[test]
fn the_dedupe_model_catches_a_store_that_ignores_release() {
    use hookgate::dedupe::{Claim, DedupeStore};
    use hookgate::store::{StoreError, Token};

    struct NoRelease(MemoryStore);
    impl DedupeStore for NoRelease {
        async fn claim(&self, key: &str, lease: Duration) -> Result<Claim, StoreError> {
            self.0.claim(key, lease).await
        }
        async fn commit(&self, key: &str, token: Token, ret: Duration) -> Result<(), StoreError> {
            self.0.commit(key, token, ret).await
        }
        async fn release(&self, _: &str, _: Token) -> Result<(), StoreError> {
            Ok(())
        }
    }
    use dedupe_model::{Holder, Op};
    let ops = [
        Op::Claim {
            key: 0,
            lease_ms: 30,
        },
        Op::Release {
            key: 0,
            holder: Holder::Issued(0),
        },
        Op::Claim {
            key: 0,
            lease_ms: 30,
        },
    ];
    let clock = ManualClock::new(SystemTime::now());
    let store = NoRelease(MemoryStore::new().clock(clock.clone()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let outcome = rt.block_on(dedupe_model::check(&store, Some(&clock), "neg", &ops));
    let why = outcome.unwrap_err();
    assert!(why.contains("step 2"), "{why}");
    assert!(why.contains("InFlight"), "{why}");
}
