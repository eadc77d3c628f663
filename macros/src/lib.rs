//! Attribute macros for [portcullis](https://docs.rs/portcullis). Use them through the
//! `portcullis` crate, which re-exports them with their documentation.
//!
//! Each macro runs the same pipeline: parse (`attr`, `handler`) → validate (`valid`) → expand
//! (`expand`). On any error the original item is still emitted beside the errors, so the rest
//! of the crate and the IDE keep working.

use proc_macro::TokenStream;

mod attr;
mod expand;
mod handler;
mod scopes;
mod valid;

use attr::GuardKind;

/// Only callers with a valid token reach the handler. See `portcullis::authenticated`.
#[proc_macro_attribute]
pub fn authenticated(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::guard(GuardKind::Authenticated, args.into(), item.into()).into()
}

/// The caller's token must grant the scopes. See `portcullis::requires_scope`.
#[proc_macro_attribute]
pub fn requires_scope(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::guard(GuardKind::RequiresScope, args.into(), item.into()).into()
}

/// The resource named by the path must exist and belong to the caller. See
/// `portcullis::owner_only`.
#[proc_macro_attribute]
pub fn owner_only(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::guard(GuardKind::OwnerOnly, args.into(), item.into()).into()
}

/// Declares an application's scope vocabulary. See `portcullis::scopes`.
#[proc_macro]
pub fn scopes(input: TokenStream) -> TokenStream {
    scopes::expand(input.into()).into()
}
