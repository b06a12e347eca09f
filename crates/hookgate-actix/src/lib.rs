#![doc = include_str!("../README.md")]

mod extract;
mod middleware;

pub use extract::{Webhook, WebhookRejection, MISSING_MIDDLEWARE_MESSAGE};
pub use hookgate::{
    self, dedupe, events, scheme, testing, Delivery, Rejection, VerifiedEvent, Verifier,
};
pub use middleware::{VerifyWebhook, VerifyWebhookMiddleware};

use actix_web::http::header::HeaderMap;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use bytes::Bytes;
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

/// A JSON response with hookgate's status, headers and body, for actix.
fn json_response(status: u16, headers: &[(&'static str, String)], body: Bytes) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = HttpResponse::build(status);
    res.insert_header(("content-type", "application/json"));
    for (name, value) in headers {
        res.insert_header((*name, value.as_str()));
    }
    res.body(body)
}

fn rejection_response(rejection: &Rejection) -> HttpResponse {
    let headers: Vec<(&'static str, String)> = rejection
        .retry_after()
        .map(|after| ("retry-after", after.as_secs().max(1).to_string()))
        .into_iter()
        .collect();
    json_response(rejection.status().as_u16(), &headers, rejection.json_body())
}
