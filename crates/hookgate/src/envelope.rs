//! The envelope, read once: event id, type, signed timestamp and the place of
//! `data` in the body, without copying the body.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::Deserializer;
use serde_json::value::RawValue;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::headers::{HeaderValue, Headers};
use crate::scheme::{BodyFormat, EnvelopeFields, Field, Source, TimeFormat};

/// A delivery whose signature was verified, with its envelope read once.
///
/// The verifying layer puts one into the request's extensions; extractors
/// and the dedupe layer read it from there. It holds the body as [`Bytes`]
/// (shared, not copied) and the position of `data` within it, so typed
/// parsing later reads only that slice. Cloning is cheap.
#[derive(Clone)]
pub struct VerifiedEvent {
    inner: Arc<Inner>,
}

struct Inner {
    scheme: &'static str,
    id: Option<Box<str>>,
    event: Box<str>,
    timestamp: Option<OffsetDateTime>,
    api_version: Option<Box<str>>,
    secret_index: usize,
    tenant: Option<Arc<str>>,
    body: Bytes,
    data: Range<usize>,
}

impl VerifiedEvent {
    /// The scheme's name (`"aexo"`, `"axifi"`).
    pub fn scheme(&self) -> &'static str {
        self.inner.scheme
    }

    /// The sender's event id, where its envelope has one.
    pub fn id(&self) -> Option<&str> {
        self.inner.id.as_deref()
    }

    /// The event type, as sent (`"dataset.refreshed"`).
    pub fn event_type(&self) -> &str {
        &self.inner.event
    }

    /// The signed timestamp from the envelope, where it has one.
    pub fn timestamp(&self) -> Option<OffsetDateTime> {
        self.inner.timestamp
    }

    /// The sender's API version, where it sends one.
    pub fn api_version(&self) -> Option<&str> {
        self.inner.api_version.as_deref()
    }

    /// Which of the configured secrets matched (0 = the first). Useful while
    /// rotating: once no delivery matches an old secret, remove it.
    pub fn secret_index(&self) -> usize {
        self.inner.secret_index
    }

    /// The tenant whose secrets verified it, on a per-tenant route
    /// ([`Verifier::per_tenant`](crate::Verifier::per_tenant)).
    pub fn tenant(&self) -> Option<&str> {
        self.inner.tenant.as_deref()
    }

    /// The raw body, exactly as received and verified.
    pub fn body(&self) -> &Bytes {
        &self.inner.body
    }

    /// The raw JSON of the envelope's `data` field (a slice of the body).
    pub fn data(&self) -> &[u8] {
        self.inner
            .body
            .get(self.inner.data.clone())
            .unwrap_or(b"null")
    }

    /// The raw JSON of `data` as shared [`Bytes`], without a copy.
    pub fn data_bytes(&self) -> Bytes {
        self.inner.body.slice(self.inner.data.clone())
    }
}

impl fmt::Debug for VerifiedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedEvent")
            .field("scheme", &self.inner.scheme)
            .field("id", &self.inner.id)
            .field("event", &self.inner.event)
            .field("timestamp", &self.inner.timestamp)
            .field("api_version", &self.inner.api_version)
            .field("secret_index", &self.inner.secret_index)
            .field("body_len", &self.inner.body.len())
            .finish()
    }
}

/// Why an envelope could not be read (details for logs, never for the sender).
#[derive(Debug)]
pub(crate) struct EnvelopeError(pub(crate) String);

impl fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) struct Envelope {
    pub(crate) id: Option<Box<str>>,
    pub(crate) event: Box<str>,
    pub(crate) timestamp: Option<OffsetDateTime>,
    pub(crate) api_version: Option<Box<str>>,
    pub(crate) data: Range<usize>,
}

