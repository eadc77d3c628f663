//! The syntax of the guard attributes: one small parser per argument shape, turning tokens
//! into the types of `ast`. Nothing here judges what was written; a duplicate or an invalid
//! scope parses fine and is left to `valid`, which reports every mistake at once.

use proc_macro2::{Span, TokenStream};
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{LitStr, Meta, Path, Token, Type};

use crate::ast::{
    DeclaredIn, GuardAttr, GuardKind, HandlerFn, IdArg, OwnerArgs, Rule, ScopeArgs, ScopeRef,
    StateArg,
};

mod kw {
    syn::custom_keyword!(any);
    syn::custom_keyword!(declared_in);
    syn::custom_keyword!(id);
    syn::custom_keyword!(state);
}

/// The guard attribute being expanded (`kind` with `args`) followed by the ones stacked on
/// `func`, which are removed from it: this expansion handles them all, and a stacked one left
/// in place would expand again.
pub(crate) fn guards(
    kind: GuardKind,
    args: TokenStream,
    func: &mut HandlerFn,
) -> Vec<syn::Result<GuardAttr>> {
    let mut guards = vec![guard(kind, args, Span::call_site())];
    func.attrs.retain(|attr| {
        let Some(kind) = GuardKind::from_path(attr.path()) else { return true };
        let args = match &attr.meta {
            Meta::List(list) => list.tokens.clone(),
            _ => TokenStream::new(),
        };
        guards.push(guard(kind, args, attr.span()));
        false
    });
    guards
}

/// One attribute's arguments; `span` is where the attribute is, for errors about arguments
/// that are missing.
fn guard(kind: GuardKind, args: TokenStream, span: Span) -> syn::Result<GuardAttr> {
    let span = if args.is_empty() { span } else { args.span() };
    match kind {
        GuardKind::Authenticated => authenticated.parse2(args).map(GuardAttr::Authenticated),
        GuardKind::RequiresScope => {
            let parser = |input: ParseStream<'_>| requires_scope(input, span);
            parser.parse2(args).map(GuardAttr::RequiresScope)
        }
        GuardKind::OwnerOnly => {
            let parser = |input: ParseStream<'_>| owner_only(input, span);
            parser.parse2(args).map(GuardAttr::OwnerOnly)
        }
    }
}

/// `#[authenticated]` or `#[authenticated(state = Type)]`.
fn authenticated(input: ParseStream<'_>) -> syn::Result<Option<StateArg>> {
    if input.is_empty() {
        return Ok(None);
    }
    if peek_state(input) {
        let state = state(input)?;
        input.parse::<Option<Token![,]>>()?;
        if input.is_empty() {
            return Ok(Some(state));
        }
    }
    let rest: TokenStream = input.parse()?;
    Err(syn::Error::new_spanned(
        rest,
        "unknown argument: `#[authenticated]` takes no arguments but an optional `state = Type`",
    ))
}

