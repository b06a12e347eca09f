//! The verification core: bytes and headers in, a verdict out.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use crate::clock::{Clock, SystemClock};
use crate::envelope::{self, VerifiedEvent};
use crate::handshake::{self, Handshake, HandshakeReply};
use crate::headers::Headers;
use crate::scheme::{Aexo, Axifi, Message, Scheme, SignatureParts};
use crate::secret::Keys;
use crate::tenant::{SecretLookup, TenantKey, Tenants};
use crate::{ConfigError, Rejection, Secrets};

/// Default body limit: 1 MiB, far above any event the seeds describe (3 KB)
/// and small enough that a flood of large bodies cannot exhaust memory.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// Default time to receive the whole body.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Default handler deadline: senders time out at 30 s (AXIFI), so the
/// sender must have its answer before then.
pub const DEFAULT_HANDLER_DEADLINE: Duration = Duration::from_secs(25);

/// The longest handler deadline accepted: beyond it the 503 may not reach
/// a sender that gives up at 30 s.
pub const MAX_HANDLER_DEADLINE: Duration = Duration::from_secs(29);

/// Default allowance for a sender's clock running ahead of ours (schemes
/// may set their own: Stripe's and Linear's windows hold both ways).
pub const DEFAULT_MAX_FUTURE_SKEW: Duration = crate::scheme::DEFAULT_FUTURE_SKEW;

/// A [`Verifier`]'s settings, read back with [`Verifier::settings`]: each
/// field has the name of the method that sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Settings {
    /// The freshness window ([`Verifier::freshness`]).
    pub freshness: Duration,
    /// How far ahead of our clock a signed timestamp may be
    /// ([`Verifier::max_future_skew`]).
    pub max_future_skew: Duration,
    /// The body limit in bytes ([`Verifier::max_body_bytes`]).
    pub max_body_bytes: usize,
    /// The body read timeout ([`Verifier::read_timeout`]).
    pub read_timeout: Duration,
    /// The handler deadline, counted from the request's arrival
    /// ([`Verifier::handler_deadline`]).
    pub handler_deadline: Duration,
    /// How many handlers may run at once
    /// ([`Verifier::max_concurrent_handlers`]; `None`: no cap).
    pub max_concurrent_handlers: Option<usize>,
}

/// Everything needed to verify one route's deliveries: a scheme, its secrets,
/// the freshness window, the body limit and read timeout, and a clock.
///
/// Framework-free: the tower layer and the adapters call [`Verifier::verify`]
/// after reading the body. Cloning is cheap (secrets are shared).
///
/// ```
/// use bytes::Bytes;
/// use hookgate::{testing, Verifier, Rejection};
///
/// let verifier = Verifier::aexo("s3cret").unwrap();
/// let body = Bytes::from(testing::aexo_body("wh_1", "key.created", serde_json::json!({})));
/// let headers = testing::sign(verifier.scheme(), "s3cret", &body);
/// let event = verifier.verify(&headers, body.clone()).unwrap();
/// assert_eq!(event.id(), Some("wh_1"));
///
/// let wrong = testing::sign(verifier.scheme(), "not-the-secret", &body);
/// assert_eq!(verifier.verify(&wrong, body).unwrap_err(), Rejection::BadSignature);
/// ```
#[derive(Clone, Debug)]
pub struct Verifier(Arc<Config>);

/// A [`Verifier`]'s settings, behind one `Arc`: a clone per delivery is one
/// reference count, not one per shared part.
#[derive(Clone, Debug)]
struct Config {
    scheme: Arc<dyn Scheme>,
    keys: Keys,
    public_url: Option<Arc<str>>,
    freshness: Duration,
    max_future_skew: Duration,
    max_body_bytes: usize,
    read_timeout: Duration,
    deadline: Duration,
    clock: Arc<dyn Clock>,
    handshakes: Arc<[Handshake]>,
    report_only: bool,
    tenants: Option<Tenants>,
    tenant: Option<Arc<str>>,
    handler_cap: Option<(usize, Arc<tokio::sync::Semaphore>)>,
    metrics: Arc<crate::metrics::SchemeMetrics>,
}

