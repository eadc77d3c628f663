//! Extractors whose every rejection is an RFC 9457 problem.
//!
//! [`Json`], [`Query`] and [`Path`] work like their axum namesakes, but a request of the wrong
//! shape is refused with an `application/problem+json` [`Rejection`] rather than axum's
//! `text/plain` answers (or its 422):
//!
//! | what is wrong                                              | status |
//! |------------------------------------------------------------|--------|
//! | body `Content-Type` missing or not JSON                    | 415    |
//! | body over the limit ([`DefaultBodyLimit`])                 | 413    |
//! | body is not JSON (the `detail` gives line and column)      | 400    |
//! | missing field, wrong type, unknown or repeated field       | 400, with `invalid-params` |
//! | path or query parameter missing, unparsable, unknown, repeated | 400, with `invalid-params` |
//! | a [`garde`] rule is broken (with [`Valid`])                | 400, one `invalid-params` entry per violation |
//!
//! Every `invalid-params` entry names a field the way a client wrote it (`title`, `items[2].qty`)
//! and gives a fixed reason (`is required`, `must be a string`, `is not an accepted field`): the
//! client's values and the parser's messages are never echoed. The precise error is logged with
//! `tracing` at debug level.
//!
//! An extractor reports every problem it finds in one answer, not only the first that serde
//! meets: all the missing, ill-typed, unknown and repeated fields of a body (up to 256 KiB; a
//! larger body reports its first) or a query string, up to 20, followed, with [`Valid`], by the broken rules of the fields that had the right
//! shape. Path parameters report the first that does not parse. Extractors run one after the
//! other, so a request whose query and body are both wrong is refused for the one the handler
//! takes first.
//!
//! ```
//! use axum::{Router, routing::post};
//! use portcullis::extract::{Json, Path, Query, Valid};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize, garde::Validate)]
//! #[serde(deny_unknown_fields)]
//! struct NewComment {
//!     #[garde(length(chars, min = 1, max = 500))]
//!     text: String,
//! }
//!
//! #[derive(Deserialize)]
//! struct Options {
//!     notify: Option<bool>,
//! }
//!
//! async fn comment(
//!     Path(document): Path<u64>,
//!     Query(options): Query<Options>,
//!     Valid(Json(comment)): Valid<Json<NewComment>>,
//! ) -> String {
//!     format!("{document}: {} ({:?})", comment.text, options.notify)
//! }
//!
//! let app: Router = Router::new().route("/documents/{id}/comments", post(comment));
//! ```
//!
//! [`DefaultBodyLimit`]: axum::extract::DefaultBodyLimit

pub(crate) mod check;
mod collect;
mod json;
mod path;
mod query;
mod reason;
mod rejection;
#[cfg(feature = "garde")]
mod structure;
#[cfg(feature = "garde")]
mod valid;

pub use json::Json;
pub use path::Path;
pub use query::Query;
pub use rejection::Rejection;
#[cfg(feature = "garde")]
#[cfg_attr(docsrs, doc(cfg(feature = "garde")))]
pub use valid::Valid;
