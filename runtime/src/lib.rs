//! # portcullis
//!
//! Authentication and authorization for [axum] handlers, done in the right order and answered
//! with the right status.
//!
//! A guarded request is checked in one fixed order, stopping at the first failure:
//!
//! 1. **credentials**: the bearer token is found and verified (401, or 400 `invalid_request`),
//!    and the sign-in behind it is strong and recent enough (401
//!    `insufficient_user_authentication`);
//! 2. **permissions**: the required scopes, roles and policies (403 `insufficient_scope`);
//! 3. **resource access**: the resource exists and the caller may see it (404, the same for
//!    both), and may perform the action on it (403 without a challenge);
//! 4. **request shape**: path, query and body are parsed only now (400, 413, 415).
//!
//! Every refusal is an RFC 9457 `application/problem+json` document with the RFC 6750
//! `WWW-Authenticate` challenge its status calls for, rendered by [`Denial`].
//!
//! ```
//! use axum::{Router, routing::get};
//! use portcullis::{Key, Principal, Verifier};
//!
//! #[portcullis::requires_scope("docs:read")]
//! async fn me(principal: Principal) -> String {
//!     principal.subject().to_owned()
//! }
//!
//! let verifier = Verifier::builder()
//!     .realm("documents")
//!     .issuer("https://issuer.example")
//!     .audience("documents-api")
//!     .key(Key::hmac(b"a secret of at least thirty-two bytes")?)
//!     .build()?;
//! let app: Router = Router::new().route("/me", get(me)).with_state(verifier);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The guide
//!
//! [`guide`] explains portcullis one concept at a time, every example compiled:
//! [quick start](guide::quick_start) (the `[dependencies]` lines, a first handler, a first test),
//! [authorization](guide::authorization), [identity providers](guide::identity_providers),
//! [configuration](guide::configuration), [testing](guide::testing),
//! [validated input](guide/validated_input/index.html), [DPoP](guide::dpop),
//! [protected resource metadata](guide::resource_metadata),
//! [introspection](guide/introspection/index.html) and [OpenAPI](guide/openapi/index.html).
//!
//! # Modules
//!
//! The crate root holds what an application touches in its first hour: [`Verifier`],
//! [`Principal`], [`Claims`], [`Owned`] and [`OwnedResource`], [`Scopes`] and [`Roles`], [`Key`],
//! [`Preset`], the refusals ([`Denial`], [`Problem`], [`InternalError`]), [`ConfigError`], and
//! the attribute macros. The rest is in modules named for what they hold:
//!
//! | module | what it holds |
//! |---|---|
//! | [`config`] | the [`VerifierBuilder`](config::VerifierBuilder) and the values it takes; [`config::env`], the `PORTCULLIS_*` variables |
//! | [`authorization`] | scope and role requirements, [`AccessPolicy`](authorization::AccessPolicy) and the ready-made claim checks |
//! | [`resource`] | resource access beyond ownership: visibility, actions, sharing |
//! | [`response`] | how a refusal is answered: its kinds and reasons, the challenge, the problem's parts, the disclosure |
//! | [`keys`] | algorithms, key sets, and how fetched keys are refreshed |
//! | [`dpop`] | DPoP (RFC 9449): modes, replay stores, server nonces |
//! | `introspection` | opaque tokens (RFC 7662; feature `introspection`) |
//! | [`layer`] | tower layers: the router-wide guard and the access log |
//! | [`extract`] | `Json`, `Query`, `Path` and `Valid`, whose refusals are problem documents |
//! | [`development`] | a key generated in memory, for trying an API before an identity provider is set up |
//! | `testing` | tokens and DPoP proofs for your own tests (feature `testing`) |
//! | `openapi` | the OpenAPI description of the guards, with aide (feature `openapi`) |
//!
//! # Features
//!
//! | feature | default | what it brings | what it adds to the build |
//! |---|---|---|---|
//! | `aws-lc-rs` | on | the crypto backend: AWS-LC (signatures, digests, TLS for `jwks`) | aws-lc-sys, built from C: a C compiler is needed; the runtime alone is 60 crates |
//! | `rust-crypto` | off | the pure-Rust crypto backend: the RustCrypto crates, and with `jwks` rustls on graviola (x86_64 and aarch64) | no C compiler; 93 crates instead of 60, each pure Rust; slower signatures |
//! | `jwks` | on | keys fetched from a JWKS URL or by OpenID Connect discovery, kept fresh | the HTTP client: reqwest (HTTP/1), rustls, url, tokio: 56 crates |
//! | `introspection` | off | opaque tokens by introspection (RFC 7662) | the same HTTP client; nothing more with `jwks` |
//! | `pem` | off | keys in PEM text: `Key::rsa_pem`, `Key::ec_pem`, `Key::ed25519_pem`, `TestIssuer::rsa_pem` | jsonwebtoken's PEM parsing (pem, simple_asn1, num-bigint, time): 12 crates |
//! | `garde` | off | `extract::Valid`: validation with [garde](https://docs.rs/garde) 0.23 | garde and regex: 11 crates |
//! | `mcp` | off | `portcullis::mcp`: MCP servers with per-tool scopes decided from the `Mcp-Method`/`Mcp-Name` headers, before the body | http-body-util, already in the tree through axum: no new crate |
//! | `testing` | off | `portcullis::testing`: tokens minted in your own tests | nothing |
//! | `redis` | off | `dpop::RedisReplayStore`: DPoP proofs remembered in Redis, shared by every instance | the redis client (no TLS) and tokio: 46 crates |
//! | `openapi` | off | `portcullis::openapi`: the guards and extractors described to aide | aide, schemars, indexmap: 12 crates |
//!
//! Crates are counted with `cargo tree` (normal and build dependencies, portcullis and its
//! macros included); BENCHMARKS.md has the seconds, measured by `bench/build-times` (a cold
//! debug build of a small API: default features, `default-features = false` on each backend, a
//! hand-written jsonwebtoken guard beside them).
//!
//! Exactly one crypto backend is used: with both on, `aws-lc-rs`; with neither, the crate does
//! not compile and says which to enable. `default-features = false, features = ["rust-crypto"]`
//! builds with no C compiler at all: keys are configured in code ([`Key`], [`keys::KeySet`]) and
//! neither reqwest nor tokio is compiled.

