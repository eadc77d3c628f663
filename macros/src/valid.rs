//! Every check of what was written: scope grammar, empty lists, duplicates within and across
//! the stacked attributes, the handler's signature, the `scopes!` vocabulary. Each check
//! reports to one collector and carries on, so that one build shows every mistake.

use std::collections::{HashMap, HashSet};

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Ident, LitStr, Signature};

use crate::ast::{
    GuardAttr, GuardKind, GuardSpec, Handler, OwnerArgs, Ownership, Rule, ScopeArgs, ScopeRef,
    StateArg, Vocabulary,
};
use crate::errors::Errors;

/// What the guards of `handler` require, or every mistake in them.
pub(crate) fn handler(handler: &Handler) -> syn::Result<GuardSpec<'_>> {
    let mut errors = Errors::default();
    let guards: Vec<&GuardAttr> =
        handler.guards.iter().filter_map(|guard| errors.check(guard)).collect();
    signature(&handler.func.sig, handler.kind, &mut errors);
    let mut spec =
        GuardSpec { rules: Vec::new(), declared_checks: Vec::new(), owner: None, state: None };
    let mut seen = HashSet::new();
    for guard in guards {
        match guard {
            GuardAttr::Authenticated(state) => {
                set_state(state.as_ref(), &mut spec, &mut errors);
            }
            GuardAttr::RequiresScope(args) => {
                requires_scope(args, &mut spec, &mut seen, &mut errors);
            }
            GuardAttr::OwnerOnly(owner) => owner_only(owner, &mut spec, &mut errors),
        }
    }
    errors.finish(spec)
}

fn signature(sig: &Signature, kind: GuardKind, errors: &mut Errors) {
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

/// The first of `args`, an argument allowed once per attribute; the others are reported.
fn once<'a, T>(
    args: &'a [T],
    keyword: impl Fn(&T) -> Span,
    name: &str,
    errors: &mut Errors,
) -> Option<&'a T> {
    for duplicate in args.iter().skip(1) {
        errors.add(keyword(duplicate), format!("duplicated argument `{name}`"));
    }
    args.first()
}

/// Records the router state one attribute names; a handler has one state, so naming it in a
/// second attribute is reported there.
fn set_state<'a>(state: Option<&'a StateArg>, spec: &mut GuardSpec<'a>, errors: &mut Errors) {
    let Some(state) = state else { return };
    if spec.state.is_some() {
        errors.add(state.keyword, "duplicated argument `state`: name the router state once");
    } else {
        spec.state = Some(&state.ty);
    }
}

/// One `#[requires_scope]`; `seen` holds the scopes of the attributes before it, so that a
/// scope required twice is reported wherever the second is.
fn requires_scope<'a>(
    args: &'a ScopeArgs,
    spec: &mut GuardSpec<'a>,
    seen: &mut HashSet<String>,
    errors: &mut Errors,
) {
    let ScopeArgs { rules, declared_in, state, span } = args;
    let state = once(state, |state| state.keyword, "state", errors);
    set_state(state, spec, errors);
    let declared_in = once(declared_in, |declared| declared.keyword, "declared_in", errors);
    if rules.is_empty() {
        errors.add(
            *span,
            "`#[requires_scope]` needs at least one scope, as in `#[requires_scope(\"docs:read\")]`",
        );
    }
    for rule in rules {
        if let Rule::Any { scopes, keyword } = rule
            && scopes.is_empty()
        {
            errors.add(*keyword, "`any()` needs at least one scope");
        }
        for scope in rule.scopes() {
            if let ScopeRef::Literal(lit) = scope {
                scope_literal(lit, errors);
                if let Some(declared) = declared_in {
                    spec.declared_checks.push((lit, &declared.vocabulary));
                }
            }
            if !seen.insert(scope.key()) {
                errors.add(scope.span(), format!("duplicated scope `{}`", scope.describe()));
            }
        }
        spec.rules.push(rule);
    }
}

/// One `#[owner_only]`; a handler checks one resource, so a second is reported.
fn owner_only<'a>(owner: &'a OwnerArgs, spec: &mut GuardSpec<'a>, errors: &mut Errors) {
    let OwnerArgs { resource, id, state, span } = owner;
    let state = once(state, |state| state.keyword, "state", errors);
    set_state(state, spec, errors);
    let id = once(id, |id| id.keyword, "id", errors);
    if let Some(id) = id
        && id.name.value().is_empty()
    {
        errors.add(id.name.span(), "the path parameter name cannot be empty");
    }
    if spec.owner.is_some() {
        errors.add(*span, "duplicated `#[owner_only]`: a handler checks one resource");
    } else {
        spec.owner = Some(Ownership { resource, id_param: id.map(|id| &id.name) });
    }
}

/// Every mistake in a `scopes!` vocabulary.
pub(crate) fn vocabulary(vocabulary: &Vocabulary) -> syn::Result<()> {
    let mut errors = Errors::default();
    if vocabulary.entries.is_empty() {
        errors.add(
            vocabulary.name.span(),
            "declare at least one scope, as in `DocsRead = \"docs:read\"`",
        );
    }
    let mut seen: HashMap<String, &Ident> = HashMap::new();
    for entry in &vocabulary.entries {
        let Some(declared) = errors.check(entry) else { continue };
        scope_literal(&declared.scope, &mut errors);
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
    errors.finish(())
}

fn scope_literal(lit: &LitStr, errors: &mut Errors) {
    if let Some(problem) = scope_token_problem(&lit.value()) {
        errors.add(lit.span(), problem);
    }
}

/// Why `scope` is not an RFC 6749 `scope-token` (`1*( %x21 / %x23-5B / %x5D-7E )`), if it is not.
fn scope_token_problem(scope: &str) -> Option<String> {
    if scope.is_empty() {
        return Some("a scope cannot be empty".to_owned());
    }
    let bad = scope.chars().find(|&c| !matches!(c, '\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E'))?;
    let what = match bad {
        ' ' => "a space (list several scopes as separate arguments)".to_owned(),
        '"' => "a double quote".to_owned(),
        '\\' => "a backslash".to_owned(),
        c if !c.is_ascii() => format!("the non-ASCII character {c:?}"),
        c => format!("the control character {c:?}"),
    };
    Some(format!("`{scope}` is not a valid scope: an RFC 6749 scope-token cannot contain {what}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

    use super::scope_token_problem;

    #[test]
    fn scope_tokens() {
        assert_eq!(scope_token_problem("docs:write"), None);
        assert_eq!(scope_token_problem("!#[]~"), None);
        for bad in ["", "a b", "a\"b", "a\\b", "é", "a\tb", "a\u{7f}b"] {
            assert!(scope_token_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn scope_token_problems_name_the_character() {
        let problem = |scope| scope_token_problem(scope).unwrap();
        assert_eq!(problem(""), "a scope cannot be empty");
        assert!(problem("a b").contains("a space"));
        assert!(problem("a\"b").contains("a double quote"));
        assert!(problem("a\\b").contains("a backslash"));
        assert!(problem("dö").contains("the non-ASCII character 'ö'"));
        assert!(problem("a\tb").contains("the control character '\\t'"));
    }
}
