//! Validation with `garde`, after deserialization.

use axum::extract::{FromRequest, FromRequestParts, Request};
use garde::Validate;
use http::request::Parts;

use serde::de::DeserializeOwned;

use super::collect::{MAX_REPORTED, Shape};
use super::json::{self, BodyRefusal, INVALID_BODY, Json};
use super::path::{INVALID_PATH, Path};
use super::query::{self, INVALID_QUERY, Query};
use super::rejection::Rejection;
use super::structure::{self, Step};
use crate::respond::InvalidParam;

/// An extractor whose value also passed its [`garde`] rules: `Valid<Json<T>>`,
/// `Valid<Query<T>>` or `Valid<Path<T>>`, where `T: garde::Validate` with a `Default` context.
///
/// Every broken rule is reported in one 400 [`Rejection`], as one `invalid-params` entry each
/// (`title`, `items[2].qty`), with garde's reason, in the order garde reports them. A place is
/// named by `T`'s declared structure, never by the client's keys: a struct field by its serde
/// name, a list element by its index, and a map key by the placeholder `[]` (`items[].qty` for
/// a `HashMap<String, Item>` field); where the structure cannot be learnt from `T`'s
/// `Deserialize` impl without data (a `serde_json::Value`, an untagged enum, a flattened struct),
/// every key from there on is `[]`. A field renamed with `rename_all`, or `rename` to another
/// case of its Rust name, is named by its serde name; one renamed to another word is `[]`.
/// garde's own
/// reasons only quote the rule (`length is lower than 3`), never the value; keep custom rules
/// the same way. When the input also has shape errors (a missing field, a wrong type), they are
/// reported first, followed by the rule violations of the fields that had the right shape.
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
    T: Validate + DeserializeOwned + 'static,
    T::Context: Default,
{
    let violations: Vec<InvalidParam> =
        violations(value).into_iter().map(|(_, param)| param).collect();
    if violations.is_empty() { Ok(()) } else { Err(Rejection::invalid(detail, violations)) }
}

/// The rule violations of `value`, one `invalid-params` entry each, with garde's path as it
/// is (to compare with the places of shape errors; never sent).
fn violations<T>(value: &T) -> Vec<(String, InvalidParam)>
where
    T: Validate + DeserializeOwned + 'static,
    T::Context: Default,
{
    let Err(report) = value.validate() else { return Vec::new() };
    tracing::debug!(%report, "refused input that breaks its validation rules");
    // Only on this path: the type's structure, traced once, names the places.
    let node = structure::of::<T>();
    report
        .iter()
        .take(MAX_REPORTED)
        .map(|(path, error)| {
            let steps = steps(path);
            let steps = steps.iter().filter_map(|(kind, component)| match kind.as_str() {
                "none" => None,
                "index" => Some(Step::Index(component)),
                _ => Some(Step::Key(component)),
            });
            let name = structure::name(&node, steps);
            (path.to_string(), InvalidParam::new(name, error.message()))
        })
        .collect()
}

/// The steps of garde's `path`, root first, as its public serialization lists them (a list of
/// `[kind, component]`); a path that does not read so is one unknown step.
fn steps(path: &garde::Path) -> Vec<(String, String)> {
    let pairs: Option<Vec<(String, String)>> =
        serde_json::to_value(path).ok().and_then(|value| serde_json::from_value(value).ok());
    pairs.unwrap_or_else(|| vec![("key".to_owned(), String::new())])
}

/// The 400 for input with shape errors: those errors, then the rule violations of the repaired
/// value that are not at (or inside) a place already reported, where the value is a placeholder.
fn refuse_shape<T>(shape: Shape<T>, detail: &'static str) -> Rejection
where
    T: Validate + DeserializeOwned + 'static,
    T::Context: Default,
{
    let mut params = shape.params;
    if let Some(repaired) = shape.repaired {
        // Compared as the input spells them: the names sent may hold placeholders.
        let places = shape.places;
        let at_reported = |violation: &str| {
            places.iter().any(|place| {
                let rest = violation.strip_prefix(place.as_str());
                place.is_empty()
                    || rest.is_some_and(|rest| {
                        rest.is_empty() || rest.starts_with('.') || rest.starts_with('[')
                    })
            })
        };
        params.extend(
            violations(&repaired)
                .into_iter()
                .filter(|(place, _)| !at_reported(place))
                .map(|(_, param)| param),
        );
        params.truncate(MAX_REPORTED);
    }
    Rejection::invalid(detail, params)
}

impl<T, S> FromRequest<S> for Valid<Json<T>>
where
    T: DeserializeOwned + Validate + 'static,
    T::Context: Default,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = json::read_body(req, state).await?;
        match json::decode::<T>(&bytes) {
            Ok(value) => {
                validate(&value, INVALID_BODY)?;
                Ok(Self(Json(value)))
            }
            Err(BodyRefusal::NotJson(rejection)) => Err(rejection),
            Err(BodyRefusal::Shape(shape)) => Err(refuse_shape(shape, INVALID_BODY)),
        }
    }
}

impl<T, S> FromRequestParts<S> for Valid<Query<T>>
where
    T: DeserializeOwned + Validate + 'static,
    T::Context: Default,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match query::decode::<T>(parts.uri.query().unwrap_or_default()) {
            Ok(value) => {
                validate(&value, INVALID_QUERY)?;
                Ok(Self(Query(value)))
            }
            Err(shape) => Err(refuse_shape(shape, INVALID_QUERY)),
        }
    }
}

impl<T, S> FromRequestParts<S> for Valid<Path<T>>
where
    Path<T>: FromRequestParts<S, Rejection = Rejection>,
    T: DeserializeOwned + Validate + 'static,
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