// A library never writes to the application's terminal: it logs with `tracing`.
#![warn(clippy::print_stdout, clippy::print_stderr)]
// docs.rs (and `.ci/run`'s docs step) label each feature-gated item with its feature.
#![cfg_attr(docsrs, feature(doc_cfg))]

// The stages of a request, in the order it meets them (ARCHITECTURE.md has the map).
mod access_log;
pub mod dpop;
pub mod engine;
pub mod extract;
mod guard;
#[cfg(feature = "introspection")]
mod introspect;
pub mod keys;
#[cfg(feature = "mcp")]
#[cfg_attr(docsrs, doc(cfg(feature = "mcp")))]
pub mod mcp;
pub mod observability;
mod ownership;
mod policy;
mod principal;
mod principal_id;
mod require_auth;
mod respond;
mod role;
mod scope;
mod step_up;
mod verify;

mod clock;
mod crypto;
pub mod development;
mod expiring;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
pub mod guide;
#[cfg(any(feature = "introspection", feature = "authzen"))]
mod in_flight;
mod mint;
mod numeric_date;
#[cfg(feature = "openapi")]
#[cfg_attr(docsrs, doc(cfg(feature = "openapi")))]
pub mod openapi;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

// What an application touches in its first hour; everything else is in the modules below.
pub use guard::ProvidesVerifier;
pub use keys::key::Key;
pub use ownership::{Owned, OwnedResource};
pub use principal::{Claims, Principal};
pub use principal_id::{InvalidPrincipalId, PrincipalId};
pub use respond::{Denial, InternalError, Problem};
pub use role::Roles;
pub use scope::Scopes;
pub use verify::{ConfigError, Preset, Verifier};

pub mod config {
    //! Configuring a [`Verifier`](crate::Verifier): the [`VerifierBuilder`], the values it
    //! takes ([`Dpop`], [`ResourceMetadata`], [`TrustedIssuer`], [`TokenCache`], …), the
    //! settings that weaken verification behind [`VerifierBuilder::dangerous`], the environment
    //! variables ([`env`](mod@env)), and the categories of [`ConfigError`](crate::ConfigError).
    pub use crate::step_up::AcrSource;
    pub use crate::verify::config::{
        DEFAULT_LEEWAY, DEFAULT_MAX_TOKEN_LEN, DEFAULT_REALM, Dangerous, Dpop, DpopError, EnvError,
        EnvProblem, IntrospectionError, IssuerError, KeysError, MAX_LEEWAY, ResourceError,
        ResourceMetadata, ScopeClaim, SettingError, TokenCache, TokenProfile, TrustedIssuer,
        UnknownTokenProfile, VerifierBuilder, env,
    };
}

