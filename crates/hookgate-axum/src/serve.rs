//! A server for the open internet: every connection bounded in time at every
//! stage, the number of open connections bounded, accept errors backed off.
//!
//! `axum::serve` sets no header-read timeout (a client that sends its
//! request head one byte every few seconds holds a connection for ever), no
//! idle timeout and no connection limit, and retries a failing `accept` in
//! a tight loop. [`serve`] runs an axum [`Router`] with [`ServerLimits`]:
//!
//! | stage | bound | default |
//! |---|---|---|
//! | TLS handshake (with [`serve_with`] and a TLS [`Handshake`]) | [`handshake_timeout`](ServerLimits::handshake_timeout) | 10 s |
//! | request head, from the connection's start or the end of the previous answer | [`header_read_timeout`](ServerLimits::header_read_timeout) | 10 s |
//! | request body | the verifier's read timeout (408), per route | 10 s |
//! | no request in flight (keep-alive) | [`idle_timeout`](ServerLimits::idle_timeout) | 10 s |
//! | open connections | [`max_connections`](ServerLimits::max_connections); further clients wait in the listen backlog | 1,024 |
//! | shutdown | in-flight requests finish within [`shutdown_grace`](ServerLimits::shutdown_grace); idle connections close at once | 30 s |
//!
//! When `accept` fails for want of resources (no file descriptors left, say),
//! the loop waits (10 ms, doubling up to 1 s) instead of spinning, and logs
//! at most once a second with the count of failures it did not log.
//!
//! ```rust,no_run
//! use axum::{routing::get, Router};
//!
//! # async fn run() -> std::io::Result<()> {
//! let app = Router::new().route("/healthz", get(|| async { "ok" }));
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await?;
//! // Stops on SIGTERM or Ctrl-C, letting in-flight deliveries finish.
//! hookgate_axum::serve(listener, app).await
//! # }
//! ```

use std::convert::Infallible;
use std::future::{Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::{Service, ServiceExt};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The bounds a server keeps on every connection; see the [module](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLimits {
    handshake_timeout: Duration,
    header_read_timeout: Duration,
    idle_timeout: Duration,
    max_connections: usize,
    shutdown_grace: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(10),
            max_connections: 1024,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

impl ServerLimits {
    /// The defaults of the [module](self) table.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long a TLS handshake may take (default 10 s).
    #[must_use]
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// How long a request head may take to arrive whole, counted from the
    /// connection's start (after the handshake) or from the previous answer
    /// (default 10 s). An idle keep-alive connection is therefore closed
    /// after the shorter of this and [`idle_timeout`](Self::idle_timeout).
    #[must_use]
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// How long a connection may stay open with no request in flight
    /// (default 10 s).
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// How many connections may be open at once (default 1,024; at least 1).
    /// Clients beyond it wait in the listen backlog until one closes.
    #[must_use]
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// How long a shutdown waits for in-flight requests (default 30 s; a
    /// hookgate route answers within its handler deadline, 25 s by default).
    #[must_use]
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }
}

/// Turns an accepted TCP stream into the stream HTTP is spoken over: the
/// stream itself ([`Plain`]) or a TLS session.
pub trait Handshake: Clone + Send + Sync + 'static {
    /// The stream after the handshake.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Runs the handshake (bounded by [`ServerLimits::handshake_timeout`]).
    fn handshake(&self, tcp: TcpStream) -> impl Future<Output = io::Result<Self::Io>> + Send;

    /// Whether connections are encrypted (tells the HTTPS policy).
    fn is_tls(&self) -> bool;
}

/// Plain TCP: HTTP straight over the accepted stream.
#[derive(Debug, Clone, Copy, Default)]
pub struct Plain;

impl Handshake for Plain {
    type Io = TcpStream;

    async fn handshake(&self, tcp: TcpStream) -> io::Result<TcpStream> {
        Ok(tcp)
    }

    fn is_tls(&self) -> bool {
        false
    }
}

/// Who is on the other end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// The client's address.
    pub addr: SocketAddr,
    /// Whether the connection is TLS.
    pub tls: bool,
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT): the default shutdown signal.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Serves `app` on `listener` with [`ServerLimits::default`], until SIGTERM
/// or Ctrl-C; see [`Serve`] to change either. Each request carries
/// `ConnectInfo<SocketAddr>` (for [`connect_info`](crate::connect_info) and
/// the HTTPS policy).
pub fn serve(listener: TcpListener, app: Router) -> Serve {
    Serve {
        listener,
        app,
        limits: ServerLimits::default(),
        shutdown: Box::pin(shutdown_signal()),
    }
}

/// The future of [`serve`]; `.await` it.
#[must_use = "a server does nothing until it is awaited"]
pub struct Serve {
    listener: TcpListener,
    app: Router,
    limits: ServerLimits,
    shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl std::fmt::Debug for Serve {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serve")
            .field("listener", &self.listener)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Serve {
    /// Other limits.
    pub fn limits(mut self, limits: ServerLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Stops (gracefully: in-flight requests finish) when `signal` resolves,
    /// instead of on SIGTERM or Ctrl-C.
    pub fn with_graceful_shutdown<F>(mut self, signal: F) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.shutdown = Box::pin(signal);
        self
    }
}

impl IntoFuture for Serve {
    type Output = io::Result<()>;
    type IntoFuture = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        let Serve {
            listener,
            app,
            limits,
            shutdown,
        } = self;
        Box::pin(serve_with(
            listener,
            Plain,
            move |peer: Peer| {
                let app = app.clone();
                tower::service_fn(move |mut req: Request<Incoming>| {
                    req.extensions_mut().insert(ConnectInfo(peer.addr));
                    let app = app.clone();
                    async move {
                        match app.oneshot(req.map(Body::new)).await {
                            Ok(res) => Ok::<_, Infallible>(res),
                            Err(never) => match never {},
                        }
                    }
                })
            },
            limits,
            shutdown,
        ))
    }
}

/// What a connection's requests are doing, for the idle timeout.
#[derive(Debug)]
struct Activity {
    start: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `start` when the last request ended.
    idle_since_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(0),
        }
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self.clone())
    }

    fn busy(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst) > 0
    }

    fn idle_since(&self) -> Instant {
        self.start + Duration::from_millis(self.idle_since_ms.load(Ordering::SeqCst))
    }
}

