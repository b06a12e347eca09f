//! `hookgate.toml`: parsed with line numbers, so a bad file is refused at
//! start with the line and the reason.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

/// The proxy answers this path itself (`ok`), so no route may use it.
pub(crate) const HEALTH_PATH: &str = "/healthz";

/// The most ids the memory dedupe store may hold (about 1 GB).
const MAX_MEMORY_CAPACITY: usize = 10_000_000;

/// A configuration error: where and why.
#[derive(Debug)]
pub(crate) struct ConfigError {
    pub(crate) line: Option<usize>,
    pub(crate) message: String,
}

impl ConfigError {
    pub(crate) fn at(text: &str, span: std::ops::Range<usize>, message: impl Into<String>) -> Self {
        Self {
            line: Some(line_of(text, span)),
            message: message.into(),
        }
    }

    /// An error found while starting, at `line` when known.
    pub(crate) fn starting(line: Option<usize>, message: impl Into<String>) -> Self {
        Self {
            line,
            message: message.into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    server: Server,
    #[serde(default)]
    dedupe: Option<Spanned<Dedupe>>,
    #[serde(rename = "route", default)]
    routes: Vec<Spanned<Route>>,
    #[serde(default)]
    inbox: Option<Spanned<InboxSection>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Server {
    listen: Spanned<String>,
    tls: Option<Spanned<Tls>>,
    #[serde(default)]
    trusted_proxies: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    allow_plain_loopback: bool,
    proxy_header: Option<Spanned<String>>,
    deadline_secs: Option<Spanned<f64>>,
    #[serde(default)]
    log_format: Option<Spanned<String>>,
    handshake_timeout_secs: Option<Spanned<f64>>,
    header_read_timeout_secs: Option<Spanned<f64>>,
    idle_timeout_secs: Option<Spanned<f64>>,
    shutdown_grace_secs: Option<Spanned<f64>>,
    max_connections: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Tls {
    cert: PathBuf,
    key: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Dedupe {
    store: Spanned<String>,
    redis_url: Option<Spanned<String>>,
    key_prefix: Option<String>,
    capacity: Option<Spanned<i64>>,
    op_timeout_secs: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Route {
    path: Spanned<String>,
    scheme: Spanned<String>,
    hmac: Option<Spanned<super::scheme_config::HmacTable>>,
    /// The URL the sender calls, for schemes that sign it (Square, Twilio).
    public_url: Option<Spanned<String>>,
    /// Endpoint handshakes answered without the upstream.
    handshakes: Option<Spanned<Vec<String>>>,
    /// Meta's verify token, for its `hub.challenge` GET.
    meta_verify_token: Option<Spanned<SecretRef>>,
    /// Pass deliveries that fail verification on, logged and counted.
    report_only: Option<Spanned<bool>>,
    /// At most this many deliveries forwarded at once; more get 503.
    max_concurrent_handlers: Option<Spanned<i64>>,
    /// The route's secrets (or `[route.tenants]`, per tenant).
    secrets: Option<Spanned<Vec<Spanned<SecretRef>>>>,
    tenants: Option<Spanned<super::tenants_config::TenantsTable>>,
    upstream: Spanned<String>,
    max_body_bytes: Option<usize>,
    freshness_secs: Option<u64>,
    #[serde(default)]
    ack: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InboxSection {
    store: Spanned<String>,
    dir: Option<Spanned<PathBuf>>,
    redis_url: Option<Spanned<String>>,
    key_prefix: Option<String>,
    workers: Option<Spanned<i64>>,
    attempt_timeout_secs: Option<Spanned<f64>>,
    lease_secs: Option<Spanned<f64>>,
    keep_done_bodies: Option<bool>,
    trust_operator: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SecretRef {
    env: Option<String>,
    file: Option<PathBuf>,
}

/// The checked configuration.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) listen: SocketAddr,
    pub(crate) tls: Option<(PathBuf, PathBuf)>,
    pub(crate) trusted_proxies: Vec<String>,
    /// The forwarding header the trusted proxies own.
    pub(crate) proxy_header: hookgate::https::ProxyHeader,
    pub(crate) allow_plain_loopback: bool,
    pub(crate) deadline: Option<Duration>,
    pub(crate) json_logs: bool,
    /// Connection bounds: handshake, header read, idle, count, shutdown.
    pub(crate) limits: hookgate_axum::ServerLimits,
    pub(crate) store: StoreConfig,
    pub(crate) routes: Vec<RouteConfig>,
    pub(crate) inbox: Option<InboxConfig>,
    /// Lines of the settings whose mistakes show only at start (a TLS file,
    /// a Redis server, a folder), for the error message.
    pub(crate) lines: Lines,
}

/// Where settings are in the file (1-based lines).
#[derive(Debug, Default, Clone)]
pub(crate) struct Lines {
    pub(crate) listen: Option<usize>,
    pub(crate) tls: Option<usize>,
    pub(crate) dedupe_redis: Option<usize>,
    pub(crate) inbox_store: Option<usize>,
}

pub(crate) fn line_of(text: &str, span: std::ops::Range<usize>) -> usize {
    text[..span.start.min(text.len())].matches('\n').count() + 1
}

#[derive(Debug)]
pub(crate) enum StoreConfig {
    Memory {
        capacity: usize,
    },
    Redis {
        url: String,
        key_prefix: Option<String>,
        /// Bound on one Redis operation (the store's default when unset).
        op_timeout: Option<Duration>,
    },
}

/// A checked route. `secrets` holds the secret values (never logged).
pub(crate) struct RouteConfig {
    pub(crate) path: String,
    pub(crate) scheme: std::sync::Arc<dyn hookgate::scheme::Scheme>,
    /// The URL the sender calls, for schemes that sign it.
    pub(crate) public_url: Option<String>,
    /// Endpoint handshakes answered without the upstream.
    pub(crate) handshakes: Vec<hookgate::handshake::Handshake>,
    /// Deliveries that fail verification are passed on (never the default).
    pub(crate) report_only: bool,
    /// Per-tenant secrets, in place of `secrets` (then empty).
    pub(crate) tenants: Option<super::tenants_config::TenantsConfig>,
    /// At most this many deliveries forwarded at once.
    pub(crate) max_concurrent_handlers: Option<usize>,
    pub(crate) secrets: Vec<String>,
    pub(crate) upstream: http::Uri,
    pub(crate) max_body_bytes: Option<usize>,
    pub(crate) freshness: Option<Duration>,
    /// Acknowledge once stored in the inbox (instead of after the upstream).
    pub(crate) inbox: bool,
}

/// Where inbox routes store events, and how their workers run.
#[derive(Debug)]
pub(crate) struct InboxConfig {
    pub(crate) store: InboxStoreConfig,
    pub(crate) workers: usize,
    pub(crate) attempt_timeout: Duration,
    pub(crate) lease: Duration,
    /// Keep a handled event's body (replayable) until its marker is pruned.
    pub(crate) keep_done_bodies: bool,
}

#[derive(Debug)]
pub(crate) enum InboxStoreConfig {
    Sqlite {
        dir: PathBuf,
    },
    Redis {
        url: String,
        key_prefix: String,
        /// Skip reading the server's durability settings (managed servers
        /// that hide `CONFIG`); logged at start.
        trust_operator: bool,
    },
}

impl std::fmt::Debug for RouteConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteConfig")
            .field("path", &self.path)
            .field("scheme", &self.scheme.name())
            .field("secrets", &self.secrets.len())
            .field("upstream", &self.upstream)
            .finish()
    }
}

/// Reads and checks `path`.
pub(crate) fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        line: None,
        message: format!("cannot read {}: {e}", path.display()),
    })?;
    parse(&text, path.parent().unwrap_or(Path::new(".")))
}

/// Checks a configuration's text; relative file paths are taken from `base`.
/// The sections are checked in the order below; the first mistake found is
/// the one reported.
pub(crate) fn parse(text: &str, base: &Path) -> Result<Config, ConfigError> {
    let file: File = toml::from_str(text).map_err(|e| ConfigError {
        line: e.span().map(|s| line_of(text, s)),
        message: e.message().trim().to_owned(),
    })?;
    let server = server_section(text, base, file.server)?;
    let (store, dedupe_redis) = dedupe_section(text, file.dedupe.as_ref())?;
    let routes = route_sections(text, base, &file.routes, file.inbox.is_some())?;
    let (inbox, inbox_store) = match &file.inbox {
        Some(section) => {
            let (inbox, line) = inbox_section(text, base, section)?;
            (Some(inbox), Some(line))
        }
        None => (None, None),
    };
    Ok(Config {
        listen: server.listen,
        tls: server.tls,
        trusted_proxies: server.trusted_proxies,
        proxy_header: server.proxy_header,
        allow_plain_loopback: server.allow_plain_loopback,
        deadline: server.deadline,
        json_logs: server.json_logs,
        limits: server.limits,
        store,
        routes,
        inbox,
        lines: Lines {
            listen: Some(server.listen_line),
            tls: server.tls_line,
            dedupe_redis,
            inbox_store,
        },
    })
}

/// The checked `[server]` section.
struct ServerSection {
    listen: SocketAddr,
    tls: Option<(PathBuf, PathBuf)>,
    trusted_proxies: Vec<String>,
    proxy_header: hookgate::https::ProxyHeader,
    allow_plain_loopback: bool,
    deadline: Option<Duration>,
    json_logs: bool,
    limits: hookgate_axum::ServerLimits,
    listen_line: usize,
    tls_line: Option<usize>,
}

/// `[server]`: each setting checked in turn.
fn server_section(text: &str, base: &Path, server: Server) -> Result<ServerSection, ConfigError> {
    Ok(ServerSection {
        listen: listen(text, &server.listen)?,
        trusted_proxies: trusted_proxies(text, server.trusted_proxies.as_ref())?,
        proxy_header: proxy_header(text, server.proxy_header.as_ref())?,
        deadline: deadline(text, server.deadline_secs.as_ref())?,
        json_logs: log_format(text, server.log_format.as_ref())?,
        limits: server_limits(text, &server)?,
        allow_plain_loopback: server.allow_plain_loopback,
        listen_line: line_of(text, server.listen.span()),
        tls_line: server.tls.as_ref().map(|t| line_of(text, t.span())),
        tls: tls(base, server.tls),
    })
}

/// `listen = "HOST:PORT"`.
fn listen(text: &str, listen: &Spanned<String>) -> Result<SocketAddr, ConfigError> {
    listen.get_ref().parse::<SocketAddr>().map_err(|e| {
        ConfigError::at(
            text,
            listen.span(),
            format!("listen = {:?}: {e} (want HOST:PORT)", listen.get_ref()),
        )
    })
}

/// `tls = { cert, key }`: the two files, relative to `base` (read at start).
fn tls(base: &Path, tls: Option<Spanned<Tls>>) -> Option<(PathBuf, PathBuf)> {
    let tls = tls?.into_inner();
    Some((base.join(tls.cert), base.join(tls.key)))
}

/// `trusted_proxies = [...]`, checked as the HTTPS policy will take them.
fn trusted_proxies(
    text: &str,
    list: Option<&Spanned<Vec<String>>>,
) -> Result<Vec<String>, ConfigError> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    hookgate::https::HttpsPolicy::new()
        .trust_proxies(list.get_ref())
        .map_err(|e| ConfigError::at(text, list.span(), e.to_string()))?;
    Ok(list.get_ref().clone())
}

/// `proxy_header`: the forwarding header the trusted proxies own.
fn proxy_header(
    text: &str,
    name: Option<&Spanned<String>>,
) -> Result<hookgate::https::ProxyHeader, ConfigError> {
    let Some(name) = name else {
        return Ok(hookgate::https::ProxyHeader::default());
    };
    hookgate::https::ProxyHeader::parse(name.get_ref()).ok_or_else(|| {
        ConfigError::at(
            text,
            name.span(),
            format!(
                "proxy_header = {:?}: use \"x-forwarded-proto\", \"forwarded\" or \"either\"",
                name.get_ref()
            ),
        )
    })
}

/// `deadline_secs`: at least 1 s, and a deadline the verifier accepts.
fn deadline(text: &str, secs: Option<&Spanned<f64>>) -> Result<Option<Duration>, ConfigError> {
    let Some(secs) = secs else {
        return Ok(None);
    };
    let d = Duration::try_from_secs_f64(*secs.get_ref())
        .map_err(|e| ConfigError::at(text, secs.span(), format!("deadline_secs: {e}")))?;
    if d < Duration::from_secs(1) {
        return Err(ConfigError::at(
            text,
            secs.span(),
            format!(
                "deadline_secs = {}: at least 1 second (a shorter deadline fails every delivery)",
                secs.get_ref()
            ),
        ));
    }
    hookgate::Verifier::check_handler_deadline(d)
        .map_err(|e| ConfigError::at(text, secs.span(), e.to_string()))?;
    Ok(Some(d))
}

/// `log_format`: whether logs are JSON (`"json"`) or text (`"text"`, the default).
fn log_format(text: &str, format: Option<&Spanned<String>>) -> Result<bool, ConfigError> {
    let Some(format) = format else {
        return Ok(false);
    };
    match format.get_ref().as_str() {
        "json" => Ok(true),
        "text" => Ok(false),
        _ => Err(not_one_of(
            text,
            format,
            "log_format",
            "\"text\" or \"json\"",
        )),
    }
}

/// `[dedupe]`: the store (memory with the default capacity when the section
/// is absent), and the line of its `redis_url`.
fn dedupe_section(
    text: &str,
    section: Option<&Spanned<Dedupe>>,
) -> Result<(StoreConfig, Option<usize>), ConfigError> {
    let Some(section) = section else {
        let capacity = hookgate::dedupe::DEFAULT_CAPACITY;
        return Ok((StoreConfig::Memory { capacity }, None));
    };
    let d = section.get_ref();
    match d.store.get_ref().as_str() {
        "memory" => {
            let capacity = match &d.capacity {
                None => hookgate::dedupe::DEFAULT_CAPACITY,
                Some(c) => count(text, c, 1..=MAX_MEMORY_CAPACITY, |c| {
                    format!(
                        "capacity = {c}: give 1 to {MAX_MEMORY_CAPACITY} ids (about 100 bytes each); \
                         for more, use store = \"redis\""
                    )
                })?,
            };
            Ok((StoreConfig::Memory { capacity }, None))
        }
        "redis" => {
            let url = redis_url(text, section.span(), d.redis_url.as_ref())?;
            let op_timeout = match &d.op_timeout_secs {
                Some(v) => Some(seconds(text, "op_timeout_secs", v, 0.05)?),
                None => None,
            };
            let store = StoreConfig::Redis {
                url: url.get_ref().clone(),
                key_prefix: d.key_prefix.clone(),
                op_timeout,
            };
            Ok((store, Some(line_of(text, url.span()))))
        }
        _ => Err(not_one_of(
            text,
            &d.store,
            "store",
            "\"memory\" or \"redis\"",
        )),
    }
}

/// Every `[[route]]`, in order: at least one, no path twice.
fn route_sections(
    text: &str,
    base: &Path,
    routes: &[Spanned<Route>],
    has_inbox: bool,
) -> Result<Vec<RouteConfig>, ConfigError> {
    if routes.is_empty() {
        return Err(ConfigError {
            line: None,
            message: "no [[route]]: the proxy would verify nothing".into(),
        });
    }
    let mut checked = Vec::new();
    for route in routes {
        let route = route_section(text, base, route.get_ref(), &checked, has_inbox)?;
        checked.push(route);
    }
    Ok(checked)
}

/// One `[[route]]`; `earlier` are the routes above it in the file.
fn route_section(
    text: &str,
    base: &Path,
    r: &Route,
    earlier: &[RouteConfig],
    has_inbox: bool,
) -> Result<RouteConfig, ConfigError> {
    let scheme = super::scheme_config::route_scheme(text, &r.scheme, r.hmac.as_ref())?;
    let tenant_segment = route_path(text, &r.path, earlier)?;
    if tenant_segment.is_some() && r.tenants.is_none() {
        return Err(ConfigError::at(
            text,
            r.path.span(),
            format!(
                "path {:?} has {}: give a [route.tenants] table with each tenant's secrets",
                r.path.get_ref(),
                super::tenants_config::TENANT
            ),
        ));
    }
    let upstream = upstream(text, &r.upstream)?;
    let (secrets, secrets_span) = match (&r.secrets, &r.tenants) {
        (Some(list), None) => (secret_values(text, base, list)?, list.span()),
        (None, Some(table)) => (Vec::new(), table.span()),
        (Some(list), Some(_)) => {
            return Err(ConfigError::at(
                text,
                list.span(),
                "give secrets or [route.tenants], not both",
            ))
        }
        (None, None) => {
            return Err(ConfigError::at(
                text,
                r.path.span(),
                "the route has no secrets: give secrets = [...] or a [route.tenants] table",
            ))
        }
    };
    let public_url = match (&r.public_url, scheme.signs_url()) {
        (Some(url), true) => {
            let probe = hookgate::Secrets::single("probe").and_then(|s| {
                hookgate::Verifier::with_public_url(scheme.clone(), s, url.get_ref()).map(|_| ())
            });
            if let Err(e) = probe {
                return Err(ConfigError::at(text, url.span(), e.to_string()));
            }
            Some(url.get_ref().clone())
        }
        (None, true) => {
            return Err(ConfigError::at(
                text,
                r.scheme.span(),
                format!(
                    "{} signs the URL it calls: set public_url to that URL, as configured at the \
                     sender (behind a proxy the request's own URL is not it)",
                    scheme.name()
                ),
            ))
        }
        (Some(url), false) => {
            return Err(ConfigError::at(
                text,
                url.span(),
                format!("{} does not sign a URL: remove public_url", scheme.name()),
            ))
        }
        (None, false) => None,
    };
    // The secrets in the scheme's form (a Standard Webhooks secret is base64).
    let verifier_of = |s: hookgate::Secrets| match &public_url {
        Some(url) => hookgate::Verifier::with_public_url(scheme.clone(), s, url),
        None => hookgate::Verifier::new(scheme.clone(), s),
    };
    let tenants = match &r.tenants {
        Some(table) if public_url.is_some() => {
            return Err(ConfigError::at(
                text,
                table.span(),
                "per-tenant routes of schemes that sign the URL are not supported",
            ))
        }
        Some(table) => Some(super::tenants_config::tenants(
            text,
            base,
            table,
            tenant_segment,
            |s| verifier_of(s.clone()).map(|_| ()),
        )?),
        None => None,
    };
    let probe_secrets = match &tenants {
        Some(t) => t
            .secrets
            .values()
            .next()
            .cloned()
            .ok_or(hookgate::ConfigError::NoSecret),
        None => hookgate::Secrets::new(&secrets),
    };
    let probe = probe_secrets
        .and_then(verifier_of)
        .map_err(|e| ConfigError::at(text, secrets_span, e.to_string()))?;
    let handshakes = handshakes(text, base, r, probe)?;
    let inbox = ack(text, r.ack.as_ref(), has_inbox)?;
    let max_concurrent_handlers = match &r.max_concurrent_handlers {
        None => None,
        Some(n) => match usize::try_from(*n.get_ref()) {
            Ok(max @ 1..=1_000_000) => Some(max),
            _ => {
                return Err(ConfigError::at(
                    text,
                    n.span(),
                    format!(
                        "max_concurrent_handlers = {}: give 1 to 1000000",
                        n.get_ref()
                    ),
                ))
            }
        },
    };
    let report_only = match &r.report_only {
        Some(flag) if *flag.get_ref() && inbox => {
            return Err(ConfigError::at(
                text,
                flag.span(),
                "report_only cannot be used with ack = \"inbox\": the inbox stores verified \
                 events only",
            ))
        }
        Some(flag) => *flag.get_ref(),
        None => false,
    };
    Ok(RouteConfig {
        inbox,
        path: r.path.get_ref().clone(),
        scheme,
        public_url,
        handshakes,
        report_only,
        tenants,
        max_concurrent_handlers,
        secrets,
        upstream,
        max_body_bytes: r.max_body_bytes,
        freshness: r.freshness_secs.map(Duration::from_secs),
    })
}

/// `handshakes = [...]` and `meta_verify_token`, each checked against the
/// route's scheme on `probe`.
fn handshakes(
    text: &str,
    base: &Path,
    r: &Route,
    mut probe: hookgate::Verifier,
) -> Result<Vec<hookgate::handshake::Handshake>, ConfigError> {
    use hookgate::handshake::Handshake;
    let mut out = Vec::new();
    if let Some(names) = &r.handshakes {
        for name in names.get_ref() {
            let h = match name.as_str() {
                "slack_url_verification" => Handshake::SlackUrlVerification,
                "zoom_url_validation" => Handshake::ZoomUrlValidation,
                "discord_ping" => Handshake::DiscordPing,
                "graph_validation" => Handshake::GraphValidation,
                "dropbox_challenge" => Handshake::DropboxChallenge,
                other => {
                    return Err(ConfigError::at(
                        text,
                        names.span(),
                        format!(
                            "unknown handshake {other:?}: use slack_url_verification, \
                             zoom_url_validation, discord_ping, graph_validation or \
                             dropbox_challenge (Meta: set meta_verify_token)"
                        ),
                    ))
                }
            };
            probe = probe
                .handshake(h.clone())
                .map_err(|e| ConfigError::at(text, names.span(), e.to_string()))?;
            out.push(h);
        }
    }
    if let Some(token) = &r.meta_verify_token {
        out.push(Handshake::MetaVerifyToken(secret_value(text, base, token)?));
    }
    Ok(out)
}

/// `path`: absolute, a path alone, not the health check, not routed above,
/// with at most one `{tenant}` segment (its index is returned).
fn route_path(
    text: &str,
    path: &Spanned<String>,
    earlier: &[RouteConfig],
) -> Result<Option<usize>, ConfigError> {
    let p = path.get_ref();
    let refused = if !p.starts_with('/') {
        Some("path must start with /".to_owned())
    } else if p.contains(['?', '#']) {
        Some(format!(
            "path {p:?}: routes match the path alone; remove the query or fragment"
        ))
    } else if p == HEALTH_PATH {
        Some(format!(
            "path {p:?} is the proxy's own health check; choose another path"
        ))
    } else if earlier.iter().any(|x| x.path == *p) {
        Some(format!("path {p:?} is routed twice"))
    } else {
        None
    };
    refused
        .map_or_else(|| super::tenants_config::tenant_segment(p), Err)
        .map_err(|message| ConfigError::at(text, path.span(), message))
}

/// `upstream`: an `http://` URL without credentials.
fn upstream(text: &str, upstream: &Spanned<String>) -> Result<http::Uri, ConfigError> {
    let uri: http::Uri = upstream
        .get_ref()
        .parse()
        .ok()
        .filter(|u: &http::Uri| u.scheme_str() == Some("http") && u.authority().is_some())
        .ok_or_else(|| {
            ConfigError::at(
                text,
                upstream.span(),
                format!("upstream {:?} must be an http:// URL", upstream.get_ref()),
            )
        })?;
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(ConfigError::at(
            text,
            upstream.span(),
            "upstream has credentials (user:password@): hookgate does not send them; \
             remove them, and let the upstream trust hookgate-verified from the proxy's address",
        ));
    }
    Ok(uri)
}

