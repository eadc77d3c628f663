//! The query string extractor.

use axum::extract::FromRequestParts;
use http::request::Parts;
use serde::de::DeserializeOwned;

use super::collect::{self, Shape};
use super::reason::{invalid_param, place_of};
use super::rejection::Rejection;

/// The `detail` of a 400 for a query string that does not fit the expected type.
pub(crate) const INVALID_QUERY: &str = "The query string is invalid";

/// The query string, deserialized into `T` (`application/x-www-form-urlencoded`).
///
/// Refuses with a 400 [`Rejection`] whose `invalid-params` names the parameter when a required
/// one is missing, a value does not parse, a parameter is unknown (with
/// `#[serde(deny_unknown_fields)]`) or repeated where one value is expected (`?q=a&q=b`):
/// every such parameter, not only the first.
///
/// ```
/// use axum::{Router, routing::get};
/// use portcullis::extract::Query;
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct Search {
///     q: String,
///     page: Option<u32>,
/// }
///
/// async fn search(Query(search): Query<Search>) -> String {
///     format!("{} (page {})", search.q, search.page.unwrap_or(1))
/// }
///
/// let app: Router = Router::new().route("/search", get(search));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Query<T>(pub T);

impl<T> Query<T> {
    /// The deserialized query.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Query<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> Query<T> {
    /// Deserializes a query string (without the `?`), refusing it as [`Query`]'s extractor would.
    ///
    /// ```
    /// use portcullis::extract::Query;
    /// use std::collections::HashMap;
    ///
    /// let Query(query) = Query::<HashMap<String, String>>::from_query("q=rust&page=2")?;
    /// assert_eq!(query["page"], "2");
    /// # Ok::<(), portcullis::extract::Rejection>(())
    /// ```
    pub fn from_query(query: &str) -> Result<Self, Rejection> {
        decode(query).map(Self).map_err(|shape| Rejection::invalid(INVALID_QUERY, shape.params))
    }
}

/// Deserializes a query string into `T`, finding every error when there is one.
pub(crate) fn decode<T: DeserializeOwned>(query: &str) -> Result<T, Shape<T>> {
    let deserializer =
        serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    let error = match serde_path_to_error::deserialize(deserializer) {
        Ok(value) => return Ok(value),
        Err(error) => error,
    };
    tracing::debug!(error = %error.inner(), path = %error.path(), "refused a query string");
    let message = error.inner().to_string();
    let first = (invalid_param(error.path(), &message), place_of(error.path(), &message));
    let pairs = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    Err(collect::query(pairs).with_first(first))
}

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Self::from_query(parts.uri.query().unwrap_or_default())
    }
}
