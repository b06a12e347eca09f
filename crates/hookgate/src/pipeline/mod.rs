//! The stages every adapter runs for one delivery, framework-free.
//!
//! The tower layers and the actix middleware are translations of this
//! module: they hand it their headers, their body as a stream of chunks and
//! their handler's future, and turn the [`Answer`](crate::Answer)s it gives
//! into their framework's response. In order:
//!
//! 1. [`Intake::new`] when the request arrives: the handler deadline starts;
//! 2. [`Intake::read`]: a `Content-Length` over the limit is refused before
//!    reading (413); the body is read through the limit (413) and the read
//!    timeout (408);
//! 3. [`Intake::verify`]: signature, envelope, freshness (401/400);
//! 4. with dedupe, [`Deduper::run`](crate::dedupe::Deduper::run) claims the
//!    key, runs the handler, commits on success and releases on failure,
//!    panic or drop; in inbox mode [`Inbox::accept`](crate::inbox::Inbox::accept)
//!    stores the event instead;
//! 5. [`Intake::run`]: the handler (and the dedupe step) under the deadline
//!    (503 with `Retry-After`, the future dropped) and with a panic answered 500.
//!
//! Each stage logs and counts its own rejection, once, through
//! [`Intake::reject`].

mod body;
mod handler;

pub use body::ReadBody;
pub use handler::RunHandler;

use std::future::Future;

use bytes::Bytes;
use tokio::time::Instant;

use crate::headers::HeaderValue;
use crate::{Answer, Headers, Rejection, VerifiedEvent, Verifier};

/// A tenant's lookup, as [`Intake::tenant_lookup`] starts it: the tenant
/// and what the lookup found.
pub type TenantLookup = std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = (
                    String,
                    Result<Option<crate::Secrets>, crate::store::StoreError>,
                ),
            > + Send,
    >,
>;

/// In the extensions of a delivery passed on unverified by a report-only
/// route ([`Verifier::report_only`]): why it would have been refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportOnly {
    /// The verdict verification gave.
    pub rejection: Rejection,
}

/// Logs, at `warn`, that a route is built in report-only mode
/// ([`Verifier::report_only`]); silent for any other route. The tower
/// layer and the actix middleware call it when they are built, so the log
/// names every report-only route at start, as `hookgate serve` does.
pub fn warn_if_report_only(verifier: &Verifier, adapter: &'static str) {
    if verifier.is_report_only() {
        tracing::warn!(
            scheme = verifier.scheme().name(),
            adapter,
            "REPORT-ONLY route built: deliveries that fail verification reach the handler \
             unverified (counted in hookgate_report_only_total); forged events get through \
             until report-only is turned off"
        );
    }
}

/// One delivery on its way through the stages; see the [module docs](self).
/// Cheap to clone (the verifier's secrets are shared).
#[derive(Debug, Clone)]
pub struct Intake {
    verifier: Verifier,
    arrived: Instant,
}

impl Intake {
    /// A delivery that arrived now: its handler deadline starts.
    pub fn new(verifier: &Verifier) -> Self {
        Self {
            verifier: verifier.clone(),
            arrived: Instant::now(),
        }
    }

    /// On a per-tenant route, the lookup of the tenant this request names
    /// (`None` on other routes). A request that names no tenant is refused.
    pub fn tenant_lookup(
        &self,
        headers: &dyn Headers,
        path: &str,
    ) -> Option<Result<TenantLookup, Rejection>> {
        let tenants = self.verifier.tenants()?;
        Some(match tenants.key.tenant(headers, path) {
            Some(tenant) => {
                let lookup = tenants.lookup.secrets(tenant.clone());
                Ok(Box::pin(async move { (tenant, lookup.await) }))
            }
            None => Err(self.reject(Rejection::UnknownTenant)),
        })
    }

    /// Takes the tenant's secrets found by [`tenant_lookup`](Self::tenant_lookup):
    /// none found is refused (401), a failed lookup is a 503.
    pub fn use_tenant_secrets(
        &mut self,
        (tenant, found): (
            String,
            Result<Option<crate::Secrets>, crate::store::StoreError>,
        ),
    ) -> Result<(), Rejection> {
        let secrets = match found {
            Ok(Some(secrets)) => secrets,
            Ok(None) => return Err(self.reject(Rejection::UnknownTenant)),
            Err(error) => {
                tracing::error!(%error, "tenant secret lookup failed");
                return Err(self.reject(Rejection::SecretsUnavailable));
            }
        };
        match self.verifier.with_tenant_secrets(&tenant, &secrets) {
            Ok(verifier) => {
                self.verifier = verifier;
                Ok(())
            }
            Err(error) => {
                // A tenant's secret not in the scheme's form: fail closed.
                tracing::error!(%error, "a tenant's secret cannot be used");
                Err(self.reject(Rejection::UnknownTenant))
            }
        }
    }

