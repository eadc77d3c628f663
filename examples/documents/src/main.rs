//! `cargo run -p documents`: the documents API on `DOCUMENTS_ADDR` (default `127.0.0.1:3000`).
//!
//! With `PORTCULLIS_ISSUER` or `PORTCULLIS_JWKS_URL` set, tokens are verified with that identity
//! provider's keys (`PORTCULLIS_AUDIENCE`, `PORTCULLIS_REALM` and `PORTCULLIS_DISCLOSURE` apply
//! too, and `PORTCULLIS_ROLES_CLAIM`, default `realm_access.roles`); with
//! `PORTCULLIS_INTROSPECTION_URL`, or `PORTCULLIS_INTROSPECTION_CLIENT_ID` and `…_CLIENT_SECRET`
//! beside `PORTCULLIS_ISSUER`, opaque tokens are accepted by introspection
//! (`PORTCULLIS_INTROSPECTION_MAX_CONCURRENT` bounds the calls in progress at once, default 32;
//! `PORTCULLIS_INTROSPECTION_TOKEN_PREFIX` names the prefixes of the provider's opaque tokens).
//!
//! With no `PORTCULLIS_*` variable at all, the server runs in **development mode**, on a loopback
//! address only: it generates a signing key, mints tokens for three users and an administrator,
//! and prints `curl` commands to try. Any `PORTCULLIS_*` variable means a real configuration
//! (never development mode), and a variable of `PORTCULLIS_*` or `DOCUMENTS_*` that is not one of
//! the known ones stops the start, so that a misspelt name cannot fall back to development mode.

use std::net::SocketAddr;
use std::process::ExitCode;

use documents::{
    AppState, DEFAULT_ROLES_CLAIM, DocumentInput, EXPORT_MAX_AGE, MFA, Role, Scope, Store,
};
use portcullis::config::ResourceMetadata;
use portcullis::development::{DEVELOPMENT_LIFETIME, DevelopmentIssuer};
use portcullis::{
    ConfigError, Verifier,
    config::{VerifierBuilder, env},
    response::Disclosure,
};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

/// The listen address.
const ADDR: &str = "DOCUMENTS_ADDR";

/// The SQLite file; in memory when not set.
const DB: &str = "DOCUMENTS_DB";

/// Every `DOCUMENTS_*` variable this program reads.
const DOCUMENTS_SETTINGS: [&str; 2] = [ADDR, DB];

/// The listen address when `DOCUMENTS_ADDR` is not set.
const DEFAULT_ADDR: &str = "127.0.0.1:3000";

