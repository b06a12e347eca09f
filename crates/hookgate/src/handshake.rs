//! Endpoint handshakes: the requests a sender makes to check an endpoint
//! before (or beside) its deliveries, answered by hookgate with no handler
//! code. Each is opt-in per route ([`Verifier::handshake`](crate::Verifier::handshake)).
//!
//! | handshake | request | answer |
//! |---|---|---|
//! | [`Handshake::SlackUrlVerification`] | signed `{"type":"url_verification","challenge":..}` | 200 `{"challenge":..}` |
//! | [`Handshake::ZoomUrlValidation`] | signed `{"event":"endpoint.url_validation","payload":{"plainToken":..}}` | 200 `{"plainToken":..,"encryptedToken": hex HMAC-SHA256(secret, plainToken)}` |
//! | [`Handshake::DiscordPing`] | signed interaction `{"type":1}`; webhook event `{"type":0}` (a webhook event of type 1, with its `event`, is a delivery) | 200 `{"type":1}`; 204 |
//! | [`Handshake::GraphValidation`] | `POST ?validationToken=..` (unsigned, no body) | 200 `text/plain`, the token |
//! | [`Handshake::MetaVerifyToken`] | `GET ?hub.mode=subscribe&hub.verify_token=..&hub.challenge=..` | 200 `text/plain`, the challenge, when the token is the configured one; 403 otherwise |
//! | [`Handshake::DropboxChallenge`] | `GET ?challenge=..` (unsigned) | 200 `text/plain`, the challenge, `X-Content-Type-Options: nosniff` |
//!
//! The signed handshakes are answered after verification: a forged one gets
//! 401 like any forged delivery. The unsigned ones (Microsoft Graph, Meta,
//! Dropbox) can only echo the value they carry, as `text/plain` with
//! `nosniff`, at most [`MAX_ECHO`] bytes; anything else about the request
//! goes through verification as usual.

use bytes::Bytes;
use http::{Method, StatusCode};
use subtle::ConstantTimeEq;

use crate::{ConfigError, VerifiedEvent};

/// The longest value an unsigned handshake echoes.
pub const MAX_ECHO: usize = 1024;

/// One handshake a route answers.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Handshake {
    /// Slack's Events API `url_verification` (scheme `slack`).
    SlackUrlVerification,
    /// Zoom's `endpoint.url_validation` (scheme `zoom`); answered with the
    /// route's first secret.
    ZoomUrlValidation,
    /// Discord's PING, for interactions (`type` 1) and for webhook events
    /// (`type` 0; their `type` 1 is an event, for the handler) (scheme
    /// `discord`).
    DiscordPing,
    /// Microsoft Graph's subscription validation (`validationToken`).
    GraphValidation,
    /// Meta's (Facebook, Instagram, WhatsApp) `hub.challenge` GET, checked
    /// against this verify token.
    MetaVerifyToken(String),
    /// Dropbox's `challenge` GET.
    DropboxChallenge,
}

impl std::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::SlackUrlVerification => "SlackUrlVerification",
            Self::ZoomUrlValidation => "ZoomUrlValidation",
            Self::DiscordPing => "DiscordPing",
            Self::GraphValidation => "GraphValidation",
            // The token is a credential.
            Self::MetaVerifyToken(_) => "MetaVerifyToken(<redacted>)",
            Self::DropboxChallenge => "DropboxChallenge",
        })
    }
}

impl Handshake {
    /// The scheme a signed handshake belongs to, if it is one.
    fn scheme(&self) -> Option<&'static str> {
        match self {
            Self::SlackUrlVerification => Some("slack"),
            Self::ZoomUrlValidation => Some("zoom"),
            Self::DiscordPing => Some("discord"),
            _ => None,
        }
    }

    /// Refuses a signed handshake on a route of another scheme, and an empty
    /// Meta verify token.
    pub(crate) fn check(&self, scheme: &'static str) -> Result<(), ConfigError> {
        if let Some(wanted) = self.scheme() {
            if wanted != scheme {
                return Err(ConfigError::Scheme {
                    why: format!("the {self:?} handshake is for {wanted} routes, not {scheme}"),
                });
            }
        }
        if let Self::MetaVerifyToken(token) = self {
            if token.trim().is_empty() {
                return Err(ConfigError::EmptySecret);
            }
        }
        Ok(())
    }
}

/// hookgate's answer to a handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeReply {
    /// Which handshake (`slack_url_verification`, ...), for logs.
    pub kind: &'static str,
    /// The status.
    pub status: StatusCode,
    /// The content type (`None` for an empty 204).
    pub content_type: Option<&'static str>,
    /// The body.
    pub body: Bytes,
}

