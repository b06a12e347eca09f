//! Sample events with realistic data, one per event type in the senders' docs.

use hookgate::testing;
use serde_json::json;
use time::OffsetDateTime;

use crate::Scheme;

/// The event types `send --event` knows, per scheme.
pub(crate) fn event_types(scheme: Scheme) -> &'static [&'static str] {
    match scheme {
        Scheme::Aexo => &[
            "dataset.refreshed",
            "export.completed",
            "key.created",
            "key.revoked",
            "record.flagged",
        ],
        Scheme::Axifi => &["compound.created"],
    }
}

fn data(event: &str, n: u64) -> serde_json::Value {
    match event {
        "dataset.refreshed" => json!({
            "dataset_name": "ny-verified-contractors",
            "records_updated": 847 + n % 100,
            "records_added": 203,
            "records_removed": 12,
            "refresh_cycle": "monthly",
        }),
        "export.completed" => json!({
            "export_id": format!("exp_{n:06}"),
            "dataset_name": "ny-verified-contractors",
            "format": "csv",
            "records": 120_394,
            "size_bytes": 18_874_368,
            "download_url": format!("https://exports.aexo.example/exp_{n:06}.csv.gz"),
            "expires_at": "2026-12-31T00:00:00Z",
        }),
        "key.created" => json!({
            "key_id": format!("key_{n:06}"),
            "label": "ci-runner",
            "scopes": ["datasets:read", "exports:write"],
            "created_by": "ops@example.com",
        }),
        "key.revoked" => json!({
            "key_id": format!("key_{n:06}"),
            "revoked_by": "security@example.com",
            "reason": "rotation",
        }),
        "record.flagged" => json!({
            "record_id": format!("rec_{n:08}"),
            "dataset_name": "ny-verified-contractors",
            "flag": "license_expired",
            "severity": "high",
            "notes": "License NY-4471 expired on 2026-04-30; 3 open permits reference it.",
            "fields": {"license_number": "NY-4471", "status": "expired", "permits_open": 3},
        }),
        "compound.created" => json!({
            "id": format!("compound-{n}"),
            "name": "Aspirin",
            "category": "analgesic",
            "efficacy": 0.92,
        }),
        _ => json!({}),
    }
}

/// A sample delivery body of `event` for `scheme`, stamped now; `n` makes
/// the event id (and data) distinct.
pub(crate) fn body(scheme: Scheme, event: &str, n: u64, run: u64) -> Vec<u8> {
    let now = OffsetDateTime::now_utc();
    match scheme {
        Scheme::Aexo => {
            testing::aexo_body_at(&format!("wh_{run:x}{n:08}"), event, data(event, n), now)
        }
        Scheme::Axifi => testing::axifi_body_at(event, data(event, n), now),
    }
}