/// The realm of the challenges when `PORTCULLIS_REALM` is not set.
const REALM: &str = "documents";

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
    let names: Vec<String> =
        std::env::vars_os().map(|(name, _)| name.to_string_lossy().into_owned()).collect();
    check_names(&names)?;
    // Development mode only when nothing of the configuration is set: any `PORTCULLIS_*`
    // variable means a real identity provider is meant, and a missing part of it is an error.
    let development = !names.iter().any(|name| name.starts_with(PORTCULLIS));
    let addr = setting(ADDR)?.unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    let configured = if development {
        None
    } else {
        let verifier = configured()
            .and_then(VerifierBuilder::build)
            .map_err(|error| format!("configuration: {error}"))?;
        // A discovery document naming another issuer is a configuration error: every token
        // would be refused. An unreachable provider is not: keys are fetched once it answers.
        verifier.check_issuers().await.map_err(|error| format!("configuration: {error}"))?;
        Some(verifier)
    };

    let listener =
        TcpListener::bind(&addr).await.map_err(|error| format!("{ADDR} ({addr}): {error}"))?;
    let local = listener.local_addr()?;
    let (verifier, dev_issuer) = match configured {
        Some(verifier) => (verifier, None),
        None => {
            // Checked on the address actually bound, so that a host name is judged by what it
            // resolved to.
            loopback_only(&addr, local)?;
            let issuer =
                DevelopmentIssuer::generate("https://documents.development.invalid", "documents");
            // The resource identifier is the address bound: known only now.
            (development_verifier(&issuer, &format!("http://{local}"))?, Some(issuer))
        }
    };
    let store = match setting(DB)? {
        Some(path) => {
            tracing::info!(path, "documents are stored in a SQLite file");
            Store::open(&path).map_err(|error| format!("{DB} ({path}): {error}"))?
        }
        None => {
            tracing::info!("documents are stored in memory (set DOCUMENTS_DB to keep them)");
            Store::in_memory()?
        }
    };
    if let Some(issuer) = dev_issuer {
        let welcome = welcome_document(&store).await?;
        let base = format!("http://{local}");
        let metadata = verifier.resource_metadata_url().unwrap_or_default();
        println!("{}", development_instructions(&issuer, &base, metadata, welcome));
    }
    println!("Listening on http://{local} (Ctrl-C to stop)");
    tracing::info!(%local, development, "listening");

    let metrics = documents::operations::install_metrics()?;
    let app = documents::router(AppState { verifier, store })
        .merge(documents::operations::metrics_router(metrics));
    axum::serve(listener, app).with_graceful_shutdown(shutdown()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// The prefix of the verifier's variables ([`env::ALL`]).
const PORTCULLIS: &str = "PORTCULLIS_";

/// The prefix of this program's own variables ([`DOCUMENTS_SETTINGS`]).
const DOCUMENTS: &str = "DOCUMENTS_";

/// Refuses a `PORTCULLIS_*` or `DOCUMENTS_*` variable that is none of the known ones: a typo
/// (`PORTCULLIS_ISUER`) would otherwise be ignored, and could even leave development mode on.
fn check_names(names: &[String]) -> Result<(), String> {
    let families: [(&str, &[&str]); 2] = [(PORTCULLIS, env::ALL), (DOCUMENTS, &DOCUMENTS_SETTINGS)];
    for name in names {
        for (prefix, known) in families {
            // In any case: `portcullis_issuer` is a typo too, not a reason for development mode.
            let has_prefix =
                name.get(..prefix.len()).is_some_and(|start| start.eq_ignore_ascii_case(prefix));
            if has_prefix && !known.contains(&name.as_str()) {
                return Err(format!(
                    "{name}: unknown setting; the known {prefix}* settings are {}",
                    known.join(", ")
                ));
            }
        }
    }
    Ok(())
}

/// Development mode listens on loopback only: its tokens are for this machine.
fn loopback_only(addr: &str, local: SocketAddr) -> Result<(), String> {
    if local.ip().to_canonical().is_loopback() {
        return Ok(());
    }
    Err(format!(
        "{ADDR} ({addr}): development mode (no PORTCULLIS_* variable is set) listens on a \
         loopback address only, since the tokens it prints are for this machine only; listen on \
         127.0.0.1 or [::1], or configure an identity provider (PORTCULLIS_ISSUER, \
         PORTCULLIS_AUDIENCE, ...; see README.md)"
    ))
}

/// An environment variable, `None` when unset; an error when it is not UTF-8.
fn setting(var: &str) -> Result<Option<String>, String> {
    match std::env::var(var) {
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{var}: the value is not UTF-8")),
    }
}

/// The `PORTCULLIS_*` configuration, with this API's realm, roles claim and supported scopes
/// unless others are set: the environment is applied over what the code set, so a variable
/// wins. `PORTCULLIS_RESOURCE` turns the RFC 9728 metadata on.
fn configured() -> Result<VerifierBuilder, ConfigError> {
    VerifierBuilder::new()
        .realm(REALM)
        .role_claims([DEFAULT_ROLES_CLAIM])
        .resource_metadata(ResourceMetadata::new().scopes_supported(Scope::ALL))
        .with_env(|name| std::env::var_os(name))
}

/// Development mode (no `PORTCULLIS_*` variable is set): this API's realm, roles claim and
/// supported scopes, the generated key, its issuer and its audience, Development disclosure,
/// and `resource` (the loopback address bound) as the resource identifier.
fn development_verifier(
    issuer: &DevelopmentIssuer,
    resource: &str,
) -> Result<Verifier, ConfigError> {
    issuer
        .verifier()
        .realm(REALM)
        .role_claims([DEFAULT_ROLES_CLAIM])
        .resource_metadata(ResourceMetadata::new().scopes_supported(Scope::ALL).resource(resource))
        .disclosure(Disclosure::Development)
        .build()
}

/// The development user with every document scope.
const WRITER: &str = "alice";

/// The id of a document of [`WRITER`]'s, created if she has none, for the printed commands.
async fn welcome_document(store: &Store) -> Result<i64, documents::StoreError> {
    if let Some(existing) = store.page(WRITER, None, 1).await?.documents.first() {
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
fn development_instructions(
    issuer: &DevelopmentIssuer,
    base: &str,
    metadata: &str,
    welcome: i64,
) -> String {
    let roles_claim = DEFAULT_ROLES_CLAIM;
    let token = |subject: &str, scopes: &[Scope], verified: bool, roles: &[Role]| {
        issuer
            .token(subject)
            .scopes(scopes.iter().map(|scope| scope.as_str()))
            .claim("email_verified", verified)
            .roles_at(roles_claim, roles.iter().map(|role| role.as_str()))
            .expires_in(DEVELOPMENT_LIFETIME)
            .sign()
    };
    let all = [Scope::DocsRead, Scope::DocsWrite, Scope::DocsDelete];
    let alice = token(WRITER, &all, true, &[]);
    let bob = token("bob", &all, true, &[]);
    let carol = token("carol", &[Scope::DocsRead, Scope::DocsWrite], false, &[]);
    let admin = token("admin", &[Scope::AdminRead], true, &[Role::DocumentsAdmin]);
    // Alice again, signed in with multi-factor (`acr`) just now, and once before the export's
    // maximum age: for the step-up route.
    let signed_in = |ago: u64| {
        issuer
            .token(WRITER)
            .scopes([Scope::DocsRead.as_str()])
            .signed_in(Some(MFA), std::time::Duration::from_secs(ago))
            .expires_in(DEVELOPMENT_LIFETIME)
            .sign()
    };
    let alice_mfa = signed_in(0);
    let alice_mfa_old = signed_in(2 * EXPORT_MAX_AGE);
    let doc = format!("{base}/documents/{welcome}");
    let json = "-H 'Content-Type: application/json'";
    let (old_minutes, max_minutes) = (2 * EXPORT_MAX_AGE / 60, EXPORT_MAX_AGE / 60);
    format!(
        "\
================================================================================
DEVELOPMENT MODE: for trying the API on this machine only. Never expose it.
No PORTCULLIS_* variable is set, so this server generated a signing key at
start, listens on loopback only, and minted the tokens below with it.
THE TOKENS ARE FOR THIS MACHINE ONLY: whoever reads them can call this server
as these users (one is an administrator) until they expire in one hour or the
server stops. Keep this output out of shared logs. Denials explain themselves
(Development disclosure). To use a real identity provider, see
\"Run it against your identity provider\" in README.md.
================================================================================

Paste these into a shell:

export ALICE='{alice}'  # alice: docs:read docs:write docs:delete, e-mail verified
export BOB='{bob}'  # bob: docs:read docs:write docs:delete, e-mail verified
export CAROL='{carol}'  # carol: docs:read docs:write, e-mail not verified
export ADMIN='{admin}'  # admin: admin:read, role documents-admin (in {roles_claim})
export ALICE_MFA='{alice_mfa}'  # alice: docs:read, signed in with multi-factor (acr {MFA}) at start
export ALICE_MFA_OLD='{alice_mfa_old}'  # the same, signed in {old_minutes} minutes before start

Protected resource metadata (RFC 9728), which every 401 names in resource_metadata:
{metadata}

Then try these, in this order; each comment gives the status you will see:

# 200: public, no token needed
curl -i {base}/health
# 401: no token; WWW-Authenticate names the realm and the resource metadata
curl -i {base}/documents
# 200: the resource metadata: the authorization server and the scopes to ask it for
curl -i {metadata}
# 401: a token that is not a JWT gets error=\"invalid_token\"
curl -i {base}/documents -H 'Authorization: Bearer not.a.token'
# 200: alice's documents; she has document {welcome}
curl -i {base}/documents -H \"Authorization: Bearer $ALICE\"
# 201: alice creates a document; Location names it
curl -i -X POST {base}/documents -H \"Authorization: Bearer $ALICE\" {json} -d '{{\"title\": \"Shopping list\", \"body\": \"milk, eggs\"}}'
# 200: one document per page; the Link header names the next page
curl -i '{base}/documents?limit=1' -H \"Authorization: Bearer $ALICE\"
# 400: an unknown parameter; invalid-params names it
curl -i '{base}/documents?page=2' -H \"Authorization: Bearer $ALICE\"
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
# 403: carol may read and write but not delete; error=\"insufficient_scope\", scope=\"docs:delete\"
curl -i -X DELETE {doc} -H \"Authorization: Bearer $CAROL\"
# 404: carol asks for alice's document...
curl -i {doc} -H \"Authorization: Bearer $CAROL\"
# 404: ...and gets the same answer as for one that does not exist
curl -i {base}/documents/0 -H \"Authorization: Bearer $CAROL\"
# 200: carol's own documents: none
curl -i {base}/documents -H \"Authorization: Bearer $CAROL\"
# 403: alice is no administrator
curl -i {base}/admin/stats -H \"Authorization: Bearer $ALICE\"
# 200: the administrator sees the counts
curl -i {base}/admin/stats -H \"Authorization: Bearer $ADMIN\"
# 200: who am I? Without a token: {{\"subject\": null}}
curl -i {base}/whoami
# 200: with a token: the subject and the scopes
curl -i {base}/whoami -H \"Authorization: Bearer $ALICE\"
# 401: credentials are optional, but an invalid token is still refused
curl -i {base}/whoami -H 'Authorization: Bearer not.a.token'
# 400: two Authorization headers; error=\"invalid_request\"
curl -i {base}/whoami -H \"Authorization: Bearer $ALICE\" -H \"Authorization: Bearer $BOB\"
# 403: carol's e-mail address is not verified: insufficient_scope, no scope= (policy)
curl -i -X PUT {doc}/shares/dave -H \"Authorization: Bearer $CAROL\"
# 204: alice shares document {welcome} with bob
curl -i -X PUT {doc}/shares/bob -H \"Authorization: Bearer $ALICE\"
# 200: bob reads it now
curl -i {doc} -H \"Authorization: Bearer $BOB\"
# 403: but may not change it: no WWW-Authenticate, no other token would help
curl -i -X PUT {doc} -H \"Authorization: Bearer $BOB\" {json} -d '{{\"title\": \"Mine now\", \"body\": \"\"}}'
# 403: nor delete it: no WWW-Authenticate
curl -i -X DELETE {doc} -H \"Authorization: Bearer $BOB\"
# 403: nor share it onwards: no WWW-Authenticate
curl -i -X PUT {doc}/shares/carol -H \"Authorization: Bearer $BOB\"
# 404: carol, with whom it is not shared, still gets the same 404
curl -i {doc} -H \"Authorization: Bearer $CAROL\"
# 200: the documents-admin role lists every document
curl -i {base}/admin/documents -H \"Authorization: Bearer $ADMIN\"
# 403: alice lacks the role: insufficient_scope, no scope=
curl -i {base}/admin/documents -H \"Authorization: Bearer $ALICE\"
# 204: alice stops sharing it with bob
curl -i -X DELETE {doc}/shares/bob -H \"Authorization: Bearer $ALICE\"
# 404: bob gets the 404 again
curl -i {doc} -H \"Authorization: Bearer $BOB\"
# 401: exporting everything needs a multi-factor sign-in: insufficient_user_authentication, acr_values and max_age
curl -i {base}/documents/export -H \"Authorization: Bearer $ALICE\"
# 401: and a recent one: signed in with multi-factor {old_minutes} minutes ago is too long ago
curl -i {base}/documents/export -H \"Authorization: Bearer $ALICE_MFA_OLD\"
# 200: every document of alice's, for {max_minutes} minutes after the server started
curl -i {base}/documents/export -H \"Authorization: Bearer $ALICE_MFA\"
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
