#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod answer;
mod clock;
pub mod dedupe;
mod delivery;
mod envelope;
mod error;
pub mod events;
pub mod handshake;
mod headers;
pub mod https;
pub mod inbox;
pub mod metrics;
pub mod pipeline;
pub mod scheme;
mod secret;
pub mod store;
pub mod tenant;
pub mod testing;
mod verifier;
pub mod verify;

pub use answer::{Answer, DEDUPE_HEADER};
pub use clock::{Clock, ManualClock, SystemClock};
pub use delivery::Delivery;
pub use envelope::VerifiedEvent;
pub use error::{error_body, ConfigError, Rejection, DEADLINE_RETRY_AFTER};
pub use headers::{connection_names, is_hop_by_hop, HeaderValue, Headers};
pub use pipeline::ReportOnly;
pub use secret::{Secret, Secrets};
pub use verifier::{
    Settings, SignatureMatch, Verifier, DEFAULT_HANDLER_DEADLINE, DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_FUTURE_SKEW, DEFAULT_READ_TIMEOUT, MAX_HANDLER_DEADLINE,
};
pub use verify::WebhookLayer;
