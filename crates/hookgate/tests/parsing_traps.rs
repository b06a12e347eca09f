//! The parsing traps other verifiers fell into, one test each; every test
//! fails if its trap comes back.
//!
//! Constant time needs no test of its own here: a scheme never sees a key
//! and never compares, it only says what is signed and which tags were
//! sent; the one comparison is `Key::matches` (`subtle::ConstantTimeEq`
//! over every candidate, no early exit), the same for every scheme.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, SystemTime};

use hookgate::scheme::{
    Encoding, HmacScheme, Paddle, Part, Scheme, SignInput, StandardWebhooks, Stripe, TimeFormat,
    TimestampSource,
};
use hookgate::{Rejection, Secrets, Verifier};

const NOW: u64 = 1_800_000_000;
const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const BODY: &[u8] = br#"{"type":"x","data":{}}"#;

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(NOW)
}

fn signed(scheme: &dyn Scheme, secret: &str, at: SystemTime) -> Vec<(&'static str, String)> {
    let mut input = SignInput::new(BODY);
    input.timestamp = at;
    input.id = Some("msg_1");
    scheme.sign(secret.as_bytes(), &input).unwrap()
}

fn value<'a>(headers: &'a [(&'static str, String)], name: &str) -> &'a str {
    &headers.iter().find(|(n, _)| *n == name).unwrap().1
}

fn with(
    headers: &[(&'static str, String)],
    name: &'static str,
    v: String,
) -> Vec<(&'static str, String)> {
    let mut out: Vec<_> = headers
        .iter()
        .filter(|(n, _)| *n != name)
        .cloned()
        .collect();
    out.push((name, v));
    out
}

fn check(
    scheme: impl Scheme,
    secret: &str,
    headers: &[(&'static str, String)],
) -> Result<(), Rejection> {
    Verifier::new(scheme, Secrets::single(secret).unwrap())
        .unwrap()
        .authenticate_at(&headers.to_vec(), BODY, now())
        .map(|_| ())
}

/// A custom scheme whose list entries are `s=<base64>`, split on `,`.
fn listed() -> HmacScheme {
    HmacScheme::new("listed", "x-sig")
        .encoding(Encoding::Base64)
        .list(b',', "s=")
        .signed_content(vec![Part::Header("x-ts"), Part::Literal("."), Part::Body])
        .timestamp(TimestampSource::Header("x-ts", TimeFormat::UnixSeconds))
        .build()
        .unwrap()
}

#[test]
fn an_empty_signature_in_a_list_never_verifies() {
    let sw = signed(&StandardWebhooks::V1, SW_SECRET, now());
    for empty in ["v1,", "v1, v1,", "v1,=", " "] {
        let h = with(&sw, "webhook-signature", empty.into());
        assert_eq!(
            check(StandardWebhooks::V1, SW_SECRET, &h),
            Err(Rejection::MalformedSignature),
            "{empty:?}"
        );
    }
    let stripe = signed(&Stripe, "whsec_s", now());
    let t = NOW.to_string();
    for empty in [format!("t={t},v1="), format!("t={t},v1=,v1=")] {
        let h = with(&stripe, "stripe-signature", empty.clone());
        assert_eq!(
            check(Stripe, "whsec_s", &h),
            Err(Rejection::MalformedSignature),
            "{empty}"
        );
    }
    let paddle = signed(&Paddle, "pdl_s", now());
    let h = with(&paddle, "paddle-signature", format!("ts={t};h1="));
    assert_eq!(
        check(Paddle, "pdl_s", &h),
        Err(Rejection::MalformedSignature)
    );
    let custom = signed(&listed(), "k", now());
    let h = with(&custom, "x-sig", "s=,s=".into());
    assert_eq!(check(listed(), "k", &h), Err(Rejection::MalformedSignature));
}

#[test]
fn every_signature_of_a_list_is_tried_wherever_the_valid_one_stands() {
    let decoy_b64 = Encoding::Base64.encode(&[9u8; 32]);
    let decoy_hex = "ab".repeat(32);
    let sw = signed(&StandardWebhooks::V1, SW_SECRET, now());
    let good = value(&sw, "webhook-signature").to_owned();
    let stripe = signed(&Stripe, "whsec_s", now());
    let good_v1 = value(&stripe, "stripe-signature")
        .split(',')
        .nth(1)
        .unwrap()
        .to_owned();
    let paddle = signed(&Paddle, "pdl_s", now());
    let good_h1 = value(&paddle, "paddle-signature")
        .split(';')
        .nth(1)
        .unwrap()
        .to_owned();
    let t = NOW.to_string();
    for position in 0..4 {
        let mut list = vec![format!("v1,{decoy_b64}"); 3];
        list.insert(position, good.clone());
        let h = with(&sw, "webhook-signature", list.join(" "));
        assert_eq!(
            check(StandardWebhooks::V1, SW_SECRET, &h),
            Ok(()),
            "sw {position}"
        );

        let mut list = vec![format!("v1={decoy_hex}"); 3];
        list.insert(position, good_v1.clone());
        let h = with(
            &stripe,
            "stripe-signature",
            format!("t={t},{}", list.join(",")),
        );
        assert_eq!(check(Stripe, "whsec_s", &h), Ok(()), "stripe {position}");

        // Paddle's own SDK keeps only the last h1; every one is tried here.
        let mut list = vec![format!("h1={decoy_hex}"); 3];
        list.insert(position, good_h1.clone());
        let h = with(
            &paddle,
            "paddle-signature",
            format!("ts={t};{}", list.join(";")),
        );
        assert_eq!(check(Paddle, "pdl_s", &h), Ok(()), "paddle {position}");
    }
}

#[test]
fn splitting_on_equals_keeps_base64_padding() {
    // 32 bytes in base64 always end in one `=`; a parser that splits
    // `s=<tag>=` on every `=` loses it and fails, or worse, reads the tag
    // as empty.
    let custom = signed(&listed(), "k", now());
    let tag = value(&custom, "x-sig").to_owned();
    assert!(tag.starts_with("s=") && tag.ends_with('='), "{tag}");
    assert_eq!(check(listed(), "k", &custom), Ok(()));
    let sw = signed(&StandardWebhooks::V1, SW_SECRET, now());
    assert!(value(&sw, "webhook-signature").ends_with('='));
    assert_eq!(check(StandardWebhooks::V1, SW_SECRET, &sw), Ok(()));
}

#[test]
fn unknown_signature_versions_are_skipped_not_errors() {
    let sw = signed(&StandardWebhooks::V1, SW_SECRET, now());
    let good = value(&sw, "webhook-signature").to_owned();
    let h = with(
        &sw,
        "webhook-signature",
        format!("v2,abc v1a,def {good} v0,x"),
    );
    assert_eq!(check(StandardWebhooks::V1, SW_SECRET, &h), Ok(()));

    let stripe = signed(&Stripe, "whsec_s", now());
    let v = value(&stripe, "stripe-signature").to_owned();
    let h = with(
        &stripe,
        "stripe-signature",
        format!("v0=00,{v},v9=zz,future=1"),
    );
    assert_eq!(check(Stripe, "whsec_s", &h), Ok(()));

    let paddle = signed(&Paddle, "pdl_s", now());
    let v = value(&paddle, "paddle-signature").to_owned();
    let h = with(&paddle, "paddle-signature", format!("h2=RANDOM;{v}"));
    assert_eq!(check(Paddle, "pdl_s", &h), Ok(()));
}

#[test]
fn a_list_with_only_unknown_versions_is_malformed_not_a_pass() {
    let sw = signed(&StandardWebhooks::V1, SW_SECRET, now());
    let h = with(&sw, "webhook-signature", "v2,abc v1a,def".into());
    assert_eq!(
        check(StandardWebhooks::V1, SW_SECRET, &h),
        Err(Rejection::MalformedSignature)
    );
}

#[test]
fn stripe_timestamps_from_the_future_are_refused_unlike_stripes_own_libraries() {
    let ahead = |secs| signed(&Stripe, "whsec_s", now() + Duration::from_secs(secs));
    assert_eq!(check(Stripe, "whsec_s", &ahead(299)), Ok(()));
    assert_eq!(
        check(Stripe, "whsec_s", &ahead(301)),
        Err(Rejection::FromFuture)
    );
    let behind = signed(&Stripe, "whsec_s", now() - Duration::from_secs(301));
    assert_eq!(check(Stripe, "whsec_s", &behind), Err(Rejection::Stale));
}

#[test]
fn two_timestamps_in_one_header_are_malformed() {
    let stripe = signed(&Stripe, "whsec_s", now());
    let v = value(&stripe, "stripe-signature").to_owned();
    // The second `t` could be the one a different parser believes.
    let h = with(&stripe, "stripe-signature", format!("{v},t=1"));
    assert_eq!(
        check(Stripe, "whsec_s", &h),
        Err(Rejection::MalformedSignature)
    );
    let paddle = signed(&Paddle, "pdl_s", now());
    let v = value(&paddle, "paddle-signature").to_owned();
    let h = with(&paddle, "paddle-signature", format!("ts=1;{v}"));
    assert_eq!(
        check(Paddle, "pdl_s", &h),
        Err(Rejection::MalformedSignature)
    );
}

#[test]
fn a_timestamp_that_is_not_plain_digits_is_malformed() {
    let sw = signed(&StandardWebhooks::V1, SW_SECRET, now());
    for bad in [
        "-1",
        "+1800000000",
        " 1800000000",
        "1800000000.5",
        "1.8e9",
        "",
    ] {
        let h = with(&sw, "webhook-timestamp", bad.into());
        assert_eq!(
            check(StandardWebhooks::V1, SW_SECRET, &h),
            Err(Rejection::MalformedSignature),
            "{bad:?}"
        );
    }
}

#[test]
fn a_standard_webhooks_secret_that_is_not_base64_is_refused_at_configuration() {
    let err = Verifier::new(
        StandardWebhooks::V1,
        Secrets::single("whsec_not base64!").unwrap(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("whsec_"), "{err}");
    // With and without the prefix, the same key.
    let bare = SW_SECRET.trim_start_matches("whsec_");
    let sw = signed(&StandardWebhooks::V1, SW_SECRET, now());
    assert_eq!(check(StandardWebhooks::V1, bare, &sw), Ok(()));
}

#[test]
fn a_list_may_mix_v1_and_v1a_and_each_key_checks_only_its_own_entries() {
    // Seed and public key of Standard Webhooks' asymmetric Go test.
    let signing = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=";
    let public = hookgate::testing::verifying_secret(&StandardWebhooks::V1, signing).unwrap();
    assert!(public.starts_with("whpk_"), "{public}");
    let v1 = signed(&StandardWebhooks::V1, SW_SECRET, now());
    let v1a = signed(&StandardWebhooks::V1, signing, now());
    let sig = |h: &[(&'static str, String)]| value(h, "webhook-signature").to_owned();
    assert!(sig(&v1a).starts_with("v1a,"));
    let mixed = with(
        &v1,
        "webhook-signature",
        format!("{} {}", sig(&v1), sig(&v1a)),
    );
    let both = Verifier::new(
        StandardWebhooks::V1,
        Secrets::new([SW_SECRET, &public]).unwrap(),
    )
    .unwrap();
    let index = |h: &[(&'static str, String)]| {
        both.authenticate_at(&h.to_vec(), BODY, now())
            .map(|m| m.secret_index)
    };
    assert_eq!(index(&mixed), Ok(0));
    assert_eq!(
        index(&v1a),
        Ok(1),
        "the v1a entry alone, checked by the public key"
    );
    // An HMAC-only route does not take an ed25519 signature, nor the reverse.
    assert_eq!(
        check(StandardWebhooks::V1, SW_SECRET, &v1a),
        Err(Rejection::BadSignature)
    );
    assert_eq!(
        check(StandardWebhooks::V1, &public, &v1),
        Err(Rejection::BadSignature)
    );
    // A v1a signature over other bytes, or a changed one, is refused.
    let mut changed = sig(&v1a);
    let at = changed.len() - 5;
    changed.replace_range(
        at..at + 1,
        if &changed[at..at + 1] == "A" {
            "B"
        } else {
            "A"
        },
    );
    let h = with(&v1a, "webhook-signature", changed);
    assert_eq!(
        check(StandardWebhooks::V1, &public, &h),
        Err(Rejection::BadSignature)
    );
    // A public key that is not 32 bytes is refused at configuration.
    let err =
        Verifier::new(StandardWebhooks::V1, Secrets::single("whpk_AAAA").unwrap()).unwrap_err();
    assert!(err.to_string().contains("whpk_"), "{err}");
}
