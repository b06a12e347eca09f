use tower::layer::util::Stack;
use tower::Layer;

use super::VerifyWebhook;
use crate::dedupe::{DedupeLayer, DedupeStore, Deduper};
use crate::{ConfigError, Verifier};

/// Applies [`VerifyWebhook`] to a service. Holds only configuration and is
/// cheap to clone (the secrets are shared).
///
/// Build it from a [`Verifier`] to set limits, windows, rotation or a clock:
/// `WebhookLayer::new(Verifier::aexo(secret)?.max_body_bytes(256 * 1024))`.
#[derive(Debug, Clone)]
pub struct WebhookLayer {
    verifier: Verifier,
}

impl WebhookLayer {
    /// A layer that verifies with `verifier`. A report-only verifier is
    /// logged as a warning here, once per layer built.
    pub fn new(verifier: Verifier) -> Self {
        crate::pipeline::warn_if_report_only(&verifier, "tower");
        Self { verifier }
    }

    /// AEXO (`X-AEXO-Signature`) with one secret and default settings;
    /// refused when the secret is empty.
    pub fn aexo(secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        Verifier::aexo(secret).map(Self::new)
    }

    /// AXIFI (`X-Webhook-Signature: sha256=`) with one secret and default
    /// settings; refused when the secret is empty.
    pub fn axifi(secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        Verifier::axifi(secret).map(Self::new)
    }

    /// The verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// This layer with de-duplication inside it, on `store` with the default
    /// settings for this verifier (key, retention, lease): one `.layer(...)`
    /// for a verified, de-duplicated route. For other settings build a
    /// [`Deduper`] and stack a [`DedupeLayer`] yourself.
    pub fn with_dedupe<St: DedupeStore>(
        self,
        store: St,
    ) -> Result<Stack<DedupeLayer<St>, WebhookLayer>, ConfigError> {
        let deduper = Deduper::builder(store).build(&self.verifier)?;
        Ok(Stack::new(DedupeLayer::new(deduper), self))
    }
}

impl From<Verifier> for WebhookLayer {
    fn from(verifier: Verifier) -> Self {
        Self::new(verifier)
    }
}

impl<S> Layer<S> for WebhookLayer {
    type Service = VerifyWebhook<S>;

    fn layer(&self, inner: S) -> Self::Service {
        VerifyWebhook::new(inner, self.verifier.clone())
    }
}
