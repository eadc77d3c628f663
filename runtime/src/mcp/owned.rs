//! Resource access over a tool's mirrored argument: the argument names a resource
//! ([`OwnedResource`]) that the caller must be allowed to act on, decided from its
//! `Mcp-Param-{Name}` header before the body, like `#[owner_only]` decides from the path.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::ownership::{Access, Action, OwnedResource, Visibility};
use crate::principal::Principal;
use crate::respond::{Denial, DenialKind, NotFoundReason};

type Decision = Pin<Box<dyn Future<Output = Result<(), Denial>> + Send>>;

/// The check of one owned argument, with its resource type and state erased.
#[derive(Clone)]
pub(crate) struct OwnedCheck(Arc<dyn Fn(String, Principal) -> Decision + Send + Sync>);

impl fmt::Debug for OwnedCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OwnedCheck")
    }
}

impl OwnedCheck {
    /// A check of `R`s with `state`, for `action`.
    pub(crate) fn new<R>(state: R::State, action: Action) -> Self
    where
        R: OwnedResource,
        R::State: Clone + 'static,
    {
        Self(Arc::new(move |raw, principal| {
            let state = state.clone();
            Box::pin(async move { access::<R>(&raw, &principal, &state, action).await })
        }))
    }

    /// `Ok` when `principal` may perform the action on the resource `raw` names; the 404 of
    /// `#[owner_only]` (the same whether the id cannot name a resource, names none, or names
    /// someone else's), its 403, or a 500 for a failed lookup.
    pub(crate) async fn check(&self, raw: &str, principal: &Principal) -> Result<(), Denial> {
        (self.0)(raw.to_owned(), principal.clone()).await
    }
}

async fn access<R: OwnedResource>(
    raw: &str,
    principal: &Principal,
    state: &R::State,
    action: Action,
) -> Result<(), Denial> {
    let not_found = |reason| Err(principal.deny(DenialKind::NotFound(reason)));
    let Ok(id) = raw.parse::<R::Id>() else { return not_found(NotFoundReason::InvalidId) };
    let failed = |error: R::Error| {
        tracing::error!(
            target: "portcullis::ownership",
            resource = std::any::type_name::<R>(),
            %error,
            "loading an owned resource failed"
        );
        Err(principal.deny(DenialKind::LookupFailed))
    };
    // Visibility first: an absent resource and someone else's take the same lookup.
    match R::visibility(&id, principal, state).await {
        Ok(Visibility::Visible) => {}
        Ok(Visibility::NotVisible) => return not_found(NotFoundReason::NotOwner),
        Ok(Visibility::Absent) => return not_found(NotFoundReason::Absent),
        Err(error) => return failed(error),
    }
    match R::load(id, state).await {
        Ok(Some(resource)) => match resource.access(principal, action) {
            Access::Allowed => Ok(()),
            Access::NotVisible => not_found(NotFoundReason::NotOwner),
            Access::Forbidden => Err(principal.deny(DenialKind::ActionNotPermitted)),
        },
        Ok(None) => not_found(NotFoundReason::Absent),
        Err(error) => failed(error),
    }
}