impl Verifier {
    /// A verifier for `scheme` accepting any of `secrets`, with the scheme's
    /// default freshness window and future-skew allowance.
    ///
    /// Refused when a secret is not in the scheme's form (a Standard
    /// Webhooks secret that is not base64), and for a scheme that signs
    /// the URL it calls (Square, Twilio): build those with
    /// [`with_public_url`](Self::with_public_url).
    pub fn new(scheme: impl Scheme, secrets: Secrets) -> Result<Self, ConfigError> {
        if scheme.signs_url() {
            return Err(ConfigError::PublicUrl {
                scheme: scheme.name(),
                why: "none is set; build the verifier with Verifier::with_public_url".into(),
            });
        }
        Self::build(Arc::new(scheme), secrets, None)
    }

    /// A verifier for a scheme that signs the URL the sender calls: `url`
    /// is that URL as configured at the sender (scheme, host, path, no
    /// query; the request's query is appended when it has one). Behind a
    /// proxy the request's own URL is not it, which is why it is
    /// configured rather than read off the request.
    pub fn with_public_url(
        scheme: impl Scheme,
        secrets: Secrets,
        url: &str,
    ) -> Result<Self, ConfigError> {
        let refuse = |why: &str| ConfigError::PublicUrl {
            scheme: scheme.name(),
            why: format!("{url:?} {why}"),
        };
        let parsed: http::Uri = url.parse().map_err(|_| refuse("is not a URL"))?;
        if !matches!(parsed.scheme_str(), Some("https" | "http")) || parsed.authority().is_none() {
            return Err(refuse("is not an absolute http(s) URL"));
        }
        if parsed.query().is_some() || url.contains('#') {
            return Err(refuse(
                "has a query or fragment; give the URL without them (the request's query is added)",
            ));
        }
        Self::build(Arc::new(scheme), secrets, Some(url.into()))
    }

    fn build(
        scheme: Arc<dyn Scheme>,
        secrets: Secrets,
        public_url: Option<Arc<str>>,
    ) -> Result<Self, ConfigError> {
        let keys = Keys::new(&*scheme, &secrets)?;
        Ok(Self::with_keys(scheme, keys, public_url))
    }

    fn with_keys(scheme: Arc<dyn Scheme>, keys: Keys, public_url: Option<Arc<str>>) -> Self {
        Self(Arc::new(Config {
            keys,
            freshness: scheme.default_freshness(),
            max_future_skew: scheme.default_future_skew(),
            public_url,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            read_timeout: DEFAULT_READ_TIMEOUT,
            deadline: DEFAULT_HANDLER_DEADLINE,
            clock: Arc::new(SystemClock),
            handshakes: Arc::new([]),
            report_only: false,
            tenants: None,
            tenant: None,
            handler_cap: None,
            metrics: Arc::new(crate::metrics::SchemeMetrics::new(scheme.name())),
            scheme,
        }))
    }

    /// A verifier for one route serving many tenants: each delivery names
    /// its tenant (`key`), and `lookup` gives that tenant's secrets, once
    /// per delivery (cache in the lookup if it is slow). A tenant it does
    /// not find, or a delivery that names none, is refused (401); a failed
    /// lookup is a 503. Each tenant's secrets rotate as a route's do (list
    /// the new and the old). The tower layer and both adapters run the
    /// lookup; the synchronous [`verify`](Self::verify) of a per-tenant
    /// verifier refuses every delivery (it has no tenant's secrets): use
    /// [`with_secrets`](Self::with_secrets) for that.
    pub fn per_tenant(
        scheme: impl Scheme,
        key: TenantKey,
        lookup: impl SecretLookup,
    ) -> Result<Self, ConfigError> {
        if scheme.signs_url() {
            return Err(ConfigError::PublicUrl {
                scheme: scheme.name(),
                why: "per-tenant routes of schemes that sign the URL are not supported".into(),
            });
        }
        let mut verifier = Self::with_keys(Arc::new(scheme), Keys::none(), None);
        verifier.config().tenants = Some(Tenants {
            key,
            lookup: Arc::new(lookup),
        });
        Ok(verifier)
    }

    /// This verifier with `secrets` in place of its own, every other
    /// setting kept.
    pub fn with_secrets(&self, secrets: &Secrets) -> Result<Self, ConfigError> {
        let mut verifier = self.clone();
        verifier.config().keys = Keys::new(&*self.0.scheme, secrets)?;
        verifier.config().tenants = None;
        Ok(verifier)
    }

