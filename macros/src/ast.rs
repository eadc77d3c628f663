//! The typed view of a macro's input: the guarded handler with its guard attributes, and the
//! `scopes!` vocabulary. Nothing here is checked yet; `valid` decides what is acceptable.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Attribute, Ident, LitStr, Path, Signature, Token, Type, Visibility};

/// A handler and every guard attribute on it, the one being expanded first.
pub(crate) struct Handler {
    /// The attribute being expanded, which names the handler in signature errors.
    pub(crate) kind: GuardKind,
    /// The function without its guard attributes: they are all read into `guards`, and none
    /// may expand a second time.
    pub(crate) func: HandlerFn,
    /// Kept with their syntax errors, so that these are reported with every other mistake.
    pub(crate) guards: Vec<syn::Result<GuardAttr>>,
}

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

/// Which attribute was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GuardKind {
    Authenticated,
    RequiresScope,
    RequiresRole,
    RequiresPolicy,
    OwnerOnly,
    RequiresAuthentication,
    Authorize,
}

impl GuardKind {
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::Authenticated => "authenticated",
            Self::RequiresScope => "requires_scope",
            Self::RequiresRole => "requires_role",
            Self::RequiresPolicy => "requires_policy",
            Self::OwnerOnly => "owner_only",
            Self::RequiresAuthentication => "requires_authentication",
            Self::Authorize => "authorize",
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
        [
            Self::Authenticated,
            Self::RequiresScope,
            Self::RequiresRole,
            Self::RequiresPolicy,
            Self::OwnerOnly,
            Self::RequiresAuthentication,
            Self::Authorize,
        ]
        .into_iter()
        .find(|kind| name == kind.name())
    }
}

/// One guard attribute with its arguments as written.
pub(crate) enum GuardAttr {
    Authenticated(AuthArgs),
    RequiresScope(ScopeArgs),
    /// The same grammar as scopes, with role names.
    RequiresRole(ScopeArgs),
    RequiresPolicy(PolicyArgs),
    /// Boxed: a resource type is by far the largest argument.
    OwnerOnly(Box<OwnerArgs>),
    RequiresAuthentication(AuthenticationArgs),
    /// `#[authorize(Type, action = "name")]`: the decision engine decides; the same arguments
    /// as `#[owner_only]`, with the action's name as a string.
    Authorize(Box<OwnerArgs>),
}

/// The arguments of `#[requires_authentication(acr = .., max_age = .., state = Type)]`, lists
/// so that duplicates are reported with the other mistakes.
pub(crate) struct AuthenticationArgs {
    pub(crate) acr: Vec<AcrArg>,
    pub(crate) max_age: Vec<MaxAgeArg>,
    pub(crate) state: Vec<StateArg>,
    /// Where the arguments are, for "nothing required" and a second attribute.
    pub(crate) span: Span,
}

/// `acr = "value"` or `acr = any("a", "b")`.
pub(crate) struct AcrArg {
    pub(crate) keyword: Span,
    /// Where `any` is, when written.
    pub(crate) any: Option<Span>,
    pub(crate) values: Vec<LitStr>,
}

/// `max_age = "10m"` or `max_age = 600` (seconds).
pub(crate) struct MaxAgeArg {
    pub(crate) keyword: Span,
    pub(crate) value: syn::Lit,
}

/// The sign-in `#[requires_authentication]` requires, checked.
pub(crate) struct Authentication<'a> {
    pub(crate) acr: Vec<&'a LitStr>,
    /// In seconds.
    pub(crate) max_age: Option<u64>,
}

/// The arguments of `#[authenticated(optional, state = Type)]`, lists so that duplicates are
/// reported with the other mistakes.
pub(crate) struct AuthArgs {
    /// Where each `optional` is.
    pub(crate) optional: Vec<Span>,
    pub(crate) state: Vec<StateArg>,
}

