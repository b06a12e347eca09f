//! Every answer hookgate gives in place of the handler's, in one type.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::Full;

use crate::{error_body, Rejection};

/// The response header that marks a dedupe answer (`duplicate`, `in-flight`).
pub const DEDUPE_HEADER: &str = "hookgate-dedupe";

/// An answer hookgate gives the sender itself: a refused delivery, a
/// duplicate, an event queued in the inbox, a store that is down.
///
/// Each variant has one status, one set of headers and one short JSON body.
/// The tower layers answer with [`into_response`](Self::into_response); the
/// actix adapter translates [`status`](Self::status),
/// [`headers`](Self::headers) and [`body`](Self::body). Either way the
/// response carries the `Answer` in its extensions, so an application's own
/// layers can tell hookgate's answers from the handler's and read why:
///
/// ```
/// use hookgate::{Answer, Rejection};
/// let res = Answer::from(Rejection::BadSignature).into_response();
/// assert_eq!(res.status(), 401);
/// let answer = res.extensions().get::<Answer>().unwrap();
/// assert_eq!(answer.reason(), "bad_signature");
/// assert_eq!(answer.rejection(), Some(&Rejection::BadSignature));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Answer {
    /// The delivery was refused; the [`Rejection`] says why and gives the status.
    Rejected(Rejection),
    /// Already processed: 200 `{"duplicate":true}` with `hookgate-dedupe:
    /// duplicate`, so the sender stops retrying. The handler is not called.
    Duplicate,
    /// Being processed by another delivery: 409 with `Retry-After` and
    /// `hookgate-dedupe: in-flight`.
    InFlight {
        /// The `Retry-After` to send.
        retry_after: Duration,
    },
    /// The dedupe store is unreachable: 503 with `Retry-After`.
    DedupeUnavailable {
        /// The `Retry-After` to send.
        retry_after: Duration,
    },
    /// The configured dedupe key is missing from the delivery: 400.
    MissingKey,
    /// Stored durably in the inbox: 200 `{"queued":true}`.
    Queued,
    /// The inbox store could not take the event: 503 with `Retry-After`;
    /// never a 2xx, never a 4xx.
    InboxUnavailable {
        /// The `Retry-After` to send.
        retry_after: Duration,
    },
    /// The route is wired wrongly (a layer or middleware that needs the
    /// verified event is missing): 500 with this message.
    Misconfigured(&'static str),
    /// A sender's endpoint handshake, answered by hookgate
    /// ([`handshake`](crate::handshake)).
    Handshake(crate::handshake::HandshakeReply),
}

impl Answer {
    /// The status the sender sees.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Rejected(rejection) => rejection.status(),
            Self::Duplicate | Self::Queued => StatusCode::OK,
            Self::InFlight { .. } => StatusCode::CONFLICT,
            Self::DedupeUnavailable { .. } | Self::InboxUnavailable { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::MissingKey => StatusCode::BAD_REQUEST,
            Self::Misconfigured(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Handshake(reply) => reply.status,
        }
    }

    /// A stable, machine-readable name for logs, metrics and an
    /// application's layers (a rejection's [`reason`](Rejection::reason)).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Rejected(rejection) => rejection.reason(),
            Self::Duplicate => "duplicate",
            Self::InFlight { .. } => "in_flight",
            Self::DedupeUnavailable { .. } => "dedupe_unavailable",
            Self::MissingKey => "missing_key",
            Self::Queued => "queued",
            Self::InboxUnavailable { .. } => "inbox_unavailable",
            Self::Misconfigured(_) => "misconfigured",
            Self::Handshake(reply) => reply.kind,
        }
    }

    /// The rejection, when the delivery was refused.
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            Self::Rejected(rejection) => Some(rejection),
            _ => None,
        }
    }

    /// The `Retry-After` to send, where the sender should retry later.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Rejected(rejection) => rejection.retry_after(),
            Self::InFlight { retry_after }
            | Self::DedupeUnavailable { retry_after }
            | Self::InboxUnavailable { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    /// The value of the [`DEDUPE_HEADER`] marker, on dedupe answers.
    pub fn dedupe_marker(&self) -> Option<&'static str> {
        match self {
            Self::Duplicate => Some("duplicate"),
            Self::InFlight { .. } => Some("in-flight"),
            _ => None,
        }
    }

    /// The short public message (for the answers that are not a success).
    pub fn message(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Self::Rejected(rejection) => return rejection.message(),
            Self::Duplicate => "duplicate of a processed event",
            Self::Queued => "stored in the inbox",
            Self::InFlight { .. } => "this event is being processed; retry later",
            Self::DedupeUnavailable { .. } => "dedupe store unavailable; retry later",
            Self::MissingKey => "delivery has no dedupe key",
            Self::InboxUnavailable { .. } => "inbox unavailable; retry later",
            Self::Misconfigured(message) => message,
            Self::Handshake(_) => "endpoint handshake answered",
        })
    }

    /// The JSON body: `{"duplicate":true}`, `{"queued":true}`, or
    /// `{"error": "<message>"}`.
    pub fn body(&self) -> Bytes {
        match self {
            Self::Duplicate => Bytes::from_static(b"{\"duplicate\":true}"),
            Self::Queued => Bytes::from_static(b"{\"queued\":true}"),
            Self::Rejected(rejection) => rejection.json_body(),
            Self::Handshake(reply) => reply.body.clone(),
            _ => error_body(&self.message()),
        }
    }

    /// Every header of the answer as lowercase name and value: the JSON
    /// content type, the dedupe marker and `Retry-After` (whole seconds, at
    /// least 1) where they apply.
    pub fn headers(&self) -> impl Iterator<Item = (&'static str, Cow<'static, str>)> {
        // A handshake has its own content type (none for a 204), and a
        // text echo must not be sniffed as anything else.
        let (content_type, nosniff) = match self {
            Self::Handshake(reply) => (
                reply.content_type,
                reply
                    .content_type
                    .filter(|t| t.starts_with("text/"))
                    .map(|_| ("x-content-type-options", Cow::Borrowed("nosniff"))),
            ),
            _ => (Some("application/json"), None),
        };
        let content_type = content_type.map(|t| ("content-type", Cow::Borrowed(t)));
        let marker = self
            .dedupe_marker()
            .map(|marker| (DEDUPE_HEADER, Cow::Borrowed(marker)));
        let retry_after = self.retry_after().map(|after| {
            (
                "retry-after",
                Cow::Owned(after.as_secs().max(1).to_string()),
            )
        });
        content_type
            .into_iter()
            .chain(nosniff)
            .chain(marker)
            .chain(retry_after)
    }

    /// The `http` response, with this answer in its extensions.
    pub fn into_response(self) -> Response<Full<Bytes>> {
        let mut res = Response::new(Full::new(self.body()));
        *res.status_mut() = self.status();
        let headers = res.headers_mut();
        for (name, value) in self.headers() {
            let value = match value {
                Cow::Borrowed(value) => HeaderValue::from_static(value),
                Cow::Owned(value) => match HeaderValue::try_from(value) {
                    Ok(value) => value,
                    Err(_) => continue,
                },
            };
            headers.insert(HeaderName::from_static(name), value);
        }
        debug_assert!(
            res.headers().contains_key(header::CONTENT_TYPE)
                || res.status() == StatusCode::NO_CONTENT
        );
        res.extensions_mut().insert(self);
        res
    }
}

