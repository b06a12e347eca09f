//! A verified delivery with its typed event: what adapters' extractors hand
//! to handlers.

use std::fmt;

use bytes::Bytes;

use crate::events::WebhookEvent;
use crate::inbox::StoredHeaders;
use crate::{Rejection, VerifiedEvent};

/// A verified delivery, with its event parsed as `E`.
///
/// The adapters' extractors (`hookgate_axum::Webhook`,
/// `hookgate_actix::Webhook`) dereference to it. It can only be made from a
/// [`VerifiedEvent`], which only the verifier makes.
pub struct Delivery<E = ()> {
    /// The parsed event.
    pub event: E,
    meta: VerifiedEvent,
    stored_headers: Option<StoredHeaders>,
}

impl<E: WebhookEvent> Delivery<E> {
    /// Parses `verified` as `E`; a mismatch is [`Rejection::InvalidEventData`]
    /// (400), logged with the parser's reason.
    pub fn from_verified(verified: VerifiedEvent) -> Result<Self, Rejection> {
        match E::from_verified(&verified) {
            Ok(event) => Ok(Self {
                event,
                meta: verified,
                stored_headers: None,
            }),
            Err(error) => {
                tracing::warn!(
                    scheme = verified.scheme(),
                    id = verified.id(),
                    event = verified.event_type(),
                    %error,
                    "verified event does not match the requested type"
                );
                Err(Rejection::InvalidEventData)
            }
        }
    }
}

impl<E> Delivery<E> {
    /// The verified delivery: scheme, event id, type, timestamp, raw bytes.
    pub fn meta(&self) -> &VerifiedEvent {
        &self.meta
    }

    /// The sender's event id, where it has one.
    pub fn id(&self) -> Option<&str> {
        self.meta.id()
    }

    /// The event type as sent.
    pub fn event_type(&self) -> &str {
        self.meta.event_type()
    }

    /// The raw body, exactly as received and verified.
    pub fn raw(&self) -> &Bytes {
        self.meta.body()
    }

    /// In inbox mode, the headers the delivery arrived with (kept with it
    /// in the store); `None` in synchronous mode, where the framework's
    /// request has them.
    pub fn stored_headers(&self) -> Option<&StoredHeaders> {
        self.stored_headers.as_ref()
    }

    pub(crate) fn with_stored_headers(mut self, headers: StoredHeaders) -> Self {
        self.stored_headers = Some(headers);
        self
    }

    /// The parsed event.
    pub fn into_event(self) -> E {
        self.event
    }
}

impl<E: fmt::Debug> fmt::Debug for Delivery<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("event", &self.event)
            .field("meta", &self.meta)
            .finish()
    }
}

/// For the adapters: makes `$name<E>`, a framework's extractor around a
/// [`Delivery<E>`](crate::Delivery), dereference to the delivery and print
/// as it, so each adapter writes only its framework's extractor trait.
#[doc(hidden)]
#[macro_export]
macro_rules! __delivery_extractor {
    ($name:ident) => {
        impl<E> ::core::ops::Deref for $name<E> {
            type Target = $crate::Delivery<E>;

            fn deref(&self) -> &$crate::Delivery<E> {
                &self.0
            }
        }

        impl<E: ::core::fmt::Debug> ::core::fmt::Debug for $name<E> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_tuple(stringify!($name)).field(&self.0).finish()
            }
        }
    };
}