/// `secrets = [...]`: at least one, each read and none empty.
pub(crate) fn secret_values(
    text: &str,
    base: &Path,
    secrets: &Spanned<Vec<Spanned<SecretRef>>>,
) -> Result<Vec<String>, ConfigError> {
    if secrets.get_ref().is_empty() {
        return Err(ConfigError::at(
            text,
            secrets.span(),
            "secrets is empty: at least one secret is required",
        ));
    }
    secrets
        .get_ref()
        .iter()
        .map(|secret| secret_value(text, base, secret))
        .collect()
}

/// One secret: `{ env = "VAR" }` or `{ file = "PATH" }` (relative to
/// `base`, without its trailing line break).
fn secret_value(
    text: &str,
    base: &Path,
    secret: &Spanned<SecretRef>,
) -> Result<String, ConfigError> {
    let at = |m: String| ConfigError::at(text, secret.span(), m);
    let value = match (&secret.get_ref().env, &secret.get_ref().file) {
        (Some(var), None) => {
            std::env::var(var).map_err(|_| at(format!("environment variable {var} is not set")))?
        }
        (None, Some(file)) => {
            let path = base.join(file);
            std::fs::read_to_string(&path)
                .map_err(|e| at(format!("cannot read secret file {}: {e}", path.display())))?
                .trim_end_matches(['\r', '\n'])
                .to_owned()
        }
        _ => {
            return Err(at(
                "a secret is { env = \"VAR\" } or { file = \"PATH\" }".into()
            ))
        }
    };
    if value.trim().is_empty() {
        return Err(at(
            "this secret is empty; hookgate refuses an empty secret".into()
        ));
    }
    Ok(value)
}