impl Envelope {
    pub(crate) fn into_verified(
        self,
        scheme: &'static str,
        secret_index: usize,
        tenant: Option<Arc<str>>,
        body: Bytes,
    ) -> VerifiedEvent {
        VerifiedEvent {
            inner: Arc::new(Inner {
                scheme,
                id: self.id,
                event: self.event,
                timestamp: self.timestamp,
                api_version: self.api_version,
                secret_index,
                tenant,
                body,
                data: self.data,
            }),
        }
    }
}

/// Reads the envelope of `body` (and of the headers, for the fields a
/// scheme keeps there) in one pass. Unknown fields are skipped; a known
/// field that appears twice is an error (two parsers could disagree on
/// which one counts).
pub(crate) fn read(
    fields: &EnvelopeFields,
    headers: &dyn Headers,
    body: &[u8],
) -> Result<Envelope, EnvelopeError> {
    let names = BodyNames::of(fields);
    let json = match fields.body {
        BodyFormat::Json => true,
        // Any other format is passed on whole: a JSON object's fields are
        // read, a form's are not.
        _ => fields.reads_body() && body.trim_ascii_start().first() == Some(&b'{'),
    };
    let raw = if json {
        let mut de = serde_json::Deserializer::from_slice(body);
        let raw = EnvelopeSeed { names: &names }
            .deserialize(&mut de)
            .map_err(|e| EnvelopeError(e.to_string()))?;
        de.end().map_err(|e| EnvelopeError(e.to_string()))?;
        raw
    } else {
        RawEnvelope::default()
    };

    let text = |field: Option<Field>, body_value: Option<Cow<'_, str>>| {
        let Some(field) = field else {
            return Ok(None);
        };
        let value: Option<Box<str>> = match field.source {
            Source::Body(_) => body_value.map(|v| Box::from(v.as_ref())),
            Source::Header(name) => match headers.header(name) {
                HeaderValue::Absent => None,
                HeaderValue::Many => {
                    return Err(EnvelopeError(format!(
                        "header `{name}` sent more than once"
                    )))
                }
                HeaderValue::One(v) => Some(
                    std::str::from_utf8(v)
                        .map_err(|_| EnvelopeError(format!("header `{name}` is not UTF-8")))?
                        .into(),
                ),
            },
        };
        match value {
            None if field.required => Err(EnvelopeError(format!(
                "missing {} `{}`",
                field_kind(field),
                field.name()
            ))),
            value => Ok(value),
        }
    };
    let id = text(fields.id, raw.id)?;
    // An empty id would be one dedupe key shared by every such event: the
    // first would be handled and every later one answered as its duplicate.
    if let (Some(field), Some("")) = (fields.id, id.as_deref()) {
        return Err(EnvelopeError(format!(
            "{} `{}` is empty",
            field_kind(field),
            field.name()
        )));
    }
    let event = text(fields.event, raw.event)?.unwrap_or_default();
    let api_version = text(fields.version, raw.version)?;
    let timestamp = match (fields.timestamp, raw.timestamp) {
        (None, _) => None,
        (Some((field, _)), None) if field.required => {
            return Err(EnvelopeError(format!("missing field `{}`", field.name())))
        }
        (Some(_), None) => None,
        (Some((field, format)), Some(value)) => Some(value.to_time(format).ok_or_else(|| {
            EnvelopeError(format!(
                "`{}` is not a timestamp of the form {format:?}",
                field.name()
            ))
        })?),
    };
    let data = match (fields.data, raw.data) {
        (Some(field), None) if field.required => {
            return Err(EnvelopeError(format!("missing field `{}`", field.name())))
        }
        (_, None) => 0..body.len(),
        (_, Some(data)) => subslice_range(body, data.get().as_bytes())
            .ok_or_else(|| EnvelopeError("data is not a slice of the body".into()))?,
    };
    Ok(Envelope {
        id,
        event,
        timestamp,
        api_version,
        data,
    })
}

fn field_kind(field: Field) -> &'static str {
    match field.source {
        Source::Body(_) => "field",
        Source::Header(_) => "header",
    }
}

/// The position of `part` inside `whole`, computed from the addresses.
fn subslice_range(whole: &[u8], part: &[u8]) -> Option<Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= whole.len()).then_some(start..end)
}