/// The arguments of `#[requires_policy(..)]`.
pub(crate) struct PolicyArgs {
    pub(crate) policies: Vec<PolicyRef>,
    pub(crate) state: Vec<StateArg>,
    /// Where the arguments are, for "no policy given".
    pub(crate) span: Span,
}

/// One policy as written: a type (or a `#[policy]` function) by path, or a ready-made claim
/// check.
pub(crate) enum PolicyRef {
    Type(Path),
    Claim(ClaimRef),
}

/// `claim_true("path")`, `claim_equals("path", value)`, `claim_includes("path", "a", ..)`.
pub(crate) struct ClaimRef {
    pub(crate) keyword: Ident,
    pub(crate) path: LitStr,
    pub(crate) check: ClaimKind,
}

pub(crate) enum ClaimKind {
    IsTrue,
    /// The value as written: `valid` accepts strings, booleans and integers.
    Equals(Option<syn::Lit>),
    Includes(Vec<LitStr>),
}

impl PolicyRef {
    pub(crate) fn span(&self) -> Span {
        match self {
            Self::Type(path) => path.span(),
            Self::Claim(claim) => claim.keyword.span(),
        }
    }

    /// A key that compares equal for the same policy written twice.
    pub(crate) fn key(&self) -> String {
        match self {
            Self::Type(path) => quote!(#path).to_string(),
            Self::Claim(ClaimRef { keyword, path, check }) => {
                let rest = match check {
                    ClaimKind::IsTrue => String::new(),
                    ClaimKind::Equals(value) => quote!(#value).to_string(),
                    ClaimKind::Includes(values) => {
                        values.iter().map(LitStr::value).collect::<Vec<_>>().join(" ")
                    }
                };
                format!("{keyword}({:?}) {rest}", path.value())
            }
        }
    }
}

/// `state = Type`: the router state, named so that a state without a `Verifier` is reported
/// under this type rather than as an unsatisfied `Handler` bound at the route.
pub(crate) struct StateArg {
    pub(crate) keyword: Span,
    pub(crate) ty: Type,
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
            Self::Declared(path) => quote!(#path).to_string(),
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
            Self::Declared(path) => quote!(#path).to_string().replace(' ', ""),
        }
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

/// The arguments of `#[requires_scope(..)]`. Arguments allowed once are lists, so that a
/// duplicate is an error collected with the others rather than a parse failure.
pub(crate) struct ScopeArgs {
    pub(crate) rules: Vec<Rule>,
    /// The vocabulary that literals of this attribute must belong to.
    pub(crate) declared_in: Vec<DeclaredIn>,
    pub(crate) state: Vec<StateArg>,
    /// Where the arguments are, for "no scope given".
    pub(crate) span: Span,
}

/// `declared_in = Path`.
pub(crate) struct DeclaredIn {
    pub(crate) keyword: Span,
    pub(crate) vocabulary: Path,
}

/// The arguments of `#[owner_only(Type, id = "param")]`.
pub(crate) struct OwnerArgs {
    pub(crate) resource: Type,
    pub(crate) id: Vec<IdArg>,
    pub(crate) action: Vec<ActionArg>,
    pub(crate) state: Vec<StateArg>,
    /// Where the arguments are, for a second `#[owner_only]`.
    pub(crate) span: Span,
}

/// `id = "path_param"`.
pub(crate) struct IdArg {
    pub(crate) keyword: Span,
    pub(crate) name: LitStr,
}

/// `action = read` or `action = MyAction::Variant`; for `#[authorize]`, `action = "name"`.
pub(crate) struct ActionArg {
    pub(crate) keyword: Span,
    pub(crate) action: ActionName,
}

/// An action as written.
pub(crate) enum ActionName {
    Path(Path),
    Engine(LitStr),
}

/// Everything the guards of one handler require, gathered from all its guard attributes.
#[derive(Default)]
pub(crate) struct Requirements<'a> {
    pub(crate) rules: Vec<&'a Rule>,
    pub(crate) roles: Vec<&'a Rule>,
    /// Literals to check, at compile time, against the vocabulary named by `declared_in`, with
    /// what they name (`scope` or `role`).
    pub(crate) declared_checks: Vec<(&'a LitStr, &'a Path, Noun)>,
    pub(crate) claims: Vec<&'a ClaimRef>,
    pub(crate) policies: Vec<&'a Path>,
    pub(crate) optional: bool,
    pub(crate) owner: Option<Ownership<'a>>,
    pub(crate) state: Option<&'a Type>,
    pub(crate) authentication: Option<Authentication<'a>>,
}

/// The resource `#[owner_only]` checks.
pub(crate) struct Ownership<'a> {
    pub(crate) resource: &'a Type,
    pub(crate) id_param: Option<&'a LitStr>,
    pub(crate) action: Option<Action<'a>>,
    /// `#[authorize]`: the decision engine's action, instead of the resource's own decision.
    pub(crate) engine_action: Option<&'a LitStr>,
}

/// What the handler does to the resource.
pub(crate) enum Action<'a> {
    /// `read`, `write` or `delete`: a variant of `portcullis::resource::Action`.
    Builtin(&'static str, Span),
    /// A variant of the application's own enum.
    Custom(&'a Path),
}

/// What the names of a rule or a vocabulary are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Noun {
    Scope,
    Role,
}

impl Noun {
    pub(crate) const fn word(self) -> &'static str {
        match self {
            Self::Scope => "scope",
            Self::Role => "role",
        }
    }

    /// The attribute that requires names of this kind.
    pub(crate) const fn attribute(self) -> &'static str {
        match self {
            Self::Scope => "requires_scope",
            Self::Role => "requires_role",
        }
    }
}

