//! Signature schemes: where a sender puts its signature, what it signs, how
//! it encodes the tag, and where it keeps the event id, type and timestamp.
//!
//! A scheme only *parses*: it turns a request into [`SignatureParts`] (the
//! signed content as a list of segments, the candidate tags, an optional
//! signed timestamp). The [`Verifier`](crate::Verifier) then computes the
//! scheme's [`Algorithm`] over that content with each configured key and
//! compares in constant time (or checks the ed25519 signature). A scheme
//! never compares tags itself.
//!
//! The senders built in, their headers, what they sign, their windows and
//! dedupe keys, are listed in the senders table of the workspace README
//! (`README.md` at the repository's root, section "Senders"; this crate's
//! own README has no such table); every one of them is a small file in
//! this module. For a sender that is not built in, configure an
//! [`HmacScheme`].
//!
//! ```
//! use hookgate::scheme::{Aexo, Message, Scheme, SignatureParts};
//! let headers = vec![("x-aexo-signature", "ab".repeat(32))];
//! let mut parts = SignatureParts::new(Aexo.algorithm());
//! Aexo.parse_signature(Message::new(&headers, b"{}"), &mut parts).unwrap();
//! assert_eq!(parts.tags().count(), 1);
//! ```

mod aexo;
mod axifi;
mod custom;
mod discord;
mod github;
mod linear;
mod paddle;
mod shopify;
mod slack;
mod square;
mod standard;
mod stripe;
mod twilio;
mod zoom;

pub use aexo::Aexo;
pub use axifi::Axifi;
pub use custom::{HmacScheme, Part, TimestampSource};
pub use discord::Discord;
pub use github::GitHub;
pub use linear::Linear;
pub use paddle::Paddle;
pub use shopify::Shopify;
pub use slack::Slack;
pub use square::Square;
pub use standard::StandardWebhooks;
pub use stripe::Stripe;
pub use twilio::Twilio;
pub use zoom::Zoom;

use std::fmt;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use hmac::{Hmac, Mac};

use crate::headers::{HeaderValue, Headers};
use crate::{ConfigError, Rejection};

/// The longest tag or signature any algorithm produces (HMAC-SHA512 and
/// ed25519: 64 bytes).
pub const MAX_TAG_LEN: usize = 64;

/// Most segments of signed content a scheme may assemble.
pub const MAX_SEGMENTS: usize = 12;

/// Most candidate tags one request may carry (Stripe and Standard Webhooks
/// send one per active secret of the sender).
pub const MAX_TAGS: usize = 8;

/// The default allowance for a sender's clock running ahead of ours.
pub const DEFAULT_FUTURE_SKEW: Duration = Duration::from_secs(5 * 60);

/// How a sender computes its tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC with SHA-256 (almost every sender).
    HmacSha256,
    /// HMAC with SHA-512.
    HmacSha512,
    /// HMAC with SHA-1 (Twilio; weak, but still what some senders use).
    HmacSha1,
    /// An ed25519 signature (Standard Webhooks `v1a`, Discord): the route
    /// is configured with the sender's public key, not a shared secret.
    Ed25519,
}

impl Algorithm {
    /// The length of the tag in bytes.
    pub const fn tag_len(self) -> usize {
        match self {
            Algorithm::HmacSha256 => 32,
            Algorithm::HmacSha512 => 64,
            Algorithm::HmacSha1 => 20,
            Algorithm::Ed25519 => 64,
        }
    }

    /// The tag of `content` (its segments concatenated) under `key`: for
    /// HMAC the shared key; for ed25519 the signing key's 32-byte seed (a
    /// key of another length signs nothing: an empty tag).
    pub fn tag(self, key: &[u8], content: &[&[u8]]) -> Vec<u8> {
        fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], content: &[&[u8]]) -> Vec<u8> {
            // HMAC takes a key of any length, so this never fails.
            let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key)
                .unwrap_or_else(|_| <M as hmac::digest::KeyInit>::new(&Default::default()));
            for part in content {
                mac.update(part);
            }
            mac.finalize().into_bytes().to_vec()
        }
        match self {
            Algorithm::HmacSha256 => run::<Hmac<sha2::Sha256>>(key, content),
            Algorithm::HmacSha512 => run::<Hmac<sha2::Sha512>>(key, content),
            Algorithm::HmacSha1 => run::<Hmac<sha1::Sha1>>(key, content),
            Algorithm::Ed25519 => {
                use ed25519_dalek::Signer;
                let Ok(seed) = <[u8; 32]>::try_from(key) else {
                    return Vec::new();
                };
                let message: Vec<u8> = content.concat();
                ed25519_dalek::SigningKey::from_bytes(&seed)
                    .sign(&message)
                    .to_bytes()
                    .to_vec()
            }
        }
    }
}

