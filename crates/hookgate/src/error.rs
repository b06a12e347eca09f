//! The framework-free rejection and configuration error types.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;

/// Why a delivery was refused. Each variant maps to one HTTP status and one
/// short public message; adapters only translate it.
///
/// Messages never contain a secret, an expected signature or the body.
/// Details for operators go to `tracing` where the rejection is made.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// No signature header was sent. 401.
    MissingSignature,
    /// The signature header was sent more than once. 401.
    DuplicateSignature,
    /// The signature header is not of the scheme's form (prefix, hex, length). 401.
    MalformedSignature,
    /// The signature is well formed but matches none of the secrets. 401.
    BadSignature,
    /// The signed timestamp is older than the freshness window: a replay or a
    /// delivery held up for too long. 401.
    Stale,
    /// The signed timestamp is further in the future than clocks can drift. 401.
    FromFuture,
    /// The body is larger than the configured limit. 413.
    BodyTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The body was not received within the read timeout. 408.
    BodyTimeout,
    /// The body could not be read (the connection failed mid-body). 400.
    BodyRead,
    /// The body is signed but is not a valid event envelope. 400.
    InvalidEnvelope,
    /// The envelope is valid but its `data` does not match the requested type. 400.
    InvalidEventData,
    /// The handler had not answered by the route's deadline: 503 with
    /// `Retry-After`; the handler's future was dropped.
    HandlerDeadline,
    /// The handler panicked. 500.
    HandlerPanicked,
    /// The request did not arrive over HTTPS. 403.
    HttpsRequired,
    /// A per-tenant route found no secret for the delivery's tenant (or the
    /// delivery names none). 401: never a pass.
    UnknownTenant,
    /// A per-tenant route could not look its secrets up (the lookup
    /// failed). 503 with `Retry-After`.
    SecretsUnavailable,
    /// The route already runs as many handlers as it allows
    /// ([`Verifier::max_concurrent_handlers`](crate::Verifier::max_concurrent_handlers)).
    /// 503 with `Retry-After`: the sender retries later instead of the
    /// receiver queueing without bound.
    Overloaded,
}

/// `Retry-After` sent with [`Rejection::HandlerDeadline`].
pub const DEADLINE_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(30);

impl Rejection {
    /// The HTTP status a sender sees.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingSignature
            | Self::DuplicateSignature
            | Self::MalformedSignature
            | Self::BadSignature
            | Self::Stale
            | Self::FromFuture
            | Self::UnknownTenant => StatusCode::UNAUTHORIZED,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::BodyRead | Self::InvalidEnvelope | Self::InvalidEventData => {
                StatusCode::BAD_REQUEST
            }
            Self::HandlerDeadline => StatusCode::SERVICE_UNAVAILABLE,
            Self::HandlerPanicked => StatusCode::INTERNAL_SERVER_ERROR,
            Self::HttpsRequired => StatusCode::FORBIDDEN,
            Self::SecretsUnavailable | Self::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The `Retry-After` to send, where the sender should retry later.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::HandlerDeadline => Some(DEADLINE_RETRY_AFTER),
            Self::SecretsUnavailable | Self::Overloaded => Some(std::time::Duration::from_secs(1)),
            _ => None,
        }
    }

    /// A stable, machine-readable name for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingSignature => "missing_signature",
            Self::DuplicateSignature => "duplicate_signature",
            Self::MalformedSignature => "malformed_signature",
            Self::BadSignature => "bad_signature",
            Self::Stale => "stale_timestamp",
            Self::FromFuture => "future_timestamp",
            Self::BodyTooLarge { .. } => "body_too_large",
            Self::BodyTimeout => "body_timeout",
            Self::BodyRead => "body_read",
            Self::InvalidEnvelope => "invalid_envelope",
            Self::InvalidEventData => "invalid_event_data",
            Self::HandlerDeadline => "handler_deadline",
            Self::HandlerPanicked => "handler_panicked",
            Self::HttpsRequired => "https_required",
            Self::UnknownTenant => "unknown_tenant",
            Self::SecretsUnavailable => "secrets_unavailable",
            Self::Overloaded => "overloaded",
        }
    }

    /// The short public message that goes into the response body.
    pub fn message(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Self::MissingSignature => "missing signature header",
            Self::DuplicateSignature => "more than one signature header",
            Self::MalformedSignature => "malformed signature header",
            Self::BadSignature => "signature does not match",
            Self::Stale => "signed timestamp is older than the freshness window",
            Self::FromFuture => "signed timestamp is in the future",
            Self::BodyTooLarge { limit } => {
                return Cow::Owned(format!(
                "body exceeds the {limit}-byte limit; the receiver can raise it (max_body_bytes)"
            ))
            }
            Self::BodyTimeout => "body was not received within the read timeout",
            Self::BodyRead => "body could not be read",
            Self::InvalidEnvelope => "body is signed but is not a valid event envelope",
            Self::InvalidEventData => "event data does not match the expected type",
            Self::HandlerDeadline => "handler did not answer in time; retry later",
            Self::HandlerPanicked => "handler failed",
            Self::HttpsRequired => "HTTPS is required: send webhooks to an https:// URL",
            Self::UnknownTenant => "no webhook secret for this tenant",
            Self::SecretsUnavailable => "webhook secrets unavailable; retry later",
            Self::Overloaded => "too many deliveries in progress; retry later",
        })
    }

    /// The response body: `{"error": "<message>"}`.
    pub fn json_body(&self) -> Bytes {
        error_body(&self.message())
    }
}

