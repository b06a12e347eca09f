//! Header access without tying the core to one HTTP library.

/// What a header lookup found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderValue<'a> {
    /// The header is absent.
    Absent,
    /// The header is present exactly once; its raw bytes.
    One(&'a [u8]),
    /// The header is present more than once.
    Many,
}

/// Read-only access to request headers by lowercase name.
///
/// Implemented for [`http::HeaderMap`] and for lists of `(name, value)`
/// pairs; the actix adapter implements it for actix's own map, so the
/// verification core never depends on a framework.
pub trait Headers {
    /// Calls `f` with each value of `name` (lowercase ASCII), in order.
    fn for_each_value<'a>(&'a self, name: &str, f: &mut dyn FnMut(&'a [u8]));

    /// Calls `f` with every header's name and value, in order (for the
    /// inbox, which keeps a delivery's headers with its body).
    fn for_each_header(&self, f: &mut dyn FnMut(&str, &[u8]));

    /// The single value of `name`, or whether it is absent or repeated.
    fn header(&self, name: &str) -> HeaderValue<'_> {
        let mut found = HeaderValue::Absent;
        self.for_each_value(name, &mut |v| {
            found = match found {
                HeaderValue::Absent => HeaderValue::One(v),
                _ => HeaderValue::Many,
            }
        });
        found
    }
}

impl Headers for http::HeaderMap {
    /// A scan of the map rather than `get_all(name)`: a lookup by `&str`
    /// first validates and classifies the name (about 300 instructions),
    /// while a request's few headers are compared in a fraction of that.
    /// Above [`SCAN_LIMIT`] entries the map's hash lookup is used. Names
    /// match without regard to case and the values come in the same order
    /// either way.
    fn for_each_value<'a>(&'a self, name: &str, f: &mut dyn FnMut(&'a [u8])) {
        if self.len() > SCAN_LIMIT {
            for v in self.get_all(name) {
                f(v.as_bytes());
            }
            return;
        }
        for (n, v) in self {
            if n.as_str() == name || n.as_str().eq_ignore_ascii_case(name) {
                f(v.as_bytes());
            }
        }
    }

    fn for_each_header(&self, f: &mut dyn FnMut(&str, &[u8])) {
        for (name, value) in self {
            f(name.as_str(), value.as_bytes());
        }
    }
}

/// Up to this many header values, [`http::HeaderMap`] lookups scan the map.
const SCAN_LIMIT: usize = 24;

impl<H: Headers + ?Sized> Headers for &H {
    fn for_each_value<'a>(&'a self, name: &str, f: &mut dyn FnMut(&'a [u8])) {
        (**self).for_each_value(name, f)
    }

    fn for_each_header(&self, f: &mut dyn FnMut(&str, &[u8])) {
        (**self).for_each_header(f)
    }
}

/// A list of `(name, value)` pairs, for tests and tools (names compared
/// without regard to case).
impl<N: AsRef<str>, V: AsRef<[u8]>> Headers for [(N, V)] {
    fn for_each_value<'a>(&'a self, name: &str, f: &mut dyn FnMut(&'a [u8])) {
        for (n, v) in self {
            if n.as_ref().eq_ignore_ascii_case(name) {
                f(v.as_ref());
            }
        }
    }

    fn for_each_header(&self, f: &mut dyn FnMut(&str, &[u8])) {
        for (n, v) in self {
            f(n.as_ref(), v.as_ref());
        }
    }
}

impl<N: AsRef<str>, V: AsRef<[u8]>> Headers for Vec<(N, V)> {
    fn for_each_value<'a>(&'a self, name: &str, f: &mut dyn FnMut(&'a [u8])) {
        self.as_slice().for_each_value(name, f)
    }

    fn for_each_header(&self, f: &mut dyn FnMut(&str, &[u8])) {
        self.as_slice().for_each_header(f)
    }
}

/// Whether `name` (lowercase) belongs to one connection rather than to the
/// message (RFC 9110 section 7.6.1, plus `host`): a proxy or a store does
/// not pass it on. Headers that a message's `Connection` header names are
/// hop-by-hop too; see [`connection_names`].
pub fn is_hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
    )
}

/// The header names listed in `headers`' `Connection` values, lowercase.
pub fn connection_names(headers: &dyn Headers) -> Vec<String> {
    let mut names = Vec::new();
    headers.for_each_value("connection", &mut |value| {
        for token in String::from_utf8_lossy(value).split(',') {
            let token = token.trim();
            if !token.is_empty() {
                names.push(token.to_ascii_lowercase());
            }
        }
    });
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{HeaderMap, HeaderName, HeaderValue as Value};

    fn values(map: &HeaderMap, name: &str) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        map.for_each_value(name, &mut |v| out.push(v.to_vec()));
        out
    }

    /// A map with `filler` other headers around two `x-sig` values and one
    /// `content-type`.
    fn map(filler: usize) -> HeaderMap {
        let mut map = HeaderMap::new();
        for i in 0..filler / 2 {
            map.insert(
                HeaderName::try_from(format!("x-a-{i}")).unwrap(),
                Value::from_static("a"),
            );
        }
        map.append("x-sig", Value::from_static("first"));
        map.insert("content-type", Value::from_static("application/json"));
        for i in 0..filler - filler / 2 {
            map.insert(
                HeaderName::try_from(format!("x-b-{i}")).unwrap(),
                Value::from_static("b"),
            );
        }
        map.append("x-sig", Value::from_static("second"));
        map
    }

    #[test]
    fn a_scanned_map_and_a_hashed_one_find_the_same_values_in_order_in_any_case() {
        for filler in [0, 3, SCAN_LIMIT - 3, SCAN_LIMIT + 10] {
            let map = map(filler);
            assert_eq!(map.len() > SCAN_LIMIT, filler > SCAN_LIMIT - 3, "{filler}");
            let sig = vec![b"first".to_vec(), b"second".to_vec()];
            for name in ["x-sig", "X-Sig", "X-SIG"] {
                assert_eq!(values(&map, name), sig, "{name}, {filler} others");
            }
            assert_eq!(map.header("x-sig"), super::HeaderValue::Many);
            assert_eq!(
                map.header("Content-Type"),
                super::HeaderValue::One(b"application/json")
            );
            assert_eq!(map.header("x-si"), super::HeaderValue::Absent);
            assert_eq!(map.header("x-sig2"), super::HeaderValue::Absent);
        }
    }
}
