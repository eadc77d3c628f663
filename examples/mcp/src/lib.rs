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
//!   `insufficient_scope` with `scope="mcp:tools mcp:admin"` (all it needs), before rmcp
//!   dispatches the call, so that the client can step up its authorization. A client of the
//!   2026-07-28 protocol names the tool in its `Mcp-Name` header, and the 403 is decided from it
//!   without reading the body; the body must then agree with the headers (400, JSON-RPC error
//!   `-32020`, otherwise). An older client's body is read (at most [`MAX_BODY_BYTES`]) for the
//!   same decision. [`policy`] declares all of it with [`portcullis::mcp`];
//! - a 401 names the endpoint's scope (`scope="mcp:tools"`), which MCP clients request first;
//! - `tools/list` lists only the tools the caller may call: `usage` only to a caller with
//!   [`ADMIN_SCOPE`] (the guard filters rmcp's answer).
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
use axum::middleware;
use portcullis::mcp::{McpLayer, McpPolicy, McpPolicyError};
use portcullis::{Principal, Verifier};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CacheScope, ListToolsResult, PaginatedRequestParams, ProtocolVersion, ResultType,
    ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde_json::json;

mod sessions;

pub use sessions::{
    DEFAULT_MAX_SESSIONS_PER_OWNER, OwnedSessions, Owner, SessionError, sessions_of_their_owner,
};

/// The path of the MCP endpoint.
pub const MCP_PATH: &str = "/mcp";

portcullis::scopes! {
    /// The scopes of this server.
    pub enum Scope {
        /// Every request to the endpoint.
        Tools = "mcp:tools",
        /// The `usage` tool, on top of [`Scope::Tools`].
        Admin = "mcp:admin",
    }
}

/// The scope every request to the endpoint needs.
pub const TOOLS_SCOPE: &str = Scope::Tools.as_str();

/// The scope the `usage` tool needs beyond [`TOOLS_SCOPE`].
pub const ADMIN_SCOPE: &str = Scope::Admin.as_str();

/// Every scope this server uses, for the resource metadata's `scopes_supported`.
pub const SCOPES: [&str; 2] = [TOOLS_SCOPE, ADMIN_SCOPE];

/// The realm of the challenges.
pub const REALM: &str = "mcp";

/// Request bodies larger than this (1 MiB) are refused with 413 before they reach rmcp.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What this server requires: [`Scope::Tools`] for every request, named in the 401's `scope=`;
/// [`Scope::Admin`] too for the `usage` tool (its 403 names both).
pub fn policy() -> Result<McpPolicy, McpPolicyError> {
    McpPolicy::builder(&[Scope::Tools])
        .tool("usage", &[Scope::Admin])
        .max_body_bytes(MAX_BODY_BYTES)
        .challenge_scope_on_401(true)
        .build()
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
    /// Every tool: the guard ([`McpLayer`]) removes from the answer those the caller may not
    /// call. The list depends on the caller, which the 2026-07-28 cache hints say.
    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools = self.tool_router.list_all();
        let cache_hints = context
            .protocol_version()
            .is_some_and(|version| version >= ProtocolVersion::V_2026_07_28);
        Ok(ListToolsResult {
            result_type: Some(ResultType::COMPLETE),
            tools,
            meta: None,
            next_cursor: None,
            ttl_ms: cache_hints.then_some(0),
            // The list depends on the caller: no intermediary may serve it to another.
            cache_scope: cache_hints.then_some(CacheScope::Private),
        })
    }

    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_instructions("Tools guarded by portcullis: add and whoami need mcp:tools; usage also needs mcp:admin.")
    }
}

/// The whole application: the MCP endpoint at [`MCP_PATH`], behind `verifier` (built with
/// [`audience_is_resource`](portcullis::config::ResourceMetadata::audience_is_resource): its audience
/// and [resource](portcullis::config::ResourceMetadata::resource) are this server's resource URL; and
/// whose `scopes_supported` are [`SCOPES`]) and [`policy`], served with rmcp's `config`, each
/// session bound to the principal that opened it; and, public, the verifier's protected resource
/// metadata.
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
    // The declaration is constant: an error here is a bug of this file, caught by every test.
    #[allow(clippy::expect_used, reason = "a constant declaration, checked by the tests")]
    let policy = policy().expect("the example's policy is valid");
    let calls = Arc::new(AtomicU64::new(0));
    let mcp = StreamableHttpService::new(
        move || Ok(Tools::new(Arc::clone(&calls))),
        Arc::clone(&sessions),
        config.with_max_request_body_bytes(MAX_BODY_BYTES),
    );
    Router::new()
        .route_service(MCP_PATH, mcp)
        // Inner: a session only for the principal that opened it (404 for anyone else).
        .route_layer(middleware::from_fn_with_state(sessions, sessions_of_their_owner))
        // Outer: credentials, the endpoint's scope, each tool's, the headers' agreement with the
        // body; the principal and the policy go on in the request's extensions.
        .route_layer(McpLayer::new(verifier.clone(), policy))
        // After the layers, so that the document needs no token.
        .merge(verifier.metadata_router())
}