/// `{"error": msg}` as JSON bytes; shared by every hookgate error response.
pub fn error_body(message: &str) -> Bytes {
    let value = serde_json::json!({ "error": message });
    Bytes::from(value.to_string())
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for Rejection {}

/// A configuration hookgate refuses to build, so that verification can never
/// be switched off by accident. Each variant is one mistake; its `Display`
/// says what is wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A secret is empty or only white space (often an unset environment variable).
    EmptySecret,
    /// No secret at all was given.
    NoSecret,
    /// The handler deadline is zero or above [`MAX_HANDLER_DEADLINE`](crate::MAX_HANDLER_DEADLINE).
    HandlerDeadline {
        /// The deadline asked for.
        deadline: Duration,
    },
    /// A trusted proxy range is neither an address nor a CIDR range.
    ProxyRange {
        /// The text given.
        range: String,
    },
    /// The dedupe retention is shorter than the freshness window plus the
    /// future-skew allowance, so a replay could be processed again.
    RetentionTooShort {
        /// The retention asked for.
        retention: Duration,
        /// The least the route needs.
        needed: Duration,
        /// The scheme whose window it is.
        scheme: &'static str,
    },
    /// A dedupe lease of zero.
    ZeroLease,
    /// The dedupe lease is not longer than the handler deadline, so a
    /// retry could claim the event while its handler still runs.
    LeaseNotAboveDeadline {
        /// The lease asked for.
        lease: Duration,
        /// The route's handler deadline.
        deadline: Duration,
    },
    /// The inbox lease is not longer than the handler timeout, so an event
    /// could be handed to a second worker while its handler runs.
    LeaseNotAboveHandlerTimeout {
        /// The lease asked for.
        lease: Duration,
        /// The handler timeout.
        handler_timeout: Duration,
    },
    /// An inbox with no worker.
    NoWorkers,
    /// A store's address (a Redis URL) cannot be used.
    StoreUrl {
        /// Why, from the store's client.
        reason: String,
    },
    /// A secret or key is not in the form its scheme needs (a Standard
    /// Webhooks `whsec_` secret that is not base64, say).
    SecretFormat {
        /// What the scheme expects.
        why: String,
    },
    /// A handler cap of zero, which would refuse every delivery.
    ZeroHandlerCap,
    /// A configured scheme cannot verify safely as described (it would not
    /// sign the body, or would trust an unsigned timestamp).
    Scheme {
        /// What is wrong.
        why: String,
    },
    /// The scheme signs the URL the sender called, and the route has none
    /// configured (or one that is not an absolute `https://` or `http://` URL).
    PublicUrl {
        /// The scheme.
        scheme: &'static str,
        /// What is wrong.
        why: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptySecret => f.write_str(
                "a webhook secret is empty; set it (an unset environment variable reads as empty) \
                 instead of leaving verification without a key",
            ),
            Self::NoSecret => f.write_str("no webhook secret was given; at least one is required"),
            Self::SecretFormat { why } => write!(f, "a webhook secret is not in its scheme's form: {why}"),
            Self::Scheme { why } => write!(f, "the signature scheme cannot verify safely: {why}"),
            Self::ZeroHandlerCap => f.write_str(
                "max_concurrent_handlers must be at least 1: zero would refuse every delivery",
            ),
            Self::PublicUrl { scheme, why } => write!(
                f,
                "{scheme} signs the URL it calls, so the route needs that public URL: {why}"
            ),
            Self::HandlerDeadline { deadline } => write!(
                f,
                "handler deadline {deadline:?} must be above zero and at most {:?}, \
                 so that senders that give up at 30 s still get the answer",
                crate::MAX_HANDLER_DEADLINE
            ),
            Self::ProxyRange { range } => write!(
                f,
                "trusted proxy range {range:?} is not an address or CIDR range (10.0.0.0/8)"
            ),
            Self::RetentionTooShort {
                retention,
                needed,
                scheme,
            } => write!(
                f,
                "dedupe retention {retention:?} is shorter than the {scheme} freshness window plus clock \
                 allowance ({needed:?}): a delivery replayed after its id is forgotten but while its \
                 timestamp is still accepted would be processed again; raise the retention or \
                 shorten the freshness window"
            ),
            Self::ZeroLease => f.write_str("dedupe lease must be longer than zero"),
            Self::LeaseNotAboveDeadline { lease, deadline } => write!(
                f,
                "dedupe lease {lease:?} must be longer than the handler deadline {deadline:?}: \
                 a claim that lapses while its handler runs lets a retry run the handler again"
            ),
            Self::LeaseNotAboveHandlerTimeout {
                lease,
                handler_timeout,
            } => write!(
                f,
                "inbox lease {lease:?} must be longer than the handler timeout {handler_timeout:?}: \
                 an event whose lease ends while its handler runs would be handed to a second worker"
            ),
            Self::NoWorkers => f.write_str("an inbox needs at least one worker"),
            Self::StoreUrl { reason } => write!(f, "redis URL is not valid: {reason}"),
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rejection_body_is_short_json_with_an_error_field() {
        let all = [
            Rejection::MissingSignature,
            Rejection::DuplicateSignature,
            Rejection::MalformedSignature,
            Rejection::BadSignature,
            Rejection::Stale,
            Rejection::FromFuture,
            Rejection::BodyTooLarge { limit: 10 },
            Rejection::BodyTimeout,
            Rejection::BodyRead,
            Rejection::InvalidEnvelope,
            Rejection::InvalidEventData,
            Rejection::HandlerDeadline,
            Rejection::HandlerPanicked,
            Rejection::HttpsRequired,
            Rejection::UnknownTenant,
            Rejection::SecretsUnavailable,
            Rejection::Overloaded,
        ];
        for r in all {
            let v: serde_json::Value = serde_json::from_slice(&r.json_body()).unwrap();
            assert_eq!(v["error"], r.message().as_ref(), "{r:?}");
            assert!(r.json_body().len() < 120, "{r:?}");
            assert!(
                r.status().is_client_error() || r.status().is_server_error(),
                "{r:?}"
            );
            assert_eq!(r.retry_after().is_some(), r.status() == 503, "{r:?}");
        }
    }

    #[test]
    fn too_large_message_names_the_limit_and_that_it_is_configurable() {
        let msg = Rejection::BodyTooLarge { limit: 4096 }.message();
        assert!(
            msg.contains("4096") && msg.contains("max_body_bytes"),
            "{msg}"
        );
    }
}
