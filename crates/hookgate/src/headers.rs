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
/// Implemented for [`http::HeaderMap`]; the actix adapter implements it for
/// actix's own map, so the verification core never depends on a framework.
pub trait Headers {
    /// Looks up `name` (lowercase ASCII).
    fn header(&self, name: &str) -> HeaderValue<'_>;
}

impl Headers for http::HeaderMap {
    fn header(&self, name: &str) -> HeaderValue<'_> {
        let mut values = self.get_all(name).iter();
        match (values.next(), values.next()) {
            (None, _) => HeaderValue::Absent,
            (Some(v), None) => HeaderValue::One(v.as_bytes()),
            (Some(_), Some(_)) => HeaderValue::Many,
        }
    }
}

impl<H: Headers + ?Sized> Headers for &H {
    fn header(&self, name: &str) -> HeaderValue<'_> {
        (**self).header(name)
    }
}

/// A list of `(name, value)` pairs, for tests and tools (names compared
/// without regard to case).
impl<N: AsRef<str>, V: AsRef<[u8]>> Headers for [(N, V)] {
    fn header(&self, name: &str) -> HeaderValue<'_> {
        let mut found = self
            .iter()
            .filter(|(n, _)| n.as_ref().eq_ignore_ascii_case(name));
        match (found.next(), found.next()) {
            (None, _) => HeaderValue::Absent,
            (Some((_, v)), None) => HeaderValue::One(v.as_ref()),
            (Some(_), Some(_)) => HeaderValue::Many,
        }
    }
}

impl<N: AsRef<str>, V: AsRef<[u8]>> Headers for Vec<(N, V)> {
    fn header(&self, name: &str) -> HeaderValue<'_> {
        self.as_slice().header(name)
    }
}
