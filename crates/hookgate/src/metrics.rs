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

use crate::Rejection;

pub(crate) fn verified(scheme: &'static str) {
    metrics::counter!("hookgate_deliveries_total", "scheme" => scheme, "outcome" => "verified")
        .increment(1);
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

pub(crate) fn dedupe(result: &'static str) {
    metrics::counter!("hookgate_dedupe_total", "result" => result).increment(1);
}

pub(crate) fn dedupe_commit_retry(result: &'static str) {
    metrics::counter!("hookgate_dedupe_commit_retries_total", "result" => result).increment(1);
}

pub(crate) fn dedupe_evicted_within_retention() {
    metrics::counter!("hookgate_dedupe_evicted_within_retention_total").increment(1);
}

/// Records how long a handler took.
pub(crate) fn handler_duration(scheme: &'static str, mode: &'static str, took: Duration) {
    metrics::histogram!("hookgate_handler_duration_seconds", "scheme" => scheme, "mode" => mode)
        .record(took.as_secs_f64());
}

pub(crate) fn inbox_stored(result: &'static str) {
    metrics::counter!("hookgate_inbox_stored_total", "result" => result).increment(1);
}

pub(crate) fn inbox_attempt(result: &'static str) {
    metrics::counter!("hookgate_inbox_attempts_total", "result" => result).increment(1);
}

pub(crate) fn inbox_depth(stats: &crate::inbox::Stats) {
    metrics::gauge!("hookgate_inbox_depth", "state" => "pending").set(stats.pending as f64);
    metrics::gauge!("hookgate_inbox_depth", "state" => "leased").set(stats.leased as f64);
    metrics::gauge!("hookgate_inbox_depth", "state" => "dead").set(stats.dead as f64);
    metrics::gauge!("hookgate_inbox_oldest_pending_seconds")
        .set(stats.oldest_pending.map_or(0.0, |d| d.as_secs_f64()));
}
