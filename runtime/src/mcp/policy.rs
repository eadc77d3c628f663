//! What an MCP endpoint requires: [`McpPolicy`], declared with the application's `scopes!`
//! vocabulary, checked once when built.

use std::sync::{Arc, Mutex, PoisonError};

use http::HeaderName;

use super::headers::param_header;
use super::owned::OwnedCheck;
use crate::ownership::{Action, OwnedResource};
use crate::scope::{ScopeRequirement, ScopeRule, Scopes, is_scope_token};

/// The scope that asks an authorization server for a refresh token: never a resource's scope,
/// so never advertised by an MCP server (SEP-2207).
pub(crate) const OFFLINE_ACCESS: &str = "offline_access";

/// Request bodies larger than this (1 MiB) are refused with 413 by default.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// What a request to an MCP server targets: the operations a policy can require more for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation<'a> {
    /// `tools/call` of the tool of this name.
    Tool(&'a str),
    /// `prompts/get` of the prompt of this name.
    Prompt(&'a str),
    /// `resources/read`, `resources/subscribe` or `resources/unsubscribe` of the resource with
    /// this URI.
    Resource(&'a str),
}

impl Operation<'_> {
    fn kind(self) -> Kind {
        match self {
            Self::Tool(_) => Kind::Tool,
            Self::Prompt(_) => Kind::Prompt,
            Self::Resource(_) => Kind::Resource,
        }
    }

    fn name(&self) -> &str {
        match self {
            Self::Tool(name) | Self::Prompt(name) | Self::Resource(name) => name,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Tool,
    Prompt,
    Resource,
}

impl Kind {
    const fn noun(self) -> &'static str {
        match self {
            Self::Tool => "tool",
            Self::Prompt => "prompt",
            Self::Resource => "resource",
        }
    }
}

/// A declaration that cannot be used; [`McpPolicyBuilder::build`] reports the first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum McpPolicyError {
    /// `offline_access` is required somewhere: it grants no access to a resource, and an MCP
    /// server that advertises it (in a challenge's `scope=`) is misconfigured (SEP-2207).
    #[error(
        "offline_access cannot be required by an MCP server (SEP-2207): it names no access to this resource"
    )]
    OfflineAccess,
    /// A scope is not an RFC 6749 `scope-token`.
    #[error("{0:?} is not an RFC 6749 scope-token")]
    InvalidScope(String),
    /// A tool, prompt or resource is declared with an empty name.
    #[error("a {0} is declared with an empty name")]
    EmptyName(&'static str),
    /// The same tool, prompt or resource is declared twice.
    #[error("the {kind} {name:?} is declared twice")]
    Duplicate {
        /// `tool`, `prompt` or `resource`.
        kind: &'static str,
        /// Its name or URI.
        name: String,
    },
    /// A mirrored parameter's `x-mcp-header` name is not an RFC 9110 token.
    #[error("{0:?} cannot name an Mcp-Param header (an RFC 9110 token is required)")]
    InvalidParamHeader(String),
    /// Two mirrored parameters of one tool have names equal but for case.
    #[error("the tool {tool:?} mirrors two arguments into the header Mcp-Param-{header}")]
    DuplicateParamHeader {
        /// The tool.
        tool: String,
        /// The header's name portion.
        header: String,
    },
    /// The body limit is zero.
    #[error("the body limit must be at least one byte")]
    ZeroBodyLimit,
}

/// What an MCP endpoint requires: scopes for every request, and more for some tools, prompts and
/// resources. Built once with [`McpPolicy::builder`]; cheap to clone.
///
/// The scopes are the variants of the application's [`scopes!`](crate::scopes) vocabulary, so
/// that a misspelt scope does not compile. An operation's requirement is the endpoint's scopes
/// and its own: the 403 of a call that lacks them names both (SEP-2350), so that a client asking
/// the authorization server for exactly the challenge's scopes keeps the endpoint's.
///
/// ```
/// use portcullis::mcp::{McpPolicy, Operation};
/// use portcullis::Scopes;
///
/// portcullis::scopes! {
///     /// The scopes of this MCP server.
///     pub enum Scope {
///         Tools = "mcp:tools",
///         Admin = "mcp:admin",
///     }
/// }
///
/// let policy = McpPolicy::builder(&[Scope::Tools])
///     .tool("usage", &[Scope::Admin])
///     .challenge_scope_on_401(true)
///     .build()?;
/// let user = Scopes::new(["mcp:tools"]);
/// assert!(policy.permits(&user, Operation::Tool("add")));
/// assert!(!policy.permits(&user, Operation::Tool("usage")));
/// assert_eq!(policy.required(Operation::Tool("usage")).to_string(), "mcp:tools mcp:admin");
/// # Ok::<(), portcullis::mcp::McpPolicyError>(())
/// ```
#[derive(Debug, Clone)]
pub struct McpPolicy {
    inner: Arc<Declared>,
}

