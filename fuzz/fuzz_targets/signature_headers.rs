//! Made-up signature headers for every built-in scheme: parsing never
//! panics, and nothing the fuzzer makes up ever verifies.

#![no_main]

#[path = "common.rs"]
mod common;

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    scheme: u8,
    signature: Vec<u8>,
    others: Vec<(u8, Vec<u8>)>,
    body: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let name = common::scheme_name(input.scheme);
    let verifier = common::verifier(name);
    let mut headers: Vec<(String, Vec<u8>)> = vec![(
        verifier.scheme().signature_header().to_owned(),
        input.signature,
    )];
    for (pick, value) in input.others.into_iter().take(8) {
        let header = common::OTHER_HEADERS[pick as usize % common::OTHER_HEADERS.len()];
        headers.push((header.to_owned(), value));
    }
    let verdict = verifier.verify(&headers, Bytes::from(input.body));
    assert!(verdict.is_err(), "{name}: made-up headers verified");
});
