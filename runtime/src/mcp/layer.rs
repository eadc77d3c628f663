//! [`McpLayer`]: the guard of an MCP endpoint, as a tower layer in front of the MCP server.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Limited};
use serde_json::Value;
use tower::{Layer, Service};

use super::headers::{self, Claimed};
use super::listing::{ListRequests, Visibility};
use super::message::{Incoming, Message, Params};
use super::mismatch::{Mismatch, body_error, unreadable};
use super::policy::{McpPolicy, Operation};
use crate::principal::Principal;
use crate::respond::{Denial, DenialKind, offer_dpop_nonce};
use crate::verify::Verifier;

/// A tower layer that guards an MCP endpoint (Streamable HTTP) with an [`McpPolicy`]; add it
/// with `Router::route_layer` on the route of the MCP service.
///
/// For every request: valid credentials (401, with `scope=` when the policy says so) and the
/// endpoint's scopes (403). For a POST, what it targets (a tool, prompt or resource) and what
/// that needs:
///
/// - decided **before the body is read** when the request carries the 2026-07-28 headers
///   `Mcp-Method` and `Mcp-Name` (decoded from their Base64 form): a caller without the
///   operation's scopes gets 403 `insufficient_scope` whose `scope=` names the endpoint's and the
///   operation's, and the body stays unread;
/// - then the body is read (at most [`McpPolicy::max_body_bytes`], 413 beyond) and must agree
///   with the headers: one message, the same method, the same name or URI, the same mirrored
///   arguments; otherwise 400 with the JSON-RPC error `-32020` (`HeaderMismatch`);
/// - a request without these headers (a client of an earlier protocol version) is decided from
///   its body, every message of a batch.
///
/// A body this guard cannot read exactly (not JSON, a member repeated, a name that is not a
/// string) is refused with 400 and JSON-RPC's parse error rather than passed on. The request
/// goes on with the [`Principal`] and the policy in its extensions, where the MCP server's
/// handlers find them.
///
/// The answers to `tools/list`, `prompts/list` and `resources/list` are filtered to what the
/// caller may use ([`McpPolicy::permits`]): the tools, prompts and resources whose declared
/// scopes the caller lacks are removed, whether the server answers with JSON or on an event
/// stream (rewritten as it flows), and the response gets `Cache-Control: private` unless it has
/// its own. A page keeps its `nextCursor`, so a filtered page may be shorter than the server's.
/// Not filtered: `resources/templates/list` (a template names no one resource), and answers the
/// server sends on another stream than the request's (a stream resumed with `Last-Event-ID`).
#[derive(Debug, Clone)]
pub struct McpLayer {
    verifier: Verifier,
    policy: McpPolicy,
}

impl McpLayer {
    /// Guards with `policy`, authenticating with `verifier`.
    pub fn new(verifier: Verifier, policy: McpPolicy) -> Self {
        Self { verifier, policy }
    }
}

impl<I> Layer<I> for McpLayer {
    type Service = McpGuard<I>;

    fn layer(&self, inner: I) -> Self::Service {
        McpGuard { inner, verifier: self.verifier.clone(), policy: self.policy.clone() }
    }
}

/// The service [`McpLayer`] wraps an MCP endpoint in.
#[derive(Debug, Clone)]
pub struct McpGuard<I> {
    inner: I,
    verifier: Verifier,
    policy: McpPolicy,
}

impl<I> Service<Request<Body>> for McpGuard<I>
where
    I: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    I::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // The clone is the one not yet polled ready; the ready one serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        let policy = self.policy.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let principal = match verifier.authenticate_once(&mut parts).await {
                Ok(principal) => principal,
                Err(denial) => return Ok(unauthorized(&policy, denial)),
            };
            let endpoint = policy.endpoint();
            if !principal.scopes().satisfy(&endpoint) {
                return Ok(principal.deny(DenialKind::InsufficientScope(endpoint)).into_response());
            }
            let (body, lists) = if parts.method == Method::POST {
                match admit(&policy, &principal, &parts.headers, body).await {
                    Ok((bytes, lists)) => (Body::from(bytes), lists),
                    Err(refusal) => return Ok(refusal.into_response()),
                }
            } else {
                (body, ListRequests::default())
            };
            let nonce = principal.dpop_nonce_header();
            let visibility = (!lists.is_empty())
                .then(|| Visibility::new(lists, policy.clone(), principal.scopes().clone()));
            parts.extensions.insert(principal);
            parts.extensions.insert(policy);
            let mut response = inner.call(Request::from_parts(parts, body)).await?;
            if let Some(visibility) = visibility {
                response = visibility.apply(response).await;
            }
            offer_dpop_nonce(&mut response, nonce);
            Ok(response)
        })
    }
}