/// What a caller may do beyond being authenticated: required scopes and roles, the
/// application's own policies and the ready-made claim checks.
pub mod authorization {
    pub use crate::policy::{AccessPolicy, ClaimCheck, ClaimValue, NoState, PolicyOutcome};
    pub use crate::respond::PolicyRefusal;
    pub use crate::role::RoleRequirement;
    pub use crate::scope::{ScopeRequirement, ScopeRule};
    pub use crate::step_up::AuthenticationRequirement;
}

/// Resource access: what [`OwnedResource`] answers beyond "this is the
/// caller's": visibility before loading, sharing, and the actions a handler performs.
pub mod resource {
    pub use crate::ownership::{Access, AccessControl, Action, ProvidesResource, Visibility};
}

/// How a refusal is answered: the kinds and reasons of a [`Denial`], the
/// RFC 6750 challenge, the RFC 9457 problem's parts, and how much a response discloses.
pub mod response {
    pub use crate::respond::{
        Challenge, ChallengeError, DenialKind, DeniedWith, Disclosure, DpopNonceReason,
        DpopProofReason, ErrorCode, InvalidParam, InvalidRequestReason, InvalidTokenReason,
        NotFoundReason, PROBLEM_JSON, Presentation, UnknownDisclosure,
    };
}

/// Opaque tokens, asked of the authorization server (RFC 7662 token introspection).
#[cfg(feature = "introspection")]
#[cfg_attr(docsrs, doc(cfg(feature = "introspection")))]
pub mod introspection {
    pub use crate::introspect::ClientAuthMethod;
    pub use crate::verify::config::Introspection;
}

/// Tower layers for a whole router: the router-wide guard and the access log.
pub mod layer {
    pub use crate::access_log::{AccessLog, AccessLogLayer};
    pub use crate::require_auth::{RequireAuth, RequireAuthLayer};
}

/// What the attribute macros expand to. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::engine::{EngineAction, EngineCheck, RegisteredAction};
    pub use crate::extract::check::{ExtractorCheck, ExtractorFallback};
    pub use crate::guard::{
        Guard, GuardState, Guarded, HandlerRequirements, Never, NoOwnership, NoWitness,
        OwnershipCheck, ProvidesVerifier, Requirements, VerifierWitness, Witness,
    };
    pub use crate::ownership::{
        Access, AccessControl, Action, ByMethod, Decide, NoAction, OwnedBy, access_for,
    };
    pub use crate::policy::{
        AccessPolicy, AnswersAtOnce, AnswersLater, ClaimCheck, ClaimValue, IntoPolicyFuture,
        NoState, Policies, PolicyList, PolicyOutcome, ProvidesPolicyState,
    };
    pub use crate::principal::Principal;
    pub use crate::respond::PolicyRefusal;
    pub use crate::scope::{ScopeRule, is_declared};
    pub use crate::step_up::AuthenticationRequirement;
    pub use http::Method;
    pub use http::request::Parts;
    pub use inventory;
}

