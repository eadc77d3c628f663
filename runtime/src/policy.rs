//! Policies: the application's own authorization rules, evaluated by the guard after scopes and
//! roles and before resource access and every extractor.
//!
//! - [`AccessPolicy`]: a rule of the application's, seeing the [`Principal`], the request head
//!   and the part of the router state it asks for. `#[portcullis::policy]` makes one of a
//!   function (sync or async); a type can implement the trait itself. `#[requires_policy(..)]`
//!   names it on a handler.
//! - [`ClaimCheck`]: the common checks ready-made (a claim equals a value, includes values, is
//!   `true`), written `claim_equals(..)`, `claim_includes(..)`, `claim_true(..)` in
//!   `#[requires_policy(..)]`.
//!
//! A refusal is a [`PolicyRefusal`]: 403 `insufficient_scope` without `scope=`.

use std::future::Future;
use std::marker::PhantomData;

use axum::extract::FromRef;
use http::request::Parts;
use serde_json::Value;

use crate::principal::{Principal, claim_at};
use crate::respond::PolicyRefusal;

/// An authorization rule of the application's, run by the guard of every handler that names it
/// in `#[requires_policy(..)]`, after the scope and role checks and before the resource is
/// loaded and before any extractor: nothing of the request but its head has been read.
///
/// The easiest way to write one is a function with `#[portcullis::policy]`, which implements
/// this trait on a type of the same name. Implement it yourself for a policy with its own type:
///
/// ```
/// use http::request::Parts;
/// use portcullis::{Principal, authorization::{AccessPolicy, PolicyRefusal}};
///
/// #[derive(Clone)]
/// struct Quotas; // what the policy needs from the router state
///
/// struct WithinQuota;
///
/// impl AccessPolicy for WithinQuota {
///     type State = Quotas;
///
///     async fn check(
///         principal: &Principal,
///         _head: &Parts,
///         _quotas: &Quotas,
///     ) -> Result<(), PolicyRefusal> {
///         if principal.subject() == "greedy" {
///             return Err(PolicyRefusal::because("The caller is over its quota"));
///         }
///         Ok(())
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a portcullis policy",
    label = "`#[requires_policy]` needs `{Self}` to implement `portcullis::authorization::AccessPolicy`",
    note = "put `#[portcullis::policy]` on a function `fn {Self}(principal: &Principal, head: &Parts[, state: &State]) -> bool` (or `-> Result<(), PolicyRefusal>`, sync or async), or implement `portcullis::authorization::AccessPolicy` for a type"
)]
pub trait AccessPolicy: Send + Sync + 'static {
    /// What the policy needs from the router state, taken from it with `FromRef`;
    /// [`NoState`] for none.
    type State: Send + Sync;

    /// `Ok(())` lets the request go on; a refusal answers 403.
    fn check(
        principal: &Principal,
        head: &Parts,
        state: &Self::State,
    ) -> impl Future<Output = Result<(), PolicyRefusal>> + Send;
}

/// The state of a policy that needs none: every router state provides it.
#[derive(Debug)]
pub struct NoState;

impl<S> FromRef<S> for NoState {
    fn from_ref(_: &S) -> Self {
        Self
    }
}

/// What a policy function may answer: `bool` (`false` is [`PolicyRefusal::NOT_PERMITTED`]) or
/// `Result<(), PolicyRefusal>`.
pub trait PolicyOutcome {
    /// As a result.
    fn into_result(self) -> Result<(), PolicyRefusal>;
}

impl PolicyOutcome for bool {
    fn into_result(self) -> Result<(), PolicyRefusal> {
        if self { Ok(()) } else { Err(PolicyRefusal::NOT_PERMITTED) }
    }
}

impl PolicyOutcome for Result<(), PolicyRefusal> {
    fn into_result(self) -> Self {
        self
    }
}

/// Awaits a policy function's answer, or takes it as it is: what `#[policy]` calls, so
/// that one expansion serves sync and async functions.
#[diagnostic::on_unimplemented(
    message = "a policy answers `bool` or `Result<(), portcullis::authorization::PolicyRefusal>` (or a future of one), not `{Self}`",
    label = "this policy's answer is `{Self}`"
)]
pub trait IntoPolicyFuture<M> {
    /// The answer, as a future.
    fn into_policy_future(self) -> impl Future<Output = Result<(), PolicyRefusal>> + Send;
}

/// Marks a policy function that answers at once.
#[derive(Debug)]
pub enum AnswersAtOnce {}
/// Marks a policy function that answers with a future.
#[derive(Debug)]
pub enum AnswersLater {}

impl<T: PolicyOutcome + Send> IntoPolicyFuture<AnswersAtOnce> for T {
    async fn into_policy_future(self) -> Result<(), PolicyRefusal> {
        self.into_result()
    }
}

impl<F> IntoPolicyFuture<AnswersLater> for F
where
    F: Future + Send,
    F::Output: PolicyOutcome,
{
    async fn into_policy_future(self) -> Result<(), PolicyRefusal> {
        self.await.into_result()
    }
}

/// The policies of one handler, as a list: `()` or `Policies<First, Rest>`.
pub trait PolicyList<S>: Send + Sync {
    /// Runs every policy in order, stopping at the first refusal.
    fn check(
        principal: &Principal,
        head: &Parts,
        state: &S,
    ) -> impl Future<Output = Result<(), PolicyRefusal>> + Send;
}

impl<S: Send + Sync> PolicyList<S> for () {
    async fn check(_: &Principal, _: &Parts, _: &S) -> Result<(), PolicyRefusal> {
        Ok(())
    }
}