/// Why a POST is refused.
enum Refusal {
    /// The caller lacks scopes.
    Denied(Denial),
    /// The headers disagree with the body (whose request `id` is known once it is read).
    Mismatch(Mismatch, Option<Value>),
    /// The body is not JSON-RPC this guard can read.
    Unreadable,
    /// The body could not be read (413 over the limit).
    Body(axum::Error),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::Denied(denial) => denial.into_response(),
            Self::Mismatch(mismatch, id) => mismatch.into_response(id.as_ref()),
            Self::Unreadable => unreadable(),
            Self::Body(error) => body_error(&error),
        }
    }
}

/// The checks of a POST: the headers' decision, the body read and its agreement with the
/// headers, the body's decision. The body as read and its list requests, or the refusal.
async fn admit(
    policy: &McpPolicy,
    principal: &Principal,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Bytes, ListRequests), Refusal> {
    let claimed =
        headers::claimed(headers).map_err(|mismatch| Refusal::Mismatch(mismatch, None))?;
    if let Some(method) = claimed.method.as_deref()
        && let Some(target) = Target::of(method)
    {
        match claimed.name.as_deref() {
            Some(name) => {
                let operation = target.operation(name);
                require(policy, principal, operation)?;
                if let Operation::Tool(tool) = operation {
                    owned_from_headers(policy, principal, headers, tool).await?;
                }
            }
            None if target.name_header_required => {
                return Err(Refusal::Mismatch(Mismatch::NameMissing, None));
            }
            None => {}
        }
    }
    let bytes = match Limited::new(body, policy.max_body_bytes()).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => return Err(Refusal::Body(axum::Error::new(error))),
    };
    let incoming = Incoming::read(&bytes).map_err(|_| Refusal::Unreadable)?;
    if claimed.method.is_some() {
        agree(policy, headers, &claimed, &incoming)?;
    }
    for message in incoming.messages() {
        if let Some(operation) = operation(message) {
            require(policy, principal, operation)?;
            if let (Operation::Tool(tool), None) = (operation, claimed.method.as_deref()) {
                owned_from_body(policy, principal, &message.params, tool).await?;
            }
        }
    }
    Ok((bytes, ListRequests::of(&incoming)))
}

/// The resources that the mirrored arguments of a call of `tool` name, from their headers.
async fn owned_from_headers(
    policy: &McpPolicy,
    principal: &Principal,
    headers: &HeaderMap,
    tool: &str,
) -> Result<(), Refusal> {
    for param in policy.params_of(tool) {
        let Some(check) = &param.owned else { continue };
        let value = headers::param(headers, &param.header)
            .map_err(|mismatch| Refusal::Mismatch(mismatch, None))?;
        // Without its header the argument must be absent from the body too (checked once it is
        // read): nothing to look up.
        if let Some(value) = value {
            check.check(&value, principal).await.map_err(Refusal::Denied)?;
        }
    }
    Ok(())
}

/// The same, from the body of a client that sent no headers.
async fn owned_from_body(
    policy: &McpPolicy,
    principal: &Principal,
    params: &Params,
    tool: &str,
) -> Result<(), Refusal> {
    for param in policy.params_of(tool) {
        let Some(check) = &param.owned else { continue };
        let raw = match params.argument(&param.argument) {
            None | Some(Value::Null) => continue,
            Some(Value::String(text)) => text.clone(),
            Some(Value::Number(number)) => number.to_string(),
            Some(Value::Bool(flag)) => flag.to_string(),
            // Cannot name a resource: the same 404 as an id that names none.
            Some(Value::Array(_) | Value::Object(_)) => String::new(),
        };
        check.check(&raw, principal).await.map_err(Refusal::Denied)?;
    }
    Ok(())
}

/// 403 naming everything `operation` needs, unless the caller has it.
fn require(
    policy: &McpPolicy,
    principal: &Principal,
    operation: Operation<'_>,
) -> Result<(), Refusal> {
    let required = policy.required(operation);
    if principal.scopes().satisfy(&required) {
        return Ok(());
    }
    Err(Refusal::Denied(principal.deny(DenialKind::InsufficientScope(required))))
}

