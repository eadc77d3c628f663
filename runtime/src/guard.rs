//! The guard the attribute macros put first in a handler's parameters.
//!
//! axum runs a handler's extractors in parameter order, and the body extractor last, so a guard
//! placed first runs before any path, query, header or body extractor the user wrote, whatever
//! their order. The guard checks credentials, then scopes, then ownership.

use std::marker::PhantomData;

use axum::extract::{FromRef, FromRequestParts};
use http::request::Parts;

use crate::denial::{Denial, DenialKind};
use crate::ownership::{OwnedResource, stash_owned};
use crate::principal::Principal;
use crate::scope::{ScopeRequirement, ScopeRule};
use crate::verifier::Verifier;

/// A router state from which the guards can take the [`Verifier`].
#[diagnostic::on_unimplemented(
    message = "the router state `{Self}` does not provide a `portcullis::Verifier`",
    label = "portcullis guards need a `Verifier` in this state",
    note = "add a `portcullis::Verifier` field to `{Self}` and derive `axum::extract::FromRef` on it (`#[derive(Clone, FromRef)]`), or implement `FromRef<{Self}> for portcullis::Verifier`"
)]
pub trait ProvidesVerifier: Send + Sync {
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

/// What a guarded handler requires; the macros implement it on a hidden type per handler.
pub trait Policy: Send + Sync + 'static {
    /// The required scopes; empty for `#[authenticated]`.
    const SCOPES: &'static [ScopeRule];
    /// The ownership check: [`NoOwnership`] or [`OwnedBy`].
    type Ownership;
    /// The path parameter holding the resource id, if named.
    const ID_PARAM: Option<&'static str>;
}

/// The ownership check of a [`Policy`], run after the scope check.
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

/// The resource `T` must exist and belong to the caller.
///
/// The bound sits on the type so that naming a type without the trait fails right there, under
/// the type the user wrote in `#[owner_only(..)]`.
#[derive(Debug)]
pub struct OwnedBy<T: OwnedResource>(PhantomData<fn() -> T>);

impl<S, T> OwnershipCheck<S> for OwnedBy<T>
where
    T: OwnedResource,
    T::State: FromRef<S>,
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    async fn check(
        parts: &mut Parts,
        state: &S,
        principal: &Principal,
        id_param: Option<&'static str>,
    ) -> Result<(), Denial> {
        stash_owned::<T, S>(parts, state, principal, id_param).await
    }
}

/// The extractor the macros add as a handler's first parameter.
pub struct Guard<P>(PhantomData<fn() -> P>);

impl<S, P> FromRequestParts<S> for Guard<P>
where
    P: Policy,
    P::Ownership: OwnershipCheck<S>,
    S: ProvidesVerifier,
{
    type Rejection = Denial;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = state.verifier();
        let principal = verifier.authenticate_once(parts).await?;
        let required = ScopeRequirement::new(P::SCOPES);
        if !principal.scopes().satisfy(&required) {
            return Err(verifier.deny(DenialKind::InsufficientScope(required)));
        }
        P::Ownership::check(parts, state, &principal, P::ID_PARAM).await?;
        Ok(Self(PhantomData))
    }
}

/// `true` when `scope` is one of `declared`; `const` so the macros can check a literal against a
/// declared vocabulary at compile time.
pub const fn is_declared(scope: &str, declared: &[&str]) -> bool {
    let mut i = 0;
    while i < declared.len() {
        if str_eq(scope, declared[i]) {
            return true;
        }
        i += 1;
    }
    false
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_scopes_compare_exactly() {
        const DECLARED: &[&str] = &["docs:read", "docs:write"];
        const _: () = assert!(is_declared("docs:read", DECLARED));
        assert!(is_declared("docs:write", DECLARED));
        assert!(!is_declared("doc:write", DECLARED));
        assert!(!is_declared("docs:writes", DECLARED));
        assert!(!is_declared("", DECLARED));
    }
}
