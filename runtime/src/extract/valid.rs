//! Validation with `garde`, after deserialization.

use axum::extract::{FromRequest, FromRequestParts, Request};
use garde::Validate;
use http::request::Parts;

use super::json::{INVALID_BODY, Json};
use super::path::{INVALID_PATH, Path};
use super::query::{INVALID_QUERY, Query};
use super::rejection::Rejection;
use crate::problem::InvalidParam;

/// An extractor whose value also passed its [`garde`] rules: `Valid<Json<T>>`,
/// `Valid<Query<T>>` or `Valid<Path<T>>`, where `T: garde::Validate` with a `Default` context.
///
/// Every broken rule is reported in one 400 [`Rejection`], as one `invalid-params` entry each
/// (`title`, `items[2].qty`), with garde's reason, in the order garde reports them. garde's own
/// reasons only quote the rule (`length is lower than 3`), never the value; keep custom rules
/// the same way. Validation only runs once the value deserialized: a shape error is reported
/// alone.
///
/// Validation is a wrapper rather than built into [`Json`], [`Query`] and [`Path`] so that it
/// is visible in the handler's signature, so that types without rules need no `Validate` impl,
/// and so that the rule set is chosen per route, not per type.
///
/// ```
/// use axum::{Router, routing::post};
/// use portcullis::extract::{Json, Valid};
/// use serde::Deserialize;
///
/// #[derive(Deserialize, garde::Validate)]
/// struct Order {
///     #[garde(length(chars, min = 1, max = 80))]
///     title: String,
///     #[garde(length(min = 1), dive)]
///     items: Vec<Item>,
/// }
///
/// #[derive(Deserialize, garde::Validate)]
/// struct Item {
///     #[garde(range(min = 1, max = 99))]
///     qty: u32,
///     #[garde(pattern(r"^[A-Z]{3}-[0-9]{4}$"))]
///     sku: String,
/// }
///
/// async fn order(Valid(Json(order)): Valid<Json<Order>>) -> String {
///     format!("{}: {} items", order.title, order.items.len())
/// }
///
/// let app: Router = Router::new().route("/orders", post(order));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Valid<E>(pub E);

impl<E> Valid<E> {
    /// The extractor.
    pub fn into_inner(self) -> E {
        self.0
    }
}

impl<E> std::ops::Deref for Valid<E> {
    type Target = E;

    fn deref(&self) -> &E {
        &self.0
    }
}

/// Validates `value`, turning every violation into an `invalid-params` entry of one 400.
fn validate<T>(value: &T, detail: &'static str) -> Result<(), Rejection>
where
    T: Validate,
    T::Context: Default,
{
    value.validate().map_err(|report| {
        tracing::debug!(%report, "refused input that breaks its validation rules");
        let params = report
            .iter()
            .map(|(path, error)| InvalidParam::new(path.to_string(), error.message()))
            .collect();
        Rejection::invalid(detail, params)
    })
}

impl<T, S> FromRequest<S> for Valid<Json<T>>
where
    Json<T>: FromRequest<S, Rejection = Rejection>,
    T: Validate,
    T::Context: Default,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = Json::<T>::from_request(req, state).await?;
        validate(&json.0, INVALID_BODY)?;
        Ok(Self(json))
    }
}

impl<T, S> FromRequestParts<S> for Valid<Query<T>>
where
    Query<T>: FromRequestParts<S, Rejection = Rejection>,
    T: Validate,
    T::Context: Default,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let query = Query::<T>::from_request_parts(parts, state).await?;
        validate(&query.0, INVALID_QUERY)?;
        Ok(Self(query))
    }
}

impl<T, S> FromRequestParts<S> for Valid<Path<T>>
where
    Path<T>: FromRequestParts<S, Rejection = Rejection>,
    T: Validate,
    T::Context: Default,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let path = Path::<T>::from_request_parts(parts, state).await?;
        validate(&path.0, INVALID_PATH)?;
        Ok(Self(path))
    }
}
