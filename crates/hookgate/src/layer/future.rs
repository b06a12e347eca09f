use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::request::Parts;
use http::{Request, Response};
use http_body::Body;
use http_body_util::combinators::Collect;
use http_body_util::{BodyExt, Either, Full, LengthLimitError, Limited};
use pin_project_lite::pin_project;
use tokio::time::{Instant, Timeout};
use tower::Service;

use super::{rejection_response, BoxError};
use crate::{Rejection, Verifier};

pin_project! {
    /// Response future of [`VerifyWebhook`](super::VerifyWebhook).
    pub struct ResponseFuture<S, B>
    where
        S: Service<Request<Full<Bytes>>>,
        B: Body,
        B::Error: Into<BoxError>,
    {
        #[pin]
        state: State<S, B>,
        span: tracing::Span,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B>
    where
        S: Service<Request<Full<Bytes>>>,
        B: Body,
        B::Error: Into<BoxError>,
    {
        Reading {
            #[pin]
            read: Timeout<Collect<Limited<B>>>,
            parts: Option<Parts>,
            inner: Option<S>,
            verifier: Verifier,
            deadline: Instant,
        },
        Calling {
            #[pin]
            future: Timeout<S::Future>,
            scheme: &'static str,
            started: Instant,
        },
        Rejected {
            rejection: Option<Rejection>,
        },
    }
}

impl<S, B> ResponseFuture<S, B>
where
    S: Service<Request<Full<Bytes>>>,
    B: Body,
    B::Error: Into<BoxError>,
{
    pub(super) fn read(verifier: Verifier, req: Request<B>, inner: S) -> Self {
        let deadline = Instant::now() + verifier.deadline();
        let (parts, body) = req.into_parts();
        let read = tokio::time::timeout(
            verifier.body_read_timeout(),
            Limited::new(body, verifier.body_limit()).collect(),
        );
        let span = tracing::info_span!("webhook delivery", scheme = verifier.scheme().name());
        Self {
            state: State::Reading {
                read,
                parts: Some(parts),
                inner: Some(inner),
                verifier,
                deadline,
            },
            span,
        }
    }

    pub(super) fn rejected(verifier: &Verifier, rejection: Rejection) -> Self {
        log_rejection(verifier, &rejection);
        Self {
            state: State::Rejected {
                rejection: Some(rejection),
            },
            span: tracing::Span::none(),
        }
    }
}

fn log_rejection(verifier: &Verifier, rejection: &Rejection) {
    crate::metrics::rejected(verifier.scheme().name(), rejection);
    tracing::warn!(
        scheme = verifier.scheme().name(),
        reason = rejection.reason(),
        status = rejection.status().as_u16(),
        "webhook delivery rejected"
    );
}

impl<S, B, ResBody> Future for ResponseFuture<S, B>
where
    S: Service<Request<Full<Bytes>>, Response = Response<ResBody>>,
    B: Body,
    B::Error: Into<BoxError>,
{
    type Output = Result<Response<Either<ResBody, Full<Bytes>>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let _entered = this.span.enter();
        loop {
            let next = match this.state.as_mut().project() {
                StateProj::Calling {
                    future,
                    scheme,
                    started,
                } => {
                    // A panicking handler becomes a 500 instead of a dropped connection.
                    let polled = catch_unwind(AssertUnwindSafe(|| future.poll(cx)));
                    if !matches!(polled, Ok(Poll::Pending)) {
                        crate::metrics::handler_duration(scheme, "sync", started.elapsed());
                    }
                    match polled {
                        Ok(Poll::Pending) => return Poll::Pending,
                        Ok(Poll::Ready(Ok(res))) => {
                            return Poll::Ready(res.map(|r| r.map(Either::Left)))
                        }
                        Ok(Poll::Ready(Err(_elapsed))) => {
                            tracing::warn!(
                                scheme = *scheme,
                                "handler still running at the deadline: answering 503, dropping it"
                            );
                            State::Rejected {
                                rejection: Some(Rejection::HandlerDeadline),
                            }
                        }
                        Err(_panic) => {
                            tracing::error!(scheme = *scheme, "handler panicked: answering 500");
                            State::Rejected {
                                rejection: Some(Rejection::HandlerPanicked),
                            }
                        }
                    }
                }
                StateProj::Rejected { rejection } => {
                    let rejection = rejection.take().unwrap_or(Rejection::BodyRead);
                    return Poll::Ready(Ok(rejection_response(&rejection).map(Either::Right)));
                }
                StateProj::Reading {
                    read,
                    parts,
                    inner,
                    verifier,
                    deadline,
                } => {
                    let outcome = ready!(read.poll(cx));
                    match (read_outcome(outcome, verifier), parts.take(), inner.take()) {
                        (Ok(body), Some(parts), Some(inner)) => {
                            call_verified(verifier, parts, body, inner, *deadline)
                        }
                        (Err(rejection), _, _) => {
                            log_rejection(verifier, &rejection);
                            State::Rejected {
                                rejection: Some(rejection),
                            }
                        }
                        // Polled again after completion: answer instead of panicking.
                        _ => State::Rejected {
                            rejection: Some(Rejection::BodyRead),
                        },
                    }
                }
            };
            this.state.set(next);
        }
    }
}

fn read_outcome<D, E>(
    outcome: Result<Result<http_body_util::Collected<D>, E>, tokio::time::error::Elapsed>,
    verifier: &Verifier,
) -> Result<Bytes, Rejection>
where
    D: bytes::Buf,
    E: Into<BoxError>,
{
    match outcome {
        Err(_elapsed) => Err(Rejection::BodyTimeout),
        Ok(Err(e)) => {
            let e = e.into();
            if e.is::<LengthLimitError>() {
                Err(Rejection::BodyTooLarge {
                    limit: verifier.body_limit(),
                })
            } else {
                tracing::debug!(error = %e, "webhook body read failed");
                Err(Rejection::BodyRead)
            }
        }
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

fn call_verified<S, B>(
    verifier: &Verifier,
    mut parts: Parts,
    body: Bytes,
    mut inner: S,
    deadline: Instant,
) -> State<S, B>
where
    S: Service<Request<Full<Bytes>>>,
    B: Body,
    B::Error: Into<BoxError>,
{
    match verifier.verify(&parts.headers, body.clone()) {
        Ok(event) => {
            tracing::debug!(
                scheme = event.scheme(),
                id = event.id(),
                event = event.event_type(),
                "webhook delivery verified"
            );
            parts.extensions.insert(event);
            let req = Request::from_parts(parts, Full::new(body));
            match catch_unwind(AssertUnwindSafe(|| inner.call(req))) {
                Ok(future) => State::Calling {
                    future: tokio::time::timeout_at(deadline, future),
                    scheme: verifier.scheme().name(),
                    started: Instant::now(),
                },
                Err(_panic) => State::Rejected {
                    rejection: Some(Rejection::HandlerPanicked),
                },
            }
        }
        Err(rejection) => {
            log_rejection(verifier, &rejection);
            State::Rejected {
                rejection: Some(rejection),
            }
        }
    }
}