/// How a tag is written in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Encoding {
    /// Hexadecimal, either case.
    Hex,
    /// Standard base64 (`+/`), padding optional.
    Base64,
    /// URL-safe base64 (`-_`), padding optional.
    Base64Url,
}

const B64_CONFIG: base64::engine::GeneralPurposeConfig =
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent);
const B64: base64::engine::GeneralPurpose =
    base64::engine::GeneralPurpose::new(&base64::alphabet::STANDARD, B64_CONFIG);
const B64_URL: base64::engine::GeneralPurpose =
    base64::engine::GeneralPurpose::new(&base64::alphabet::URL_SAFE, B64_CONFIG);

/// Decodes hex digits (either case) into `out` when `text` is exactly
/// `2 * out.len()` of them. The signature is decoded on every delivery, and
/// `hex::decode_to_slice` builds and checks an error per character: with
/// this loop, parsing an AEXO signature header takes about 840 instructions
/// instead of 1,460 (callgrind).
fn decode_hex(text: &[u8], out: &mut [u8]) -> bool {
    // 0..=15 for a hex digit, 0xff for anything else.
    fn nibble(c: u8) -> u8 {
        let digit = c.wrapping_sub(b'0');
        let letter = (c | 0x20).wrapping_sub(b'a');
        if digit < 10 {
            digit
        } else if letter < 6 {
            letter + 10
        } else {
            0xff
        }
    }
    if text.len() != 2 * out.len() {
        return false;
    }
    let mut bad = 0u8;
    for (pair, byte) in text.chunks_exact(2).zip(out.iter_mut()) {
        let (high, low) = (nibble(pair[0]), nibble(pair[1]));
        bad |= high | low;
        *byte = (high << 4) | (low & 0x0f);
    }
    bad & 0xf0 == 0
}

impl Encoding {
    /// Writes `bytes` the way the sender does (base64 with padding).
    pub fn encode(self, bytes: &[u8]) -> String {
        match self {
            Encoding::Hex => hex::encode(bytes),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
            Encoding::Base64Url => base64::engine::general_purpose::URL_SAFE.encode(bytes),
        }
    }

    /// Decodes `text` into `out` when it encodes exactly `out.len()` bytes.
    fn decode_exact(self, text: &[u8], out: &mut [u8]) -> bool {
        match self {
            Encoding::Hex => decode_hex(text, out),
            Encoding::Base64 | Encoding::Base64Url => {
                let engine = if self == Encoding::Base64 {
                    &B64
                } else {
                    &B64_URL
                };
                // Decoding into a buffer with room to spare, so that a tag
                // that is too long is seen as such rather than as an error
                // of the decoder.
                let mut buf = [0u8; MAX_TAG_LEN + 3];
                if text.len() > 4 * buf.len() / 3 {
                    return false;
                }
                match engine.decode_slice(text, &mut buf) {
                    Ok(n) if n == out.len() => {
                        out.copy_from_slice(&buf[..n]);
                        true
                    }
                    _ => false,
                }
            }
        }
    }
}

/// Decodes base64 (standard or URL-safe alphabet, padding optional), for
/// schemes whose secrets are written in base64.
pub fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    B64.decode(text).or_else(|_| B64_URL.decode(text)).ok()
}

/// One candidate tag, decoded, and the algorithm it is for.
#[derive(Clone, Copy)]
struct Tag {
    bytes: [u8; MAX_TAG_LEN],
    len: usize,
    algorithm: Algorithm,
}

#[derive(Debug, Clone, Copy)]
enum Segment<'h> {
    Borrowed(&'h [u8]),
    Body,
    Owned(usize, usize),
    /// One of the content's variants (see [`SignatureParts::push_one_of`]).
    OneOf,
}

/// Most variants of one segment ([`SignatureParts::push_one_of`]).
pub const MAX_VARIANTS: usize = 3;

/// A request as a scheme sees it: its headers, its raw body and, for the
/// schemes that sign it, the public URL the sender called.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct Message<'h> {
    /// The request headers.
    pub headers: &'h dyn Headers,
    /// The raw body, exactly as received.
    pub body: &'h [u8],
    /// The URL the sender was configured to call, with the request's query,
    /// when the route has a public URL set.
    pub url: Option<&'h str>,
}

impl<'h> Message<'h> {
    /// A message without a URL.
    pub fn new(headers: &'h dyn Headers, body: &'h [u8]) -> Self {
        Self {
            headers,
            body,
            url: None,
        }
    }

    /// The same message with the URL the sender called.
    #[must_use]
    pub fn with_url(mut self, url: &'h str) -> Self {
        self.url = Some(url);
        self
    }
}

impl fmt::Debug for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("body_len", &self.body.len())
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// What a scheme read from a request: the signed content, the candidate
/// tags and, for schemes that sign one, the timestamp.
///
/// Fixed capacity: parsing allocates nothing unless a scheme signs content
/// it has to build (sorted form fields, say).
pub struct SignatureParts<'h> {
    algorithm: Algorithm,
    content: [Segment<'h>; MAX_SEGMENTS],
    content_len: usize,
    owned: Vec<u8>,
    variants: [(usize, usize); MAX_VARIANTS],
    variants_len: usize,
    tags: [Tag; MAX_TAGS],
    tags_len: usize,
    timestamp: Option<SystemTime>,
}