/// The input of `scopes!`.
pub(crate) struct Vocabulary {
    /// Scopes (`scopes!`) or roles (`roles!`).
    pub(crate) noun: Noun,
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) name: Ident,
    /// Each entry parsed on its own, or the syntax error in its place, so that one malformed
    /// entry still leaves an enum with the others.
    pub(crate) entries: Vec<syn::Result<Declared>>,
}

impl Vocabulary {
    /// The entries that parsed.
    pub(crate) fn declared(&self) -> impl Iterator<Item = &Declared> {
        self.entries.iter().filter_map(|entry| entry.as_ref().ok())
    }
}

/// `Variant = "scope"`, with the variant's attributes.
pub(crate) struct Declared {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) variant: Ident,
    pub(crate) scope: LitStr,
}

impl Parse for Declared {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let variant = input.parse()?;
        input.parse::<Token![=]>()?;
        Ok(Self { attrs, variant, scope: input.parse()? })
    }
}

impl Parse for Vocabulary {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        input.parse::<Token![enum]>()?;
        let name = input.parse()?;
        let content;
        syn::braced!(content in input);
        let mut entries = Vec::new();
        while !content.is_empty() {
            match content.parse::<Declared>() {
                Ok(declared) => entries.push(Ok(declared)),
                Err(error) => {
                    entries.push(Err(error));
                    skip_past_comma(&content)?;
                    continue;
                }
            }
            if !content.is_empty()
                && let Err(error) = content.parse::<Token![,]>()
            {
                // The entry before is fine, and the next one may be too: only the comma is
                // reported.
                entries.push(Err(error));
            }
        }
        Ok(Self { noun: Noun::Scope, attrs, vis, name, entries })
    }
}

/// Skips a malformed entry up to the next comma, so that the entries after it still parse.
fn skip_past_comma(content: ParseStream<'_>) -> syn::Result<()> {
    content.step(|cursor| {
        let mut rest = *cursor;
        while let Some((tree, next)) = rest.token_tree() {
            rest = next;
            if matches!(tree, TokenTree::Punct(punct) if punct.as_char() == ',') {
                break;
            }
        }
        Ok(((), rest))
    })
}

/// A function marked `#[policy]`: only its signature is read.
pub(crate) struct PolicyFn {
    pub(crate) func: HandlerFn,
}
