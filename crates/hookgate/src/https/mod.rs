//! HTTPS enforcement: refuse deliveries that did not arrive over TLS.
//!
//! A request passes when
//! - its own connection is TLS, or
//! - it came from a trusted proxy (configured address ranges) whose
//!   forwarding headers say the client's connection was HTTPS (`Forwarded:
//!   proto=https`, RFC 7239, or `X-Forwarded-Proto: https`), reading the
//!   hop nearest to us first; or
//! - it came from loopback and the development switch is on.
//!
//! Forwarding headers from peers that are not trusted are ignored: anyone
//! can send `X-Forwarded-Proto: https`. A proxy usually sets one of the two
//! headers and passes the other through from the client untouched, so
//! unless told which one the proxy owns ([`HttpsPolicy::proxy_header`]),
//! the policy reads both and lets a request through only when every one
//! that is present says `https`. A refusal is 403 with a message that says
//! HTTPS is required.
//!
//! The server tells the policy about the connection through a
//! [`Connection`] in the request's extensions (the `hookgate` proxy, and
//! the adapters, put one there).
//!
//! ```
//! use std::net::IpAddr;
//! use hookgate::https::{Connection, HttpsPolicy};
//!
//! let policy = HttpsPolicy::new().trust_proxies(["10.0.0.0/8"]).unwrap();
//! let lb: IpAddr = "10.1.2.3".parse().unwrap();
//! let anyone: IpAddr = "203.0.113.9".parse().unwrap();
//! let xfp = vec![("x-forwarded-proto", "https")];
//! assert!(policy.check(&Connection::plain(lb), &xfp).is_ok());
//! assert!(policy.check(&Connection::plain(anyone), &xfp).is_err()); // spoofed
//! assert!(policy.check(&Connection::tls(anyone), &Vec::<(&str, &str)>::new()).is_ok());
//! ```

mod layer;

pub use layer::{RequireHttps, RequireHttpsLayer};

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

use crate::headers::Headers;
use crate::{ConfigError, Rejection};

/// What the server knows about a request's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection {
    /// The peer's address, when known.
    pub peer: Option<IpAddr>,
    /// Whether the connection itself is TLS.
    pub tls: bool,
}

impl Connection {
    /// A plain-text connection from `peer`.
    pub fn plain(peer: impl Into<IpAddr>) -> Self {
        Self {
            peer: Some(peer.into()),
            tls: false,
        }
    }

    /// A TLS connection from `peer`.
    pub fn tls(peer: impl Into<IpAddr>) -> Self {
        Self {
            peer: Some(peer.into()),
            tls: true,
        }
    }

    /// From a socket address.
    pub fn from_socket(peer: SocketAddr, tls: bool) -> Self {
        Self {
            peer: Some(peer.ip()),
            tls,
        }
    }
}

/// Which forwarding header the trusted proxies set, overwriting whatever a
/// client sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyHeader {
    /// Not said (the default): both are read, and every one present must
    /// say `https` (a client's copy of the header the proxy does not own
    /// cannot turn a plain request into an HTTPS one).
    #[default]
    Either,
    /// `Forwarded` (RFC 7239); `X-Forwarded-Proto` is ignored.
    Forwarded,
    /// `X-Forwarded-Proto`; `Forwarded` is ignored.
    XForwardedProto,
}

impl ProxyHeader {
    /// From a configuration value: `"forwarded"`, `"x-forwarded-proto"`, or
    /// `"either"`.
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "forwarded" => Some(Self::Forwarded),
            "x-forwarded-proto" => Some(Self::XForwardedProto),
            "either" => Some(Self::Either),
            _ => None,
        }
    }
}

/// When a request counts as HTTPS; see the [module docs](self).
#[derive(Debug, Clone, Default)]
pub struct HttpsPolicy {
    trusted: Vec<IpNet>,
    plain_loopback: bool,
    header: ProxyHeader,
}

impl HttpsPolicy {
    /// TLS connections only; no trusted proxies; no plain loopback.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts the forwarding headers of peers in these ranges (CIDR, or a
    /// single address). Refused when a range does not parse.
    pub fn trust_proxies<I>(mut self, ranges: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        for range in ranges {
            let range = range.as_ref().trim();
            let net = range
                .parse::<IpNet>()
                .or_else(|_| range.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| ConfigError::ProxyRange {
                    range: range.to_owned(),
                })?;
            self.trusted.push(net);
        }
        Ok(self)
    }

    /// Reads only the forwarding header the trusted proxies own (default:
    /// both, each present one must say `https`).
    #[must_use]
    pub fn proxy_header(mut self, header: ProxyHeader) -> Self {
        self.header = header;
        self
    }