impl fmt::Debug for SignatureParts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignatureParts")
            .field("algorithm", &self.algorithm)
            .field("segments", &self.content_len)
            .field("tags", &self.tags_len)
            .field("timestamp", &self.timestamp)
            .finish()
    }
}

impl<'h> SignatureParts<'h> {
    /// Nothing read yet, for tags of `algorithm`.
    pub fn new(algorithm: Algorithm) -> Self {
        Self {
            algorithm,
            content: [Segment::Body; MAX_SEGMENTS],
            content_len: 0,
            owned: Vec::new(),
            variants: [(0, 0); MAX_VARIANTS],
            variants_len: 0,
            tags: [Tag {
                bytes: [0; MAX_TAG_LEN],
                len: 0,
                algorithm,
            }; MAX_TAGS],
            tags_len: 0,
            timestamp: None,
        }
    }

    fn push_segment(&mut self, segment: Segment<'h>) -> Result<(), Rejection> {
        let slot = self
            .content
            .get_mut(self.content_len)
            .ok_or(Rejection::MalformedSignature)?;
        *slot = segment;
        self.content_len += 1;
        Ok(())
    }

    /// Appends bytes of the request (a header's value, a separator) to
    /// the signed content.
    pub fn push(&mut self, bytes: &'h [u8]) -> Result<(), Rejection> {
        self.push_segment(Segment::Borrowed(bytes))
    }

    /// Appends the raw body to the signed content.
    pub fn push_body(&mut self) -> Result<(), Rejection> {
        self.push_segment(Segment::Body)
    }

    /// Appends bytes the scheme built (copied).
    pub fn push_owned(&mut self, bytes: &[u8]) -> Result<(), Rejection> {
        let start = self.owned.len();
        self.owned.extend_from_slice(bytes);
        self.push_segment(Segment::Owned(start, self.owned.len()))
    }

    /// Appends one segment that may be any of `options` (copied): the tags
    /// are checked against the content with each in turn. For a sender
    /// whose signed URL may or may not carry its default port (Twilio).
    /// At most [`MAX_VARIANTS`] options, and one such segment.
    pub fn push_one_of(&mut self, options: &[&[u8]]) -> Result<(), Rejection> {
        if self.variants_len > 0 || options.is_empty() || options.len() > MAX_VARIANTS {
            return Err(Rejection::MalformedSignature);
        }
        for (slot, option) in self.variants.iter_mut().zip(options) {
            let start = self.owned.len();
            self.owned.extend_from_slice(option);
            *slot = (start, self.owned.len());
        }
        self.variants_len = options.len();
        self.push_segment(Segment::OneOf)
    }

    /// How many variants the signed content has (1 without a
    /// [`push_one_of`](Self::push_one_of) segment).
    pub fn variants(&self) -> usize {
        self.variants_len.max(1)
    }

    /// Adds a candidate tag written in `encoding`. A tag that does not
    /// decode to the algorithm's length is [`Rejection::MalformedSignature`].
    pub fn push_tag(&mut self, encoding: Encoding, text: &[u8]) -> Result<(), Rejection> {
        if self.try_push_tag(encoding, text) {
            Ok(())
        } else {
            Err(Rejection::MalformedSignature)
        }
    }

    /// Adds a candidate tag written as hex.
    pub fn push_hex_tag(&mut self, text: &[u8]) -> Result<(), Rejection> {
        self.push_tag(Encoding::Hex, text)
    }

    /// Adds a candidate tag from a list of several: returns whether it was
    /// well formed (a malformed entry of a list is skipped, not fatal, and
    /// an empty one never verifies). Past [`MAX_TAGS`], entries are dropped.
    pub fn try_push_tag(&mut self, encoding: Encoding, text: &[u8]) -> bool {
        self.try_push_tag_as(self.algorithm, encoding, text)
    }

    /// [`try_push_tag`](Self::try_push_tag) for a tag of another algorithm
    /// than the scheme's (Standard Webhooks lists `v1` HMAC tags and `v1a`
    /// ed25519 signatures in one header). A key checks only the tags of
    /// its own algorithm.
    pub fn try_push_tag_as(
        &mut self,
        algorithm: Algorithm,
        encoding: Encoding,
        text: &[u8],
    ) -> bool {
        let len = algorithm.tag_len();
        let Some(slot) = self.tags.get_mut(self.tags_len) else {
            return false;
        };
        if text.is_empty() || !encoding.decode_exact(text, &mut slot.bytes[..len]) {
            return false;
        }
        slot.len = len;
        slot.algorithm = algorithm;
        self.tags_len += 1;
        true
    }

