//! TLS termination with rustls; the certificate is re-read on SIGHUP.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

/// The current TLS configuration; [`reload`](Self::reload) swaps it.
#[derive(Debug, Clone)]
pub(crate) struct Certs {
    cert: PathBuf,
    key: PathBuf,
    current: Arc<RwLock<Arc<ServerConfig>>>,
}

fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("certificate {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "certificate {}: no certificate in the file",
            cert.display()
        ));
    }
    let key =
        PrivateKeyDer::from_pem_file(key).map_err(|e| format!("key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("certificate and key do not fit: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

impl Certs {
    /// Loads the certificate chain and key (PEM).
    pub(crate) fn load(cert: &Path, key: &Path) -> Result<Self, String> {
        let config = server_config(cert, key)?;
        Ok(Self {
            cert: cert.to_owned(),
            key: key.to_owned(),
            current: Arc::new(RwLock::new(config)),
        })
    }

    /// The configuration new connections use.
    pub(crate) fn current(&self) -> Arc<ServerConfig> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Re-reads the files; on failure keeps serving the old certificate.
    pub(crate) fn reload(&self) {
        match server_config(&self.cert, &self.key) {
            Ok(config) => {
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = config;
                tracing::info!(cert = %self.cert.display(), "TLS certificate reloaded");
            }
            Err(error) => {
                tracing::error!(%error, "TLS certificate reload failed; still serving the previous one");
            }
        }
    }
}

impl hookgate_axum::serve::Handshake for Certs {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;

    async fn handshake(&self, tcp: tokio::net::TcpStream) -> std::io::Result<Self::Io> {
        tokio_rustls::TlsAcceptor::from(self.current())
            .accept(tcp)
            .await
    }

    fn is_tls(&self) -> bool {
        true
    }
}
