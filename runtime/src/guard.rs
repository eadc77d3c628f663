//! The guard the attribute macros put first in a handler's parameters, and the one state bound
//! that it and every extractor of this crate use to find the [`Verifier`].
//!
//! axum runs a handler's extractors in parameter order, and the body extractor last, so a guard
//! placed first runs before any path, query, header or body extractor the user wrote, whatever
//! their order. The guard checks credentials (and the strength of the sign-in behind them), then
//! scopes, roles, claim checks and policies, then resource access.

use std::marker::PhantomData;

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::HeaderValue;
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::observability as observe;
use crate::policy::{ClaimCheck, PolicyList};
use crate::principal::{Claims, Principal};
use crate::respond::{Denial, DenialKind, InvalidTokenReason, PolicyRefusal, offer_dpop_nonce};
use crate::role::RoleRequirement;
use crate::scope::{ScopeRequirement, ScopeRule};
use crate::step_up::AuthenticationRequirement;
use crate::verify::Verifier;

/// A router state from which the guards and extractors of this crate take the [`Verifier`].
///
/// Implemented for every state that provides the verifier through axum's `FromRef`: the
/// verifier itself, or an application state with a `Verifier` field and
/// `#[derive(Clone, FromRef)]` (the derive needs axum's `macros` feature). Use it as a bound
/// (`S: ProvidesVerifier`) and leave out its parameter, `Via`, which only serves the compiler's
/// report of a state that does not provide the verifier.
#[diagnostic::on_unimplemented(
    message = "the router state `{Self}` does not provide a `portcullis::Verifier`",
    label = "portcullis guards take the `Verifier` from the router state",
    note = "if the state is `()`, the router was not given one: call `.with_state(verifier)`, or `.with_state(app_state)`",
    note = "a state provides the verifier through a `portcullis::Verifier` field and `#[derive(Clone, axum::extract::FromRef)]` (axum's `macros` feature), or `impl FromRef<{Self}> for portcullis::Verifier`"
)]
pub trait ProvidesVerifier<Via = Witness>: Send + Sync {
    /// The verifier.
    fn verifier(&self) -> Verifier;
}

// `do_not_recommend` makes the compiler report the missing `ProvidesVerifier` (whose message
// names the fix) instead of the `FromRef` bound this impl would otherwise surface.
#[diagnostic::do_not_recommend]
impl<S> ProvidesVerifier for S
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    fn verifier(&self) -> Verifier {
        Verifier::from_ref(self)
    }
}

// A second candidate that never applies: with two, rustc evaluates them instead of taking the
// only one on trust, so that for a state without a verifier the guard's witness (`Via`) stays
// undecided instead of failing under axum's `Handler` impls (the leftover ambiguity is not
// reported), and the handler's own bound `S: ProvidesVerifier<_>` is reported, with the fix.
#[diagnostic::do_not_recommend]
impl<S: Never + Send + Sync> ProvidesVerifier<NoWitness> for S {
    fn verifier(&self) -> Verifier {
        Never::verifier(self)
    }
}

/// What a guarded handler requires, as data: the macros write one `static` value per handler,
/// and the guard's checks of it are compiled once, in this crate (`authorize`), for every
/// handler.
#[derive(Debug)]
pub struct HandlerRequirements {
    /// The required scopes; empty for `#[authenticated]`.
    pub scopes: &'static [ScopeRule],
    /// The required roles.
    pub roles: &'static [ScopeRule],
    /// The ready-made claim checks, run before the policies.
    pub claims: &'static [ClaimCheck],
    /// `#[authenticated(optional)]`: a request without credentials reaches the handler.
    pub optional: bool,
    /// The path parameter holding the resource id, if named.
    pub id_param: Option<&'static str>,
    /// How strongly and recently the user must have signed in (`#[requires_authentication]`),
    /// checked right after the token is verified.
    pub authentication: Option<AuthenticationRequirement>,
}

/// What a guarded handler requires (scopes, roles, claim checks, the application's policies,
/// resource access); the macros implement it on a hidden type per handler,
/// `__PortcullisRequirements_<handler>`. Only what the checks need as types (the policies, the
/// resource) is a type: the rest is one value, [`HandlerRequirements`].
pub trait Requirements: Send + Sync + 'static {
    /// The scopes, roles, claim checks, `optional` and the id parameter.
    const REQUIRED: &'static HandlerRequirements;
    /// The application's policies: `()` or `Policies<P, Rest>`.
    type Policies;
    /// The ownership check: [`NoOwnership`] or `OwnedBy<T>`.
    type Ownership;
}