    /// Records the timestamp the scheme signs, from its text in decimal
    /// seconds since the Unix epoch; anything else is malformed.
    pub fn set_unix_timestamp(&mut self, text: &[u8]) -> Result<(), Rejection> {
        self.timestamp = Some(unix_seconds(text).ok_or(Rejection::MalformedSignature)?);
        Ok(())
    }

    /// Records a signed timestamp.
    pub fn set_timestamp(&mut self, at: SystemTime) {
        self.timestamp = Some(at);
    }

    /// The algorithm the tags are for.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The signed content's segments, in order, with the body in its place
    /// (the first variant, when there are several).
    pub fn content<'a>(&'a self, body: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.content_variant(body, 0)
    }

    /// The signed content with variant `variant` of its one-of segment.
    pub fn content_variant<'a>(
        &'a self,
        body: &'a [u8],
        variant: usize,
    ) -> impl Iterator<Item = &'a [u8]> + 'a {
        let owned = |(start, end): (usize, usize)| self.owned.get(start..end).unwrap_or_default();
        self.content[..self.content_len]
            .iter()
            .map(move |segment| match *segment {
                Segment::Borrowed(bytes) => bytes,
                Segment::Body => body,
                Segment::Owned(start, end) => owned((start, end)),
                Segment::OneOf => self
                    .variants
                    .get(variant)
                    .map(|range| owned(*range))
                    .unwrap_or_default(),
            })
    }

    /// The candidate tags.
    pub fn tags(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.tags[..self.tags_len]
            .iter()
            .map(|tag| &tag.bytes[..tag.len])
    }

    /// The candidate tags of `algorithm`.
    pub fn tags_for(&self, algorithm: Algorithm) -> impl Iterator<Item = &[u8]> + '_ {
        self.tags[..self.tags_len]
            .iter()
            .filter(move |tag| tag.algorithm == algorithm)
            .map(|tag| &tag.bytes[..tag.len])
    }

    /// Whether any tag was read.
    pub fn has_tags(&self) -> bool {
        self.tags_len > 0
    }

    /// The signed timestamp, if the scheme has one.
    pub fn timestamp(&self) -> Option<SystemTime> {
        self.timestamp
    }
}

/// Where an envelope field is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// A top-level string field of the JSON body.
    Body(&'static str),
    /// A request header.
    Header(&'static str),
}

/// One envelope field: where it is, and whether a delivery without it is
/// refused (400) or read with the field absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Field {
    /// Where the field is.
    pub source: Source,
    /// Whether a delivery without it is refused.
    pub required: bool,
}

impl Field {
    /// A required top-level field of the JSON body.
    pub const fn body(name: &'static str) -> Self {
        Self {
            source: Source::Body(name),
            required: true,
        }
    }

    /// A required header.
    pub const fn header(name: &'static str) -> Self {
        Self {
            source: Source::Header(name),
            required: true,
        }
    }

    /// The same field, read as absent when missing (a JSON `null` counts as
    /// missing).
    #[must_use]
    pub const fn optional(mut self) -> Self {
        self.required = false;
        self
    }

    /// The field's name, for messages.
    pub fn name(&self) -> &'static str {
        match self.source {
            Source::Body(name) | Source::Header(name) => name,
        }
    }
}

/// How a timestamp in the body is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeFormat {
    /// An RFC 3339 string (`2026-05-17T08:30:00Z`).
    Rfc3339,
    /// Seconds since the Unix epoch, as a JSON number or a string of digits.
    UnixSeconds,
    /// Milliseconds since the Unix epoch, as a JSON number or a string of digits.
    UnixMillis,
}

/// What the body must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BodyFormat {
    /// A JSON object; anything else is refused (400).
    Json,
    /// Anything: a JSON object's fields are read, any other body (a form,
    /// say) is passed on with its body fields absent.
    Any,
}

/// Where a sender keeps the event's id, type, timestamp, API version and
/// data, for the one-pass envelope reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnvelopeFields {
    /// The event id (`None`: the sender has none, as AXIFI).
    pub id: Option<Field>,
    /// The event type (`None`: the sender sends none; the type reads `""`).
    pub event: Option<Field>,
    /// A timestamp in the body, covered by the signature, checked for
    /// freshness (schemes that sign a header timestamp set it while parsing).
    pub timestamp: Option<(Field, TimeFormat)>,
    /// The API version, if the sender sends one.
    pub version: Option<Field>,
    /// The event's data (`None`, or an optional field that is missing: the
    /// whole body).
    pub data: Option<Field>,
    /// What the body must be.
    pub body: BodyFormat,
}

impl EnvelopeFields {
    /// A JSON envelope with no fields yet (the whole body is the data).
    pub const fn json() -> Self {
        Self {
            id: None,
            event: None,
            timestamp: None,
            version: None,
            data: None,
            body: BodyFormat::Json,
        }
    }

