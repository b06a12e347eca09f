use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{Either, Full};
use tower::{Layer, Service};

use super::{Connection, HttpsPolicy};

type ConnectionOf = fn(&http::Extensions) -> Option<Connection>;

fn hookgate_connection(ext: &http::Extensions) -> Option<Connection> {
    ext.get::<Connection>().copied()
}

/// Applies [`RequireHttps`]: put it outermost, before the body is read.
///
/// It reads the request's [`Connection`] extension; servers that record the
/// peer differently say how with [`connection_from`](Self::connection_from)
/// (`hookgate_axum::connect_info` reads axum's `ConnectInfo`). Without any,
/// the peer is unknown and only TLS-marked connections could pass: it fails closed.
#[derive(Debug, Clone)]
pub struct RequireHttpsLayer {
    policy: Arc<HttpsPolicy>,
    connection: ConnectionOf,
}

impl RequireHttpsLayer {
    /// A layer enforcing `policy`.
    pub fn new(policy: HttpsPolicy) -> Self {
        Self {
            policy: Arc::new(policy),
            connection: hookgate_connection,
        }
    }

    /// Reads the connection from the request's extensions with `f`.
    #[must_use]
    pub fn connection_from(mut self, f: ConnectionOf) -> Self {
        self.connection = f;
        self
    }
}

impl<S> Layer<S> for RequireHttpsLayer {
    type Service = RequireHttps<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireHttps {
            inner,
            policy: self.policy.clone(),
            connection: self.connection,
        }
    }
}

/// Refuses requests that did not arrive over HTTPS with 403.
#[derive(Debug, Clone)]
pub struct RequireHttps<S> {
    inner: S,
    policy: Arc<HttpsPolicy>,
    connection: ConnectionOf,
}

impl<S, B, ResBody> Service<Request<B>> for RequireHttps<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = Response<Either<ResBody, Full<Bytes>>>;
    type Error = S::Error;
    type Future = futures_util::future::Either<
        futures_util::future::MapOk<S::Future, fn(Response<ResBody>) -> Self::Response>,
        std::future::Ready<Result<Self::Response, S::Error>>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        use futures_util::TryFutureExt;
        let conn = (self.connection)(req.extensions()).unwrap_or(Connection {
            peer: None,
            tls: false,
        });
        match self.policy.check(&conn, req.headers()) {
            Ok(()) => {
                futures_util::future::Either::Left(self.inner.call(req).map_ok(left as fn(_) -> _))
            }
            Err(rejection) => futures_util::future::Either::Right(std::future::ready(Ok(
                crate::Answer::from(rejection)
                    .into_response()
                    .map(Either::Right),
            ))),
        }
    }
}

fn left<L, R>(res: Response<L>) -> Response<Either<L, R>> {
    res.map(Either::Left)
}