/// `ack`: whether the route acknowledges once stored in the inbox
/// (`"inbox"`, which needs an `[inbox]` section) or after the upstream
/// (`"sync"`, the default).
fn ack(text: &str, ack: Option<&Spanned<String>>, has_inbox: bool) -> Result<bool, ConfigError> {
    let Some(ack) = ack else {
        return Ok(false);
    };
    match ack.get_ref().as_str() {
        "sync" => Ok(false),
        "inbox" if has_inbox => Ok(true),
        "inbox" => Err(ConfigError::at(
            text,
            ack.span(),
            "ack = \"inbox\" needs an [inbox] section",
        )),
        _ => Err(not_one_of(text, ack, "ack", "\"sync\" or \"inbox\"")),
    }
}

/// `[inbox]`: the store and the workers, and the line of the setting that
/// names where the store is.
fn inbox_section(
    text: &str,
    base: &Path,
    section: &Spanned<InboxSection>,
) -> Result<(InboxConfig, usize), ConfigError> {
    let i = section.get_ref();
    let (store, store_line) = inbox_store(text, base, section)?;
    let attempt_timeout = match &i.attempt_timeout_secs {
        Some(v) => seconds(text, "attempt_timeout_secs", v, 1.0)?,
        None => Duration::from_secs(60),
    };
    let lease = match &i.lease_secs {
        Some(v) => seconds(text, "lease_secs", v, 1.0)?,
        None => Duration::from_secs(120),
    };
    let workers = match &i.workers {
        None => 2,
        Some(w) => count(text, w, 1..=1024, |w| {
            format!("workers = {w}: give 1 to 1024")
        })?,
    };
    hookgate::inbox::WorkerConfig::new(workers, lease, attempt_timeout)
        .map_err(|e| ConfigError::at(text, section.span(), e.to_string()))?;
    let inbox = InboxConfig {
        store,
        workers,
        attempt_timeout,
        lease,
        keep_done_bodies: i.keep_done_bodies.unwrap_or(false),
    };
    Ok((inbox, store_line))
}