    /// A body of any format, with no fields yet.
    pub const fn any() -> Self {
        Self {
            body: BodyFormat::Any,
            ..Self::json()
        }
    }

    /// Sets the id field.
    #[must_use]
    pub const fn id(mut self, field: Field) -> Self {
        self.id = Some(field);
        self
    }

    /// Sets the event type field.
    #[must_use]
    pub const fn event(mut self, field: Field) -> Self {
        self.event = Some(field);
        self
    }

    /// Sets the timestamp field (it must be in the body, which is signed).
    #[must_use]
    pub const fn timestamp(mut self, field: Field, format: TimeFormat) -> Self {
        self.timestamp = Some((field, format));
        self
    }

    /// Sets the API version field.
    #[must_use]
    pub const fn version(mut self, field: Field) -> Self {
        self.version = Some(field);
        self
    }

    /// Sets the data field.
    #[must_use]
    pub const fn data(mut self, field: Field) -> Self {
        self.data = Some(field);
        self
    }

    /// Whether any field is read from the body.
    pub fn reads_body(&self) -> bool {
        let in_body = |f: Option<Field>| {
            matches!(
                f,
                Some(Field {
                    source: Source::Body(_),
                    ..
                })
            )
        };
        in_body(self.id)
            || in_body(self.event)
            || in_body(self.timestamp.map(|(f, _)| f))
            || in_body(self.version)
            || in_body(self.data)
            || self.body == BodyFormat::Json
    }
}

/// What to sign: the body, and for schemes that sign or send them, a
/// timestamp, an id, an event type and the URL.
#[derive(Debug, Clone, Copy)]
pub struct SignInput<'a> {
    /// The exact bytes that will be sent as the body.
    pub body: &'a [u8],
    /// The time of signing (schemes with a header timestamp sign it).
    pub timestamp: SystemTime,
    /// A message id (schemes that send one in a header: Standard Webhooks,
    /// GitHub, Shopify, Linear). `None`: one is made up.
    pub id: Option<&'a str>,
    /// The event type, for schemes that send it in a header (GitHub,
    /// Shopify, Linear). `None`: a sample type.
    pub event: Option<&'a str>,
    /// The URL the request goes to, for schemes that sign it.
    pub url: Option<&'a str>,
}

impl<'a> SignInput<'a> {
    /// Signs `body` now, with no id.
    pub fn new(body: &'a [u8]) -> Self {
        Self {
            body,
            timestamp: SystemTime::now(),
            id: None,
            event: None,
            url: None,
        }
    }

    /// The id to send: the given one, or one made from the body's hash, so
    /// signing the same bytes twice sends the same id (a sender's retry).
    pub fn id_or_made_up(&self, prefix: &str) -> String {
        match self.id {
            Some(id) => id.to_owned(),
            None => {
                use sha2::Digest;
                let digest = sha2::Sha256::digest(self.body);
                format!("{prefix}{}", hex::encode(&digest[..12]))
            }
        }
    }

    /// The signing time in whole seconds since the Unix epoch.
    pub fn unix_seconds(&self) -> u64 {
        self.timestamp
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// How a sender signs its deliveries.
pub trait Scheme: fmt::Debug + Send + Sync + 'static {
    /// Short lowercase name, used in logs, metrics and dedupe namespaces.
    fn name(&self) -> &'static str;

    /// The header that carries the signature (lowercase), for messages and tools.
    fn signature_header(&self) -> &'static str;

    /// How the tags are computed (default HMAC-SHA256).
    fn algorithm(&self) -> Algorithm {
        Algorithm::HmacSha256
    }

    /// The algorithm a configured secret is a key of (default: the
    /// scheme's). Standard Webhooks takes a `whpk_` public key for `v1a`
    /// beside `whsec_` secrets for `v1`.
    fn key_algorithm(&self, secret: &[u8]) -> Algorithm {
        let _ = secret;
        self.algorithm()
    }

    /// The key bytes of a secret as the sender's dashboard shows it (default:
    /// the secret's bytes as given; Standard Webhooks decodes `whsec_` base64).
    fn decode_secret(&self, secret: &[u8]) -> Result<Vec<u8>, ConfigError> {
        Ok(secret.to_vec())
    }

    /// Whether the scheme signs the URL, so a route needs its public URL.
    fn signs_url(&self) -> bool {
        false
    }

    /// Reads the signature header(s) into `parts`: the signed content, the
    /// tags, the timestamp. Every malformed input is a [`Rejection`],
    /// never a panic.
    fn parse_signature<'h>(
        &self,
        message: Message<'h>,
        parts: &mut SignatureParts<'h>,
    ) -> Result<(), Rejection>;

    /// Where the envelope keeps its fields.
    fn envelope(&self) -> EnvelopeFields;

    /// The default freshness window for this sender's signed timestamps.
    fn default_freshness(&self) -> Duration;

