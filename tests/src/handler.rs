//! One handler behaviour for every adapter's test server, chosen by the
//! event id's prefix, so both adapters face the same handler.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hookgate::VerifiedEvent;

use crate::DEADLINE;

/// Counts calls and acts on the event id:
///
/// | id prefix | first call | later calls |
/// |---|---|---|
/// | `wh_fail_once_` | 500 | 200 |
/// | `wh_panic_once_` | panics | 200 |
/// | `wh_slow_once_` | sleeps 10 x the deadline | 200 |
/// | `wh_busy_` | sleeps 3/4 of the deadline, 200 | same |
/// | anything else | 200 | 200 |
#[derive(Debug, Clone, Default)]
pub struct Handler {
    calls: Arc<AtomicUsize>,
    per_key: Arc<Mutex<HashMap<String, usize>>>,
}

impl Handler {
    /// How many times the handler was entered.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Runs the behaviour; returns the status to answer (with body `"ok"`
    /// or `"fail"`).
    pub async fn handle(&self, event: &VerifiedEvent) -> u16 {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let key = event
            .id()
            .map_or_else(|| format!("body:{}", event.body().len()), str::to_owned);
        let nth = {
            let mut per_key = self.per_key.lock().unwrap_or_else(|e| e.into_inner());
            let n = per_key.entry(key.clone()).or_default();
            *n += 1;
            *n
        };
        let first = nth == 1;
        if key.starts_with("wh_fail_once_") && first {
            return 500;
        }
        if key.starts_with("wh_panic_once_") && first {
            panic!("the conformance handler panics on purpose");
        }
        if key.starts_with("wh_slow_once_") && first {
            tokio::time::sleep(DEADLINE * 10).await;
        }
        if key.starts_with("wh_busy_") {
            tokio::time::sleep(DEADLINE * 3 / 4).await;
        }
        200
    }

    /// The body the test servers send with `status`.
    pub fn body_for(status: u16) -> &'static str {
        if status == 200 {
            "ok"
        } else {
            "fail"
        }
    }
}
