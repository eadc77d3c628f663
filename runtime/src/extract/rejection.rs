//! The one rejection type of the extractors.

use std::fmt;

use axum::response::{IntoResponse, Response};
use http::StatusCode;

use crate::respond::DeniedWith;
use crate::respond::{InvalidParam, Problem};

/// Why [`Json`](super::Json), [`Query`](super::Query), [`Path`](super::Path) or
/// [`Valid`](super::Valid) refused a request: an RFC 9457 [`Problem`] with status 400, 413, 415
/// or (for a route that does not match its extractor, a server bug) 500.
///
/// ```
/// use axum::response::IntoResponse;
/// use portcullis::extract::{Json, Rejection};
///
/// async fn handler(body: Result<Json<u32>, Rejection>) -> axum::response::Response {
///     match body {
///         Ok(Json(n)) => n.to_string().into_response(),
///         Err(rejection) => {
///             assert!(rejection.status().is_client_error() || rejection.status().is_server_error());
///             rejection.into_response()
///         }
///     }
/// }
/// # let _ = handler;
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// Boxed: a rejection travels in `Result`s, and a problem is large.
    problem: Box<Problem>,
}

impl Rejection {
    /// A 400 with the fixed `detail` and one `invalid-params` entry per parameter.
    pub(crate) fn invalid(detail: &'static str, params: Vec<InvalidParam>) -> Self {
        Self::with_problem(
            Problem::new(StatusCode::BAD_REQUEST).with_detail(detail).with_invalid_params(params),
        )
    }

    /// A problem of `status` with the given `detail`.
    pub(crate) fn with_status(status: StatusCode, detail: impl Into<String>) -> Self {
        Self::with_problem(Problem::new(status).with_detail(detail))
    }

    fn with_problem(problem: Problem) -> Self {
        Self { problem: Box::new(problem) }
    }

    /// The HTTP status of the refusal.
    pub fn status(&self) -> StatusCode {
        self.problem.status()
    }

    /// The problem document that will be sent.
    pub fn problem(&self) -> &Problem {
        &self.problem
    }

    /// The problem document, to change it before sending it.
    pub fn into_problem(self) -> Problem {
        *self.problem
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.problem.status())?;
        if let Some(detail) = self.problem.detail() {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Rejection {}

impl From<Rejection> for Problem {
    fn from(rejection: Rejection) -> Self {
        *rejection.problem
    }
}

impl Rejection {
    /// A stable name of the refusal, for logs and metrics (as [`DeniedWith`] carries it).
    pub fn code(&self) -> &'static str {
        match self.problem.status() {
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
            StatusCode::BAD_REQUEST if self.problem.extensions().contains_key("invalid-params") => {
                "invalid_params"
            }
            StatusCode::BAD_REQUEST => "malformed_request",
            _ => "extractor_mismatch",
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let code = self.code();
        crate::observability::shape_refused(code, self.status().is_server_error());
        let mut response = (*self.problem).into_response();
        // An access log reads the reason beside the status, as it does for denials.
        response.extensions_mut().insert(DeniedWith(code));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rejection_names_its_reason_for_the_access_log() {
        let cases = [
            (
                Rejection::with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE, "x"),
                "unsupported_media_type",
            ),
            (Rejection::with_status(StatusCode::PAYLOAD_TOO_LARGE, "x"), "body_too_large"),
            (Rejection::with_status(StatusCode::BAD_REQUEST, "x"), "malformed_request"),
            (
                Rejection::invalid("x", vec![InvalidParam::new("a", "is required")]),
                "invalid_params",
            ),
        ];
        for (rejection, code) in cases {
            assert_eq!(rejection.code(), code);
            let response = rejection.into_response();
            assert_eq!(response.extensions().get::<DeniedWith>(), Some(&DeniedWith(code)));
        }
    }
}
