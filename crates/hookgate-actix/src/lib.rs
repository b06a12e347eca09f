#![doc = include_str!("../README.md")]

mod extract;
mod middleware;
pub mod mode;

pub use extract::{Webhook, WebhookRejection, MISSING_MIDDLEWARE_MESSAGE};
pub use hookgate::{
    self, dedupe, events, scheme, testing, Answer, Delivery, Rejection, VerifiedEvent, Verifier,
};
pub use middleware::{VerifyWebhook, VerifyWebhookMiddleware};

use actix_web::http::header::HeaderMap;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use hookgate::Headers;

/// actix's header map seen through hookgate's framework-free [`Headers`].
#[derive(Debug, Clone, Copy)]
pub struct ActixHeaders<'a>(pub &'a HeaderMap);

impl Headers for ActixHeaders<'_> {
    fn for_each_value<'a>(&'a self, name: &str, f: &mut dyn FnMut(&'a [u8])) {
        for v in self.0.get_all(name) {
            f(v.as_bytes());
        }
    }

    fn for_each_header(&self, f: &mut dyn FnMut(&str, &[u8])) {
        for (name, value) in self.0.iter() {
            f(name.as_str(), value.as_bytes());
        }
    }
}

/// One of hookgate's answers as an actix response: the translation of
/// [`Answer`](hookgate::Answer)'s status, headers and body, with the answer
/// in the response's extensions as the tower layers put it.
fn answer_response(answer: hookgate::Answer) -> HttpResponse {
    let status =
        StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = HttpResponse::build(status);
    for (name, value) in answer.headers() {
        res.insert_header((name, value.as_ref()));
    }
    let mut res = res.body(answer.body());
    res.extensions_mut().insert(answer);
    res
}