    /// Lets plain HTTP from loopback through: for local development only.
    #[must_use]
    pub fn allow_plain_loopback_for_development(mut self, allow: bool) -> Self {
        self.plain_loopback = allow;
        self
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// Whether the request counts as HTTPS.
    pub fn check(&self, conn: &Connection, headers: &dyn Headers) -> Result<(), Rejection> {
        if conn.tls {
            return Ok(());
        }
        if let Some(peer) = conn.peer {
            if self.trusts(peer) && self.forwarded_https(headers) {
                return Ok(());
            }
            if self.plain_loopback && peer.is_loopback() {
                return Ok(());
            }
        }
        tracing::warn!(peer = ?conn.peer, "plain-HTTP webhook delivery refused: HTTPS is required");
        Err(Rejection::HttpsRequired)
    }

    /// What a trusted peer's forwarding headers say about the client's
    /// connection, read as [`ProxyHeader`] says.
    fn forwarded_https(&self, headers: &dyn Headers) -> bool {
        let forwarded = || self.forwarded_says_https(headers);
        let xfp = || Self::x_forwarded_proto_says_https(headers);
        match self.header {
            ProxyHeader::Forwarded => forwarded() == Some(true),
            ProxyHeader::XForwardedProto => xfp() == Some(true),
            ProxyHeader::Either => match (forwarded(), xfp()) {
                (None, None) => false,
                (a, b) => a != Some(false) && b != Some(false),
            },
        }
    }

    /// `Forwarded`, nearest hop first: `None` when absent.
    fn forwarded_says_https(&self, headers: &dyn Headers) -> Option<bool> {
        let mut hops: Vec<Hop> = Vec::new();
        headers.for_each_value("forwarded", &mut |v| {
            if let Ok(v) = std::str::from_utf8(v) {
                hops.extend(v.split(',').map(Hop::parse));
            }
        });
        if hops.is_empty() {
            return None;
        }
        // Step back over hops written about our trusted proxies, to the one
        // that faced the client.
        let mut i = hops.len() - 1;
        while i > 0 && hops[i].from.is_some_and(|ip| self.trusts(ip)) {
            i -= 1;
        }
        Some(hops[i].https)
    }

    /// `X-Forwarded-Proto`, nearest hop (the last value) first: `None` when
    /// absent.
    fn x_forwarded_proto_says_https(headers: &dyn Headers) -> Option<bool> {
        let mut last: Option<&[u8]> = None;
        headers.for_each_value("x-forwarded-proto", &mut |v| last = Some(v));
        let last = last?;
        Some(
            std::str::from_utf8(last)
                .ok()
                .and_then(|v| v.rsplit(',').next())
                .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https")),
        )
    }
}

/// One element of a `Forwarded` header.
#[derive(Debug, Default)]
struct Hop {
    from: Option<IpAddr>,
    https: bool,
}

impl Hop {
    fn parse(element: &str) -> Self {
        let mut hop = Hop::default();
        for pair in element.split(';') {
            let Some((key, value)) = pair.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"');
            match key.trim().to_ascii_lowercase().as_str() {
                "proto" => hop.https = value.eq_ignore_ascii_case("https"),
                "for" => hop.from = parse_node(value),
                _ => {}
            }
        }
        hop
    }
}

/// `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]`, `[2001:db8::1]:4711`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    node.parse()
        .ok()
        .or_else(|| node.rsplit_once(':').and_then(|(ip, _)| ip.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// (what it shows, connection, headers, passes)
    type Row<'a> = (&'a str, Connection, Vec<(&'a str, &'a str)>, bool);

    #[test]
    fn the_policy_decides_per_connection_peer_and_headers() {
        let policy = HttpsPolicy::new()
            .trust_proxies(["10.0.0.0/8", "192.0.2.7"])
            .unwrap();
        let none: Vec<(&str, &str)> = vec![];
        let lb = ip("10.9.8.7");
        let outsider = ip("198.51.100.4");
        let table: Vec<Row<'_>> = vec![
            ("TLS passes", Connection::tls(outsider), none.clone(), true),
            (
                "plain from outside fails",
                Connection::plain(outsider),
                none.clone(),
                false,
            ),
            (
                "spoofed XFP from outside fails",
                Connection::plain(outsider),
                vec![("x-forwarded-proto", "https")],
                false,
            ),
            (
                "spoofed Forwarded from outside fails",
                Connection::plain(outsider),
                vec![("forwarded", "proto=https")],
                false,
            ),
            (
                "trusted proxy with XFP https passes",
                Connection::plain(lb),
                vec![("x-forwarded-proto", "https")],
                true,
            ),
            (
                "single trusted address passes",
                Connection::plain(ip("192.0.2.7")),
                vec![("x-forwarded-proto", "HTTPS")],
                true,
            ),
            (
                "trusted proxy with XFP http fails",
                Connection::plain(lb),
                vec![("x-forwarded-proto", "http")],
                false,
            ),
            (
                "trusted proxy without headers fails",
                Connection::plain(lb),
                none.clone(),
                false,
            ),
            (
                "nearest XFP value counts",
                Connection::plain(lb),
                vec![("x-forwarded-proto", "https, http")],
                false,
            ),
            (
                "nearest XFP line counts",
                Connection::plain(lb),
                vec![
                    ("x-forwarded-proto", "http"),
                    ("x-forwarded-proto", "https"),
                ],
                true,
            ),
            (
                "Forwarded wins over XFP",
                Connection::plain(lb),
                vec![
                    ("forwarded", "for=203.0.113.1;proto=http"),
                    ("x-forwarded-proto", "https"),
                ],
                false,
            ),
            (
                "Forwarded https passes",
                Connection::plain(lb),
                vec![("forwarded", "for=203.0.113.1;proto=https")],
                true,
            ),
            (
                "chain: the hop facing the client counts",
                Connection::plain(lb),
                vec![(
                    "forwarded",
                    "for=203.0.113.1;proto=https, for=10.1.1.1;proto=http",
                )],
                true,
            ),
            (
                "chain: an untrusted middle hop stops the walk",
                Connection::plain(lb),
                vec![(
                    "forwarded",
                    "for=203.0.113.1;proto=https, for=198.51.100.9;proto=http",
                )],
                false,
            ),
            (
                "quoted IPv6 node",
                Connection::plain(lb),
                vec![("forwarded", "for=\"[2001:db8::1]:443\";proto=https")],
                true,
            ),
            (
                "loopback plain without the switch fails",
                Connection::plain(ip("127.0.0.1")),
                none.clone(),
                false,
            ),
            (
                "unknown peer fails",
                Connection {
                    peer: None,
                    tls: false,
                },
                vec![("x-forwarded-proto", "https")],
                false,
            ),
        ];
        for (name, conn, headers, pass) in table {
            assert_eq!(policy.check(&conn, &headers).is_ok(), pass, "{name}");
        }
        let dev = HttpsPolicy::new().allow_plain_loopback_for_development(true);
        assert!(dev
            .check(&Connection::plain(ip("127.0.0.1")), &none)
            .is_ok());
        assert!(dev.check(&Connection::plain(ip("::1")), &none).is_ok());
        assert!(dev.check(&Connection::plain(outsider), &none).is_err());
    }

