//! `hookgate serve --config hookgate.toml`: a verifying reverse proxy.
//!
//! Per route (path, or a path with a `{tenant}` segment -> scheme,
//! secrets, upstream): the HTTPS policy, the verification with the handler
//! deadline, dedupe (memory or Redis), then the request is forwarded to
//! the upstream with `hookgate-verified: <scheme>` (and `hookgate-event-id`,
//! and on a per-tenant route `hookgate-tenant`) added, after removing any
//! such header that came from outside. The sender gets the upstream's status; a 2xx
//! commits the dedupe claim. TLS is terminated with rustls (the certificate
//! is re-read on SIGHUP), or the proxy runs behind a load balancer trusted
//! through `trusted_proxies`. SIGTERM stops accepting and lets in-flight
//! deliveries finish (each is bounded by the deadline).

mod config;
mod proxy;
mod route_path;
mod scheme_config;
mod tenants_config;
mod tls;

pub(crate) use scheme_config::hmac_scheme_file;

use std::convert::Infallible;
use std::path::PathBuf;

use hookgate_axum::serve::{serve_with, Peer, Plain};
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// The configuration file (see the README's "Run it in front of any app").
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
}

pub(crate) fn run(args: &ServeArgs) -> Result<bool, String> {
    let located = |e: config::ConfigError| match e.line {
        Some(line) => format!("{}:{line}: {}", args.config.display(), e.message),
        None => format!("{}: {}", args.config.display(), e.message),
    };
    let config = config::load(&args.config).map_err(located)?;
    init_logs(config.json_logs);
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(serve(config)).map_err(located)
}

fn init_logs(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,hookgate=info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
}

async fn serve(config: config::Config) -> Result<bool, config::ConfigError> {
    use config::ConfigError;
    let unlocated = |e: String| ConfigError::starting(None, e);
    let router = proxy::Router::build(&config).await?;
    let certs = match &config.tls {
        Some((cert, key)) => Some(
            tls::Certs::load(cert, key).map_err(|e| ConfigError::starting(config.lines.tls, e))?,
        ),
        None => None,
    };
    let listener = TcpListener::bind(config.listen).await.map_err(|e| {
        ConfigError::starting(
            config.lines.listen,
            format!("cannot listen on {}: {e}", config.listen),
        )
    })?;
    let addr = listener
        .local_addr()
        .map_err(|e| unlocated(e.to_string()))?;
    let scheme = if certs.is_some() { "https" } else { "http" };
    println!("listening on {scheme}://{addr}");
    tracing::info!(%addr, tls = certs.is_some(), routes = config.routes.len(), "hookgate proxy started");

    let mut hangup = signal(SignalKind::hangup()).map_err(|e| unlocated(e.to_string()))?;
    let mut terminate = signal(SignalKind::terminate()).map_err(|e| unlocated(e.to_string()))?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(|e| unlocated(e.to_string()))?;
    let reload = certs.clone();
    // SIGHUP re-reads the certificate; SIGTERM or SIGINT stops accepting.
    let shutdown = async move {
        loop {
            tokio::select! {
                _ = hangup.recv() => match &reload {
                    Some(certs) => certs.reload(),
                    None => tracing::info!("SIGHUP: no TLS certificate to reload"),
                },
                _ = terminate.recv() => break,
                _ = interrupt.recv() => break,
            }
        }
        tracing::info!("shutting down: letting in-flight deliveries finish");
    };
    let handler = router.clone();
    let make = move |peer: Peer| {
        let router = handler.clone();
        tower::service_fn(move |req| {
            let router = router.clone();
            async move { Ok::<_, Infallible>(router.handle(req, peer.addr, peer.tls).await) }
        })
    };
    let served = match certs {
        Some(certs) => serve_with(listener, certs, make, config.limits.clone(), shutdown).await,
        None => serve_with(listener, Plain, make, config.limits.clone(), shutdown).await,
    };
    served.map_err(|e| unlocated(format!("server failed: {e}")))?;
    router.stop_workers().await;
    Ok(true)
}
