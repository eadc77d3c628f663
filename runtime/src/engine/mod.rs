//! Authorization engines: a policy decision point asked, before any extractor, whether the caller
//! may see the resource the path names and may perform the handler's action on it.
//!
//! One question, two answers, in one round trip where the engine allows it: may the caller
//! *see* the resource (no: the 404 of an absent resource, byte for byte), and may it perform
//! *this action* (no: 403 without a challenge). An engine that cannot answer (down, slow past
//! its timeout, answering garbage) gives 503 with `Retry-After`, never an allow; an evaluation
//! error inside the engine is a deny.
//!
//! Only the path's resource id and what the application supplies about the resource
//! ([`ResourceFacts`]: its owner and the attributes it chooses) go to the engine, never the
//! request's body, which is not read before the engine allows the request.
//!
//! The engines: `cedar::CedarEngine` (feature `cedar`, in process) and
//! `authzen::AuthZenEngine` (feature `authzen`, any OpenID AuthZEN 1.0 decision point), or an
//! implementation of [`DecisionEngine`] of the application's own.

#[cfg(feature = "authzen")]
#[cfg_attr(docsrs, doc(cfg(feature = "authzen")))]
pub mod authzen;
#[cfg(feature = "cedar")]
#[cfg_attr(docsrs, doc(cfg(feature = "cedar")))]
pub mod cedar;
mod layer;
mod registry;
mod stage;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::principal::Principal;

pub use layer::{EngineLayer, EngineService};
pub use registry::{RegisteredAction, registered_actions};
#[doc(hidden)]
pub use stage::{EngineAction, EngineCheck};
pub use stage::{EngineResource, ProvidesEngine};

/// The future an engine answers with: boxed, so that an [`Engine`] can hold any engine.
pub type EngineFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Decision, EngineFailure>> + Send + 'a>>;

/// A policy decision point: given a [`Question`], whether the caller may see the resource and
/// perform the action on it.
///
/// An implementation asks both in one round trip when it can, and maps its own outcomes:
/// a policy evaluation error is a deny (never an allow), and only an engine that gives no usable
/// answer at all is an [`EngineFailure`].
pub trait DecisionEngine: Send + Sync + 'static {
    /// The decision for `question`.
    fn decide<'a>(&'a self, question: &'a Question<'a>) -> EngineFuture<'a>;

    /// Whether the engine knows the action `name`, checked for every action the attributes use
    /// when the [`Engine`] is built. `None` (the default): the engine cannot tell in advance
    /// (a remote decision point), and the action is not checked.
    fn knows_action(&self, name: &str) -> Option<bool> {
        let _ = name;
        None
    }
}

/// What an engine is asked: may `principal` see `resource`, and may it perform `action` on it.
#[derive(Debug)]
pub struct Question<'a> {
    /// The verified caller.
    pub principal: &'a Principal,
    /// The action that makes a resource visible ("read" unless configured).
    pub see_action: &'a str,
    /// The handler's action.
    pub action: &'a str,
    /// The resource the path names.
    pub resource: &'a ResourceRef,
}

impl Question<'_> {
    /// Whether the two questions are one: the handler's action is the one that makes the
    /// resource visible, so a single evaluation answers both.
    pub fn is_single(&self) -> bool {
        self.see_action == self.action
    }
}

/// The resource an engine is asked about: its type, the id from the path, and what the
/// application chose to tell.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceRef {
    /// The resource's type as the engine knows it ([`EngineResource::KIND`]).
    pub kind: &'static str,
    /// The id, as the path has it (percent-decoded).
    pub id: String,
    /// The application's facts about the resource.
    pub facts: ResourceFacts,
}

/// What the application tells the engine about a resource: its owner and the attributes it
/// chooses. Never the resource's content, unless the application puts it here.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceFacts {
    /// The owner's principal id ([`Principal::id`]'s text form), if the resource has one.
    pub owner: Option<String>,
    /// Further attributes, as JSON (a list of the principal ids it is shared with, a status).
    pub attributes: Map<String, Value>,
}

