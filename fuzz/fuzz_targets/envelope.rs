//! A correctly signed body of any bytes, for every built-in scheme: the
//! envelope reading (ids, event types, timestamps in the body) and the
//! freshness check run on it; accepted or refused, never a panic, and an
//! accepted event holds the very bytes signed.

#![no_main]

#[path = "common.rs"]
mod common;

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    scheme: u8,
    id: String,
    age: u16,
    body: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let name = common::scheme_name(input.scheme);
    let verifier = common::verifier(name);
    let id = if input.id.is_empty() {
        "wh_fuzz"
    } else {
        &input.id
    };
    let headers = common::sign(name, &input.body, id, u64::from(input.age));
    if let Ok(event) = verifier.verify(&headers, Bytes::from(input.body.clone())) {
        assert_eq!(event.body(), &input.body[..]);
        let _ = (event.id(), event.event_type());
    }
    let _ = verifier.envelope_error(&headers, &input.body);
});