    /// The default allowance for a signed timestamp ahead of our clock.
    fn default_future_skew(&self) -> Duration {
        DEFAULT_FUTURE_SKEW
    }

    /// The headers a sender would send for `input`, signed with `secret`
    /// (as configured: the scheme decodes it). Used by the test helpers and
    /// the command-line tool.
    fn sign(
        &self,
        secret: &[u8],
        input: &SignInput<'_>,
    ) -> Result<Vec<(&'static str, String)>, ConfigError>;
}

/// A shared scheme is the scheme (for schemes chosen at run time).
impl<S: Scheme + ?Sized> Scheme for std::sync::Arc<S> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn signature_header(&self) -> &'static str {
        (**self).signature_header()
    }
    fn algorithm(&self) -> Algorithm {
        (**self).algorithm()
    }
    fn key_algorithm(&self, secret: &[u8]) -> Algorithm {
        (**self).key_algorithm(secret)
    }
    fn decode_secret(&self, secret: &[u8]) -> Result<Vec<u8>, ConfigError> {
        (**self).decode_secret(secret)
    }
    fn signs_url(&self) -> bool {
        (**self).signs_url()
    }
    fn parse_signature<'h>(
        &self,
        message: Message<'h>,
        parts: &mut SignatureParts<'h>,
    ) -> Result<(), Rejection> {
        (**self).parse_signature(message, parts)
    }
    fn envelope(&self) -> EnvelopeFields {
        (**self).envelope()
    }
    fn default_freshness(&self) -> Duration {
        (**self).default_freshness()
    }
    fn default_future_skew(&self) -> Duration {
        (**self).default_future_skew()
    }
    fn sign(
        &self,
        secret: &[u8],
        input: &SignInput<'_>,
    ) -> Result<Vec<(&'static str, String)>, ConfigError> {
        (**self).sign(secret, input)
    }
}

/// Every scheme built in, by name: `aexo`, `axifi`, `standard-webhooks`,
/// `svix`, `github`, `stripe`, `slack`, `shopify`, `paddle`, `linear`,
/// `zoom`, `discord`, `square`, `twilio`. Square and Twilio sign the URL
/// they call: build their verifiers with
/// [`Verifier::with_public_url`](crate::Verifier::with_public_url).
pub fn builtin(name: &str) -> Option<std::sync::Arc<dyn Scheme>> {
    use std::sync::Arc;
    Some(match name {
        "aexo" => Arc::new(Aexo),
        "axifi" => Arc::new(Axifi),
        "standard-webhooks" => Arc::new(StandardWebhooks::V1),
        "svix" => Arc::new(StandardWebhooks::SVIX),
        "github" => Arc::new(GitHub),
        "stripe" => Arc::new(Stripe),
        "slack" => Arc::new(Slack),
        "shopify" => Arc::new(Shopify),
        "paddle" => Arc::new(Paddle),
        "linear" => Arc::new(Linear),
        "zoom" => Arc::new(Zoom),
        "discord" => Arc::new(Discord),
        "square" => Arc::new(Square),
        "twilio" => Arc::new(Twilio),
        _ => return None,
    })
}

/// The names [`builtin`] knows, in the order of the workspace README's senders table.
pub const BUILTIN: &[&str] = &[
    "aexo",
    "axifi",
    "standard-webhooks",
    "svix",
    "github",
    "stripe",
    "slack",
    "shopify",
    "paddle",
    "linear",
    "zoom",
    "discord",
    "square",
    "twilio",
];

/// The single value of a required header, or the rejection for its absence
/// or repetition. A helper for scheme implementations.
pub fn single_header<'h>(headers: &'h dyn Headers, name: &str) -> Result<&'h [u8], Rejection> {
    match headers.header(name) {
        HeaderValue::Absent => Err(Rejection::MissingSignature),
        HeaderValue::Many => Err(Rejection::DuplicateSignature),
        HeaderValue::One(v) => Ok(v),
    }
}

