//! `--scheme S`, and `--scheme-config FILE` with `--scheme hmac`: the
//! sender's scheme for `sign`, `send` and `verify`.

use std::path::PathBuf;
use std::sync::Arc;

use crate::Scheme;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct SchemeArgs {
    /// The sender's scheme; `hmac` for any other HMAC sender, described by --scheme-config.
    #[arg(long, value_enum)]
    scheme: Scheme,
    /// With --scheme hmac: a TOML file with the keys of `hookgate serve`'s
    /// [route.hmac] table, at the top level (name, header, algorithm,
    /// encoding, prefix, list_separator, signed, timestamp, id, event, data).
    #[arg(long, value_name = "FILE")]
    scheme_config: Option<PathBuf>,
}

/// A scheme as chosen on the command line: the flag, and the scheme itself.
#[derive(Clone)]
pub(crate) struct Chosen {
    pub(crate) kind: Scheme,
    pub(crate) scheme: Arc<dyn hookgate::scheme::Scheme>,
}

impl std::fmt::Debug for Chosen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chosen")
            .field("kind", &self.kind)
            .field("scheme", &self.scheme.name())
            .finish()
    }
}

impl SchemeArgs {
    /// The scheme; a `--scheme-config` that is missing, misplaced or wrong
    /// is refused with the reason (and the file's line, where there is one).
    pub(crate) fn resolve(&self) -> Result<Chosen, String> {
        let scheme = match (self.scheme, &self.scheme_config) {
            (Scheme::Hmac, Some(path)) => crate::serve::hmac_scheme_file(path)?,
            (Scheme::Hmac, None) => {
                return Err(
                    "--scheme hmac needs --scheme-config FILE: a TOML file with the keys \
                     of hookgate serve's [route.hmac] table (name, header, signed, ...)"
                        .into(),
                )
            }
            (named, None) => named
                .builtin()
                .ok_or_else(|| format!("{} is not a built-in scheme", named.name()))?,
            (named, Some(_)) => {
                return Err(format!(
                    "--scheme-config describes an HMAC sender for --scheme hmac; {} is built in, \
                     remove --scheme-config",
                    named.name()
                ))
            }
        };
        Ok(Chosen {
            kind: self.scheme,
            scheme,
        })
    }
}

impl Chosen {
    /// A verifier; `url` is the URL the sender called, for the schemes
    /// that sign it (its query, if any, is the request's).
    pub(crate) fn verifier(
        &self,
        secret: &str,
        url: Option<&str>,
    ) -> Result<hookgate::Verifier, String> {
        let secrets = hookgate::Secrets::single(secret).map_err(|e| e.to_string())?;
        let scheme = self.scheme.clone();
        let signs_url = scheme.signs_url();
        match url {
            Some(url) if signs_url => {
                let base = url.split_once('?').map_or(url, |(base, _)| base);
                hookgate::Verifier::with_public_url(scheme, secrets, base)
            }
            _ => hookgate::Verifier::new(scheme, secrets),
        }
        .map_err(|e| match url {
            None if signs_url => format!("{e} (give --url, the URL the sender called)"),
            _ => e.to_string(),
        })
    }
}
