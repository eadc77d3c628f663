//! MCP sessions bound to the principal that opened them.
//!
//! An `Mcp-Session-Id` is a bearer value: rmcp serves whoever presents it. The MCP
//! specification's security practices ask a server not to rely on the session for
//! authentication, and to bind a session to the user; so a session here belongs to the principal
//! whose `initialize` created it (issuer and subject, [`Owner`]), and a request of anyone else
//! that names it gets the same 404 as an unknown session, the specification's answer for a
//! session that does not exist, from which the caller learns nothing.
//!
//! [`OwnedSessions`] wraps rmcp's session manager: it binds a session when rmcp initializes it
//! and forgets the binding when rmcp closes the session (a client's `DELETE`, the end of the
//! session's worker, rmcp's idle timeout), so it holds exactly one entry per session rmcp holds;
//! and it ends a principal's oldest session when they open more than a bound.
//! [`sessions_of_their_owner`] is the middleware that refuses the others.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use futures_util::Stream;
use http::StatusCode;
use portcullis::Principal;
use rmcp::model::{ClientJsonRpcMessage, GetExtensions, ServerJsonRpcMessage};
use rmcp::transport::common::http_header::HEADER_SESSION_ID;
use rmcp::transport::streamable_http_server::SessionManager;
use rmcp::transport::streamable_http_server::session::{EventStore, ServerSseMessage, SessionId};

/// The body of rmcp's 404 for a session it does not know, which this module answers too.
const SESSION_NOT_FOUND: &str = "Not Found: Session not found";

/// Who opened a session: the issuer and the subject of their token, the pair that names one
/// caller even when several issuers are accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    issuer: Option<String>,
    subject: String,
}

impl Owner {
    /// The owner `principal` would be.
    pub fn of(principal: &Principal) -> Self {
        Self {
            issuer: principal.issuer().map(str::to_owned),
            subject: principal.subject().to_owned(),
        }
    }
}

/// How many sessions one principal may hold at once unless
/// [`OwnedSessions::max_per_owner`] says otherwise.
pub const DEFAULT_MAX_SESSIONS_PER_OWNER: usize = 16;

/// A session manager (rmcp's [`LocalSessionManager`](rmcp::transport::streamable_http_server::session::local::LocalSessionManager),
/// or any other) whose sessions each belong to the principal that initialized them.
///
/// One principal holds at most [`DEFAULT_MAX_SESSIONS_PER_OWNER`] sessions: opening one more
/// ends that principal's oldest (the specification lets a server end a session at any time; its
/// client gets 404 and initializes again), so that a token cannot pile up sessions, each a task
/// of rmcp's, until they idle out.
#[derive(Debug)]
pub struct OwnedSessions<M> {
    inner: M,
    bindings: Mutex<Bindings>,
    max_per_owner: usize,
}

/// The open sessions' owners, and the order they were opened in.
#[derive(Debug, Default)]
struct Bindings {
    sessions: HashMap<SessionId, Binding>,
    /// The serial number of the next session bound.
    next: u64,
}

#[derive(Debug)]
struct Binding {
    owner: Owner,
    /// Smaller for an older session.
    serial: u64,
}

impl Bindings {
    /// Binds session `id` to `owner`; removes and returns `owner`'s oldest sessions beyond `max`.
    fn bind(&mut self, id: SessionId, owner: Owner, max: usize) -> Vec<SessionId> {
        let serial = self.next;
        self.next += 1;
        let mut owned: Vec<(u64, SessionId)> = self
            .sessions
            .iter()
            .filter(|(_, binding)| binding.owner == owner)
            .map(|(id, binding)| (binding.serial, id.clone()))
            .collect();
        self.sessions.insert(id, Binding { owner, serial });
        // The new session counts too, and is the newest.
        let excess = (owned.len() + 1).saturating_sub(max);
        owned.sort_unstable_by_key(|(serial, _)| *serial);
        owned.truncate(excess);
        owned
            .into_iter()
            .map(|(_, oldest)| {
                self.sessions.remove(&oldest);
                oldest
            })
            .collect()
    }
}

