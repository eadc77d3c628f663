//! The syntax of the guard attributes: one small parser per argument shape, turning tokens
//! into the types of `ast`. Nothing here judges what was written; a duplicate or an invalid
//! scope parses fine and is left to `valid`, which reports every mistake at once.

use proc_macro2::{Span, TokenStream};
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{LitStr, Meta, Path, Token, Type};

use crate::ast::{
    AcrArg, ActionArg, ActionName, AuthArgs, AuthenticationArgs, ClaimKind, ClaimRef, DeclaredIn,
    GuardAttr, GuardKind, HandlerFn, IdArg, MaxAgeArg, Noun, OwnerArgs, PolicyArgs, PolicyRef,
    Rule, ScopeArgs, ScopeRef, StateArg,
};

mod kw {
    syn::custom_keyword!(acr);
    syn::custom_keyword!(max_age);
    syn::custom_keyword!(action);
    syn::custom_keyword!(any);
    syn::custom_keyword!(declared_in);
    syn::custom_keyword!(id);
    syn::custom_keyword!(optional);
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
            let parser = |input: ParseStream<'_>| requires_scope(input, span, Noun::Scope);
            parser.parse2(args).map(GuardAttr::RequiresScope)
        }
        GuardKind::RequiresRole => {
            let parser = |input: ParseStream<'_>| requires_scope(input, span, Noun::Role);
            parser.parse2(args).map(GuardAttr::RequiresRole)
        }
        GuardKind::RequiresPolicy => {
            let parser = |input: ParseStream<'_>| requires_policy(input, span);
            parser.parse2(args).map(GuardAttr::RequiresPolicy)
        }
        GuardKind::OwnerOnly => {
            let parser = |input: ParseStream<'_>| owner_only(input, span, kind);
            parser.parse2(args).map(|args| GuardAttr::OwnerOnly(Box::new(args)))
        }
        GuardKind::RequiresAuthentication => {
            let parser = |input: ParseStream<'_>| requires_authentication(input, span);
            parser.parse2(args).map(GuardAttr::RequiresAuthentication)
        }
        GuardKind::Authorize => {
            let parser = |input: ParseStream<'_>| owner_only(input, span, kind);
            parser.parse2(args).map(|args| GuardAttr::Authorize(Box::new(args)))
        }
    }
}

