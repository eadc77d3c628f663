//! The engine stage for every route of a router: [`EngineLayer`], for `Router::route_layer`,
//! asks the engine about the resource each request's path names, before the route's handler
//! and its extractors run.

use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::Request;
use tower::{Layer, Service};

use super::stage::ask;
use super::{Engine, EngineResource};
use crate::ownership::Action;
use crate::verify::Verifier;

/// A tower layer that asks the decision engine, on every route of a router, whether the caller
/// may see the resource `T` named by the path and perform the request's action on it: the same
/// answers as `#[authorize]` (404 not visible, 403 without a challenge, 503 with `Retry-After`
/// when the engine cannot answer). It authenticates with
/// [`Verifier::authenticate_once`](crate::Verifier::authenticate_once), so a
/// [`RequireAuthLayer`](crate::layer::RequireAuthLayer) outside it and the guards inside reuse
/// one verification.
///
/// The action is the one the method performs (`read` for `GET`, `HEAD` and `OPTIONS`, `delete`
/// for `DELETE`, `write` otherwise) unless [`action`](Self::action) fixes it.
pub struct EngineLayer<T: EngineResource> {
    engine: Engine,
    verifier: Verifier,
    state: T::State,
    action: Option<&'static str>,
    id_param: Option<&'static str>,
    resource: PhantomData<fn() -> T>,
}

impl<T: EngineResource> EngineLayer<T>
where
    T::State: Clone,
{
    /// Asks `engine` about `T`, loaded with `state`, for callers `verifier` accepts.
    pub fn new(engine: Engine, verifier: Verifier, state: T::State) -> Self {
        Self { engine, verifier, state, action: None, id_param: None, resource: PhantomData }
    }

    /// Asks about this action on every route, whatever the method.
    #[must_use]
    pub fn action(mut self, action: &'static str) -> Self {
        self.action = Some(action);
        self
    }

    /// The path parameter holding the resource id (default: the route's only one, or `id`).
    #[must_use]
    pub fn id_param(mut self, name: &'static str) -> Self {
        self.id_param = Some(name);
        self
    }
}

impl<T: EngineResource> Clone for EngineLayer<T>
where
    T::State: Clone,
{
    fn clone(&self) -> Self {
        Self {
            engine: self.engine.clone(),
            verifier: self.verifier.clone(),
            state: self.state.clone(),
            action: self.action,
            id_param: self.id_param,
            resource: PhantomData,
        }
    }
}

impl<T: EngineResource> std::fmt::Debug for EngineLayer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineLayer")
            .field("resource", &T::KIND)
            .field("action", &self.action)
            .field("id_param", &self.id_param)
            .finish_non_exhaustive()
    }
}

impl<I, T: EngineResource> Layer<I> for EngineLayer<T>
where
    T::State: Clone,
{
    type Service = EngineService<I, T>;

    fn layer(&self, inner: I) -> Self::Service {
        EngineService { inner, layer: self.clone() }
    }
}

/// The service [`EngineLayer`] wraps a route in.
pub struct EngineService<I, T: EngineResource> {
    inner: I,
    layer: EngineLayer<T>,
}

impl<I: Clone, T: EngineResource> Clone for EngineService<I, T>
where
    T::State: Clone,
{
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), layer: self.layer.clone() }
    }
}

impl<I, T: EngineResource> std::fmt::Debug for EngineService<I, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineService").field("layer", &self.layer).finish_non_exhaustive()
    }
}

impl<I, T> Service<Request<Body>> for EngineService<I, T>
where
    I: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    I::Future: Send + 'static,
    T: EngineResource,
    T::State: Clone + Sync,
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
        let layer = self.layer.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let principal = match layer.verifier.authenticate_once(&mut parts).await {
                Ok(principal) => principal,
                Err(denial) => return Ok(denial.into_response()),
            };
            let action = layer.action.unwrap_or(match Action::from_method(&parts.method) {
                Action::Read => "read",
                Action::Write => "write",
                Action::Delete => "delete",
            });
            let asked = ask::<T>(
                &mut parts,
                &(),
                &layer.state,
                &layer.engine,
                &principal,
                action,
                layer.id_param,
            )
            .await;
            if let Err(denial) = asked {
                return Ok(denial.into_response());
            }
            inner.call(Request::from_parts(parts, body)).await
        })
    }
}
