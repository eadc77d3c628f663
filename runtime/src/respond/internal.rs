//! The bare 500: an error of the server, logged here and never shown to the client.

use axum::response::{IntoResponse, Response};
use http::StatusCode;

use super::problem::Problem;

/// An error of the server (a database down, a bug), as a handler's error type: its
/// [`IntoResponse`] logs the error with `tracing` (level `ERROR`, target `portcullis::internal`,
/// the error and its sources in the field `error`) and answers the bare RFC 9457 500 problem,
/// `{"type":"about:blank","title":"Internal Server Error","status":500}`, with nothing of the
/// error in it.
///
/// Every [`std::error::Error`] converts into it, so `?` works in a handler that returns
/// `Result<_, InternalError>`; [`InternalError::message`] takes anything that displays.
///
/// ```
/// use axum::response::IntoResponse;
/// use http::StatusCode;
/// use portcullis::InternalError;
///
/// async fn count(raw: String) -> Result<String, InternalError> {
///     let count: u64 = raw.parse()?; // a `ParseIntError` becomes the 500
///     Ok(count.to_string())
/// }
///
/// let response = InternalError::message("the store is closed").into_response();
/// assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
/// assert_eq!(response.headers()["content-type"], "application/problem+json");
/// ```
#[derive(Debug)]
pub struct InternalError {
    error: Box<dyn std::error::Error + Send + Sync>,
}

impl InternalError {
    /// The 500 for `error`, which is logged when the response is made.
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self { error: Box::new(error) }
    }

    /// The 500 for an error known only by its text.
    pub fn message(message: impl std::fmt::Display) -> Self {
        Self { error: message.to_string().into() }
    }

    /// The error, for a caller that wants to inspect it before answering.
    pub fn error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.error
    }
}

// `InternalError` is not itself an `Error`, so this does not overlap `From<T> for T`.
impl<E> From<E> for InternalError
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn from(error: E) -> Self {
        Self::new(error)
    }
}

impl IntoResponse for InternalError {
    fn into_response(self) -> Response {
        let mut chain = self.error.to_string();
        let mut source = self.error.source();
        while let Some(cause) = source {
            chain.push_str(": ");
            chain.push_str(&cause.to_string());
            source = cause.source();
        }
        tracing::error!(target: "portcullis::internal", error = %chain, "answered 500 for an internal error");
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR).into_response()
    }
}
