//! Resource access: the resource named by the path must exist and the caller must be allowed to
//! see it (anti-IDOR), and to perform the handler's action on it.
//!
//! An absent resource, one the caller may not see and an id that cannot name any resource all
//! get the same 404: a client cannot tell them apart, so it cannot probe for other users' ids. A
//! resource the caller may see but not act on (shared read-only) gets 403 without a challenge.
//! By default ([`OwnedResource::access`]) only the owner sees it, and may do everything.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use axum::extract::{FromRef, FromRequestParts, RawPathParams};
use http::Method;
use http::request::Parts;

use crate::guard::{OwnershipCheck, ProvidesVerifier};
use crate::principal::Principal;
use crate::respond::{Denial, DenialKind, NotFoundReason};

/// A resource that belongs to one principal: how to load it by id, and who owns it.
///
/// `#[owner_only(Type)]` and the [`Owned`] extractor use this to load the resource named by the
/// request path once, and to compare its owner with the caller's
/// [`Principal::id`](crate::Principal::id) (the token's `sub` unless configured otherwise).
///
/// ```
/// use portcullis::OwnedResource;
///
/// #[derive(Clone)]
/// struct Db; // a connection pool, in a real application
///
/// struct Document {
///     id: u64,
///     owner: String,
/// }
///
/// impl OwnedResource for Document {
///     type State = Db;
///     type Id = u64;
///     type Error = std::io::Error;
///
///     async fn load(id: u64, _db: &Db) -> Result<Option<Self>, Self::Error> {
///         Ok((id == 1).then(|| Document { id, owner: "alice".into() }))
///     }
///
///     fn owner(&self) -> &str {
///         &self.owner
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an owned resource",
    label = "`#[owner_only]` needs `{Self}` to implement `portcullis::OwnedResource`",
    note = "implement `portcullis::OwnedResource` for `{Self}`: its `State`, how to `load` it by id, and its `owner`"
)]
pub trait OwnedResource: Sized + Send + 'static {
    /// What `load` needs from the router state (a pool, a repository); it is taken from the
    /// router state with `FromRef`.
    type State: Send + Sync;
    /// The id in the path. An id that does not parse gets the same 404 as an absent resource.
    type Id: FromStr + Send;
    /// A lookup failure. Logged, never sent: the client gets a bare 500.
    type Error: fmt::Display + Send;

    /// Loads the resource, or `None` when no resource has this id.
    fn load(
        id: Self::Id,
        state: &Self::State,
    ) -> impl Future<Output = Result<Option<Self>, Self::Error>> + Send;

    /// Whether a resource has this id and whether `principal` may see it, found before the
    /// resource is loaded: an [`Visibility::Absent`] or [`Visibility::NotVisible`] answer gives
    /// the 404 without calling [`load`](Self::load), a [`Visibility::Visible`] one loads the
    /// resource, and [`access`](Self::access) then decides the action.
    ///
    /// Override it with a lookup that reads only what decides visibility (the owner column, or
    /// the owner in the `WHERE`, and the shares), never the resource's content: then an absent
    /// resource and someone else's take the same work, whatever the size of the other user's
    /// resource, and only what the caller may see is loaded. It must show at least what
    /// [`access`](Self::access) allows: a resource reported `NotVisible` here is never loaded.
    ///
    /// By default every id is [`Visibility::Visible`]: the resource is loaded and `access`
    /// decides alone (the lookup is then as costly as `load`).
    ///
    /// ```
    /// use portcullis::{OwnedResource, Principal, resource::Visibility};
    ///
    /// #[derive(Clone)]
    /// struct Db; // a connection pool, in a real application
    ///
    /// impl Db {
    ///     /// `SELECT owner FROM documents WHERE id = ?`: one indexed column, never the body.
    ///     async fn owner_of(&self, id: u64) -> Result<Option<String>, std::io::Error> {
    ///         Ok((id == 1).then(|| "alice".to_owned()))
    ///     }
    /// }
    ///
    /// struct Document {
    ///     id: u64,
    ///     owner: String,
    ///     body: String,
    /// }
    ///
    /// impl OwnedResource for Document {
    ///     type State = Db;
    ///     type Id = u64;
    ///     type Error = std::io::Error;
    ///
    ///     async fn visibility(
    ///         id: &u64,
    ///         principal: &Principal,
    ///         db: &Db,
    ///     ) -> Result<Visibility, Self::Error> {
    ///         Ok(match db.owner_of(*id).await? {
    ///             None => Visibility::Absent,
    ///             Some(owner) if owner == principal.id() => Visibility::Visible,
    ///             Some(_) => Visibility::NotVisible,
    ///         })
    ///     }
    ///
    ///     async fn load(id: u64, _db: &Db) -> Result<Option<Self>, Self::Error> {
    ///         // `SELECT * …`: only ever run for the owner.
    ///         Ok((id == 1).then(|| Document { id, owner: "alice".into(), body: "…".into() }))
    ///     }
    ///
    ///     fn owner(&self) -> &str {
    ///         &self.owner
    ///     }
    /// }
    /// ```
    fn visibility(
        id: &Self::Id,
        principal: &Principal,
        state: &Self::State,
    ) -> impl Future<Output = Result<Visibility, Self::Error>> + Send {
        let _ = (id, principal, state);
        std::future::ready(Ok(Visibility::Visible))
    }

    /// The principal id of the owner.
    fn owner(&self) -> &str;

    /// Whether `principal` may perform `action` on this resource. By default only the owner
    /// may, and may do everything; anyone else is not shown the resource.
    ///
    /// Override it to share a resource or to let an administrator through:
    /// [`Access::NotVisible`] answers the same 404 as an absent resource, and
    /// [`Access::Forbidden`] a 403 without a challenge. For actions of your own, implement
    /// [`AccessControl`] with your enum.
    fn access(&self, principal: &Principal, action: Action) -> Access {
        let _ = action;
        if self.owner() == principal.id() { Access::Allowed } else { Access::NotVisible }
    }
}

