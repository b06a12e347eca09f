//! `hookgate send`: post signed deliveries to a receiver, as a sender would.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::ValueEnum;
use tokio::sync::Semaphore;

use crate::scheme_args::SchemeArgs;
use crate::secret::SecretArgs;
use crate::{read_input, samples};

/// AEXO's retry delays after a failed attempt: 5 min, 30 min, 2 h.
const AEXO_RETRIES: [Duration; 3] = [
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 60 * 60),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RetrySchedule {
    /// One attempt.
    None,
    /// AEXO's: retries 5 min, 30 min and 2 h after each failure, then gives up.
    Aexo,
}

#[derive(Debug, clap::Args)]
pub(crate) struct SendArgs {
    /// The receiver's URL, e.g. http://127.0.0.1:3000/webhooks/aexo.
    #[arg(long)]
    url: String,
    #[command(flatten)]
    scheme: SchemeArgs,
    /// Which sample event to send (default: the scheme's first); see --list-events.
    #[arg(long, conflicts_with = "body")]
    event: Option<String>,
    /// Send this file's bytes as the body instead of a sample event.
    #[arg(long, value_name = "FILE")]
    body: Option<PathBuf>,
    /// How many distinct events to send.
    #[arg(long, default_value_t = 1)]
    count: u64,
    /// How many deliveries may be in flight at once.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// After an event is acknowledged, send the same delivery N more times.
    #[arg(long, value_name = "N", default_value_t = 0)]
    duplicate: u32,
    /// What to do when a delivery fails (non-2xx or no answer).
    #[arg(long, value_enum, default_value = "none")]
    retry_schedule: RetrySchedule,
    /// Multiply the retry delays by this factor (0.001 makes 2 h into 7.2 s).
    #[arg(long, default_value_t = 1.0, value_parser = parse_time_scale)]
    time_scale: f64,
    /// Seconds to wait for an answer (senders use 30).
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Trust this PEM certificate too (a receiver with a self-signed certificate).
    #[arg(long, value_name = "PEM")]
    ca_cert: Option<PathBuf>,
    /// Print the sample event types of the scheme and exit.
    #[arg(long)]
    list_events: bool,
    #[command(flatten)]
    secret: SecretArgs,
}

/// `--time-scale`: a finite factor, at least 0, that keeps the longest retry
/// delay a representable duration (`inf`, `NaN` or `1e300` would panic later).
fn parse_time_scale(text: &str) -> Result<f64, String> {
    let scale: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if !scale.is_finite() || scale < 0.0 {
        return Err(format!("{text:?}: want a finite factor of 0 or more"));
    }
    let longest = AEXO_RETRIES.iter().max().copied().unwrap_or_default();
    Duration::try_from_secs_f64(longest.as_secs_f64() * scale)
        .map_err(|_| format!("{text:?}: the {longest:?} retry delay times this is too long"))?;
    Ok(scale)
}

#[derive(Debug, Default)]
struct Tally {
    acknowledged: AtomicUsize,
    duplicates: AtomicUsize,
    failed: AtomicUsize,
}

