use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use futures_util::Stream;
use pin_project_lite::pin_project;
use tokio::time::Sleep;

use super::Intake;
use crate::Rejection;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pin_project! {
    /// Reads a body, given as a stream of chunks, through the limit (413)
    /// and the read timeout (408); see [`Intake::read`]. A single chunk is
    /// kept as it is; several are joined once.
    #[must_use = "futures do nothing unless polled"]
    pub struct ReadBody<S> {
        #[pin]
        body: S,
        #[pin]
        timeout: Sleep,
        intake: Intake,
        chunks: Vec<Bytes>,
        total: usize,
        refused: Option<Rejection>,
        done: bool,
    }
}

impl<S> ReadBody<S> {
    pub(super) fn new(intake: Intake, body: S, refused: Option<Rejection>) -> Self {
        Self {
            body,
            timeout: tokio::time::sleep(intake.verifier().settings().read_timeout),
            intake,
            chunks: Vec::new(),
            total: 0,
            refused,
            done: false,
        }
    }
}

impl<S> std::fmt::Debug for ReadBody<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadBody")
            .field("read", &self.total)
            .field("limit", &self.intake.verifier().settings().max_body_bytes)
            .finish_non_exhaustive()
    }
}

impl<S, D, E> Future for ReadBody<S>
where
    S: Stream<Item = Result<D, E>>,
    D: Buf,
    E: Into<BoxError>,
{
    type Output = Result<Bytes, Rejection>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if *this.done {
            // Polled after completion: answer instead of panicking.
            return Poll::Ready(Err(Rejection::BodyRead));
        }
        if let Some(rejection) = this.refused.take() {
            *this.done = true;
            return Poll::Ready(Err(rejection));
        }
        let limit = this.intake.verifier().settings().max_body_bytes;
        let failed = loop {
            match this.body.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(mut chunk))) => {
                    *this.total = this.total.saturating_add(chunk.remaining());
                    if *this.total > limit {
                        break Rejection::BodyTooLarge { limit };
                    }
                    if chunk.has_remaining() {
                        this.chunks.push(chunk.copy_to_bytes(chunk.remaining()));
                    }
                }
                Poll::Ready(Some(Err(error))) => {
                    let error: BoxError = error.into();
                    tracing::debug!(%error, "webhook body read failed");
                    break Rejection::BodyRead;
                }
                Poll::Ready(None) => {
                    *this.done = true;
                    return Poll::Ready(Ok(join(std::mem::take(this.chunks), *this.total)));
                }
                Poll::Pending => match this.timeout.as_mut().poll(cx) {
                    Poll::Ready(()) => break Rejection::BodyTimeout,
                    Poll::Pending => return Poll::Pending,
                },
            }
        };
        *this.done = true;
        this.chunks.clear();
        Poll::Ready(Err(this.intake.reject(failed)))
    }
}

fn join(mut chunks: Vec<Bytes>, total: usize) -> Bytes {
    match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.swap_remove(0),
        _ => {
            let mut joined = BytesMut::with_capacity(total);
            for chunk in chunks {
                joined.extend_from_slice(&chunk);
            }
            joined.freeze()
        }
    }
}
