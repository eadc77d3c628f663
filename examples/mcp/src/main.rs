//! `cargo run -p mcp`: the guarded MCP server on `MCP_ADDR` (default `127.0.0.1:3001`), its
//! endpoint at `/mcp`.
//!
//! With `PORTCULLIS_ISSUER` or `PORTCULLIS_JWKS_URL` set, tokens are verified with that identity
//! provider's keys; `PORTCULLIS_RESOURCE` must then be this server's resource URL (the RFC 9728
//! metadata's `resource`, which every challenge names), and `PORTCULLIS_AUDIENCE` exactly that
//! URL and nothing else (the MCP authorization specification forbids accepting a token issued for
//! another resource): otherwise the server does not start. `MCP_ALLOWED_HOSTS` (comma-separated)
//! names the `Host` values rmcp accepts beside loopback.
//!
//! With no `PORTCULLIS_*` variable at all, the server runs in **development mode**, on a loopback
//! address only: it generates a signing key, mints two tokens whose audience is
//! `http://<address>/mcp`, and prints commands to try. A `PORTCULLIS_*` or `MCP_*` variable that
//! is not one of the known ones stops the start.

use std::net::SocketAddr;
use std::process::ExitCode;

use mcp::{ADMIN_SCOPE, MCP_PATH, REALM, SCOPES, TOOLS_SCOPE};
use portcullis::config::ResourceMetadata;
use portcullis::development::{DEVELOPMENT_LIFETIME, DevelopmentIssuer};
use portcullis::{
    config::{VerifierBuilder, env},
    response::Disclosure,
};
use rmcp::transport::streamable_http_server::StreamableHttpServerConfig;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

/// The listen address.
const ADDR: &str = "MCP_ADDR";

/// More `Host` values to accept than the loopback ones.
const ALLOWED_HOSTS: &str = "MCP_ALLOWED_HOSTS";

/// Every `MCP_*` variable this program reads.
const MCP_SETTINGS: [&str; 2] = [ADDR, ALLOWED_HOSTS];

/// The listen address when `MCP_ADDR` is not set.
const DEFAULT_ADDR: &str = "127.0.0.1:3001";

/// The prefix of the verifier's variables ([`env::ALL`]).
const PORTCULLIS: &str = "PORTCULLIS_";

/// The prefix of this program's own variables ([`MCP_SETTINGS`]).
const MCP: &str = "MCP_";

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
            eprintln!("mcp: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let names: Vec<String> =
        std::env::vars_os().map(|(name, _)| name.to_string_lossy().into_owned()).collect();
    check_names(&names)?;
    let development = !names.iter().any(|name| name.starts_with(PORTCULLIS));
    let addr = setting(ADDR)?.unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    let listener =
        TcpListener::bind(&addr).await.map_err(|error| format!("{ADDR} ({addr}): {error}"))?;
    let local = listener.local_addr()?;
    // The resource URL, which development tokens name as their audience.
    let resource = format!("http://{local}{MCP_PATH}");

    let (verifier, dev_issuer) = if development {
        loopback_only(&addr, local)?;
        let issuer = DevelopmentIssuer::generate("https://mcp.development.invalid", &resource);
        let verifier = issuer
            .verifier()
            .realm(REALM)
            .resource_metadata(metadata().resource(&resource))
            .disclosure(Disclosure::Development)
            .build()?;
        (verifier, Some(issuer))
    } else {
        // The MCP authorization specification requires the metadata document and a 401 that
        // names it (so a resource URL), and forbids accepting a token issued for another
        // resource: `audience_is_resource` refuses to build without PORTCULLIS_RESOURCE, or
        // unless PORTCULLIS_AUDIENCE is exactly that URL.
        let verifier = VerifierBuilder::new()
            .realm(REALM)
            .resource_metadata(metadata())
            .with_env(|name| std::env::var_os(name))
            .and_then(VerifierBuilder::build)
            .map_err(|error| format!("configuration: {error}"))?;
        verifier.check_issuers().await.map_err(|error| format!("configuration: {error}"))?;
        (verifier, None)
    };

    let shutdown_token = CancellationToken::new();
    let mut config =
        StreamableHttpServerConfig::default().with_cancellation_token(shutdown_token.child_token());
    if let Some(hosts) = setting(ALLOWED_HOSTS)? {
        let mut allowed = config.allowed_hosts.clone();
        allowed.extend(
            hosts.split(',').map(str::trim).filter(|host| !host.is_empty()).map(String::from),
        );
        config = config.with_allowed_hosts(allowed);
    }
    if let Some(issuer) = dev_issuer {
        let metadata = verifier.resource_metadata_url().unwrap_or_default().to_owned();
        println!("{}", development_instructions(&issuer, &resource, &metadata));
    }
    println!("MCP endpoint: {resource} (Ctrl-C to stop)");
    tracing::info!(%local, development, "listening");

    axum::serve(listener, mcp::router(verifier, config))
        .with_graceful_shutdown(async move {
            shutdown().await;
            // Ends rmcp's open event streams, which would otherwise keep the server waiting.
            shutdown_token.cancel();
        })
        .await?;
    tracing::info!("stopped");
    Ok(())
}