/// Only callers with a valid bearer token reach the handler.
///
/// The guard runs before every extractor of the handler, so a request without valid
/// credentials gets 401 and its body is never read. The verified [`Principal`] is available to
/// the handler without a second verification.
///
/// ```
/// use axum::{Router, routing::get};
/// use portcullis::{Principal, Verifier};
///
/// #[portcullis::authenticated]
/// async fn me(principal: Principal) -> String {
///     principal.subject().to_owned()
/// }
///
/// # fn app(verifier: Verifier) -> Router {
/// Router::new().route("/me", get(me)).with_state(verifier)
/// # }
/// ```
///
/// The guard takes the [`Verifier`] from the router state ([`ProvidesVerifier`]): give the
/// router its state with `.with_state(verifier)`, or `.with_state(app_state)` with an
/// application state that holds the verifier in a field and derives `Clone` and axum's
/// `FromRef` (the derive needs axum's `macros` feature). A router without `.with_state(..)` has
/// the state `()`, and each guarded route then says so at compile time.
///
/// `#[authenticated(state = AppState)]` names the router state, so that a state that cannot
/// provide the [`Verifier`] is reported under that type with the fix, beside the handler, and
/// not only where the route is added.
///
/// With `#[axum::debug_handler]`, for axum's clearer errors about the handler's other
/// parameters: put it *below* the guard attributes (attributes expand from the top, and the
/// guard must see the handler first), enable axum's `macros` feature, and name the router state
/// as `#[axum::debug_handler(state = AppState)]` (with the verifier itself as the state,
/// `state = Verifier`). Without `state`, axum checks the handler against the state `()`, which
/// cannot provide a verifier; a `State<AppState>` parameter names it too.
///
/// ```
/// use axum::extract::FromRef;
/// use axum::{Router, routing::get};
/// use portcullis::{Principal, Verifier};
///
/// #[derive(Clone, FromRef)]
/// struct AppState {
///     verifier: Verifier,
/// }
///
/// #[portcullis::authenticated]
/// #[axum::debug_handler(state = AppState)]
/// async fn me(principal: Principal) -> String {
///     principal.subject().to_owned()
/// }
///
/// # fn app(state: AppState) -> Router {
/// Router::new().route("/me", get(me)).with_state(state)
/// # }
/// ```
///
/// Every guard attribute warns (the `deprecated` lint, under the parameter) when the handler
/// takes axum's own `Json`, `Query`, `Path` or `Form`, whose refusals are `text/plain` with the
/// parser's message: [`extract`]'s extractors answer with problem documents.
/// `#[allow(deprecated)]` on the handler keeps axum's answers.
///
/// `#[authenticated(optional)]` makes credentials optional, with the order kept: a request
/// without credentials reaches the handler, which takes an `Option<Principal>` (`None`); an
/// invalid token is still 401 and two tokens 400, before any extractor runs, whatever the order
/// of the parameters. It cannot be combined with a guard that requires something of the caller.
///
/// ```
/// use axum::{Router, routing::get};
/// use portcullis::extract::Json;
/// use portcullis::{Principal, Verifier};
///
/// #[portcullis::authenticated(optional)]
/// async fn whoami(principal: Option<Principal>, Json(_hint): Json<serde_json::Value>) -> String {
///     principal.map_or_else(|| "anonymous".to_owned(), |p| p.subject().to_owned())
/// }
///
/// # fn app(verifier: Verifier) -> Router {
/// Router::new().route("/whoami", get(whoami)).with_state(verifier)
/// # }
/// ```
pub use portcullis_macros::authenticated;

/// The caller's token must grant these scopes; otherwise 403 `insufficient_scope`, naming them.
///
/// - several scopes mean all of them: `#[requires_scope("docs:read", "docs:write")]`;
/// - `any(..)` means one of them: `#[requires_scope(any("admin:read", "docs:admin"))]`;
/// - stacked attributes mean all of them.
///
/// Scopes are checked at compile time against the RFC 6749 `scope-token` grammar. With a
/// vocabulary declared by [`scopes!`], scopes can be named by variant (`Scope::DocsWrite`), and
/// `declared_in = Scope` makes an undeclared literal a compile error. The check runs after
/// authentication and before every extractor of the handler: a caller without the scope gets
/// 403 whatever its body holds.
///
/// ```
/// use axum::{Router, routing::post};
/// use portcullis::Verifier;
/// use portcullis::extract::Json;
///
/// portcullis::scopes! {
///     /// The scopes of this API.
///     pub enum Scope {
///         DocsRead = "docs:read",
///         DocsWrite = "docs:write",
///         AdminRead = "admin:read",
///     }
/// }
///
/// #[portcullis::requires_scope(Scope::DocsWrite)]
/// async fn create(Json(title): Json<String>) -> String {
///     title
/// }
///
/// #[portcullis::requires_scope("docs:read", declared_in = Scope)]
/// #[portcullis::requires_scope(any(Scope::AdminRead, Scope::DocsWrite))]
/// async fn audit() {}
///
/// # fn app(verifier: Verifier) -> Router {
/// Router::new()
///     .route("/documents", post(create))
///     .route("/audit", axum::routing::get(audit))
///     .with_state(verifier)
/// # }
/// ```
pub use portcullis_macros::requires_scope;

