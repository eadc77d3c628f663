//! `cargo run -p documents`: the documents API on `DOCUMENTS_ADDR` (default `127.0.0.1:3000`).
//!
//! With `PORTCULLIS_ISSUER` or `PORTCULLIS_JWKS_URL` set, tokens are verified with that identity
//! provider's keys (`PORTCULLIS_AUDIENCE`, `PORTCULLIS_REALM` and `PORTCULLIS_DISCLOSURE` apply
//! too); with `PORTCULLIS_INTROSPECTION_URL`, or `PORTCULLIS_INTROSPECTION_CLIENT_ID` and
//! `…_CLIENT_SECRET` beside `PORTCULLIS_ISSUER`, opaque tokens are accepted by introspection. With neither, the server runs in **development mode**: it generates a signing key,
//! mints tokens for two users and an administrator, and prints `curl` commands to try.

use std::process::ExitCode;
use std::time::Duration;

use documents::{AppState, DocumentInput, Scope, Store};
use portcullis::testing::TestIssuer;
use portcullis::{ConfigError, Disclosure, Verifier, VerifierBuilder, env};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

/// The listen address when `DOCUMENTS_ADDR` is not set.
const DEFAULT_ADDR: &str = "127.0.0.1:3000";

/// The realm of the challenges when `PORTCULLIS_REALM` is not set.
const REALM: &str = "documents";

/// The settings that name where tokens are verified (keys, or introspection). With none of them
/// set, the server runs in development mode on a key of its own.
const KEY_SETTINGS: [&str; 3] = [env::ISSUER, env::JWKS_URL, env::INTROSPECTION_URL];

/// How long the development tokens stay valid.
const DEV_TOKEN_LIFETIME: Duration = Duration::from_secs(60 * 60);

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,portcullis::denial=warn")),
        )
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("documents: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let addr = setting("DOCUMENTS_ADDR")?.unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    let store = match setting("DOCUMENTS_DB")? {
        Some(path) => {
            tracing::info!(path, "documents are stored in a SQLite file");
            Store::open(&path).map_err(|error| format!("DOCUMENTS_DB ({path}): {error}"))?
        }
        None => {
            tracing::info!("documents are stored in memory (set DOCUMENTS_DB to keep them)");
            Store::in_memory()?
        }
    };

    let development = !KEY_SETTINGS.iter().any(|var| std::env::var_os(var).is_some());
    let (verifier, dev_issuer) = if development {
        let issuer = TestIssuer::new()
            .with_issuer("https://documents.development.invalid")
            .with_audience("documents");
        (development_verifier(&issuer)?, Some(issuer))
    } else {
        (configured().map_err(|error| format!("configuration: {error}"))?.build()?, None)
    };

    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|error| format!("DOCUMENTS_ADDR ({addr}): {error}"))?;
    let local = listener.local_addr()?;
    if let Some(issuer) = dev_issuer {
        let welcome = welcome_document(&store).await?;
        println!("{}", development_instructions(&issuer, &format!("http://{local}"), welcome));
    }
    println!("Listening on http://{local} (Ctrl-C to stop)");
    tracing::info!(%local, development, "listening");

    axum::serve(listener, documents::router(AppState { verifier, store }))
        .with_graceful_shutdown(shutdown())
        .await?;
    tracing::info!("stopped");
    Ok(())
}

/// An environment variable, `None` when unset; an error when it is not UTF-8.
fn setting(var: &str) -> Result<Option<String>, String> {
    match std::env::var(var) {
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{var}: the value is not UTF-8")),
    }
}

/// The `PORTCULLIS_*` configuration, with this API's realm unless another one is set.
fn configured() -> Result<VerifierBuilder, ConfigError> {
    let builder = VerifierBuilder::from_env()?;
    Ok(if std::env::var_os(env::REALM).is_none() { builder.realm(REALM) } else { builder })
}

/// Development mode: the environment's settings, plus the generated key, its issuer and its
/// audience, and Development disclosure unless `PORTCULLIS_DISCLOSURE` says otherwise.
fn development_verifier(issuer: &TestIssuer) -> Result<Verifier, ConfigError> {
    let mut builder = configured()?
        .issuer(issuer.issuer())
        .audience(issuer.audience())
        .key(issuer.verification_key());
    if std::env::var_os(env::DISCLOSURE).is_none() {
        builder = builder.disclosure(Disclosure::Development);
    }
    builder.build()
}

/// The development user with every document scope.
const WRITER: &str = "alice";