impl<M> OwnedSessions<M> {
    /// Binds the sessions of `inner`, at most [`DEFAULT_MAX_SESSIONS_PER_OWNER`] per principal.
    pub fn new(inner: M) -> Self {
        Self {
            inner,
            bindings: Mutex::new(Bindings::default()),
            max_per_owner: DEFAULT_MAX_SESSIONS_PER_OWNER,
        }
    }

    /// At most `max` sessions per principal (at least one).
    #[must_use]
    pub fn max_per_owner(mut self, max: usize) -> Self {
        self.max_per_owner = max.max(1);
        self
    }

    /// Whether the session `id` is open and belongs to `owner`.
    pub fn is_owned_by(&self, id: &str, owner: &Owner) -> bool {
        self.bindings().sessions.get(id).is_some_and(|binding| binding.owner == *owner)
    }

    /// How many sessions are bound: as many as are open.
    pub fn len(&self) -> usize {
        self.bindings().sessions.len()
    }

    /// Whether no session is open.
    pub fn is_empty(&self) -> bool {
        self.bindings().sessions.is_empty()
    }

    fn bindings(&self) -> std::sync::MutexGuard<'_, Bindings> {
        // No critical section can panic half-way through a change of the map.
        self.bindings.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A session could not be initialized.
#[derive(Debug)]
pub enum SessionError<E> {
    /// The `initialize` request carries no verified principal: the router's authentication
    /// layers did not run before rmcp, and no session is opened unbound.
    Unauthenticated,
    /// The wrapped session manager failed.
    Manager(E),
}

impl<E: fmt::Display> fmt::Display for SessionError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unauthenticated => f.write_str("the initialize request carries no principal"),
            Self::Manager(error) => error.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for SessionError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Unauthenticated => None,
            Self::Manager(error) => Some(error),
        }
    }
}

/// The principal of an `initialize` request: rmcp puts the request's HTTP parts in the
/// message's extensions, where [`crate::router`]'s middleware put the verified principal.
fn initializer(message: &ClientJsonRpcMessage) -> Option<Owner> {
    let ClientJsonRpcMessage::Request(request) = message else { return None };
    let parts = request.request.extensions().get::<http::request::Parts>()?;
    parts.extensions.get::<Principal>().map(Owner::of)
}

impl<M: SessionManager> SessionManager for OwnedSessions<M> {
    type Error = SessionError<M::Error>;
    type Transport = M::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        self.inner.create_session().await.map_err(SessionError::Manager)
    }

    /// Binds the session before rmcp answers the `initialize` and hands its id to the client,
    /// so that no request can name it unbound.
    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        let Some(owner) = initializer(&message) else {
            // rmcp's worker for the created session then ends, and closes it.
            return Err(SessionError::Unauthenticated);
        };
        let evicted = self.bindings().bind(id.clone(), owner, self.max_per_owner);
        for oldest in evicted {
            // Unbound already: refused from now on, whatever rmcp does.
            if let Err(error) = self.inner.close_session(&oldest).await {
                tracing::warn!(%error, "closing a session beyond its owner's limit failed");
            }
        }
        let result = self.inner.initialize_session(id, message).await;
        if result.is_err() {
            self.bindings().sessions.remove(id);
        }
        result.map_err(SessionError::Manager)
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        self.inner.has_session(id).await.map_err(SessionError::Manager)
    }

    /// Called for a `DELETE` and when the session's worker ends, whatever ended it.
    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        self.bindings().sessions.remove(id);
        self.inner.close_session(id).await.map_err(SessionError::Manager)
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner.create_stream(id, message).await.map_err(SessionError::Manager)
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        self.inner.accept_message(id, message).await.map_err(SessionError::Manager)
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner.create_standalone_stream(id).await.map_err(SessionError::Manager)
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner.resume(id, last_event_id).await.map_err(SessionError::Manager)
    }

    // `restore_session` keeps rmcp's default (not supported): a session restored from another
    // instance's store would have no owner here, and is refused rather than opened to anyone.
    // `event_store` is the wrapped manager's, so that its streams resume as they would.
    fn event_store(&self) -> Option<Arc<dyn EventStore>> {
        self.inner.event_store()
    }
}

