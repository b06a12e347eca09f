//! The HTTPS policy's reading of `Forwarded` and `X-Forwarded-Proto` from
//! any bytes and any peer: never a panic, and a plain connection from a
//! peer outside the trusted ranges is never taken for HTTPS.

#![no_main]

use std::net::IpAddr;

use arbitrary::Arbitrary;
use hookgate::https::{Connection, HttpsPolicy, ProxyHeader};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    peer: IpAddr,
    mode: u8,
    loopback: bool,
    forwarded: Vec<Vec<u8>>,
    x_forwarded_proto: Vec<Vec<u8>>,
}

fuzz_target!(|input: Input| {
    let mode = match input.mode % 3 {
        0 => ProxyHeader::Either,
        1 => ProxyHeader::Forwarded,
        _ => ProxyHeader::XForwardedProto,
    };
    let policy = HttpsPolicy::new()
        .trust_proxies(["10.0.0.0/8", "fd00::/8"])
        .unwrap()
        .proxy_header(mode)
        .allow_plain_loopback_for_development(input.loopback);
    let mut headers: Vec<(&str, Vec<u8>)> = Vec::new();
    for v in input.forwarded.into_iter().take(4) {
        headers.push(("forwarded", v));
    }
    for v in input.x_forwarded_proto.into_iter().take(4) {
        headers.push(("x-forwarded-proto", v));
    }
    let verdict = policy.check(&Connection::plain(input.peer), &headers);
    let trusted = match input.peer {
        IpAddr::V4(v4) => v4.octets()[0] == 10,
        IpAddr::V6(v6) => v6.octets()[0] == 0xfd,
    };
    let loopback_ok = input.loopback && input.peer.is_loopback();
    if !trusted && !loopback_ok {
        assert!(verdict.is_err(), "{} taken for HTTPS", input.peer);
    }
    assert!(policy.check(&Connection::tls(input.peer), &headers).is_ok());
});
