//! Model Context Protocol servers, guarded before the body (feature `mcp`).
//!
//! An MCP server on Streamable HTTP has one endpoint, and what a request does (call a tool, get a
//! prompt, read a resource) is in its JSON-RPC body. Since the 2026-07-28 revision of the
//! specification (SEP-2243) every POST also says it in headers: `Mcp-Method`, `Mcp-Name`, and
//! the `Mcp-Param-{Name}` mirrors of a tool's annotated arguments, which the server must find to
//! agree with the body. [`McpLayer`] decides from these headers, before the body is read, with
//! the scopes an [`McpPolicy`] declares; then it reads the body and refuses one that disagrees.
//! A client of an earlier revision, which sends no such headers, gets the same decision from its
//! body.
//!
//! ```
//! use axum::{Router, routing::post};
//! use portcullis::Verifier;
//! use portcullis::mcp::{McpLayer, McpPolicy};
//!
//! portcullis::scopes! {
//!     /// The scopes of this MCP server.
//!     pub enum Scope {
//!         Tools = "mcp:tools",
//!         Admin = "mcp:admin",
//!     }
//! }
//!
//! # async fn mcp_service() {}
//! fn app(verifier: Verifier) -> Result<Router, portcullis::mcp::McpPolicyError> {
//!     let policy = McpPolicy::builder(&[Scope::Tools])
//!         .tool("usage", &[Scope::Admin])
//!         .challenge_scope_on_401(true)
//!         .build()?;
//!     Ok(Router::new()
//!         // In an application, the MCP SDK's service (rmcp's `StreamableHttpService`).
//!         .route("/mcp", post(mcp_service))
//!         .route_layer(McpLayer::new(verifier.clone(), policy))
//!         .merge(verifier.metadata_router()))
//! }
//! ```

mod events;
mod headers;
mod layer;
mod listing;
mod message;
mod mismatch;
mod owned;
mod policy;

pub use layer::{McpGuard, McpLayer};
pub use mismatch::HEADER_MISMATCH;
pub use policy::{DEFAULT_MAX_BODY_BYTES, McpPolicy, McpPolicyBuilder, McpPolicyError, Operation};
