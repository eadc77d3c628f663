//! The warning under a guarded handler's parameter that takes one of axum's own request-shape
//! extractors, whose refusals are axum's `text/plain` answers (with the parser's message) or
//! its 422, not problem documents.
//!
//! The macros emit, per parameter type `T`, `ExtractorCheck::<T>::new().check()` spanned at the
//! type. For axum's `Json`, `Query`, `Path` and `Form` an inherent, deprecated `check` exists,
//! and inherent methods win over the trait method every other type gets from
//! [`ExtractorFallback`]: the `deprecated` lint then warns under the parameter, with the note
//! that names the replacement. A warning, not an error: `#[allow(deprecated)]` keeps axum's
//! answers on purpose.

use std::marker::PhantomData;

/// A parameter type to check (see the module). Not a public API.
#[derive(Debug)]
pub struct ExtractorCheck<T: ?Sized>(PhantomData<fn() -> PhantomData<T>>);

impl<T: ?Sized> ExtractorCheck<T> {
    /// The check of `T`.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

/// Every other parameter type: nothing to say.
pub trait ExtractorFallback {
    /// Says nothing.
    fn check(&self) {}
}

impl<T: ?Sized> ExtractorFallback for ExtractorCheck<T> {}

impl<T> ExtractorCheck<axum::Json<T>> {
    /// axum's `Json`.
    #[deprecated(
        note = "axum's `Json` answers a malformed body with axum's text/plain 400 or 422 and the parser's message: use `portcullis::extract::Json` (RFC 9457 problems with `invalid-params`), or `#[allow(deprecated)]` to keep axum's answers"
    )]
    pub fn check(&self) {}
}

impl<T> ExtractorCheck<axum::extract::Query<T>> {
    /// axum's `Query`.
    #[deprecated(
        note = "axum's `Query` answers a malformed query with axum's text/plain 400 and the parser's message: use `portcullis::extract::Query` (RFC 9457 problems with `invalid-params`), or `#[allow(deprecated)]` to keep axum's answers"
    )]
    pub fn check(&self) {}
}

impl<T> ExtractorCheck<axum::extract::Path<T>> {
    /// axum's `Path`.
    #[deprecated(
        note = "axum's `Path` answers an unparsable path parameter with axum's text/plain 400 and the parser's message: use `portcullis::extract::Path` (RFC 9457 problems with `invalid-params`), or `#[allow(deprecated)]` to keep axum's answers"
    )]
    pub fn check(&self) {}
}

impl<T> ExtractorCheck<axum::Form<T>> {
    /// axum's `Form`.
    #[deprecated(
        note = "axum's `Form` answers a malformed form with axum's text/plain 400 or 422 and the parser's message; portcullis has no form extractor: take JSON with `portcullis::extract::Json`, or `#[allow(deprecated)]` to keep axum's answers"
    )]
    pub fn check(&self) {}
}
