//! The acknowledgement benchmark shared by the inbox stores
//! (`cargo bench -p hookgate-sqlite --bench ack`,
//! `cargo bench -p hookgate-redis --bench ack`): the cost of one fsync on
//! the disk as the baseline, then the time from `enqueue` to its durable
//! answer, closed loop (N senders, each sending its next event when the
//! last is answered) and open loop (events arriving at a fixed rate
//! whatever the answers do, as from many independent senders).

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use hookgate::inbox::{InboxStore, NewEvent};

/// p50 and p99 of a set of timings, and the events per second achieved.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Events acknowledged per second over the run.
    pub per_second: f64,
}

fn figures(mut times: Vec<Duration>, seconds: f64) -> Figures {
    times.sort_unstable();
    let at = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize];
    Figures {
        p50: at(0.5),
        p99: at(0.99),
        per_second: times.len() as f64 / seconds,
    }
}

/// Writing 2 KB to a file in `dir` and `fdatasync`ing it, 300 times.
pub fn fsync_cost(dir: &Path) -> Figures {
    let path = dir.join(format!("hookgate-fsync-probe-{}", std::process::id()));
    let mut file = std::fs::File::create(&path).expect("probe file");
    let block = vec![7u8; 2048];
    let started = Instant::now();
    let times = (0..300)
        .map(|_| {
            let t = Instant::now();
            file.write_all(&block).expect("write");
            file.sync_data().expect("fsync");
            t.elapsed()
        })
        .collect();
    let f = figures(times, started.elapsed().as_secs_f64());
    let _ = std::fs::remove_file(path);
    f
}

/// A 2 KB AEXO body.
pub fn body() -> Bytes {
    Bytes::from(hookgate::testing::aexo_body(
        "wh_bench",
        "dataset.refreshed",
        serde_json::json!({ "note": "x".repeat(1800) }),
    ))
}

/// The headers a delivery of `body` arrives with.
fn headers(body: &Bytes) -> hookgate::inbox::StoredHeaders {
    let mut headers = hookgate::testing::sign(&hookgate::scheme::Aexo, "bench-secret", body);
    headers.push(("content-type", "application/json".into()));
    headers.push(("user-agent", "AEXO-Webhooks/1.3".into()));
    hookgate::inbox::StoredHeaders::capture(&headers)
}

/// A new event (ids unique within the process, so that no run's events are
/// duplicates of an earlier run's in the same store).
fn event(body: &Bytes) -> NewEvent {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    NewEvent {
        key: format!("aexo:wh_bench_{n}"),
        scheme: "aexo".into(),
        event_id: Some(format!("wh_bench_{n}")),
        event_type: "dataset.refreshed".into(),
        received_at: SystemTime::now(),
        body: body.clone(),
        headers: headers(body),
        tenant: None,
    }
}

/// `senders` senders share `total` events, each waiting for its answer
/// before sending the next.
pub async fn closed_loop<S: InboxStore>(store: Arc<S>, senders: usize, total: usize) -> Figures {
    let body = body();
    let per = total / senders;
    let started = Instant::now();
    let tasks: Vec<_> = (0..senders)
        .map(|_| {
            let (store, body) = (store.clone(), body.clone());
            tokio::spawn(async move {
                let mut times = Vec::with_capacity(per);
                for _ in 0..per {
                    let event = event(&body);
                    let t = Instant::now();
                    store.enqueue(event).await.expect("enqueue");
                    times.push(t.elapsed());
                }
                times
            })
        })
        .collect();
    let mut all = Vec::with_capacity(total);
    for t in tasks {
        all.extend(t.await.expect("sender"));
    }
    figures(all, started.elapsed().as_secs_f64())
}

/// Events arrive at `rate` per second for `seconds`, dispatched on each
/// 1 ms tick in a burst (harder on the store than evenly spaced arrivals);
/// each one's time counts from its dispatch.
pub async fn open_loop<S: InboxStore>(store: Arc<S>, rate: usize, seconds: usize) -> Figures {
    let body = body();
    let total = rate * seconds;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    while tasks.len() < total {
        tick.tick().await;
        let due = ((started.elapsed().as_secs_f64() * rate as f64) as usize).min(total);
        while tasks.len() < due {
            let (store, event) = (store.clone(), event(&body));
            tasks.push(tokio::spawn(async move {
                let t = Instant::now();
                store.enqueue(event).await.expect("enqueue");
                t.elapsed()
            }));
        }
    }
    let mut all = Vec::with_capacity(total);
    for t in tasks {
        all.push(t.await.expect("sender"));
    }
    figures(all, started.elapsed().as_secs_f64())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Prints the baseline line and the table's header.
pub fn print_baseline(fsync: &Figures) {
    println!(
        "disk: write 2 KB + fsync  p50 {:.3} ms  p99 {:.3} ms",
        ms(fsync.p50),
        ms(fsync.p99)
    );
    println!(
        "{:<28} {:>8} {:>8} {:>24} {:>9}",
        "run", "p50 ms", "p99 ms", "p99/(fsync p50 + 1 ms)", "events/s"
    );
}

/// Prints one run's row.
pub fn print_row(run: &str, f: &Figures, fsync: &Figures) {
    println!(
        "{run:<28} {:>8.3} {:>8.3} {:>24.2} {:>9.0}",
        ms(f.p50),
        ms(f.p99),
        ms(f.p99) / (ms(fsync.p50) + 1.0),
        f.per_second
    );
}