/// `#[requires_scope(..)]`: scopes, `any(..)`, `declared_in = Path` and `state = Type` in any
/// order.
fn requires_scope(input: ParseStream<'_>, span: Span) -> syn::Result<ScopeArgs> {
    let mut all = Vec::new();
    let mut rules = Vec::new();
    let mut declared_in = Vec::new();
    let mut state_args = Vec::new();
    loop {
        if input.is_empty() {
            break;
        }
        if input.peek(kw::any) && input.peek2(syn::token::Paren) {
            rules.push(any(input)?);
        } else if input.peek(kw::declared_in) && input.peek2(Token![=]) {
            declared_in.push(declared_in_arg(input)?);
        } else if peek_state(input) {
            state_args.push(state(input)?);
        } else {
            all.push(scope(input)?);
        }
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    if !all.is_empty() {
        rules.insert(0, Rule::All(all));
    }
    Ok(ScopeArgs { rules, declared_in, state: state_args, span })
}

/// `any(scope, ..)`.
fn any(input: ParseStream<'_>) -> syn::Result<Rule> {
    let keyword: kw::any = input.parse()?;
    let content;
    syn::parenthesized!(content in input);
    Ok(Rule::Any { scopes: scope_list(&content)?, keyword: keyword.span })
}

/// Scopes separated by commas, as inside `any(..)`.
fn scope_list(input: ParseStream<'_>) -> syn::Result<Vec<ScopeRef>> {
    let scopes = Punctuated::<ScopeRef, Token![,]>::parse_terminated_with(input, scope)?;
    Ok(scopes.into_iter().collect())
}

/// A scope literal such as `"docs:write"` or a declared scope such as `Scope::DocsWrite`.
fn scope(input: ParseStream<'_>) -> syn::Result<ScopeRef> {
    if input.peek(LitStr) {
        return input.parse().map(ScopeRef::Literal);
    }
    if input.peek(syn::Ident)
        || input.peek(Token![::])
        || input.peek(Token![crate])
        || input.peek(Token![self])
        || input.peek(Token![super])
    {
        let path: Path = input.parse()?;
        // `name = ..` or `name(..)` is an argument we do not know, not a declared scope.
        if input.peek(Token![=]) || input.peek(syn::token::Paren) {
            let name = quote::quote!(#path).to_string();
            return Err(syn::Error::new_spanned(
                path,
                format!(
                    "unknown argument `{name}`: expected a scope literal such as \"docs:write\", `any(..)`, `declared_in = Type`, `state = Type`, or a declared scope such as `Scope::DocsWrite`"
                ),
            ));
        }
        return Ok(ScopeRef::Declared(path));
    }
    Err(input.error(
        "expected a scope literal such as \"docs:write\", `any(..)`, `declared_in = Type`, or a declared scope such as `Scope::DocsWrite`",
    ))
}

/// `declared_in = Path`.
fn declared_in_arg(input: ParseStream<'_>) -> syn::Result<DeclaredIn> {
    let keyword: kw::declared_in = input.parse()?;
    input.parse::<Token![=]>()?;
    Ok(DeclaredIn { keyword: keyword.span, vocabulary: input.parse()? })
}

fn peek_state(input: ParseStream<'_>) -> bool {
    input.peek(kw::state) && input.peek2(Token![=])
}

/// `state = Type`.
fn state(input: ParseStream<'_>) -> syn::Result<StateArg> {
    let keyword: kw::state = input.parse()?;
    input.parse::<Token![=]>()?;
    Ok(StateArg { keyword: keyword.span, ty: input.parse()? })
}

/// `#[owner_only(Type, id = "param", state = Type)]`, the resource type first.
fn owner_only(input: ParseStream<'_>, span: Span) -> syn::Result<OwnerArgs> {
    let resource = resource(input)?;
    let mut ids = Vec::new();
    let mut state_args = Vec::new();
    while input.parse::<Option<Token![,]>>()?.is_some() {
        if input.is_empty() {
            break;
        }
        if input.peek(kw::id) && input.peek2(Token![=]) {
            ids.push(id(input)?);
        } else if peek_state(input) {
            state_args.push(state(input)?);
        } else {
            let unknown: TokenStream = input.parse()?;
            let name =
                unknown.clone().into_iter().next().map(|t| t.to_string()).unwrap_or_default();
            return Err(syn::Error::new_spanned(
                unknown,
                format!(
                    "unknown argument `{name}`: `#[owner_only]` takes the resource type and optionally `id = \"path_param\"`"
                ),
            ));
        }
    }
    Ok(OwnerArgs { resource, id: ids, state: state_args, span })
}

/// The resource type `#[owner_only]` loads.
fn resource(input: ParseStream<'_>) -> syn::Result<Type> {
    if input.is_empty() {
        return Err(input.error(
            "expected the resource type, as in `#[owner_only(Document)]` or `#[owner_only(Document, id = \"doc_id\")]`",
        ));
    }
    input.parse()
}

/// `id = "path_param"`.
fn id(input: ParseStream<'_>) -> syn::Result<IdArg> {
    let keyword: kw::id = input.parse()?;
    input.parse::<Token![=]>()?;
    Ok(IdArg { keyword: keyword.span, name: input.parse()? })
}
