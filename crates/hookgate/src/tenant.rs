//! Secrets looked up per request: one route for many tenants, each with its
//! own secrets (and its own rotation overlap).
//!
//! The tenant is named by the request (a header, or a segment of the path);
//! an async lookup gives that tenant's [`Secrets`]. The rule is the same as
//! for one route's secrets: a lookup that finds nothing is a 401, never a
//! pass, and a request that names no tenant is a 401; a lookup that fails
//! is a 503 with `Retry-After`, so the sender retries.
//!
//! ```
//! use std::collections::HashMap;
//! use hookgate::tenant::{SecretLookup, TenantKey};
//! use hookgate::{scheme::GitHub, Secrets, Verifier};
//!
//! let tenants: HashMap<String, Secrets> = HashMap::from([
//!     ("acme".to_owned(), Secrets::new(["acme-new", "acme-old"]).unwrap()),
//! ]);
//! let lookup = move |tenant: String| {
//!     let found = tenants.get(&tenant).cloned();
//!     async move { Ok(found) }
//! };
//! let verifier = Verifier::per_tenant(GitHub, TenantKey::Header("x-tenant".into()), lookup).unwrap();
//! # let _ = verifier;
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::headers::{HeaderValue, Headers};
use crate::store::StoreError;
use crate::Secrets;

/// Which part of a request names its tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TenantKey {
    /// A request header (lowercase name), sent once and not empty.
    Header(String),
    /// The path segment at this index, from 0 (`/hooks/acme`: 1 is `acme`).
    PathSegment(usize),
}

impl TenantKey {
    /// The tenant `headers` and `path` name, if any.
    pub fn tenant(&self, headers: &dyn Headers, path: &str) -> Option<String> {
        let name = match self {
            TenantKey::Header(name) => match headers.header(name) {
                HeaderValue::One(v) => std::str::from_utf8(v).ok()?.trim().to_owned(),
                _ => return None,
            },
            TenantKey::PathSegment(index) => path
                .split('/')
                .filter(|s| !s.is_empty())
                .nth(*index)?
                .to_owned(),
        };
        (!name.is_empty()).then_some(name)
    }
}

/// The boxed future a lookup returns.
pub type LookupFuture = Pin<Box<dyn Future<Output = Result<Option<Secrets>, StoreError>> + Send>>;

/// Looks a tenant's secrets up: `Ok(None)` when the tenant has none.
/// Implemented for every `Fn(String) -> impl Future` of that output.
pub trait SecretLookup: Send + Sync + 'static {
    /// The secrets of `tenant`.
    fn secrets(&self, tenant: String) -> LookupFuture;
}

impl<F, Fut> SecretLookup for F
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<Secrets>, StoreError>> + Send + 'static,
{
    fn secrets(&self, tenant: String) -> LookupFuture {
        Box::pin(self(tenant))
    }
}

/// A route's tenant rule and lookup.
#[derive(Clone)]
pub(crate) struct Tenants {
    pub(crate) key: TenantKey,
    pub(crate) lookup: Arc<dyn SecretLookup>,
}

impl std::fmt::Debug for Tenants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenants")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tenant_is_read_from_its_header_or_path_segment_and_never_empty() {
        let headers = vec![("X-Tenant", " acme ")];
        let by_header = TenantKey::Header("x-tenant".into());
        assert_eq!(by_header.tenant(&headers, "/"), Some("acme".into()));
        let none: Vec<(&str, &str)> = vec![];
        assert_eq!(by_header.tenant(&none, "/"), None);
        let twice = vec![("x-tenant", "a"), ("x-tenant", "b")];
        assert_eq!(by_header.tenant(&twice, "/"), None);
        let empty = vec![("x-tenant", " ")];
        assert_eq!(by_header.tenant(&empty, "/"), None);
        let by_path = TenantKey::PathSegment(1);
        assert_eq!(
            by_path.tenant(&none, "/hooks/acme/github"),
            Some("acme".into())
        );
        assert_eq!(by_path.tenant(&none, "/hooks"), None);
    }
}