/// The ownership check of a handler's [`Requirements`], run after the policies.
pub trait OwnershipCheck<S>: Send + Sync {
    /// Checks and stashes the resource for the handler.
    fn check(
        parts: &mut Parts,
        state: &S,
        principal: &Principal,
        id_param: Option<&'static str>,
    ) -> impl Future<Output = Result<(), Denial>> + Send;
}

/// No ownership check.
#[derive(Debug)]
pub struct NoOwnership;

impl<S: Send + Sync> OwnershipCheck<S> for NoOwnership {
    async fn check(
        _: &mut Parts,
        _: &S,
        _: &Principal,
        _: Option<&'static str>,
    ) -> Result<(), Denial> {
        Ok(())
    }
}

/// The extractor the macros add as a handler's first parameter: `Guard<R, (S, W)>` for the
/// handler's requirements `R`, the router state `S`, and the witness `W` that `S` provides the verifier.
///
/// Why the witness: axum marks its `Handler` impls `#[diagnostic::do_not_recommend]`, so a bound
/// that fails under them is reported as axum's opaque "`Handler` is not satisfied". The guard's
/// own impl therefore holds for every state; whether the state provides the verifier is a bound
/// of the handler function itself (`S: ProvidesVerifier<W>`, on generic parameters the macro
/// adds), and rustc reports that one with [`ProvidesVerifier`]'s message at the route. With a good state, `W` is inferred as [`Witness`], through which the guard reaches the
/// verifier.
///
/// The macros also wrap the handler's response in [`Guarded`], through [`Guard::respond`], so
/// that a fresh DPoP nonce reaches the client as it does through
/// [`RequireAuthLayer`](crate::layer::RequireAuthLayer).
pub struct Guard<P, X> {
    /// A fresh DPoP nonce for the response, when the one the client used expires soon.
    dpop_nonce: Option<HeaderValue>,
    requirements: PhantomData<fn() -> (P, X)>,
}

impl<P, X> Guard<P, X> {
    /// The handler's `response`, with what the guard adds to it.
    pub fn respond<R>(self, response: R) -> Guarded<R> {
        Guarded { dpop_nonce: self.dpop_nonce, response }
    }
}

/// The response of a guarded handler: the handler's own, plus a fresh `DPoP-Nonce` (RFC 9449
/// §8.2) when the nonce of the client's proof expires soon and the handler sent none of its
/// own. The macros make it the handler's return type; it renders as the inner response.
#[derive(Debug)]
pub struct Guarded<R> {
    dpop_nonce: Option<HeaderValue>,
    response: R,
}

impl<R: IntoResponse> IntoResponse for Guarded<R> {
    fn into_response(self) -> Response {
        let mut response = self.response.into_response();
        offer_dpop_nonce(&mut response, self.dpop_nonce);
        response
    }
}

/// The witness that a state provides the verifier, through `FromRef`.
#[derive(Debug)]
pub enum Witness {}

/// A witness no state has: its impl never applies.
#[derive(Debug)]
pub enum NoWitness {}

/// Implemented by nothing.
pub trait Never {
    /// Never called.
    fn verifier(&self) -> Verifier;
}

/// How the guard reaches the verifier through a witness `Self` for the state `S`.
pub trait VerifierWitness<S> {
    /// The verifier of `state`.
    fn verifier(state: &S) -> Verifier;
}

impl<S: ProvidesVerifier> VerifierWitness<S> for Witness {
    fn verifier(state: &S) -> Verifier {
        state.verifier()
    }
}

/// The bound of the guard's second type parameter for a handler with generic parameters of its
/// own (where the macros cannot add theirs): a state and the witness that it provides the
/// verifier.
pub trait GuardState {}

impl<S: ProvidesVerifier<W>, W> GuardState for (S, W) {}

// The guard's code is compiled once, not once per handler: `authorize` (credentials, scopes,
// roles, claim checks) is not generic, and `check` is generic only over what needs a type (the
// policies, the ownership check, the state), so that the handlers that share them share one
// instance. What remains per handler is the shell below: one await, and the guard's type.
impl<S, P, W> FromRequestParts<S> for Guard<P, (S, W)>
where
    P: Requirements,
    P::Policies: PolicyList<S>,
    P::Ownership: OwnershipCheck<S>,
    S: Send + Sync,
    W: VerifierWitness<S>,
{
    type Rejection = Denial;

    fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send {
        let checks = check::<P::Policies, P::Ownership, S, W>(parts, state, P::REQUIRED);
        async move {
            let dpop_nonce = checks.await?;
            Ok(Self { dpop_nonce, requirements: PhantomData })
        }
    }
}

