//! A router-wide guard: [`RequireAuthLayer`], for `Router::route_layer`, requires valid
//! credentials (and optionally a step-up sign-in and scopes) on every route of a router. Attribute guards inside such a
//! router reuse the principal it verified: the token is verified once per request.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::Request;
use tower::{Layer, Service};

use crate::respond::{DenialKind, offer_dpop_nonce};
use crate::scope::{ScopeRequirement, ScopeRule};
use crate::step_up::AuthenticationRequirement;
use crate::verify::Verifier;

/// A tower layer that refuses every request without valid credentials (401, or 400 for two
/// tokens), when a sign-in strength is required without it (401
/// `insufficient_user_authentication`, checked first), or when scopes are required without
/// them (403), before the route's handler and its extractors run. Add it with `Router::route_layer`, so that unknown paths still get 404.
///
/// ```
/// use axum::{Router, routing::get};
/// use portcullis::{Key, Principal, Verifier, layer::RequireAuthLayer, authorization::ScopeRule};
///
/// async fn me(principal: Principal) -> String {
///     principal.subject().to_owned()
/// }
///
/// let verifier = Verifier::builder()
///     .issuer("https://issuer.example")
///     .audience("documents-api")
///     .key(Key::hmac(b"a secret of at least thirty-two bytes")?)
///     .build()?;
/// let app: Router = Router::new()
///     .route("/me", get(me))
///     .route_layer(
///         RequireAuthLayer::new(verifier.clone()).scopes(&[ScopeRule::All(&["docs:read"])]),
///     )
///     .with_state(verifier);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct RequireAuthLayer {
    verifier: Verifier,
    scopes: &'static [ScopeRule],
    authentication: Option<AuthenticationRequirement>,
}

impl RequireAuthLayer {
    /// Requires credentials that `verifier` accepts. Use the verifier of the router state, so
    /// that the attribute guards inside reuse its principal.
    pub fn new(verifier: Verifier) -> Self {
        Self { verifier, scopes: &[], authentication: None }
    }

    /// Also requires these scopes on every route (403 `insufficient_scope`, naming them).
    pub fn scopes(mut self, rules: &'static [ScopeRule]) -> Self {
        self.scopes = rules;
        self
    }

    /// Also requires this sign-in on every route (step-up authentication, RFC 9470): 401
    /// `insufficient_user_authentication` with `acr_values` and `max_age`, checked right after
    /// the token and before the scopes, as `#[requires_authentication]` does.
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum::{Router, routing::get};
    /// use portcullis::{Key, Verifier, layer::RequireAuthLayer};
    /// use portcullis::authorization::AuthenticationRequirement;
    ///
    /// const MFA_RECENTLY: AuthenticationRequirement = AuthenticationRequirement::new()
    ///     .acr(&["urn:documents:mfa"])
    ///     .max_age(Duration::from_secs(600));
    ///
    /// let verifier = Verifier::builder()
    ///     .issuer("https://issuer.example")
    ///     .audience("documents-api")
    ///     .key(Key::hmac(b"a secret of at least thirty-two bytes")?)
    ///     .build()?;
    /// let admin: Router = Router::new()
    ///     .route("/admin/export", get(|| async { "everything" }))
    ///     .route_layer(RequireAuthLayer::new(verifier.clone()).authentication(MFA_RECENTLY))
    ///     .with_state(verifier);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn authentication(mut self, required: AuthenticationRequirement) -> Self {
        self.authentication = Some(required);
        self
    }
}

impl<I> Layer<I> for RequireAuthLayer {
    type Service = RequireAuth<I>;

    fn layer(&self, inner: I) -> Self::Service {
        RequireAuth {
            inner,
            verifier: self.verifier.clone(),
            scopes: self.scopes,
            authentication: self.authentication,
        }
    }
}

/// The service [`RequireAuthLayer`] wraps a route in.
#[derive(Debug, Clone)]
pub struct RequireAuth<I> {
    inner: I,
    verifier: Verifier,
    scopes: &'static [ScopeRule],
    authentication: Option<AuthenticationRequirement>,
}

impl<I> Service<Request<Body>> for RequireAuth<I>
where
    I: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    I::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // The clone is the one not yet polled ready; the ready one serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        let required = ScopeRequirement::new(self.scopes);
        let authentication = self.authentication;
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            // Keeps the principal in the request's extensions, where the guards find it.
            let principal = match verifier.authenticate_once(&mut parts).await {
                Ok(principal) => principal,
                Err(denial) => {
                    return Ok(denial.with_route_scopes(required, false).into_response());
                }
            };
            if let Some(authentication) = authentication
                && !principal.sign_in().satisfies_now(&authentication, verifier.leeway_secs())
            {
                let kind = DenialKind::InsufficientUserAuthentication(authentication);
                return Ok(principal.deny(kind).into_response());
            }
            if !principal.scopes().satisfy(&required) {
                return Ok(verifier.deny(DenialKind::InsufficientScope(required)).into_response());
            }
            let nonce = principal.dpop_nonce_header();
            let mut response = inner.call(Request::from_parts(parts, body)).await?;
            offer_dpop_nonce(&mut response, nonce);
            Ok(response)
        })
    }
}
