//! The path parameters extractor.

use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, RawPathParams};
use http::StatusCode;
use http::request::Parts;
use serde::de::DeserializeOwned;

use super::reason::expected_reason;
use super::rejection::Rejection;
use crate::respond::InvalidParam;

/// The `detail` of a 400 for path parameters that do not fit the expected type.
pub(crate) const INVALID_PATH: &str = "The path parameters are invalid";

/// The route's path parameters, deserialized into `T` (one value, a tuple, or a struct).
///
/// Refuses with a 400 [`Rejection`] whose `invalid-params` names the parameter when its value
/// does not parse; a route whose parameters cannot fill `T` at all (a server bug) gets 500.
///
/// ```
/// use axum::{Router, routing::get};
/// use portcullis::extract::Path;
///
/// async fn item(Path((list, index)): Path<(String, u32)>) -> String {
///     format!("{list}[{index}]")
/// }
///
/// let app: Router = Router::new().route("/lists/{list}/{index}", get(item));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Path<T>(pub T);

impl<T> Path<T> {
    /// The deserialized parameters.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Path<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => {
                tracing::debug!(error = %rejection, "refused the path parameters");
                let names: Vec<String> = RawPathParams::from_request_parts(parts, state)
                    .await
                    .map(|params| params.iter().map(|(name, _)| name.to_owned()).collect())
                    .unwrap_or_default();
                Err(reject(&rejection, &names))
            }
        }
    }
}

/// The rejection for axum's `rejection`, on a route whose parameters are called `names`.
fn reject(rejection: &PathRejection, names: &[String]) -> Rejection {
    let PathRejection::FailedToDeserializePathParams(failure) = rejection else {
        return server_bug();
    };
    let named = |name: Option<&String>, reason: &str| {
        Rejection::invalid(
            INVALID_PATH,
            vec![InvalidParam::new(name.map_or("", String::as_str), reason)],
        )
    };
    match failure.kind() {
        ErrorKind::ParseErrorAtKey { key, expected_type, .. } => {
            named(Some(key), expected_reason(expected_type))
        }
        ErrorKind::ParseErrorAtIndex { index, expected_type, .. } => {
            named(names.get(*index), expected_reason(expected_type))
        }
        ErrorKind::ParseError { expected_type, .. } => {
            named(names.first().filter(|_| names.len() == 1), expected_reason(expected_type))
        }
        ErrorKind::InvalidUtf8InPathParam { key } => named(Some(key), "must be valid UTF-8"),
        ErrorKind::DeserializeError { key, .. } => named(Some(key), "is not a valid value"),
        ErrorKind::WrongNumberOfParameters { .. } | ErrorKind::UnsupportedType { .. } => {
            server_bug()
        }
        _ => named(None, "is not a valid value"),
    }
}

/// The 500 for a route that does not match its `Path` type.
fn server_bug() -> Rejection {
    tracing::error!("the route's path parameters do not match the Path extractor's type");
    Rejection::with_status(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The server could not route the request",
    )
}
