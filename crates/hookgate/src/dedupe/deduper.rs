use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;

use super::guard::ClaimGuard;
use super::store::{Claim, DedupeStore};
use crate::headers::Headers;
use crate::store::KeySource;
use crate::{Answer, ConfigError, Rejection, VerifiedEvent, Verifier};

/// Default lease of an in-flight claim: longer than the default handler
/// deadline (25 s), so a live handler never loses its claim, and short
/// enough that a crashed process blocks an id for one minute at most.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// Default `Retry-After` for 409 (in flight) and 503 (store unavailable).
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(30);

/// What happens when the store cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnStoreError {
    /// 503 with `Retry-After`; the handler is not called. The default.
    #[default]
    FailClosed,
    /// Call the handler without a claim, logging each pass at `warn`.
    /// Duplicates may then be processed twice.
    FailOpen,
}

/// The framework-free dedupe logic: key derivation, claim, and the answer
/// for each state. The tower layer and the adapters only translate it.
/// Cloning is cheap (the store is shared).
pub struct Deduper<St> {
    store: Arc<St>,
    namespace: Arc<str>,
    key: KeySource,
    lease: Duration,
    retention: Duration,
    on_error: OnStoreError,
    retry_after: Duration,
}

impl<St> Clone for Deduper<St> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            namespace: self.namespace.clone(),
            key: self.key.clone(),
            lease: self.lease,
            retention: self.retention,
            on_error: self.on_error,
            retry_after: self.retry_after,
        }
    }
}