impl HandshakeReply {
    fn json(kind: &'static str, value: serde_json::Value) -> Self {
        Self {
            kind,
            status: StatusCode::OK,
            content_type: Some("application/json"),
            body: Bytes::from(value.to_string()),
        }
    }

    fn echo(kind: &'static str, text: String) -> Self {
        Self {
            kind,
            status: StatusCode::OK,
            content_type: Some("text/plain; charset=utf-8"),
            body: Bytes::from(text),
        }
    }
}

/// The handshakes of a route.
pub(crate) fn before_body(
    handshakes: &[Handshake],
    method: &Method,
    query: Option<&str>,
) -> Option<HandshakeReply> {
    let query = query?;
    for handshake in handshakes {
        match handshake {
            Handshake::GraphValidation if method == Method::POST => {
                if let Some(token) = param(query, "validationToken") {
                    return Some(echo_or_refuse("graph_validation", token));
                }
            }
            Handshake::MetaVerifyToken(expected)
                if method == Method::GET && param(query, "hub.mode").is_some() =>
            {
                let token = param(query, "hub.verify_token").unwrap_or_default();
                let good = param(query, "hub.mode").as_deref() == Some("subscribe")
                    && bool::from(token.as_bytes().ct_eq(expected.as_bytes()));
                if !good {
                    return Some(HandshakeReply {
                        kind: "meta_verify_token",
                        status: StatusCode::FORBIDDEN,
                        content_type: Some("text/plain; charset=utf-8"),
                        body: Bytes::from_static(b"verify token mismatch"),
                    });
                }
                let challenge = param(query, "hub.challenge").unwrap_or_default();
                return Some(echo_or_refuse("meta_verify_token", challenge));
            }
            Handshake::DropboxChallenge if method == Method::GET => {
                if let Some(challenge) = param(query, "challenge") {
                    return Some(echo_or_refuse("dropbox_challenge", challenge));
                }
            }
            _ => {}
        }
    }
    None
}

fn echo_or_refuse(kind: &'static str, value: String) -> HandshakeReply {
    if value.len() > MAX_ECHO {
        return HandshakeReply {
            kind,
            status: StatusCode::BAD_REQUEST,
            content_type: Some("text/plain; charset=utf-8"),
            body: Bytes::from(format!("handshake value longer than {MAX_ECHO} bytes")),
        };
    }
    HandshakeReply::echo(kind, value)
}

/// The answer to a verified delivery that is a handshake of the route's.
/// `tag` computes the route's HMAC-SHA256 with its first secret (Zoom).
pub(crate) fn after_verify(
    handshakes: &[Handshake],
    event: &VerifiedEvent,
    tag: impl Fn(&[u8]) -> Option<Vec<u8>>,
) -> Option<HandshakeReply> {
    for handshake in handshakes {
        match handshake {
            Handshake::SlackUrlVerification if event.event_type() == "url_verification" => {
                let body: serde_json::Value = serde_json::from_slice(event.body()).ok()?;
                let challenge = body.get("challenge")?.as_str()?;
                return Some(HandshakeReply::json(
                    "slack_url_verification",
                    serde_json::json!({ "challenge": challenge }),
                ));
            }
            Handshake::ZoomUrlValidation if event.event_type() == "endpoint.url_validation" => {
                let body: serde_json::Value = serde_json::from_slice(event.body()).ok()?;
                let plain = body.get("payload")?.get("plainToken")?.as_str()?;
                let encrypted = hex::encode(tag(plain.as_bytes())?);
                return Some(HandshakeReply::json(
                    "zoom_url_validation",
                    serde_json::json!({ "plainToken": plain, "encryptedToken": encrypted }),
                ));
            }
            Handshake::DiscordPing => match event.event_type() {
                // Interactions: `type` 1 is PING. A webhook event of `type`
                // 1 (an event, with its `event` object) is a delivery.
                "1" if !is_discord_webhook_event(event.body()) => {
                    return Some(HandshakeReply::json(
                        "discord_ping",
                        serde_json::json!({ "type": 1 }),
                    ))
                }
                // Webhook events: a PING has `type` 0 and wants 204
                // (interaction types start at 1).
                "0" => {
                    return Some(HandshakeReply {
                        kind: "discord_ping",
                        status: StatusCode::NO_CONTENT,
                        content_type: None,
                        body: Bytes::new(),
                    })
                }
                _ => {}
            },
            _ => {}
        }
    }
    None
}

/// Whether a Discord body is a webhook event (it carries an `event`
/// object) rather than an interaction. Both use `type`: for webhook events
/// 0 is PING and 1 an event; for interactions 1 is PING.
fn is_discord_webhook_event(body: &[u8]) -> bool {
    /// The body's `event`, skipped over without being built.
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(default)]
        event: Option<serde::de::IgnoredAny>,
    }
    serde_json::from_slice::<Probe>(body).is_ok_and(|probe| probe.event.is_some())
}

