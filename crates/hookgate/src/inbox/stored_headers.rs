use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use crate::Headers;

/// A delivery's request headers, kept with its body in the inbox, so that a
/// worker can pass the delivery on as it arrived (`hookgate serve` forwards
/// them, signature included, to its upstream).
///
/// Kept: every end-to-end header. Left out: hop-by-hop headers
/// ([`is_hop_by_hop`](crate::is_hop_by_hop)), those the request's
/// `Connection` header names, and `content-length` (the body says it).
/// Stored as `name: value` lines; a header value never holds a line break.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct StoredHeaders(Bytes);

impl StoredHeaders {
    /// The end-to-end headers of `headers`.
    pub fn capture(headers: &dyn Headers) -> Self {
        let named = crate::connection_names(headers);
        let mut out = BytesMut::new();
        headers.for_each_header(&mut |name, value| {
            let lower = name.to_ascii_lowercase();
            let skip = crate::is_hop_by_hop(&lower)
                || lower == "content-length"
                || named.contains(&lower)
                || value.iter().any(|b| matches!(b, b'\r' | b'\n'));
            if !skip {
                out.put_slice(lower.as_bytes());
                out.put_slice(b": ");
                out.put_slice(value);
                out.put_u8(b'\n');
            }
        });
        Self(out.freeze())
    }

    /// Headers as a store returned them (the bytes of [`as_bytes`](Self::as_bytes)).
    pub fn from_stored(bytes: Bytes) -> Self {
        Self(bytes)
    }

    /// The stored form.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// Whether no header was kept.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Each `(name, value)`, in the order received.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        self.0.split(|b| *b == b'\n').filter_map(|line| {
            let colon = line.iter().position(|b| *b == b':')?;
            let name = std::str::from_utf8(&line[..colon]).ok()?;
            let value = line[colon + 1..]
                .strip_prefix(b" ")
                .unwrap_or(&line[colon + 1..]);
            Some((name, value))
        })
    }

    /// As an `http` header map (entries that are not valid headers are
    /// skipped).
    pub fn to_header_map(&self) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for (name, value) in self.iter() {
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_bytes(value),
            ) {
                map.append(name, value);
            }
        }
        map
    }
}

/// The stored headers can be read as the request's were (names are stored
/// lowercase).
impl Headers for StoredHeaders {
    fn for_each_value<'a>(&'a self, name: &str, f: &mut dyn FnMut(&'a [u8])) {
        for (n, v) in self.iter() {
            if n.eq_ignore_ascii_case(name) {
                f(v);
            }
        }
    }

    fn for_each_header(&self, f: &mut dyn FnMut(&str, &[u8])) {
        for (n, v) in self.iter() {
            f(n, v);
        }
    }
}

impl fmt::Debug for StoredHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: values may carry credentials.
        f.debug_list()
            .entries(self.iter().map(|(name, _)| name))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_to_end_headers_survive_a_round_trip_and_hop_by_hop_ones_are_left_out() {
        let headers = vec![
            ("Host", "example.com"),
            ("Connection", "keep-alive, X-Hop"),
            ("X-Hop", "only for this connection"),
            ("Content-Length", "12"),
            ("X-AEXO-Signature", "ab12"),
            ("Accept", "a"),
            ("accept", "b: with a colon"),
            ("x-empty", ""),
        ];
        let stored = StoredHeaders::capture(&headers);
        let again = StoredHeaders::from_stored(stored.as_bytes().clone());
        let kept: Vec<(&str, &[u8])> = again.iter().collect();
        assert_eq!(
            kept,
            vec![
                ("x-aexo-signature", &b"ab12"[..]),
                ("accept", b"a"),
                ("accept", b"b: with a colon"),
                ("x-empty", b""),
            ]
        );
        let map = again.to_header_map();
        assert_eq!(map.get_all("accept").iter().count(), 2);
        assert_eq!(map["x-aexo-signature"], "ab12");
        assert!(
            !format!("{again:?}").contains("ab12"),
            "values are not shown"
        );
    }

    #[test]
    fn no_headers_store_nothing() {
        let none: Vec<(&str, &str)> = Vec::new();
        assert!(StoredHeaders::capture(&none).is_empty());
        assert_eq!(StoredHeaders::default().iter().count(), 0);
    }
}
