//! The error collector, after serde_derive's `Ctxt`: every check reports here instead of
//! returning at its first mistake, so that one build shows them all.

use proc_macro2::Span;

/// Errors so far, combined into one `syn::Error` that renders as one `compile_error!` each.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn add(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    /// The value of `result`, or `None` with its error recorded.
    pub(crate) fn check<'a, T>(&mut self, result: &'a syn::Result<T>) -> Option<&'a T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.push(error.clone());
                None
            }
        }
    }

    /// `value` if nothing was reported, else every error.
    pub(crate) fn finish<T>(self, value: T) -> syn::Result<T> {
        self.0.map_or(Ok(value), Err)
    }
}
