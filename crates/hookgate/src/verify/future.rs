use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::request::Parts;
use http::{Request, Response};
use http_body::Body;
use http_body_util::{BodyDataStream, Either, Full};
use pin_project_lite::pin_project;
use tower::Service;

use super::BoxError;
use crate::pipeline::{Intake, ReadBody, RunHandler};
use crate::{Answer, Rejection};

pin_project! {
    /// Response future of [`VerifyWebhook`](super::VerifyWebhook): the
    /// [pipeline](crate::pipeline)'s stages as one state machine.
    pub struct ResponseFuture<S, B>
    where
        S: Service<Request<Full<Bytes>>>,
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
    {
        Reading {
            #[pin]
            read: ReadBody<BodyDataStream<B>>,
            parts: Option<Parts>,
            inner: Option<S>,
            intake: Intake,
        },
        LookingUp {
            lookup: crate::pipeline::TenantLookup,
            parts: Option<Parts>,
            inner: Option<S>,
            intake: Intake,
            body: Bytes,
        },
        Calling {
            #[pin]
            call: RunHandler<S::Future>,
        },
        Answered {
            answer: Option<Answer>,
        },
    }
}

impl<S, B> ResponseFuture<S, B>
where
    S: Service<Request<Full<Bytes>>>,
    B: Body,
    B::Error: Into<BoxError>,
{
    pub(super) fn new(intake: Intake, req: Request<B>, inner: S) -> Self {
        let (parts, body) = req.into_parts();
        if let Some(answer) = intake.handshake_before_body(&parts.method, parts.uri.query()) {
            return Self {
                span: intake.span(),
                state: State::Answered {
                    answer: Some(answer),
                },
            };
        }
        let read = intake.read(&parts.headers, BodyDataStream::new(body));
        Self {
            span: intake.span(),
            state: State::Reading {
                read,
                parts: Some(parts),
                inner: Some(inner),
                intake,
            },
        }
    }
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
                StateProj::Calling { call } => match ready!(call.poll(cx)) {
                    Ok(res) => return Poll::Ready(res.map(|r| r.map(Either::Left))),
                    Err(answer) => State::Answered {
                        answer: Some(answer),
                    },
                },
                StateProj::Answered { answer } => {
                    let answer = answer
                        .take()
                        .unwrap_or(Answer::Rejected(Rejection::BodyRead));
                    return Poll::Ready(Ok(answer.into_response().map(Either::Right)));
                }
                StateProj::Reading {
                    read,
                    parts,
                    inner,
                    intake,
                } => {
                    let read = ready!(read.poll(cx));
                    match (read, parts.take(), inner.take()) {
                        (Ok(body), Some(parts), Some(inner)) => {
                            match intake.tenant_lookup(&parts.headers, parts.uri.path()) {
                                None => verified(intake, parts, inner, body),
                                Some(Err(rejection)) => State::Answered {
                                    answer: Some(rejection.into()),
                                },
                                Some(Ok(lookup)) => State::LookingUp {
                                    lookup,
                                    parts: Some(parts),
                                    inner: Some(inner),
                                    intake: intake.clone(),
                                    body,
                                },
                            }
                        }
                        (Err(rejection), _, _) => State::Answered {
                            answer: Some(rejection.into()),
                        },
                        // Polled again after completion: answer instead of panicking.
                        _ => State::Answered {
                            answer: Some(Rejection::BodyRead.into()),
                        },
                    }
                }
                StateProj::LookingUp {
                    lookup,
                    parts,
                    inner,
                    intake,
                    body,
                } => {
                    let found = ready!(lookup.as_mut().poll(cx));
                    match (intake.use_tenant_secrets(found), parts.take(), inner.take()) {
                        (Ok(()), Some(parts), Some(inner)) => {
                            verified(intake, parts, inner, body.clone())
                        }
                        (Err(rejection), _, _) => State::Answered {
                            answer: Some(rejection.into()),
                        },
                        _ => State::Answered {
                            answer: Some(Rejection::BodyRead.into()),
                        },
                    }
                }
            };
            this.state.set(next);
        }
    }
}