/// The metadata of this MCP server: its tools' scopes, and the MCP authorization specification's
/// audience rule (only tokens issued for this server's URL).
fn metadata() -> ResourceMetadata {
    ResourceMetadata::new().scopes_supported(SCOPES).audience_is_resource()
}

/// Refuses a `PORTCULLIS_*` or `MCP_*` variable that is none of the known ones: a typo would
/// otherwise be ignored, and could even leave development mode on.
fn check_names(names: &[String]) -> Result<(), String> {
    let families: [(&str, &[&str]); 2] = [(PORTCULLIS, env::ALL), (MCP, &MCP_SETTINGS)];
    for name in names {
        for (prefix, known) in families {
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
         loopback address only, since the tokens it prints are for this machine only"
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

/// The banner, the tokens and the commands printed in development mode.
fn development_instructions(issuer: &DevelopmentIssuer, resource: &str, metadata: &str) -> String {
    let token = |subject: &str, scopes: &[&str]| {
        issuer.token(subject).scopes(scopes).expires_in(DEVELOPMENT_LIFETIME).sign()
    };
    let user = token("alice", &[TOOLS_SCOPE]);
    let admin = token("admin", &[TOOLS_SCOPE, ADMIN_SCOPE]);
    let post = format!(
        "curl -i -X POST {resource} -H 'Content-Type: application/json' \
         -H 'Accept: application/json, text/event-stream'"
    );
    let usage = r#"'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"usage","arguments":{}}}'"#;
    format!(
        "\
================================================================================
DEVELOPMENT MODE: for trying the server on this machine only. Never expose it.
No PORTCULLIS_* variable is set, so this server generated a signing key at
start, listens on loopback only, and minted the tokens below with it (audience
{resource}). Whoever reads them can call this server until they expire in one
hour or the server stops. Denials explain themselves (Development disclosure).
================================================================================

export USER_TOKEN='{user}'  # alice: {TOOLS_SCOPE}
export ADMIN_TOKEN='{admin}'  # admin: {TOOLS_SCOPE} {ADMIN_SCOPE}

Connect an MCP client (streamable HTTP) to {resource} with the header
`Authorization: Bearer $USER_TOKEN`: it lists the tools add, whoami and usage;
it lists add and whoami, which answer; a call of usage gets HTTP 403
insufficient_scope (scope=\"{TOOLS_SCOPE} {ADMIN_SCOPE}\"). With $ADMIN_TOKEN, it lists and
answers usage too. Or with curl:

# 200: the protected resource metadata (RFC 9728), public
curl -i {metadata}
# 401: no token; WWW-Authenticate names the realm, the scope to ask for and, in
# resource_metadata, the document
{post} -d '{{}}'
# 403: alice lacks {ADMIN_SCOPE}: error=\"insufficient_scope\", scope=\"{TOOLS_SCOPE} {ADMIN_SCOPE}\";
# decided from the 2026-07-28 headers Mcp-Method and Mcp-Name, before the body is read
{post} -H \"Authorization: Bearer $USER_TOKEN\" -H 'Mcp-Method: tools/call' -H 'Mcp-Name: usage' -d {usage}
"
    )
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