/// The resource named by the path must exist and belong to the caller; otherwise 404, the same
/// bytes whether it is absent, someone else's, or its id cannot name any resource.
///
/// The argument is a type implementing [`OwnedResource`]; `id = "param"` names the path
/// parameter (by default the route's only one, or `id`). `action = read | write | delete`
/// names what the handler does, for [`OwnedResource::access`] (by default it follows the
/// method); `action = MyAction::Variant` asks the resource's [`AccessControl<MyAction>`](resource::AccessControl)
/// instead. A resource the caller may see but not act on gets 403 without a challenge. The resource is loaded once, after the
/// credential and scope checks and before the handler's extractors, and handed over by
/// [`Owned`].
///
/// ```
/// use axum::{Router, extract::FromRef, routing::get};
/// use portcullis::{Owned, OwnedResource, Verifier};
///
/// #[derive(Clone)]
/// struct Db;
///
/// #[derive(Clone, FromRef)]
/// struct AppState {
///     verifier: Verifier,
///     db: Db,
/// }
///
/// struct Document {
///     owner: String,
///     body: String,
/// }
///
/// impl OwnedResource for Document {
///     type State = Db;
///     type Id = u64;
///     type Error = std::io::Error;
///
///     async fn load(id: u64, _db: &Db) -> Result<Option<Self>, Self::Error> {
///         Ok((id == 1).then(|| Document { owner: "alice".into(), body: "hello".into() }))
///     }
///
///     fn owner(&self) -> &str {
///         &self.owner
///     }
/// }
///
/// #[portcullis::requires_scope("docs:read")]
/// #[portcullis::owner_only(Document)]
/// async fn read(document: Owned<Document>) -> String {
///     document.body.clone()
/// }
///
/// # fn app(state: AppState) -> Router {
/// Router::new().route("/documents/{id}", get(read)).with_state(state)
/// # }
/// ```
pub use portcullis_macros::owner_only;

/// A decision engine must let the caller see the resource the path names and perform `action`
/// on it: `#[authorize(Type, action = "name")]`, with `id = "param"` and `state = Type` as for
/// [`owner_only`].
///
/// The engine ([`engine::Engine`], from the router state) is asked after scopes, roles and
/// policies and before any extractor, with only the path's id and the facts
/// [`engine::EngineResource::facts`] gives: may the caller see the resource (no: the 404 of an
/// absent one, byte for byte), and may it perform the action (no: 403 without a challenge). An
/// engine that cannot answer gives 503 with `Retry-After`. The handler's [`Owned<T>`] loads the
/// resource only once the engine allowed. An engine that knows its actions (Cedar's schema)
/// refuses, when [`engine::Engine::new`] builds it, an action no policy can name.
///
/// ```
/// use axum::{Router, extract::FromRef, routing::post};
/// use portcullis::engine::{
///     Decision, DecisionEngine, Engine, EngineFuture, EngineResource, Question, ResourceFacts,
/// };
/// use portcullis::{Owned, OwnedResource, Verifier};
///
/// /// Owners may do everything; nobody else sees anything.
/// struct OwnersOnly;
///
/// impl DecisionEngine for OwnersOnly {
///     fn decide<'a>(&'a self, question: &'a Question<'a>) -> EngineFuture<'a> {
///         let owner = question.resource.facts.owner.as_deref();
///         let mine = owner == Some(question.principal.id().to_string().as_str());
///         Box::pin(async move { Ok(Decision::from_answers(mine, mine)) })
///     }
/// }
///
/// #[derive(Clone)]
/// struct Db;
///
/// #[derive(Clone, FromRef)]
/// struct AppState {
///     verifier: Verifier,
///     engine: Engine,
///     db: Db,
/// }
///
/// struct Document {
///     owner: String,
/// }
///
/// impl OwnedResource for Document {
///     type State = Db;
///     type Id = u64;
///     type Error = std::io::Error;
///
///     async fn load(id: u64, _db: &Db) -> Result<Option<Self>, Self::Error> {
///         Ok((id == 1).then(|| Document { owner: "alice".into() }))
///     }
///
///     fn owner(&self) -> &str {
///         &self.owner
///     }
/// }
///
/// impl EngineResource for Document {
///     const KIND: &'static str = "document";
///
///     async fn facts(id: &u64, _db: &Db) -> Result<Option<ResourceFacts>, Self::Error> {
///         Ok((*id == 1).then(|| ResourceFacts::owned_by("alice")))
///     }
/// }
///
/// #[portcullis::requires_scope("docs:write")]
/// #[portcullis::authorize(Document, action = "share")]
/// async fn share(document: Owned<Document>, body: String) -> String {
///     format!("{} shares it with {body}", document.owner)
/// }
///
/// # fn app(state: AppState) -> Router {
/// Router::new().route("/documents/{id}/share", post(share)).with_state(state)
/// # }
/// # fn engine() -> Result<Engine, portcullis::engine::UnknownAction> { Engine::new(OwnersOnly) }
/// ```
pub use portcullis_macros::authorize;

