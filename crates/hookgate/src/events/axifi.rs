use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use time::OffsetDateTime;

use super::{typed, unknown, UnknownEvent, WebhookEvent};
use crate::VerifiedEvent;

/// An AXIFI event, by type. Types AXIFI adds later arrive as
/// [`AxifiEvent::Unknown`] instead of failing.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AxifiEvent {
    /// `compound.created`: a compound was added to the database.
    CompoundCreated(CompoundCreated),
    /// Any other event type, with its raw data.
    Unknown(UnknownEvent),
}

impl AxifiEvent {
    /// Parses `data` according to the event type `event`.
    pub fn from_parts(event: &str, data: &[u8]) -> Result<Self, serde_json::Error> {
        Ok(match event {
            "compound.created" => Self::CompoundCreated(typed(data)?),
            other => Self::Unknown(unknown(other, data)?),
        })
    }
}

impl WebhookEvent for AxifiEvent {
    fn from_verified(event: &VerifiedEvent) -> Result<Self, serde_json::Error> {
        Self::from_parts(event.event_type(), event.data())
    }
}

/// `data` of `compound.created`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CompoundCreated {
    /// The compound's id, e.g. `compound-123`.
    pub id: String,
    /// Its name, e.g. `Aspirin`.
    pub name: String,
    /// Its category, e.g. `analgesic`.
    pub category: String,
    /// Efficacy between 0 and 1.
    pub efficacy: f64,
}

/// AXIFI's whole envelope with typed data. AXIFI sends no event id.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AxifiEnvelope {
    /// The event type.
    pub event: String,
    /// The signed timestamp.
    pub timestamp: OffsetDateTime,
    /// The typed event.
    pub data: AxifiEvent,
}

impl WebhookEvent for AxifiEnvelope {
    fn from_verified(event: &VerifiedEvent) -> Result<Self, serde_json::Error> {
        use serde::de::Error;
        Ok(Self {
            event: event.event_type().to_owned(),
            timestamp: event
                .timestamp()
                .ok_or_else(|| serde_json::Error::custom("missing field `timestamp`"))?,
            data: AxifiEvent::from_verified(event)?,
        })
    }
}

impl<'de> Deserialize<'de> for AxifiEnvelope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw<'a> {
            event: String,
            #[serde(with = "time::serde::rfc3339")]
            timestamp: OffsetDateTime,
            #[serde(borrow)]
            data: &'a RawValue,
        }
        let raw = Raw::deserialize(d)?;
        let data = AxifiEvent::from_parts(&raw.event, raw.data.get().as_bytes())
            .map_err(serde::de::Error::custom)?;
        Ok(Self {
            event: raw.event,
            timestamp: raw.timestamp,
            data,
        })
    }
}
