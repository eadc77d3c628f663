//! The arguments of the three guard attributes, as typed values.

use proc_macro2::{Span, TokenStream};
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{LitStr, Path, Token, Type};

mod kw {
    syn::custom_keyword!(any);
    syn::custom_keyword!(declared_in);
    syn::custom_keyword!(id);
    syn::custom_keyword!(state);
}

/// `state = Type`: the router state, named so that a state without a `Verifier` is reported
/// under this type rather than as an unsatisfied `Handler` bound at the route.
pub(crate) struct StateArg {
    pub(crate) keyword: Span,
    pub(crate) ty: Type,
}

fn peek_state(input: ParseStream<'_>) -> bool {
    input.peek(kw::state) && input.peek2(Token![=])
}

fn parse_state(input: ParseStream<'_>) -> syn::Result<StateArg> {
    let keyword: kw::state = input.parse()?;
    input.parse::<Token![=]>()?;
    Ok(StateArg { keyword: keyword.span, ty: input.parse()? })
}

/// Which attribute was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GuardKind {
    Authenticated,
    RequiresScope,
    OwnerOnly,
}

impl GuardKind {
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::Authenticated => "authenticated",
            Self::RequiresScope => "requires_scope",
            Self::OwnerOnly => "owner_only",
        }
    }

    /// The attribute `path` names, if it is one of ours: `name` or `portcullis::name` (with or
    /// without a leading `::`). Another crate's `other::authenticated` is left alone.
    pub(crate) fn from_path(path: &Path) -> Option<Self> {
        let segments: Vec<_> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        let name = match segments.as_slice() {
            [name] if path.leading_colon.is_none() => name,
            [krate, name] if krate == "portcullis" => name,
            _ => return None,
        };
        [Self::Authenticated, Self::RequiresScope, Self::OwnerOnly]
            .into_iter()
            .find(|kind| name == kind.name())
    }
}

/// A scope as written: a literal, or a variant of a vocabulary declared with `scopes!`.
#[derive(Clone)]
pub(crate) enum ScopeRef {
    Literal(LitStr),
    Declared(Path),
}

impl ScopeRef {
    /// A key that compares equal for the same scope written twice.
    pub(crate) fn key(&self) -> String {
        match self {
            Self::Literal(lit) => format!("\"{}\"", lit.value()),
            Self::Declared(path) => quote::quote!(#path).to_string(),
        }
    }

    pub(crate) fn span(&self) -> Span {
        match self {
            Self::Literal(lit) => lit.span(),
            Self::Declared(path) => path.span(),
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Literal(lit) => lit.value(),
            Self::Declared(path) => quote::quote!(#path).to_string().replace(' ', ""),
        }
    }
}

impl Parse for ScopeRef {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(LitStr) {
            return input.parse().map(Self::Literal);
        }
        if input.peek(syn::Ident)
            || input.peek(Token![::])
            || input.peek(Token![crate])
            || input.peek(Token![self])
            || input.peek(Token![super])
        {
            let path: Path = input.parse()?;
            if input.peek(Token![=]) || input.peek(syn::token::Paren) {
                let name = quote::quote!(#path).to_string();
                return Err(syn::Error::new_spanned(
                    path,
                    format!(
                        "unknown argument `{name}`: expected a scope literal such as \"docs:write\", `any(..)`, `declared_in = Type`, `state = Type`, or a declared scope such as `Scope::DocsWrite`"
                    ),
                ));
            }
            return Ok(Self::Declared(path));
        }
        Err(input.error(
            "expected a scope literal such as \"docs:write\", `any(..)`, `declared_in = Type`, or a declared scope such as `Scope::DocsWrite`",
        ))
    }
}

/// One rule: every scope of `All`, or one of `Any`.
pub(crate) enum Rule {
    All(Vec<ScopeRef>),
    Any { scopes: Vec<ScopeRef>, keyword: Span },
}

impl Rule {
    pub(crate) fn scopes(&self) -> &[ScopeRef] {
        match self {
            Self::All(scopes) | Self::Any { scopes, .. } => scopes,
        }
    }
}

/// The arguments of `#[requires_scope(..)]`.
pub(crate) struct ScopeArgs {
    pub(crate) rules: Vec<Rule>,
    /// The vocabulary that literals of this attribute must belong to.
    pub(crate) declared_in: Option<Path>,
    pub(crate) state: Option<StateArg>,
    /// Where the attribute's arguments are, for "no scope given".
    pub(crate) span: Span,
}

enum ScopeArg {
    Scope(ScopeRef),
    Any(kw::any, Vec<ScopeRef>),
    DeclaredIn(kw::declared_in, Path),
    State(StateArg),
}

impl Parse for ScopeArg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(kw::any) && input.peek2(syn::token::Paren) {
            let keyword: kw::any = input.parse()?;
            let content;
            syn::parenthesized!(content in input);
            let scopes = Punctuated::<ScopeRef, Token![,]>::parse_terminated(&content)?;
            return Ok(Self::Any(keyword, scopes.into_iter().collect()));
        }
        if input.peek(kw::declared_in) && input.peek2(Token![=]) {
            let keyword: kw::declared_in = input.parse()?;
            input.parse::<Token![=]>()?;
            return Ok(Self::DeclaredIn(keyword, input.parse()?));
        }
        if peek_state(input) {
            return parse_state(input).map(Self::State);
        }
        input.parse().map(Self::Scope)
    }
}

