//! Distinct, freshly signed deliveries, built with `hookgate::testing`:
//! each has its own event id and its own body, padded to the cell's size.

use std::net::SocketAddr;

use hookgate::scheme::{Aexo, Axifi};
use hookgate::testing;

use crate::{AEXO_SECRET, AXIFI_SECRET};

/// What a row's sender sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An AEXO envelope with `X-AEXO-Signature: <hex>`.
    Aexo,
    /// An AXIFI envelope with `X-Webhook-Signature: sha256=<hex>`.
    Axifi,
    /// The same AXIFI envelope with the same value as GitHub's
    /// `X-Hub-Signature-256: sha256=<hex>` (HMAC-SHA256 of the body).
    GitHubPeer,
}

/// The body of event `n`, exactly `size` bytes when `size` is above the
/// envelope's own length (the padding is an extra field inside `data`,
/// which the typed events ignore).
pub fn body(kind: Kind, tag: &str, n: u64, size: usize) -> Vec<u8> {
    let raw = match kind {
        Kind::Aexo => testing::aexo_body(
            &format!("wh_{tag}_{n}"),
            "dataset.refreshed",
            serde_json::json!({
                "dataset_name": "ny-verified-contractors",
                "records_updated": 847 + n % 1000,
                "records_added": 203,
                "records_removed": 12,
                "refresh_cycle": "monthly",
                "zpad": "",
            }),
        ),
        Kind::Axifi | Kind::GitHubPeer => testing::axifi_body(
            "compound.created",
            serde_json::json!({
                "id": format!("compound-{tag}-{n}"),
                "name": "Aspirin",
                "category": "analgesic",
                "efficacy": 0.87,
                "zpad": "",
            }),
        ),
    };
    let marker = b"\"zpad\":\"";
    let at = raw
        .windows(marker.len())
        .position(|w| w == marker)
        .map(|p| p + marker.len())
        .expect("the padding field is in the body");
    let pad = size.saturating_sub(raw.len());
    let mut out = Vec::with_capacity(raw.len() + pad);
    out.extend_from_slice(&raw[..at]);
    out.resize(at + pad, b'x');
    out.extend_from_slice(&raw[at..]);
    out
}

/// The signature headers `kind`'s sender puts on `body`; `forged` signs
/// with a wrong secret.
pub fn headers(kind: Kind, body: &[u8], forged: bool) -> Vec<(&'static str, String)> {
    match kind {
        Kind::Aexo => testing::sign(&Aexo, if forged { "wrong-secret" } else { AEXO_SECRET }, body),
        Kind::Axifi => testing::sign(&Axifi, if forged { "wrong-secret" } else { AXIFI_SECRET }, body),
        Kind::GitHubPeer => testing::sign(&Axifi, if forged { "wrong-secret" } else { AXIFI_SECRET }, body)
            .into_iter()
            .map(|(_, value)| ("x-hub-signature-256", value))
            .collect(),
    }
}

/// A complete signed `POST /webhook`.
pub fn request(addr: SocketAddr, kind: Kind, tag: &str, n: u64, size: usize, forged: bool) -> Vec<u8> {
    let body = body(kind, tag, n, size);
    let headers = headers(kind, &body, forged);
    crate::client::build(addr, "POST", "/webhook", &headers, &body)
}

/// `count` requests numbered from `first`, built on two threads (the
/// servers are idle meanwhile; nothing is timed).
pub fn pool(addr: SocketAddr, kind: Kind, tag: &str, first: u64, count: usize, size: usize) -> Vec<Vec<u8>> {
    let half = count / 2;
    std::thread::scope(|s| {
        let a = s.spawn(|| {
            (0..half)
                .map(|i| request(addr, kind, tag, first + i as u64, size, false))
                .collect::<Vec<_>>()
        });
        let mut b: Vec<Vec<u8>> = (half..count)
            .map(|i| request(addr, kind, tag, first + i as u64, size, false))
            .collect();
        let mut out = a.join().expect("pool thread");
        out.append(&mut b);
        out
    })
}
