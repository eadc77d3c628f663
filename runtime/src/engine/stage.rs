//! The engine stage of a guard: after scopes, roles and policies, before any extractor. It reads
//! the resource id from the path, asks the application for the resource's facts, asks the
//! engine, and maps the decision onto the response (404 / 403 / 503), leaving the resource to be
//! loaded only if the handler asks for it ([`Owned`](crate::Owned)).

use std::future::Future;
use std::marker::PhantomData;

use axum::extract::FromRef;
use http::request::Parts;

use super::{Decision, Engine, ResourceFacts, ResourceRef};
use crate::guard::OwnershipCheck;
use crate::ownership::{OwnedResource, ProvidesResource, defer_load, path_id};
use crate::principal::Principal;
use crate::respond::{Denial, DenialKind, NotFoundReason};

/// A resource an engine decides about: its type as the engine knows it, and the facts the
/// application tells the engine, found without loading the resource.
///
/// ```
/// use portcullis::{OwnedResource, engine::{EngineResource, ResourceFacts}};
///
/// #[derive(Clone)]
/// struct Db; // a connection pool, in a real application
///
/// struct Document { owner: String, body: String }
///
/// impl OwnedResource for Document {
///     type State = Db;
///     type Id = u64;
///     type Error = std::io::Error;
///
///     async fn load(id: u64, _db: &Db) -> Result<Option<Self>, Self::Error> {
///         Ok((id == 1).then(|| Document { owner: "alice".into(), body: "…".into() }))
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
///     /// `SELECT owner, shared_with FROM documents WHERE id = ?`: never the body.
///     async fn facts(id: &u64, _db: &Db) -> Result<Option<ResourceFacts>, Self::Error> {
///         Ok((*id == 1).then(|| {
///             ResourceFacts::owned_by("alice").attribute("shared_with", vec!["bob"])
///         }))
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a resource a decision engine can be asked about",
    label = "`#[authorize]` needs `{Self}` to implement `portcullis::engine::EngineResource`",
    note = "implement `portcullis::engine::EngineResource` for `{Self}`: its `KIND` and the `facts` the engine is told"
)]
pub trait EngineResource: OwnedResource {
    /// The resource's type as the engine knows it (a Cedar entity type, an AuthZEN resource
    /// `type`).
    const KIND: &'static str;

    /// The facts the engine is told about the resource with this id, or `None` when no
    /// resource has it (404, and the engine is not asked). Read only what decisions need (the
    /// owner, the shares), never the content: an absent resource and someone else's then take
    /// the same work.
    fn facts(
        id: &Self::Id,
        state: &Self::State,
    ) -> impl Future<Output = Result<Option<ResourceFacts>, Self::Error>> + Send;
}

/// A router state from which the guards take the decision [`Engine`]: the engine itself, or an
/// application state with an `Engine` field and `#[derive(Clone, FromRef)]`.
#[diagnostic::on_unimplemented(
    message = "the router state `{Self}` does not provide a `portcullis::engine::Engine`",
    label = "`#[authorize]` takes the decision engine from the router state",
    note = "add a `portcullis::engine::Engine` field to the state with `#[derive(Clone, axum::extract::FromRef)]`, or `impl FromRef<{Self}> for portcullis::engine::Engine`"
)]
pub trait ProvidesEngine: Send + Sync {
    /// The engine.
    fn engine(&self) -> Engine;
}

#[diagnostic::do_not_recommend]
impl<S> ProvidesEngine for S
where
    Engine: FromRef<S>,
    S: Send + Sync,
{
    fn engine(&self) -> Engine {
        Engine::from_ref(self)
    }
}

/// The action of one `#[authorize]` handler; the macros implement it on the handler's hidden
/// requirements type.
pub trait EngineAction: Send + Sync + 'static {
    /// The action's name.
    const ACTION: &'static str;
}

/// The engine check of `#[authorize(T, action = "…")]`: the engine must let the caller see `T`
/// and perform the action `A` names on it.
#[derive(Debug)]
pub struct EngineCheck<T: EngineResource, A>(PhantomData<fn() -> (T, A)>);

impl<S, T, A> OwnershipCheck<S> for EngineCheck<T, A>
where
    S: ProvidesResource<T> + ProvidesEngine,
    T: EngineResource,
    A: EngineAction,
{
    async fn check(
        parts: &mut Parts,
        state: &S,
        principal: &Principal,
        id_param: Option<&'static str>,
    ) -> Result<(), Denial> {
        let engine = state.engine();
        let resource_state = state.resource_state();
        ask::<T>(parts, state, &resource_state, &engine, principal, A::ACTION, id_param).await
    }
}

/// Asks `engine` whether `principal` may perform `action` on the resource `T` the path names;
/// on an allow, leaves the resource to be loaded by the handler's `Owned<T>`, if it has one.
pub(crate) async fn ask<T: EngineResource>(
    parts: &mut Parts,
    router_state: &(impl Send + Sync),
    resource_state: &T::State,
    engine: &Engine,
    principal: &Principal,
    action: &str,
    id_param: Option<&str>,
) -> Result<(), Denial> {
    let not_found = |reason| Err(principal.deny(DenialKind::NotFound(reason)));
    let Some(raw) = path_id(parts, router_state, id_param).await else {
        return not_found(NotFoundReason::InvalidId);
    };
    let Ok(id) = raw.parse::<T::Id>() else {
        return not_found(NotFoundReason::InvalidId);
    };
    let facts = match T::facts(&id, resource_state).await {
        Ok(Some(facts)) => facts,
        Ok(None) => return not_found(NotFoundReason::Absent),
        Err(error) => {
            tracing::error!(
                target: "portcullis::engine",
                resource = std::any::type_name::<T>(),
                %error,
                "reading a resource's facts for the decision engine failed"
            );
            return Err(principal.deny(DenialKind::LookupFailed));
        }
    };
    let resource = ResourceRef { kind: T::KIND, id: raw, facts };
    match engine.decide(principal, action, &resource).await {
        Ok(Decision::Allowed) => {
            defer_load::<T>(parts, resource.id, principal.clone());
            Ok(())
        }
        Ok(Decision::NotVisible) => not_found(NotFoundReason::NotOwner),
        Ok(Decision::Forbidden) => Err(principal.deny(DenialKind::ActionNotPermitted)),
        Err(failure) => {
            tracing::warn!(
                target: "portcullis::engine",
                action,
                resource = T::KIND,
                error = %failure,
                "the decision engine gave no answer"
            );
            Err(principal
                .deny(DenialKind::EngineUnavailable { retry_after: engine.retry_after_value() }))
        }
    }
}