    #[test]
    fn a_clients_copy_of_the_header_the_proxy_does_not_own_never_makes_plain_http_pass() {
        let lb = ip("10.9.8.7");
        let trusting = |header| {
            HttpsPolicy::new()
                .trust_proxies(["10.0.0.0/8"])
                .unwrap()
                .proxy_header(header)
        };
        // The balancer sets X-Forwarded-Proto and passes the client's
        // Forwarded through untouched.
        let plain_with_forged_forwarded =
            vec![("forwarded", "proto=https"), ("x-forwarded-proto", "http")];
        let tls_with_junk_forwarded =
            vec![("forwarded", "proto=http"), ("x-forwarded-proto", "https")];
        let xfp_only = vec![("x-forwarded-proto", "https")];
        let forwarded_only = vec![("forwarded", "proto=https")];
        for (header, headers, pass) in [
            (ProxyHeader::Either, &plain_with_forged_forwarded, false),
            (ProxyHeader::Either, &tls_with_junk_forwarded, false),
            (ProxyHeader::Either, &xfp_only, true),
            (ProxyHeader::Either, &forwarded_only, true),
            (
                ProxyHeader::XForwardedProto,
                &plain_with_forged_forwarded,
                false,
            ),
            (ProxyHeader::XForwardedProto, &tls_with_junk_forwarded, true),
            (ProxyHeader::XForwardedProto, &forwarded_only, false),
            (ProxyHeader::Forwarded, &plain_with_forged_forwarded, true),
            (ProxyHeader::Forwarded, &tls_with_junk_forwarded, false),
            (ProxyHeader::Forwarded, &xfp_only, false),
        ] {
            assert_eq!(
                trusting(header)
                    .check(&Connection::plain(lb), headers)
                    .is_ok(),
                pass,
                "{header:?} {headers:?}"
            );
        }
        assert_eq!(
            ProxyHeader::parse("X-Forwarded-Proto"),
            Some(ProxyHeader::XForwardedProto)
        );
        assert_eq!(
            ProxyHeader::parse("forwarded"),
            Some(ProxyHeader::Forwarded)
        );
        assert_eq!(ProxyHeader::parse("x-real-proto"), None);
    }

    #[test]
    fn a_bad_range_is_refused_with_its_text() {
        let err = HttpsPolicy::new()
            .trust_proxies(["10.0.0.0/33"])
            .unwrap_err();
        assert!(err.to_string().contains("10.0.0.0/33"));
    }

    #[test]
    fn the_refusal_is_403_and_says_https_is_required() {
        let r = Rejection::HttpsRequired;
        assert_eq!(r.status(), 403);
        assert!(r.message().contains("HTTPS is required"));
    }
}
