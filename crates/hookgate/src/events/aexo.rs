use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use time::OffsetDateTime;

use super::{typed, unknown, UnknownEvent, WebhookEvent};
use crate::VerifiedEvent;

/// An AEXO event, by type. Types AEXO adds later arrive as
/// [`AexoEvent::Unknown`] instead of failing.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AexoEvent {
    /// `dataset.refreshed`: dataset records updated in the monthly cycle.
    DatasetRefreshed(DatasetRefreshed),
    /// `export.completed`: a bulk export file is ready.
    ExportCompleted(ExportCompleted),
    /// `key.created`: a new API key was generated.
    KeyCreated(KeyCreated),
    /// `key.revoked`: an API key was deactivated.
    KeyRevoked(KeyRevoked),
    /// `record.flagged`: a record was marked for review.
    RecordFlagged(RecordFlagged),
    /// Any other event type, with its raw data.
    Unknown(UnknownEvent),
}

impl AexoEvent {
    /// Parses `data` according to the event type `event`.
    pub fn from_parts(event: &str, data: &[u8]) -> Result<Self, serde_json::Error> {
        Ok(match event {
            "dataset.refreshed" => Self::DatasetRefreshed(typed(data)?),
            "export.completed" => Self::ExportCompleted(typed(data)?),
            "key.created" => Self::KeyCreated(typed(data)?),
            "key.revoked" => Self::KeyRevoked(typed(data)?),
            "record.flagged" => Self::RecordFlagged(typed(data)?),
            other => Self::Unknown(unknown(other, data)?),
        })
    }
}

impl WebhookEvent for AexoEvent {
    fn from_verified(event: &VerifiedEvent) -> Result<Self, serde_json::Error> {
        Self::from_parts(event.event_type(), event.data())
    }
}

/// `data` of `dataset.refreshed`, with the fields AEXO's documentation shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DatasetRefreshed {
    /// The dataset, e.g. `ny-verified-contractors`.
    pub dataset_name: String,
    /// Records changed in this refresh.
    pub records_updated: u64,
    /// Records added.
    pub records_added: u64,
    /// Records removed.
    pub records_removed: u64,
    /// The refresh cycle, e.g. `monthly`.
    pub refresh_cycle: String,
}

macro_rules! unpublished_event {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// AEXO has not published this event's fields yet; they are kept as a
        /// JSON object until it does.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[non_exhaustive]
        pub struct $name {
            /// The event's fields as sent.
            #[serde(flatten)]
            pub fields: serde_json::Map<String, serde_json::Value>,
        }
    };
}

unpublished_event!(
    /// `data` of `export.completed`.
    ExportCompleted
);
unpublished_event!(
    /// `data` of `key.created`.
    KeyCreated
);
unpublished_event!(
    /// `data` of `key.revoked`.
    KeyRevoked
);
unpublished_event!(
    /// `data` of `record.flagged`.
    RecordFlagged
);

/// AEXO's whole envelope with typed data.
///
/// As a [`WebhookEvent`] it is built from the envelope already read by the
/// verifier (no second parse of the body); it also implements `Deserialize`
/// for use on its own.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AexoEnvelope {
    /// The event id (`wh_...`), the key for de-duplication.
    pub id: String,
    /// The event type.
    pub event: String,
    /// When the event was created; signed, and kept the same on retries.
    pub created_at: OffsetDateTime,
    /// AEXO's API version.
    pub api_version: String,
    /// The typed event.
    pub data: AexoEvent,
}

impl WebhookEvent for AexoEnvelope {
    fn from_verified(event: &VerifiedEvent) -> Result<Self, serde_json::Error> {
        use serde::de::Error;
        let missing = |f: &str| serde_json::Error::custom(format_args!("missing field `{f}`"));
        Ok(Self {
            id: event.id().ok_or_else(|| missing("id"))?.to_owned(),
            event: event.event_type().to_owned(),
            created_at: event.timestamp().ok_or_else(|| missing("created_at"))?,
            api_version: event
                .api_version()
                .ok_or_else(|| missing("api_version"))?
                .to_owned(),
            data: AexoEvent::from_verified(event)?,
        })
    }
}

impl<'de> Deserialize<'de> for AexoEnvelope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw<'a> {
            id: String,
            event: String,
            #[serde(with = "time::serde::rfc3339")]
            created_at: OffsetDateTime,
            api_version: String,
            #[serde(borrow)]
            data: &'a RawValue,
        }
        let raw = Raw::deserialize(d)?;
        let data = AexoEvent::from_parts(&raw.event, raw.data.get().as_bytes())
            .map_err(serde::de::Error::custom)?;
        Ok(Self {
            id: raw.id,
            event: raw.event,
            created_at: raw.created_at,
            api_version: raw.api_version,
            data,
        })
    }
}