    /// [`with_secrets`](Self::with_secrets) for `tenant`: the events it
    /// verifies name their tenant ([`VerifiedEvent::tenant`]), and their
    /// dedupe keys are the tenant's own, so two tenants' equal event ids
    /// never collide.
    pub fn with_tenant_secrets(
        &self,
        tenant: &str,
        secrets: &Secrets,
    ) -> Result<Self, ConfigError> {
        let mut verifier = self.with_secrets(secrets)?;
        verifier.config().tenant = Some(tenant.into());
        Ok(verifier)
    }

    /// The settings to change, copied first if another clone shares them.
    fn config(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.0)
    }

    /// The tenant rule and lookup of a per-tenant route.
    pub(crate) fn tenants(&self) -> Option<&Tenants> {
        self.0.tenants.as_ref()
    }

    /// AEXO with one secret; refused when the secret is empty.
    pub fn aexo(secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        Self::new(Aexo, Secrets::single(secret)?)
    }

    /// AXIFI with one secret; refused when the secret is empty.
    pub fn axifi(secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        Self::new(Axifi, Secrets::single(secret)?)
    }

    /// Replaces the accepted secrets (rotation: list the new and the old);
    /// refused as [`new`](Self::new) refuses them.
    pub fn secrets(mut self, secrets: Secrets) -> Result<Self, ConfigError> {
        self.config().keys = Keys::new(&*self.0.scheme, &secrets)?;
        Ok(self)
    }

    /// How old a signed timestamp may be. Keep it longer than the sender's
    /// retry span when the sender keeps the original timestamp on retries.
    #[must_use]
    pub fn freshness(mut self, window: Duration) -> Self {
        self.config().freshness = window;
        self
    }

    /// How far ahead of our clock a signed timestamp may be.
    #[must_use]
    pub fn max_future_skew(mut self, skew: Duration) -> Self {
        self.config().max_future_skew = skew;
        self
    }

    /// The largest body accepted, in bytes (default 1 MiB).
    #[must_use]
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.config().max_body_bytes = limit;
        self
    }

    /// How long the whole body may take to arrive (default 10 s).
    #[must_use]
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.config().read_timeout = timeout;
        self
    }

    /// How long a delivery may take from its arrival to the handler's answer
    /// (default 25 s, at most 29 s). At the deadline the sender gets 503 with
    /// `Retry-After`, the handler's future is dropped and a dedupe claim is
    /// released, so the sender's retry is processed. Handlers must therefore
    /// be safe to cancel at an `.await`, or hand long work off (the durable
    /// inbox). Refused when zero or above 29 s.
    pub fn handler_deadline(mut self, deadline: Duration) -> Result<Self, ConfigError> {
        Self::check_handler_deadline(deadline)?;
        self.config().deadline = deadline;
        Ok(self)
    }

    /// The rule [`handler_deadline`](Self::handler_deadline) applies, for a
    /// configuration checked before any verifier is built: above zero and
    /// at most [`MAX_HANDLER_DEADLINE`].
    pub fn check_handler_deadline(deadline: Duration) -> Result<(), ConfigError> {
        if deadline.is_zero() || deadline > MAX_HANDLER_DEADLINE {
            return Err(ConfigError::HandlerDeadline { deadline });
        }
        Ok(())
    }

    /// Answers `handshake` on this route with no handler code (Slack's
    /// `url_verification`, Zoom's URL validation, Discord's PING, ...; see
    /// [`handshake`](crate::handshake)). Refused for a signed handshake of
    /// another sender than the route's scheme.
    pub fn handshake(mut self, handshake: Handshake) -> Result<Self, ConfigError> {
        handshake.check(self.0.scheme.name())?;
        let mut all = self.0.handshakes.to_vec();
        all.push(handshake);
        self.config().handshakes = all.into();
        Ok(self)
    }

    /// **Report-only**: deliveries that fail verification (signature,
    /// envelope, freshness) are logged, counted
    /// (`hookgate_report_only_total`) and passed on unverified, with a
    /// [`ReportOnly`](crate::ReportOnly) in the request's extensions and no
    /// [`VerifiedEvent`]. For rolling verification out in front of an
    /// application that does not check today: watch the counter, then
    /// remove this setting. Never the default; logged as a warning when
    /// set, and again by each layer or middleware built with it. The body limit and read timeout still apply, and a dedupe layer
    /// passes unverified deliveries on without a key.
    #[must_use]
    pub fn report_only(mut self) -> Self {
        tracing::warn!(
            scheme = self.0.scheme.name(),
            "REPORT-ONLY verification: deliveries that fail verification are passed on \
             unverified; forged events reach the handler until this is turned off"
        );
        self.config().report_only = true;
        self
    }

    /// Whether the route is in report-only mode.
    pub fn is_report_only(&self) -> bool {
        self.0.report_only
    }

    /// At most `max` handlers of this route run at once; a delivery beyond
    /// them is answered 503 with `Retry-After` at once (the sender retries)
    /// instead of waiting without bound. The cap is shared by every clone
    /// of this verifier (every layer built from it). Refused when zero.
    pub fn max_concurrent_handlers(mut self, max: usize) -> Result<Self, ConfigError> {
        if max == 0 {
            return Err(ConfigError::ZeroHandlerCap);
        }
        self.config().handler_cap = Some((max, Arc::new(tokio::sync::Semaphore::new(max))));
        Ok(self)
    }

    /// The route's handler cap, if it has one.
    /// The route's per-delivery metrics.
    pub(crate) fn metrics(&self) -> &Arc<crate::metrics::SchemeMetrics> {
        &self.0.metrics
    }

    pub(crate) fn handler_cap(&self) -> Option<&Arc<tokio::sync::Semaphore>> {
        self.0.handler_cap.as_ref().map(|(_, cap)| cap)
    }

    /// The handshakes this route answers.
    pub fn handshakes(&self) -> &[Handshake] {
        &self.0.handshakes
    }

    /// The answer to an unsigned handshake (Graph, Meta, Dropbox), decided
    /// from the method and query alone, before the body is read.
    pub fn handshake_before_body(
        &self,
        method: &http::Method,
        query: Option<&str>,
    ) -> Option<HandshakeReply> {
        handshake::before_body(&self.0.handshakes, method, query)
    }

    /// The answer to a verified delivery that is a signed handshake (Slack,
    /// Zoom, Discord).
    pub fn handshake_after_verify(&self, event: &VerifiedEvent) -> Option<HandshakeReply> {
        if self.0.handshakes.is_empty() {
            return None;
        }
        handshake::after_verify(&self.0.handshakes, event, |bytes| {
            self.0
                .keys
                .iter()
                .next()
                .and_then(|key| key.hmac_sha256(bytes))
        })
    }

    /// The clock used for the freshness check (default: the system clock).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.config().clock = Arc::new(clock);
        self
    }

    /// The scheme.
    pub fn scheme(&self) -> &dyn Scheme {
        &*self.0.scheme
    }

    /// The public URL, for a scheme that signs it.
    pub fn public_url(&self) -> Option<&str> {
        self.0.public_url.as_deref()
    }

    /// The settings in force, each field named as the method that sets it.
    pub fn settings(&self) -> Settings {
        Settings {
            freshness: self.0.freshness,
            max_future_skew: self.0.max_future_skew,
            max_body_bytes: self.0.max_body_bytes,
            read_timeout: self.0.read_timeout,
            handler_deadline: self.0.deadline,
            max_concurrent_handlers: self.0.handler_cap.as_ref().map(|(max, _)| *max),
        }
    }

    /// Refuses a declared `Content-Length` over the limit, before reading.
    pub fn check_content_length(&self, declared: Option<u64>) -> Result<(), Rejection> {
        match declared {
            Some(len) if len > self.0.max_body_bytes as u64 => Err(Rejection::BodyTooLarge {
                limit: self.0.max_body_bytes,
            }),
            _ => Ok(()),
        }
    }

    /// Checks the signature over `body` against every secret, in constant
    /// time per comparison. Returns the index of the matching secret and the
    /// header timestamp, if the scheme signs one. Does not read the envelope.
    pub fn verify_signature(
        &self,
        headers: &dyn Headers,
        body: &[u8],
    ) -> Result<SignatureMatch, Rejection> {
        self.verify_signature_with_query(headers, None, body)
    }

    /// [`verify_signature`](Self::verify_signature) for a request whose
    /// query string is `query` (for schemes that sign the URL).
    pub fn verify_signature_with_query(
        &self,
        headers: &dyn Headers,
        query: Option<&str>,
        body: &[u8],
    ) -> Result<SignatureMatch, Rejection> {
        let url = match (&self.0.public_url, query) {
            (Some(base), Some(q)) if !q.is_empty() => Some(format!("{base}?{q}").into()),
            (Some(base), _) => Some(std::borrow::Cow::Borrowed(&**base)),
            (None, _) => None,
        };
        let mut message = Message::new(headers, body);
        if let Some(url) = url.as_deref() {
            message = message.with_url(url);
        }
        if self.0.keys.is_empty() {
            // A per-tenant verifier before its tenant's lookup.
            return Err(Rejection::UnknownTenant);
        }
        let mut parts = SignatureParts::new(self.0.scheme.algorithm());
        self.0.scheme.parse_signature(message, &mut parts)?;
        if !parts.has_tags() {
            return Err(Rejection::MalformedSignature);
        }
        for (index, key) in self.0.keys.iter().enumerate() {
            for variant in 0..parts.variants() {
                let content = parts.content_variant(body, variant);
                if key.matches(content, parts.tags_for(key.algorithm())) {
                    return Ok(SignatureMatch {
                        secret_index: index,
                        timestamp: parts.timestamp(),
                    });
                }
            }
        }
        Err(Rejection::BadSignature)
    }

    /// Checks the signature and, for schemes that sign one in a header, the
    /// timestamp's freshness at the clock's current time; reads nothing of
    /// the body beyond its bytes (no envelope, no types). For a delivery
    /// whose body is not in the sender's usual envelope, or a tool.
    pub fn authenticate(
        &self,
        headers: &dyn Headers,
        body: &[u8],
    ) -> Result<SignatureMatch, Rejection> {
        self.authenticate_at(headers, body, self.0.clock.now())
    }

    /// [`authenticate`](Self::authenticate) with an explicit "now".
    pub fn authenticate_at(
        &self,
        headers: &dyn Headers,
        body: &[u8],
        now: SystemTime,
    ) -> Result<SignatureMatch, Rejection> {
        self.authenticate_request(headers, None, body, now)
    }

    /// [`authenticate_at`](Self::authenticate_at) for a request whose
    /// query string is `query` (schemes that sign the URL need it).
    pub fn authenticate_request(
        &self,
        headers: &dyn Headers,
        query: Option<&str>,
        body: &[u8],
        now: SystemTime,
    ) -> Result<SignatureMatch, Rejection> {
        let matched = self.verify_signature_with_query(headers, query, body)?;
        if let Some(at) = matched.timestamp {
            self.check_freshness(at, now)?;
        }
        Ok(matched)
    }

    /// The timestamp the scheme signs in a header, read without checking
    /// the signature: for tools that explain a failure, never for trust.
    pub fn signed_timestamp(&self, headers: &dyn Headers, body: &[u8]) -> Option<SystemTime> {
        let mut parts = SignatureParts::new(self.0.scheme.algorithm());
        let mut message = Message::new(headers, body);
        if let Some(url) = self.0.public_url.as_deref() {
            message = message.with_url(url);
        }
        self.0.scheme.parse_signature(message, &mut parts).ok()?;
        parts.timestamp()
    }

    /// Verifies a whole delivery at the clock's current time: signature,
    /// envelope, freshness. Needs no event types.
    pub fn verify(&self, headers: &dyn Headers, body: Bytes) -> Result<VerifiedEvent, Rejection> {
        self.verify_at(headers, body, self.0.clock.now())
    }

    /// [`verify`](Self::verify) for a request whose query string is
    /// `query` (the layers pass it; schemes that sign the URL need it).
    pub fn verify_with_query(
        &self,
        headers: &dyn Headers,
        query: Option<&str>,
        body: Bytes,
    ) -> Result<VerifiedEvent, Rejection> {
        self.verify_request(headers, query, body, self.0.clock.now())
    }

    /// [`verify`](Self::verify) with an explicit "now", for tests and for
    /// checking a saved delivery.
    pub fn verify_at(
        &self,
        headers: &dyn Headers,
        body: Bytes,
        now: SystemTime,
    ) -> Result<VerifiedEvent, Rejection> {
        self.verify_request(headers, None, body, now)
    }

    /// The whole check with everything explicit: the request's query
    /// string (schemes that sign the URL need it) and "now".
    pub fn verify_request(
        &self,
        headers: &dyn Headers,
        query: Option<&str>,
        body: Bytes,
        now: SystemTime,
    ) -> Result<VerifiedEvent, Rejection> {
        if body.len() > self.0.max_body_bytes {
            return Err(Rejection::BodyTooLarge {
                limit: self.0.max_body_bytes,
            });
        }
        let matched = self.verify_signature_with_query(headers, query, &body)?;
        let envelope = envelope::read(&self.0.scheme.envelope(), headers, &body).map_err(|e| {
            tracing::warn!(scheme = self.0.scheme.name(), error = %e, "signed body is not a valid envelope");
            Rejection::InvalidEnvelope
        })?;
        let signed_at = matched
            .timestamp
            .or_else(|| envelope.timestamp.map(SystemTime::from));
        if let Some(signed_at) = signed_at {
            self.check_freshness(signed_at, now)?;
        }
        self.0.metrics.verified();
        Ok(envelope.into_verified(
            self.0.scheme.name(),
            matched.secret_index,
            self.0.tenant.clone(),
            body,
        ))
    }

    /// Reads the envelope of a body this process verified before storing
    /// it (the durable inbox), for the tenant it was verified for. Checks
    /// neither signature nor freshness: the signed timestamp is stale by the
    /// time a retry or replay runs.
    pub(crate) fn reopen(
        &self,
        headers: &dyn Headers,
        body: Bytes,
        tenant: Option<&str>,
    ) -> Result<VerifiedEvent, Rejection> {
        let envelope = envelope::read(&self.0.scheme.envelope(), headers, &body)
            .map_err(|_| Rejection::InvalidEnvelope)?;
        Ok(envelope.into_verified(self.0.scheme.name(), 0, tenant.map(Arc::from), body))
    }

    /// Why `body` is not a valid envelope for this scheme, if it is not.
    /// For tools that explain a failure; it does not check the signature.
    pub fn envelope_error(&self, headers: &dyn Headers, body: &[u8]) -> Option<String> {
        envelope::read(&self.0.scheme.envelope(), headers, body)
            .err()
            .map(|e| e.0)
    }

    /// The signed timestamp in `body`'s envelope, read without checking the
    /// signature: for tools that explain a failure, never for trust.
    pub fn envelope_timestamp(
        &self,
        headers: &dyn Headers,
        body: &[u8],
    ) -> Option<time::OffsetDateTime> {
        envelope::read(&self.0.scheme.envelope(), headers, body)
            .ok()?
            .timestamp
    }

    fn check_freshness(&self, signed_at: SystemTime, now: SystemTime) -> Result<(), Rejection> {
        match now.duration_since(signed_at) {
            Ok(age) if age > self.0.freshness => Err(Rejection::Stale),
            Ok(_) => Ok(()),
            Err(ahead) if ahead.duration() > self.0.max_future_skew => Err(Rejection::FromFuture),
            Err(_) => Ok(()),
        }
    }
}