/// What [`OwnedResource::visibility`] found before the resource is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Visibility {
    /// No resource has this id: 404.
    Absent,
    /// A resource has this id, but the caller may not know it exists: the same 404, byte for
    /// byte, as for an absent one, and the resource is not loaded.
    NotVisible,
    /// The caller may see the resource: it is loaded, and [`OwnedResource::access`] decides
    /// whether the caller may perform the action.
    Visible,
}

/// The decision of an access check on a loaded resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// The caller may perform the action.
    Allowed,
    /// The caller may not even know the resource exists: the same 404, byte for byte, as for an
    /// absent resource.
    NotVisible,
    /// The caller may see the resource but not perform this action (a document shared
    /// read-only): 403 problem document without `WWW-Authenticate`, since no other token would
    /// help.
    Forbidden,
}

/// What a handler does to a resource, for [`OwnedResource::access`]. `#[owner_only(T, action =
/// read | write | delete)]` names it; without `action`, it follows the method: `GET`, `HEAD`
/// and `OPTIONS` read, `DELETE` deletes, any other method writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Reads the resource.
    Read,
    /// Changes the resource.
    Write,
    /// Deletes the resource.
    Delete,
}

impl Action {
    /// The action a request of `method` performs when the handler does not say.
    pub fn from_method(method: &Method) -> Self {
        match *method {
            Method::GET | Method::HEAD | Method::OPTIONS => Self::Read,
            Method::DELETE => Self::Delete,
            _ => Self::Write,
        }
    }
}

/// Access decisions for actions of the application's own enum `A`:
/// `#[owner_only(T, action = A::Variant)]` asks `T: AccessControl<A>`. Every [`OwnedResource`]
/// implements it for [`Action`], through [`OwnedResource::access`].
///
/// ```
/// use portcullis::{OwnedResource, Principal, resource::{Access, AccessControl}};
///
/// enum DocAction { Comment, Publish }
///
/// struct Doc { owner: String, reviewers: Vec<String> }
/// # impl OwnedResource for Doc {
/// #     type State = (); type Id = u64; type Error = std::convert::Infallible;
/// #     async fn load(_: u64, _: &()) -> Result<Option<Self>, Self::Error> { Ok(None) }
/// #     fn owner(&self) -> &str { &self.owner }
/// # }
///
/// impl AccessControl<DocAction> for Doc {
///     fn access_for(&self, principal: &Principal, action: &DocAction) -> Access {
///         let owner = self.owner == principal.id();
///         let reviewer = self.reviewers.iter().any(|r| r == principal.id());
///         match action {
///             _ if owner => Access::Allowed,
///             DocAction::Comment if reviewer => Access::Allowed,
///             DocAction::Publish if reviewer => Access::Forbidden,
///             _ => Access::NotVisible,
///         }
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no access decision for actions of type `{A}`",
    label = "`#[owner_only(.., action = ..)]` asks `{Self}: portcullis::resource::AccessControl<{A}>`",
    note = "implement `portcullis::resource::AccessControl<{A}>` for `{Self}`, or use a `portcullis::resource::Action` (`action = read`, `write` or `delete`)"
)]
pub trait AccessControl<A>: OwnedResource {
    /// Whether `principal` may perform `action` on this resource.
    fn access_for(&self, principal: &Principal, action: &A) -> Access;
}

impl<T: OwnedResource> AccessControl<Action> for T {
    fn access_for(&self, principal: &Principal, action: &Action) -> Access {
        self.access(principal, *action)
    }
}

