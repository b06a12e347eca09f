//! `hookgate`: sign webhook bodies, send signed test deliveries, verify
//! saved deliveries, for every sender hookgate knows (`--scheme`); run a
//! verifying reverse proxy in front of any application (`serve`), and look
//! at and operate its durable inbox (`inbox`).
//!
//! Secrets are read from an environment variable (`HOOKGATE_SECRET` by
//! default, `--secret-env VAR`) or a file (`--secret-file PATH`), never from
//! the command line, where `ps` and shell history would show them.

mod inbox;
mod samples;
mod scheme_args;
mod secret;
mod send;
mod serve;
mod verify;

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use scheme_args::SchemeArgs;
use secret::SecretArgs;

#[derive(Debug, Parser)]
#[command(
    name = "hookgate",
    version,
    about = "Sign, send and verify signed webhook deliveries; serve a verifying proxy; operate its durable inbox."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the signature header(s) a sender would send for a body.
    Sign(SignArgs),
    /// Post signed sample events (or a body from a file) to a URL.
    Send(send::SendArgs),
    /// Check a saved delivery and say exactly why it fails, if it does.
    Verify(verify::VerifyArgs),
    /// Run a verifying reverse proxy in front of any application.
    Serve(serve::ServeArgs),
    /// Look at and operate a durable inbox: stats, ls, show, replay, pause, resume, purge.
    Inbox(inbox::InboxArgs),
}

