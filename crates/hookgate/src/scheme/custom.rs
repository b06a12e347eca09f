use std::time::{Duration, SystemTime};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{
    list_items, single_header, Algorithm, Encoding, EnvelopeFields, Field, Message, Scheme,
    SignInput, SignatureParts, Source, TimeFormat, FIVE_MINUTES,
};
use crate::{ConfigError, Rejection};

/// One piece of a configured scheme's signed content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// The raw body.
    Body,
    /// The value of a request header (it must be present, once).
    Header(&'static str),
    /// The public URL the sender called (with the request's query).
    Url,
    /// Fixed bytes, such as a separator (`.`, `:`) or a version (`v0:`).
    Literal(&'static str),
}

/// Where a configured scheme's timestamp is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampSource {
    /// A header, which the signed content must include.
    Header(&'static str, TimeFormat),
    /// A top-level field of the JSON body (signed with the body).
    Body(&'static str, TimeFormat),
}

/// A signature scheme described by configuration, for senders that are not
/// built in: an HMAC over content assembled from the body, headers, the URL
/// and fixed separators, written in one header.
///
/// ```
/// use hookgate::scheme::{Algorithm, Encoding, Field, HmacScheme, Part, TimeFormat, TimestampSource};
///
/// // "X-Acme-Signature: t=...,s=<base64 HMAC-SHA512 of `{ts}.{body}`>", say.
/// let acme = HmacScheme::new("acme", "x-acme-signature")
///     .algorithm(Algorithm::HmacSha512)
///     .encoding(Encoding::Base64)
///     .list(b',', "s=")
///     .signed_content(vec![Part::Header("x-acme-timestamp"), Part::Literal("."), Part::Body])
///     .timestamp(TimestampSource::Header("x-acme-timestamp", TimeFormat::UnixSeconds))
///     .id(Field::header("x-acme-delivery"))
///     .build()
///     .unwrap();
/// # let _ = acme;
///
/// // A scheme that would not sign the body is refused.
/// let unsigned = HmacScheme::new("bad", "x-sig").signed_content(vec![Part::Header("x-id")]).build();
/// assert!(unsigned.unwrap_err().to_string().contains("body"));
/// ```
#[derive(Debug, Clone)]
pub struct HmacScheme {
    name: &'static str,
    header: &'static str,
    algorithm: Algorithm,
    encoding: Encoding,
    prefix: &'static str,
    list: Option<u8>,
    content: Vec<Part>,
    timestamp: Option<TimestampSource>,
    freshness: Duration,
    future_skew: Duration,
    envelope: EnvelopeFields,
}

impl HmacScheme {
    /// A scheme named `name` (logs, metrics, dedupe namespace) whose tag is
    /// the hex HMAC-SHA256 of the body in `header`. Change any of that with
    /// the setters, then [`build`](Self::build).
    pub fn new(name: &'static str, header: &'static str) -> Self {
        Self {
            name,
            header,
            algorithm: Algorithm::HmacSha256,
            encoding: Encoding::Hex,
            prefix: "",
            list: None,
            content: vec![Part::Body],
            timestamp: None,
            freshness: FIVE_MINUTES,
            future_skew: super::DEFAULT_FUTURE_SKEW,
            envelope: EnvelopeFields::any(),
        }
    }

    /// The HMAC's hash.
    #[must_use]
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// How the tag is written.
    #[must_use]
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// Text before the tag (`sha256=`); a header without it is malformed.
    #[must_use]
    pub fn prefix(mut self, prefix: &'static str) -> Self {
        self.prefix = prefix;
        self
    }

    /// The header holds a list of entries split by `separator`; entries
    /// that start with `prefix` are candidate tags, every other entry is
    /// skipped. Replaces [`prefix`](Self::prefix).
    #[must_use]
    pub fn list(mut self, separator: u8, prefix: &'static str) -> Self {
        self.list = Some(separator);
        self.prefix = prefix;
        self
    }

    /// What is signed, in order (default: the body alone).
    #[must_use]
    pub fn signed_content(mut self, parts: Vec<Part>) -> Self {
        self.content = parts;
        self
    }

    /// A signed timestamp, checked against the freshness window.
    #[must_use]
    pub fn timestamp(mut self, source: TimestampSource) -> Self {
        self.timestamp = Some(source);
        self
    }

    /// The default freshness window (5 minutes).
    #[must_use]
    pub fn freshness(mut self, window: Duration) -> Self {
        self.freshness = window;
        self
    }

    /// The default allowance for a timestamp ahead of our clock (5 minutes).
    #[must_use]
    pub fn future_skew(mut self, skew: Duration) -> Self {
        self.future_skew = skew;
        self
    }

    /// Where the event id is (the default dedupe key when set).
    #[must_use]
    pub fn id(mut self, field: Field) -> Self {
        self.envelope.id = Some(field);
        self
    }

    /// Where the event type is.
    #[must_use]
    pub fn event(mut self, field: Field) -> Self {
        self.envelope.event = Some(field);
        self
    }

    /// Where the event's data is (default: the whole body).
    #[must_use]
    pub fn data(mut self, field: Field) -> Self {
        self.envelope.data = Some(field);
        self
    }

    /// Checks the description: the content must sign the body; a header
    /// timestamp must be part of the signed content; names must be
    /// lowercase header names.
    pub fn build(mut self) -> Result<Self, ConfigError> {
        let refuse = |why: String| Err(ConfigError::Scheme { why });
        let valid_name = |name: &str| {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        };
        if !valid_name(self.name) {
            return refuse(format!(
                "scheme name {:?} must be lowercase letters, digits, `-` or `_`",
                self.name
            ));
        }
        let mut headers = vec![self.header];
        headers.extend(self.content.iter().filter_map(|p| match p {
            Part::Header(h) => Some(*h),
            _ => None,
        }));
        for field in [self.envelope.id, self.envelope.event] {
            if let Some(Field {
                source: Source::Header(h),
                ..
            }) = field
            {
                headers.push(h);
            }
        }
        if let Some(TimestampSource::Header(h, _)) = self.timestamp {
            headers.push(h);
        }
        for h in headers {
            if !valid_name(h) {
                return refuse(format!("header name {h:?} must be lowercase"));
            }
        }
        if !self.content.contains(&Part::Body) {
            return refuse(
                "the signed content does not include the body, so anyone could change it".into(),
            );
        }
        if self.content.len() > super::MAX_SEGMENTS {
            return refuse(format!(
                "the signed content has {} parts; at most {} are supported",
                self.content.len(),
                super::MAX_SEGMENTS
            ));
        }
        match self.timestamp {
            Some(TimestampSource::Header(h, _)) if !self.content.contains(&Part::Header(h)) => {
                return refuse(format!(
                    "the timestamp header {h:?} is not part of the signed content, so a replay \
                     could carry a fresh one"
                ));
            }
            Some(TimestampSource::Body(field, format)) => {
                self.envelope.timestamp = Some((Field::body(field), format));
            }
            _ => {}
        }
        if self.timestamp.is_some() && self.freshness.is_zero() {
            return refuse("a freshness window of zero refuses every delivery".into());
        }
        Ok(self)
    }

    fn header_timestamp(&self, text: &[u8], format: TimeFormat) -> Option<SystemTime> {
        match format {
            TimeFormat::UnixSeconds => super::unix_seconds(text),
            TimeFormat::UnixMillis => {
                if text.len() < 4 || !text.iter().all(u8::is_ascii_digit) {
                    return None;
                }
                let (secs, _) = text.split_at(text.len() - 3);
                let ms: u64 = std::str::from_utf8(&text[secs.len()..])
                    .ok()?
                    .parse()
                    .ok()?;
                super::unix_seconds(secs)?.checked_add(Duration::from_millis(ms))
            }
            TimeFormat::Rfc3339 => {
                let text = std::str::from_utf8(text).ok()?;
                OffsetDateTime::parse(text, &Rfc3339)
                    .ok()
                    .map(SystemTime::from)
            }
        }
    }

    fn tag_text<'h>(&self, value: &'h [u8]) -> Option<&'h [u8]> {
        value.strip_prefix(self.prefix.as_bytes())
    }
}

