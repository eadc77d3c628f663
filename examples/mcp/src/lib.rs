//! A Model Context Protocol server on streamable HTTP (the official `rmcp` SDK, on axum), guarded
//! by portcullis the way the MCP authorization specification asks of a protected MCP server:
//!
//! - every request to the endpoint ([`MCP_PATH`]) needs a valid access token whose audience is
//!   this server's resource URL, and the scope [`TOOLS_SCOPE`]: 401 with the `Bearer` challenge
//!   without one or for a token that is not accepted (`error="invalid_token"`), 403
//!   `insufficient_scope` with `scope="mcp:tools"` without the scope;
//! - with the verifier's [resource](portcullis::config::ResourceMetadata::resource) set to that URL, the
//!   RFC 9728 document is served (public) at the path derived from it,
//!   `/.well-known/oauth-protected-resource/mcp`, and every challenge names it in
//!   `resource_metadata`, which is how an MCP client finds the authorization server;
//! - the server accepts only tokens issued for it: its verifier is built with
//!   [`audience_is_resource`](portcullis::config::ResourceMetadata::audience_is_resource), so that the
//!   binary does not start unless the accepted audience is exactly the resource URL;
//! - an MCP session belongs to the principal (issuer and subject) that opened it: another
//!   caller naming its `Mcp-Session-Id` gets the 404 of an unknown session ([`OwnedSessions`]);
//! - a tool may need more: a `tools/call` of [`usage`](Tools) without [`ADMIN_SCOPE`] gets HTTP 403
//!   `insufficient_scope` with `scope="mcp:tools mcp:admin"` (all it needs), before rmcp dispatches the call, so that the
//!   client can step up its authorization.
//!
//! | tool | scopes | result |
//! |---|---|---|
//! | `add` | `mcp:tools` | the sum of two integers, as text |
//! | `whoami` | `mcp:tools` | the caller's subject and scopes, as JSON text |
//! | `usage` | `mcp:tools` and `mcp:admin` | how many tool calls this server has answered, as JSON text |
//!
//! [`router`] builds the whole application, so the tests drive exactly what the binary serves.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode};
use portcullis::{
    Principal, Problem, Verifier,
    authorization::{ScopeRequirement, ScopeRule},
    layer::RequireAuthLayer,
    response::DenialKind,
};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde_json::json;

mod peek;
mod sessions;

pub use sessions::{
    DEFAULT_MAX_SESSIONS_PER_OWNER, OwnedSessions, Owner, SessionError, sessions_of_their_owner,
};

/// The path of the MCP endpoint.
pub const MCP_PATH: &str = "/mcp";

/// The scope every request to the endpoint needs.
pub const TOOLS_SCOPE: &str = "mcp:tools";

/// The scope the `usage` tool needs beyond [`TOOLS_SCOPE`].
pub const ADMIN_SCOPE: &str = "mcp:admin";

/// Every scope this server uses, for the resource metadata's `scopes_supported`.
pub const SCOPES: [&str; 2] = [TOOLS_SCOPE, ADMIN_SCOPE];

/// The realm of the challenges.
pub const REALM: &str = "mcp";

/// Request bodies larger than this (1 MiB) are refused with 413 before they reach rmcp.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What every request to the endpoint requires.
const ENDPOINT_SCOPES: &[ScopeRule] = &[ScopeRule::All(&[TOOLS_SCOPE])];

/// What the `usage` tool requires: the endpoint's scope and its own. Both are named, so that the
/// 403's `scope` is everything the call needs: a client that asks the authorization server for
/// exactly the challenge's scopes (the MCP specification's step-up) keeps the endpoint's.
const USAGE_SCOPES: ScopeRequirement =
    ScopeRequirement::new(&[ScopeRule::All(&[TOOLS_SCOPE, ADMIN_SCOPE])]);

/// The tools that need more than the endpoint's scopes, with everything they need.
pub const TOOL_SCOPES: &[(&str, ScopeRequirement)] = &[("usage", USAGE_SCOPES)];

/// What calling the tool `name` requires, when it needs more than the endpoint's scopes; `None`
/// for a tool that needs nothing more (and for a tool that does not exist, which rmcp then refuses).
pub fn tool_requirement(name: &str) -> Option<&'static ScopeRequirement> {
    TOOL_SCOPES.iter().find(|(tool, _)| *tool == name).map(|(_, requirement)| requirement)
}

/// The arguments of `add`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct AddRequest {
    /// The first addend.
    pub a: i64,
    /// The second addend.
    pub b: i64,
}

/// The MCP server: its tools, and the count of calls they answered (shared by every session).
#[derive(Debug, Clone)]
pub struct Tools {
    tool_router: ToolRouter<Self>,
    calls: Arc<AtomicU64>,
}

impl Tools {
    /// A server counting its calls in `calls`.
    pub fn new(calls: Arc<AtomicU64>) -> Self {
        Self { tool_router: Self::tool_router(), calls }
    }

    fn count(&self) -> u64 {
        self.calls.fetch_add(1, Ordering::Relaxed) + 1
    }
}

#[tool_router]
impl Tools {
    /// Adds two integers.
    #[tool(description = "Adds two integers and returns the sum")]
    fn add(
        &self,
        Parameters(AddRequest { a, b }): Parameters<AddRequest>,
    ) -> Result<String, ErrorData> {
        self.count();
        a.checked_add(b)
            .map(|sum| sum.to_string())
            .ok_or_else(|| ErrorData::invalid_params("the sum does not fit in 64 bits", None))
    }

