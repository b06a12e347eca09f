//! Where the CLI takes a secret from: an environment variable or a file,
//! never a command-line argument (which `ps` and shell history would show).

use std::path::PathBuf;

use clap::Args;

/// The default variable holding the secret.
pub(crate) const DEFAULT_SECRET_ENV: &str = "HOOKGATE_SECRET";

#[derive(Debug, Clone, Args)]
pub(crate) struct SecretArgs {
    /// Environment variable that holds the secret.
    #[arg(long, value_name = "VAR", default_value = DEFAULT_SECRET_ENV)]
    secret_env: String,
    /// File that holds the secret (a trailing newline is ignored); wins over --secret-env.
    #[arg(long, value_name = "PATH")]
    secret_file: Option<PathBuf>,
}

impl SecretArgs {
    /// The secret, or a message saying where it was looked for.
    pub(crate) fn read(&self) -> Result<String, String> {
        let secret = match &self.secret_file {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the secret file {}: {e}", path.display()))?
                .trim_end_matches(['\r', '\n'])
                .to_owned(),
            None => std::env::var(&self.secret_env).map_err(|_| {
                format!(
                    "the secret is not set: export {}=<secret>, or pass --secret-file PATH \
                     (secrets are never taken from the command line)",
                    self.secret_env
                )
            })?,
        };
        if secret.trim().is_empty() {
            return Err("the secret is empty; hookgate refuses an empty secret".into());
        }
        Ok(secret)
    }
}
