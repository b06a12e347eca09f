#![doc = include_str!("../README.md")]

mod dedupe;
pub mod inbox;
mod scripts;

pub use dedupe::{RedisStore, DEFAULT_KEY_PREFIX, DEFAULT_OP_TIMEOUT};
pub use inbox::{DurabilityCheck, RedisInbox, DEFAULT_ENQUEUE_CONNECTIONS};