/// `#[authenticated]`, with `optional` and `state = Type` in any order.
fn authenticated(input: ParseStream<'_>) -> syn::Result<AuthArgs> {
    let mut args = AuthArgs { optional: Vec::new(), state: Vec::new() };
    while !input.is_empty() {
        if peek_state(input) {
            args.state.push(state(input)?);
        } else if input.peek(kw::optional) && (input.peek2(Token![,]) || peek_end(input)) {
            args.optional.push(input.parse::<kw::optional>()?.span);
        } else {
            let rest: TokenStream = input.parse()?;
            return Err(syn::Error::new_spanned(
                rest,
                "unknown argument: `#[authenticated]` takes `optional` and `state = Type`",
            ));
        }
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(args)
}

/// `true` when the token after the next one is the end of the input.
fn peek_end(input: ParseStream<'_>) -> bool {
    let fork = input.fork();
    fork.parse::<proc_macro2::TokenTree>().is_ok() && fork.is_empty()
}

/// `#[requires_policy(..)]`: policy paths, ready-made claim checks and `state = Type`.
fn requires_policy(input: ParseStream<'_>, span: Span) -> syn::Result<PolicyArgs> {
    let mut policies = Vec::new();
    let mut state_args = Vec::new();
    while !input.is_empty() {
        if peek_state(input) {
            state_args.push(state(input)?);
        } else {
            policies.push(policy(input)?);
        }
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(PolicyArgs { policies, state: state_args, span })
}

/// A policy path, or `claim_true(..)`, `claim_equals(..)`, `claim_includes(..)`.
fn policy(input: ParseStream<'_>) -> syn::Result<PolicyRef> {
    const EXPECTED: &str = "expected a policy (a type, or a function with `#[portcullis::policy]`), `claim_true(\"claim\")`, `claim_equals(\"claim\", value)` or `claim_includes(\"claim\", \"value\", ..)`";
    if input.peek(syn::Ident) && input.peek2(syn::token::Paren) {
        let keyword: syn::Ident = input.parse()?;
        let content;
        syn::parenthesized!(content in input);
        let check = match keyword.to_string().as_str() {
            "claim_true" | "claim_equals" | "claim_includes" => keyword.to_string(),
            other => {
                return Err(syn::Error::new(
                    keyword.span(),
                    format!("unknown claim check `{other}(..)`: {EXPECTED}"),
                ));
            }
        };
        let path: LitStr = content.parse()?;
        let mut rest = Vec::new();
        while content.parse::<Option<Token![,]>>()?.is_some() {
            if content.is_empty() {
                break;
            }
            rest.push(content.parse::<syn::Lit>()?);
        }
        let check = match check.as_str() {
            "claim_true" => {
                if let Some(extra) = rest.first() {
                    return Err(syn::Error::new_spanned(
                        extra,
                        "`claim_true(..)` takes the claim only, as in `claim_true(\"email_verified\")`",
                    ));
                }
                ClaimKind::IsTrue
            }
            "claim_equals" => {
                if let Some(extra) = rest.get(1) {
                    return Err(syn::Error::new_spanned(
                        extra,
                        "`claim_equals(..)` takes the claim and one value",
                    ));
                }
                ClaimKind::Equals(rest.into_iter().next())
            }
            _ => {
                let mut values = Vec::new();
                for value in rest {
                    match value {
                        syn::Lit::Str(value) => values.push(value),
                        other => {
                            return Err(syn::Error::new_spanned(
                                other,
                                "`claim_includes(..)` values are string literals",
                            ));
                        }
                    }
                }
                ClaimKind::Includes(values)
            }
        };
        return Ok(PolicyRef::Claim(ClaimRef { keyword, path, check }));
    }
    if input.peek(syn::Ident)
        || input.peek(Token![::])
        || input.peek(Token![crate])
        || input.peek(Token![self])
        || input.peek(Token![super])
    {
        let path: Path = input.parse()?;
        if input.peek(Token![=]) {
            let name = quote::quote!(#path).to_string();
            return Err(syn::Error::new_spanned(
                path,
                format!("unknown argument `{name}`: {EXPECTED}, or `state = Type`"),
            ));
        }
        return Ok(PolicyRef::Type(path));
    }
    Err(input.error(EXPECTED))
}

/// `#[requires_scope(..)]` and `#[requires_role(..)]`: names, `any(..)`, `declared_in = Path`
/// and `state = Type` in any order.
fn requires_scope(input: ParseStream<'_>, span: Span, noun: Noun) -> syn::Result<ScopeArgs> {
    let mut all = Vec::new();
    let mut rules = Vec::new();
    let mut declared_in = Vec::new();
    let mut state_args = Vec::new();
    loop {
        if input.is_empty() {
            break;
        }
        if input.peek(kw::any) && input.peek2(syn::token::Paren) {
            rules.push(any(input, noun)?);
        } else if input.peek(kw::declared_in) && input.peek2(Token![=]) {
            declared_in.push(declared_in_arg(input)?);
        } else if peek_state(input) {
            state_args.push(state(input)?);
        } else {
            all.push(scope(input, noun)?);
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
fn any(input: ParseStream<'_>, noun: Noun) -> syn::Result<Rule> {
    let keyword: kw::any = input.parse()?;
    let content;
    syn::parenthesized!(content in input);
    Ok(Rule::Any { scopes: scope_list(&content, noun)?, keyword: keyword.span })
}

/// Names separated by commas, as inside `any(..)`.
fn scope_list(input: ParseStream<'_>, noun: Noun) -> syn::Result<Vec<ScopeRef>> {
    let mut names = Vec::new();
    while !input.is_empty() {
        names.push(scope(input, noun)?);
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(names)
}

/// A literal such as `"docs:write"` or a declared name such as `Scope::DocsWrite`.
fn scope(input: ParseStream<'_>, noun: Noun) -> syn::Result<ScopeRef> {
    let (literal, declared) = match noun {
        Noun::Scope => (
            "a scope literal such as \"docs:write\"",
            "a declared scope such as `Scope::DocsWrite`",
        ),
        Noun::Role => (
            "a role literal such as \"documents-admin\"",
            "a declared role such as `Role::DocumentsAdmin`",
        ),
    };
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
                    "unknown argument `{name}`: expected {literal}, `any(..)`, `declared_in = Type`, `state = Type`, or {declared}"
                ),
            ));
        }
        return Ok(ScopeRef::Declared(path));
    }
    Err(input.error(format!("expected {literal}, `any(..)`, `declared_in = Type`, or {declared}")))
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

/// `#[owner_only(Type, id = "param", state = Type)]`, the resource type first; `#[authorize]`
/// takes the same, with the action as a string.
fn owner_only(input: ParseStream<'_>, span: Span, kind: GuardKind) -> syn::Result<OwnerArgs> {
    let resource = resource(input)?;
    let mut ids = Vec::new();
    let mut actions = Vec::new();
    let mut state_args = Vec::new();
    while input.parse::<Option<Token![,]>>()?.is_some() {
        if input.is_empty() {
            break;
        }
        if input.peek(kw::id) && input.peek2(Token![=]) {
            ids.push(id(input)?);
        } else if input.peek(kw::action) && input.peek2(Token![=]) {
            let keyword: kw::action = input.parse()?;
            input.parse::<Token![=]>()?;
            let action = if kind == GuardKind::Authorize {
                ActionName::Engine(input.parse()?)
            } else {
                ActionName::Path(input.parse()?)
            };
            actions.push(ActionArg { keyword: keyword.span, action });
        } else if peek_state(input) {
            state_args.push(state(input)?);
        } else {
            let unknown: TokenStream = input.parse()?;
            let name =
                unknown.clone().into_iter().next().map(|t| t.to_string()).unwrap_or_default();
            let message = if kind == GuardKind::Authorize {
                format!(
                    "unknown argument `{name}`: `#[authorize]` takes the resource type, `action = \"name\"`, and optionally `id = \"path_param\"` and `state = Type`"
                )
            } else {
                format!(
                    "unknown argument `{name}`: `#[owner_only]` takes the resource type and optionally `id = \"path_param\"`, `action = read | write | delete | MyAction::Variant` and `state = Type`"
                )
            };
            return Err(syn::Error::new_spanned(unknown, message));
        }
    }
    Ok(OwnerArgs { resource, id: ids, action: actions, state: state_args, span })
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

/// `#[requires_authentication(acr = "a" | acr = any("a", ..), max_age = "10m" | 600, state =
/// Type)]`, in any order.
fn requires_authentication(input: ParseStream<'_>, span: Span) -> syn::Result<AuthenticationArgs> {
    let mut args =
        AuthenticationArgs { acr: Vec::new(), max_age: Vec::new(), state: Vec::new(), span };
    while !input.is_empty() {
        if input.peek(kw::acr) && input.peek2(Token![=]) {
            let keyword = input.parse::<kw::acr>()?.span;
            input.parse::<Token![=]>()?;
            if input.peek(kw::any) && input.peek2(syn::token::Paren) {
                let any = input.parse::<kw::any>()?.span;
                let content;
                syn::parenthesized!(content in input);
                let values =
                    content.parse_terminated(<LitStr as syn::parse::Parse>::parse, Token![,])?;
                args.acr.push(AcrArg {
                    keyword,
                    any: Some(any),
                    values: values.into_iter().collect(),
                });
            } else if input.peek(LitStr) {
                args.acr.push(AcrArg { keyword, any: None, values: vec![input.parse()?] });
            } else {
                return Err(input.error(
                    "expected an acr value such as \"urn:documents:mfa\", or `any(\"a\", \"b\")` for one of several",
                ));
            }
        } else if input.peek(kw::max_age) && input.peek2(Token![=]) {
            let keyword = input.parse::<kw::max_age>()?.span;
            input.parse::<Token![=]>()?;
            args.max_age.push(MaxAgeArg { keyword, value: input.parse()? });
        } else if peek_state(input) {
            args.state.push(state(input)?);
        } else {
            let rest: TokenStream = input.parse()?;
            let name = rest.clone().into_iter().next().map(|t| t.to_string()).unwrap_or_default();
            return Err(syn::Error::new_spanned(
                rest,
                format!(
                    "unknown argument `{name}`: `#[requires_authentication]` takes `acr = \"value\"` or `acr = any(..)`, `max_age = \"10m\"` and `state = Type`"
                ),
            ));
        }
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(args)
}