/// `[inbox]`'s `store`: a SQLite folder (`dir`, default `hookgate-inbox`
/// beside the file) or a Redis server; and the line of `dir` (or `store`)
/// or `redis_url`.
fn inbox_store(
    text: &str,
    base: &Path,
    section: &Spanned<InboxSection>,
) -> Result<(InboxStoreConfig, usize), ConfigError> {
    let i = section.get_ref();
    match i.store.get_ref().as_str() {
        "sqlite" if i.trust_operator.is_some() => Err(ConfigError::at(
            text,
            section.span(),
            "trust_operator is for store = \"redis\" (a managed server that hides CONFIG)",
        )),
        "sqlite" => {
            let line = match &i.dir {
                Some(dir) => line_of(text, dir.span()),
                None => line_of(text, i.store.span()),
            };
            let dir = i
                .dir
                .as_ref()
                .map_or_else(|| "hookgate-inbox".into(), |d| d.get_ref().clone());
            let store = InboxStoreConfig::Sqlite {
                dir: base.join(dir),
            };
            Ok((store, line))
        }
        "redis" => {
            let url = redis_url(text, section.span(), i.redis_url.as_ref())?;
            let store = InboxStoreConfig::Redis {
                url: url.get_ref().clone(),
                key_prefix: i
                    .key_prefix
                    .clone()
                    .unwrap_or_else(|| "hookgate:inbox".into()),
                trust_operator: i.trust_operator.unwrap_or(false),
            };
            Ok((store, line_of(text, url.span())))
        }
        _ => Err(not_one_of(
            text,
            &i.store,
            "store",
            "\"sqlite\" or \"redis\"",
        )),
    }
}