/// The methods that target a tool, prompt or resource, and where their target is named.
#[derive(Debug, Clone, Copy)]
struct Target {
    kind: fn(&str) -> Operation<'_>,
    /// `params.uri` rather than `params.name`.
    by_uri: bool,
    /// The specification requires `Mcp-Name` with this method.
    name_header_required: bool,
}

impl Target {
    fn of(method: &str) -> Option<Self> {
        let (kind, by_uri, name_header_required): (fn(&str) -> Operation<'_>, bool, bool) =
            match method {
                "tools/call" => (|name| Operation::Tool(name), false, true),
                "prompts/get" => (|name| Operation::Prompt(name), false, true),
                "resources/read" => (|name| Operation::Resource(name), true, true),
                "resources/subscribe" | "resources/unsubscribe" => {
                    (|name| Operation::Resource(name), true, false)
                }
                _ => return None,
            };
        Some(Self { kind, by_uri, name_header_required })
    }

    fn operation(self, name: &str) -> Operation<'_> {
        (self.kind)(name)
    }

    fn named_in(self, params: &Params) -> Option<&str> {
        if self.by_uri { params.uri.as_deref() } else { params.name.as_deref() }
    }
}

/// What `message` targets, as its body says.
fn operation(message: &Message) -> Option<Operation<'_>> {
    let target = Target::of(message.method.as_deref()?)?;
    target.named_in(&message.params).map(|name| target.operation(name))
}

/// The body agrees with the headers that describe it: one message, the same method, the same
/// target, the same mirrored arguments. Exact comparisons, after the body's escapes and the
/// headers' Base64 are decoded: `Usage` is not `usage`.
fn agree(
    policy: &McpPolicy,
    headers: &HeaderMap,
    claimed: &Claimed,
    incoming: &Incoming,
) -> Result<(), Refusal> {
    let message = match incoming {
        Incoming::One(message) => message,
        Incoming::Batch(_) => return Err(Refusal::Mismatch(Mismatch::Batch, None)),
    };
    let refuse = |mismatch: Mismatch| Refusal::Mismatch(mismatch, message.id.clone());
    if message.method != claimed.method {
        return Err(refuse(Mismatch::Method));
    }
    let Some(target) = message.method.as_deref().and_then(Target::of) else {
        // A method that names no target: `Mcp-Name`, if any, decides nothing here.
        return Ok(());
    };
    if target.named_in(&message.params) != claimed.name.as_deref() {
        return Err(refuse(Mismatch::Name));
    }
    if let (false, Some(tool)) = (target.by_uri, message.params.name.as_deref())
        && message.method.as_deref() == Some("tools/call")
    {
        for param in policy.params_of(tool) {
            let header = headers::param(headers, &param.header).map_err(refuse)?;
            let argument =
                message.params.argument(&param.argument).filter(|value| !value.is_null());
            let agrees = match (header.as_deref(), argument) {
                (None, None) => true,
                (Some(header), Some(argument)) => mirrors(header, argument),
                _ => false,
            };
            if !agrees {
                return Err(refuse(Mismatch::Param));
            }
        }
    }
    Ok(())
}

/// `true` when `header` is how a client mirrors `argument`: a string as it is, an integer in
/// decimal (compared as a number: `42` and `42.0` agree), a boolean as `true` or `false`.
/// Anything else cannot be mirrored.
fn mirrors(header: &str, argument: &Value) -> bool {
    match argument {
        Value::String(text) => text == header,
        Value::Bool(flag) => header == if *flag { "true" } else { "false" },
        Value::Number(number) => match (number.as_i64(), header.parse::<i64>()) {
            (Some(body), Ok(header)) => body == header,
            _ => match (number.as_f64(), header.parse::<f64>()) {
                (Some(body), Ok(header)) => body.is_finite() && body == header,
                _ => false,
            },
        },
        Value::Null | Value::Array(_) | Value::Object(_) => false,
    }
}

/// The denial's response; a 401 names the endpoint's scopes when the policy or the verifier
/// says so.
fn unauthorized(policy: &McpPolicy, denial: Denial) -> Response {
    denial.with_route_scopes(policy.endpoint(), policy.challenges_with_scope()).into_response()
}
