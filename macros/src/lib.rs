//! Attribute macros for [portcullis](https://docs.rs/portcullis). Use them through the
//! `portcullis` crate, which re-exports them with their documentation.
//!
//! Every macro goes through one adapter, `adapter`, and the same pipeline:
//!
//! 1. **parse** into the typed view of `ast`: the item with `syn`, the arguments of every
//!    guard attribute on a handler with the parsers of `attr` (syntax only; each attribute's
//!    syntax error is kept for step 2);
//! 2. **validate** in `valid`: every semantic check, all errors collected (with
//!    `errors::Errors`) and combined, producing the handler's `ast::Requirements` (what its guards require);
//! 3. **expand** the requirements in `expand`;
//! 4. on any error, emit `fallback` beside the `compile_error!`s: the handler without its
//!    guard attributes, or the `scopes!` enum from the variants that parsed, so that the rest
//!    of the crate and the IDE keep working and there are no follow-on errors.
//!
//! Dependencies flow one way: this file uses the others; `attr`, `valid`, `expand` and
//! `fallback` use `ast`; `valid` uses `errors`; `fallback` uses `expand` for the `scopes!`
//! enum, which is the same on error as on success.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};

mod ast;
mod attr;
mod duration;
mod errors;
mod expand;
mod fallback;
mod valid;

use ast::{GuardKind, Handler, Noun, PolicyFn, Vocabulary};

/// Only callers with a valid token reach the handler. See `portcullis::authenticated`.
#[proc_macro_attribute]
pub fn authenticated(args: TokenStream, item: TokenStream) -> TokenStream {
    guard(GuardKind::Authenticated, args, item)
}

/// The caller's token must grant the scopes. See `portcullis::requires_scope`.
#[proc_macro_attribute]
pub fn requires_scope(args: TokenStream, item: TokenStream) -> TokenStream {
    guard(GuardKind::RequiresScope, args, item)
}

/// The caller's token must grant the roles. See `portcullis::requires_role`.
#[proc_macro_attribute]
pub fn requires_role(args: TokenStream, item: TokenStream) -> TokenStream {
    guard(GuardKind::RequiresRole, args, item)
}

/// The application's policies must allow the request. See `portcullis::requires_policy`.
#[proc_macro_attribute]
pub fn requires_policy(args: TokenStream, item: TokenStream) -> TokenStream {
    guard(GuardKind::RequiresPolicy, args, item)
}

/// The user must have signed in strongly or recently enough (RFC 9470). See
/// `portcullis::requires_authentication`.
#[proc_macro_attribute]
pub fn requires_authentication(args: TokenStream, item: TokenStream) -> TokenStream {
    guard(GuardKind::RequiresAuthentication, args, item)
}

/// Makes a policy of a function. See `portcullis::policy`.
#[proc_macro_attribute]
pub fn policy(args: TokenStream, item: TokenStream) -> TokenStream {
    adapter(parse_policy(args.into(), item.into()), expand_policy, fallback::policy)
}

/// Declares an application's role vocabulary. See `portcullis::roles`.
#[proc_macro]
pub fn roles(input: TokenStream) -> TokenStream {
    let parsed = parse_vocabulary(input.into())
        .map(|vocabulary| Vocabulary { noun: Noun::Role, ..vocabulary });
    adapter(parsed, expand_vocabulary, fallback::vocabulary)
}

/// The resource named by the path must exist and belong to the caller. See
/// `portcullis::owner_only`.
#[proc_macro_attribute]
pub fn owner_only(args: TokenStream, item: TokenStream) -> TokenStream {
    guard(GuardKind::OwnerOnly, args, item)
}

/// A decision engine must let the caller see the resource named by the path and perform the
/// action on it. See `portcullis::authorize`.
#[proc_macro_attribute]
pub fn authorize(args: TokenStream, item: TokenStream) -> TokenStream {
    guard(GuardKind::Authorize, args, item)
}

/// Declares an application's scope vocabulary. See `portcullis::scopes`.
#[proc_macro]
pub fn scopes(input: TokenStream) -> TokenStream {
    adapter(parse_vocabulary(input.into()), expand_vocabulary, fallback::vocabulary)
}

fn guard(kind: GuardKind, args: TokenStream, item: TokenStream) -> TokenStream {
    adapter(parse_handler(kind, args.into(), item.into()), expand_handler, fallback::handler)
}

/// An input that did not parse: the error, and what to emit beside it.
type Unparsed = (syn::Error, TokenStream2);

/// The one adapter: `input` is the macro's parsed input, `run` validates and expands it,
/// and any error becomes `compile_error!` beside `fallback`.
fn adapter<T>(
    input: Result<T, Unparsed>,
    run: fn(&T) -> syn::Result<TokenStream2>,
    fallback: fn(&T) -> TokenStream2,
) -> TokenStream {
    let (error, mut tokens) = match input {
        Ok(input) => match run(&input) {
            Ok(tokens) => return tokens.into(),
            Err(error) => (error, fallback(&input)),
        },
        Err(unparsed) => unparsed,
    };
    tokens.extend(error.to_compile_error());
    tokens.into()
}

