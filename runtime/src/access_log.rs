//! The access log: [`AccessLogLayer`] writes one `tracing` event per request.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::MatchedPath;
use http::{Request, Response};
use tower::{Layer, Service};

use crate::respond::DeniedWith;

/// A tower layer that logs one line per request with `tracing`, target `portcullis::access_log`:
/// `method`, `route` (the template of the route that matched, `/users/{id}`, axum's
/// [`MatchedPath`]; `-` when none did), `status`, `denied` (the [`DeniedWith`] reason when
/// portcullis refused the request, `-` otherwise) and `micros` (the time until the response
/// head was ready). A 5xx is logged at level `ERROR`, everything else at `INFO`.
///
/// Nothing the client chose is logged: not the path itself, whose segments name users,
/// documents and other principals' ids (an access log is kept longer and read by more people
/// than the data it describes), nor the query, headers or tokens. The route and the status say
/// what was asked and how it ended.
///
/// Add it with `Router::layer`, outermost, so that it also sees the 404 of unknown paths and the
/// refusals of a [`RequireAuthLayer`](crate::layer::RequireAuthLayer). Routes added with
/// `Router::nest` keep their whole template; a service wrapped from outside the router, or
/// nested with `nest_service`, has no template of its own and is logged as `-`.
///
/// ```
/// use axum::{Router, routing::get};
/// use portcullis::{Principal, Verifier, layer::AccessLogLayer};
///
/// async fn me(principal: Principal) -> String {
///     principal.subject().to_owned()
/// }
///
/// # fn app(verifier: Verifier) -> Router {
/// Router::new().route("/me", get(me)).layer(AccessLogLayer::new()).with_state(verifier)
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct AccessLogLayer {
    _private: (),
}

impl AccessLogLayer {
    /// The access log.
    pub fn new() -> Self {
        Self { _private: () }
    }
}

impl<I> Layer<I> for AccessLogLayer {
    type Service = AccessLog<I>;

    fn layer(&self, inner: I) -> Self::Service {
        AccessLog { inner }
    }
}

/// The service [`AccessLogLayer`] wraps a router in.
#[derive(Debug, Clone)]
pub struct AccessLog<I> {
    inner: I,
}

impl<I, B, R> Service<Request<B>> for AccessLog<I>
where
    I: Service<Request<B>, Response = Response<R>>,
    I::Future: Send + 'static,
{
    type Response = Response<R>;
    type Error = I::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<R>, I::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), I::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let method = request.method().clone();
        // The template, never the path: its segments may be principals' ids.
        let route = request.extensions().get::<MatchedPath>().cloned();
        let started = Instant::now();
        let future = self.inner.call(request);
        Box::pin(async move {
            let result = future.await;
            let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            let route = route.as_ref().map_or("-", MatchedPath::as_str);
            match &result {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let denied =
                        response.extensions().get::<DeniedWith>().map_or("-", |denied| denied.0);
                    if response.status().is_server_error() {
                        tracing::error!(target: "portcullis::access_log", %method, route, status, denied, micros, "request");
                    } else {
                        tracing::info!(target: "portcullis::access_log", %method, route, status, denied, micros, "request");
                    }
                }
                // axum's services never fail; another service's error is its own to report.
                Err(_) => {
                    tracing::error!(target: "portcullis::access_log", %method, route, micros, "request failed");
                }
            }
            result
        })
    }
}