/// The names of the fields read from the body.
#[derive(Default)]
struct BodyNames {
    id: Option<&'static str>,
    event: Option<&'static str>,
    timestamp: Option<&'static str>,
    version: Option<&'static str>,
    data: Option<&'static str>,
}

impl BodyNames {
    fn of(fields: &EnvelopeFields) -> Self {
        let name = |f: Option<Field>| match f {
            Some(Field {
                source: Source::Body(name),
                ..
            }) => Some(name),
            _ => None,
        };
        Self {
            id: name(fields.id),
            event: name(fields.event),
            timestamp: name(fields.timestamp.map(|(f, _)| f)),
            version: name(fields.version),
            data: name(fields.data),
        }
    }
}

#[derive(Default)]
struct RawEnvelope<'de> {
    id: Option<Cow<'de, str>>,
    event: Option<Cow<'de, str>>,
    timestamp: Option<Stamp<'de>>,
    version: Option<Cow<'de, str>>,
    data: Option<&'de RawValue>,
}

struct EnvelopeSeed<'f> {
    names: &'f BodyNames,
}

impl<'de> DeserializeSeed<'de> for EnvelopeSeed<'_> {
    type Value = RawEnvelope<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

#[derive(Clone, Copy)]
enum Slot {
    Id,
    Event,
    Timestamp,
    Version,
    Data,
    Other,
}

impl<'de> Visitor<'de> for EnvelopeSeed<'_> {
    type Value = RawEnvelope<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object (the event envelope)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let n = self.names;
        let mut out = RawEnvelope::default();
        // A field seen with `null` counts as seen, so `"id": null, "id": "x"`
        // is still a duplicate.
        let mut seen = [false; 5];
        while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
            let key_is = |name: Option<&str>| Some(key.as_ref()) == name;
            let slot = if key_is(n.id) {
                Slot::Id
            } else if key_is(n.event) {
                Slot::Event
            } else if key_is(n.timestamp) {
                Slot::Timestamp
            } else if key_is(n.version) {
                Slot::Version
            } else if key_is(n.data) {
                Slot::Data
            } else {
                Slot::Other
            };
            if let Some(seen) = seen.get_mut(slot as usize) {
                if *seen {
                    return Err(de::Error::custom(format_args!("duplicate field `{key}`")));
                }
                *seen = true;
            }
            match slot {
                Slot::Id => out.id = map.next_value::<Option<Str<'de>>>()?.map(|s| s.0),
                // An event type may be a number (Discord's interaction types).
                Slot::Event => out.event = map.next_value::<Option<TypeName<'de>>>()?.map(|s| s.0),
                Slot::Timestamp => out.timestamp = map.next_value::<Option<Stamp<'de>>>()?,
                Slot::Version => out.version = map.next_value::<Option<Str<'de>>>()?.map(|s| s.0),
                Slot::Data => {
                    let raw = map.next_value::<&'de RawValue>()?;
                    out.data = (raw.get() != "null").then_some(raw);
                }
                Slot::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

/// A timestamp as the body writes it: a string, or a JSON integer.
enum Stamp<'de> {
    Text(Cow<'de, str>),
    Number(u64),
}

impl Stamp<'_> {
    fn to_time(&self, format: TimeFormat) -> Option<OffsetDateTime> {
        let number = |n: u64, per_second: u64| {
            let secs = i64::try_from(n / per_second).ok()?;
            let nanos = (n % per_second) * (1_000_000_000 / per_second);
            let at = OffsetDateTime::from_unix_timestamp(secs).ok()?;
            at.checked_add(time::Duration::nanoseconds(i64::try_from(nanos).ok()?))
        };
        match (self, format) {
            (Stamp::Text(text), TimeFormat::Rfc3339) => OffsetDateTime::parse(text, &Rfc3339).ok(),
            (Stamp::Number(n), TimeFormat::UnixSeconds) => number(*n, 1),
            (Stamp::Number(n), TimeFormat::UnixMillis) => number(*n, 1000),
            (Stamp::Text(text), TimeFormat::UnixSeconds | TimeFormat::UnixMillis) => {
                if text.is_empty() || text.len() > 16 || !text.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                Stamp::Number(text.parse().ok()?).to_time(format)
            }
            _ => None,
        }
    }
}

