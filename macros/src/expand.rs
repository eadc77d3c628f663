//! Code generation from input `valid` accepted. The generated code names the runtime only
//! through `::portcullis::__private` and absolute `::core` paths, so user items named `Result`,
//! `Option` or `axum` do not interfere.

use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, LitStr};

use crate::ast::{
    Action, Authentication, ClaimKind, ClaimRef, Declared, HandlerFn, Noun, PolicyFn, Requirements,
    Rule, ScopeRef, Vocabulary,
};

/// The handler with the guard as its first parameter, plus the hidden type that implements
/// the runtime's `Requirements` for it.
pub(crate) fn guarded_handler(handler: &HandlerFn, requirements: &Requirements<'_>) -> TokenStream {
    let name = &handler.sig.ident;
    let requirements_ty = format_ident!("__PortcullisRequirements_{}", name, span = name.span());
    // The requirements type follows the handler in and out of `#[cfg]`, and is as visible as the
    // handler so that a public handler has no private type in its signature.
    let cfgs: Vec<_> = handler.attrs.iter().filter(|attr| attr.path().is_ident("cfg")).collect();
    let vis = &handler.vis;

    let rules = requirements.rules.iter().map(|r| rule(r));
    let roles = requirements.roles.iter().map(|r| rule(r));
    let claims = requirements.claims.iter().map(|c| claim(c));
    let optional = requirements.optional;
    // `Policies<A, Policies<B, ()>>`, each spanned to its path, where a type that is not a
    // policy is reported.
    let policies = requirements.policies.iter().rev().fold(
        quote!(()),
        |rest, path| quote_spanned!(path.span()=> ::portcullis::__private::Policies<#path, #rest>),
    );
    let mut decide = None;
    let ownership = match &requirements.owner {
        None => quote!(::portcullis::__private::NoOwnership),
        Some(owner) if owner.engine_action.is_some() => {
            let resource = owner.resource;
            decide = owner
                .engine_action
                .map(|action| engine_action(&requirements_ty, &name.to_string(), action, &cfgs));
            quote_spanned!(resource.span()=> ::portcullis::__private::EngineCheck<#resource, #requirements_ty>)
        }
        Some(owner) => {
            let resource = owner.resource;
            match &owner.action {
                None => {
                    quote_spanned!(resource.span()=> ::portcullis::__private::OwnedBy<#resource>)
                }
                Some(action) => {
                    let action = match action {
                        Action::Builtin(variant, span) => {
                            let variant = Ident::new(variant, *span);
                            quote_spanned!(*span=> ::portcullis::__private::Action::#variant)
                        }
                        Action::Custom(path) => quote!(#path),
                    };
                    let span = action.span();
                    decide = Some(quote_spanned! {span=>
                        #(#cfgs)*
                        impl ::portcullis::__private::Decide<#resource> for #requirements_ty {
                            fn decide(
                                resource: &#resource,
                                principal: &::portcullis::__private::Principal,
                                _: &::portcullis::__private::Method,
                            ) -> ::portcullis::__private::Access {
                                ::portcullis::__private::access_for(resource, principal, &#action)
                            }
                        }
                    });
                    quote_spanned!(resource.span()=> ::portcullis::__private::OwnedBy<#resource, #requirements_ty>)
                }
            }
        }
    };
    let id_param = match requirements.owner.as_ref().and_then(|owner| owner.id_param) {
        Some(name) => quote!(::core::option::Option::Some(#name)),
        None => quote!(::core::option::Option::None),
    };
    let authentication = authentication(requirements.authentication.as_ref());
    let declared_checks = requirements.declared_checks.iter().map(|&(lit, vocabulary, noun)| {
        let message = format!(
            "the {} \"{}\" is not declared in `{}`",
            noun.word(),
            lit.value(),
            quote!(#vocabulary).to_string().replace(' ', "")
        );
        quote_spanned! {lit.span()=>
            #(#cfgs)*
            const _: () = ::core::assert!(#vocabulary::is_declared(#lit), #message);
        }
    });

    // Reported under the state type the user named, with the fix in the trait's diagnostic.
    let state_check = requirements.state.map(|state| {
        quote_spanned! {state.span()=>
            #(#cfgs)*
            const _: () = {
                fn provides_verifier<S: ::portcullis::__private::ProvidesVerifier>() {}
                let _ = provides_verifier::<#state>;
            };
        }
    });

    // Each policy's state, checked under the policy's path when the router state is named.
    let cfgs_ref = &cfgs;
    let policy_state_checks = requirements.state.into_iter().flat_map(|state| {
        requirements.policies.iter().map(move |path| {
            let cfgs = cfgs_ref;
            quote_spanned! {path.span()=>
                #(#cfgs)*
                const _: () = {
                    fn provides_policy_state<
                        S: ::portcullis::__private::ProvidesPolicyState<P>,
                        P: ::portcullis::__private::AccessPolicy,
                    >() {
                    }
                    let _ = provides_policy_state::<#state, #path>;
                };
            }
        })
    });

    // The state and the witness that it provides the verifier, as generic parameters of the
    // handler bound by `ProvidesVerifier<Via>`: a state without a verifier fails as a bound of
    // the handler itself, reported with the fix under the trait's public name, not under axum's
    // `Handler` impls (and the handler serves any state with a verifier, `state = …` being a
    // check only). Under `#[axum::debug_handler]`, which cannot check a generic handler, the
    // state it checks against is written out.
    let mut guarded = handler.clone();
    let guard_state = match debug_handler_state(handler) {
        Some(state) => quote!((#state, ::portcullis::__private::Witness)),
        // A handler with generic parameters of its own keeps them the only ones, so that a
        // turbofish (`get(handler::<u8>)`) still names them all: the bound goes through
        // `impl GuardState`, whose report adds a line about that trait.
        None if !handler.sig.generics.params.is_empty() => {
            quote!(impl ::portcullis::__private::GuardState)
        }
        None => {
            let generics = &mut guarded.sig.generics;
            generics.params.push(syn::parse_quote!(
                __PortcullisState: ::portcullis::__private::ProvidesVerifier<__PortcullisVia>
            ));
            generics.params.push(syn::parse_quote!(__PortcullisVia));
            quote!((__PortcullisState, __PortcullisVia))
        }
    };
    // The body runs as it was written (an `async` block: `return` and `?` keep their meaning),
    // and its response goes through the guard, which adds a fresh DPoP nonce when one is due.
    let checked = with_extractor_checks(&handler.sig, &handler.body);
    guarded.body = quote!({
        ::portcullis::__private::Guard::respond(__portcullis_guard, async move #checked.await)
    });
    guarded.sig.output = match &handler.sig.output {
        syn::ReturnType::Default => syn::parse_quote!(-> ::portcullis::__private::Guarded<()>),
        syn::ReturnType::Type(arrow, ty) => {
            syn::parse_quote_spanned!(ty.span()=> #arrow ::portcullis::__private::Guarded<#ty>)
        }
    };
    guarded.sig.inputs.insert(
        0,
        syn::parse_quote!(
            __portcullis_guard: ::portcullis::__private::Guard<#requirements_ty, #guard_state>
        ),
    );

    quote! {
        #(#declared_checks)*
        #state_check
        #(#policy_state_checks)*

        #(#cfgs)*
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #vis struct #requirements_ty;

        #(#cfgs)*
        impl ::portcullis::__private::Requirements for #requirements_ty {
            const REQUIRED: &'static ::portcullis::__private::HandlerRequirements =
                &::portcullis::__private::HandlerRequirements {
                    scopes: &[#(#rules),*],
                    roles: &[#(#roles),*],
                    claims: &[#(#claims),*],
                    optional: #optional,
                    id_param: #id_param,
                    authentication: #authentication,
                };
            type Policies = #policies;
            type Ownership = #ownership;
        }

        #decide

        #guarded
    }
}

/// The `authentication` field of the handler's requirements: a const expression.
fn authentication(authentication: Option<&Authentication<'_>>) -> TokenStream {
    let Some(Authentication { acr, max_age }) = authentication else {
        return quote!(::core::option::Option::None);
    };
    let mut required = quote!(::portcullis::__private::AuthenticationRequirement::new());
    if !acr.is_empty() {
        required = quote!(#required.acr(&[#(#acr),*]));
    }
    if let Some(seconds) = max_age {
        required = quote!(#required.max_age(::core::time::Duration::from_secs(#seconds)));
    }
    quote!(::core::option::Option::Some(#required))
}

/// The engine action of an `#[authorize]` handler, and its registration, which lets an engine
/// that knows its actions refuse an unknown one when it is built.
fn engine_action(
    requirements_ty: &Ident,
    handler: &str,
    action: &LitStr,
    cfgs: &[&syn::Attribute],
) -> TokenStream {
    quote_spanned! {action.span()=>
        #(#cfgs)*
        impl ::portcullis::__private::EngineAction for #requirements_ty {
            const ACTION: &'static str = #action;
        }

        #(#cfgs)*
        ::portcullis::__private::inventory::submit! {
            ::portcullis::__private::RegisteredAction {
                action: #action,
                handler: ::core::concat!(::core::module_path!(), "::", #handler),
            }
        }
    }
}

/// The body with, first, one check per parameter type, spanned to the type: the runtime's
/// deprecated `check` of axum's `Json`, `Query`, `Path` and `Form` warns under the parameter
/// (`extract/check.rs`), every other type's does nothing. A type the body cannot name (`impl
/// Trait`, `_`) is left out; so is a body that is not a block.
fn with_extractor_checks(sig: &syn::Signature, body: &TokenStream) -> TokenStream {
    let mut tokens = body.clone().into_iter();
    let (Some(proc_macro2::TokenTree::Group(block)), None) = (tokens.next(), tokens.next()) else {
        return body.clone();
    };
    if block.delimiter() != proc_macro2::Delimiter::Brace {
        return body.clone();
    }
    let checks = sig.inputs.iter().filter_map(|input| match input {
        syn::FnArg::Typed(typed) if nameable(typed.ty.to_token_stream()) => {
            let ty = &typed.ty;
            Some(quote_spanned! {ty.span()=>
                ::portcullis::__private::ExtractorCheck::<#ty>::new().check();
            })
        }
        _ => None,
    });
    let inner = block.stream();
    let mut checked = proc_macro2::Group::new(
        proc_macro2::Delimiter::Brace,
        quote! {
            {
                #[allow(unused_imports)]
                use ::portcullis::__private::ExtractorFallback as _;
                #(#checks)*
            }
            #inner
        },
    );
    checked.set_span(block.span());
    checked.into_token_stream()
}

/// Whether a type can be written in the body: no `impl Trait`, no `_`.
fn nameable(ty: TokenStream) -> bool {
    ty.into_iter().all(|token| match token {
        proc_macro2::TokenTree::Ident(ident) => ident != "impl" && ident != "_",
        proc_macro2::TokenTree::Group(group) => nameable(group.stream()),
        _ => true,
    })
}

fn rule(rule: &Rule) -> TokenStream {
    match rule {
        Rule::All(scopes) => {
            let scopes = scopes.iter().map(scope);
            quote!(::portcullis::__private::ScopeRule::All(&[#(#scopes),*]))
        }
        Rule::Any { scopes, .. } => {
            let scopes = scopes.iter().map(scope);
            quote!(::portcullis::__private::ScopeRule::Any(&[#(#scopes),*]))
        }
    }
}

fn claim(claim: &ClaimRef) -> TokenStream {
    let path = &claim.path;
    match &claim.check {
        ClaimKind::IsTrue => quote!(::portcullis::__private::ClaimCheck::IsTrue(#path)),
        ClaimKind::Equals(value) => {
            let value = match value {
                Some(syn::Lit::Bool(value)) => {
                    quote!(::portcullis::__private::ClaimValue::Bool(#value))
                }
                Some(syn::Lit::Int(value)) => {
                    quote!(::portcullis::__private::ClaimValue::Int(#value))
                }
                value => quote!(::portcullis::__private::ClaimValue::Str(#value)),
            };
            quote!(::portcullis::__private::ClaimCheck::Equals(#path, #value))
        }
        ClaimKind::Includes(values) => {
            quote!(::portcullis::__private::ClaimCheck::Includes(#path, &[#(#values),*]))
        }
    }
}

/// A `#[policy]` function, kept as written, and beside it a type of the same name (a braced
/// struct lives in the type namespace only, the function in the value namespace) implementing
/// `AccessPolicy` by calling it, so that `#[requires_policy(name)]` names either kind of policy
/// by its path. `valid` has checked the shape; the types are checked at the call.
pub(crate) fn policy_fn(policy: &PolicyFn) -> TokenStream {
    let func = &policy.func;
    let name = &func.sig.ident;
    let vis = &func.vis;
    let cfgs: Vec<_> = func.attrs.iter().filter(|attr| attr.path().is_ident("cfg")).collect();
    let state_ty = match func.sig.inputs.iter().nth(2) {
        Some(syn::FnArg::Typed(arg)) => match &*arg.ty {
            syn::Type::Reference(reference) => reference.elem.to_token_stream(),
            other => other.to_token_stream(),
        },
        _ => quote!(::portcullis::__private::NoState),
    };
    // Each argument spanned to its parameter's type, where a type that does not fit is reported;
    // named so that they cannot shadow the function (`#[policy] fn head(..)`).
    let args = func
        .sig
        .inputs
        .iter()
        .zip(["__portcullis_principal", "__portcullis_head", "__portcullis_state"])
        .map(|(input, arg)| {
            let span = match input {
                syn::FnArg::Typed(typed) => typed.ty.span(),
                syn::FnArg::Receiver(receiver) => receiver.span(),
            };
            Ident::new(arg, span)
        });
    let call = quote_spanned!(func.sig.ident.span()=> #name(#(#args),*));
    let doc = format!("The policy of the function `{name}`, for `#[requires_policy({name})]`.");
    quote! {
        #func

        #(#cfgs)*
        #[doc = #doc]
        #[allow(non_camel_case_types)]
        #vis struct #name {}

        #(#cfgs)*
        impl ::portcullis::__private::AccessPolicy for #name {
            type State = #state_ty;

            #[allow(unused_variables)]
            async fn check(
                __portcullis_principal: &::portcullis::__private::Principal,
                __portcullis_head: &::portcullis::__private::Parts,
                __portcullis_state: &Self::State,
            ) -> ::core::result::Result<(), ::portcullis::__private::PolicyRefusal> {
                ::portcullis::__private::IntoPolicyFuture::into_policy_future(#call).await
            }
        }
    }
}

fn scope(scope: &ScopeRef) -> TokenStream {
    match scope {
        ScopeRef::Literal(lit) => quote!(#lit),
        ScopeRef::Declared(path) => quote_spanned!(path.span()=> #path.as_str()),
    }
}

/// The enum of a `scopes!` vocabulary, with one variant per entry in `scopes`.
pub(crate) fn vocabulary(vocabulary: &Vocabulary, scopes: &[&Declared]) -> TokenStream {
    let Vocabulary { noun, attrs, vis, name, .. } = vocabulary;
    let word = noun.word();
    let variants = scopes.iter().map(|Declared { attrs, variant, scope }| {
        let has_doc = attrs.iter().any(|attr| attr.path().is_ident("doc"));
        let doc = (!has_doc).then(|| {
            let text = format!("The `{}` {word}.", scope.value());
            quote!(#[doc = #text])
        });
        quote!(#(#attrs)* #doc #variant)
    });
    let names: Vec<&Ident> = scopes.iter().map(|d| &d.variant).collect();
    let literals: Vec<&LitStr> = scopes.iter().map(|d| &d.scope).collect();
    let vis = vis.to_token_stream();
    let all_doc = format!("Every declared {word}, in declaration order.");
    let as_str_doc = match noun {
        Noun::Scope => "The scope as tokens carry it.",
        Noun::Role => "The role as tokens carry it.",
    };
    let declared_doc = format!(
        "`true` when `{word}` is declared here; usable in constants, which is how `#[{}(\"…\", declared_in = …)]` refuses undeclared {word}s at compile time.",
        noun.attribute()
    );
    let from_doc = format!("The declared {word} spelled `{word}`.");
    let from = match noun {
        Noun::Scope => format_ident!("from_scope"),
        Noun::Role => format_ident!("from_role"),
    };
    let param = format_ident!("{}", word);
    quote! {
        #(#attrs)*
        #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy,
                 ::core::cmp::PartialEq, ::core::cmp::Eq, ::core::hash::Hash)]
        #vis enum #name {
            #(#variants,)*
        }

        impl #name {
            #[doc = #all_doc]
            pub const ALL: &'static [Self] = &[#(Self::#names),*];

            #[doc = #as_str_doc]
            pub const fn as_str(self) -> &'static str {
                match self {
                    #(Self::#names => #literals,)*
                }
            }

            #[doc = #declared_doc]
            pub const fn is_declared(#param: &str) -> bool {
                ::portcullis::__private::is_declared(#param, &[#(#literals),*])
            }

            #[doc = #from_doc]
            pub fn #from(#param: &str) -> ::core::option::Option<Self> {
                Self::ALL.iter().copied().find(|declared| declared.as_str() == #param)
            }
        }

        impl ::core::fmt::Display for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl ::core::convert::AsRef<str> for #name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }
    }
}

/// The state `#[axum::debug_handler]` checks the handler against, if the handler has that
/// attribute: its `state = …`, else the `T` of a `State<T>` parameter, as axum infers it, else
/// axum's default `()`.
fn debug_handler_state(handler: &HandlerFn) -> Option<syn::Type> {
    let attr = handler.attrs.iter().find(|attr| {
        let segments: Vec<String> =
            attr.path().segments.iter().map(|segment| segment.ident.to_string()).collect();
        matches!(
            segments.iter().map(String::as_str).collect::<Vec<_>>().as_slice(),
            ["debug_handler"] | ["axum", "debug_handler"] | ["axum_macros", "debug_handler"]
        )
    })?;
    let mut state = state_parameter(&handler.sig).unwrap_or_else(|| syn::parse_quote!(()));
    if let syn::Meta::List(list) = &attr.meta {
        // Parsed leniently: axum reports its own argument errors.
        let _ = list.parse_nested_meta(|meta| {
            if meta.path.is_ident("state") {
                state = meta.value()?.parse()?;
            } else if meta.input.peek(syn::Token![=]) {
                meta.value()?.parse::<syn::Expr>()?;
            }
            Ok(())
        });
    }
    Some(state)
}

/// The `T` of the handler's `State<T>` parameter, if it has one.
fn state_parameter(sig: &syn::Signature) -> Option<syn::Type> {
    sig.inputs.iter().find_map(|input| {
        let syn::FnArg::Typed(typed) = input else { return None };
        let syn::Type::Path(path) = &*typed.ty else { return None };
        let last = path.path.segments.last()?;
        if last.ident != "State" {
            return None;
        }
        let syn::PathArguments::AngleBracketed(arguments) = &last.arguments else { return None };
        match arguments.args.first()? {
            syn::GenericArgument::Type(state) => Some(state.clone()),
            _ => None,
        }
    })
}
