//! A route's `path`: matched exactly, or, on a per-tenant route, with one
//! whole segment `{tenant}` that matches any tenant's name
//! (`/webhooks/{tenant}/github` matches `/webhooks/acme/github`).

use super::tenants_config::TENANT;

/// A route's path, ready to match request paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RoutePath {
    /// Matches this path alone.
    Exact(String),
    /// Matches `{before}{tenant}{after}`, the tenant without a `/`.
    Tenant { before: String, after: String },
}

/// How a request path matches a route.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Match {
    /// The route's path, or a tenant's on a per-tenant route.
    Route,
    /// A per-tenant route's path with the tenant's segment empty.
    NoTenant,
}

impl RoutePath {
    /// `path` as checked by the configuration.
    pub(crate) fn new(path: &str) -> Self {
        match path.split_once(TENANT) {
            Some((before, after)) => Self::Tenant {
                before: before.to_owned(),
                after: after.to_owned(),
            },
            None => Self::Exact(path.to_owned()),
        }
    }

    /// Whether `path` (a request's, without its query) is this route's.
    pub(crate) fn matches(&self, path: &str) -> Option<Match> {
        match self {
            Self::Exact(p) => (p == path).then_some(Match::Route),
            Self::Tenant { before, after } => {
                let tenant = path
                    .strip_prefix(before.as_str())?
                    .strip_suffix(after.as_str())?;
                // `before` ends with `/` and `after` is empty or starts with
                // one, so the tenant is the whole segment or nothing.
                if tenant.contains('/') {
                    None
                } else if tenant.is_empty() {
                    Some(Match::NoTenant)
                } else {
                    Some(Match::Route)
                }
            }
        }
    }
}

/// The route of `routes` that `path` is for: a route with this exact path,
/// else the first `{tenant}` route that matches it.
pub(crate) fn pick<'a, T>(routes: &'a [(RoutePath, T)], path: &str) -> Option<(Match, &'a T)> {
    routes
        .iter()
        .find(|(p, _)| matches!(p, RoutePath::Exact(exact) if exact == path))
        .map(|(_, route)| (Match::Route, route))
        .or_else(|| {
            routes
                .iter()
                .find_map(|(p, route)| Some((p.matches(path)?, route)))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_path_matches_every_tenants_segment_and_nothing_else() {
        let route = RoutePath::new("/webhooks/{tenant}/github");
        for (path, want) in [
            ("/webhooks/acme/github", Some(Match::Route)),
            ("/webhooks/globex/github", Some(Match::Route)),
            ("/webhooks//github", Some(Match::NoTenant)),
            ("/webhooks/github", None),
            ("/webhooks/a/b/github", None),
            ("/webhooks/acme/github/", None),
            ("/webhooks/acme/gitlab", None),
            ("/other/acme/github", None),
        ] {
            assert_eq!(route.matches(path), want, "{path}");
        }
        let last = RoutePath::new("/hooks/{tenant}");
        assert_eq!(last.matches("/hooks/acme"), Some(Match::Route));
        assert_eq!(last.matches("/hooks/"), Some(Match::NoTenant));
        assert_eq!(last.matches("/hooks"), None);
        assert_eq!(last.matches("/hooks/acme/x"), None);
        let routes = [
            (RoutePath::new("/hooks/{tenant}"), "tenants"),
            (RoutePath::new("/hooks/legacy"), "legacy"),
        ];
        assert_eq!(
            pick(&routes, "/hooks/legacy"),
            Some((Match::Route, &"legacy"))
        );
        assert_eq!(
            pick(&routes, "/hooks/acme"),
            Some((Match::Route, &"tenants"))
        );
        assert_eq!(
            pick(&routes, "/hooks/"),
            Some((Match::NoTenant, &"tenants"))
        );
        assert_eq!(pick(&routes, "/other"), None);
        let exact = RoutePath::new("/hooks/acme");
        assert_eq!(exact.matches("/hooks/acme"), Some(Match::Route));
        assert_eq!(exact.matches("/hooks/acme/"), None);
    }
}