#[derive(Debug)]
struct Declared {
    endpoint: ScopeRequirement,
    operations: Vec<Declaration>,
    params: Vec<MirroredParam>,
    max_body_bytes: usize,
    challenge_scope: bool,
}

#[derive(Debug)]
struct Declaration {
    kind: Kind,
    name: String,
    /// The endpoint's rules and the operation's own.
    required: ScopeRequirement,
}

/// A tool argument mirrored into an `Mcp-Param-{Name}` header (`x-mcp-header`).
#[derive(Debug, Clone)]
pub(crate) struct MirroredParam {
    pub(crate) tool: String,
    pub(crate) header: HeaderName,
    pub(crate) argument: String,
    /// The resource the argument names, which the caller must be allowed to act on.
    pub(crate) owned: Option<OwnedCheck>,
}

impl McpPolicy {
    /// A policy whose every request needs all of `endpoint` (the variants of a `scopes!` enum).
    pub fn builder<S: AsRef<str> + 'static>(endpoint: &'static [S]) -> McpPolicyBuilder {
        McpPolicyBuilder {
            endpoint: endpoint.iter().map(AsRef::as_ref).collect(),
            operations: Vec::new(),
            params: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            challenge_scope: false,
        }
    }

    /// What every request needs.
    pub fn endpoint(&self) -> ScopeRequirement {
        self.inner.endpoint
    }

    /// What `operation` needs: the endpoint's scopes, and the operation's own when it is declared.
    pub fn required(&self, operation: Operation<'_>) -> ScopeRequirement {
        self.inner
            .operations
            .iter()
            .find(|declared| declared.kind == operation.kind() && declared.name == operation.name())
            .map_or(self.inner.endpoint, |declared| declared.required)
    }

    /// `true` when a caller granted `scopes` may perform `operation`: what a `tools/list`,
    /// `prompts/list` or `resources/list` handler keeps.
    pub fn permits(&self, scopes: &Scopes, operation: Operation<'_>) -> bool {
        scopes.satisfy(&self.required(operation))
    }

    /// The limit of a request body the guard reads.
    pub fn max_body_bytes(&self) -> usize {
        self.inner.max_body_bytes
    }

    /// `true` when a 401 names the endpoint's scopes in `scope=`.
    pub fn challenges_with_scope(&self) -> bool {
        self.inner.challenge_scope
    }

    /// The mirrored arguments of `tool`.
    pub(crate) fn params_of<'a>(
        &'a self,
        tool: &'a str,
    ) -> impl Iterator<Item = &'a MirroredParam> {
        self.inner.params.iter().filter(move |param| param.tool == tool)
    }
}

/// Declares an [`McpPolicy`]; [`build`](Self::build) checks the declaration.
#[derive(Debug, Clone)]
#[must_use]
pub struct McpPolicyBuilder {
    endpoint: Vec<&'static str>,
    operations: Vec<(Kind, String, Vec<&'static str>)>,
    params: Vec<(String, String, String, Option<OwnedCheck>)>,
    max_body_bytes: usize,
    challenge_scope: bool,
}

impl McpPolicyBuilder {
    /// Calling the tool `name` (`tools/call`) also needs all of `scopes`.
    pub fn tool<S: AsRef<str> + 'static>(
        self,
        name: impl Into<String>,
        scopes: &'static [S],
    ) -> Self {
        self.operation(Kind::Tool, name.into(), scopes)
    }

