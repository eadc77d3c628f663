//! The access log: [`AccessLogLayer`] writes one `tracing` event per request.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{Request, Response};
use tower::{Layer, Service};

use crate::respond::DeniedWith;

/// A tower layer that logs one line per request with `tracing`, target `portcullis::access`:
/// `method`, `path` (never the query), `status`, `denied` (the [`DeniedWith`] reason when
/// portcullis refused the request, `-` otherwise) and `micros` (the time until the response
/// head was ready). Neither headers, tokens nor the query are logged. A 5xx is logged at level
/// `ERROR`, everything else at `INFO`.
///
/// Add it with `Router::layer`, outermost, so that it also sees the 404 of unknown paths and the
/// refusals of a [`RequireAuthLayer`](crate::RequireAuthLayer).
///
/// ```
/// use axum::{Router, routing::get};
/// use portcullis::{AccessLogLayer, Principal, Verifier};
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
        // The path only: a query may hold what a client should not have put in a URL.
        let path = request.uri().path().to_owned();
        let started = Instant::now();
        let future = self.inner.call(request);
        Box::pin(async move {
            let result = future.await;
            let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            match &result {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let denied =
                        response.extensions().get::<DeniedWith>().map_or("-", |denied| denied.0);
                    if response.status().is_server_error() {
                        tracing::error!(target: "portcullis::access", %method, path, status, denied, micros, "request");
                    } else {
                        tracing::info!(target: "portcullis::access", %method, path, status, denied, micros, "request");
                    }
                }
                // axum's services never fail; another service's error is its own to report.
                Err(_) => {
                    tracing::error!(target: "portcullis::access", %method, path, micros, "request failed");
                }
            }
            result
        })
    }
}
