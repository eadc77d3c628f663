//! Code generation. The generated code names the runtime only through `::portcullis::__private`
//! and absolute `::core` paths, so user items named `Result`, `Option` or `axum` do not interfere.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::attr::{Rule, ScopeRef};
use crate::handler::{GuardSpec, HandlerFn};

/// The handler with the guard as its first parameter, plus the hidden policy type.
pub(crate) fn guarded_handler(handler: &HandlerFn, spec: &GuardSpec) -> TokenStream {
    let name = &handler.sig.ident;
    let policy = format_ident!("__PortcullisPolicy_{}", name, span = name.span());
    // The policy type follows the handler in and out of `#[cfg]`, and is as visible as the
    // handler so that a public handler has no private type in its signature.
    let cfgs: Vec<_> = handler.attrs.iter().filter(|attr| attr.path().is_ident("cfg")).collect();
    let vis = &handler.vis;

    let rules = spec.rules.iter().map(rule);
    let ownership = match &spec.owner {
        None => quote!(::portcullis::__private::NoOwnership),
        Some(owner) => {
            let resource = &owner.resource;
            quote_spanned!(resource.span()=> ::portcullis::__private::OwnedBy<#resource>)
        }
    };
    let id_param = match spec.owner.as_ref().and_then(|owner| owner.id_param.as_ref()) {
        Some(name) => quote!(::core::option::Option::Some(#name)),
        None => quote!(::core::option::Option::None),
    };
    let declared_checks = spec.declared_checks.iter().map(|(lit, vocabulary)| {
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
    let state_check = spec.state.as_ref().map(|state| {
        quote_spanned! {state.span()=>
            #(#cfgs)*
            const _: () = {
                fn provides_verifier<S: ::portcullis::__private::ProvidesVerifier>() {}
                let _ = provides_verifier::<#state>;
            };
        }
    });

    let mut guarded = handler.clone();
    guarded.sig.inputs.insert(0, syn::parse_quote!(_: ::portcullis::__private::Guard<#policy>));

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