    /// Getting the prompt `name` (`prompts/get`) also needs all of `scopes`.
    pub fn prompt<S: AsRef<str> + 'static>(
        self,
        name: impl Into<String>,
        scopes: &'static [S],
    ) -> Self {
        self.operation(Kind::Prompt, name.into(), scopes)
    }

    /// Reading (or subscribing to) the resource `uri` also needs all of `scopes`.
    pub fn resource<S: AsRef<str> + 'static>(
        self,
        uri: impl Into<String>,
        scopes: &'static [S],
    ) -> Self {
        self.operation(Kind::Resource, uri.into(), scopes)
    }

    fn operation<S: AsRef<str> + 'static>(
        mut self,
        kind: Kind,
        name: String,
        scopes: &'static [S],
    ) -> Self {
        self.operations.push((kind, name, scopes.iter().map(AsRef::as_ref).collect()));
        self
    }

    /// The tool `tool` mirrors its argument `argument` into the header `Mcp-Param-{header}` (its
    /// input schema annotates the argument with `"x-mcp-header": header`): a request whose header
    /// and body disagree on it, or that sends one without the other, is refused with
    /// `HeaderMismatch`. Top-level arguments only.
    pub fn mirrored_param(
        mut self,
        tool: impl Into<String>,
        header: impl Into<String>,
        argument: impl Into<String>,
    ) -> Self {
        self.params.push((tool.into(), header.into(), argument.into(), None));
        self
    }

    /// Like [`mirrored_param`](Self::mirrored_param), and the argument is the id of an `R`
    /// that the caller must be allowed to `action` ([`OwnedResource::visibility`], then
    /// [`OwnedResource::access`] on the loaded resource), decided from the header before the
    /// body is read (from the body for a client without the headers): the 404 of
    /// `#[owner_only]`, the same whether the id names no resource, someone else's, or cannot
    /// name one; 403 without a challenge when the caller may see it but not act on it. The
    /// resource is looked up with `state`; the tool loads it again to use it.
    pub fn owned_param<R>(
        mut self,
        tool: impl Into<String>,
        header: impl Into<String>,
        argument: impl Into<String>,
        action: Action,
        state: R::State,
    ) -> Self
    where
        R: OwnedResource,
        R::State: Clone + 'static,
    {
        let check = OwnedCheck::new::<R>(state, action);
        self.params.push((tool.into(), header.into(), argument.into(), Some(check)));
        self
    }

    /// Request bodies larger than `bytes` are refused with 413 (by default
    /// [`DEFAULT_MAX_BODY_BYTES`]).
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// With `true`, a 401 names the endpoint's scopes in `scope=` (the MCP authorization
    /// specification's SHOULD, which clients read before the metadata's `scopes_supported`).
    /// A verifier built with
    /// [`challenge_scope_on_401`](crate::config::VerifierBuilder::challenge_scope_on_401) does
    /// it for this endpoint too, and for every other guarded route.
    pub fn challenge_scope_on_401(mut self, on: bool) -> Self {
        self.challenge_scope = on;
        self
    }

    /// The policy, or the first thing wrong with the declaration.
    pub fn build(self) -> Result<McpPolicy, McpPolicyError> {
        check_scopes(&self.endpoint)?;
        if self.max_body_bytes == 0 {
            return Err(McpPolicyError::ZeroBodyLimit);
        }
        let endpoint_rules = rules(&self.endpoint, &[]);
        let mut operations: Vec<Declaration> = Vec::with_capacity(self.operations.len());
        for (kind, name, scopes) in self.operations {
            check_scopes(&scopes)?;
            if name.is_empty() {
                return Err(McpPolicyError::EmptyName(kind.noun()));
            }
            if operations.iter().any(|declared| declared.kind == kind && declared.name == name) {
                return Err(McpPolicyError::Duplicate { kind: kind.noun(), name });
            }
            let required = ScopeRequirement::new(rules(&self.endpoint, &scopes));
            operations.push(Declaration { kind, name, required });
        }
        let mut params: Vec<MirroredParam> = Vec::with_capacity(self.params.len());
        for (tool, header, argument, owned) in self.params {
            let Some(header_name) = param_header(&header) else {
                return Err(McpPolicyError::InvalidParamHeader(header));
            };
            if params.iter().any(|param| param.tool == tool && param.header == header_name) {
                return Err(McpPolicyError::DuplicateParamHeader { tool, header });
            }
            params.push(MirroredParam { tool, header: header_name, argument, owned });
        }
        Ok(McpPolicy {
            inner: Arc::new(Declared {
                endpoint: ScopeRequirement::new(endpoint_rules),
                operations,
                params,
                max_body_bytes: self.max_body_bytes,
                challenge_scope: self.challenge_scope,
            }),
        })
    }
}

fn check_scopes(scopes: &[&str]) -> Result<(), McpPolicyError> {
    for scope in scopes {
        if *scope == OFFLINE_ACCESS {
            return Err(McpPolicyError::OfflineAccess);
        }
        if !is_scope_token(scope) {
            return Err(McpPolicyError::InvalidScope((*scope).to_owned()));
        }
    }
    Ok(())
}

