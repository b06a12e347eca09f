use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use futures_util::Stream;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use super::Intake;
use crate::Rejection;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pin_project! {
    /// Reads a body, given as a stream of chunks, through the limit (413)
    /// and the read timeout (408); see [`Intake::read`]. A single chunk is
    /// kept as it is; from the second on, every chunk is copied into one
    /// buffer as it arrives. Keeping the chunks themselves would keep each
    /// one's read buffer alive: a client sending its body a byte at a time
    /// would then hold kilobytes of the server's memory per byte sent.
    ///
    /// The read timeout counts from the request's arrival; its timer is
    /// only made when the body is not all there yet (a delivery whose body
    /// came with its head, the usual case, never touches the timer wheel).
    #[must_use = "futures do nothing unless polled"]
    pub struct ReadBody<S> {
        #[pin]
        body: S,
        // Boxed: a future that carried the timer inline would be moved,
        // with its room for the timer, at every step of every delivery.
        timeout: Option<Pin<Box<Sleep>>>,
        read_by: Instant,
        scheme: &'static str,
        limit: usize,
        first: Option<Bytes>,
        joined: BytesMut,
        total: usize,
        refused: Option<Rejection>,
        done: bool,
    }
}

impl<S> ReadBody<S> {
    pub(super) fn new(intake: &Intake, body: S, refused: Option<Rejection>) -> Self {
        Self {
            body,
            timeout: None,
            read_by: intake.arrived() + intake.verifier().settings().read_timeout,
            scheme: intake.scheme(),
            limit: intake.verifier().settings().max_body_bytes,
            first: None,
            joined: BytesMut::new(),
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
            .field("limit", &self.limit)
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
        let limit = *this.limit;
        let failed = loop {
            match this.body.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    *this.total = this.total.saturating_add(chunk.remaining());
                    if *this.total > limit {
                        break Rejection::BodyTooLarge { limit };
                    }
                    if chunk.has_remaining() {
                        add(this.first, this.joined, chunk, *this.total);
                    }
                }
                Poll::Ready(Some(Err(error))) => {
                    let error: BoxError = error.into();
                    tracing::debug!(%error, "webhook body read failed");
                    break Rejection::BodyRead;
                }
                Poll::Ready(None) => {
                    *this.done = true;
                    return Poll::Ready(Ok(match this.first.take() {
                        Some(only) => only,
                        None => std::mem::take(this.joined).freeze(),
                    }));
                }
                Poll::Pending => {
                    let read_by = *this.read_by;
                    let timer = this
                        .timeout
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(read_by)));
                    match timer.as_mut().poll(cx) {
                        Poll::Ready(()) => break Rejection::BodyTimeout,
                        Poll::Pending => return Poll::Pending,
                    }
                }
            }
        };
        *this.done = true;
        *this.first = None;
        *this.joined = BytesMut::new();
        Poll::Ready(Err(super::reject(this.scheme, failed)))
    }
}

/// Adds `chunk` to the body read so far (`total` bytes with it): the first
/// chunk is kept as it is; a second one moves both into `joined`, sized for
/// what has arrived; later ones are appended there.
fn add(first: &mut Option<Bytes>, joined: &mut BytesMut, mut chunk: impl Buf, total: usize) {
    if first.is_none() && joined.is_empty() {
        *first = Some(chunk.copy_to_bytes(chunk.remaining()));
        return;
    }
    if let Some(first) = first.take() {
        joined.reserve(total);
        joined.extend_from_slice(&first);
    }
    while chunk.has_remaining() {
        let part = chunk.chunk();
        let n = part.len();
        joined.extend_from_slice(part);
        chunk.advance(n);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::Verifier;

    async fn read(chunks: Vec<Bytes>) -> Result<Bytes, Rejection> {
        let verifier = Verifier::aexo("s3cret").unwrap().max_body_bytes(64);
        let intake = Intake::new(&verifier);
        let stream = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
        intake.read(&Vec::<(&str, &str)>::new(), stream).await
    }

    #[tokio::test]
    async fn a_body_in_one_chunk_is_that_chunk_and_many_chunks_are_joined_in_order() {
        let one = Bytes::from_static(b"{\"id\":1}");
        let got = read(vec![one.clone()]).await.unwrap();
        assert_eq!(got, one);
        // The very allocation: no copy for the usual single chunk.
        assert_eq!(got.as_ptr(), one.as_ptr());

        let bytes: Vec<Bytes> = b"{\"id\":\"a byte at a time\"}"
            .iter()
            .map(|b| Bytes::copy_from_slice(&[*b]))
            .collect();
        let got = read(bytes).await.unwrap();
        assert_eq!(&got[..], b"{\"id\":\"a byte at a time\"}");

        let mixed = vec![
            Bytes::from_static(b"ab"),
            Bytes::new(),
            Bytes::from_static(b"cde"),
            Bytes::from_static(b"f"),
        ];
        assert_eq!(&read(mixed).await.unwrap()[..], b"abcdef");
        assert_eq!(&read(Vec::new()).await.unwrap()[..], b"");
    }

    #[tokio::test]
    async fn the_limit_counts_every_chunk() {
        let chunks: Vec<Bytes> = (0..65).map(|_| Bytes::from_static(b"x")).collect();
        assert_eq!(
            read(chunks).await.unwrap_err(),
            Rejection::BodyTooLarge { limit: 64 }
        );
        let chunks: Vec<Bytes> = (0..64).map(|_| Bytes::from_static(b"x")).collect();
        assert_eq!(read(chunks).await.unwrap().len(), 64);
    }
}