    /// The route's verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The scheme's name, for logs.
    pub fn scheme(&self) -> &'static str {
        self.verifier.scheme().name()
    }

    /// When the request arrived: the body read timeout and the handler
    /// deadline count from here.
    pub fn arrived(&self) -> Instant {
        self.arrived
    }

    /// When the handler must have answered.
    pub fn deadline(&self) -> Instant {
        self.arrived + self.verifier.settings().handler_deadline
    }

    /// The tracing span of the delivery.
    pub fn span(&self) -> tracing::Span {
        tracing::info_span!("webhook delivery", scheme = self.scheme())
    }

    /// Logs and counts a rejection, the one place that does; returns it.
    /// The stages call it; an adapter calls it for a check of its own
    /// (HTTPS, say) so that every refusal shows the same way.
    pub fn reject(&self, rejection: Rejection) -> Rejection {
        reject(self.scheme(), rejection)
    }

    /// Reads the body, a stream of chunks, through the limit and the read
    /// timeout. A `Content-Length` in `headers` over the limit is refused at
    /// once, without polling the body.
    pub fn read<S>(&self, headers: &dyn Headers, body: S) -> ReadBody<S> {
        let declared = match headers.header("content-length") {
            HeaderValue::One(v) => std::str::from_utf8(v)
                .ok()
                .and_then(|v| v.parse::<u64>().ok()),
            _ => None,
        };
        let refused = self
            .verifier
            .check_content_length(declared)
            .err()
            .map(|rejection| self.reject(rejection));
        ReadBody::new(self, body, refused)
    }

    /// Verifies the read body: signature, envelope, freshness. `query` is
    /// the request's query string (schemes that sign the URL need it).
    pub fn verify(
        &self,
        headers: &dyn Headers,
        query: Option<&str>,
        body: Bytes,
    ) -> Result<VerifiedEvent, Rejection> {
        match self.verifier.verify_with_query(headers, query, body) {
            Ok(event) => {
                tracing::debug!(
                    scheme = event.scheme(),
                    id = event.id(),
                    event = event.event_type(),
                    "webhook delivery verified"
                );
                Ok(event)
            }
            Err(rejection) => Err(self.reject(rejection)),
        }
    }

    /// [`verify`](Self::verify), or, on a report-only route, the verdict
    /// of a delivery that fails verification, to pass it on unverified:
    /// `Ok(Err(report))`. Body-limit answers are never passed on.
    pub fn verify_or_report(
        &self,
        headers: &dyn Headers,
        query: Option<&str>,
        body: Bytes,
    ) -> Result<Result<VerifiedEvent, ReportOnly>, Rejection> {
        if !self.verifier.is_report_only() {
            return self.verify(headers, query, body).map(Ok);
        }
        let scheme = self.scheme();
        match self.verifier.verify_with_query(headers, query, body) {
            Ok(event) => {
                crate::metrics::report_only(scheme, "verified");
                Ok(Ok(event))
            }
            Err(rejection @ Rejection::BodyTooLarge { .. }) => Err(self.reject(rejection)),
            Err(rejection) => {
                crate::metrics::report_only(scheme, rejection.reason());
                tracing::warn!(
                    scheme,
                    reason = rejection.reason(),
                    "REPORT-ONLY: this delivery fails verification and is passed on unverified"
                );
                Ok(Err(ReportOnly { rejection }))
            }
        }
    }

    /// The answer to an unsigned handshake of the route's, from the method
    /// and query alone (before the body is read).
    pub fn handshake_before_body(
        &self,
        method: &http::Method,
        query: Option<&str>,
    ) -> Option<Answer> {
        let reply = self.verifier.handshake_before_body(method, query)?;
        tracing::info!(
            handshake = reply.kind,
            status = reply.status.as_u16(),
            "endpoint handshake answered"
        );
        Some(Answer::Handshake(reply))
    }

    /// The answer to a verified delivery that is a signed handshake of the
    /// route's: the handler is not called.
    pub fn handshake_after_verify(&self, event: &VerifiedEvent) -> Option<Answer> {
        let reply = self.verifier.handshake_after_verify(event)?;
        tracing::info!(
            handshake = reply.kind,
            status = reply.status.as_u16(),
            "endpoint handshake answered"
        );
        Some(Answer::Handshake(reply))
    }

    /// Runs the handler under the deadline, a panic answered 500: `start`
    /// makes its future (a panic there is caught too).
    pub fn run<F: Future>(&self, start: impl FnOnce() -> F) -> RunHandler<F> {
        RunHandler::start(
            self.verifier.metrics(),
            self.deadline(),
            self.verifier.handler_cap(),
            start,
        )
    }
}

/// [`Intake::reject`], for the stages that keep only the scheme's name.
fn reject(scheme: &'static str, rejection: Rejection) -> Rejection {
    crate::metrics::rejected(scheme, &rejection);
    tracing::warn!(
        scheme,
        reason = rejection.reason(),
        status = rejection.status().as_u16(),
        "webhook delivery rejected"
    );
    rejection
}