/// Which secret matched, and the signed header timestamp if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureMatch {
    /// Index of the matching secret in the configured list.
    pub secret_index: usize,
    /// The timestamp the scheme signs in a header, if it has one.
    pub timestamp: Option<SystemTime>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use time::OffsetDateTime;

    const NOW: OffsetDateTime = time::macros::datetime!(2026-05-17 12:00:00 UTC);

    fn delivery(created_at: OffsetDateTime) -> (Vec<(&'static str, String)>, Bytes) {
        let body = testing::aexo_body_at("wh_1", "key.created", serde_json::json!({}), created_at);
        (testing::sign(&Aexo, "k", &body), body.into())
    }

    #[test]
    fn freshness_bounds_are_inclusive_and_checked_against_the_given_now() {
        let v = Verifier::aexo("k").unwrap();
        let now = SystemTime::from(NOW);
        let window = time::Duration::try_from(v.settings().freshness).unwrap();
        let skew = time::Duration::try_from(DEFAULT_MAX_FUTURE_SKEW).unwrap();
        let table = [
            (NOW, Ok(())),
            (NOW - window, Ok(())),
            (
                NOW - window - time::Duration::seconds(1),
                Err(Rejection::Stale),
            ),
            (NOW + skew, Ok(())),
            (
                NOW + skew + time::Duration::seconds(1),
                Err(Rejection::FromFuture),
            ),
        ];
        for (created_at, expected) in table {
            let (headers, body) = delivery(created_at);
            let got = v.verify_at(&headers, body, now).map(|_| ());
            assert_eq!(got, expected, "created_at {created_at}");
        }
    }

    #[test]
    fn the_default_window_covers_aexos_whole_retry_span() {
        // +0, +5 min, +30 min, +2 h after each failure, each failure a 30 s timeout.
        let span = Duration::from_secs((5 + 30 + 120) * 60 + 4 * 30);
        assert!(Verifier::aexo("k").unwrap().settings().freshness > span);
    }

    #[test]
    fn the_configured_clock_is_used_by_verify() {
        let clock = crate::ManualClock::new(SystemTime::from(NOW));
        let v = Verifier::aexo("k").unwrap().clock(clock.clone());
        let (headers, body) = delivery(NOW);
        assert!(v.verify(&headers, body.clone()).is_ok());
        clock.advance(Duration::from_secs(4 * 3600));
        assert_eq!(v.verify(&headers, body).unwrap_err(), Rejection::Stale);
    }

    #[test]
    fn a_bad_signature_is_reported_before_the_envelope_or_the_clock() {
        // Unauthenticated input learns nothing about what else would fail.
        let v = Verifier::aexo("k").unwrap();
        let headers = testing::sign(&Aexo, "other", b"not json");
        assert_eq!(
            v.verify(&headers, Bytes::from_static(b"not json"))
                .unwrap_err(),
            Rejection::BadSignature
        );
    }

    #[test]
    fn verify_refuses_a_body_over_the_limit_even_without_the_layer() {
        let v = Verifier::aexo("k").unwrap().max_body_bytes(10);
        let (headers, body) = delivery(NOW);
        assert_eq!(
            v.verify_at(&headers, body, SystemTime::from(NOW))
                .unwrap_err(),
            Rejection::BodyTooLarge { limit: 10 }
        );
    }

    #[test]
    fn arbitrary_headers_and_bodies_never_panic() {
        // A small deterministic generator (xorshift) over mutations of a
        // valid delivery: truncations, byte flips, odd header values.
        let v = Verifier::aexo("k").unwrap().max_body_bytes(4096);
        let (headers, body) = delivery(NOW);
        let sig = headers[0].1.clone().into_bytes();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let mut b = body.to_vec();
            let mut s = sig.clone();
            match next() % 6 {
                0 => b.truncate((next() as usize) % (b.len() + 1)),
                1 => {
                    let i = (next() as usize) % b.len();
                    b[i] = next() as u8;
                }
                2 => s.truncate((next() as usize) % (s.len() + 1)),
                3 => {
                    let i = (next() as usize) % s.len();
                    s[i] = next() as u8;
                }
                4 => b = (0..(next() % 64)).map(|_| next() as u8).collect(),
                _ => s.extend((0..(next() % 8)).map(|_| next() as u8)),
            }
            let headers = vec![("x-aexo-signature", s)];
            let _ = v.verify_at(&headers, Bytes::from(b), SystemTime::from(NOW));
        }
    }

    #[test]
    fn a_handler_deadline_of_zero_or_above_29_s_is_refused() {
        let v = Verifier::aexo("k").unwrap();
        assert_eq!(v.settings().handler_deadline, DEFAULT_HANDLER_DEADLINE);
        for bad in [
            Duration::ZERO,
            Duration::from_secs(30),
            Duration::from_millis(29_001),
        ] {
            let err = v.clone().handler_deadline(bad).unwrap_err();
            assert!(err.to_string().contains("30 s"), "{err}");
        }
        let ok = v.handler_deadline(MAX_HANDLER_DEADLINE).unwrap();
        assert_eq!(ok.settings().handler_deadline, MAX_HANDLER_DEADLINE);
    }
}
