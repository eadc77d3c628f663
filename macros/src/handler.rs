//! The guarded handler: parsing the function, gathering every guard attribute on it, and the
//! one adapter that turns errors into `compile_error!` beside the untouched function.

use std::collections::HashSet;

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Attribute, Meta, Signature, Visibility};

use crate::attr::{GuardAttr, GuardKind, OwnerArgs, Rule, ScopeArgs, StateArg};
use crate::expand;
use crate::valid::{self, Errors};

/// A function whose body is kept as raw tokens, so a half-written body still expands (as in
/// `tracing-attributes`): only the signature must parse.
#[derive(Clone)]
pub(crate) struct HandlerFn {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    pub(crate) body: TokenStream,
}

impl Parse for HandlerFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        Ok(Self {
            attrs: input.call(Attribute::parse_outer)?,
            vis: input.parse()?,
            sig: input.parse()?,
            body: input.parse()?,
        })
    }
}

impl ToTokens for HandlerFn {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let Self { attrs, vis, sig, body } = self;
        tokens.extend(quote!(#(#attrs)* #vis #sig #body));
    }
}

/// Everything the guards of one handler require, gathered from all its guard attributes.
pub(crate) struct GuardSpec {
    pub(crate) rules: Vec<Rule>,
    pub(crate) declared_checks: Vec<(syn::LitStr, syn::Path)>,
    pub(crate) owner: Option<OwnerArgs>,
    pub(crate) state: Option<syn::Type>,
}

/// The adapter every attribute goes through.
pub(crate) fn guard(kind: GuardKind, args: TokenStream, item: TokenStream) -> TokenStream {
    let Ok(mut handler) = syn::parse2::<HandlerFn>(item.clone()) else {
        let span = item.clone().into_iter().next().map_or_else(Span::call_site, |t| t.span());
        let error = syn::Error::new(
            span,
            format!("`#[{}]` can only be applied to an `async fn` handler", kind.name()),
        );
        return quote!(#item).into_iter().chain(error.to_compile_error()).collect();
    };
    // Gather the stacked guard attributes first, so that on error the function is emitted
    // without them and they do not report the same mistake again.
    let stacked = take_stacked(&mut handler);
    match try_expand(kind, args, stacked, &handler) {
        Ok(tokens) => tokens,
        Err(error) => {
            let mut tokens = handler.into_token_stream();
            tokens.extend(error.to_compile_error());
            tokens
        }
    }
}

/// Removes the other guard attributes of the function and returns them with their arguments.
fn take_stacked(handler: &mut HandlerFn) -> Vec<(GuardKind, TokenStream, Span)> {
    let mut stacked = Vec::new();
    handler.attrs.retain(|attr| match GuardKind::from_path(attr.path()) {
        Some(kind) => {
            let args = match &attr.meta {
                Meta::List(list) => list.tokens.clone(),
                _ => TokenStream::new(),
            };
            stacked.push((kind, args, attr.span()));
            false
        }
        None => true,
    });
    stacked
}

fn try_expand(
    kind: GuardKind,
    args: TokenStream,
    stacked: Vec<(GuardKind, TokenStream, Span)>,
    handler: &HandlerFn,
) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let mut attrs = Vec::new();
    for (kind, args, span) in std::iter::once((kind, args, Span::call_site())).chain(stacked) {
        if let Some(attr) = errors.check(GuardAttr::parse(kind, args, span)) {
            attrs.push(attr);
        }
    }
    check_signature(&handler.sig, kind, &mut errors);
    let spec = validate(attrs, &mut errors);
    errors.finish()?;
    Ok(expand::guarded_handler(handler, &spec))
}

fn check_signature(sig: &Signature, kind: GuardKind, errors: &mut Errors) {
    if sig.asyncness.is_none() {
        errors.add(
            sig.fn_token.span,
            format!("`#[{}]` guards async handlers only: make this an `async fn`", kind.name()),
        );
    }
    if let Some(receiver) = sig.receiver() {
        errors.add(
            receiver.span(),
            format!(
                "`#[{}]` cannot guard a method: axum handlers are free functions without `self`",
                kind.name()
            ),
        );
    }
}

/// Checks the gathered attributes together: scope syntax, empty lists, duplicates, a single
/// ownership rule.
fn validate(attrs: Vec<GuardAttr>, errors: &mut Errors) -> GuardSpec {
    let mut spec =
        GuardSpec { rules: Vec::new(), declared_checks: Vec::new(), owner: None, state: None };
    let mut seen = HashSet::new();
    let set_state = |state: Option<StateArg>, spec: &mut GuardSpec, errors: &mut Errors| {
        if let Some(StateArg { keyword, ty }) = state {
            if spec.state.is_some() {
                errors.add(keyword, "duplicated argument `state`: name the router state once");
            } else {
                spec.state = Some(ty);
            }
        }
    };
    for attr in attrs {
        match attr {
            GuardAttr::Authenticated(state) => set_state(state, &mut spec, errors),
            GuardAttr::RequiresScope(ScopeArgs { rules, declared_in, state, span }) => {
                set_state(state, &mut spec, errors);
                if rules.is_empty() {
                    errors.add(
                        span,
                        "`#[requires_scope]` needs at least one scope, as in `#[requires_scope(\"docs:read\")]`",
                    );
                }
                for rule in &rules {
                    if let Rule::Any { scopes, keyword } = rule
                        && scopes.is_empty()
                    {
                        errors.add(*keyword, "`any()` needs at least one scope");
                    }
                    for scope in rule.scopes() {
                        if let crate::attr::ScopeRef::Literal(lit) = scope {
                            errors.check(valid::scope_literal(lit));
                            if let Some(vocabulary) = &declared_in {
                                spec.declared_checks.push((lit.clone(), vocabulary.clone()));
                            }
                        }
                        if !seen.insert(scope.key()) {
                            errors.add(
                                scope.span(),
                                format!("duplicated scope `{}`", scope.describe()),
                            );
                        }
                    }
                }
                spec.rules.extend(rules);
            }
            GuardAttr::OwnerOnly(mut owner, span) => {
                set_state(owner.state.take(), &mut spec, errors);
                if spec.owner.is_some() {
                    errors.add(span, "duplicated `#[owner_only]`: a handler checks one resource");
                } else {
                    spec.owner = Some(owner);
                }
            }
        }
    }
    spec
}
