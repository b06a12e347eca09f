//! Sample events with realistic data, one per event type in the senders' docs.

use hookgate::testing;
use serde_json::json;
use time::OffsetDateTime;

use crate::scheme_args::Chosen;
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
        Scheme::StandardWebhooks | Scheme::Svix => &["invoice.paid", "user.created"],
        Scheme::Github => &["push", "issues"],
        Scheme::Stripe => &["payment_intent.succeeded", "customer.created"],
        Scheme::Slack => &["event_callback"],
        Scheme::Shopify => &["orders/create", "products/update"],
        Scheme::Paddle => &["transaction.completed", "subscription.created"],
        Scheme::Linear => &["Issue", "Comment"],
        Scheme::Zoom => &["meeting.started", "meeting.ended"],
        Scheme::Discord => &["2"],
        Scheme::Square => &["payment.updated"],
        Scheme::Twilio => &["sms.received"],
        Scheme::Hmac => &["sample.created"],
    }
}

/// The id of delivery `n` of run `run`: distinct across runs and deliveries.
pub(crate) fn delivery_id(n: u64, run: u64) -> String {
    format!("wh_{run:x}{n:08}")
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
        "invoice.paid" => {
            json!({"invoice_id": format!("in_{n:06}"), "amount": 4200, "currency": "usd"})
        }
        "user.created" => json!({"user_id": format!("u_{n:06}"), "email": "new@example.com"}),
        "push" => json!({
            "ref": "refs/heads/main",
            "after": format!("{:040x}", n),
            "repository": {"full_name": "octo-org/hello-world"},
            "pusher": {"name": "octocat"},
        }),
        "issues" => json!({"action": "opened", "issue": {"number": n, "title": "Bug"}}),
        "payment_intent.succeeded" => json!({"object": {
            "id": format!("pi_{n:06}"), "object": "payment_intent", "amount": 2000, "currency": "usd",
        }}),
        "customer.created" => {
            json!({"object": {"id": format!("cus_{n:06}"), "object": "customer"}})
        }
        "event_callback" => {
            json!({"type": "app_mention", "user": "U061F7AUR", "text": "<@U0LAN0Z89> hi", "channel": "C0LAN2Q65"})
        }
        "orders/create" => {
            json!({"id": 820_982_911_946_154_508u64 + n, "total_price": "199.00", "currency": "USD"})
        }
        "products/update" => json!({"id": 632_910_392 + n, "title": "IPod Nano - 8GB"}),
        "transaction.completed" => json!({"id": format!("txn_{n:06}"), "status": "completed"}),
        "subscription.created" => json!({"id": format!("sub_{n:06}"), "status": "active"}),
        "Issue" => json!({"id": format!("iss-{n}"), "title": "Crash on start", "priority": 1}),
        "Comment" => json!({"id": format!("com-{n}"), "body": "Looks good"}),
        "meeting.started" => {
            json!({"account_id": "AAAAAABBBB", "object": {"id": 1234567890 + n, "topic": "Standup"}})
        }
        "meeting.ended" => {
            json!({"account_id": "AAAAAABBBB", "object": {"id": 1234567890 + n, "topic": "Standup"}})
        }
        "2" => json!({"id": "1234567890", "name": "ping", "type": 1}),
        "payment.updated" => {
            json!({"type": "payment", "id": format!("pay_{n:06}"), "object": {"payment": {"status": "COMPLETED"}}})
        }
        "compound.created" => json!({
            "id": format!("compound-{n}"),
            "name": "Aspirin",
            "category": "analgesic",
            "efficacy": 0.92,
        }),
        "sample.created" => json!({"sample_id": format!("smp_{n:06}"), "label": "a sample event"}),
        _ => json!({}),
    }
}

/// A sample delivery body of `event` for `scheme`, stamped now; `n` makes
/// the event id (and data) distinct.
pub(crate) fn body(scheme: &Chosen, event: &str, n: u64, run: u64) -> Vec<u8> {
    let now = OffsetDateTime::now_utc();
    match scheme.kind {
        Scheme::Aexo => testing::aexo_body_at(&delivery_id(n, run), event, data(event, n), now),
        Scheme::Axifi => testing::axifi_body_at(event, data(event, n), now),
        // Twilio posts forms.
        Scheme::Twilio => format!(
            "MessageSid=SM{run:x}{n:08}&From=%2B14155550100&To=%2B14155550199&Body=Hello+{n}"
        )
        .into_bytes(),
        _ => testing::sample_body(
            &*scheme.scheme,
            &delivery_id(n, run),
            event,
            data(event, n),
            now,
        ),
    }
}