/// Only the signature must parse: then the handler is emitted on error, untouched but for its
/// guard attributes. Anything else is not a handler and is emitted as it is.
fn parse_handler(
    kind: GuardKind,
    args: TokenStream2,
    item: TokenStream2,
) -> Result<Handler, Unparsed> {
    let Ok(mut func) = syn::parse2(item.clone()) else {
        let span = item.clone().into_iter().next().map_or_else(Span::call_site, |t| t.span());
        let error = syn::Error::new(
            span,
            format!("`#[{}]` can only be applied to an `async fn` handler", kind.name()),
        );
        return Err((error, item));
    };
    let guards = attr::guards(kind, args, &mut func);
    Ok(Handler { kind, func, guards })
}

fn expand_handler(handler: &Handler) -> syn::Result<TokenStream2> {
    let requirements = valid::handler(handler)?;
    Ok(expand::guarded_handler(&handler.func, &requirements))
}

/// A vocabulary whose enum header does not parse has nothing to fall back on: its entries are
/// not Rust, so only the error is emitted.
fn parse_vocabulary(input: TokenStream2) -> Result<Vocabulary, Unparsed> {
    syn::parse2(input).map_err(|error| (error, TokenStream2::new()))
}

/// `#[policy]` takes no arguments, and only the function's signature must parse.
fn parse_policy(args: TokenStream2, item: TokenStream2) -> Result<PolicyFn, Unparsed> {
    let Ok(func) = syn::parse2(item.clone()) else {
        let span = item.clone().into_iter().next().map_or_else(Span::call_site, |t| t.span());
        let error = syn::Error::new(span, "`#[policy]` can only be applied to a function");
        return Err((error, item));
    };
    if let Some(first) = args.into_iter().next() {
        let error = syn::Error::new(first.span(), "`#[policy]` takes no arguments");
        return Err((error, quote::quote!(#func)));
    }
    Ok(PolicyFn { func })
}

fn expand_policy(policy: &PolicyFn) -> syn::Result<TokenStream2> {
    valid::policy_fn(policy)?;
    Ok(expand::policy_fn(policy))
}

fn expand_vocabulary(vocabulary: &Vocabulary) -> syn::Result<TokenStream2> {
    valid::vocabulary(vocabulary)?;
    let scopes: Vec<_> = vocabulary.declared().collect();
    Ok(expand::vocabulary(vocabulary, &scopes))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

    use quote::quote;

    use super::{
        GuardKind, expand_handler, expand_vocabulary, fallback, parse_handler, parse_vocabulary,
    };

    #[test]
    fn every_mistake_of_stacked_attributes_is_reported() {
        let handler = parse_handler(
            GuardKind::RequiresScope,
            quote!("docs read", any(), declared_in = V, declared_in = W),
            quote! {
                #[portcullis::owner_only(Doc, id = "", state = A, state = B)]
                #[doc = "kept"]
                fn handler(&self) {}
            },
        )
        .unwrap();
        let errors: Vec<String> = match expand_handler(&handler) {
            Ok(_) => panic!("the handler has mistakes"),
            Err(error) => error.into_iter().map(|error| error.to_string()).collect(),
        };
        assert_eq!(errors.len(), 7, "{errors:#?}");
        for expected in [
            "guards async handlers only",
            "cannot guard a method",
            "duplicated argument `declared_in`",
            "is not a valid scope",
            "`any()` needs at least one scope",
            "duplicated argument `state`",
            "the path parameter name cannot be empty",
        ] {
            assert!(errors.iter().any(|error| error.contains(expected)), "{expected}: {errors:#?}");
        }
        // The stacked guard is not emitted again, or it would report its mistakes twice.
        let fallback = fallback::handler(&handler).to_string();
        assert!(!fallback.contains("owner_only") && fallback.contains("kept"), "{fallback}");
    }

    #[test]
    fn a_bad_vocabulary_still_defines_the_enum() {
        let vocabulary = parse_vocabulary(quote! {
            pub enum Scope { Bad = "docs write", Broken = 42, DocsRead = "docs:read" DocsWrite = "docs:write", }
        })
        .unwrap();
        let errors = match expand_vocabulary(&vocabulary) {
            Ok(_) => panic!("the vocabulary has mistakes"),
            Err(error) => error.into_iter().count(),
        };
        assert_eq!(errors, 3, "the bad literal, the entry that does not parse, the missing comma");
        let fallback = fallback::vocabulary(&vocabulary).to_string();
        for expected in
            ["Bad ,", "DocsRead ,", "DocsWrite ,", "fn as_str", "const ALL", "fn is_declared"]
        {
            assert!(fallback.contains(expected), "{expected}: {fallback}");
        }
        assert!(!fallback.contains("Broken"), "{fallback}");
    }
}