/// The decoded value of the first `name` parameter of `query`.
fn param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k)? == name).then(|| decode(v)).flatten()
    })
}

/// Percent-decoding with `+` as a space; `None` for a bad escape or
/// bytes that are not UTF-8.
fn decode(text: &str) -> Option<String> {
    String::from_utf8(crate::scheme::form_decode(text.as_bytes())?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_handshakes_echo_only_their_own_value_and_meta_checks_its_token() {
        let all = [
            Handshake::GraphValidation,
            Handshake::MetaVerifyToken("tok-1".into()),
            Handshake::DropboxChallenge,
        ];
        let graph = before_body(
            &all,
            &Method::POST,
            Some("validationToken=Validation%3A+Testing"),
        )
        .unwrap();
        assert_eq!(
            (graph.status, &graph.body[..]),
            (StatusCode::OK, &b"Validation: Testing"[..])
        );
        let meta = |q: &str| before_body(&all, &Method::GET, Some(q)).unwrap();
        let ok = meta("hub.mode=subscribe&hub.verify_token=tok-1&hub.challenge=1158201444");
        assert_eq!(
            (ok.status, &ok.body[..]),
            (StatusCode::OK, &b"1158201444"[..])
        );
        let wrong = meta("hub.mode=subscribe&hub.verify_token=tok-2&hub.challenge=1");
        assert_eq!(wrong.status, StatusCode::FORBIDDEN);
        let dropbox = before_body(&all, &Method::GET, Some("challenge=abc")).unwrap();
        assert_eq!(&dropbox.body[..], b"abc");
        let long = format!("challenge={}", "a".repeat(MAX_ECHO + 1));
        assert_eq!(
            before_body(&all, &Method::GET, Some(&long)).unwrap().status,
            StatusCode::BAD_REQUEST
        );
        // Not a handshake: a POST without the token, a GET of another kind,
        // a handshake the route did not opt into.
        assert!(before_body(&all, &Method::POST, Some("a=1")).is_none());
        assert!(before_body(&all, &Method::GET, None).is_none());
        assert!(before_body(&[], &Method::GET, Some("challenge=abc")).is_none());
        assert!(before_body(&all, &Method::GET, Some("validationToken=x")).is_none());
    }

    /// `body` as a verified Discord delivery, and the answer of a route
    /// that opted into the PING handshake.
    fn discord_answer(body: &[u8]) -> Option<HandshakeReply> {
        use crate::scheme::Discord;
        let seed = "11".repeat(32);
        let public = crate::testing::verifying_secret(&Discord, &seed).unwrap();
        let verifier = crate::Verifier::new(Discord, crate::Secrets::single(public).unwrap())
            .unwrap()
            .handshake(Handshake::DiscordPing)
            .unwrap();
        let headers = crate::testing::sign(&Discord, &seed, body);
        let event = verifier
            .verify(&headers, Bytes::copy_from_slice(body))
            .unwrap();
        verifier.handshake_after_verify(&event)
    }

    #[test]
    fn discord_pings_are_answered_and_webhook_events_of_type_1_are_not() {
        // An interaction PING (interaction types start at 1): PONG.
        let pong =
            discord_answer(br#"{"id":"1","application_id":"2","type":1,"version":1}"#).unwrap();
        assert_eq!(
            (pong.status, &pong.body[..]),
            (StatusCode::OK, &br#"{"type":1}"#[..])
        );
        // A webhook-event PING (type 0): 204.
        let ping = discord_answer(br#"{"version":1,"application_id":"2","type":0}"#).unwrap();
        assert_eq!((ping.status, ping.body.len()), (StatusCode::NO_CONTENT, 0));
        // A webhook event (type 1, with its `event`) is a delivery for the
        // handler, not a PING.
        let event = br#"{"version":1,"application_id":"2","type":1,"event":{"type":"APPLICATION_AUTHORIZED","timestamp":"2024-10-18T14:42:53.064834","data":{}}}"#;
        assert_eq!(discord_answer(event), None);
        // Another interaction (2, an application command) is a delivery.
        assert_eq!(
            discord_answer(br#"{"id":"3","application_id":"2","type":2,"version":1}"#),
            None
        );
    }

    #[test]
    fn a_signed_handshake_on_another_schemes_route_is_refused() {
        assert!(Handshake::SlackUrlVerification.check("slack").is_ok());
        let err = Handshake::SlackUrlVerification.check("zoom").unwrap_err();
        assert!(err.to_string().contains("slack"), "{err}");
        assert_eq!(
            Handshake::MetaVerifyToken(" ".into()).check("github"),
            Err(ConfigError::EmptySecret)
        );
        assert!(!format!("{:?}", Handshake::MetaVerifyToken("s3cret".into())).contains("s3cret"));
    }
}