/// A router state from which the policy `P` takes its [`AccessPolicy::State`], through axum's
/// `FromRef`.
#[diagnostic::on_unimplemented(
    message = "the router state `{Self}` does not provide the state of the policy `{P}`",
    label = "`{P}` takes its `AccessPolicy::State` from this state",
    note = "derive `axum::extract::FromRef` on `{Self}` with a field of the policy's state type (`#[derive(Clone, FromRef)]`), or implement `FromRef<{Self}>` for that type"
)]
pub trait ProvidesPolicyState<P: AccessPolicy> {
    /// What `P` needs.
    fn policy_state(&self) -> P::State;
}

#[diagnostic::do_not_recommend]
impl<S, P> ProvidesPolicyState<P> for S
where
    P: AccessPolicy,
    P::State: FromRef<S>,
{
    fn policy_state(&self) -> P::State {
        P::State::from_ref(self)
    }
}

/// One policy `P` followed by the list `R`. The bound sits on the type, so that naming a type
/// that is not a policy fails right there, under the path written in `#[requires_policy(..)]`.
pub struct Policies<P: AccessPolicy, R>(PhantomData<fn() -> (P, R)>);

impl<S, P, R> PolicyList<S> for Policies<P, R>
where
    S: ProvidesPolicyState<P> + Send + Sync,
    P: AccessPolicy,
    R: PolicyList<S>,
{
    async fn check(principal: &Principal, head: &Parts, state: &S) -> Result<(), PolicyRefusal> {
        let own = state.policy_state();
        P::check(principal, head, &own).await?;
        R::check(principal, head, state).await
    }
}

/// A value a [`ClaimCheck::Equals`] compares a claim with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimValue {
    /// A string claim equal to this one.
    Str(&'static str),
    /// A boolean claim.
    Bool(bool),
    /// An integer claim.
    Int(i64),
}

/// A ready-made policy on one claim, found by its dotted path (see [`Principal::claim_at`](crate::Principal::claim_at)).
///
/// In `#[requires_policy(..)]`: `claim_true("email_verified")`,
/// `claim_equals("tenant", "acme")`, `claim_includes("groups", "staff", "editors")`. An absent
/// claim, or one of another type, does not meet the check; a refusal is
/// [`PolicyRefusal::CLAIM_NOT_SATISFIED`].
///
/// ```
/// use portcullis::authorization::{ClaimCheck, ClaimValue};
/// use serde_json::json;
///
/// let claims = json!({"email_verified": true, "org": {"tier": 2}, "groups": ["staff", "editors"]});
/// let claims = claims.as_object().unwrap();
/// assert!(ClaimCheck::IsTrue("email_verified").is_met_by(claims));
/// assert!(ClaimCheck::Equals("org.tier", ClaimValue::Int(2)).is_met_by(claims));
/// assert!(ClaimCheck::Includes("groups", &["editors"]).is_met_by(claims));
/// assert!(!ClaimCheck::Includes("groups", &["editors", "admins"]).is_met_by(claims));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimCheck {
    /// The claim is the boolean `true` (not the string `"true"`).
    IsTrue(&'static str),
    /// The claim equals the value, with the same JSON type.
    Equals(&'static str, ClaimValue),
    /// The claim holds every value: an array of strings, or a space-delimited string.
    Includes(&'static str, &'static [&'static str]),
}

impl ClaimCheck {
    /// `true` when `claims` meet the check.
    pub fn is_met_by(&self, claims: &serde_json::Map<String, Value>) -> bool {
        match *self {
            Self::IsTrue(path) => matches!(claim_at(claims, path), Some(Value::Bool(true))),
            Self::Equals(path, expected) => match (claim_at(claims, path), expected) {
                (Some(Value::String(value)), ClaimValue::Str(expected)) => value == expected,
                (Some(Value::Bool(value)), ClaimValue::Bool(expected)) => *value == expected,
                (Some(Value::Number(value)), ClaimValue::Int(expected)) => {
                    value.as_i64() == Some(expected)
                }
                _ => false,
            },
            Self::Includes(path, wanted) => match claim_at(claims, path) {
                Some(Value::Array(items)) => wanted
                    .iter()
                    .all(|wanted| items.iter().any(|item| item.as_str() == Some(*wanted))),
                Some(Value::String(text)) => {
                    wanted.iter().all(|wanted| text.split(' ').any(|item| item == *wanted))
                }
                _ => false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claim_checks_compare_type_and_value() {
        let claims = json!({
            "email_verified": true,
            "unverified": "true",
            "tenant": "acme",
            "tier": 2,
            "realm_access": {"roles": ["a", "b"]},
            "scope": "x y",
        });
        let claims = claims.as_object().unwrap();
        assert!(ClaimCheck::IsTrue("email_verified").is_met_by(claims));
        assert!(!ClaimCheck::IsTrue("unverified").is_met_by(claims));
        assert!(!ClaimCheck::IsTrue("absent").is_met_by(claims));
        assert!(ClaimCheck::Equals("tenant", ClaimValue::Str("acme")).is_met_by(claims));
        assert!(!ClaimCheck::Equals("tenant", ClaimValue::Str("Acme")).is_met_by(claims));
        assert!(!ClaimCheck::Equals("tier", ClaimValue::Str("2")).is_met_by(claims));
        assert!(ClaimCheck::Equals("tier", ClaimValue::Int(2)).is_met_by(claims));
        assert!(ClaimCheck::Equals("email_verified", ClaimValue::Bool(true)).is_met_by(claims));
        assert!(ClaimCheck::Includes("realm_access.roles", &["b", "a"]).is_met_by(claims));
        assert!(!ClaimCheck::Includes("realm_access.roles", &["c"]).is_met_by(claims));
        assert!(ClaimCheck::Includes("scope", &["y"]).is_met_by(claims));
        assert!(!ClaimCheck::Includes("tier", &["2"]).is_met_by(claims));
    }
}
