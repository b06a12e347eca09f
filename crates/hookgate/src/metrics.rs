//! Metrics, through the `metrics` facade: the application installs an
//! exporter (Prometheus, StatsD, ...); without one they cost next to nothing.
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `hookgate_deliveries_total` | counter | `scheme`, `outcome` (`verified`, `rejected`), `reason` (rejections) |
//! | `hookgate_report_only_total` | counter | `scheme`, `verdict` (`verified`, or the reason it would have been rejected) |
//! | `hookgate_dedupe_total` | counter | `result` (`new`, `duplicate`, `in_flight`, `unavailable`) |
//! | `hookgate_dedupe_commit_retries_total` | counter | `result` (`committed`, `failed`: one background retry of a commit that failed after the handler succeeded; `gave_up`: all retries failed) |
//! | `hookgate_dedupe_evicted_within_retention_total` | counter | none; the memory store's ids evicted for room while still inside their retention |
//! | `hookgate_handler_duration_seconds` | histogram | `scheme`, `mode` (`sync`, `inbox`) |
//! | `hookgate_inbox_stored_total` | counter | `result` (`stored`, `duplicate`, `unavailable`) |
//! | `hookgate_inbox_attempts_total` | counter | `result` (`done`, `retry`, `dead`; `interrupted`: counted when the next attempt finds that the last one never finished) |
//! | `hookgate_inbox_depth` | gauge | `state` (`pending`, `leased`, `dead`) |
//! | `hookgate_inbox_oldest_pending_seconds` | gauge | |

use std::time::Duration;

use metrics::{Key, Label, Level, Metadata};

use crate::Rejection;

/// What the `counter!` and `histogram!` macros record with: this module's
/// path as target, level `INFO`.
static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// The metrics a route records for every delivery, their keys labelled with
/// its scheme and built once, with its [`Verifier`](crate::Verifier).
///
/// A macro call whose label value is not a literal builds its key on every
/// call (a `Vec` of labels, and a hash of the whole key) and drops it again,
/// whether or not a recorder is installed: about 500 instructions for each
/// of the two metrics of every delivery. With the keys made once, recording
/// costs the recorder's own work only (nothing, without one).
#[derive(Debug)]
pub(crate) struct SchemeMetrics {
    scheme: &'static str,
    verified: Key,
    handler_sync: Key,
    handler_inbox: Key,
}

/// Where a handler ran, the `mode` label of `hookgate_handler_duration_seconds`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum HandlerMode {
    /// In the request, before the answer.
    Sync,
    /// From the inbox, after the answer.
    Inbox,
}

impl SchemeMetrics {
    pub(crate) fn new(scheme: &'static str) -> Self {
        let key = |name: &'static str, label: &'static str, value: &'static str| {
            Key::from_parts(
                name,
                vec![
                    Label::from_static_parts("scheme", scheme),
                    Label::from_static_parts(label, value),
                ],
            )
        };
        Self {
            scheme,
            verified: key("hookgate_deliveries_total", "outcome", "verified"),
            handler_sync: key("hookgate_handler_duration_seconds", "mode", "sync"),
            handler_inbox: key("hookgate_handler_duration_seconds", "mode", "inbox"),
        }
    }

    /// The scheme's name, for logs.
    pub(crate) fn scheme(&self) -> &'static str {
        self.scheme
    }

    /// Counts a verified delivery.
    pub(crate) fn verified(&self) {
        metrics::with_recorder(|r| r.register_counter(&self.verified, &METADATA)).increment(1);
    }

    /// Records how long a handler took.
    pub(crate) fn handler_duration(&self, mode: HandlerMode, took: Duration) {
        let key = match mode {
            HandlerMode::Sync => &self.handler_sync,
            HandlerMode::Inbox => &self.handler_inbox,
        };
        metrics::with_recorder(|r| r.register_histogram(key, &METADATA)).record(took.as_secs_f64());
    }
}

/// Counts a rejection ([`Intake::reject`](crate::pipeline::Intake::reject) is its one caller).
pub(crate) fn rejected(scheme: &'static str, rejection: &Rejection) {
    metrics::counter!(
        "hookgate_deliveries_total",
        "scheme" => scheme,
        "outcome" => "rejected",
        "reason" => rejection.reason()
    )
    .increment(1);
}

pub(crate) fn report_only(scheme: &'static str, verdict: &'static str) {
    metrics::counter!("hookgate_report_only_total", "scheme" => scheme, "verdict" => verdict)
        .increment(1);
}

/// Counts `name` with one label whose value is one of a few literals: each
/// literal gets a key made at compile time (see [`SchemeMetrics`]); any
/// other value is counted all the same, with a key built for the call.
macro_rules! counter_by {
    ($name:literal, $label:literal, $value:expr, [$($literal:literal),+ $(,)?]) => {
        match $value {
            $($literal => metrics::counter!($name, $label => $literal).increment(1),)+
            other => metrics::counter!($name, $label => other).increment(1),
        }
    };
}

pub(crate) fn dedupe(result: &'static str) {
    counter_by!(
        "hookgate_dedupe_total",
        "result",
        result,
        ["new", "duplicate", "in_flight", "unavailable"]
    );
}

pub(crate) fn dedupe_commit_retry(result: &'static str) {
    metrics::counter!("hookgate_dedupe_commit_retries_total", "result" => result).increment(1);
}

pub(crate) fn dedupe_evicted_within_retention() {
    metrics::counter!("hookgate_dedupe_evicted_within_retention_total").increment(1);
}

pub(crate) fn inbox_stored(result: &'static str) {
    counter_by!(
        "hookgate_inbox_stored_total",
        "result",
        result,
        ["stored", "duplicate", "unavailable", "refused"]
    );
}

pub(crate) fn inbox_attempt(result: &'static str) {
    counter_by!(
        "hookgate_inbox_attempts_total",
        "result",
        result,
        ["done", "retry", "dead", "interrupted"]
    );
}

pub(crate) fn inbox_depth(stats: &crate::inbox::Stats) {
    metrics::gauge!("hookgate_inbox_depth", "state" => "pending").set(stats.pending as f64);
    metrics::gauge!("hookgate_inbox_depth", "state" => "leased").set(stats.leased as f64);
    metrics::gauge!("hookgate_inbox_depth", "state" => "dead").set(stats.dead as f64);
    metrics::gauge!("hookgate_inbox_oldest_pending_seconds")
        .set(stats.oldest_pending.map_or(0.0, |d| d.as_secs_f64()));
}