pub(crate) fn run(args: &SendArgs) -> Result<bool, String> {
    let chosen = args.scheme.resolve()?;
    let kind = chosen.kind;
    if args.list_events {
        for event in samples::event_types(kind) {
            println!("{event}");
        }
        return Ok(true);
    }
    let secret = hookgate::Secret::new(args.secret.read()?).map_err(|e| e.to_string())?;
    // A secret not in the scheme's form is refused before anything is sent
    // (for ed25519 schemes the secret is the signing key's seed).
    chosen
        .scheme
        .sign(secret.expose(), &hookgate::scheme::SignInput::new(b""))
        .map_err(|e| e.to_string())?;
    let event = match &args.event {
        Some(e) if !samples::event_types(kind).contains(&e.as_str()) => {
            return Err(format!(
                "unknown event {e:?} for {}; known: {}",
                chosen.scheme.name(),
                samples::event_types(kind).join(", ")
            ))
        }
        Some(e) => e.clone(),
        None => samples::event_types(kind)[0].to_owned(),
    };
    let fixed_body = match &args.body {
        Some(path) => Some(read_input(Some(path))?),
        None => None,
    };
    let mut client = reqwest::Client::builder().timeout(Duration::from_secs(args.timeout));
    if let Some(path) = &args.ca_cert {
        let pem =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let cert =
            reqwest::Certificate::from_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))?;
        client = client.add_root_certificate(cert);
    }
    let client = client.build().map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let tally = Arc::new(Tally::default());
    // Distinct event ids across runs: the time of this run, and the process.
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
        ^ u64::from(std::process::id());
    runtime.block_on(async {
        let permits = Arc::new(Semaphore::new(args.concurrency.max(1)));
        let mut tasks = Vec::new();
        for n in 0..args.count {
            let body = fixed_body
                .clone()
                .unwrap_or_else(|| samples::body(&chosen, &event, n, run_id));
            let id = samples::delivery_id(n, run_id);
            let mut input = hookgate::scheme::SignInput::new(&body);
            input.event = Some(&event);
            input.url = Some(&args.url);
            if fixed_body.is_none() {
                input.id = Some(&id);
            }
            // The secret's form was checked above, so signing cannot fail.
            let headers = chosen
                .scheme
                .sign(secret.expose(), &input)
                .unwrap_or_default();
            let delivery = Delivery {
                client: client.clone(),
                url: args.url.clone(),
                headers,
                body: body.into(),
                label: label(&fixed_body, n),
            };
            let (permits, tally) = (permits.clone(), tally.clone());
            let (schedule, scale, duplicate) =
                (args.retry_schedule, args.time_scale, args.duplicate);
            tasks.push(tokio::spawn(async move {
                let Ok(_permit) = permits.acquire_owned().await else {
                    return;
                };
                delivery.deliver(schedule, scale, duplicate, &tally).await;
            }));
        }
        for task in tasks {
            if let Err(e) = task.await {
                // A delivery whose task died was not seen through: a failure.
                eprintln!("hookgate: a delivery task failed: {e}");
                tally.failed.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    let (ok, dup, failed) = (
        tally.acknowledged.load(Ordering::SeqCst),
        tally.duplicates.load(Ordering::SeqCst),
        tally.failed.load(Ordering::SeqCst),
    );
    println!(
        "sent {} events: {ok} acknowledged, {failed} not acknowledged; {dup} duplicate answers",
        args.count
    );
    Ok(failed == 0)
}

fn label(fixed: &Option<Vec<u8>>, n: u64) -> String {
    match fixed {
        Some(_) => format!("body#{n}"),
        None => format!("event#{n}"),
    }
}

struct Delivery {
    client: reqwest::Client,
    url: String,
    headers: Vec<(&'static str, String)>,
    body: bytes::Bytes,
    label: String,
}

impl Delivery {
    /// Posts once; prints one line; returns the status (None: no answer).
    async fn post(&self, attempt: usize) -> Option<u16> {
        let mut req = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .body(self.body.clone());
        for (name, value) in &self.headers {
            req = req.header(*name, value);
        }
        let started = Instant::now();
        match req.send().await {
            Ok(res) => {
                let status = res.status().as_u16();
                let marker = res
                    .headers()
                    .get("hookgate-dedupe")
                    .and_then(|v| v.to_str().ok())
                    .map(|v| format!(" [{v}]"))
                    .unwrap_or_default();
                let text = res.text().await.unwrap_or_default();
                let text: String = text.chars().take(200).collect();
                println!(
                    "{} attempt {attempt}: {status} in {} ms{marker}: {text}",
                    self.label,
                    started.elapsed().as_millis()
                );
                Some(status)
            }
            Err(e) => {
                println!(
                    "{} attempt {attempt}: no answer after {} ms: {e}",
                    self.label,
                    started.elapsed().as_millis()
                );
                None
            }
        }
    }

    async fn deliver(&self, schedule: RetrySchedule, scale: f64, duplicate: u32, tally: &Tally) {
        let delays: &[Duration] = match schedule {
            RetrySchedule::None => &[],
            RetrySchedule::Aexo => &AEXO_RETRIES,
        };
        let mut attempt = 1;
        let mut acknowledged = is_2xx(self.post(attempt).await);
        for delay in delays {
            if acknowledged {
                break;
            }
            tokio::time::sleep(delay.mul_f64(scale)).await;
            attempt += 1;
            acknowledged = is_2xx(self.post(attempt).await);
        }
        if !acknowledged {
            tally.failed.fetch_add(1, Ordering::SeqCst);
            return;
        }
        tally.acknowledged.fetch_add(1, Ordering::SeqCst);
        for _ in 0..duplicate {
            attempt += 1;
            if is_2xx(self.post(attempt).await) {
                tally.duplicates.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

fn is_2xx(status: Option<u16>) -> bool {
    status.is_some_and(|s| (200..300).contains(&s))
}
