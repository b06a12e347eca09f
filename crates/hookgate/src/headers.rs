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
    fn for_each_value<'a>(&'a self, name: &str, f: &mut dyn FnMut(&'a [u8])) {
        for v in self.get_all(name) {
            f(v.as_bytes());
        }
    }
}

impl<H: Headers + ?Sized> Headers for &H {
    fn for_each_value<'a>(&'a self, name: &str, f: &mut dyn FnMut(&'a [u8])) {
        (**self).for_each_value(name, f)
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
}

impl<N: AsRef<str>, V: AsRef<[u8]>> Headers for Vec<(N, V)> {
    fn for_each_value<'a>(&'a self, name: &str, f: &mut dyn FnMut(&'a [u8])) {
        self.as_slice().for_each_value(name, f)
    }
}