/// The senders hookgate knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Scheme {
    /// `X-AEXO-Signature: <hex>`.
    Aexo,
    /// `X-Webhook-Signature: sha256=<hex>`.
    Axifi,
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`
    /// (a `whsec_` secret), or `v1a,<base64>` ed25519 (sign with a `whsk_` key, verify
    /// with its `whpk_` public key).
    StandardWebhooks,
    /// Svix: `svix-id`, `svix-timestamp`, `svix-signature: v1,<base64>`.
    Svix,
    /// GitHub: `X-Hub-Signature-256: sha256=<hex>`.
    Github,
    /// Stripe: `Stripe-Signature: t=..,v1=<hex>`.
    Stripe,
    /// Slack: `X-Slack-Signature: v0=<hex>`, `X-Slack-Request-Timestamp`.
    Slack,
    /// Shopify: `X-Shopify-Hmac-Sha256: <base64>`.
    Shopify,
    /// Paddle: `Paddle-Signature: ts=..;h1=<hex>`.
    Paddle,
    /// Linear: `Linear-Signature: <hex>`, `webhookTimestamp` in the body.
    Linear,
    /// Zoom: `x-zm-signature: v0=<hex>`, `x-zm-request-timestamp`.
    Zoom,
    /// Discord: `X-Signature-Ed25519: <hex>`, `X-Signature-Timestamp` (sign
    /// with the private key's hex seed, verify with the hex public key).
    Discord,
    /// Square: `x-square-hmacsha256-signature: <base64>` over the notification URL and the body (needs --url).
    Square,
    /// Twilio: `X-Twilio-Signature: <base64 HMAC-SHA1>` over the URL and the sorted form (needs --url).
    Twilio,
    /// Any other HMAC sender: its header, encoding and signed content as
    /// --scheme-config FILE describes them.
    Hmac,
}

impl Scheme {
    /// The library's name of the scheme (`standard-webhooks`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scheme::Aexo => "aexo",
            Scheme::Axifi => "axifi",
            Scheme::StandardWebhooks => "standard-webhooks",
            Scheme::Svix => "svix",
            Scheme::Github => "github",
            Scheme::Stripe => "stripe",
            Scheme::Slack => "slack",
            Scheme::Shopify => "shopify",
            Scheme::Paddle => "paddle",
            Scheme::Linear => "linear",
            Scheme::Zoom => "zoom",
            Scheme::Discord => "discord",
            Scheme::Square => "square",
            Scheme::Twilio => "twilio",
            Scheme::Hmac => "hmac",
        }
    }

    /// The form of the scheme's signature headers, for messages.
    pub(crate) fn form(self) -> &'static str {
        match self {
            Scheme::Aexo => "X-AEXO-Signature: <64 hex digits>",
            Scheme::Axifi => "X-Webhook-Signature: sha256=<64 hex digits>",
            Scheme::StandardWebhooks => {
                "webhook-id: <id>, webhook-timestamp: <unix seconds>, \
                 webhook-signature: v1,<base64> [v1,<base64> ...]"
            }
            Scheme::Svix => {
                "svix-id: <id>, svix-timestamp: <unix seconds>, \
                 svix-signature: v1,<base64> [v1,<base64> ...]"
            }
            Scheme::Github => "X-Hub-Signature-256: sha256=<64 hex digits>",
            Scheme::Stripe => "Stripe-Signature: t=<unix seconds>,v1=<64 hex digits>[,v1=...]",
            Scheme::Slack => {
                "X-Slack-Signature: v0=<64 hex digits>, X-Slack-Request-Timestamp: <unix seconds>"
            }
            Scheme::Shopify => "X-Shopify-Hmac-Sha256: <base64 of 32 bytes>",
            Scheme::Paddle => "Paddle-Signature: ts=<unix seconds>;h1=<64 hex digits>[;h1=...]",
            Scheme::Linear => "Linear-Signature: <64 hex digits>",
            Scheme::Zoom => {
                "x-zm-signature: v0=<64 hex digits>, x-zm-request-timestamp: <unix seconds>"
            }
            Scheme::Discord => {
                "X-Signature-Ed25519: <128 hex digits>, X-Signature-Timestamp: <unix seconds>"
            }
            Scheme::Square => "x-square-hmacsha256-signature: <base64 of 32 bytes>",
            Scheme::Twilio => "X-Twilio-Signature: <base64 of 20 bytes>",
            Scheme::Hmac => "the one its --scheme-config file describes",
        }
    }

    /// The library's scheme of this name; `None` for `hmac`, which
    /// `--scheme-config` describes.
    pub(crate) fn builtin(self) -> Option<std::sync::Arc<dyn hookgate::scheme::Scheme>> {
        match self {
            Scheme::Hmac => None,
            named => hookgate::scheme::builtin(named.name()),
        }
    }
}

#[derive(Debug, clap::Args)]
struct SignArgs {
    #[command(flatten)]
    scheme: SchemeArgs,
    /// The body to sign, byte for byte; standard input when absent or `-`.
    file: Option<PathBuf>,
    /// Print only the header values (for `curl -H "X-AEXO-Signature: $(...)"`).
    #[arg(long)]
    value_only: bool,
    /// The message id to send, for schemes that send one in a header
    /// (Standard Webhooks, Svix, GitHub, Shopify, Linear); default: one made
    /// from the body's hash.
    #[arg(long)]
    id: Option<String>,
    /// The event type, for schemes that send it in a header (GitHub, Shopify).
    #[arg(long)]
    event: Option<String>,
    /// The URL the request goes to, for schemes that sign it (Square, Twilio).
    #[arg(long)]
    url: Option<String>,
    #[command(flatten)]
    secret: SecretArgs,
}

/// Reads `file`, or standard input for `None` or `-`.
pub(crate) fn read_input(file: Option<&PathBuf>) -> Result<Vec<u8>, String> {
    match file {
        Some(path) if path.as_os_str() != "-" => {
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
        }
        _ => {
            let mut body = Vec::new();
            std::io::stdin()
                .read_to_end(&mut body)
                .map_err(|e| format!("cannot read standard input: {e}"))?;
            Ok(body)
        }
    }
}

fn sign(args: &SignArgs) -> Result<(), String> {
    let chosen = args.scheme.resolve()?;
    let secret = args.secret.read()?;
    let body = read_input(args.file.as_ref())?;
    let secret = hookgate::Secret::new(secret).map_err(|e| e.to_string())?;
    let mut input = hookgate::scheme::SignInput::new(&body);
    input.id = args.id.as_deref();
    input.event = args.event.as_deref();
    input.url = args.url.as_deref();
    if chosen.scheme.signs_url() && input.url.is_none() {
        return Err(format!(
            "{} signs the URL it calls: give --url",
            chosen.scheme.name()
        ));
    }
    let headers = chosen
        .scheme
        .sign(secret.expose(), &input)
        .map_err(|e| e.to_string())?;
    for (name, value) in headers {
        if args.value_only {
            println!("{value}");
        } else {
            println!("{}: {value}", display_name(name));
        }
    }
    Ok(())
}

/// `x-aexo-signature` -> `X-AEXO-Signature`, as the senders' docs write it.
pub(crate) fn display_name(name: &str) -> String {
    match name {
        "x-aexo-signature" => "X-AEXO-Signature".into(),
        "x-webhook-signature" => "X-Webhook-Signature".into(),
        "x-hub-signature-256" => "X-Hub-Signature-256".into(),
        "x-github-delivery" => "X-GitHub-Delivery".into(),
        "x-github-event" => "X-GitHub-Event".into(),
        "x-shopify-hmac-sha256" => "X-Shopify-Hmac-Sha256".into(),
        "x-shopify-event-id" => "X-Shopify-Event-Id".into(),
        "x-shopify-topic" => "X-Shopify-Topic".into(),
        "x-slack-signature" => "X-Slack-Signature".into(),
        "x-slack-request-timestamp" => "X-Slack-Request-Timestamp".into(),
        "stripe-signature" => "Stripe-Signature".into(),
        "paddle-signature" => "Paddle-Signature".into(),
        "linear-signature" => "Linear-Signature".into(),
        "linear-delivery" => "Linear-Delivery".into(),
        "x-signature-ed25519" => "X-Signature-Ed25519".into(),
        "x-signature-timestamp" => "X-Signature-Timestamp".into(),
        "x-twilio-signature" => "X-Twilio-Signature".into(),
        "i-twilio-idempotency-token" => "I-Twilio-Idempotency-Token".into(),
        other => other.into(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Sign(args) => sign(args).map(|()| true),
        Command::Verify(args) => verify::run(args),
        Command::Send(args) => send::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Inbox(args) => inbox::run(args),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("hookgate: {message}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scheme_flag_is_a_library_scheme_of_the_same_name_and_none_is_missing() {
        let flags: Vec<String> = Scheme::value_variants()
            .iter()
            .filter(|s| **s != Scheme::Hmac)
            .map(|s| {
                let flag = s.to_possible_value().map(|v| v.get_name().to_owned());
                assert_eq!(flag.as_deref(), Some(s.name()));
                assert_eq!(s.builtin().map(|b| b.name()), Some(s.name()));
                s.name().to_owned()
            })
            .collect();
        assert_eq!(flags, hookgate::scheme::BUILTIN);
    }
}
