//! `scopes!`: an application's scope vocabulary as an enum, checked at compile time.

use std::collections::HashMap;

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Attribute, Ident, LitStr, Token, Visibility};

use crate::valid::{self, Errors};

struct Vocabulary {
    attrs: Vec<Attribute>,
    vis: Visibility,
    name: Ident,
    scopes: Punctuated<Declared, Token![,]>,
}

struct Declared {
    attrs: Vec<Attribute>,
    variant: Ident,
    scope: LitStr,
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
        let scopes = Punctuated::parse_terminated(&content)?;
        Ok(Self { attrs, vis, name, scopes })
    }
}

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    match syn::parse2::<Vocabulary>(input).and_then(|vocabulary| {
        validate(&vocabulary)?;
        Ok(generate(&vocabulary))
    }) {
        Ok(tokens) => tokens,
        Err(error) => error.to_compile_error(),
    }
}

fn validate(vocabulary: &Vocabulary) -> syn::Result<()> {
    let mut errors = Errors::default();
    if vocabulary.scopes.is_empty() {
        errors.add(
            vocabulary.name.span(),
            "declare at least one scope, as in `DocsRead = \"docs:read\"`",
        );
    }
    let mut seen: HashMap<String, &Ident> = HashMap::new();
    for declared in &vocabulary.scopes {
        errors.check(valid::scope_literal(&declared.scope));
        if let Some(first) = seen.insert(declared.scope.value(), &declared.variant) {
            errors.add(
                declared.scope.span(),
                format!(
                    "duplicated scope \"{}\": `{first}` declares it already",
                    declared.scope.value()
                ),
            );
        }
    }
    errors.finish()
}

fn generate(vocabulary: &Vocabulary) -> TokenStream {
    let Vocabulary { attrs, vis, name, scopes } = vocabulary;
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
