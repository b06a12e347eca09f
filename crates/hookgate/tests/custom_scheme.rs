//! The configurable [`HmacScheme`]'s options, each against a signature
//! computed independently of this crate: a timestamp in a JSON body field,
//! RFC 3339 timestamps (in a header and in the body, with an offset),
//! HMAC-SHA1 and HMAC-SHA512, the URL in the signed content, a prefix
//! without a list. Each signature is accepted at its own time and refused
//! with one byte of the signature or of the body changed.
//!
//! The expected signatures are derived: computed once with Python's `hmac`
//! module (Python 3, `hmac.new(secret, message, hashlib.<hash>)`, then
//! `.hexdigest()`, `base64.b64encode` or `base64.urlsafe_b64encode`), the
//! message being the bytes each case spells out.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hookgate::scheme::{Algorithm, Encoding, Field, HmacScheme, Part, TimeFormat, TimestampSource};
use hookgate::{Rejection, Secrets, Verifier};

/// 2027-01-15T08:00:00Z, when every case here is signed.
const SIGNED_AT: u64 = 1_800_000_000;

fn verifier(scheme: HmacScheme, secret: &str) -> Verifier {
    Verifier::new(scheme, Secrets::single(secret).unwrap()).unwrap()
}

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

/// One configured scheme, a delivery its sender signed, and the request's
/// query (for a scheme that signs the URL).
struct Case {
    verifier: Verifier,
    headers: Vec<(&'static str, String)>,
    body: &'static str,
    query: Option<&'static str>,
    /// The signature header and the length of its prefix.
    signature: (&'static str, usize),
}

impl Case {
    fn new(verifier: Verifier, headers: &[(&'static str, &str)]) -> Self {
        let name = verifier.scheme().signature_header();
        Self {
            verifier,
            headers: headers.iter().map(|(n, v)| (*n, (*v).to_owned())).collect(),
            body: "",
            query: None,
            signature: (name, 0),
        }
    }

    fn query(mut self, query: &'static str) -> Self {
        self.query = Some(query);
        self
    }

    fn body(mut self, body: &'static str) -> Self {
        self.body = body;
        self
    }

    fn prefix(mut self, len: usize) -> Self {
        self.signature.1 = len;
        self
    }

    fn check_with(
        &self,
        headers: &[(&'static str, String)],
        body: &[u8],
        query: Option<&str>,
        now: u64,
    ) -> Result<(), Rejection> {
        self.verifier
            .verify_request(
                &headers.to_vec(),
                query,
                Bytes::copy_from_slice(body),
                at(now),
            )
            .map(|_| ())
    }

    fn check_at(&self, now: u64) -> Result<(), Rejection> {
        self.check_with(&self.headers, self.body.as_bytes(), self.query, now)
    }

    /// Accepted at its own time; refused with one byte of the signature
    /// changed (the first byte after the prefix, the last one), and with
    /// one byte of the body changed.
    fn assert_exact(&self) {
        assert_eq!(self.check_at(SIGNED_AT), Ok(()));
        let (name, prefix) = self.signature;
        let value = &self.headers.iter().find(|(n, _)| *n == name).unwrap().1;
        let last = value.trim_end_matches('=').len() - 1;
        for at in [prefix, last] {
            let mut changed = value.clone().into_bytes();
            // `0` and `1` are digits of hex, base64 and base64url alike.
            changed[at] = if changed[at] == b'0' { b'1' } else { b'0' };
            let headers: Vec<_> = self
                .headers
                .iter()
                .map(|(n, v)| {
                    let v = if *n == name {
                        String::from_utf8(changed.clone()).unwrap()
                    } else {
                        v.clone()
                    };
                    (*n, v)
                })
                .collect();
            assert_eq!(
                self.check_with(&headers, self.body.as_bytes(), self.query, SIGNED_AT),
                Err(Rejection::BadSignature),
                "signature byte {at} changed"
            );
        }
        let mut body = self.body.as_bytes().to_vec();
        body[2] ^= 0x01;
        assert_eq!(
            self.check_with(&self.headers, &body, self.query, SIGNED_AT),
            Err(Rejection::BadSignature),
            "body byte changed"
        );
    }
}

#[test]
fn a_timestamp_in_a_json_body_field_behind_a_prefix_without_a_list() {
    // Python: hmac.new(b"custom-secret-1", body, hashlib.sha256).hexdigest()
    let body = r#"{"id":"evt_custom_1","sent_at":1800000000,"type":"invoice.paid"}"#;
    let scheme = HmacScheme::new("bodyts", "x-sig")
        .prefix("sha256=")
        .timestamp(TimestampSource::Body("sent_at", TimeFormat::UnixSeconds))
        .id(Field::body("id"))
        .build()
        .unwrap();
    let sig = "sha256=4dfcfb51c1662b84f22830e7021ed966d471bf443a1bdee5a71d096db9352d39";
    let case = Case::new(verifier(scheme, "custom-secret-1"), &[("x-sig", sig)])
        .body(body)
        .prefix("sha256=".len());
    case.assert_exact();
    // The body's timestamp is checked for freshness both ways.
    assert_eq!(case.check_at(SIGNED_AT + 300), Ok(()));
    assert_eq!(case.check_at(SIGNED_AT + 301), Err(Rejection::Stale));
    assert_eq!(case.check_at(SIGNED_AT - 301), Err(Rejection::FromFuture));
    // The prefix is required, and only that prefix.
    let hex = &sig["sha256=".len()..];
    for value in [
        hex.to_owned(),
        format!("sha1={hex}"),
        format!("sha256={hex},"),
    ] {
        let headers = vec![("x-sig", value.clone())];
        assert!(
            case.check_with(&headers, body.as_bytes(), None, SIGNED_AT)
                .is_err(),
            "{value}"
        );
    }
    assert_eq!(
        case.check_with(
            &[("x-sig", hex.to_owned())],
            body.as_bytes(),
            None,
            SIGNED_AT
        ),
        Err(Rejection::MalformedSignature)
    );
}

#[test]
fn an_rfc_3339_header_timestamp_signed_with_hmac_sha1_in_base64() {
    // Python: base64.b64encode(hmac.new(b"custom-secret-2",
    //   b"2027-01-15T08:00:00Z\n" + body, hashlib.sha1).digest())
    let body = r#"{"event":"user.created","id":"u_42"}"#;
    let scheme = HmacScheme::new("legacy", "x-legacy-signature")
        .algorithm(Algorithm::HmacSha1)
        .encoding(Encoding::Base64)
        .signed_content(vec![
            Part::Header("x-legacy-date"),
            Part::Literal("\n"),
            Part::Body,
        ])
        .timestamp(TimestampSource::Header(
            "x-legacy-date",
            TimeFormat::Rfc3339,
        ))
        .build()
        .unwrap();
    let case = Case::new(
        verifier(scheme, "custom-secret-2"),
        &[
            ("x-legacy-signature", "U9n/ve31Qtwjcb3soDJXFPh0XWs="),
            ("x-legacy-date", "2027-01-15T08:00:00Z"),
        ],
    )
    .body(body);
    case.assert_exact();
    assert_eq!(case.check_at(SIGNED_AT + 301), Err(Rejection::Stale));
    assert_eq!(case.check_at(SIGNED_AT - 301), Err(Rejection::FromFuture));
    // A date that is not RFC 3339 is malformed, not a pass.
    for date in [
        "2027-01-15 08:00:00",
        "1800000000",
        "Fri, 15 Jan 2027 08:00:00 GMT",
    ] {
        let headers = vec![
            (
                "x-legacy-signature",
                "U9n/ve31Qtwjcb3soDJXFPh0XWs=".to_owned(),
            ),
            ("x-legacy-date", date.to_owned()),
        ];
        assert_eq!(
            case.check_with(&headers, body.as_bytes(), None, SIGNED_AT),
            Err(Rejection::MalformedSignature),
            "{date}"
        );
    }
}

#[test]
fn an_rfc_3339_body_timestamp_with_an_offset_signed_with_hmac_sha512() {
    // Python: hmac.new(b"custom-secret-3", body, hashlib.sha512).hexdigest()
    // 09:00:00+01:00 is 08:00:00Z, the signing time.
    let body = r#"{"created":"2027-01-15T09:00:00+01:00","id":"evt_3"}"#;
    let scheme = HmacScheme::new("wide", "x-wide-signature")
        .algorithm(Algorithm::HmacSha512)
        .timestamp(TimestampSource::Body("created", TimeFormat::Rfc3339))
        .build()
        .unwrap();
    let sig = "70dcc37a1bc48073e2afba83ee719fd53eaffdb61c6694ca69dae62571c4b57b\
               ab7121b6040a7bcf4e8d9a2a2c64c0d1c740cb09a89748a859931c8de8030228";
    let case = Case::new(
        verifier(scheme, "custom-secret-3"),
        &[("x-wide-signature", sig)],
    )
    .body(body);
    case.assert_exact();
    assert_eq!(case.check_at(SIGNED_AT + 300), Ok(()));
    assert_eq!(case.check_at(SIGNED_AT + 301), Err(Rejection::Stale));
    assert_eq!(case.check_at(SIGNED_AT - 301), Err(Rejection::FromFuture));
}

#[test]
fn the_public_url_with_the_requests_query_in_the_signed_content() {
    // Python: base64.urlsafe_b64encode(hmac.new(b"custom-secret-4",
    //   b"https://hooks.example.com/in/acme?tenant=7" + body,
    //   hashlib.sha256).digest())
    let body = r#"{"id":"evt_4","type":"ping"}"#;
    let scheme = HmacScheme::new("urlsigned", "x-url-signature")
        .encoding(Encoding::Base64Url)
        .signed_content(vec![Part::Url, Part::Body])
        .build()
        .unwrap();
    let sig = "TS5YqEA3F0gURFOzp3UBaxeObvd1wXd7akXZlDlyg_E=";
    let url = "https://hooks.example.com/in/acme";
    let secrets = Secrets::single("custom-secret-4").unwrap();
    let route = Verifier::with_public_url(scheme, secrets, url).unwrap();
    let case = Case::new(route, &[("x-url-signature", sig)])
        .query("tenant=7")
        .body(body);
    case.assert_exact();
    // Another query, or none: not the URL the sender signed.
    for query in [Some("tenant=8"), Some("tenant=7&x=1"), None] {
        assert_eq!(
            case.check_with(&case.headers, body.as_bytes(), query, SIGNED_AT),
            Err(Rejection::BadSignature),
            "{query:?}"
        );
    }
    // A route of this scheme without a public URL is refused at build time.
    let without = HmacScheme::new("urlsigned", "x-url-signature")
        .signed_content(vec![Part::Url, Part::Body])
        .build()
        .unwrap();
    assert!(Verifier::new(without, Secrets::single("k").unwrap()).is_err());
}