/// The caller's token must grant these roles; otherwise 403 `insufficient_scope`, without
/// `scope=` (a client cannot ask the authorization server for a role).
///
/// The grammar is that of [`requires_scope`]: several roles mean all of them, `any(..)` one of
/// them, stacked attributes all of them; roles are literals (checked against the scope-token
/// grammar) or variants of a vocabulary declared with [`roles!`], and `declared_in = Role`
/// refuses an undeclared literal at compile time. Roles are read from the claim paths given to
/// [`VerifierBuilder::role_claims`](config::VerifierBuilder::role_claims) (or `PORTCULLIS_ROLES_CLAIM`). Development mode names the
/// missing roles in `error_description` and `detail`.
///
/// ```
/// use axum::{Router, routing::get};
/// use portcullis::Verifier;
///
/// portcullis::roles! {
///     /// The roles of this API.
///     pub enum Role {
///         DocumentsAdmin = "documents-admin",
///         Auditor = "auditor",
///     }
/// }
///
/// #[portcullis::requires_role(Role::DocumentsAdmin)]
/// async fn everything() -> &'static str {
///     "every document"
/// }
///
/// #[portcullis::requires_scope("docs:read")]
/// #[portcullis::requires_role(any(Role::Auditor, "documents-admin"), declared_in = Role)]
/// async fn audit() {}
///
/// # fn app(verifier: Verifier) -> Router {
/// Router::new()
///     .route("/admin/documents", get(everything))
///     .route("/audit", get(audit))
///     .with_state(verifier)
/// # }
/// ```
pub use portcullis_macros::requires_role;

/// The application's policies must allow the request; otherwise 403 `insufficient_scope`,
/// without `scope=`.
///
/// Each argument is a policy: the path of a function marked [`macro@policy`] or of a type
/// implementing [`AccessPolicy`](authorization::AccessPolicy), or a ready-made [`ClaimCheck`](authorization::ClaimCheck): `claim_true("claim")`,
/// `claim_equals("claim", value)` (a string, a boolean or an integer) and
/// `claim_includes("claim", "value", ..)`, each on a dotted claim path. All must allow the
/// request, in the order written, ready-made checks first. They run after the scope and role
/// checks and before the resource is loaded and before every extractor.
///
/// ```
/// use axum::{Router, routing::put};
/// use http::request::Parts;
/// use portcullis::{Principal, Verifier};
///
/// /// Only requests from the documents app: a policy that looks at the request head.
/// #[portcullis::policy]
/// fn from_the_app(_principal: &Principal, head: &Parts) -> bool {
///     head.headers.get("x-client").is_some_and(|client| client == "documents-app")
/// }
///
/// #[portcullis::requires_scope("docs:write")]
/// #[portcullis::requires_policy(claim_true("email_verified"), from_the_app)]
/// async fn share() {}
///
/// # fn app(verifier: Verifier) -> Router {
/// Router::new().route("/share", put(share)).with_state(verifier)
/// # }
/// ```
pub use portcullis_macros::requires_policy;

/// The user behind the token must have signed in strongly enough, recently enough, or both
/// (step-up authentication, RFC 9470); otherwise 401 `insufficient_user_authentication` with
/// `acr_values` and `max_age`, which clients act on by sending the user back to the
/// authorization server with those values.
///
/// - `acr = "urn:documents:mfa"`: the token's authentication context class must be exactly
///   this; `acr = any("phr", "phrh")`: one of these, in the order of preference the challenge
///   lists them in. Values are checked at compile time (non-empty printable ASCII without space,
///   `"` and `\`).
/// - `max_age = "10m"` (units `d`, `h`, `m`, `s`, largest first: `"1h30m"`, `"600s"`) or
///   `max_age = 600` (seconds): the token's `auth_time` must be no older, with the verifier's
///   leeway.
///
/// A token without the claim a requirement needs does not meet it. The classes are read from
/// `acr` unless [`VerifierBuilder::acr_sources`](config::VerifierBuilder::acr_sources) or a
/// [`Preset`] says otherwise (Entra ID's `acrs`, Auth0's `amr`). The check is part of
/// authentication: it runs right after the token is verified, before scopes, roles and
/// policies, so that a client learns first that the user must sign in again. It stacks with the
/// other guards; a handler has one `#[requires_authentication]`. The router-wide equivalent is
/// [`RequireAuthLayer::authentication`](layer::RequireAuthLayer::authentication).
///
/// ```
/// use axum::{Router, routing::get};
/// use portcullis::{Principal, Verifier};
///
/// #[portcullis::requires_scope("docs:read")]
/// #[portcullis::requires_authentication(acr = "urn:documents:mfa", max_age = "10m")]
/// async fn export(principal: Principal) -> String {
///     format!("everything of {}", principal.subject())
/// }
///
/// # fn app(verifier: Verifier) -> Router {
/// Router::new().route("/documents/export", get(export)).with_state(verifier)
/// # }
/// ```
pub use portcullis_macros::requires_authentication;