impl<St> fmt::Debug for Deduper<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deduper")
            .field("namespace", &self.namespace)
            .field("key", &self.key)
            .field("lease", &self.lease)
            .field("retention", &self.retention)
            .field("on_error", &self.on_error)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Deduper`]; checked against the route's [`Verifier`].
#[derive(Debug)]
#[must_use]
pub struct DeduperBuilder<St> {
    store: St,
    namespace: Option<String>,
    key: Option<KeySource>,
    lease: Duration,
    retention: Option<Duration>,
    on_error: OnStoreError,
    retry_after: Duration,
}

impl<St: DedupeStore> Deduper<St> {
    /// Starts a dedupe configuration on `store`.
    pub fn builder(store: St) -> DeduperBuilder<St> {
        DeduperBuilder {
            store,
            namespace: None,
            key: None,
            lease: DEFAULT_LEASE,
            retention: None,
            on_error: OnStoreError::default(),
            retry_after: DEFAULT_RETRY_AFTER,
        }
    }

    /// The store.
    pub fn store(&self) -> &St {
        &self.store
    }

    /// How long a processed id is remembered.
    pub fn retention(&self) -> Duration {
        self.retention
    }

    /// How long an in-flight claim lasts without a commit or release.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// The namespaced key of a delivery, or the reason it has none.
    pub fn key_for(&self, event: &VerifiedEvent, headers: &dyn Headers) -> Result<String, Answer> {
        self.key.key_for(&self.namespace, event, headers)
    }

    /// Claims a key from [`key_for`](Self::key_for): run the handler, or
    /// answer without it.
    pub async fn claim(&self, key: String) -> Decision<St> {
        match self.store.claim(&key, self.lease).await {
            Ok(Claim::New(token)) => {
                crate::metrics::dedupe("new");
                Decision::Run(ClaimGuard::new(
                    self.store.clone(),
                    key,
                    token,
                    self.retention,
                ))
            }
            Ok(Claim::Done) => {
                crate::metrics::dedupe("duplicate");
                tracing::info!(%key, "duplicate of a processed event answered 200");
                Decision::Respond(Answer::Duplicate)
            }
            Ok(Claim::InFlight) => {
                crate::metrics::dedupe("in_flight");
                tracing::info!(%key, "duplicate of an event in flight answered 409");
                Decision::Respond(Answer::InFlight {
                    retry_after: self.retry_after,
                })
            }
            Err(error) => {
                crate::metrics::dedupe("unavailable");
                match self.on_error {
                    OnStoreError::FailClosed => {
                        tracing::error!(%key, %error, "dedupe store unavailable: answering 503");
                        Decision::Respond(Answer::DedupeUnavailable {
                            retry_after: self.retry_after,
                        })
                    }
                    OnStoreError::FailOpen => {
                        tracing::warn!(%key, %error, "dedupe store unavailable: fail-open, running the handler without a claim");
                        Decision::RunUnclaimed
                    }
                }
            }
        }
    }
}

impl<St: DedupeStore> Deduper<St> {
    /// The whole dedupe step around a handler: claims `key`, starts the
    /// handler (`start` makes its future) only when the claim is new (or the store is down and the
    /// route fails open), then commits the id when `succeeded` says the
    /// handler's output is a success and releases the claim otherwise, on a
    /// panic (answered 500), or when this future is dropped (the
    /// [`ClaimGuard`]'s drop). Resolves to the handler's output, or to the
    /// answer given instead of running it.
    pub async fn run<F: Future>(
        &self,
        key: String,
        start: impl FnOnce() -> F,
        succeeded: impl FnOnce(&F::Output) -> bool,
    ) -> Result<F::Output, Answer> {
        let guard = match self.claim(key).await {
            Decision::Respond(answer) => return Err(answer),
            Decision::RunUnclaimed => return Ok(start().await),
            Decision::Run(guard) => guard,
        };
        let handler = async move { start().await };
        match AssertUnwindSafe(handler).catch_unwind().await {
            Ok(output) => {
                if succeeded(&output) {
                    let _ = guard.commit().await;
                } else {
                    let _ = guard.release().await;
                }
                Ok(output)
            }
            Err(_panic) => {
                tracing::error!(
                    key = guard.key(),
                    "handler panicked: claim released, answering 500"
                );
                let _ = guard.release().await;
                Err(Answer::Rejected(Rejection::HandlerPanicked))
            }
        }
    }
}

impl<St: DedupeStore> DeduperBuilder<St> {
    /// Prefix of every key (default: the scheme's name). Give two routes of
    /// the same sender different namespaces only if they are different accounts.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Where the key comes from (default: [`KeySource::default_for`]).
    pub fn key(mut self, key: KeySource) -> Self {
        self.key = Some(key);
        self
    }

    /// Lease of an in-flight claim (default 60 s). Refused unless longer
    /// than the route's handler deadline: a claim that lapsed while its
    /// handler still ran would let a retry run the handler a second time.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How long a processed id is remembered (default: the verifier's
    /// freshness window plus its future-skew allowance, the least that
    /// closes the replay window).
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = Some(retention);
        self
    }

    /// What to do when the store is unreachable (default: fail closed).
    pub fn on_store_error(mut self, on_error: OnStoreError) -> Self {
        self.on_error = on_error;
        self
    }

    /// `Retry-After` on 409 and 503 (default 30 s).
    pub fn retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// Checks the configuration against the route's verifier.
    ///
    /// Refuses a retention shorter than the freshness window plus the
    /// future-skew allowance: a delivery is accepted for that long, and an id
    /// forgotten earlier could be replayed and processed again.
    pub fn build(self, verifier: &Verifier) -> Result<Deduper<St>, ConfigError> {
        let needed = verifier.settings().freshness + verifier.settings().max_future_skew;
        let retention = self.retention.unwrap_or(needed);
        if retention < needed {
            return Err(ConfigError::RetentionTooShort {
                retention,
                needed,
                scheme: verifier.scheme().name(),
            });
        }
        if self.lease.is_zero() {
            return Err(ConfigError::ZeroLease);
        }
        if self.lease <= verifier.settings().handler_deadline {
            return Err(ConfigError::LeaseNotAboveDeadline {
                lease: self.lease,
                deadline: verifier.settings().handler_deadline,
            });
        }
        Ok(Deduper {
            store: Arc::new(self.store),
            namespace: self
                .namespace
                .unwrap_or_else(|| verifier.scheme().name().to_owned())
                .into(),
            key: self.key.unwrap_or_else(|| KeySource::default_for(verifier)),
            lease: self.lease,
            retention,
            on_error: self.on_error,
            retry_after: self.retry_after,
        })
    }
}

/// What to do with a delivery after its claim.
#[derive(Debug)]
pub enum Decision<St: DedupeStore> {
    /// New: run the handler, then [`ClaimGuard::commit`] on 2xx or
    /// [`ClaimGuard::release`] otherwise (dropping the guard releases too).
    Run(ClaimGuard<St>),
    /// Answer without running the handler.
    Respond(Answer),
    /// The store is down and the route fails open: run without a claim.
    RunUnclaimed,
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::dedupe::MemoryStore;
    use crate::scheme::{Aexo, Axifi};
    use crate::{testing, Secrets};

    fn verified(verifier: &Verifier, body: Vec<u8>) -> VerifiedEvent {
        let headers = testing::sign(verifier.scheme(), "k", &body);
        verifier.verify(&headers, body.into()).unwrap()
    }

    #[test]
    fn a_retention_shorter_than_freshness_plus_skew_is_refused_with_the_reason() {
        let v = Verifier::aexo("k").unwrap();
        let short = v.settings().freshness;
        let err = Deduper::builder(MemoryStore::new())
            .retention(short)
            .build(&v)
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("freshness window") && text.contains("replayed"),
            "{text}"
        );
        let ok = Deduper::builder(MemoryStore::new())
            .retention(v.settings().freshness + v.settings().max_future_skew)
            .build(&v)
            .unwrap();
        assert_eq!(
            ok.retention(),
            v.settings().freshness + v.settings().max_future_skew
        );
        let default = Deduper::builder(MemoryStore::new()).build(&v).unwrap();
        assert_eq!(default.retention(), ok.retention());
    }

    #[test]
    fn a_lease_not_longer_than_the_handler_deadline_is_refused() {
        let v = Verifier::aexo("k")
            .unwrap()
            .handler_deadline(Duration::from_secs(10))
            .unwrap();
        let err = Deduper::builder(MemoryStore::new())
            .lease(Duration::from_secs(10))
            .build(&v)
            .unwrap_err();
        assert_eq!(
            err,
            ConfigError::LeaseNotAboveDeadline {
                lease: Duration::from_secs(10),
                deadline: Duration::from_secs(10)
            }
        );
        assert!(err.to_string().contains("handler deadline"), "{err}");
        let ok = Deduper::builder(MemoryStore::new())
            .lease(Duration::from_secs(11))
            .build(&v)
            .unwrap();
        assert_eq!(ok.lease(), Duration::from_secs(11));
    }

    #[test]
    fn keys_are_namespaced_per_scheme_and_derived_per_source() {
        let aexo = Verifier::aexo("k").unwrap();
        let axifi = Verifier::new(Axifi, Secrets::single("k").unwrap()).unwrap();
        let a_body = testing::aexo_body("wh_9", "key.created", serde_json::json!({}));
        let x_body = testing::axifi_body("compound.created", serde_json::json!({}));
        let a = Deduper::builder(MemoryStore::new()).build(&aexo).unwrap();
        let x = Deduper::builder(MemoryStore::new()).build(&axifi).unwrap();
        let none: Vec<(&str, &str)> = vec![];
        assert_eq!(
            a.key_for(&verified(&aexo, a_body.clone()), &none).unwrap(),
            "aexo:wh_9"
        );
        let x_key = x.key_for(&verified(&axifi, x_body.clone()), &none).unwrap();
        assert_eq!(
            x_key,
            format!("axifi:sha256:{}", hex::encode(Sha256::digest(&x_body)))
        );

        let by_header = Deduper::builder(MemoryStore::new())
            .key(KeySource::Header("x-delivery-id".into()))
            .namespace("tenant-7")
            .build(&aexo)
            .unwrap();
        let event = verified(&aexo, a_body);
        assert_eq!(
            by_header
                .key_for(&event, &vec![("X-Delivery-Id", "d1")])
                .unwrap(),
            "tenant-7:d1"
        );
        assert_eq!(by_header.key_for(&event, &none), Err(Answer::MissingKey));
        assert_eq!(
            by_header.key_for(
                &event,
                &vec![("x-delivery-id", "a"), ("x-delivery-id", "b")]
            ),
            Err(Answer::MissingKey)
        );
        let _ = Aexo;
    }

    #[test]
    fn the_default_key_follows_the_schemes_id_field_in_the_body_or_a_header() {
        use crate::scheme::{GitHub, Slack, Zoom};
        let build = |scheme: std::sync::Arc<dyn crate::scheme::Scheme>| {
            let v = Verifier::new(scheme, Secrets::single("k").unwrap()).unwrap();
            let d = Deduper::builder(MemoryStore::new()).build(&v).unwrap();
            (v, d)
        };
        let sign = |v: &Verifier, body: &[u8], id: Option<&str>| {
            let mut input = crate::scheme::SignInput::new(body);
            input.id = id;
            let headers = testing::sign_input(v.scheme(), "k", &input);
            let event = v.verify(&headers, body.to_vec().into()).unwrap();
            (event, headers)
        };
        // GitHub: the delivery header, required.
        let (v, d) = build(std::sync::Arc::new(GitHub) as _);
        assert_eq!(KeySource::default_for(&v), KeySource::EventId);
        let (event, headers) = sign(&v, b"{}", Some("72d3162e-cc78"));
        assert_eq!(d.key_for(&event, &headers).unwrap(), "github:72d3162e-cc78");
        // Slack: `event_id` when the body has one, the body's hash when it
        // is a form (a slash command).
        let (v, d) = build(std::sync::Arc::new(Slack) as _);
        assert_eq!(KeySource::default_for(&v), KeySource::EventIdOrBodySha256);
        let (event, headers) = sign(&v, br#"{"type":"event_callback","event_id":"Ev1"}"#, None);
        assert_eq!(d.key_for(&event, &headers).unwrap(), "slack:Ev1");
        let form = b"command=%2Fweather&text=94070";
        let (event, headers) = sign(&v, form, None);
        assert_eq!(
            d.key_for(&event, &headers).unwrap(),
            format!("slack:sha256:{}", hex::encode(Sha256::digest(form)))
        );
        // Zoom: no id at all.
        let (v, _) = build(std::sync::Arc::new(Zoom) as _);
        assert_eq!(KeySource::default_for(&v), KeySource::BodySha256);
    }

    /// What a scheme's default dedupe key is made of.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Made {
        /// The event id, where the scheme keeps it (`name:id`).
        Id,
        /// The body's SHA-256 (`name:sha256:<hex>`).
        BodyHash,
    }

    type SignedHeaders = Vec<(&'static str, String)>;

    const URL: &str = "https://hooks.example.com/in";

    /// The scheme of a route label: a built-in one (`standard-webhooks-v1a`
    /// is Standard Webhooks with an ed25519 key), or a configured `acme`
    /// whose id is a header, an optional body field, or absent.
    fn scheme_for(label: &str) -> std::sync::Arc<dyn crate::scheme::Scheme> {
        use crate::scheme::{Field, HmacScheme};
        let acme = HmacScheme::new("acme", "x-acme-signature");
        let acme = match label {
            "acme-header-id" => acme.id(Field::header("x-acme-delivery")),
            "acme-optional-id" => acme.id(Field::body("id").optional()),
            "acme-no-id" => acme,
            _ => return crate::scheme::builtin(label.trim_end_matches("-v1a")).unwrap(),
        };
        std::sync::Arc::new(acme.build().unwrap())
    }

    /// What a route's sender signs with (the receiver is configured with
    /// `testing::verifying_secret` of it).
    fn signing_for(label: &str) -> &'static str {
        match label {
            "standard-webhooks" | "svix" => "whsec_c2VuZGVycy10ZXN0LWtleS0xMjM0NTY3ODkw",
            "standard-webhooks-v1a" => "whsk_c2VuZGVycy10ZXN0LXNlZWQtMDEyMzQ1Njc4OWFiY2Q=",
            "discord" => "1111111111111111111111111111111111111111111111111111111111111111",
            _ => "k",
        }
    }

    /// A route with its default dedupe key.
    struct Route {
        verifier: Verifier,
        deduper: Deduper<MemoryStore>,
        signing: &'static str,
    }

    impl Route {
        fn new(label: &str) -> Self {
            let scheme = scheme_for(label);
            let signing = signing_for(label);
            let key = testing::verifying_secret(&*scheme, signing).unwrap();
            let secrets = Secrets::single(key).unwrap();
            let verifier = if scheme.signs_url() {
                Verifier::with_public_url(scheme, secrets, URL).unwrap()
            } else {
                Verifier::new(scheme, secrets).unwrap()
            };
            let deduper = Deduper::builder(MemoryStore::new())
                .build(&verifier)
                .unwrap();
            Self {
                verifier,
                deduper,
                signing,
            }
        }

        /// A delivery with the event id `evt_key_1` where the scheme keeps
        /// it, or (`with_id` false) with that field or header left out;
        /// its verification, body and headers.
        fn deliver(
            &self,
            with_id: bool,
        ) -> (Result<VerifiedEvent, Rejection>, Vec<u8>, SignedHeaders) {
            use crate::scheme::{Field, SignInput, Source};
            let scheme = self.verifier.scheme();
            let id_field = scheme.envelope().id;
            let mut body = if scheme.name() == "twilio" {
                b"MessageSid=SM1&Body=Hello".to_vec()
            } else {
                testing::sample_body(
                    scheme,
                    "evt_key_1",
                    "thing.happened",
                    serde_json::json!({"n": 1}),
                    time::OffsetDateTime::now_utc(),
                )
            };
            if let (
                false,
                Some(Field {
                    source: Source::Body(name),
                    ..
                }),
            ) = (with_id, id_field)
            {
                let mut json: serde_json::Value = serde_json::from_slice(&body).unwrap();
                json.as_object_mut().unwrap().remove(name);
                body = json.to_string().into_bytes();
            }
            let mut input = SignInput::new(&body);
            input.id = Some("evt_key_1");
            input.url = Some(URL);
            let mut headers = testing::sign_input(scheme, self.signing, &input);
            assert!(!headers.is_empty(), "{}", scheme.name());
            if let (
                false,
                Some(Field {
                    source: Source::Header(name),
                    ..
                }),
            ) = (with_id, id_field)
            {
                // Left out after signing (Standard Webhooks signs its id
                // header, and then the delivery is refused).
                headers.retain(|(h, _)| *h != name);
            }
            let event = self.verifier.verify(&headers, body.clone().into());
            (event, body, headers)
        }
    }

    #[test]
    fn the_default_key_of_every_scheme_is_its_event_id_else_the_bodys_hash() {
        use KeySource::{BodySha256, EventId, EventIdOrBodySha256 as IdOrHash};
        use Made::{BodyHash, Id};
        // (route, default key source, the key of a delivery with its id,
        // the key of one without: `None` when the id is required, so such
        // a delivery is refused before it has a key).
        let rows = [
            // AEXO's `id` (body); AXIFI sends none.
            ("aexo", EventId, Id, None),
            ("axifi", BodySha256, BodyHash, Some(BodyHash)),
            // `webhook-id` / `svix-id`, with either kind of key.
            ("standard-webhooks", EventId, Id, None),
            ("standard-webhooks-v1a", EventId, Id, None),
            ("svix", EventId, Id, None),
            // `X-GitHub-Delivery`.
            ("github", EventId, Id, None),
            // The event's `id` (body).
            ("stripe", EventId, Id, None),
            // `event_id` (body); a slash command (a form) has none.
            ("slack", IdOrHash, Id, Some(BodyHash)),
            // `X-Shopify-Event-Id`, which older API versions do not send.
            ("shopify", IdOrHash, Id, Some(BodyHash)),
            // `event_id` (body).
            ("paddle", EventId, Id, None),
            // `Linear-Delivery`.
            ("linear", EventId, Id, None),
            // Zoom sends no id.
            ("zoom", BodySha256, BodyHash, Some(BodyHash)),
            // An interaction's `id` (body); webhook events have none.
            ("discord", IdOrHash, Id, Some(BodyHash)),
            // `event_id` (body).
            ("square", EventId, Id, None),
            // `I-Twilio-Idempotency-Token`, when sent.
            ("twilio", IdOrHash, Id, Some(BodyHash)),
            // A configured scheme: whatever its id is configured as.
            ("acme-header-id", EventId, Id, None),
            ("acme-optional-id", IdOrHash, Id, Some(BodyHash)),
            ("acme-no-id", BodySha256, BodyHash, Some(BodyHash)),
        ];
        for name in crate::scheme::BUILTIN {
            assert!(rows.iter().any(|r| r.0 == *name), "{name} has no row");
        }
        for (label, source, with, without) in rows {
            let route = Route::new(label);
            let name = route.verifier.scheme().name();
            assert_eq!(KeySource::default_for(&route.verifier), source, "{label}");
            let want = |made: Made, body: &[u8]| match made {
                Id => format!("{name}:evt_key_1"),
                BodyHash => format!("{name}:sha256:{}", hex::encode(Sha256::digest(body))),
            };
            let (event, body, headers) = route.deliver(true);
            let event = event.unwrap_or_else(|e| panic!("{label}: {e:?}"));
            assert_eq!(
                route.deduper.key_for(&event, &headers).unwrap(),
                want(with, &body),
                "{label}"
            );
            let (event, body, headers) = route.deliver(false);
            match without {
                Some(made) => {
                    let event = event.unwrap_or_else(|e| panic!("{label} without id: {e:?}"));
                    assert_eq!(
                        route.deduper.key_for(&event, &headers).unwrap(),
                        want(made, &body),
                        "{label} without id"
                    );
                }
                None => assert!(event.is_err(), "{label}: refused without its id"),
            }
        }
    }
}
