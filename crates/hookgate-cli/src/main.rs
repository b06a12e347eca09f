//! `hookgate`: sign webhook bodies, send signed test deliveries, verify
//! saved deliveries, for the senders hookgate knows (AEXO, AXIFI); run a
//! verifying reverse proxy in front of any application (`serve`), and look
//! at and operate its durable inbox (`inbox`).
//!
//! Secrets are read from an environment variable (`HOOKGATE_SECRET` by
//! default, `--secret-env VAR`) or a file (`--secret-file PATH`), never from
//! the command line, where `ps` and shell history would show them.

mod inbox;
mod samples;
mod secret;
mod send;
mod serve;
mod verify;

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use hookgate::scheme::{Aexo, Axifi};

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
}

impl Scheme {
    pub(crate) fn scheme(self) -> &'static dyn hookgate::scheme::Scheme {
        match self {
            Scheme::Aexo => &Aexo,
            Scheme::Axifi => &Axifi,
        }
    }

    pub(crate) fn verifier(self, secret: &str) -> Result<hookgate::Verifier, String> {
        match self {
            Scheme::Aexo => hookgate::Verifier::aexo(secret),
            Scheme::Axifi => hookgate::Verifier::axifi(secret),
        }
        .map_err(|e| e.to_string())
    }
}

#[derive(Debug, clap::Args)]
struct SignArgs {
    /// The sender's scheme.
    #[arg(long, value_enum)]
    scheme: Scheme,
    /// The body to sign, byte for byte; standard input when absent or `-`.
    file: Option<PathBuf>,
    /// Print only the header value (for `curl -H "X-AEXO-Signature: $(...)"`).
    #[arg(long)]
    value_only: bool,
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
    let secret = args.secret.read()?;
    let body = read_input(args.file.as_ref())?;
    let secret = hookgate::Secret::new(secret).map_err(|e| e.to_string())?;
    let input = hookgate::scheme::SignInput::new(&body);
    for (name, value) in args.scheme.scheme().sign(&secret, &input) {
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