impl ScopeArgs {
    pub(crate) fn parse(tokens: TokenStream) -> syn::Result<Self> {
        let span = if tokens.is_empty() { Span::call_site() } else { tokens.span() };
        let args = Punctuated::<ScopeArg, Token![,]>::parse_terminated.parse2(tokens)?;
        let mut all = Vec::new();
        let mut rules = Vec::new();
        let mut declared_in: Option<Path> = None;
        let mut state: Option<StateArg> = None;
        for arg in args {
            match arg {
                ScopeArg::Scope(scope) => all.push(scope),
                ScopeArg::Any(keyword, scopes) => {
                    rules.push(Rule::Any { scopes, keyword: keyword.span })
                }
                ScopeArg::DeclaredIn(keyword, path) => {
                    if declared_in.is_some() {
                        return Err(syn::Error::new(
                            keyword.span,
                            "duplicated argument `declared_in`",
                        ));
                    }
                    declared_in = Some(path);
                }
                ScopeArg::State(arg) => {
                    if state.is_some() {
                        return Err(syn::Error::new(arg.keyword, "duplicated argument `state`"));
                    }
                    state = Some(arg);
                }
            }
        }
        if !all.is_empty() {
            rules.insert(0, Rule::All(all));
        }
        Ok(Self { rules, declared_in, state, span })
    }
}

/// The arguments of `#[owner_only(Type, id = "param")]`.
pub(crate) struct OwnerArgs {
    pub(crate) resource: Type,
    pub(crate) id_param: Option<LitStr>,
    pub(crate) state: Option<StateArg>,
}

impl Parse for OwnerArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.is_empty() {
            return Err(input.error(
                "expected the resource type, as in `#[owner_only(Document)]` or `#[owner_only(Document, id = \"doc_id\")]`",
            ));
        }
        let resource: Type = input.parse()?;
        let mut id_param: Option<LitStr> = None;
        let mut state: Option<StateArg> = None;
        while input.parse::<Option<Token![,]>>()?.is_some() {
            if input.is_empty() {
                break;
            }
            if input.peek(kw::id) && input.peek2(Token![=]) {
                let keyword: kw::id = input.parse()?;
                input.parse::<Token![=]>()?;
                let name: LitStr = input.parse()?;
                if id_param.is_some() {
                    return Err(syn::Error::new(keyword.span, "duplicated argument `id`"));
                }
                if name.value().is_empty() {
                    return Err(syn::Error::new(
                        name.span(),
                        "the path parameter name cannot be empty",
                    ));
                }
                id_param = Some(name);
                continue;
            }
            if peek_state(input) {
                let arg = parse_state(input)?;
                if state.is_some() {
                    return Err(syn::Error::new(arg.keyword, "duplicated argument `state`"));
                }
                state = Some(arg);
                continue;
            }
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
        Ok(Self { resource, id_param, state })
    }
}

/// One guard attribute with its parsed arguments.
pub(crate) enum GuardAttr {
    Authenticated(Option<StateArg>),
    RequiresScope(ScopeArgs),
    OwnerOnly(OwnerArgs, Span),
}

impl GuardAttr {
    pub(crate) fn parse(kind: GuardKind, args: TokenStream, span: Span) -> syn::Result<Self> {
        match kind {
            GuardKind::Authenticated => {
                let parse_args = |input: ParseStream<'_>| {
                    if input.is_empty() {
                        return Ok(None);
                    }
                    if peek_state(input) {
                        let state = parse_state(input)?;
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
                };
                parse_args.parse2(args).map(Self::Authenticated)
            }
            GuardKind::RequiresScope => ScopeArgs::parse(args).map(Self::RequiresScope),
            GuardKind::OwnerOnly => {
                let args_span = if args.is_empty() { span } else { args.span() };
                OwnerArgs::parse.parse2(args).map(|owner| Self::OwnerOnly(owner, args_span))
            }
        }
    }
}