/// The rules "all of `endpoint`" and "all of `own`" as one `'static` requirement, which a
/// denial carries. Interned: building the same policy again allocates nothing more, so the
/// memory kept is bounded by the distinct declarations of the program.
fn rules(endpoint: &[&'static str], own: &[&'static str]) -> &'static [ScopeRule] {
    let mut rules = Vec::new();
    if !endpoint.is_empty() {
        rules.push(ScopeRule::All(intern(&INTERNED_SCOPES, endpoint)));
    }
    if !own.is_empty() {
        rules.push(ScopeRule::All(intern(&INTERNED_SCOPES, own)));
    }
    intern(&INTERNED_RULES, &rules)
}

static INTERNED_SCOPES: Mutex<Vec<&'static [&'static str]>> = Mutex::new(Vec::new());
static INTERNED_RULES: Mutex<Vec<&'static [ScopeRule]>> = Mutex::new(Vec::new());

fn intern<T: Copy + PartialEq>(table: &Mutex<Vec<&'static [T]>>, items: &[T]) -> &'static [T] {
    let mut table = table.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(interned) = table.iter().find(|interned| **interned == items) {
        return interned;
    }
    let interned: &'static [T] = Box::leak(items.to_vec().into_boxed_slice());
    table.push(interned);
    interned
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOOLS: &[&str] = &["mcp:tools"];
    const ADMIN: &[&str] = &["mcp:admin"];

    #[test]
    fn an_operation_needs_the_endpoint_scopes_and_its_own() {
        let policy = McpPolicy::builder(TOOLS)
            .tool("usage", ADMIN)
            .prompt("audit", ADMIN)
            .resource("file:///secret", ADMIN)
            .build()
            .unwrap();
        assert_eq!(
            policy.required(Operation::Tool("usage")).named_scopes(),
            ["mcp:tools", "mcp:admin"]
        );
        assert_eq!(policy.required(Operation::Tool("add")).named_scopes(), ["mcp:tools"]);
        // Names are exact: another case is another tool, and a tool is not a prompt.
        assert_eq!(policy.required(Operation::Tool("Usage")).named_scopes(), ["mcp:tools"]);
        assert_eq!(policy.required(Operation::Tool("audit")).named_scopes(), ["mcp:tools"]);
        assert_eq!(
            policy.required(Operation::Prompt("audit")).named_scopes(),
            ["mcp:tools", "mcp:admin"]
        );
        let admin = Scopes::new(["mcp:tools", "mcp:admin"]);
        let only_admin = Scopes::new(["mcp:admin"]);
        assert!(policy.permits(&admin, Operation::Resource("file:///secret")));
        assert!(!policy.permits(&only_admin, Operation::Resource("file:///secret")));
        // Built twice, the same requirement: interned, not allocated again.
        let again = McpPolicy::builder(TOOLS).tool("usage", ADMIN).build().unwrap();
        assert!(std::ptr::eq(
            again.required(Operation::Tool("usage")).rules(),
            policy.required(Operation::Tool("usage")).rules()
        ));
    }

    #[test]
    fn refuses_a_declaration_that_cannot_be_used() {
        let offline = McpPolicy::builder(&["mcp:tools", "offline_access"]).build();
        assert_eq!(offline.unwrap_err(), McpPolicyError::OfflineAccess);
        let offline_tool = McpPolicy::builder(TOOLS).tool("t", &["offline_access"]).build();
        assert_eq!(offline_tool.unwrap_err(), McpPolicyError::OfflineAccess);
        let spaced = McpPolicy::builder(&["mcp tools"]).build();
        assert_eq!(spaced.unwrap_err(), McpPolicyError::InvalidScope("mcp tools".into()));
        let twice = McpPolicy::builder(TOOLS).tool("t", ADMIN).tool("t", TOOLS).build();
        assert!(matches!(twice, Err(McpPolicyError::Duplicate { kind: "tool", .. })));
        assert_eq!(
            McpPolicy::builder(TOOLS).prompt("", ADMIN).build().unwrap_err(),
            McpPolicyError::EmptyName("prompt")
        );
        let header = McpPolicy::builder(TOOLS).mirrored_param("t", "Re gion", "region").build();
        assert!(matches!(header, Err(McpPolicyError::InvalidParamHeader(_))));
        let case = McpPolicy::builder(TOOLS)
            .mirrored_param("t", "Region", "a")
            .mirrored_param("t", "REGION", "b")
            .build();
        assert!(matches!(case, Err(McpPolicyError::DuplicateParamHeader { .. })));
        assert_eq!(
            McpPolicy::builder(TOOLS).max_body_bytes(0).build().unwrap_err(),
            McpPolicyError::ZeroBodyLimit
        );
    }
}
