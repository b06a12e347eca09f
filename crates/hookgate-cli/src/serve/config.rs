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
    fn at(text: &str, span: std::ops::Range<usize>, message: impl Into<String>) -> Self {
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
    secrets: Spanned<Vec<Spanned<SecretRef>>>,
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
struct SecretRef {
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

fn line_of(text: &str, span: std::ops::Range<usize>) -> usize {
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
    pub(crate) scheme: crate::Scheme,
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
            .field("scheme", &self.scheme)
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
pub(crate) fn parse(text: &str, base: &Path) -> Result<Config, ConfigError> {
    let file: File = toml::from_str(text).map_err(|e| ConfigError {
        line: e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1),
        message: e.message().trim().to_owned(),
    })?;
    let server = file.server;
    let listen = server.listen.get_ref().parse::<SocketAddr>().map_err(|e| {
        ConfigError::at(
            text,
            server.listen.span(),
            format!(
                "listen = {:?}: {e} (want HOST:PORT)",
                server.listen.get_ref()
            ),
        )
    })?;
    let trusted_proxies = match &server.trusted_proxies {
        Some(list) => {
            hookgate::https::HttpsPolicy::new()
                .trust_proxies(list.get_ref())
                .map_err(|e| ConfigError::at(text, list.span(), e.to_string()))?;
            list.get_ref().clone()
        }
        None => Vec::new(),
    };
    let proxy_header = match &server.proxy_header {
        None => hookgate::https::ProxyHeader::default(),
        Some(name) => hookgate::https::ProxyHeader::parse(name.get_ref()).ok_or_else(|| {
            ConfigError::at(
                text,
                name.span(),
                format!(
                    "proxy_header = {:?}: use \"x-forwarded-proto\", \"forwarded\" or \"either\"",
                    name.get_ref()
                ),
            )
        })?,
    };
    let deadline = match &server.deadline_secs {
        Some(secs) => {
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
            hookgate::Verifier::aexo("probe")
                .map_err(|e| ConfigError::at(text, secs.span(), e.to_string()))?
                .handler_deadline(d)
                .map_err(|e| ConfigError::at(text, secs.span(), e.to_string()))?;
            Some(d)
        }
        None => None,
    };
    let json_logs = match &server.log_format {
        None => false,
        Some(f) => match f.get_ref().as_str() {
            "json" => true,
            "text" => false,
            other => {
                return Err(ConfigError::at(
                    text,
                    f.span(),
                    format!("log_format = {other:?}: use \"text\" or \"json\""),
                ))
            }
        },
    };
    let limits = server_limits(text, &server)?;
    let mut dedupe_redis_line = None;
    let store = match &file.dedupe {
        None => StoreConfig::Memory {
            capacity: hookgate::dedupe::DEFAULT_CAPACITY,
        },
        Some(d) => {
            let span = d.span();
            let d = d.get_ref();
            match d.store.get_ref().as_str() {
                "memory" => StoreConfig::Memory {
                    capacity: match &d.capacity {
                        None => hookgate::dedupe::DEFAULT_CAPACITY,
                        Some(c) => usize::try_from(*c.get_ref())
                            .ok()
                            .filter(|c| (1..=MAX_MEMORY_CAPACITY).contains(c))
                            .ok_or_else(|| {
                                ConfigError::at(
                                    text,
                                    c.span(),
                                    format!(
                                        "capacity = {}: give 1 to {MAX_MEMORY_CAPACITY} ids (about 100 bytes each); \
                                         for more, use store = \"redis\"",
                                        c.get_ref()
                                    ),
                                )
                            })?,
                    },
                },
                "redis" => {
                    let url = d.redis_url.as_ref().ok_or_else(|| {
                        ConfigError::at(text, span, "store = \"redis\" needs redis_url")
                    })?;
                    dedupe_redis_line = Some(line_of(text, url.span()));
                    StoreConfig::Redis {
                        url: url.get_ref().clone(),
                        key_prefix: d.key_prefix.clone(),
                        op_timeout: match &d.op_timeout_secs {
                            Some(v) => Some(seconds(text, "op_timeout_secs", v, 0.05)?),
                            None => None,
                        },
                    }
                }
                other => {
                    return Err(ConfigError::at(
                        text,
                        d.store.span(),
                        format!("store = {other:?}: use \"memory\" or \"redis\""),
                    ))
                }
            }
        }
    };
    if file.routes.is_empty() {
        return Err(ConfigError {
            line: None,
            message: "no [[route]]: the proxy would verify nothing".into(),
        });
    }
    let mut routes = Vec::new();
    for route in &file.routes {
        let r = route.get_ref();
        let scheme = match r.scheme.get_ref().as_str() {
            "aexo" => crate::Scheme::Aexo,
            "axifi" => crate::Scheme::Axifi,
            other => {
                return Err(ConfigError::at(
                    text,
                    r.scheme.span(),
                    format!("unknown scheme {other:?}: use \"aexo\" or \"axifi\""),
                ))
            }
        };
        let path = r.path.get_ref();
        let refused = if !path.starts_with('/') {
            Some("path must start with /".to_owned())
        } else if path.contains(['?', '#']) {
            Some(format!(
                "path {path:?}: routes match the path alone; remove the query or fragment"
            ))
        } else if path == HEALTH_PATH {
            Some(format!(
                "path {path:?} is the proxy's own health check; choose another path"
            ))
        } else {
            None
        };
        if let Some(message) = refused {
            return Err(ConfigError::at(text, r.path.span(), message));
        }
        if routes
            .iter()
            .any(|x: &RouteConfig| x.path == *r.path.get_ref())
        {
            return Err(ConfigError::at(
                text,
                r.path.span(),
                format!("path {:?} is routed twice", r.path.get_ref()),
            ));
        }
        let upstream: http::Uri = r
            .upstream
            .get_ref()
            .parse()
            .ok()
            .filter(|u: &http::Uri| u.scheme_str() == Some("http") && u.authority().is_some())
            .ok_or_else(|| {
                ConfigError::at(
                    text,
                    r.upstream.span(),
                    format!("upstream {:?} must be an http:// URL", r.upstream.get_ref()),
                )
            })?;
        if upstream
            .authority()
            .is_some_and(|a| a.as_str().contains('@'))
        {
            return Err(ConfigError::at(
                text,
                r.upstream.span(),
                "upstream has credentials (user:password@): hookgate does not send them; \
                 remove them, and let the upstream trust hookgate-verified from the proxy's address",
            ));
        }
        if r.secrets.get_ref().is_empty() {
            return Err(ConfigError::at(
                text,
                r.secrets.span(),
                "secrets is empty: at least one secret is required",
            ));
        }
        let mut secrets = Vec::new();
        for secret in r.secrets.get_ref() {
            let at = |m: String| ConfigError::at(text, secret.span(), m);
            let value = match (&secret.get_ref().env, &secret.get_ref().file) {
                (Some(var), None) => std::env::var(var)
                    .map_err(|_| at(format!("environment variable {var} is not set")))?,
                (None, Some(file)) => {
                    let path = base.join(file);
                    std::fs::read_to_string(&path)
                        .map_err(|e| {
                            at(format!("cannot read secret file {}: {e}", path.display()))
                        })?
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
            secrets.push(value);
        }
        let inbox = match &r.ack {
            None => false,
            Some(ack) => match ack.get_ref().as_str() {
                "sync" => false,
                "inbox" if file.inbox.is_some() => true,
                "inbox" => {
                    return Err(ConfigError::at(
                        text,
                        ack.span(),
                        "ack = \"inbox\" needs an [inbox] section",
                    ))
                }
                other => {
                    return Err(ConfigError::at(
                        text,
                        ack.span(),
                        format!("ack = {other:?}: use \"sync\" or \"inbox\""),
                    ))
                }
            },
        };
        routes.push(RouteConfig {
            inbox,
            path: r.path.get_ref().clone(),
            scheme,
            secrets,
            upstream,
            max_body_bytes: r.max_body_bytes,
            freshness: r.freshness_secs.map(Duration::from_secs),
        });
    }
    let mut inbox_store_line = None;
    let inbox = match &file.inbox {
        None => None,
        Some(section) => {
            let span = section.span();
            let i = section.get_ref();
            let store = match i.store.get_ref().as_str() {
                "sqlite" if i.trust_operator.is_some() => return Err(ConfigError::at(
                    text,
                    span,
                    "trust_operator is for store = \"redis\" (a managed server that hides CONFIG)",
                )),
                "sqlite" => {
                    inbox_store_line = Some(match &i.dir {
                        Some(dir) => line_of(text, dir.span()),
                        None => line_of(text, i.store.span()),
                    });
                    InboxStoreConfig::Sqlite {
                        dir: base.join(
                            i.dir
                                .as_ref()
                                .map_or_else(|| "hookgate-inbox".into(), |d| d.get_ref().clone()),
                        ),
                    }
                }
                "redis" => {
                    let url = i.redis_url.as_ref().ok_or_else(|| {
                        ConfigError::at(text, span.clone(), "store = \"redis\" needs redis_url")
                    })?;
                    inbox_store_line = Some(line_of(text, url.span()));
                    InboxStoreConfig::Redis {
                        url: url.get_ref().clone(),
                        key_prefix: i
                            .key_prefix
                            .clone()
                            .unwrap_or_else(|| "hookgate:inbox".into()),
                        trust_operator: i.trust_operator.unwrap_or(false),
                    }
                }
                other => {
                    return Err(ConfigError::at(
                        text,
                        i.store.span(),
                        format!("store = {other:?}: use \"sqlite\" or \"redis\""),
                    ))
                }
            };
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
                Some(w) => usize::try_from(*w.get_ref())
                    .ok()
                    .filter(|w| (1..=1024).contains(w))
                    .ok_or_else(|| {
                        ConfigError::at(
                            text,
                            w.span(),
                            format!("workers = {}: give 1 to 1024", w.get_ref()),
                        )
                    })?,
            };
            hookgate::inbox::WorkerConfig::new(workers, lease, attempt_timeout)
                .map_err(|e| ConfigError::at(text, span, e.to_string()))?;
            Some(InboxConfig {
                store,
                workers,
                attempt_timeout,
                lease,
                keep_done_bodies: i.keep_done_bodies.unwrap_or(false),
            })
        }
    };
    let lines = Lines {
        listen: Some(line_of(text, server.listen.span())),
        tls: server.tls.as_ref().map(|t| line_of(text, t.span())),
        dedupe_redis: dedupe_redis_line,
        inbox_store: inbox_store_line,
    };
    Ok(Config {
        inbox,
        lines,
        listen,
        tls: server
            .tls
            .map(|t| t.into_inner())
            .map(|t| (base.join(t.cert), base.join(t.key))),
        trusted_proxies,
        proxy_header,
        allow_plain_loopback: server.allow_plain_loopback,
        deadline,
        json_logs,
        limits,
        store,
        routes,
    })
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
        let n = usize::try_from(*v.get_ref())
            .ok()
            .filter(|n| (1..=1_000_000).contains(n))
            .ok_or_else(|| {
                ConfigError::at(
                    text,
                    v.span(),
                    format!(
                        "max_connections = {}: give a number from 1 to 1000000 (and below the open-file limit)",
                        v.get_ref()
                    ),
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

        let e = err(&GOOD.replace("scheme = \"aexo\"", "scheme = \"stripe\""));
        assert_eq!(e.line, Some(7));
        assert!(
            e.message.contains("unknown scheme \"stripe\""),
            "{}",
            e.message
        );

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
