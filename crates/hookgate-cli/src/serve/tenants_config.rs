//! `[route.tenants]`: one route for many tenants, each with its own
//! secrets, the tenant named by a header or a path segment.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use hookgate::tenant::TenantKey;
use hookgate::Secrets;
use serde::Deserialize;
use toml::Spanned;

use super::config::{secret_values, ConfigError, SecretRef};

/// `[route.tenants]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TenantsTable {
    /// The header that names the tenant.
    header: Option<String>,
    /// Or the path segment (from 0) that names it.
    path_segment: Option<usize>,
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

/// Reads the table; each tenant's secrets are checked in the scheme's form
/// by `check`.
pub(crate) fn tenants(
    text: &str,
    base: &Path,
    table: &Spanned<TenantsTable>,
    check: impl Fn(&Secrets) -> Result<(), hookgate::ConfigError>,
) -> Result<TenantsConfig, ConfigError> {
    let t = table.get_ref();
    let key = match (&t.header, t.path_segment) {
        (Some(h), None) if !h.trim().is_empty() => TenantKey::Header(h.to_ascii_lowercase()),
        (None, Some(i)) => TenantKey::PathSegment(i),
        _ => {
            return Err(ConfigError::at(
                text,
                table.span(),
                "[route.tenants] needs exactly one of header = \"...\" or path_segment = N",
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