impl<'de> serde::Deserialize<'de> for Stamp<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Stamp<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a timestamp (a string or a non-negative integer)")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Stamp<'de>, E> {
                Ok(Stamp::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Stamp<'de>, E> {
                Ok(Stamp::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Stamp<'de>, E> {
                Ok(Stamp::Number(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// An event type: a JSON string, or an integer read as its decimal text.
struct TypeName<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for TypeName<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TypeName<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an integer")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<TypeName<'de>, E> {
                Ok(TypeName(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TypeName<'de>, E> {
                Ok(TypeName(Cow::Owned(v.to_owned())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<TypeName<'de>, E> {
                Ok(TypeName(Cow::Owned(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<TypeName<'de>, E> {
                Ok(TypeName(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_any(V)
    }
}

/// A JSON string, borrowed from the body when it has no escapes.
struct Str<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::{Aexo, Axifi, Scheme};

    const NONE: &[(&str, &str)] = &[];

    const AEXO_SEED: &str = r#"{
  "id": "wh_01HXYZ123456789",
  "event": "dataset.refreshed",
  "created_at": "2026-05-17T08:30:00Z",
  "api_version": "1.3.0",
  "data": {
    "dataset_name": "ny-verified-contractors",
    "records_updated": 847,
    "records_added": 203,
    "records_removed": 12,
    "refresh_cycle": "monthly"
  }
}"#;

    #[test]
    fn reads_the_aexo_seed_envelope_and_locates_data_in_the_body() {
        let env = read(&Aexo.envelope(), &NONE, AEXO_SEED.as_bytes()).unwrap();
        assert_eq!(env.id.as_deref(), Some("wh_01HXYZ123456789"));
        assert_eq!(&*env.event, "dataset.refreshed");
        assert_eq!(env.api_version.as_deref(), Some("1.3.0"));
        assert_eq!(
            env.timestamp.unwrap(),
            time::macros::datetime!(2026-05-17 08:30:00 UTC)
        );
        let data: serde_json::Value =
            serde_json::from_slice(&AEXO_SEED.as_bytes()[env.data]).unwrap();
        assert_eq!(data["records_updated"], 847);
    }

    #[test]
    fn unknown_fields_are_ignored_and_escaped_strings_are_decoded() {
        let body = br#"{"extra":[1,{"a":2}],"event":"compound\u002ecreated","timestamp":"2024-01-15T10:30:45Z","data":{"id":"c"}}"#;
        let env = read(&Axifi.envelope(), &NONE, body).unwrap();
        assert_eq!(&*env.event, "compound.created");
        assert!(env.id.is_none());
    }

    #[test]
    fn malformed_envelopes_are_errors_not_panics() {
        let fields = Aexo.envelope();
        for body in [
            &b""[..],
            b"[]",
            b"null",
            b"{",
            b"{\"event\":\"x\"}",
            br#"{"id":"a","event":"e","created_at":"yesterday","data":{}}"#,
            br#"{"id":"a","event":"e","created_at":"2026-05-17T08:30:00Z"}"#,
            br#"{"id":7,"event":"e","created_at":"2026-05-17T08:30:00Z","data":{}}"#,
            br#"{"id":"","event":"e","created_at":"2026-05-17T08:30:00Z","data":{}}"#,
            br#"{"id":"a","id":"b","event":"e","created_at":"2026-05-17T08:30:00Z","data":{}}"#,
            br#"{"id":"a","event":"e","created_at":"2026-05-17T08:30:00Z","data":{}} trailing"#,
            b"\xff\xfe",
        ] {
            assert!(
                read(&fields, &NONE, body).is_err(),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
