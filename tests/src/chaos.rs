//! Shared pieces of the `kill -9` tests (example receiver and `hookgate
//! serve`, both stores): where to kill, which deliveries are forged, and what
//! the receiver logged about attempts a kill interrupted.

use std::collections::{HashMap, HashSet};

use hookgate::scheme::Aexo;
use hookgate::testing;

/// `kills` points, as counts of acknowledged events, spread at random over
/// the middle of a `total`-event load (a new draw each run, printed). Set
/// `HOOKGATE_CHAOS_KILLS=1500,4500,7500` to repeat a run.
pub fn kill_points(kills: usize, total: usize) -> Vec<usize> {
    let mut points: Vec<usize> = match std::env::var("HOOKGATE_CHAOS_KILLS") {
        Ok(list) => list
            .split(',')
            .map(|p| p.trim().parse().expect("HOOKGATE_CHAOS_KILLS: numbers"))
            .collect(),
        Err(_) => {
            let (low, span) = (total / 10, total * 8 / 10);
            (0..kills)
                .map(|_| low + (hookgate::inbox::Token::new().get() as usize) % span)
                .collect()
        }
    };
    points.sort_unstable();
    let list: Vec<String> = points.iter().map(ToString::to_string).collect();
    println!(
        "kill -9 after these many acknowledged events (repeat with HOOKGATE_CHAOS_KILLS={})",
        list.join(",")
    );
    points
}

/// Whether event `n` of the load is first sent with a forged signature
/// (answered 401, then delivered genuinely): 1 in 50.
pub fn forged_first(n: usize) -> bool {
    n % 50 == 7
}

/// Whether, beside event `n`, a delivery that is only ever forged is sent
/// (id `wh_forged_{n}`; it must never be handled): 1 in 100.
pub fn forged_only(n: usize) -> bool {
    n % 100 == 51
}

/// An AEXO signature made with a secret the receiver does not have.
pub fn forged_headers(body: &[u8]) -> Vec<(&'static str, String)> {
    testing::sign(&Aexo, "a-secret-the-receiver-does-not-have", body)
}

/// The sender event ids whose attempt followed one that never finished, as
/// the workers logged them (text or JSON logs).
pub fn interrupted_ids(log: &str) -> HashSet<String> {
    log.lines()
        .filter(|l| l.contains("the previous attempt at this event never finished"))
        .filter_map(|l| {
            let rest = l.split("event_id").nth(1)?;
            let rest = rest.trim_start_matches(['=', '"', ':']);
            let id: String = rest
                .chars()
                .take_while(|c| !matches!(c, '"' | ' ' | ',' | '}'))
                .collect();
            (!id.is_empty()).then_some(id)
        })
        .collect()
}

/// Sends a forged delivery to `/webhooks/aexo` (again until it gets an
/// answer: the receiver may be restarting) and checks the answer is 401.
pub async fn forged(addr: std::net::SocketAddr, body: &[u8]) {
    let headers = forged_headers(body);
    loop {
        match crate::process::try_post(addr, &headers, body).await {
            Some(status) => {
                assert_eq!(status, 401, "a forged delivery was answered {status}");
                return;
            }
            None => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    }
}

/// The checks after a chaos run, from `handled` (sender event id -> times the
/// handler or upstream saw it) and the receiver's logs of every run: no
/// forged delivery was handled; an event was handled twice only where the
/// receiver logged an interrupted attempt for it; and no more of those than
/// `kills` x `workers` (a kill cuts at most one attempt per worker).
pub fn check_second_runs(
    handled: &HashMap<String, usize>,
    logs: &[String],
    kills: usize,
    workers: usize,
) {
    let forged: Vec<&String> = handled
        .keys()
        .filter(|id| id.starts_with("wh_forged_"))
        .collect();
    assert!(forged.is_empty(), "forged deliveries handled: {forged:?}");
    let interrupted: HashSet<String> = logs.iter().flat_map(|log| interrupted_ids(log)).collect();
    let twice: Vec<&String> = handled
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| id)
        .collect();
    println!(
        "handled twice after a kill: {}; attempts logged as interrupted: {}",
        twice.len(),
        interrupted.len()
    );
    let unexplained: Vec<&&String> = twice
        .iter()
        .filter(|id| !interrupted.contains(**id))
        .collect();
    assert!(
        unexplained.is_empty(),
        "handled twice without an interrupted attempt logged: {unexplained:?}"
    );
    assert!(twice.len() <= kills * workers, "{twice:?}");
}