/// The stages after the body is read and the keys are known: verify (or
/// report), answer a handshake, or call the handler.
fn verified<S, B>(intake: &Intake, mut parts: Parts, mut inner: S, body: Bytes) -> State<S, B>
where
    S: Service<Request<Full<Bytes>>>,
{
    let query = parts.uri.query();
    match intake.verify_or_report(&parts.headers, query, body.clone()) {
        Ok(Ok(event)) => match intake.handshake_after_verify(&event) {
            Some(answer) => State::Answered {
                answer: Some(answer),
            },
            None => {
                parts.extensions.insert(event);
                let req = Request::from_parts(parts, Full::new(body));
                State::Calling {
                    call: intake.run(move || inner.call(req)),
                }
            }
        },
        // Report-only: passed on unverified, marked.
        Ok(Err(report)) => {
            parts.extensions.insert(report);
            let req = Request::from_parts(parts, Full::new(body));
            State::Calling {
                call: intake.run(move || inner.call(req)),
            }
        }
        Err(rejection) => State::Answered {
            answer: Some(rejection.into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;
    use http::{Request, Response, StatusCode};
    use http_body_util::{BodyExt, Full, StreamBody};
    use tower::{service_fn, Layer, ServiceExt};

    use crate::scheme::Aexo;
    use crate::{testing, Answer, Rejection, VerifiedEvent, Verifier, WebhookLayer};

    const SECRET: &str = "future-secret";

    fn body() -> Vec<u8> {
        testing::aexo_body("wh_f1", "key.created", serde_json::json!({}))
    }

    /// The handler: echoes the event type and the body it was given.
    async fn echo(req: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
        let kind = req
            .extensions()
            .get::<VerifiedEvent>()
            .map_or_else(|| "no event".to_owned(), |e| e.event_type().to_owned());
        let bytes = req.into_body().collect().await.unwrap().to_bytes();
        let mut res = Response::new(Full::new(bytes));
        res.headers_mut().insert("x-event", kind.parse().unwrap());
        Ok(res)
    }

    fn answer_of<B>(res: &Response<B>) -> Option<&Answer> {
        res.extensions().get::<Answer>()
    }

    #[tokio::test]
    async fn the_handler_gets_the_verified_event_and_the_same_bytes() {
        let svc = WebhookLayer::aexo(SECRET).unwrap().layer(service_fn(echo));
        let req = testing::signed_request(&Aexo, SECRET, "/", body());
        let res = svc.oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["x-event"], "key.created");
        assert!(answer_of(&res).is_none(), "the handler's own answer");
        let echoed = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&echoed[..], &body()[..]);
    }

    #[tokio::test]
    async fn a_forged_delivery_is_401_with_the_reason_in_the_extensions() {
        let svc = WebhookLayer::aexo(SECRET).unwrap().layer(service_fn(echo));
        let req = testing::signed_request(&Aexo, "not-the-secret", "/", body());
        let res = svc.oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let answer = answer_of(&res).unwrap();
        assert_eq!(answer.rejection(), Some(&Rejection::BadSignature));
        assert_eq!(answer.reason(), "bad_signature");
    }

    #[tokio::test]
    async fn a_declared_length_over_the_limit_is_413_without_reading_the_body() {
        let verifier = Verifier::aexo(SECRET).unwrap().max_body_bytes(64);
        let svc = WebhookLayer::new(verifier).layer(service_fn(echo));
        let polled = Arc::new(AtomicUsize::new(0));
        let counter = polled.clone();
        let chunks = futures_util::stream::poll_fn(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            std::task::Poll::Ready(None::<Result<http_body::Frame<Bytes>, Infallible>>)
        });
        let req = Request::post("/")
            .header("content-length", "65")
            .body(StreamBody::new(chunks))
            .unwrap();
        let res = svc.oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(polled.load(Ordering::SeqCst), 0, "the body was read");
    }

    #[tokio::test]
    async fn a_chunked_body_over_the_limit_is_413() {
        let verifier = Verifier::aexo(SECRET).unwrap().max_body_bytes(64);
        let svc = WebhookLayer::new(verifier).layer(service_fn(echo));
        let chunks = futures_util::stream::iter(
            (0..10)
                .map(|_| Ok::<_, Infallible>(http_body::Frame::data(Bytes::from(vec![b'x'; 10])))),
        );
        let res = svc
            .oneshot(Request::post("/").body(StreamBody::new(chunks)).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            answer_of(&res).and_then(Answer::rejection),
            Some(&Rejection::BodyTooLarge { limit: 64 })
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stalls_is_408_at_the_read_timeout() {
        let verifier = Verifier::aexo(SECRET)
            .unwrap()
            .read_timeout(Duration::from_secs(3));
        let svc = WebhookLayer::new(verifier).layer(service_fn(echo));
        let stalled =
            futures_util::stream::pending::<Result<http_body::Frame<Bytes>, Infallible>>();
        let started = tokio::time::Instant::now();
        let res = svc
            .oneshot(Request::post("/").body(StreamBody::new(stalled)).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(started.elapsed(), Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_handler_past_the_deadline_is_dropped_and_answered_503() {
        let verifier = Verifier::aexo(SECRET)
            .unwrap()
            .handler_deadline(Duration::from_secs(5))
            .unwrap();
        let finished = Arc::new(AtomicUsize::new(0));
        let seen = finished.clone();
        let slow = service_fn(move |_req: Request<Full<Bytes>>| {
            let seen = seen.clone();
            async move {
                tokio::time::sleep(Duration::from_secs(60)).await;
                seen.fetch_add(1, Ordering::SeqCst);
                Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
            }
        });
        let svc = WebhookLayer::new(verifier).layer(slow);
        let res = svc
            .oneshot(testing::signed_request(&Aexo, SECRET, "/", body()))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()["retry-after"], "30");
        tokio::time::sleep(Duration::from_secs(120)).await;
        assert_eq!(
            finished.load(Ordering::SeqCst),
            0,
            "the handler kept running"
        );
    }

    #[tokio::test]
    async fn a_handler_that_panics_in_call_or_in_its_future_is_answered_500() {
        let in_call = service_fn(|_req: Request<Full<Bytes>>| -> std::future::Ready<Result<Response<Full<Bytes>>, Infallible>> {
            panic!("in call")
        });
        let in_future = service_fn(|_req: Request<Full<Bytes>>| async {
            if true {
                panic!("in the future");
            }
            Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
        });
        let layer = WebhookLayer::aexo(SECRET).unwrap();
        for res in [
            layer
                .layer(in_call)
                .oneshot(testing::signed_request(&Aexo, SECRET, "/", body()))
                .await
                .unwrap(),
            layer
                .layer(in_future)
                .oneshot(testing::signed_request(&Aexo, SECRET, "/", body()))
                .await
                .unwrap(),
        ] {
            assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
            assert_eq!(
                answer_of(&res).and_then(Answer::rejection),
                Some(&Rejection::HandlerPanicked)
            );
        }
    }
}
