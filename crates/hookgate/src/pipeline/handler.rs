use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use std::sync::Arc;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use crate::metrics::{HandlerMode, SchemeMetrics};
use crate::{Answer, Rejection};

pin_project! {
    /// A handler's future under the route's deadline, a panic caught; see
    /// [`Intake::run`](super::Intake::run). Resolves to the handler's output,
    /// or to the answer that replaces it: 503 with `Retry-After` at the
    /// deadline (the handler's future is dropped), 500 on a panic.
    ///
    /// The deadline's timer is made the first time the handler is not
    /// done: a handler that answers in its first poll never touches the
    /// timer wheel.
    #[must_use = "futures do nothing unless polled"]
    pub struct RunHandler<F> {
        #[pin]
        state: State<F>,
        metrics: Arc<SchemeMetrics>,
        started: Instant,
        // Held while the handler runs: the route's concurrency cap.
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Running {
            #[pin]
            future: F,
            // Boxed, as in ReadBody: made only for a handler that waits.
            timer: Option<Pin<Box<Sleep>>>,
            deadline: Instant,
        },
        Finished { answer: Option<Answer> },
    }
}

impl<F: Future> RunHandler<F> {
    pub(super) fn start(
        metrics: &Arc<SchemeMetrics>,
        deadline: Instant,
        cap: Option<&std::sync::Arc<tokio::sync::Semaphore>>,
        start: impl FnOnce() -> F,
    ) -> Self {
        let scheme = metrics.scheme();
        let metrics = metrics.clone();
        let permit = match cap.map(|cap| cap.clone().try_acquire_owned()) {
            Some(Ok(permit)) => Some(permit),
            Some(Err(_)) => {
                tracing::warn!(scheme, "route at its handler cap: answering 503");
                return Self {
                    state: State::Finished {
                        answer: Some(Answer::Rejected(Rejection::Overloaded)),
                    },
                    metrics,
                    started: Instant::now(),
                    permit: None,
                };
            }
            None => None,
        };
        let state = match catch_unwind(AssertUnwindSafe(start)) {
            Ok(future) => State::Running {
                future,
                timer: None,
                deadline,
            },
            Err(_panic) => {
                tracing::error!(scheme, "handler panicked: answering 500");
                State::Finished {
                    answer: Some(Answer::Rejected(Rejection::HandlerPanicked)),
                }
            }
        };
        Self {
            state,
            metrics,
            started: Instant::now(),
            permit,
        }
    }
}

impl<F> std::fmt::Debug for RunHandler<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunHandler")
            .field("scheme", &self.metrics.scheme())
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}

impl<F: Future> Future for RunHandler<F> {
    type Output = Result<F::Output, Answer>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let answer = match this.state.as_mut().project() {
            StateProj::Finished { answer } => {
                // A second poll after the end answers again instead of panicking.
                answer
                    .take()
                    .unwrap_or(Answer::Rejected(Rejection::HandlerPanicked))
            }
            StateProj::Running {
                future,
                timer,
                deadline,
            } => {
                let outcome = match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
                    Ok(Poll::Ready(output)) => Ok(output),
                    Err(_panic) => Err(Rejection::HandlerPanicked),
                    Ok(Poll::Pending) => {
                        let deadline = *deadline;
                        let timer = timer
                            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                        match timer.as_mut().poll(cx) {
                            Poll::Ready(()) => Err(Rejection::HandlerDeadline),
                            Poll::Pending => return Poll::Pending,
                        }
                    }
                };
                this.metrics
                    .handler_duration(HandlerMode::Sync, this.started.elapsed());
                let rejection = match outcome {
                    Ok(output) => {
                        this.state.set(State::Finished { answer: None });
                        return Poll::Ready(Ok(output));
                    }
                    Err(rejection) => rejection,
                };
                if rejection == Rejection::HandlerDeadline {
                    tracing::warn!(
                        scheme = this.metrics.scheme(),
                        "handler still running at the deadline: answering 503, dropping it"
                    );
                } else {
                    tracing::error!(
                        scheme = this.metrics.scheme(),
                        "handler panicked: answering 500"
                    );
                }
                Answer::Rejected(rejection)
            }
        };
        // The handler's future (if any) is dropped here, before answering.
        this.state.set(State::Finished { answer: None });
        Poll::Ready(Err(answer))
    }
}
