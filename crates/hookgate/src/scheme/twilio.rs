use std::time::Duration;

use sha2::Digest;
use subtle::ConstantTimeEq;

use super::{
    single_header, Algorithm, Encoding, EnvelopeFields, Field, Message, Scheme, SignInput,
    SignatureParts,
};
use crate::{ConfigError, Rejection};

/// Twilio: `X-Twilio-Signature: <base64 HMAC-SHA1>`, keyed with the
/// account's auth token, over the URL Twilio called followed by the form
/// parameters of the body, decoded, sorted by name and then by value, each
/// written as its name followed by its value.
///
/// - For a JSON body, Twilio adds `bodySHA256=<hex SHA-256 of the body>` to
///   the URL's query and signs the URL alone; the hash is checked against
///   the body.
/// - The URL is the webhook URL as configured at Twilio, with the request's
///   query: build the verifier with
///   [`Verifier::with_public_url`](crate::Verifier::with_public_url). As
///   Twilio's own validators do, the URL is tried as given, without its
///   port, and with its scheme's default port.
/// - The dedupe key is `I-Twilio-Idempotency-Token` when sent, else the
///   body's hash. **Twilio signs no timestamp**: replay protection is the
///   dedupe window.
/// - Repeated parameters keep every value (as twilio-python signs them;
///   twilio-node drops repeated identical values).
#[derive(Debug, Clone, Copy, Default)]
pub struct Twilio;

const HEADER: &str = "x-twilio-signature";
const IDEMPOTENCY: &str = "i-twilio-idempotency-token";

impl Scheme for Twilio {
    fn name(&self) -> &'static str {
        "twilio"
    }

    fn signature_header(&self) -> &'static str {
        HEADER
    }

    fn algorithm(&self) -> Algorithm {
        Algorithm::HmacSha1
    }

    fn signs_url(&self) -> bool {
        true
    }

    fn parse_signature<'h>(
        &self,
        message: Message<'h>,
        parts: &mut SignatureParts<'h>,
    ) -> Result<(), Rejection> {
        parts.push_tag(Encoding::Base64, single_header(message.headers, HEADER)?)?;
        let url = message.url.ok_or(Rejection::MalformedSignature)?;
        let variants = url_variants(url);
        let options: Vec<&[u8]> = variants.iter().map(|v| v.as_bytes()).collect();
        parts.push_one_of(&options)?;
        match query_param(url, "bodySHA256") {
            Some(claimed) => {
                // The body is bound to the signed URL by its hash.
                let actual = hex::encode(sha2::Sha256::digest(message.body));
                if !bool::from(
                    actual
                        .as_bytes()
                        .ct_eq(claimed.to_ascii_lowercase().as_bytes()),
                ) {
                    return Err(Rejection::BadSignature);
                }
                Ok(())
            }
            None => parts.push_owned(&sorted_form(message.body)?),
        }
    }

    fn envelope(&self) -> EnvelopeFields {
        EnvelopeFields::any().id(Field::header(IDEMPOTENCY).optional())
    }

    fn default_freshness(&self) -> Duration {
        // No signed timestamp: the window is never used.
        Duration::ZERO
    }

    fn sign(
        &self,
        secret: &[u8],
        input: &SignInput<'_>,
    ) -> Result<Vec<(&'static str, String)>, ConfigError> {
        let url = input.url.unwrap_or_default();
        let params = if query_param(url, "bodySHA256").is_some() {
            Vec::new()
        } else {
            sorted_form(input.body).map_err(|_| ConfigError::Scheme {
                why: "a Twilio body is a form, or a JSON body with bodySHA256 in the URL".into(),
            })?
        };
        let content: [&[u8]; 2] = [url.as_bytes(), &params];
        let tag = self.algorithm().tag(&self.decode_secret(secret)?, &content);
        Ok(vec![
            (HEADER, Encoding::Base64.encode(&tag)),
            (IDEMPOTENCY, input.id_or_made_up("")),
        ])
    }
}

/// The URL as given, without its port, and with its scheme's default
/// port, in that order and without repeats.
fn url_variants(url: &str) -> Vec<String> {
    let mut out = vec![url.to_owned()];
    let Some((scheme, rest)) = url.split_once("://") else {
        return out;
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(at) => authority.split_at(at + 1),
        None => ("", authority),
    };
    // A port follows the last `:` outside an IPv6 literal's brackets.
    let port_at = hostport
        .rfind(':')
        .filter(|&i| !hostport[i..].contains(']'));
    let host = port_at.map_or(hostport, |i| &hostport[..i]);
    let default = match scheme {
        "https" => Some("443"),
        "http" => Some("80"),
        _ => None,
    };
    let mut push = |v: String| {
        if !out.contains(&v) {
            out.push(v);
        }
    };
    push(format!("{scheme}://{userinfo}{host}{tail}"));
    if let (None, Some(port)) = (port_at, default) {
        push(format!("{scheme}://{userinfo}{host}:{port}{tail}"));
    }
    out
}

/// The raw value of the first `name` parameter of the URL's query.
fn query_param<'u>(url: &'u str, name: &str) -> Option<&'u str> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The form body's parameters, decoded, sorted by name (values of one name
/// sorted too), concatenated as name then value.
fn sorted_form(body: &[u8]) -> Result<Vec<u8>, Rejection> {
    let mut params: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (k, v) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        params.push((form_decode(k)?, form_decode(v)?));
    }
    params.sort();
    Ok(params
        .into_iter()
        .flat_map(|(k, v)| [k, v])
        .flatten()
        .collect())
}

fn form_decode(text: &[u8]) -> Result<Vec<u8>, Rejection> {
    super::form_decode(text).ok_or(Rejection::MalformedSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_variants_drop_and_add_the_port_as_twilios_validators_do() {
        assert_eq!(
            url_variants("https://a.example/p?x=1"),
            ["https://a.example/p?x=1", "https://a.example:443/p?x=1"]
        );
        assert_eq!(
            url_variants("http://u:p@a.example:1234/p"),
            ["http://u:p@a.example:1234/p", "http://u:p@a.example/p"]
        );
        assert_eq!(
            url_variants("https://[::1]/p"),
            ["https://[::1]/p", "https://[::1]:443/p"]
        );
    }

    #[test]
    fn form_parameters_are_decoded_and_sorted_by_name_then_value() {
        let got = sorted_form(b"b=2&a=%2B1+x&b=1&c").unwrap();
        assert_eq!(got, b"a+1 xb1b2c");
        assert_eq!(sorted_form(b"a=%zz"), Err(Rejection::MalformedSignature));
        assert_eq!(sorted_form(b"a=%4"), Err(Rejection::MalformedSignature));
    }
}
