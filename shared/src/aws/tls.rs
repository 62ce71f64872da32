//! The one TLS stack of the functions: rustls on ring, for the AWS clients and the collector's
//! HTTP sources alike (the SDKs' default client would link aws-lc-rs beside it).

use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_http_client::Builder;
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// The HTTPS client every AWS client of a process shares (connection pool included).
pub fn https_client() -> SharedHttpClient {
    Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// Makes ring the process's default rustls provider, which `reqwest` (built without a provider
/// of its own) uses. Idempotent: a provider already installed is kept.
pub fn install_default_provider() {
    // `Err` only when one is installed already, which is what is wanted.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