    /// The caller, as portcullis verified them.
    #[tool(description = "Tells who the caller is: the token's subject and granted scopes")]
    fn whoami(
        &self,
        Extension(parts): Extension<http::request::Parts>,
    ) -> Result<String, ErrorData> {
        self.count();
        let principal = parts
            .extensions
            .get::<Principal>()
            .ok_or_else(|| ErrorData::internal_error("the request carries no principal", None))?;
        let scopes: Vec<&str> = principal.scopes().iter().collect();
        Ok(json!({ "subject": principal.subject(), "scopes": scopes }).to_string())
    }

    /// How many tool calls this server has answered; needs [`ADMIN_SCOPE`].
    #[tool(
        description = "How many tool calls this server has answered since it started (needs mcp:admin)"
    )]
    fn usage(&self) -> String {
        json!({ "calls": self.count() }).to_string()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_instructions("Tools guarded by portcullis: add and whoami need mcp:tools; usage also needs mcp:admin.")
    }
}

/// The whole application: the MCP endpoint at [`MCP_PATH`], behind `verifier` (built with
/// [`audience_is_resource`](portcullis::config::ResourceMetadata::audience_is_resource): its audience
/// and [resource](portcullis::config::ResourceMetadata::resource) are this server's resource URL; and
/// whose `scopes_supported` are [`SCOPES`]), served with rmcp's `config`, each session bound to
/// the principal that opened it; and, public, the verifier's protected resource metadata.
pub fn router(verifier: Verifier, config: StreamableHttpServerConfig) -> Router {
    let sessions = Arc::new(OwnedSessions::new(LocalSessionManager::default()));
    router_with_sessions(verifier, config, sessions)
}

/// [`router`], with the session manager given: `sessions` (rmcp's
/// [`LocalSessionManager`], with the [`SessionConfig`](rmcp::transport::streamable_http_server::session::local::SessionConfig)
/// of your choice, bound to their owners) tells how many sessions are open.
pub fn router_with_sessions(
    verifier: Verifier,
    config: StreamableHttpServerConfig,
    sessions: Arc<OwnedSessions<LocalSessionManager>>,
) -> Router {
    let calls = Arc::new(AtomicU64::new(0));
    let mcp = StreamableHttpService::new(
        move || Ok(Tools::new(Arc::clone(&calls))),
        Arc::clone(&sessions),
        config.with_max_request_body_bytes(MAX_BODY_BYTES),
    );
    Router::new()
        .route_service(MCP_PATH, mcp)
        // Innermost: a session only for the principal that opened it (404 for anyone else).
        .route_layer(middleware::from_fn_with_state(sessions, sessions_of_their_owner))
        // Then the tools' own scopes, with the principal the outer layer verified.
        .route_layer(middleware::from_fn_with_state(verifier.clone(), tool_scopes))
        // Outer: valid credentials and the endpoint's scope, on every method.
        .route_layer(RequireAuthLayer::new(verifier.clone()).scopes(ENDPOINT_SCOPES))
        // After the layers, so that the document needs no token.
        .merge(verifier.metadata_router())
}

/// Refuses a `tools/call` of a tool whose scopes the caller lacks, with 403 `insufficient_scope`
/// naming them, before rmcp reads the request; and puts the caller's [`Principal`] in the request
/// extensions, where the tools find it (through rmcp's `http::request::Parts`).
///
/// The body is read whole (at most [`MAX_BODY_BYTES`]) and handed on unchanged. A body that is
/// not JSON-RPC this guard can read (not JSON, a repeated member, a tool name that is not a
/// string) is refused with 400 rather than passed on: what rmcp would make of it is not this
/// guard's to guess.
async fn tool_scopes(State(verifier): State<Verifier>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    // The principal the outer layer verified and cached: no second verification.
    let principal = match verifier.authenticate_once(&mut parts).await {
        Ok(principal) => principal,
        Err(denial) => return denial.into_response(),
    };
    let body = if parts.method == Method::POST {
        let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
            Ok(bytes) => bytes,
            Err(error) => return body_error(&error),
        };
        let Ok(called) = peek::called_tools(&bytes) else {
            return Problem::new(StatusCode::BAD_REQUEST)
                .with_detail("The body is not a JSON-RPC message")
                .into_response();
        };
        for name in called {
            if let Some(required) = tool_requirement(&name)
                && !principal.scopes().satisfy(required)
            {
                return principal.deny(DenialKind::InsufficientScope(*required)).into_response();
            }
        }
        Body::from(bytes)
    } else {
        body
    };
    parts.extensions.insert(principal);
    next.run(Request::from_parts(parts, body)).await
}

/// 413 for a body over the limit, 400 for one that could not be read.
fn body_error(error: &axum::Error) -> Response {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if current.is::<http_body_util::LengthLimitError>() {
            return Problem::new(StatusCode::PAYLOAD_TOO_LARGE)
                .with_detail("The body is larger than this server accepts")
                .into_response();
        }
        source = current.source();
    }
    Problem::new(StatusCode::BAD_REQUEST).with_detail("The body could not be read").into_response()
}