impl Scheme for HmacScheme {
    fn name(&self) -> &'static str {
        self.name
    }

    fn signature_header(&self) -> &'static str {
        self.header
    }

    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    fn signs_url(&self) -> bool {
        self.content.contains(&Part::Url)
    }

    fn parse_signature<'h>(
        &self,
        message: Message<'h>,
        parts: &mut SignatureParts<'h>,
    ) -> Result<(), Rejection> {
        let value = single_header(message.headers, self.header)?;
        match self.list {
            None => {
                let text = self.tag_text(value).ok_or(Rejection::MalformedSignature)?;
                parts.push_tag(self.encoding, text)?;
            }
            Some(separator) => {
                for entry in list_items(value, separator) {
                    if let Some(text) = self.tag_text(entry) {
                        parts.try_push_tag(self.encoding, text);
                    }
                }
                if !parts.has_tags() {
                    return Err(Rejection::MalformedSignature);
                }
            }
        }
        if let Some(TimestampSource::Header(name, format)) = self.timestamp {
            let text = single_header(message.headers, name)?;
            let at = self
                .header_timestamp(text, format)
                .ok_or(Rejection::MalformedSignature)?;
            parts.set_timestamp(at);
        }
        for part in &self.content {
            match part {
                Part::Body => parts.push_body()?,
                Part::Header(name) => parts.push(single_header(message.headers, name)?)?,
                Part::Url => {
                    parts.push(message.url.ok_or(Rejection::MalformedSignature)?.as_bytes())?
                }
                Part::Literal(text) => parts.push(text.as_bytes())?,
            }
        }
        Ok(())
    }

    fn envelope(&self) -> EnvelopeFields {
        self.envelope
    }

    fn default_freshness(&self) -> Duration {
        self.freshness
    }

    fn default_future_skew(&self) -> Duration {
        self.future_skew
    }

    fn sign(
        &self,
        secret: &[u8],
        input: &SignInput<'_>,
    ) -> Result<Vec<(&'static str, String)>, ConfigError> {
        let mut headers: Vec<(&'static str, String)> = Vec::new();
        if let Some(TimestampSource::Header(name, format)) = self.timestamp {
            let secs = input.unix_seconds();
            let text = match format {
                TimeFormat::UnixSeconds => secs.to_string(),
                TimeFormat::UnixMillis => format!("{secs}000"),
                TimeFormat::Rfc3339 => crate::testing::rfc3339(OffsetDateTime::from(
                    SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
                )),
            };
            headers.push((name, text));
        }
        for field in [self.envelope.id, self.envelope.event] {
            if let Some(Field {
                source: Source::Header(name),
                ..
            }) = field
            {
                if !headers.iter().any(|(n, _)| *n == name) {
                    let value = if Some(name) == self.envelope.id.map(|f| f.name()) {
                        input.id_or_made_up("")
                    } else {
                        input.event.unwrap_or("test").to_owned()
                    };
                    headers.push((name, value));
                }
            }
        }
        let mut content: Vec<Vec<u8>> = Vec::new();
        for part in &self.content {
            content.push(match part {
                Part::Body => input.body.to_vec(),
                Part::Header(name) => headers
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone().into_bytes())
                    .unwrap_or_default(),
                Part::Url => input.url.unwrap_or_default().as_bytes().to_vec(),
                Part::Literal(text) => text.as_bytes().to_vec(),
            });
        }
        let slices: Vec<&[u8]> = content.iter().map(Vec::as_slice).collect();
        let tag = self.algorithm.tag(&self.decode_secret(secret)?, &slices);
        headers.push((
            self.header,
            format!("{}{}", self.prefix, self.encoding.encode(&tag)),
        ));
        Ok(headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acme() -> HmacScheme {
        HmacScheme::new("acme", "x-acme-signature")
            .algorithm(Algorithm::HmacSha512)
            .encoding(Encoding::Base64Url)
            .list(b' ', "s=")
            .signed_content(vec![
                Part::Header("x-acme-timestamp"),
                Part::Literal("."),
                Part::Body,
            ])
            .timestamp(TimestampSource::Header(
                "x-acme-timestamp",
                TimeFormat::UnixMillis,
            ))
            .id(Field::header("x-acme-delivery"))
            .build()
            .unwrap()
    }

    #[test]
    fn a_header_timestamp_outside_the_signed_content_is_refused() {
        let err = HmacScheme::new("acme", "x-sig")
            .timestamp(TimestampSource::Header("x-ts", TimeFormat::UnixSeconds))
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("x-ts"), "{err}");
    }

    #[test]
    fn uppercase_header_names_are_refused() {
        let err = HmacScheme::new("acme", "X-Sig").build().unwrap_err();
        assert!(err.to_string().contains("X-Sig"), "{err}");
    }

    #[test]
    fn signing_then_parsing_reproduces_the_tag_and_the_timestamp() {
        let scheme = acme();
        let mut input = SignInput::new(b"{\"a\":1}");
        input.timestamp = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let headers = scheme.sign(b"k", &input).unwrap();
        let mut parts = SignatureParts::new(Scheme::algorithm(&scheme));
        scheme
            .parse_signature(Message::new(&headers, input.body), &mut parts)
            .unwrap();
        assert_eq!(parts.timestamp(), Some(input.timestamp));
        let content: Vec<&[u8]> = parts.content(input.body).collect();
        let tags: Vec<&[u8]> = parts.tags().collect();
        assert_eq!(
            tags,
            vec![Algorithm::HmacSha512.tag(b"k", &content).as_slice()]
        );
        assert_eq!(content[0], b"1700000000000");
    }
}