/// A request that names a session (`Mcp-Session-Id`) goes on only when the session is open and
/// belongs to the caller: anyone else's, an unknown one, a closed one, a header repeated or not
/// ASCII all get the same 404 as rmcp's for a session it does not know, before rmcp sees the
/// request (so that nobody can use, read the events of, or `DELETE` another caller's session).
/// A request without the header (an `initialize`, or a stateless request of a later protocol
/// version) goes on. Runs after authentication, which put the [`Principal`] in the extensions.
pub async fn sessions_of_their_owner<M: Send + Sync + 'static>(
    State(sessions): State<Arc<OwnedSessions<M>>>,
    request: Request,
    next: Next,
) -> Response {
    let mut named = request.headers().get_all(HEADER_SESSION_ID).iter();
    let Some(first) = named.next() else { return next.run(request).await };
    let owned = named.next().is_none()
        && first.to_str().is_ok_and(|id| {
            request
                .extensions()
                .get::<Principal>()
                .is_some_and(|principal| sessions.is_owned_by(id, &Owner::of(principal)))
        });
    if owned { next.run(request).await } else { session_not_found() }
}

/// rmcp's answer to a session it does not know, byte for byte: 404 and a plain body, no
/// `Content-Type`.
fn session_not_found() -> Response {
    let mut response = Response::new(Body::from(SESSION_NOT_FOUND));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis::testing::TestIssuer;
    use portcullis::{Verifier, config::TrustedIssuer};

    /// alice of issuer A and alice of issuer B are two callers, even when one verifier accepts
    /// both: a session of one is not the other's.
    #[test]
    fn the_owner_is_the_issuer_and_the_subject() {
        let a = TestIssuer::new().with_issuer("https://a.example");
        let b = TestIssuer::new().with_issuer("https://b.example");
        let verifier = Verifier::builder()
            .trusted_issuer(TrustedIssuer::new(a.issuer()).key(a.verification_key()))
            .trusted_issuer(TrustedIssuer::new(b.issuer()).key(b.verification_key()))
            .audience(a.audience())
            .build()
            .unwrap();
        let owner = |issuer: &TestIssuer, subject: &str| {
            Owner::of(&verifier.verify(&issuer.token(subject).sign()).unwrap())
        };
        assert_eq!(owner(&a, "alice"), owner(&a, "alice"));
        assert_ne!(owner(&a, "alice"), owner(&b, "alice"));
        assert_ne!(owner(&a, "alice"), owner(&a, "bob"));

        let sessions = OwnedSessions::new(());
        let evicted = sessions.bindings().bind("s-1".into(), owner(&a, "alice"), 1);
        assert!(evicted.is_empty());
        assert!(sessions.is_owned_by("s-1", &owner(&a, "alice")));
        assert!(!sessions.is_owned_by("s-1", &owner(&b, "alice")));
        assert!(!sessions.is_owned_by("s-2", &owner(&a, "alice")));
    }

    /// Beyond the limit, the owner's oldest sessions go, nobody else's.
    #[test]
    fn the_oldest_sessions_of_an_owner_beyond_the_limit_are_unbound() {
        let alice = Owner { issuer: Some("https://a.example".into()), subject: "alice".into() };
        let bob = Owner { issuer: Some("https://a.example".into()), subject: "bob".into() };
        let mut bindings = Bindings::default();
        assert!(bindings.bind("bob-0".into(), bob.clone(), 3).is_empty());
        for n in 0..3 {
            assert!(bindings.bind(format!("alice-{n}").into(), alice.clone(), 3).is_empty());
        }
        for n in 3..10 {
            let evicted = bindings.bind(format!("alice-{n}").into(), alice.clone(), 3);
            assert_eq!(evicted, [SessionId::from(format!("alice-{}", n - 3))]);
        }
        let mut left: Vec<&str> = bindings.sessions.keys().map(|id| &**id).collect();
        left.sort_unstable();
        assert_eq!(left, ["alice-7", "alice-8", "alice-9", "bob-0"]);
        // A lower limit later: all the excess at once.
        let evicted = bindings.bind("alice-10".into(), alice, 1);
        assert_eq!(evicted.len(), 3);
        assert_eq!(bindings.sessions.len(), 2);
    }
}
