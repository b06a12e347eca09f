//! Typed events, parsed from a [`VerifiedEvent`] after verification.
//!
//! Parsing never fails on what senders add over time: an event type the
//! types do not know arrives as an `Unknown` variant holding its raw data,
//! and unknown fields are ignored. For your own types use [`Data<T>`] (the
//! envelope's `data`) or [`Json<T>`] (the whole body).
//!
//! ```
//! use bytes::Bytes;
//! use hookgate::events::{AexoEvent, WebhookEvent};
//! use hookgate::{testing, Verifier};
//!
//! let verifier = Verifier::aexo("s3cret").unwrap();
//! let body = Bytes::from(testing::aexo_body("wh_2", "dataset.archived", serde_json::json!({"n": 1})));
//! let headers = testing::sign(verifier.scheme(), "s3cret", &body);
//! let verified = verifier.verify(&headers, body).unwrap();
//! match AexoEvent::from_verified(&verified).unwrap() {
//!     AexoEvent::Unknown(other) => assert_eq!(other.event, "dataset.archived"),
//!     known => panic!("unexpected {known:?}"),
//! }
//! ```

mod aexo;
mod axifi;

pub use aexo::{
    AexoEnvelope, AexoEvent, DatasetRefreshed, ExportCompleted, KeyCreated, KeyRevoked,
    RecordFlagged,
};
pub use axifi::{AxifiEnvelope, AxifiEvent, CompoundCreated};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::VerifiedEvent;

/// A type that can be built from a verified delivery.
pub trait WebhookEvent: Sized {
    /// Parses the event. A failure here is answered with 400
    /// ([`Rejection::InvalidEventData`](crate::Rejection::InvalidEventData)).
    fn from_verified(event: &VerifiedEvent) -> Result<Self, serde_json::Error>;
}

/// No typed parsing: a verify-only handler reads the metadata and raw bytes.
impl WebhookEvent for () {
    fn from_verified(_: &VerifiedEvent) -> Result<Self, serde_json::Error> {
        Ok(())
    }
}

/// The envelope's `data` as an untyped JSON value.
impl WebhookEvent for serde_json::Value {
    fn from_verified(event: &VerifiedEvent) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(event.data())
    }
}

/// The envelope's `data`, parsed as your own type `T`.
#[derive(Debug, Clone, PartialEq)]
pub struct Data<T>(pub T);

impl<T: DeserializeOwned> WebhookEvent for Data<T> {
    fn from_verified(event: &VerifiedEvent) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(event.data()).map(Data)
    }
}

/// The whole body, parsed as your own type `T`.
#[derive(Debug, Clone, PartialEq)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned> WebhookEvent for Json<T> {
    fn from_verified(event: &VerifiedEvent) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(event.body()).map(Json)
    }
}

/// An event type the types do not know (yet): its name and raw data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnknownEvent {
    /// The event type as sent.
    pub event: String,
    /// The event's data, untouched.
    pub data: serde_json::Value,
}

/// Parses `data` as `T`, for the typed variants.
fn typed<T: DeserializeOwned>(data: &[u8]) -> Result<T, serde_json::Error> {
    serde_json::from_slice(data)
}

/// Keeps an unknown event's data.
fn unknown(event: &str, data: &[u8]) -> Result<UnknownEvent, serde_json::Error> {
    Ok(UnknownEvent {
        event: event.to_owned(),
        data: serde_json::from_slice(data)?,
    })
}
