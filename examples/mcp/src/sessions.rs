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
//! session's worker, rmcp's idle timeout), so it holds exactly one entry per session rmcp holds.
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

/// A session manager (rmcp's [`LocalSessionManager`](rmcp::transport::streamable_http_server::session::local::LocalSessionManager),
/// or any other) whose sessions each belong to the principal that initialized them.
#[derive(Debug, Default)]
pub struct OwnedSessions<M> {
    inner: M,
    owners: Mutex<HashMap<SessionId, Owner>>,
}

impl<M> OwnedSessions<M> {
    /// Binds the sessions of `inner`.
    pub fn new(inner: M) -> Self {
        Self { inner, owners: Mutex::new(HashMap::new()) }
    }

    /// Whether the session `id` is open and belongs to `owner`.
    pub fn is_owned_by(&self, id: &str, owner: &Owner) -> bool {
        self.owners().get(id).is_some_and(|bound| bound == owner)
    }

    /// How many sessions are bound: as many as are open.
    pub fn len(&self) -> usize {
        self.owners().len()
    }

    /// Whether no session is open.
    pub fn is_empty(&self) -> bool {
        self.owners().is_empty()
    }

    fn owners(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, Owner>> {
        // Every critical section is one map operation: a panic cannot leave the map half-changed.
        self.owners.lock().unwrap_or_else(PoisonError::into_inner)
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
        self.owners().insert(id.clone(), owner);
        let result = self.inner.initialize_session(id, message).await;
        if result.is_err() {
            self.owners().remove(id);
        }
        result.map_err(SessionError::Manager)
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        self.inner.has_session(id).await.map_err(SessionError::Manager)
    }

    /// Called for a `DELETE` and when the session's worker ends, whatever ended it.
    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        self.owners().remove(id);
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
    use portcullis::{TrustedIssuer, Verifier};

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
        let id: SessionId = "s-1".into();
        sessions.owners().insert(id.clone(), owner(&a, "alice"));
        assert!(sessions.is_owned_by("s-1", &owner(&a, "alice")));
        assert!(!sessions.is_owned_by("s-1", &owner(&b, "alice")));
        assert!(!sessions.is_owned_by("s-2", &owner(&a, "alice")));
    }
}