/// Decimal seconds since the Unix epoch (at most 12 digits, no sign, no
/// spaces).
pub fn unix_seconds(text: &[u8]) -> Option<SystemTime> {
    if text.is_empty() || text.len() > 12 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let secs: u64 = std::str::from_utf8(text).ok()?.parse().ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

/// Splits `item` at its first `separator`: `v1=abc=` is `("v1", "abc=")`, so
/// base64 padding stays with the value.
pub fn split_first(item: &[u8], separator: u8) -> Option<(&[u8], &[u8])> {
    let at = item.iter().position(|b| *b == separator)?;
    Some((&item[..at], &item[at + 1..]))
}

/// The items of a list header, split on `separator`, trimmed of spaces and
/// tabs, empty items left out.
pub fn list_items(value: &[u8], separator: u8) -> impl Iterator<Item = &[u8]> {
    value
        .split(move |b| *b == separator)
        .map(|item| item.trim_ascii())
        .filter(|item| !item.is_empty())
}

/// Reads a `key=value` list header of the Stripe and Paddle form
/// (`t=..,v1=..,v1=..`): every `tag_key` entry is a candidate hex tag,
/// other keys are skipped, the timestamp key must appear exactly once.
/// Pushes `{ts}{joiner}{body}` as the signed content.
pub(crate) fn keyed_list<'h>(
    value: &'h [u8],
    separator: u8,
    (ts_key, tag_key, joiner): (&[u8], &[u8], &'static [u8]),
    parts: &mut SignatureParts<'h>,
) -> Result<(), Rejection> {
    let mut timestamp = None;
    for item in list_items(value, separator) {
        match split_first(item, b'=') {
            // The guard records the timestamp; a second one is refused.
            Some((key, ts)) if key == ts_key && timestamp.replace(ts).is_some() => {
                return Err(Rejection::MalformedSignature);
            }
            Some((key, _)) if key == ts_key => {}
            Some((key, tag)) if key == tag_key => {
                parts.try_push_tag(Encoding::Hex, tag);
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(Rejection::MalformedSignature)?;
    if !parts.has_tags() {
        return Err(Rejection::MalformedSignature);
    }
    parts.set_unix_timestamp(timestamp)?;
    parts.push(timestamp)?;
    parts.push(joiner)?;
    parts.push_body()
}

/// Reads `header: v0=<hex>` with its timestamp in `ts_header`, signed as
/// `v0:{ts}:{body}` (Slack and Zoom).
pub(crate) fn v0_signature<'h>(
    headers: &'h dyn Headers,
    (header, ts_header): (&str, &str),
    parts: &mut SignatureParts<'h>,
) -> Result<(), Rejection> {
    let value = single_header(headers, header)?;
    let timestamp = single_header(headers, ts_header)?;
    let hex_tag = value
        .strip_prefix(b"v0=")
        .ok_or(Rejection::MalformedSignature)?;
    parts.push_hex_tag(hex_tag)?;
    parts.set_unix_timestamp(timestamp)?;
    for segment in [b"v0:", timestamp, b":"] {
        parts.push(segment)?;
    }
    parts.push_body()
}

/// The headers of a `v0` signature (Slack and Zoom) for `input`.
pub(crate) fn v0_sign(
    key: &[u8],
    (header, ts_header): (&'static str, &'static str),
    input: &SignInput<'_>,
) -> Vec<(&'static str, String)> {
    let ts = input.unix_seconds().to_string();
    let content: [&[u8]; 4] = [b"v0:", ts.as_bytes(), b":", input.body];
    let tag = Algorithm::HmacSha256.tag(key, &content);
    vec![
        (header, format!("v0={}", hex::encode(tag))),
        (ts_header, ts),
    ]
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a
/// byte; `None` for a `%` not followed by two hex digits.
pub(crate) fn form_decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while let Some(&b) = text.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let mut byte = [0u8; 1];
                hex::decode_to_slice(text.get(i + 1..i + 3)?, &mut byte).ok()?;
                out.push(byte[0]);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    Some(out)
}

/// Default freshness for senders that keep the original timestamp on retries
/// and retry for about two and a half hours (AEXO: +0, +5 min, +30 min, +2 h,
/// each after a 30 s timeout, 2 h 37 min in all), with 20 minutes to spare.
pub const RETRY_SPAN_WINDOW: Duration = Duration::from_secs(3 * 60 * 60);

/// Five minutes: the window of the senders that sign a fresh timestamp on
/// every attempt (Stripe, Slack, Standard Webhooks).
pub const FIVE_MINUTES: Duration = Duration::from_secs(5 * 60);

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn hex_decoding_agrees_with_the_hex_crate_on_every_pair_of_bytes() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let text = [b'0', a, b, b'f'];
                let (mut ours, mut theirs) = ([0u8; 2], [0u8; 2]);
                let ok = decode_hex(&text, &mut ours);
                assert_eq!(
                    ok,
                    hex::decode_to_slice(text, &mut theirs).is_ok(),
                    "{text:?}"
                );
                if ok {
                    assert_eq!(ours, theirs, "{text:?}");
                }
            }
        }
        let mut out = [0u8; 2];
        assert!(!decode_hex(b"abc", &mut out));
        assert!(!decode_hex(b"abcdef", &mut out));
        assert!(decode_hex(b"A0f9", &mut out) && out == [0xa0, 0xf9]);
    }

    #[test]
    fn hex_tags_of_the_wrong_shape_are_malformed() {
        let mut parts = SignatureParts::new(Algorithm::HmacSha256);
        for bad in [
            &b""[..],
            b"abc",
            &[b'a'; 63],
            &[b'a'; 65],
            &[b'g'; 64],
            &[b'a'; 62],
        ] {
            assert_eq!(
                parts.push_hex_tag(bad),
                Err(Rejection::MalformedSignature),
                "{bad:?}"
            );
        }
        assert!(!parts.has_tags());
    }

    #[test]
    fn uppercase_hex_decodes_to_the_same_tag() {
        let mut parts = SignatureParts::new(Algorithm::HmacSha256);
        parts.push_hex_tag(&[b'a'; 64]).unwrap();
        parts.push_hex_tag(&[b'A'; 64]).unwrap();
        let tags: Vec<&[u8]> = parts.tags().collect();
        assert_eq!(tags[0], tags[1]);
    }

    #[test]
    fn more_tags_or_segments_than_capacity_is_malformed_not_a_panic() {
        let mut parts = SignatureParts::new(Algorithm::HmacSha256);
        for _ in 0..MAX_TAGS {
            parts.push_hex_tag(&[b'1'; 64]).unwrap();
        }
        assert_eq!(
            parts.push_hex_tag(&[b'1'; 64]),
            Err(Rejection::MalformedSignature)
        );
        for _ in 0..MAX_SEGMENTS {
            parts.push(b".").unwrap();
        }
        assert_eq!(parts.push(b"."), Err(Rejection::MalformedSignature));
        assert_eq!(parts.push_body(), Err(Rejection::MalformedSignature));
    }

    #[test]
    fn base64_tags_decode_with_or_without_padding_and_only_at_the_right_length() {
        let tag = [7u8; 32];
        let padded = Encoding::Base64.encode(&tag);
        assert!(padded.ends_with('='), "{padded}");
        let bare = padded.trim_end_matches('=');
        let mut parts = SignatureParts::new(Algorithm::HmacSha256);
        assert!(parts.try_push_tag(Encoding::Base64, padded.as_bytes()));
        assert!(parts.try_push_tag(Encoding::Base64, bare.as_bytes()));
        // 31 and 33 bytes, and SHA-1's 20, are not SHA-256 tags.
        for len in [31, 33, 20, 64] {
            let other = Encoding::Base64.encode(&vec![7u8; len]);
            assert!(
                !parts.try_push_tag(Encoding::Base64, other.as_bytes()),
                "{len}"
            );
        }
        assert!(!parts.try_push_tag(Encoding::Base64, b""));
        assert!(!parts.try_push_tag(Encoding::Base64, b"!!!!"));
        assert!(!parts.try_push_tag(Encoding::Base64, &[b'A'; 4096]));
        let tags: Vec<&[u8]> = parts.tags().collect();
        assert_eq!(tags, vec![&tag[..], &tag[..]]);
    }

    #[test]
    fn url_safe_and_standard_alphabets_are_not_mixed_up() {
        // 0xfb 0xff encodes to "+/8" in the standard alphabet, "-_8" URL-safe.
        let tag: Vec<u8> = std::iter::repeat_n([0xfb, 0xff], 16).flatten().collect();
        let std_text = Encoding::Base64.encode(&tag);
        let url_text = Encoding::Base64Url.encode(&tag);
        assert_ne!(std_text, url_text);
        let mut parts = SignatureParts::new(Algorithm::HmacSha256);
        assert!(parts.try_push_tag(Encoding::Base64, std_text.as_bytes()));
        assert!(!parts.try_push_tag(Encoding::Base64, url_text.as_bytes()));
        assert!(parts.try_push_tag(Encoding::Base64Url, url_text.as_bytes()));
        assert!(!parts.try_push_tag(Encoding::Base64Url, std_text.as_bytes()));
    }

    #[test]
    fn splitting_at_the_first_separator_keeps_base64_padding() {
        assert_eq!(
            split_first(b"v1=abc==", b'='),
            Some((&b"v1"[..], &b"abc=="[..]))
        );
        assert_eq!(split_first(b"v1", b'='), None);
        let items: Vec<&[u8]> = list_items(b" a, ,b ,,", b',').collect();
        assert_eq!(items, vec![&b"a"[..], b"b"]);
    }

    #[test]
    fn unix_seconds_accepts_digits_only() {
        assert_eq!(
            unix_seconds(b"1700000000"),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
        for bad in [
            &b""[..],
            b"-1",
            b"+1",
            b" 1",
            b"1.5",
            b"17e8",
            b"9999999999999",
        ] {
            assert_eq!(unix_seconds(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_algorithms_match_their_reference_outputs() {
        // RFC 4231 test case 2 (HMAC-SHA256 and -SHA512) and RFC 2202 test
        // case 2 (HMAC-SHA1): key "Jefe", data "what do ya want for nothing?".
        let data: &[&[u8]] = &[b"what do ya want ", b"for nothing?"];
        assert_eq!(
            hex::encode(Algorithm::HmacSha256.tag(b"Jefe", data)),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex::encode(Algorithm::HmacSha512.tag(b"Jefe", data)),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
             9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        );
        assert_eq!(
            hex::encode(Algorithm::HmacSha1.tag(b"Jefe", data)),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
    }
}