/// Makes a policy of a function, for [`macro@requires_policy`]: `fn name(principal: &Principal,
/// head: &http::request::Parts)`, optionally with a third parameter `state: &State` for what it
/// needs from the router state (taken with `FromRef`), sync or `async`, answering `bool` or
/// `Result<(), PolicyRefusal>`.
///
/// The function stays as it is; beside it, a type of the same name implements [`AccessPolicy`](authorization::AccessPolicy).
///
/// ```
/// use axum::extract::FromRef;
/// use http::request::Parts;
/// use portcullis::{Principal, authorization::PolicyRefusal};
///
/// #[derive(Clone)]
/// struct Blocklist(std::sync::Arc<Vec<String>>);
///
/// #[portcullis::policy]
/// async fn not_blocked(
///     principal: &Principal,
///     _head: &Parts,
///     blocklist: &Blocklist,
/// ) -> Result<(), PolicyRefusal> {
///     if blocklist.0.iter().any(|blocked| blocked == principal.subject()) {
///         return Err(PolicyRefusal::ACCOUNT_NOT_ELIGIBLE);
///     }
///     Ok(())
/// }
///
/// #[derive(Clone, FromRef)]
/// struct AppState {
///     verifier: portcullis::Verifier,
///     blocklist: Blocklist,
/// }
///
/// #[portcullis::requires_policy(not_blocked)]
/// async fn post() {}
///
/// # fn app(state: AppState) -> axum::Router {
/// axum::Router::new().route("/", axum::routing::post(post)).with_state(state)
/// # }
/// ```
pub use portcullis_macros::policy;

/// Declares the application's role vocabulary once, as an enum, like [`scopes!`] does for
/// scopes: `as_str`, `ALL`, `from_role` and the `const fn is_declared` that
/// `#[requires_role(.., declared_in = Enum)]` uses. The enum implements `Display` and
/// `AsRef<str>` as its role strings, so its values go wherever a role string does (such as
/// `TokenBuilder::roles` in tests).
///
/// ```
/// portcullis::roles! {
///     /// The roles of the documents API.
///     pub enum Role {
///         DocumentsAdmin = "documents-admin",
///     }
/// }
///
/// assert_eq!(Role::DocumentsAdmin.as_str(), "documents-admin");
/// assert_eq!(Role::DocumentsAdmin.to_string(), "documents-admin");
/// assert_eq!(Role::from_role("documents-admin"), Some(Role::DocumentsAdmin));
/// ```
pub use portcullis_macros::roles;

/// Declares the application's scope vocabulary once, as an enum.
///
/// Each variant maps to one scope; scopes are checked against the RFC 6749 grammar and for
/// duplicates at compile time. The enum offers `as_str`, `ALL`, `from_scope` and the `const fn
/// is_declared` that `#[requires_scope(.., declared_in = Enum)]` uses to refuse a misspelt
/// literal at compile time. The enum implements `Display` and `AsRef<str>` as its scope strings.
///
/// ```
/// portcullis::scopes! {
///     /// The scopes of the documents API.
///     pub enum Scope {
///         DocsRead = "docs:read",
///         DocsWrite = "docs:write",
///     }
/// }
///
/// assert_eq!(Scope::DocsWrite.as_str(), "docs:write");
/// assert_eq!(Scope::DocsWrite.to_string(), "docs:write");
/// assert_eq!(AsRef::<str>::as_ref(&Scope::DocsRead), "docs:read");
/// assert!(!Scope::is_declared("doc:write"));
/// ```
pub use portcullis_macros::scopes;
