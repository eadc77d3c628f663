//! Keys fetched over TLS, on whichever crypto backend the build enabled (`aws-lc-rs`: reqwest's
//! rustls on aws-lc-rs; `rust-crypto`: rustls on graviola): a JWKS served over HTTPS by servers on
//! loopback (rustls on graviola) whose certificates a test CA signed is fetched and its key
//! verifies a token, over TLS 1.3 with a P-256 certificate and over TLS 1.2 with an RSA one; a
//! server whose certificate nobody signed is refused (the chain is checked, not only the
//! handshake).
//!
//! The client trusts the platform's roots, read from `SSL_CERT_FILE` when it is set: this binary
//! (no test harness) runs itself again with `SSL_CERT_FILE` naming the test CA, so that the CA is
//! the only root, in a process of its own.

#![allow(clippy::unwrap_used, reason = "a test: a panic is a failed test")]

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use portcullis::Verifier;
use portcullis::testing::{TEST_AUDIENCE, TEST_ISSUER, TestIssuer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Set in the child process, which runs the checks.
const CHILD: &str = "PORTCULLIS_HTTPS_KEYS_CHILD";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn main() {
    if std::env::var_os(CHILD).is_none() {
        let status = Command::new(std::env::current_exe().unwrap())
            .env(CHILD, "1")
            .env("SSL_CERT_FILE", fixture("ca.pem"))
            .env_remove("SSL_CERT_DIR")
            .status()
            .unwrap();
        assert!(status.success(), "the checks failed: {status}");
        return;
    }
    let backend = if cfg!(feature = "aws-lc-rs") { "aws-lc-rs" } else { "rust-crypto" };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let issuer = TestIssuer::eddsa();
        let jwks = issuer.jwks().to_string();
        let token = issuer.token("alice").sign();

        let tls13_ec = serve("tls-ec", &[&rustls::version::TLS13], jwks.clone()).await;
        assert_eq!(authenticate(tls13_ec, &token).await, Ok("alice".to_owned()), "{backend}");
        println!("{backend}: TLS 1.3, P-256 certificate: the key is fetched");

        let tls12_rsa = serve("tls-rsa", &[&rustls::version::TLS12], jwks.clone()).await;
        assert_eq!(authenticate(tls12_rsa, &token).await, Ok("alice".to_owned()), "{backend}");
        println!("{backend}: TLS 1.2, RSA certificate: the key is fetched");

        let untrusted = serve("tls-untrusted", rustls::DEFAULT_VERSIONS, jwks).await;
        assert!(authenticate(untrusted, &token).await.is_err(), "{backend}");
        println!("{backend}: a certificate of no trusted CA: refused");
    });
}

/// The subject of `token` as a verifier with keys from `https://127.0.0.1:{port}` sees it.
async fn authenticate(port: u16, token: &str) -> Result<String, String> {
    let verifier = Verifier::builder()
        .issuer(TEST_ISSUER)
        .audience(TEST_AUDIENCE)
        .jwks_url(format!("https://127.0.0.1:{port}/jwks.json"))
        .build()
        .unwrap();
    let request = http::Request::get("/me")
        .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
        .body(())
        .unwrap();
    let parts = request.into_parts().0;
    match verifier.authenticate(&parts).await {
        Ok(principal) => Ok(principal.subject().to_owned()),
        Err(denial) => Err(format!("{denial:?}")),
    }
}

/// Serves `body` as JSON over TLS (rustls on graviola, `versions` only) with the certificate
/// `{name}.pem`, to every connection; returns the port.
async fn serve(
    name: &str,
    versions: &[&'static rustls::SupportedProtocolVersion],
    body: String,
) -> u16 {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(fixture(&format!("{name}.pem")))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_file(fixture(&format!("{name}.key"))).unwrap();
    let config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls_graviola::default_provider()))
            .with_protocol_versions(versions)
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let acceptor = acceptor.clone();
            let body = body.clone();
            tokio::spawn(async move {
                // A refused handshake is the client's choice: nothing to answer.
                let Ok(mut tls) = acceptor.accept(stream).await else { return };
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}
