//! What is emitted beside the errors, so that one mistake is reported once, where it was made,
//! and not again wherever the item is used (as tokio-macros emits the original item).

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

use crate::ast::{Declared, Handler, PolicyFn, Vocabulary};
use crate::expand;

/// The handler as written, without its guard attributes, which would otherwise expand again
/// and report the same mistakes a second time. It stays callable and its body is still
/// checked, so the user's own warnings and errors in it are reported too.
pub(crate) fn handler(handler: &Handler) -> TokenStream {
    handler.func.to_token_stream()
}

/// The vocabulary's enum with all its methods, from the variants that parsed. An invalid or
/// duplicated literal does not change the shape of the enum, so it is the very code a valid
/// vocabulary gets, from the one generator in `expand`: `Scope::DocsRead`, `Scope::ALL` or
/// `#[requires_scope(Scope::DocsRead)]` elsewhere then compile, and the only errors are at
/// the vocabulary.
pub(crate) fn vocabulary(vocabulary: &Vocabulary) -> TokenStream {
    let parsed: Vec<&Declared> = vocabulary.declared().collect();
    expand::vocabulary(vocabulary, &parsed)
}

/// A `#[policy]` function with a mistake: the function as written, and a type of its name that
/// refuses every request, so that the handlers naming it report nothing more. (It never runs:
/// the build has failed.)
pub(crate) fn policy(policy: &PolicyFn) -> TokenStream {
    let func = &policy.func;
    let name = &func.sig.ident;
    let vis = &func.vis;
    quote! {
        #func

        #[allow(non_camel_case_types)]
        #vis struct #name {}

        impl ::portcullis::__private::AccessPolicy for #name {
            type State = ::portcullis::__private::NoState;

            async fn check(
                _: &::portcullis::__private::Principal,
                _: &::portcullis::__private::Parts,
                _: &Self::State,
            ) -> ::core::result::Result<(), ::portcullis::__private::PolicyRefusal> {
                ::core::result::Result::Err(::portcullis::__private::PolicyRefusal::NOT_PERMITTED)
            }
        }
    }
}