/// Marks a request in flight until dropped.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let ms = u64::try_from(self.0.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.0.idle_since_ms.store(ms, Ordering::SeqCst);
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Logs a repeated failure at most once a second, with the count skipped.
#[derive(Debug)]
struct RateLimitedLog {
    last: Option<Instant>,
    skipped: u64,
}

impl RateLimitedLog {
    fn new() -> Self {
        Self {
            last: None,
            skipped: 0,
        }
    }

    /// `Some(skipped)` when this occurrence should be logged.
    fn tick(&mut self) -> Option<u64> {
        let now = Instant::now();
        match self.last {
            Some(last) if now.duration_since(last) < Duration::from_secs(1) => {
                self.skipped += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.skipped))
            }
        }
    }
}

/// Errors of one connection that a retry of `accept` gets past at once.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Serves any tower service on `listener` with `limits`: `make` builds the
/// service for each connection from its [`Peer`], `handshake` turns the TCP
/// stream into the stream HTTP/1.1 is spoken over. Returns once `shutdown`
/// has resolved and the open connections have finished (or the grace
/// period ran out; connections still open then are closed).
pub async fn serve_with<H, M, S, B, F>(
    listener: TcpListener,
    handshake: H,
    make: M,
    limits: ServerLimits,
    shutdown: F,
) -> io::Result<()>
where
    H: Handshake,
    M: Fn(Peer) -> S + Send + Sync + 'static,
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
    F: Future<Output = ()> + Send,
{
    let make = Arc::new(make);
    let limits = Arc::new(limits);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut accept_log = RateLimitedLog::new();
    let mut full_log = RateLimitedLog::new();
    let mut backoff = Duration::from_millis(10);
    tokio::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if let Some(skipped) = full_log.tick() {
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        skipped,
                        "connection limit reached: new clients wait in the backlog"
                    );
                }
                tokio::select! {
                    permit = permits.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                    () = &mut shutdown => break,
                }
            }
        };
        let (tcp, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => {
                    backoff = Duration::from_millis(10);
                    accepted
                }
                Err(error) if is_connection_error(&error) => continue,
                Err(error) => {
                    if let Some(skipped) = accept_log.tick() {
                        tracing::warn!(%error, skipped, retry_in = ?backoff, "accept failed; waiting before the next accept");
                    }
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = &mut shutdown => break,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let peer = Peer {
            addr,
            tls: handshake.is_tls(),
        };
        let service = make(peer);
        let (handshake, limits, stop) = (handshake.clone(), limits.clone(), stop_rx.clone());
        connections.spawn(async move {
            connection(tcp, peer, handshake, service, &limits, stop).await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let open = connections.len();
    if open > 0 {
        tracing::info!(
            open,
            "shutting down: idle connections close now, in-flight requests finish"
        );
    }
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            grace = ?limits.shutdown_grace,
            "connections still open after the grace period; closing them"
        );
        connections.shutdown().await;
    }
    Ok(())
}

async fn connection<H, S, B>(
    tcp: TcpStream,
    peer: Peer,
    handshake: H,
    service: S,
    limits: &ServerLimits,
    mut stop: watch::Receiver<bool>,
) where
    H: Handshake,
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let io = tokio::select! {
        done = tokio::time::timeout(limits.handshake_timeout, handshake.handshake(tcp)) => match done {
            Ok(Ok(io)) => io,
            Ok(Err(error)) => {
                tracing::info!(peer = %peer.addr, %error, "handshake failed (plain HTTP to a TLS port?)");
                return;
            }
            Err(_) => {
                tracing::debug!(peer = %peer.addr, "handshake timed out; connection closed");
                return;
            }
        },
        _ = stop.wait_for(|stop| *stop) => return,
    };
    let activity = Arc::new(Activity::new());
    let tracked = activity.clone();
    let hyper_service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let in_flight = tracked.begin();
        let call = service.clone().oneshot(req);
        async move {
            let res = call.await;
            drop(in_flight);
            res
        }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let conn = http.serve_connection(TokioIo::new(io), hyper_service);
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        let idle_check = if activity.busy() {
            Instant::now() + limits.idle_timeout
        } else {
            activity.idle_since() + limits.idle_timeout
        };
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(peer = %peer.addr, %error, "connection ended with an error");
                }
                return;
            }
            () = tokio::time::sleep_until(idle_check) => {
                if !activity.busy() && activity.idle_since().elapsed() >= limits.idle_timeout {
                    tracing::debug!(peer = %peer.addr, "idle connection closed");
                    return;
                }
            }
            _ = stop.wait_for(|stop| *stop), if !stopping => {
                stopping = true;
                if !activity.busy() {
                    return;
                }
                // Finish the request in flight, then close.
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn repeated_failures_are_logged_once_a_second_with_the_count_skipped() {
        let mut log = RateLimitedLog::new();
        assert_eq!(log.tick(), Some(0));
        assert_eq!(log.tick(), None);
        assert_eq!(log.tick(), None);
        tokio::time::advance(Duration::from_millis(1001)).await;
        assert_eq!(log.tick(), Some(2));
    }
}
