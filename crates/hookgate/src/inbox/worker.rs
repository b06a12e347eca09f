use std::future::Future;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::FutureExt;
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::{InboxStore, Leased};
use crate::events::WebhookEvent;
use crate::metrics::HandlerMode;
use crate::{ConfigError, Delivery, Verifier};

/// How a handler says an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandlerError {
    /// Try again on the retry schedule (dead once it is exhausted).
    Retry(String),
    /// Never try again: the event goes straight to the dead letters.
    Permanent(String),
}

/// Delays between attempts, with jitter.
///
/// The default is 0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: eight attempts
/// over about 28 hours, then dead.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
    jitter: f64,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        let m = 60;
        Self::new(
            [
                0,
                5,
                5 * m,
                30 * m,
                2 * 3600,
                5 * 3600,
                10 * 3600,
                10 * 3600,
            ]
            .map(Duration::from_secs)
            .to_vec(),
        )
    }
}

impl RetrySchedule {
    /// Attempt `n` (1-based) is made `delays[n - 1]` after attempt `n - 1`
    /// failed; the first entry is the first attempt's delay (usually 0).
    /// Jitter defaults to 10%.
    pub fn new(delays: Vec<Duration>) -> Self {
        Self {
            delays,
            jitter: 0.1,
        }
    }

    /// Spread each delay by up to `fraction` either way (0 to 1).
    #[must_use]
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = fraction.clamp(0.0, 1.0);
        self
    }

    /// Every delay multiplied by `factor` (tests: 0.001 makes hours seconds).
    #[must_use]
    pub fn scaled(mut self, factor: f64) -> Self {
        for d in &mut self.delays {
            *d = d.mul_f64(factor.max(0.0));
        }
        self
    }

    /// How many attempts are made before an event is dead.
    pub fn attempts(&self) -> u32 {
        u32::try_from(self.delays.len()).unwrap_or(u32::MAX)
    }

    /// The delay before the next attempt after `attempts` failed ones, or
    /// `None` when the event is dead.
    pub fn after(&self, attempts: u32) -> Option<Duration> {
        let base = *self.delays.get(usize::try_from(attempts).ok()?)?;
        // Uniform in [1 - jitter, 1 + jitter], from a fresh random token.
        let unit = (crate::store::random_u64() >> 11) as f64 / (1u64 << 53) as f64;
        Some(base.mul_f64(1.0 + self.jitter * (2.0 * unit - 1.0)))
    }
}

/// How the workers of one route run.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    workers: usize,
    lease: Duration,
    handler_timeout: Duration,
    schedule: RetrySchedule,
    poll: Duration,
    prune_done: bool,
    keep_done_bodies: bool,
}

impl WorkerConfig {
    /// `workers` workers; each attempt may take `handler_timeout`, and an
    /// event is leased for `lease`, which must be longer (a worker that is
    /// still running must not lose its event to another). Refused otherwise.
    pub fn new(
        workers: usize,
        lease: Duration,
        handler_timeout: Duration,
    ) -> Result<Self, ConfigError> {
        if lease <= handler_timeout {
            return Err(ConfigError::LeaseNotAboveHandlerTimeout {
                lease,
                handler_timeout,
            });
        }
        if workers == 0 {
            return Err(ConfigError::NoWorkers);
        }
        Ok(Self {
            workers,
            lease,
            handler_timeout,
            schedule: RetrySchedule::default(),
            poll: Duration::from_millis(100),
            prune_done: true,
            keep_done_bodies: false,
        })
    }

    /// The retry schedule.
    #[must_use]
    pub fn schedule(mut self, schedule: RetrySchedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// Whether the workers delete done markers once they are older than the
    /// verifier's freshness window plus its clock allowance (default on):
    /// until then a late retry of a processed event is still a duplicate.
    #[must_use]
    pub fn prune_done(mut self, prune: bool) -> Self {
        self.prune_done = prune;
        self
    }

    /// Whether a handled event keeps its body in the store until its marker
    /// is pruned (default off: a done event shrinks to a marker at once).
    /// On, `replay ID` and `replay --since T` can run handled events again,
    /// for instance after a bug in the handler is fixed, at the cost of
    /// keeping every body for the freshness window (AEXO: 3 hours, AXIFI:
    /// 24 hours) after it is handled.
    #[must_use]
    pub fn keep_done_bodies(mut self, keep: bool) -> Self {
        self.keep_done_bodies = keep;
        self
    }

    /// How long an idle worker waits before looking again (default 100 ms).
    #[must_use]
    pub fn poll(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }
}

/// Running workers; [`shutdown`](Self::shutdown) stops them after their
/// current attempt.
#[derive(Debug)]
pub struct Workers {
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
}

struct Runner<St, H, E> {
    store: Arc<St>,
    verifier: Verifier,
    config: WorkerConfig,
    handler: H,
    _event: PhantomData<fn() -> E>,
}

impl Workers {
    /// Starts `config.workers` tasks that lease events from `store` and run
    /// `handler` with the same typed event as in synchronous mode. Needs a
    /// tokio runtime.
    pub fn spawn<St, H, F, E>(
        store: Arc<St>,
        verifier: Verifier,
        config: WorkerConfig,
        handler: H,
    ) -> Self
    where
        St: InboxStore,
        H: Fn(Delivery<E>) -> F + Send + Sync + 'static,
        F: Future<Output = Result<(), HandlerError>> + Send,
        E: WebhookEvent + Send + 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let runner = Arc::new(Runner {
            store,
            verifier,
            config,
            handler,
            _event: PhantomData,
        });
        let tasks = (0..runner.config.workers)
            .map(|n| {
                let (runner, stop) = (runner.clone(), stop.clone());
                tokio::spawn(async move { runner.run(n, stop).await })
            })
            .collect();
        Self { stop, tasks }
    }