impl From<Rejection> for Answer {
    fn from(rejection: Rejection) -> Self {
        Self::Rejected(rejection)
    }
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(res: &'a Response<Full<Bytes>>, name: &str) -> Option<&'a str> {
        res.headers().get(name).and_then(|v| v.to_str().ok())
    }

    #[test]
    fn dedupe_answers_carry_the_status_marker_and_retry_after() {
        let duplicate = Answer::Duplicate.into_response();
        assert_eq!(duplicate.status(), 200);
        assert_eq!(header(&duplicate, DEDUPE_HEADER), Some("duplicate"));
        assert_eq!(header(&duplicate, "retry-after"), None);

        let in_flight = Answer::InFlight {
            retry_after: Duration::from_secs(30),
        }
        .into_response();
        assert_eq!(in_flight.status(), 409);
        assert_eq!(header(&in_flight, DEDUPE_HEADER), Some("in-flight"));
        assert_eq!(header(&in_flight, "retry-after"), Some("30"));

        let down = Answer::DedupeUnavailable {
            retry_after: Duration::from_millis(10),
        }
        .into_response();
        assert_eq!(down.status(), 503);
        assert_eq!(header(&down, "retry-after"), Some("1"));
        assert_eq!(header(&down, DEDUPE_HEADER), None);
    }

    #[test]
    fn every_answer_is_json_and_carries_itself_in_the_extensions() {
        let all = [
            Answer::Rejected(Rejection::HandlerDeadline),
            Answer::Rejected(Rejection::BodyTooLarge { limit: 9 }),
            Answer::Duplicate,
            Answer::InFlight {
                retry_after: Duration::from_secs(5),
            },
            Answer::DedupeUnavailable {
                retry_after: Duration::from_secs(5),
            },
            Answer::MissingKey,
            Answer::Queued,
            Answer::InboxUnavailable {
                retry_after: Duration::from_secs(5),
            },
            Answer::Misconfigured("wired wrongly"),
        ];
        for answer in all {
            let res = answer.clone().into_response();
            assert_eq!(res.status(), answer.status(), "{answer:?}");
            assert_eq!(
                header(&res, "content-type"),
                Some("application/json"),
                "{answer:?}"
            );
            assert_eq!(res.extensions().get::<Answer>(), Some(&answer));
            let body: serde_json::Value = serde_json::from_slice(&answer.body()).unwrap();
            if answer.status().is_success() {
                assert!(body.get("error").is_none(), "{answer:?}");
            } else {
                assert_eq!(body["error"], answer.message().as_ref(), "{answer:?}");
            }
            assert_eq!(
                header(&res, "retry-after").is_some(),
                answer.status() == 503 || answer.status() == 409,
                "{answer:?}"
            );
        }
    }

    #[test]
    fn the_inbox_answers_say_queued_or_unavailable() {
        assert_eq!(&Answer::Queued.body()[..], b"{\"queued\":true}");
        let down = Answer::InboxUnavailable {
            retry_after: Duration::from_secs(30),
        };
        assert_eq!(down.message(), "inbox unavailable; retry later");
        assert_eq!(down.reason(), "inbox_unavailable");
    }
}
