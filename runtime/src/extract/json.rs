//! The JSON body extractor.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::collect::{self, Shape};
use super::reason::{invalid_param, place_of};
use super::rejection::Rejection;

/// Bodies up to this size (256 KiB) get every shape error reported; larger ones the first only,
/// since each further error costs one more deserialization of the whole body.
const COLLECT_ALL_UP_TO: usize = 256 * 1024;

/// The `detail` of a 400 for a body that parsed as JSON but does not fit the expected type.
pub(crate) const INVALID_BODY: &str = "The request body is invalid";

/// A JSON request body, deserialized into `T`; as a response, `T` serialized as JSON.
///
/// Refuses with a [`Rejection`]: 415 when the `Content-Type` is not `application/json` or
/// `application/*+json`, 413 over the body limit (axum's
/// [`DefaultBodyLimit`](axum::extract::DefaultBodyLimit), 2 MB unless changed), 400 when the
/// body is not JSON (the `detail` says at which line and column, and nothing more) and 400 with
/// `invalid-params` when a field is missing, of the wrong type, unknown (with
/// `#[serde(deny_unknown_fields)]`) or repeated: every such error in the body, not only the
/// first (up to 20).
///
/// ```
/// use axum::{Router, routing::post};
/// use portcullis::extract::Json;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Deserialize, Serialize)]
/// #[serde(deny_unknown_fields)]
/// struct Document {
///     title: String,
/// }
///
/// async fn create(Json(document): Json<Document>) -> Json<Document> {
///     Json(document)
/// }
///
/// let app: Router = Router::new().route("/documents", post(create));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    /// The deserialized body.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> std::ops::DerefMut for Json<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T> From<T> for Json<T> {
    fn from(inner: T) -> Self {
        Self(inner)
    }
}

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req, state).await?;
        Self::from_bytes(&bytes)
    }
}

/// The body of a request declared as JSON, within the body limit.
pub(crate) async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, Rejection> {
    if !is_json(req.headers()) {
        tracing::debug!("refused a request body that is not declared as JSON");
        return Err(Rejection::with_status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "The request body must be application/json",
        ));
    }
    Bytes::from_request(req, state).await.map_err(|rejection| {
        tracing::debug!(error = %rejection, "could not read the request body");
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Rejection::with_status(StatusCode::PAYLOAD_TOO_LARGE, "The request body is too large")
        } else {
            Rejection::with_status(StatusCode::BAD_REQUEST, "The request body could not be read")
        }
    })
}

impl<T: DeserializeOwned> Json<T> {
    /// Deserializes `bytes`, refusing them as [`Json`]'s extractor would (400 only: the
    /// `Content-Type` and the length are not checked here).
    ///
    /// ```
    /// use portcullis::extract::Json;
    ///
    /// let Json(n) = Json::<u32>::from_bytes(b"7")?;
    /// assert_eq!(n, 7);
    /// assert_eq!(Json::<u32>::from_bytes(b"[").unwrap_err().status(), 400);
    /// # Ok::<(), portcullis::extract::Rejection>(())
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Rejection> {
        decode(bytes).map(Self).map_err(|refusal| match refusal {
            BodyRefusal::NotJson(rejection) => rejection,
            BodyRefusal::Shape(shape) => Rejection::invalid(INVALID_BODY, shape.params),
        })
    }
}

/// Why a body was refused.
pub(crate) enum BodyRefusal<T> {
    /// It is not JSON.
    NotJson(Rejection),
    /// It is JSON of the wrong shape: every error found, and the repaired value.
    Shape(Shape<T>),
}

/// Deserializes a JSON body into `T`, finding every shape error when there is one.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyRefusal<T>> {
    // The common case, a valid body, is deserialized straight from the bytes.
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let first = match serde_path_to_error::deserialize(&mut deserializer) {
        Ok(value) => {
            return match deserializer.end() {
                Ok(()) => Ok(value),
                Err(error) => Err(BodyRefusal::NotJson(not_json(&error))),
            };
        }
        Err(error) if !error.inner().is_data() => {
            tracing::debug!(error = %error.inner(), "refused a body that is not JSON");
            return Err(BodyRefusal::NotJson(not_json(error.inner())));
        }
        Err(error) => {
            tracing::debug!(error = %error.inner(), path = %error.path(), "refused a JSON body");
            let message = error.inner().to_string();
            (invalid_param(error.path(), &message), place_of(error.path(), &message))
        }
    };
    // A wrong shape: the whole body must still be JSON, and every error in it is looked for,
    // unless the body is so large that retrying it would cost the server more than the answer
    // is worth to the client.
    let value = serde_json::from_slice(bytes).map_err(|error| {
        tracing::debug!(%error, "refused a body that is not JSON");
        BodyRefusal::NotJson(not_json(&error))
    })?;
    if bytes.len() > COLLECT_ALL_UP_TO {
        let (first, place) = first;
        return Err(BodyRefusal::Shape(Shape {
            params: vec![first],
            places: vec![place],
            repaired: None,
        }));
    }
    Err(BodyRefusal::Shape(collect::json(value).with_first(first)))
}

/// The 400 for a body that is not JSON: where it stops being JSON, and nothing else.
fn not_json(error: &serde_json::Error) -> Rejection {
    Rejection::with_status(
        StatusCode::BAD_REQUEST,
        format!(
            "The request body is not valid JSON (line {}, column {})",
            error.line(),
            error.column()
        ),
    )
}

/// Whether the `Content-Type` is `application/json` or `application/<something>+json`,
/// parameters allowed.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let Some(subtype) = essence.strip_prefix("application/") else {
        return false;
    };
    let token = |s: &str| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    token(subtype) && (subtype == "json" || (subtype.len() > 5 && subtype.ends_with("+json")))
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types() {
        for (value, json) in [
            ("application/json", true),
            ("application/json; charset=utf-8", true),
            ("Application/JSON", true),
            ("application/problem+json", true),
            ("application/vnd.api+json;v=1", true),
            ("text/json", false),
            ("application/jsonx", false),
            ("application/+json", false),
            ("application/x-www-form-urlencoded", false),
            ("", false),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, value.parse().unwrap_or_else(|_| panic!()));
            assert_eq!(is_json(&headers), json, "{value}");
        }
        assert!(!is_json(&HeaderMap::new()));
    }
}