/// The id of a document of [`WRITER`]'s, created if she has none, for the printed commands.
async fn welcome_document(store: &Store) -> Result<i64, documents::StoreError> {
    if let Some(existing) = store.list(WRITER).await?.first() {
        return Ok(existing.id);
    }
    let input = DocumentInput {
        title: "Welcome".to_owned(),
        body: "Created at start in development mode, for the printed curl commands.".to_owned(),
    };
    Ok(store.create(WRITER, input).await?.id)
}

/// The banner and the commands printed in development mode. Each command is preceded by a
/// comment starting with the status it gets when the commands run in order.
fn development_instructions(issuer: &TestIssuer, base: &str, welcome: i64) -> String {
    let token = |subject: &str, scopes: &[Scope]| {
        issuer
            .token(subject)
            .scopes(scopes.iter().map(|scope| scope.as_str()))
            .expires_in(DEV_TOKEN_LIFETIME)
            .sign()
    };
    let alice = token(WRITER, &[Scope::DocsRead, Scope::DocsWrite, Scope::DocsDelete]);
    let bob = token("bob", &[Scope::DocsRead]);
    let admin = token("admin", &[Scope::AdminRead]);
    let doc = format!("{base}/documents/{welcome}");
    let json = "-H 'Content-Type: application/json'";
    format!(
        "\
================================================================================
DEVELOPMENT MODE: for trying the API on this machine only. Never expose it.
No identity provider is configured (neither PORTCULLIS_ISSUER nor
PORTCULLIS_JWKS_URL is set), so this server generated a signing key at start and
minted the tokens below with it. They expire in one hour and die with the
server. Denials explain themselves (Development disclosure). To use a real
identity provider, see \"Run it against your identity provider\" in README.md.
================================================================================

Paste these into a shell:

export ALICE='{alice}'  # alice: docs:read docs:write docs:delete
export BOB='{bob}'  # bob: docs:read
export ADMIN='{admin}'  # admin: admin:read

Then try these, in this order; each comment gives the status you will see:

# 200: public, no token needed
curl -i {base}/health
# 401: no token; WWW-Authenticate names the realm
curl -i {base}/documents
# 401: a token that is not a JWT gets error=\"invalid_token\"
curl -i {base}/documents -H 'Authorization: Bearer not.a.token'
# 200: alice's documents; she has document {welcome}
curl -i {base}/documents -H \"Authorization: Bearer $ALICE\"
# 201: alice creates a document; Location names it
curl -i -X POST {base}/documents -H \"Authorization: Bearer $ALICE\" {json} -d '{{\"title\": \"Shopping list\", \"body\": \"milk, eggs\"}}'
# 200: alice searches the titles of her documents
curl -i '{base}/documents/search?q=Shopping' -H \"Authorization: Bearer $ALICE\"
# 400: search needs q; invalid-params says so
curl -i {base}/documents/search -H \"Authorization: Bearer $ALICE\"
# 200: alice replaces document {welcome}
curl -i -X PUT {doc} -H \"Authorization: Bearer $ALICE\" {json} -d '{{\"title\": \"Welcome back\", \"body\": \"Edited.\"}}'
# 400: a blank title; invalid-params names the field
curl -i -X POST {base}/documents -H \"Authorization: Bearer $ALICE\" {json} -d '{{\"title\": \"   \", \"body\": \"\"}}'
# 415: the body is not declared as JSON
curl -i -X POST {base}/documents -H \"Authorization: Bearer $ALICE\" -d 'title=form'
# 403: bob may read but not write; error=\"insufficient_scope\", scope=\"docs:write\"
curl -i -X POST {base}/documents -H \"Authorization: Bearer $BOB\" {json} -d '{{\"title\": \"Mine\", \"body\": \"\"}}'
# 404: bob asks for alice's document...
curl -i {doc} -H \"Authorization: Bearer $BOB\"
# 404: ...and gets the same answer as for one that does not exist
curl -i {base}/documents/0 -H \"Authorization: Bearer $BOB\"
# 200: bob's own documents: none
curl -i {base}/documents -H \"Authorization: Bearer $BOB\"
# 403: alice is no administrator
curl -i {base}/admin/stats -H \"Authorization: Bearer $ALICE\"
# 200: the administrator sees the counts
curl -i {base}/admin/stats -H \"Authorization: Bearer $ADMIN\"
# 204: alice deletes document {welcome}
curl -i -X DELETE {doc} -H \"Authorization: Bearer $ALICE\"
# 404: it is gone
curl -i {doc} -H \"Authorization: Bearer $ALICE\"
"
    )
}

/// Resolves on Ctrl-C or SIGTERM; the server then finishes the requests in flight and exits.
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