/// A number of things within `range`; out of it, the error `refusal` words
/// for the value given.
fn count(
    text: &str,
    value: &Spanned<i64>,
    range: std::ops::RangeInclusive<usize>,
    refusal: impl FnOnce(i64) -> String,
) -> Result<usize, ConfigError> {
    usize::try_from(*value.get_ref())
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| ConfigError::at(text, value.span(), refusal(*value.get_ref())))
}

/// `redis_url`, which `store = "redis"` needs (refused at the section).
fn redis_url<'a>(
    text: &str,
    section: std::ops::Range<usize>,
    url: Option<&'a Spanned<String>>,
) -> Result<&'a Spanned<String>, ConfigError> {
    url.ok_or_else(|| ConfigError::at(text, section, "store = \"redis\" needs redis_url"))
}

/// `name = "value"` when the value is none of `choices` (`"a" or "b"`).
fn not_one_of(text: &str, value: &Spanned<String>, name: &str, choices: &str) -> ConfigError {
    let message = format!("{name} = {:?}: use {choices}", value.get_ref());
    ConfigError::at(text, value.span(), message)
}

/// `name = secs` as a duration from `min` to one hour.
fn seconds(
    text: &str,
    name: &str,
    value: &Spanned<f64>,
    min: f64,
) -> Result<Duration, ConfigError> {
    let secs = *value.get_ref();
    if !(min..=3600.0).contains(&secs) {
        return Err(ConfigError::at(
            text,
            value.span(),
            format!("{name} = {secs}: give seconds from {min} to 3600"),
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The `[server]` connection bounds, each checked, defaults where unset.
fn server_limits(text: &str, server: &Server) -> Result<hookgate_axum::ServerLimits, ConfigError> {
    let mut limits = hookgate_axum::ServerLimits::new();
    if let Some(v) = &server.handshake_timeout_secs {
        limits = limits.handshake_timeout(seconds(text, "handshake_timeout_secs", v, 0.1)?);
    }
    if let Some(v) = &server.header_read_timeout_secs {
        limits = limits.header_read_timeout(seconds(text, "header_read_timeout_secs", v, 0.1)?);
    }
    if let Some(v) = &server.idle_timeout_secs {
        limits = limits.idle_timeout(seconds(text, "idle_timeout_secs", v, 0.1)?);
    }
    if let Some(v) = &server.shutdown_grace_secs {
        limits = limits.shutdown_grace(seconds(text, "shutdown_grace_secs", v, 0.0)?);
    }
    if let Some(v) = &server.max_connections {
        let n = count(text, v, 1..=1_000_000, |n| {
            format!(
                "max_connections = {n}: give a number from 1 to 1000000 (and below the open-file limit)"
            )
        })?;
        limits = limits.max_connections(n);
    }
    Ok(limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> ConfigError {
        parse(text, Path::new(".")).unwrap_err()
    }

    const GOOD: &str = r#"
[server]
listen = "127.0.0.1:8443"

[[route]]
path = "/webhooks/aexo"
scheme = "aexo"
secrets = [{ env = "HOOKGATE_CONFIG_TEST_SECRET" }]
upstream = "http://127.0.0.1:3000/webhooks/aexo"
"#;

    #[test]
    fn a_good_file_parses_and_bad_ones_name_the_line_and_the_reason() {
        std::env::set_var("HOOKGATE_CONFIG_TEST_SECRET", "s");
        let config = parse(GOOD, Path::new(".")).unwrap();
        assert_eq!(config.routes.len(), 1);
        assert_eq!(config.routes[0].secrets, vec!["s".to_owned()]);

        let e = err(&GOOD.replace("scheme = \"aexo\"", "scheme = \"acme\""));
        assert_eq!(e.line, Some(7));
        assert!(
            e.message.contains("unknown scheme \"acme\"") && e.message.contains("\"stripe\""),
            "{}",
            e.message
        );
        for name in hookgate::scheme::BUILTIN {
            let config = parse(
                &GOOD.replace("scheme = \"aexo\"", &format!("scheme = \"{name}\"")),
                Path::new("."),
            );
            // "s" is not base64 of a key, nor a hex public key, so
            // Standard Webhooks, Svix and Discord refuse it on the secrets
            // line; every other scheme takes it.
            match *name {
                "square" | "twilio" => {
                    let e = config.unwrap_err();
                    assert!(e.message.contains("public_url"), "{name}: {}", e.message);
                    let with_url = GOOD
                        .replace("scheme = \"aexo\"", &format!("scheme = \"{name}\""))
                        .replace(
                            "[[route]]\n",
                            "[[route]]\npublic_url = \"https://hooks.example.com/in\"\n",
                        );
                    let config = parse(&with_url, Path::new(".")).unwrap();
                    assert_eq!(
                        config.routes[0].public_url.as_deref(),
                        Some("https://hooks.example.com/in")
                    );
                }
                "standard-webhooks" | "svix" | "discord" => {
                    let e = config.unwrap_err();
                    assert_eq!(e.line, Some(8), "{name}");
                    assert!(
                        e.message.contains("whsec_") || e.message.contains("hex"),
                        "{name}: {}",
                        e.message
                    );
                }
                _ => assert_eq!(config.unwrap().routes[0].scheme.name(), *name),
            }
        }

        let e = err(&GOOD.replace("127.0.0.1:8443", "localhost"));
        assert_eq!(e.line, Some(3));

        let e = err(&GOOD.replace("HOOKGATE_CONFIG_TEST_SECRET", "HOOKGATE_CONFIG_TEST_UNSET"));
        assert_eq!(e.line, Some(8));
        assert!(
            e.message.contains("HOOKGATE_CONFIG_TEST_UNSET is not set"),
            "{}",
            e.message
        );

        let e = err(&GOOD.replace("upstream = \"http://", "upstream = \"ftp://"));
        assert_eq!(e.line, Some(9));

        let e = err(&GOOD.replace("[[route]]", "[[route]]\ntimeout = 3"));
        assert_eq!(e.line, Some(6));
        assert!(e.message.contains("unknown field"), "{}", e.message);

        let e = err("[server]\nlisten = \n");
        assert_eq!(e.line, Some(2));
    }

    #[test]
    fn an_hmac_route_is_built_from_its_table_and_an_unsafe_one_is_refused_at_its_line() {
        std::env::set_var("HOOKGATE_CONFIG_TEST_SECRET", "s");
        let hmac = |table: &str| {
            GOOD.replace("scheme = \"aexo\"", "scheme = \"hmac\"") + "[route.hmac]\n" + table
        };
        let good = hmac(
            r#"name = "acme"
header = "X-Acme-Signature"
algorithm = "sha512"
encoding = "base64"
list_separator = ","
prefix = "s="
signed = [{ header = "x-acme-timestamp" }, { literal = "." }, "body"]
timestamp = { header = "x-acme-timestamp", format = "unix" }
id = { header = "x-acme-delivery" }
event = { field = "type", optional = true }
"#,
        );
        let config = parse(&good, Path::new(".")).unwrap();
        let scheme = &config.routes[0].scheme;
        assert_eq!(
            (scheme.name(), scheme.signature_header()),
            ("acme", "x-acme-signature")
        );
        assert_eq!(scheme.algorithm(), hookgate::scheme::Algorithm::HmacSha512);

        let unsigned_ts = good.replace(
            "signed = [{ header = \"x-acme-timestamp\" }, { literal = \".\" }, ",
            "signed = [",
        );
        let e = err(&unsigned_ts);
        assert_eq!(e.line, Some(10), "the [route.hmac] line: {}", e.message);
        assert!(
            e.message.contains("not part of the signed content"),
            "{}",
            e.message
        );

        let e = err(&good.replace("\"body\"]", "{ literal = \"x\" }]"));
        assert!(
            e.message.contains("does not include the body"),
            "{}",
            e.message
        );

        let e = err(&good.replace("sha512", "md5"));
        assert!(e.message.contains("algorithm \"md5\""), "{}", e.message);

        let e = err(&GOOD.replace("scheme = \"aexo\"", "scheme = \"hmac\""));
        assert_eq!(e.line, Some(7));
        assert!(e.message.contains("[route.hmac]"), "{}", e.message);
    }

    #[test]
    fn handshakes_are_read_per_route_and_a_mismatched_one_is_refused_at_its_line() {
        std::env::set_var("HOOKGATE_CONFIG_TEST_SECRET", "s");
        let with = |scheme: &str, extra: &str| {
            GOOD.replace(
                "scheme = \"aexo\"",
                &format!("scheme = \"{scheme}\"\n{extra}"),
            )
        };
        let config = parse(
            &with(
                "slack",
                "handshakes = [\"slack_url_verification\", \"dropbox_challenge\"]",
            ),
            Path::new("."),
        )
        .unwrap();
        assert_eq!(config.routes[0].handshakes.len(), 2);
        let e = err(&with("zoom", "handshakes = [\"slack_url_verification\"]"));
        assert_eq!(e.line, Some(8), "{}", e.message);
        assert!(e.message.contains("slack routes"), "{}", e.message);
        let e = err(&with("slack", "handshakes = [\"teams\"]"));
        assert!(
            e.message.contains("unknown handshake \"teams\""),
            "{}",
            e.message
        );
    }

    #[test]
    fn a_tenant_path_needs_tenants_and_a_misplaced_tenant_rule_is_refused_at_its_line() {
        std::env::set_var("HOOKGATE_CONFIG_TEST_SECRET", "s");
        let tenants =
            "[route.tenants]\nsecrets = { acme = [{ env = \"HOOKGATE_CONFIG_TEST_SECRET\" }] }\n";
        let path = |p: &str, table: &str| {
            GOOD.replace("\"/webhooks/aexo\"", &format!("{p:?}"))
                .replace(
                    "secrets = [{ env = \"HOOKGATE_CONFIG_TEST_SECRET\" }]\n",
                    "",
                )
                + table
        };
        let config = parse(&path("/webhooks/{tenant}/aexo", tenants), Path::new(".")).unwrap();
        let t = config.routes[0].tenants.as_ref().unwrap();
        assert_eq!(t.key, hookgate::tenant::TenantKey::PathSegment(1));

        let e = err(&path("/webhooks/{tenant}/aexo", ""));
        assert_eq!(e.line, Some(6), "{}", e.message);
        assert!(e.message.contains("[route.tenants]"), "{}", e.message);
        let e = err(&path("/webhooks/t-{tenant}", tenants));
        assert_eq!(e.line, Some(6), "{}", e.message);
        assert!(e.message.contains("whole segment"), "{}", e.message);
        let e = err(&path("/webhooks/aexo", tenants));
        assert!(
            e.message.contains("header = \"...\" or {tenant}"),
            "{}",
            e.message
        );
        let e = err(&path(
            "/webhooks/aexo",
            &tenants.replace("}] }\n", "}] }\npath_segment = 1\n"),
        ));
        assert_eq!(e.line, Some(11), "{}", e.message);
        assert!(
            e.message.contains("put {tenant} in the route's path"),
            "{}",
            e.message
        );
        let both = tenants.replace("}] }\n", "}] }\nheader = \"x-tenant\"\n");
        let e = err(&path("/webhooks/{tenant}/aexo", &both));
        assert!(e.message.contains("one or the other"), "{}", e.message);
    }

    #[test]
    fn the_readmes_hmac_route_parses_as_written() {
        let readme = include_str!("../../../../README.md");
        let snippet = readme
            .split("```toml\n[[route]]\npath = \"/webhooks/acme\"")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("the README's hmac route");
        std::env::set_var("ACME_WEBHOOK_SECRET", "acme-secret");
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:8443\"\n[[route]]\npath = \"/webhooks/acme\"{snippet}"
        );
        let config = parse(&text, Path::new(".")).unwrap();
        assert_eq!(config.routes[0].scheme.name(), "acme");
    }

    #[test]
    fn the_redis_operation_timeout_and_the_server_bounds_are_read_and_checked() {
        std::env::set_var("HOOKGATE_CONFIG_TEST_SECRET", "s");
        let with = |server: &str, dedupe: &str| {
            GOOD.replace(
                "listen = \"127.0.0.1:8443\"",
                &format!("listen = \"127.0.0.1:8443\"\n{server}"),
            ) + &format!("\n[dedupe]\n{dedupe}\n")
        };
        let redis =
            "store = \"redis\"\nredis_url = \"redis://127.0.0.1:6379/0\"\nop_timeout_secs = 2.5";
        let config = parse(&with("", redis), Path::new(".")).unwrap();
        assert!(matches!(
            config.store,
            StoreConfig::Redis { op_timeout: Some(t), .. } if t == Duration::from_millis(2500)
        ));
        let e = err(&with("", &redis.replace("2.5", "0")));
        assert!(e.message.contains("op_timeout_secs = 0"), "{}", e.message);
        assert_eq!(e.line, Some(15));
        let bounded = "idle_timeout_secs = 3\nmax_connections = 10";
        let config = parse(&with(bounded, "store = \"memory\""), Path::new(".")).unwrap();
        let expected = hookgate_axum::ServerLimits::new()
            .idle_timeout(Duration::from_secs(3))
            .max_connections(10);
        assert_eq!(config.limits, expected);
        let e = err(&with("idle_timeout_secs = 99999", "store = \"memory\""));
        assert_eq!(e.line, Some(4), "{}", e.message);
    }

    #[test]
    fn the_inbox_section_takes_its_options_and_refuses_misplaced_ones() {
        std::env::set_var("HOOKGATE_CONFIG_TEST_SECRET", "s");
        let redis = format!(
            "{GOOD}\n[inbox]\nstore = \"redis\"\nredis_url = \"redis://127.0.0.1:1/0\"\ntrust_operator = true\nkeep_done_bodies = true\n"
        );
        let inbox = parse(&redis, Path::new(".")).unwrap().inbox.unwrap();
        assert!(inbox.keep_done_bodies);
        assert!(matches!(
            inbox.store,
            InboxStoreConfig::Redis {
                trust_operator: true,
                ..
            }
        ));
        let plain = format!("{GOOD}\n[inbox]\nstore = \"sqlite\"\n");
        let inbox = parse(&plain, Path::new(".")).unwrap().inbox.unwrap();
        assert!(
            !inbox.keep_done_bodies,
            "handled events shrink to markers by default"
        );

        let e = err(&format!(
            "{GOOD}\n[inbox]\nstore = \"sqlite\"\ntrust_operator = true\n"
        ));
        assert!(
            e.message
                .contains("trust_operator is for store = \"redis\""),
            "{}",
            e.message
        );
        let e = err(&format!(
            "{GOOD}\n[inbox]\nstore = \"sqlite\"\nlease_secs = 30\nattempt_timeout_secs = 30\n"
        ));
        assert!(
            e.message
                .contains("must be longer than the handler timeout"),
            "{}",
            e.message
        );
    }
}
