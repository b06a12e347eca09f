//! The verifying reverse proxy: per route, HTTPS policy -> verification
//! (with the handler deadline) -> dedupe -> forward to the upstream.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hookgate::dedupe::{Claim, DedupeLayer, DedupeStore, Deduper, MemoryStore, StoreError, Token};
use hookgate::https::{Connection, HttpsPolicy, RequireHttpsLayer};
use hookgate::{error_body, Answer, Rejection, VerifiedEvent, Verifier, WebhookLayer};
use hookgate_redis::RedisStore;
use http::{header, HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::util::BoxCloneSyncService;
use tower::{service_fn, ServiceBuilder, ServiceExt};

use hookgate::inbox::{HandlerError, Inbox, InboxStore, WorkerConfig, Workers};
use hookgate::Delivery;
use hookgate_redis::{DurabilityCheck, RedisInbox};
use hookgate_sqlite::SqliteInbox;

use super::config::{Config, ConfigError, InboxStoreConfig, StoreConfig, HEALTH_PATH};
use super::route_path::{self, Match, RoutePath};

/// The header telling the upstream the delivery was verified (its scheme).
pub(crate) const VERIFIED_HEADER: &str = "hookgate-verified";
/// The verified event id, where the sender has one.
pub(crate) const EVENT_ID_HEADER: &str = "hookgate-event-id";
/// The tenant whose secrets verified the delivery, on a per-tenant route.
pub(crate) const TENANT_HEADER: &str = "hookgate-tenant";
/// The dedupe layer's marker on a duplicate's answer.
const DEDUPE_HEADER: &str = "hookgate-dedupe";

/// Largest upstream answer relayed to the sender.
const MAX_UPSTREAM_BODY: usize = 1024 * 1024;

pub(crate) type Body = UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;
type RouteService = BoxCloneSyncService<Request<Incoming>, Response<Body>, Infallible>;

/// Memory or Redis, chosen by the configuration; shared by every route.
#[derive(Debug)]
pub(crate) enum AnyStore {
    Memory(MemoryStore),
    Redis(RedisStore),
}

impl DedupeStore for AnyStore {
    async fn claim(&self, key: &str, lease: Duration) -> Result<Claim, StoreError> {
        match self {
            Self::Memory(s) => s.claim(key, lease).await,
            Self::Redis(s) => s.claim(key, lease).await,
        }
    }

    async fn commit(&self, key: &str, token: Token, retention: Duration) -> Result<(), StoreError> {
        match self {
            Self::Memory(s) => s.commit(key, token, retention).await,
            Self::Redis(s) => s.commit(key, token, retention).await,
        }
    }

    async fn release(&self, key: &str, token: Token) -> Result<(), StoreError> {
        match self {
            Self::Memory(s) => s.release(key, token).await,
            Self::Redis(s) => s.release(key, token).await,
        }
    }
}

fn json(status: StatusCode, body: Bytes) -> Response<Body> {
    let mut res = Response::new(full(body));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

fn full(bytes: Bytes) -> Body {
    Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}

fn boxed<B>(res: Response<B>) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    res.map(|body| body.map_err(Into::into).boxed_unsync())
}

/// hookgate's own markers: never passed on from outside (a sender forging
/// `hookgate-verified`, an upstream forging `hookgate-dedupe`).
fn hookgate_marker(name: &HeaderName) -> bool {
    name == VERIFIED_HEADER
        || name == EVENT_ID_HEADER
        || name == TENANT_HEADER
        || name == DEDUPE_HEADER
}

/// The end-to-end headers of `from`: without hop-by-hop headers, those that
/// its `Connection` header names, and hookgate's markers.
pub(crate) fn copy_headers(from: &HeaderMap, to: &mut HeaderMap) {
    let named = hookgate::connection_names(from);
    for (name, value) in from {
        if hookgate::is_hop_by_hop(name.as_str())
            || hookgate_marker(name)
            || named.iter().any(|n| n == name.as_str())
        {
            continue;
        }
        to.append(name.clone(), value.clone());
    }
}

/// How long the proxy waits for an upstream body once the head (and so
/// the status) has arrived, at most: the sender's answer must not wait on it.
const UPSTREAM_BODY_TIMEOUT: Duration = Duration::from_secs(5);

/// When a delivery must be answered by (the handler deadline, less a
/// margin), put in its extensions when it arrives.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AnswerBy(pub(crate) tokio::time::Instant);

impl AnswerBy {
    /// `budget` from now, less a margin for the answer to be written.
    fn within(budget: Duration) -> Self {
        let margin = (budget / 4).min(Duration::from_secs(1));
        Self(tokio::time::Instant::now() + budget.saturating_sub(margin))
    }
}

async fn forward(
    client: Client<HttpConnector, Full<Bytes>>,
    upstream: http::Uri,
    req: Request<Full<Bytes>>,
) -> Response<Body> {
    let answer_by = req.extensions().get::<AnswerBy>().map(|a| a.0);
    let (parts, body) = req.into_parts();
    let event = parts.extensions.get::<VerifiedEvent>().cloned();
    // A report-only route passes a delivery that fails verification on,
    // without hookgate's verified headers.
    if event.is_none() && parts.extensions.get::<hookgate::ReportOnly>().is_none() {
        return json(
            StatusCode::INTERNAL_SERVER_ERROR,
            error_body("not verified"),
        );
    }
    let mut out = Request::new(body);
    *out.method_mut() = parts.method;
    *out.uri_mut() = upstream;
    copy_headers(&parts.headers, out.headers_mut());
    let headers = out.headers_mut();
    if let Some(event) = &event {
        headers.insert(VERIFIED_HEADER, HeaderValue::from_static(event.scheme()));
        if let Some(id) = event.id().and_then(|id| HeaderValue::from_str(id).ok()) {
            headers.insert(EVENT_ID_HEADER, id);
        }
        if let Some(tenant) = event.tenant().and_then(|t| HeaderValue::from_str(t).ok()) {
            headers.insert(TENANT_HEADER, tenant);
        }
    }
    let res = match client.request(out).await {
        Ok(res) => res,
        Err(error) => {
            tracing::error!(%error, "upstream did not answer");
            return json(
                StatusCode::BAD_GATEWAY,
                error_body("upstream unavailable; retry later"),
            );
        }
    };
    let (parts, body) = res.into_parts();
    // The status decides. A body that is too large, cut short or stalled
    // after a 2xx head does not undo the upstream's 2xx (the event was
    // delivered): the sender gets the 2xx without that body.
    let read = Limited::new(body, MAX_UPSTREAM_BODY).collect();
    let mut wait_until = tokio::time::Instant::now() + UPSTREAM_BODY_TIMEOUT;
    if let Some(answer_by) = answer_by {
        wait_until = wait_until.min(answer_by);
    }
    let body = match tokio::time::timeout_at(wait_until, read).await {
        Ok(Ok(body)) => Some(body.to_bytes()),
        Ok(Err(error)) => {
            tracing::warn!(status = %parts.status, %error, "upstream answer body unreadable");
            None
        }
        Err(_) => {
            tracing::warn!(status = %parts.status, timeout = ?UPSTREAM_BODY_TIMEOUT, "upstream answer body stalled");
            None
        }
    };
    let dropped = body.is_none();
    let mut res = match body {
        Some(body) => Response::new(full(body)),
        None if parts.status.is_success() => Response::new(full(Bytes::new())),
        None => {
            return json(
                StatusCode::BAD_GATEWAY,
                error_body("upstream answer unreadable; retry later"),
            )
        }
    };
    *res.status_mut() = parts.status;
    copy_headers(&parts.headers, res.headers_mut());
    res.headers_mut().remove(header::CONTENT_LENGTH);
    if dropped {
        // The body was dropped: its type no longer describes anything.
        res.headers_mut().remove(header::CONTENT_TYPE);
    }
    res
}

/// Every route, by path, with the HTTPS policy in front; and the inbox
/// routes' workers.
#[derive(Clone)]
pub(crate) struct Router {
    routes: Arc<Vec<(RoutePath, RouteService)>>,
    deadline: Duration,
    workers: Arc<std::sync::Mutex<Vec<Workers>>>,
}

/// An inbox route: store and answer at once; workers forward to the
/// upstream, retrying until it answers 2xx.
fn inbox_route<S: InboxStore>(
    store: Arc<S>,
    verifier: Verifier,
    policy: HttpsPolicy,
    client: Client<HttpConnector, Full<Bytes>>,
    upstream: http::Uri,
    config: WorkerConfig,
    attempt_timeout: Duration,
) -> (RouteService, Workers) {
    let inbox = Inbox::new(store.clone(), &verifier);
    let stack = ServiceBuilder::new()
        .layer(RequireHttpsLayer::new(policy))
        .layer(WebhookLayer::new(verifier.clone()))
        .service(inbox);
    let service = ServiceExt::<Request<Incoming>>::map_response(stack, boxed);
    let workers = Workers::spawn(store, verifier, config, move |hook: Delivery<()>| {
        let (client, upstream) = (client.clone(), upstream.clone());
        // The delivery as it arrived: its stored headers (signature
        // included), so that an upstream that verifies again can.
        let mut req = Request::new(Full::new(hook.raw().clone()));
        *req.method_mut() = http::Method::POST;
        if let Some(stored) = hook.stored_headers() {
            *req.headers_mut() = stored.to_header_map();
        }
        if !req.headers().contains_key(header::CONTENT_TYPE) {
            req.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        req.extensions_mut().insert(hook.meta().clone());
        req.extensions_mut()
            .insert(AnswerBy::within(attempt_timeout));
        async move {
            let res = forward(client, upstream, req).await;
            if res.status().is_success() {
                Ok(())
            } else {
                Err(HandlerError::Retry(format!(
                    "upstream answered {}",
                    res.status()
                )))
            }
        }
    });
    (BoxCloneSyncService::new(service), workers)
}

/// `/webhooks/aexo` -> `webhooks_aexo`, for file names and key prefixes.
fn route_name(path: &str) -> String {
    path.trim_matches('/')
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

impl Router {
    /// Builds every route; a failure names the configuration line it came
    /// from where there is one (a Redis server, an inbox folder).
    pub(crate) async fn build(config: &Config) -> Result<Self, ConfigError> {
        Self::build_routes(config)
            .await
            .map_err(|(line, message)| ConfigError::starting(line, message))
    }

    async fn build_routes(config: &Config) -> Result<Self, (Option<usize>, String)> {
        let lines = &config.lines;
        let plain = |e: String| (None, e);
        let store = Arc::new(match &config.store {
            StoreConfig::Memory { capacity } => {
                AnyStore::Memory(MemoryStore::with_capacity(*capacity))
            }
            StoreConfig::Redis {
                url,
                key_prefix,
                op_timeout,
            } => {
                let mut store = RedisStore::new(url)
                    .map_err(|e| (lines.dedupe_redis, format!("redis_url {url:?}: {e}")))?;
                if let Some(prefix) = key_prefix {
                    store = store.key_prefix(prefix.clone());
                }
                if let Some(timeout) = op_timeout {
                    store = store.op_timeout(*timeout);
                }
                AnyStore::Redis(store)
            }
        });
        let policy = HttpsPolicy::new()
            .trust_proxies(&config.trusted_proxies)
            .map_err(|e| plain(e.to_string()))?
            .proxy_header(config.proxy_header)
            .allow_plain_loopback_for_development(config.allow_plain_loopback);
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let mut routes = Vec::new();
        let mut workers = Vec::new();
        for route in &config.routes {
            let mut verifier: Verifier = match (&route.tenants, &route.public_url) {
                (Some(tenants), _) => {
                    let table = tenants.secrets.clone();
                    let lookup = move |tenant: String| {
                        let found = table.get(&tenant).cloned();
                        async move { Ok(found) }
                    };
                    Verifier::per_tenant(route.scheme.clone(), tenants.key.clone(), lookup)
                }
                (None, url) => {
                    let secrets =
                        hookgate::Secrets::new(&route.secrets).map_err(|e| plain(e.to_string()))?;
                    match url {
                        Some(url) => Verifier::with_public_url(route.scheme.clone(), secrets, url),
                        None => Verifier::new(route.scheme.clone(), secrets),
                    }
                }
            }
            .map_err(|e| plain(e.to_string()))?;
            if route.report_only {
                verifier = verifier.report_only();
            }
            if let Some(max) = route.max_concurrent_handlers {
                verifier = verifier
                    .max_concurrent_handlers(max)
                    .map_err(|e| plain(e.to_string()))?;
            }
            for handshake in &route.handshakes {
                verifier = verifier
                    .handshake(handshake.clone())
                    .map_err(|e| plain(e.to_string()))?;
            }
            if let Some(limit) = route.max_body_bytes {
                verifier = verifier.max_body_bytes(limit);
            }
            if let Some(window) = route.freshness {
                verifier = verifier.freshness(window);
            }
            if let Some(deadline) = config.deadline {
                verifier = verifier
                    .handler_deadline(deadline)
                    .map_err(|e| plain(e.to_string()))?;
            }
            if route.inbox {
                let Some(inbox) = &config.inbox else {
                    return Err(plain("an inbox route needs an [inbox] section".into()));
                };
                let at_store = |e: String| (lines.inbox_store, e);
                let worker_config =
                    WorkerConfig::new(inbox.workers, inbox.lease, inbox.attempt_timeout)
                        .map_err(|e| plain(e.to_string()))?
                        .keep_done_bodies(inbox.keep_done_bodies);
                let name = route_name(&route.path);
                let (service, running) = match &inbox.store {
                    InboxStoreConfig::Sqlite { dir } => {
                        std::fs::create_dir_all(dir)
                            .map_err(|e| at_store(format!("inbox dir {}: {e}", dir.display())))?;
                        let file = dir.join(format!("{name}.sqlite3"));
                        let store = SqliteInbox::open(&file)
                            .map_err(|e| at_store(format!("inbox file {}: {e}", file.display())))?;
                        let upstream = route.upstream.clone();
                        inbox_route(
                            Arc::new(store),
                            verifier,
                            policy.clone(),
                            client.clone(),
                            upstream,
                            worker_config,
                            inbox.attempt_timeout,
                        )
                    }
                    InboxStoreConfig::Redis {
                        url,
                        key_prefix,
                        trust_operator,
                    } => {
                        let prefix = format!("{key_prefix}:{name}");
                        let check = if *trust_operator {
                            DurabilityCheck::TrustOperator
                        } else {
                            DurabilityCheck::Required
                        };
                        let store = RedisInbox::connect(url, &prefix, check)
                            .await
                            .map_err(|e| at_store(format!("inbox redis_url {url:?}: {e}")))?;
                        let upstream = route.upstream.clone();
                        inbox_route(
                            Arc::new(store),
                            verifier,
                            policy.clone(),
                            client.clone(),
                            upstream,
                            worker_config,
                            inbox.attempt_timeout,
                        )
                    }
                };
                routes.push((RoutePath::new(&route.path), service));
                workers.push(running);
                continue;
            }
            let deduper = Deduper::builder(store.clone())
                .namespace(format!("{}:{}", verifier.scheme().name(), route.path))
                .build(&verifier)
                .map_err(|e| plain(e.to_string()))?;
            let (client, upstream) = (client.clone(), route.upstream.clone());
            let stack = ServiceBuilder::new()
                .layer(RequireHttpsLayer::new(policy.clone()))
                .layer(WebhookLayer::new(verifier))
                .layer(DedupeLayer::new(deduper))
                .service(service_fn(move |req: Request<Full<Bytes>>| {
                    let (client, upstream) = (client.clone(), upstream.clone());
                    async move { Ok::<_, Infallible>(forward(client, upstream, req).await) }
                }));
            let service = ServiceExt::<Request<Incoming>>::map_response(stack, boxed);
            routes.push((
                RoutePath::new(&route.path),
                BoxCloneSyncService::new(service),
            ));
        }
        Ok(Self {
            deadline: config
                .deadline
                .unwrap_or(hookgate::DEFAULT_HANDLER_DEADLINE),
            routes: Arc::new(routes),
            workers: Arc::new(std::sync::Mutex::new(workers)),
        })
    }

    /// Stops the inbox workers after their current attempts.
    pub(crate) async fn stop_workers(&self) {
        let workers: Vec<Workers> =
            std::mem::take(&mut *self.workers.lock().unwrap_or_else(|e| e.into_inner()));
        for w in workers {
            w.shutdown().await;
        }
    }

    /// Answers one request from `peer`.
    pub(crate) async fn handle(
        &self,
        mut req: Request<Incoming>,
        peer: SocketAddr,
        tls: bool,
    ) -> Response<Body> {
        let path = req.uri().path().to_owned();
        if path == HEALTH_PATH {
            return Response::new(full(Bytes::from_static(b"ok")));
        }
        let service = match route_path::pick(&self.routes, &path) {
            Some((Match::Route, service)) => service,
            // The tenant's segment is empty: the request names no tenant.
            Some((Match::NoTenant, _)) => {
                return boxed(Answer::Rejected(Rejection::UnknownTenant).into_response())
            }
            None => {
                return json(
                    StatusCode::NOT_FOUND,
                    error_body("no webhook route at this path"),
                )
            }
        };
        req.extensions_mut()
            .insert(Connection::from_socket(peer, tls));
        req.extensions_mut().insert(AnswerBy::within(self.deadline));
        match service.clone().oneshot(req).await {
            Ok(res) => res,
            Err(never) => match never {},
        }
    }
}