/// Every check of a guard, in order; `Ok` carries the fresh DPoP nonce for the response, if
/// one is due.
async fn check<Policies, Ownership, S, W>(
    parts: &mut Parts,
    state: &S,
    required: &'static HandlerRequirements,
) -> Result<Option<HeaderValue>, Denial>
where
    Policies: PolicyList<S>,
    Ownership: OwnershipCheck<S>,
    S: Send + Sync,
    W: VerifierWitness<S>,
{
    let verifier = W::verifier(state);
    let started = observe::Started::now();
    let decision = decide::<Policies, Ownership, S>(&verifier, parts, state, required).await;
    // A refusal after authentication names who was refused; an allowed request has its own.
    let authenticated = decision.as_ref().err().and_then(|_| verifier.authenticated(parts));
    let (scopes, roles) = (required.scopes, required.roles);
    let audit = verifier.audit_trail();
    observe::guard_decided(audit, authenticated, parts, scopes, roles, &decision, started);
    decision.map(|principal| principal.and_then(|principal| principal.dpop_nonce_header()))
}

/// Every check of a guard, in order; `Ok(None)`: an optional guard without credentials.
async fn decide<Policies, Ownership, S>(
    verifier: &Verifier,
    parts: &mut Parts,
    state: &S,
    required: &'static HandlerRequirements,
) -> Result<Option<Principal>, Denial>
where
    Policies: PolicyList<S>,
    Ownership: OwnershipCheck<S>,
    S: Send + Sync,
{
    let Some(principal) = authorize(verifier, parts, required).await? else {
        return Ok(None);
    };
    Policies::check(&principal, parts, state)
        .await
        .map_err(|refusal| principal.deny(DenialKind::PolicyRefused(refusal)))?;
    Ownership::check(parts, state, &principal, required.id_param).await?;
    Ok(Some(principal))
}

/// Credentials (with the strength of the sign-in behind them), scopes, roles and claim checks:
/// the part of every guard that needs no type of the application's. `None`: an optional guard
/// without credentials.
async fn authorize(
    verifier: &Verifier,
    parts: &mut Parts,
    required: &'static HandlerRequirements,
) -> Result<Option<Principal>, Denial> {
    let principal = match verifier.authenticate_once(parts).await {
        Ok(principal) => principal,
        // Only the absence of credentials is let through: an invalid token is still 401, and
        // two tokens still 400, before any extractor.
        Err(denial) if required.optional && *denial.kind() == DenialKind::MissingCredentials => {
            return Ok(None);
        }
        Err(denial) => {
            return Err(denial.with_route_scopes(ScopeRequirement::new(required.scopes), false));
        }
    };
    // Part of authentication: a client learns first that the user must sign in again.
    if let Some(authentication) = &required.authentication
        && !principal.sign_in().satisfies_now(authentication, verifier.leeway_secs())
    {
        return Err(principal.deny(DenialKind::InsufficientUserAuthentication(*authentication)));
    }
    let scopes = ScopeRequirement::new(required.scopes);
    if !principal.scopes().satisfy(&scopes) {
        return Err(principal.deny(DenialKind::InsufficientScope(scopes)));
    }
    if !required.roles.is_empty() {
        let roles = RoleRequirement::new(required.roles);
        if !principal.roles().satisfy(&roles) {
            let missing = roles.missing(principal.roles());
            return Err(principal.deny(DenialKind::MissingRole { required: roles, missing }));
        }
    }
    if required.claims.iter().any(|check| !check.is_met_by(principal.claims())) {
        let refusal = PolicyRefusal::CLAIM_NOT_SATISFIED;
        return Err(principal.deny(DenialKind::PolicyRefused(refusal)));
    }
    Ok(Some(principal))
}

impl<S: ProvidesVerifier> FromRequestParts<S> for Principal {
    type Rejection = Denial;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        state.verifier().authenticate_once(parts).await
    }
}

/// `Option<Principal>`: `None` when the request carries no credentials; an invalid token is
/// still refused (401), and two tokens too (400).
///
/// Used on its own it runs where it stands among the extractors; in a handler with
/// `#[authenticated(optional)]` the guard has already decided, before every extractor.
impl<S: ProvidesVerifier> OptionalFromRequestParts<S> for Principal {
    type Rejection = Denial;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match state.verifier().authenticate_once(parts).await {
            Ok(principal) => Ok(Some(principal)),
            Err(denial) if *denial.kind() == DenialKind::MissingCredentials => Ok(None),
            Err(denial) => Err(denial),
        }
    }
}

impl<S, T> FromRequestParts<S> for Claims<T>
where
    S: ProvidesVerifier,
    T: DeserializeOwned,
{
    type Rejection = Denial;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let principal =
            <Principal as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        principal.deserialize_claims().map(Claims).map_err(|_| {
            principal.deny(DenialKind::InvalidToken(InvalidTokenReason::InvalidClaims))
        })
    }
}
