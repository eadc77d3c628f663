//! Code generation from input `valid` accepted. The generated code names the runtime only
//! through `::portcullis::__private` and absolute `::core` paths, so user items named `Result`,
//! `Option` or `axum` do not interfere.

use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, LitStr};

use crate::ast::{Declared, GuardSpec, HandlerFn, Rule, ScopeRef, Vocabulary};

/// The handler with the guard as its first parameter, plus the hidden policy type.
pub(crate) fn guarded_handler(handler: &HandlerFn, spec: &GuardSpec<'_>) -> TokenStream {
    let name = &handler.sig.ident;
    let policy = format_ident!("__PortcullisPolicy_{}", name, span = name.span());
    // The policy type follows the handler in and out of `#[cfg]`, and is as visible as the
    // handler so that a public handler has no private type in its signature.
    let cfgs: Vec<_> = handler.attrs.iter().filter(|attr| attr.path().is_ident("cfg")).collect();
    let vis = &handler.vis;

    let rules = spec.rules.iter().map(|r| rule(r));
    let ownership = match &spec.owner {
        None => quote!(::portcullis::__private::NoOwnership),
        Some(owner) => {
            let resource = owner.resource;
            quote_spanned!(resource.span()=> ::portcullis::__private::OwnedBy<#resource>)
        }
    };
    let id_param = match spec.owner.as_ref().and_then(|owner| owner.id_param) {
        Some(name) => quote!(::core::option::Option::Some(#name)),
        None => quote!(::core::option::Option::None),
    };
    let declared_checks = spec.declared_checks.iter().map(|&(lit, vocabulary)| {
        let message = format!(
            "the scope \"{}\" is not declared in `{}`",
            lit.value(),
            quote!(#vocabulary).to_string().replace(' ', "")
        );
        quote_spanned! {lit.span()=>
            #(#cfgs)*
            const _: () = ::core::assert!(#vocabulary::is_declared(#lit), #message);
        }
    });

    // Reported under the state type the user named, with the fix in the trait's diagnostic.
    let state_check = spec.state.map(|state| {
        quote_spanned! {state.span()=>
            #(#cfgs)*
            const _: () = {
                fn provides_verifier<S: ::portcullis::__private::ProvidesVerifier>() {}
                let _ = provides_verifier::<#state>;
            };
        }
    });

    // The state and the witness that it provides the verifier. The handler takes
    // `impl GuardState`, so that a state without a verifier fails as a bound of the handler
    // itself, reported with the fix, not under axum's `Handler` impls (and so that the handler
    // serves any state with a verifier, `state = …` being a check only). Under
    // `#[axum::debug_handler]`, which cannot check a generic handler, the state it checks
    // against is written out.
    let guard_state = match debug_handler_state(handler) {
        Some(state) => quote!((#state, ::portcullis::__private::Witness)),
        None => quote!(impl ::portcullis::__private::GuardState),
    };
    let mut guarded = handler.clone();
    guarded
        .sig
        .inputs
        .insert(0, syn::parse_quote!(_: ::portcullis::__private::Guard<#policy, #guard_state>));

    quote! {
        #(#declared_checks)*
        #state_check

        #(#cfgs)*
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #vis struct #policy;

        #(#cfgs)*
        impl ::portcullis::__private::Policy for #policy {
            const SCOPES: &'static [::portcullis::__private::ScopeRule] = &[#(#rules),*];
            type Ownership = #ownership;
            const ID_PARAM: ::core::option::Option<&'static str> = #id_param;
        }

        #guarded
    }
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

fn scope(scope: &ScopeRef) -> TokenStream {
    match scope {
        ScopeRef::Literal(lit) => quote!(#lit),
        ScopeRef::Declared(path) => quote_spanned!(path.span()=> #path.as_str()),
    }
}

/// The enum of a `scopes!` vocabulary, with one variant per entry in `scopes`.
pub(crate) fn vocabulary(vocabulary: &Vocabulary, scopes: &[&Declared]) -> TokenStream {
    let Vocabulary { attrs, vis, name, .. } = vocabulary;
    let variants = scopes.iter().map(|Declared { attrs, variant, scope }| {
        let has_doc = attrs.iter().any(|attr| attr.path().is_ident("doc"));
        let doc = (!has_doc).then(|| {
            let text = format!("The `{}` scope.", scope.value());
            quote!(#[doc = #text])
        });
        quote!(#(#attrs)* #doc #variant)
    });
    let names: Vec<&Ident> = scopes.iter().map(|d| &d.variant).collect();
    let literals: Vec<&LitStr> = scopes.iter().map(|d| &d.scope).collect();
    let vis = vis.to_token_stream();
    quote! {
        #(#attrs)*
        #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy,
                 ::core::cmp::PartialEq, ::core::cmp::Eq, ::core::hash::Hash)]
        #vis enum #name {
            #(#variants,)*
        }

        impl #name {
            /// Every declared scope, in declaration order.
            pub const ALL: &'static [Self] = &[#(Self::#names),*];

            /// The scope as tokens carry it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    #(Self::#names => #literals,)*
                }
            }

            /// `true` when `scope` is declared here; usable in constants, which is how
            /// `#[requires_scope("…", declared_in = …)]` refuses undeclared scopes at compile time.
            pub const fn is_declared(scope: &str) -> bool {
                ::portcullis::__private::is_declared(scope, &[#(#literals),*])
            }

            /// The declared scope spelled `scope`.
            pub fn from_scope(scope: &str) -> ::core::option::Option<Self> {
                Self::ALL.iter().copied().find(|declared| declared.as_str() == scope)
            }
        }

        impl ::core::fmt::Display for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.as_str())
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