impl ResourceFacts {
    /// Facts of a resource owned by `owner`.
    pub fn owned_by(owner: impl Into<String>) -> Self {
        Self { owner: Some(owner.into()), attributes: Map::new() }
    }

    /// Adds the attribute `name`.
    #[must_use]
    pub fn attribute(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.attributes.insert(name.into(), value.into());
        self
    }
}

/// An engine's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// The caller may see the resource and perform the action.
    Allowed,
    /// The caller may see the resource but not perform the action: 403 without a challenge.
    Forbidden,
    /// The caller may not see the resource: the 404 of an absent one.
    NotVisible,
}

impl Decision {
    /// The decision from the two answers: may see, may act. Not seeing wins: a caller that may
    /// not see a resource is not told it exists, whatever the action's answer.
    pub fn from_answers(may_see: bool, may_act: bool) -> Self {
        match (may_see, may_act) {
            (false, _) => Self::NotVisible,
            (true, false) => Self::Forbidden,
            (true, true) => Self::Allowed,
        }
    }
}

/// An engine gave no usable answer: unreachable, slow past its timeout, an error status, or an
/// answer that is not one. The request gets 503 with `Retry-After`; the cause is logged, never
/// sent.
#[derive(Debug)]
pub struct EngineFailure {
    cause: Box<dyn std::error::Error + Send + Sync>,
}

impl EngineFailure {
    /// A failure with its cause, for the log.
    pub fn new(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self { cause: cause.into() }
    }
}

impl fmt::Display for EngineFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the decision engine gave no answer: {}", self.cause)
    }
}

impl std::error::Error for EngineFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.cause)
    }
}

/// An engine refused when it was built: an action the attributes use is not one it knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the action \"{action}\" used by `#[authorize]` on `{handler}` is not known to the decision engine"
)]
pub struct UnknownAction {
    /// The action's name.
    pub action: &'static str,
    /// The handler's path (module and function).
    pub handler: &'static str,
}

/// The engine of a router: a [`DecisionEngine`] with the action that makes a resource visible and
/// the `Retry-After` of a failure. Cheap to clone; the router state provides it (`FromRef`).
#[derive(Clone)]
pub struct Engine {
    inner: Arc<dyn DecisionEngine>,
    see_action: Arc<str>,
    retry_after: Duration,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("see_action", &self.see_action)
            .field("retry_after", &self.retry_after)
            .finish_non_exhaustive()
    }
}

/// The default `Retry-After` of an engine failure.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

impl Engine {
    /// The engine `engine`, refused if it does not know an action that a `#[authorize]`
    /// attribute of this program uses (an engine that cannot tell in advance accepts them all).
    /// A resource is visible to whoever may perform `"read"` on it; see
    /// [`see_action`](Self::see_action).
    pub fn new(engine: impl DecisionEngine) -> Result<Self, UnknownAction> {
        for registered in registered_actions() {
            if engine.knows_action(registered.action) == Some(false) {
                return Err(UnknownAction {
                    action: registered.action,
                    handler: registered.handler,
                });
            }
        }
        Ok(Self {
            inner: Arc::new(engine),
            see_action: Arc::from("read"),
            retry_after: DEFAULT_RETRY_AFTER,
        })
    }

    /// The action that makes a resource visible (default `"read"`): a caller the engine does
    /// not allow it gets the 404 of an absent resource.
    #[must_use]
    pub fn see_action(mut self, action: &str) -> Self {
        self.see_action = Arc::from(action);
        self
    }

    /// The `Retry-After` of a 503 when the engine fails (default 5 seconds).
    #[must_use]
    pub fn retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// The decision for `principal` performing `action` on `resource`.
    pub async fn decide(
        &self,
        principal: &Principal,
        action: &str,
        resource: &ResourceRef,
    ) -> Result<Decision, EngineFailure> {
        let question = Question { principal, see_action: &self.see_action, action, resource };
        self.inner.decide(&question).await
    }

    pub(crate) fn retry_after_value(&self) -> Duration {
        self.retry_after
    }
}