    /// Stops leasing and waits for the running attempts to finish.
    pub async fn shutdown(self) {
        self.stop.store(true, Ordering::SeqCst);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

impl<St, H, F, E> Runner<St, H, E>
where
    St: InboxStore,
    H: Fn(Delivery<E>) -> F + Send + Sync + 'static,
    F: Future<Output = Result<(), HandlerError>> + Send,
    E: WebhookEvent + Send + 'static,
{
    async fn run(&self, worker: usize, stop: Arc<AtomicBool>) {
        let mut last_gauges = std::time::Instant::now() - Duration::from_secs(60);
        let mut last_prune = std::time::Instant::now() - Duration::from_secs(3600);
        // Markers must outlive every delivery the verifier would still accept.
        let keep = self.verifier.settings().freshness + self.verifier.settings().max_future_skew;
        let prune_every = (keep / 2).clamp(Duration::from_millis(10), Duration::from_secs(60));
        while !stop.load(Ordering::SeqCst) {
            if worker == 0 && self.config.prune_done && last_prune.elapsed() >= prune_every {
                last_prune = std::time::Instant::now();
                match self.store.prune_done(SystemTime::now() - keep).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(
                        pruned = n,
                        "done markers older than the freshness window removed"
                    ),
                    Err(error) => tracing::warn!(%error, "could not prune done markers"),
                }
            }
            // Worker 0 keeps the depth gauges fresh (every 5 s).
            if worker == 0 && last_gauges.elapsed() >= Duration::from_secs(5) {
                last_gauges = std::time::Instant::now();
                if let Ok(stats) = self.store.stats(SystemTime::now()).await {
                    crate::metrics::inbox_depth(&stats);
                }
            }
            match self
                .store
                .lease(1, self.config.lease, SystemTime::now())
                .await
            {
                Ok(leased) if leased.is_empty() => tokio::time::sleep(self.config.poll).await,
                Ok(leased) => {
                    for event in leased {
                        let span = tracing::info_span!(
                            "inbox attempt",
                            worker,
                            id = event.id,
                            attempt = event.attempt
                        );
                        self.attempt(event).instrument(span).await;
                    }
                }
                Err(error) => {
                    tracing::error!(%error, "inbox store unavailable; workers wait");
                    tokio::time::sleep(self.config.poll).await;
                }
            }
        }
    }

    async fn attempt(&self, event: Leased) {
        let expected = self.verifier.scheme().name();
        let read = if event.scheme != expected {
            // Stored by another route's inbox: this verifier would read the
            // envelope in the wrong shape, and the handler expects its own
            // sender's events.
            Err(format!(
                "stored for scheme {:?}, but these workers read {expected:?} events: \
                 run this store's workers with that scheme's verifier",
                event.scheme
            ))
        } else {
            self.verifier
                .reopen(&event.headers, event.body.clone(), event.tenant.as_deref())
                .and_then(Delivery::<E>::from_verified)
                .map(|delivery| delivery.with_stored_headers(event.headers.clone()))
                .map_err(|rejection| format!("stored event unreadable: {rejection}"))
        };
        let outcome = match read {
            Err(why) => Err(HandlerError::Permanent(why)),
            Ok(delivery) => {
                if event.interrupted {
                    crate::metrics::inbox_attempt("interrupted");
                    tracing::warn!(
                        event_id = delivery.id().unwrap_or_default(),
                        "the previous attempt at this event never finished (its worker stopped \
                         or overran its lease): the handler may see this event a second time"
                    );
                }
                let started = std::time::Instant::now();
                let run = AssertUnwindSafe((self.handler)(delivery)).catch_unwind();
                let ran = tokio::time::timeout(self.config.handler_timeout, run).await;
                self.verifier
                    .metrics()
                    .handler_duration(HandlerMode::Inbox, started.elapsed());
                match ran {
                    Ok(Ok(result)) => result,
                    Ok(Err(_panic)) => Err(HandlerError::Retry("handler panicked".into())),
                    Err(_elapsed) => Err(HandlerError::Retry(format!(
                        "handler ran past its timeout of {:?}",
                        self.config.handler_timeout
                    ))),
                }
            }
        };
        let now = SystemTime::now();
        let kept = match outcome {
            Ok(()) => {
                crate::metrics::inbox_attempt("done");
                tracing::info!("inbox event handled");
                self.store
                    .complete(event.id, event.token, now, self.config.keep_done_bodies)
                    .await
            }
            Err(HandlerError::Retry(why)) => match self.config.schedule.after(event.attempt) {
                Some(delay) => {
                    crate::metrics::inbox_attempt("retry");
                    tracing::warn!(%why, retry_in = ?delay, "inbox attempt failed; will retry");
                    self.store
                        .reschedule(event.id, event.token, now + delay, &why)
                        .await
                }
                None => {
                    crate::metrics::inbox_attempt("dead");
                    tracing::error!(%why, "inbox event failed its last attempt: dead");
                    self.store.kill(event.id, event.token, &why, now).await
                }
            },
            Err(HandlerError::Permanent(why)) => {
                crate::metrics::inbox_attempt("dead");
                tracing::error!(%why, "inbox event failed permanently: dead");
                self.store.kill(event.id, event.token, &why, now).await
            }
        };
        match kept {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                "lease expired before the attempt ended; another worker has the event"
            ),
            Err(error) => {
                tracing::error!(%error, "could not record the attempt; the lease will expire and it runs again")
            }
        }
    }
}
