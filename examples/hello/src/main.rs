//! The smallest guarded API. `cargo run -p hello`, then paste the printed `curl` commands.
//!
//! It signs its own tokens with a key generated at start: a development mode only.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use portcullis::testing::TestIssuer;
use portcullis::{Disclosure, Principal};
use tracing_subscriber::EnvFilter;

/// Any caller with a valid token.
#[portcullis::authenticated]
async fn me(principal: Principal) -> String {
    format!("hello, {}\n", principal.subject())
}

/// Only callers granted `greetings:admin`.
#[portcullis::requires_scope("greetings:admin")]
async fn admin(principal: Principal) -> String {
    format!("hello, administrator {}\n", principal.subject())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let issuer = TestIssuer::new();
    let verifier = issuer.verifier().realm("hello").disclosure(Disclosure::Development).build()?;
    let app = Router::new().route("/me", get(me)).route("/admin", get(admin)).with_state(verifier);

    let addr = std::env::var("HELLO_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let hour = Duration::from_secs(3600);
    let user = issuer.token("alice").expires_in(hour).sign();
    let administrator = issuer.token("root").scopes(["greetings:admin"]).expires_in(hour).sign();
    println!(
        "DEVELOPMENT MODE: a signing key was generated at start and the tokens below expire in \
         an hour. Never expose this server.\n\n\
         200  curl -i http://{addr}/me -H 'Authorization: Bearer {user}'\n\
         401  curl -i http://{addr}/me\n\
         401  curl -i http://{addr}/me -H 'Authorization: Bearer not.a.token'\n\
         403  curl -i http://{addr}/admin -H 'Authorization: Bearer {user}'\n\
         200  curl -i http://{addr}/admin -H 'Authorization: Bearer {administrator}'\n"
    );
    axum::serve(listener, app).with_graceful_shutdown(shutdown()).await?;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