/// An action no request performs. Its impl below never decides anything: with two candidate
/// impls of `AccessControl` for every resource, rustc takes the action's type from the action the
/// handler names instead of inferring the only impl's `Action`, so that a resource without an
/// `AccessControl` for the application's own enum is reported with the trait's message.
#[derive(Debug)]
pub enum NoAction {}

#[diagnostic::do_not_recommend]
impl<T: OwnedResource> AccessControl<NoAction> for T {
    fn access_for(&self, _: &Principal, action: &NoAction) -> Access {
        match *action {}
    }
}

/// The access decision of `resource` for `action`: a function rather than the trait's
/// method, so that the action's type decides which `AccessControl` is asked (and a missing
/// one is reported with its fix) instead of the only impl the resource has.
pub fn access_for<T: AccessControl<A>, A>(
    resource: &T,
    principal: &Principal,
    action: &A,
) -> Access {
    resource.access_for(principal, action)
}

/// The access decision of one guarded handler on its resource `T`; the macros implement it.
pub trait Decide<T>: Send + Sync + 'static {
    /// The decision for `principal` on `resource`, for a request of `method`.
    fn decide(resource: &T, principal: &Principal, method: &Method) -> Access;
}

/// The decision of the [`Owned`] extractor used on its own: [`OwnedResource::access`] with the
/// action that follows the method.
#[derive(Debug)]
pub struct ByMethod;

impl<T: OwnedResource> Decide<T> for ByMethod {
    fn decide(resource: &T, principal: &Principal, method: &Method) -> Access {
        resource.access(principal, Action::from_method(method))
    }
}

/// A router state from which the resource `T` can be loaded: it provides, through axum's
/// `FromRef`, `T`'s [`OwnedResource::State`].
///
/// The one bound of ownership: the `#[owner_only(T)]` guard and the [`Owned`] extractor both
/// require it (the extractor, used on its own, also needs [`ProvidesVerifier`]).
#[diagnostic::on_unimplemented(
    message = "the router state `{Self}` cannot load `{T}`: it does not provide `{T}`'s `OwnedResource::State`",
    label = "`{T}` is loaded with its `OwnedResource::State`, taken from this state",
    note = "derive `axum::extract::FromRef` on `{Self}` with a field of `{T}`'s `OwnedResource::State` type (`#[derive(Clone, FromRef)]`), or implement `FromRef<{Self}>` for that type"
)]
pub trait ProvidesResource<T: OwnedResource>: Send + Sync {
    /// What `T::load` needs.
    fn resource_state(&self) -> T::State;
}

#[diagnostic::do_not_recommend]
impl<S, T> ProvidesResource<T> for S
where
    T: OwnedResource,
    T::State: FromRef<S>,
    S: Send + Sync,
{
    fn resource_state(&self) -> T::State {
        T::State::from_ref(self)
    }
}

/// A resource that belongs to the caller, loaded once from the id in the path.
///
/// In a handler guarded by `#[owner_only(T)]` the guard already loaded and checked it; used on
/// its own, the extractor authenticates the caller and checks ownership itself.
#[derive(Debug, Clone)]
pub struct Owned<T>(pub T);

