//! `[route.tenants]`: one route for many tenants, each with its own
//! secrets, the tenant named by a header or by the `{tenant}` segment of
//! the route's path.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use hookgate::tenant::TenantKey;
use hookgate::Secrets;
use serde::Deserialize;
use toml::Spanned;

use super::config::{secret_values, ConfigError, SecretRef};

/// The placeholder for the tenant's segment.
pub(crate) const TENANT: &str = "{tenant}";

/// Where `path`'s `{tenant}` is, as the index of its segment (from 0, as
/// `TenantKey::PathSegment` counts); `Ok(None)` when it has none. A brace
/// anywhere else, or a second `{tenant}`, is refused with the reason.
pub(crate) fn tenant_segment(path: &str) -> Result<Option<usize>, String> {
    let mut found = None;
    for (index, segment) in path.split('/').filter(|s| !s.is_empty()).enumerate() {
        if segment == TENANT {
            if found.is_some() {
                return Err(format!("path {path:?} has {TENANT} twice; give it once"));
            }
            found = Some(index);
        } else if segment.contains(['{', '}']) {
            return Err(format!(
                "path {path:?}: the only placeholder is {TENANT}, as a whole segment \
                 (/webhooks/{TENANT}/github)"
            ));
        }
    }
    Ok(found)
}

/// `[route.tenants]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TenantsTable {
    /// The header that names the tenant.
    header: Option<String>,
    /// Refused with a pointer to `{tenant}` in the route's path (a route's
    /// path matches exactly, so a segment number alone matched one tenant).
    path_segment: Option<Spanned<usize>>,
    /// Each tenant's secrets: `acme = [{ env = "ACME_SECRET" }, ...]`.
    secrets: Spanned<BTreeMap<String, Spanned<Vec<Spanned<SecretRef>>>>>,
}

/// A checked `[route.tenants]`: the rule and every tenant's secrets.
#[derive(Clone)]
pub(crate) struct TenantsConfig {
    pub(crate) key: TenantKey,
    pub(crate) secrets: Arc<BTreeMap<String, Secrets>>,
}

impl std::fmt::Debug for TenantsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tenant names only: their secrets are never shown.
        f.debug_struct("TenantsConfig")
            .field("key", &self.key)
            .field("tenants", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Reads the table; `segment` is where the route's path has `{tenant}`,
/// if it does. Each tenant's secrets are checked in the scheme's form by
/// `check`.
pub(crate) fn tenants(
    text: &str,
    base: &Path,
    table: &Spanned<TenantsTable>,
    segment: Option<usize>,
    check: impl Fn(&Secrets) -> Result<(), hookgate::ConfigError>,
) -> Result<TenantsConfig, ConfigError> {
    let t = table.get_ref();
    if let Some(n) = &t.path_segment {
        return Err(ConfigError::at(
            text,
            n.span(),
            format!(
                "path_segment: put {TENANT} in the route's path where the tenant is \
                 (path = \"/webhooks/{TENANT}/github\") in place of path_segment"
            ),
        ));
    }
    let key = match (&t.header, segment) {
        (Some(h), None) if !h.trim().is_empty() => TenantKey::Header(h.to_ascii_lowercase()),
        (None, Some(i)) => TenantKey::PathSegment(i),
        (Some(_), Some(_)) => {
            return Err(ConfigError::at(
                text,
                table.span(),
                format!(
                    "[route.tenants] header: the route's path already names the tenant with \
                     {TENANT}; use one or the other"
                ),
            ))
        }
        _ => {
            return Err(ConfigError::at(
                text,
                table.span(),
                format!(
                    "[route.tenants] needs header = \"...\" or {TENANT} in the route's path \
                     (path = \"/webhooks/{TENANT}/github\")"
                ),
            ))
        }
    };
    if t.secrets.get_ref().is_empty() {
        return Err(ConfigError::at(
            text,
            t.secrets.span(),
            "[route.tenants] secrets lists no tenant",
        ));
    }
    let mut secrets = BTreeMap::new();
    for (tenant, refs) in t.secrets.get_ref() {
        let values = secret_values(text, base, refs)?;
        let list = Secrets::new(&values)
            .map_err(|e| ConfigError::at(text, refs.span(), format!("tenant {tenant:?}: {e}")))?;
        check(&list)
            .map_err(|e| ConfigError::at(text, refs.span(), format!("tenant {tenant:?}: {e}")))?;
        secrets.insert(tenant.clone(), list);
    }
    Ok(TenantsConfig {
        key,
        secrets: Arc::new(secrets),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_placeholder_other_than_one_whole_tenant_segment_is_refused() {
        assert_eq!(tenant_segment("/hooks/acme"), Ok(None));
        assert_eq!(tenant_segment("/webhooks/{tenant}/github"), Ok(Some(1)));
        for bad in [
            "/hooks/t-{tenant}",
            "/hooks/{id}",
            "/{tenant}/{tenant}",
            "/hooks/{",
        ] {
            assert!(tenant_segment(bad).is_err(), "{bad}");
        }
    }
}