impl<T> Owned<T> {
    /// The resource.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Owned<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Owned<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// The resource a guard loaded, waiting in the request extensions for the [`Owned`] extractor.
/// Extensions must be `Clone`; the resource need not be, so it is shared and taken out once.
struct Loaded<T>(Arc<Mutex<Option<T>>>);

impl<T> Clone for Loaded<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

/// A resource a decision engine allowed, not loaded yet: the handler's [`Owned`] extractor loads
/// it by its id, if the handler has one (a handler without it costs no load).
struct Deferred<T> {
    id: String,
    principal: Principal,
    resource: PhantomData<fn() -> T>,
}

impl<T> Clone for Deferred<T> {
    fn clone(&self) -> Self {
        Self { id: self.id.clone(), principal: self.principal.clone(), resource: PhantomData }
    }
}

/// Leaves the resource `T` with this id, which the engine allowed `principal`, for [`Owned`].
pub(crate) fn defer_load<T: OwnedResource>(parts: &mut Parts, id: String, principal: Principal) {
    parts.extensions.insert(Deferred::<T> { id, principal, resource: PhantomData });
}

/// Loads a resource the engine allowed; removed meanwhile, it is absent.
async fn load_deferred<T: OwnedResource, S: ProvidesResource<T>>(
    deferred: Deferred<T>,
    state: &S,
) -> Result<T, Denial> {
    let principal = &deferred.principal;
    let absent = || principal.deny(DenialKind::NotFound(NotFoundReason::Absent));
    let id = deferred.id.parse::<T::Id>().map_err(|_| absent())?;
    match T::load(id, &state.resource_state()).await {
        Ok(Some(resource)) => Ok(resource),
        Ok(None) => Err(absent()),
        Err(error) => {
            tracing::error!(
                target: "portcullis::ownership",
                resource = std::any::type_name::<T>(),
                %error,
                "loading an owned resource failed"
            );
            Err(principal.deny(DenialKind::LookupFailed))
        }
    }
}

/// Loads the resource named by the path and asks `D` whether `principal` may act on it.
///
/// `id_param` names the path parameter; `None` means the route's only one, or else `id`.
async fn load_owned<T: OwnedResource, D: Decide<T>, S: ProvidesResource<T>>(
    parts: &mut Parts,
    state: &S,
    principal: &Principal,
    id_param: Option<&str>,
) -> Result<T, Denial> {
    let not_found = |reason| Err(principal.deny(DenialKind::NotFound(reason)));
    let Some(raw) = path_id(parts, state, id_param).await else {
        return not_found(NotFoundReason::InvalidId);
    };
    let Ok(id) = raw.parse::<T::Id>() else {
        return not_found(NotFoundReason::InvalidId);
    };
    let resource_state = state.resource_state();
    let failed = |error: T::Error| {
        tracing::error!(
            target: "portcullis::ownership",
            resource = std::any::type_name::<T>(),
            %error,
            "loading an owned resource failed"
        );
        Err(principal.deny(DenialKind::LookupFailed))
    };
    // Visibility first: an absent resource and someone else's are refused before anything of
    // either is loaded, so that both take the same lookup.
    match T::visibility(&id, principal, &resource_state).await {
        Ok(Visibility::Visible) => {}
        Ok(Visibility::NotVisible) => return not_found(NotFoundReason::NotOwner),
        Ok(Visibility::Absent) => return not_found(NotFoundReason::Absent),
        Err(error) => return failed(error),
    }
    match T::load(id, &resource_state).await {
        Ok(Some(resource)) => match D::decide(&resource, principal, &parts.method) {
            Access::Allowed => Ok(resource),
            Access::NotVisible => not_found(NotFoundReason::NotOwner),
            Access::Forbidden => Err(principal.deny(DenialKind::ActionNotPermitted)),
        },
        Ok(None) => not_found(NotFoundReason::Absent),
        Err(error) => failed(error),
    }
}

/// The raw id from the path, already percent-decoded by axum.
pub(crate) async fn path_id<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    id_param: Option<&str>,
) -> Option<String> {
    let params = RawPathParams::from_request_parts(parts, state).await.ok()?;
    let mut all = params.iter();
    let found = match id_param {
        Some(name) => all.find(|(key, _)| *key == name),
        None => {
            let first = all.next();
            match (first, all.next()) {
                (Some(only), None) => Some(only),
                (None, _) => None,
                _ => {
                    let id = params.iter().find(|(key, _)| *key == "id");
                    if id.is_none() {
                        // A route mistake, not a client one: say so to the developer.
                        tracing::warn!(
                            target: "portcullis::ownership",
                            "the route has several path parameters and none is named `id`; name the resource's with `#[owner_only(Type, id = \"…\")]`"
                        );
                    }
                    id
                }
            }
        }
    };
    found.map(|(_, value)| value.to_owned())
}

/// The ownership check of `#[owner_only(T)]`: the resource `T` must exist and `D` must allow
/// the caller's action on it.
///
/// The bound sits on the type so that naming a type without the trait fails right there, under
/// the type the user wrote in `#[owner_only(..)]`.
#[derive(Debug)]
pub struct OwnedBy<T: OwnedResource, D = ByMethod>(PhantomData<fn() -> (T, D)>);

impl<S: ProvidesResource<T>, T: OwnedResource, D: Decide<T>> OwnershipCheck<S> for OwnedBy<T, D> {
    /// Loads and checks the resource, then leaves it for the handler's [`Owned`] extractor.
    async fn check(
        parts: &mut Parts,
        state: &S,
        principal: &Principal,
        id_param: Option<&'static str>,
    ) -> Result<(), Denial> {
        let resource = load_owned::<T, D, S>(parts, state, principal, id_param).await?;
        parts.extensions.insert(Loaded(Arc::new(Mutex::new(Some(resource)))));
        Ok(())
    }
}

impl<S, T> FromRequestParts<S> for Owned<T>
where
    S: ProvidesVerifier + ProvidesResource<T>,
    T: OwnedResource,
{
    type Rejection = Denial;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let stashed = parts
            .extensions
            .remove::<Loaded<T>>()
            .and_then(|loaded| loaded.0.lock().ok().and_then(|mut slot| slot.take()));
        if let Some(resource) = stashed {
            return Ok(Owned(resource));
        }
        if let Some(deferred) = parts.extensions.remove::<Deferred<T>>() {
            return load_deferred(deferred, state).await.map(Owned);
        }
        let principal =
            <Principal as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        load_owned::<T, ByMethod, S>(parts, state, &principal, None).await.map(Owned)
    }
}
