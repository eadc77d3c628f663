//! Every check of what was written: scope grammar, empty lists, duplicates within and across
//! the stacked attributes, the handler's signature, the `scopes!` vocabulary. Each check
//! reports to one collector and carries on, so that one build shows every mistake.

use std::collections::{HashMap, HashSet};

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Ident, LitStr, Signature};

use crate::ast::{
    Action, ActionName, AuthArgs, Authentication, AuthenticationArgs, ClaimKind, GuardAttr,
    GuardKind, Handler, Noun, OwnerArgs, Ownership, PolicyArgs, PolicyFn, PolicyRef, Requirements,
    Rule, ScopeArgs, ScopeRef, StateArg, Vocabulary,
};
use crate::errors::Errors;

/// What the guards of `handler` require, or every mistake in them.
pub(crate) fn handler(handler: &Handler) -> syn::Result<Requirements<'_>> {
    let mut errors = Errors::default();
    let guards: Vec<&GuardAttr> =
        handler.guards.iter().filter_map(|guard| errors.check(guard)).collect();
    signature(&handler.func.sig, handler.kind, &mut errors);
    let mut requirements = Requirements::default();
    let mut seen_scopes = HashSet::new();
    let mut seen_roles = HashSet::new();
    let mut seen_policies = HashSet::new();
    // Where `optional` was written, and the first guard that requires more than credentials.
    let mut optional = None;
    let mut requirement = None;
    for guard in &guards {
        match guard {
            GuardAttr::Authenticated(args) => {
                if let Some(span) = authenticated(args, &mut requirements, &mut errors) {
                    optional.get_or_insert(span);
                }
            }
            GuardAttr::RequiresScope(args) => {
                requirement.get_or_insert(GuardKind::RequiresScope);
                requires_names(args, Noun::Scope, &mut requirements, &mut seen_scopes, &mut errors);
            }
            GuardAttr::RequiresRole(args) => {
                requirement.get_or_insert(GuardKind::RequiresRole);
                requires_names(args, Noun::Role, &mut requirements, &mut seen_roles, &mut errors);
            }
            GuardAttr::RequiresPolicy(args) => {
                requirement.get_or_insert(GuardKind::RequiresPolicy);
                requires_policy(args, &mut requirements, &mut seen_policies, &mut errors);
            }
            GuardAttr::OwnerOnly(owner) => {
                requirement.get_or_insert(GuardKind::OwnerOnly);
                owner_only(owner, &mut requirements, &mut errors);
            }
            GuardAttr::RequiresAuthentication(args) => {
                requirement.get_or_insert(GuardKind::RequiresAuthentication);
                requires_authentication(args, &mut requirements, &mut errors);
            }
            GuardAttr::Authorize(args) => {
                requirement.get_or_insert(GuardKind::Authorize);
                authorize(args, &mut requirements, &mut errors);
            }
        }
    }
    if let (Some(span), Some(kind)) = (optional, requirement) {
        errors.add(
            span,
            format!(
                "`optional` credentials cannot be combined with `#[{}]`: a handler that requires something of the caller requires a caller",
                kind.name()
            ),
        );
    }
    requirements.optional = optional.is_some();
    errors.finish(requirements)
}

/// One `#[authenticated]`; the span of its `optional`, if any.
fn authenticated<'a>(
    args: &'a AuthArgs,
    requirements: &mut Requirements<'a>,
    errors: &mut Errors,
) -> Option<Span> {
    let AuthArgs { optional, state } = args;
    let state = once(state, |state| state.keyword, "state", errors);
    set_state(state, requirements, errors);
    once(optional, |span| *span, "optional", errors).copied()
}

/// One `#[requires_policy]`: at least one policy, none twice, claim checks well formed.
fn requires_policy<'a>(
    args: &'a PolicyArgs,
    requirements: &mut Requirements<'a>,
    seen: &mut HashSet<String>,
    errors: &mut Errors,
) {
    let PolicyArgs { policies, state, span } = args;
    let state = once(state, |state| state.keyword, "state", errors);
    set_state(state, requirements, errors);
    if policies.is_empty() {
        errors.add(
            *span,
            "`#[requires_policy]` needs at least one policy, as in `#[requires_policy(email_verified)]` or `#[requires_policy(claim_true(\"email_verified\"))]`",
        );
    }
    for policy in policies {
        if !seen.insert(policy.key()) {
            errors.add(policy.span(), "duplicated policy: it is already required");
        }
        match policy {
            PolicyRef::Type(path) => requirements.policies.push(path),
            PolicyRef::Claim(claim) => {
                claim_path(&claim.path, errors);
                match &claim.check {
                    ClaimKind::IsTrue => {}
                    ClaimKind::Equals(None) => errors.add(
                        claim.keyword.span(),
                        "`claim_equals(..)` needs a value, as in `claim_equals(\"tenant\", \"acme\")`",
                    ),
                    ClaimKind::Equals(Some(value)) => match value {
                        syn::Lit::Str(_) | syn::Lit::Bool(_) => {}
                        syn::Lit::Int(int) if int.base10_parse::<i64>().is_ok() => {}
                        other => errors.add(
                            other.span(),
                            "`claim_equals(..)` compares with a string, a boolean or an integer (i64)",
                        ),
                    },
                    ClaimKind::Includes(values) if values.is_empty() => errors.add(
                        claim.keyword.span(),
                        "`claim_includes(..)` needs at least one value, as in `claim_includes(\"groups\", \"staff\")`",
                    ),
                    ClaimKind::Includes(_) => {}
                }
                requirements.claims.push(claim);
            }
        }
    }
}

/// A dotted claim path: not empty, no empty segment.
fn claim_path(path: &LitStr, errors: &mut Errors) {
    let value = path.value();
    if value.is_empty() || value.split('.').any(str::is_empty) {
        errors.add(
            path.span(),
            format!(
                "`{value}` is not a claim path: name a claim, or a dotted path such as \"realm_access.roles\", without empty segments"
            ),
        );
    }
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
fn set_state<'a>(
    state: Option<&'a StateArg>,
    requirements: &mut Requirements<'a>,
    errors: &mut Errors,
) {
    let Some(state) = state else { return };
    if requirements.state.is_some() {
        errors.add(state.keyword, "duplicated argument `state`: name the router state once");
    } else {
        requirements.state = Some(&state.ty);
    }
}

/// One `#[requires_scope]` or `#[requires_role]`; `seen` holds the names of the attributes of
/// the same kind before it, so that a name required twice is reported wherever the second is.
fn requires_names<'a>(
    args: &'a ScopeArgs,
    noun: Noun,
    requirements: &mut Requirements<'a>,
    seen: &mut HashSet<String>,
    errors: &mut Errors,
) {
    let ScopeArgs { rules, declared_in, state, span } = args;
    let state = once(state, |state| state.keyword, "state", errors);
    set_state(state, requirements, errors);
    let declared_in = once(declared_in, |declared| declared.keyword, "declared_in", errors);
    let word = noun.word();
    if rules.is_empty() {
        let example = match noun {
            Noun::Scope => "\"docs:read\"",
            Noun::Role => "\"documents-admin\"",
        };
        errors.add(
            *span,
            format!(
                "`#[{}]` needs at least one {word}, as in `#[{}({example})]`",
                noun.attribute(),
                noun.attribute()
            ),
        );
    }
    for rule in rules {
        if let Rule::Any { scopes, keyword } = rule
            && scopes.is_empty()
        {
            errors.add(*keyword, format!("`any()` needs at least one {word}"));
        }
        for scope in rule.scopes() {
            if let ScopeRef::Literal(lit) = scope {
                name_literal(lit, noun, errors);
                if let Some(declared) = declared_in {
                    requirements.declared_checks.push((lit, &declared.vocabulary, noun));
                }
            }
            if !seen.insert(scope.key()) {
                errors.add(scope.span(), format!("duplicated {word} `{}`", scope.describe()));
            }
        }
        match noun {
            Noun::Scope => requirements.rules.push(rule),
            Noun::Role => requirements.roles.push(rule),
        }
    }
}

/// One `#[owner_only]`; a handler checks one resource, so a second is reported.
fn owner_only<'a>(owner: &'a OwnerArgs, requirements: &mut Requirements<'a>, errors: &mut Errors) {
    let OwnerArgs { resource, id, action, state, span } = owner;
    let state = once(state, |state| state.keyword, "state", errors);
    set_state(state, requirements, errors);
    let id = once(id, |id| id.keyword, "id", errors);
    let action = once(action, |action| action.keyword, "action", errors).and_then(|arg| {
        let ActionName::Path(path) = &arg.action else { return None };
        if path.leading_colon.is_some() || path.segments.len() > 1 {
            return Some(Action::Custom(path));
        }
        let builtin = match path.segments.first().map(|s| s.ident.to_string()).as_deref() {
            Some("read") => "Read",
            Some("write") => "Write",
            Some("delete") => "Delete",
            _ => {
                errors.add(
                    path.span(),
                    format!(
                        "unknown action `{}`: expected `read`, `write`, `delete`, or a variant of your own enum such as `DocAction::Share`",
                        quote::quote!(#path)
                    ),
                );
                return None;
            }
        };
        Some(Action::Builtin(builtin, path.span()))
    });
    if let Some(id) = id
        && id.name.value().is_empty()
    {
        errors.add(id.name.span(), "the path parameter name cannot be empty");
    }
    if requirements.owner.is_some() {
        errors.add(*span, "duplicated `#[owner_only]`: a handler checks one resource");
    } else {
        let id_param = id.map(|id| &id.name);
        requirements.owner = Some(Ownership { resource, id_param, action, engine_action: None });
    }
}

/// One `#[authorize]`: an action's name, given once and not empty; a handler checks one
/// resource, so a second `#[authorize]` or an `#[owner_only]` beside it is reported.
fn authorize<'a>(args: &'a OwnerArgs, requirements: &mut Requirements<'a>, errors: &mut Errors) {
    let OwnerArgs { resource, id, action, state, span } = args;
    let state = once(state, |state| state.keyword, "state", errors);
    set_state(state, requirements, errors);
    let id = once(id, |id| id.keyword, "id", errors);
    if let Some(id) = id
        && id.name.value().is_empty()
    {
        errors.add(id.name.span(), "the path parameter name cannot be empty");
    }
    let action = once(action, |action| action.keyword, "action", errors);
    let engine_action = match action.map(|arg| &arg.action) {
        Some(ActionName::Engine(name)) if name.value().trim().is_empty() => {
            errors.add(name.span(), "the action name cannot be empty");
            None
        }
        Some(ActionName::Engine(name)) => Some(name),
        _ => {
            errors.add(
                *span,
                "`#[authorize]` needs the action the engine decides on, as in `#[authorize(Document, action = \"read\")]`",
            );
            None
        }
    };
    if requirements.owner.is_some() {
        errors.add(
            *span,
            "a handler checks one resource: `#[authorize]` cannot be combined with another `#[authorize]` or `#[owner_only]`",
        );
    } else {
        let id_param = id.map(|id| &id.name);
        requirements.owner = Some(Ownership { resource, id_param, action: None, engine_action });
    }
}

/// One `#[requires_authentication]`: an acr set or a maximum age (or both), each once, acr
/// values that a challenge can carry, a duration that parses; a handler requires one sign-in.
fn requires_authentication<'a>(
    args: &'a AuthenticationArgs,
    requirements: &mut Requirements<'a>,
    errors: &mut Errors,
) {
    let AuthenticationArgs { acr, max_age, state, span } = args;
    let state = once(state, |state| state.keyword, "state", errors);
    set_state(state, requirements, errors);
    let acr = once(acr, |acr| acr.keyword, "acr", errors);
    let max_age = once(max_age, |max_age| max_age.keyword, "max_age", errors);
    if acr.is_none() && max_age.is_none() {
        errors.add(
            *span,
            "`#[requires_authentication]` needs `acr = \"value\"`, `max_age = \"10m\"`, or both, as in `#[requires_authentication(acr = \"urn:documents:mfa\", max_age = \"10m\")]`",
        );
    }
    let mut values = Vec::new();
    if let Some(acr) = acr {
        if acr.values.is_empty() {
            errors.add(acr.any.unwrap_or(acr.keyword), "`any()` needs at least one acr value");
        }
        let mut seen = HashSet::new();
        for value in &acr.values {
            if let Some(problem) = scope_token_problem(&value.value()) {
                let problem = problem
                    .replace("is not a valid scope", "is not a valid acr value")
                    .replace("a scope cannot be empty", "an acr value cannot be empty")
                    .replace("an RFC 6749 scope-token", "an acr value (sent in `acr_values`)")
                    .replace(
                        "list several scopes as separate arguments",
                        "list several with `any(..)`",
                    );
                errors.add(value.span(), problem);
            }
            if !seen.insert(value.value()) {
                errors.add(value.span(), format!("duplicated acr value `{}`", value.value()));
            }
            values.push(value);
        }
    }
    let seconds = max_age.and_then(|max_age| {
        let seconds = match &max_age.value {
            syn::Lit::Str(text) => crate::duration::seconds(&text.value()),
            syn::Lit::Int(int) if int.suffix().is_empty() => int.base10_parse::<u64>().ok(),
            _ => None,
        };
        if seconds.is_none() {
            errors.add(
                max_age.value.span(),
                "`max_age` is a duration such as \"10m\", \"1h30m\" or \"600s\" (units d, h, m, s, largest first), or a number of seconds",
            );
        }
        seconds
    });
    if requirements.authentication.is_some() {
        errors.add(
            *span,
            "duplicated `#[requires_authentication]`: a handler requires one sign-in; give `acr` and `max_age` in one attribute",
        );
    } else {
        requirements.authentication = Some(Authentication { acr: values, max_age: seconds });
    }
}

/// Every mistake in a `scopes!` vocabulary.
pub(crate) fn vocabulary(vocabulary: &Vocabulary) -> syn::Result<()> {
    let mut errors = Errors::default();
    let noun = vocabulary.noun;
    if vocabulary.entries.is_empty() {
        let example = match noun {
            Noun::Scope => "`DocsRead = \"docs:read\"`",
            Noun::Role => "`DocumentsAdmin = \"documents-admin\"`",
        };
        errors.add(
            vocabulary.name.span(),
            format!("declare at least one {}, as in {example}", noun.word()),
        );
    }
    let mut seen: HashMap<String, &Ident> = HashMap::new();
    for entry in &vocabulary.entries {
        let Some(declared) = errors.check(entry) else { continue };
        name_literal(&declared.scope, noun, &mut errors);
        if let Some(first) = seen.insert(declared.scope.value(), &declared.variant) {
            errors.add(
                declared.scope.span(),
                format!(
                    "duplicated {} \"{}\": `{first}` declares it already",
                    noun.word(),
                    declared.scope.value()
                ),
            );
        }
    }
    errors.finish(())
}

/// A scope, or a role: roles follow the scope-token grammar too, so that a space-delimited role
/// claim can hold them and Development mode can name them in a challenge.
fn name_literal(lit: &LitStr, noun: Noun, errors: &mut Errors) {
    let problem = match noun {
        Noun::Scope => scope_token_problem(&lit.value()),
        Noun::Role => role_problem(&lit.value()),
    };
    if let Some(problem) = problem {
        errors.add(lit.span(), problem);
    }
}

/// Why `role` cannot be required, if it cannot.
fn role_problem(role: &str) -> Option<String> {
    if role.is_empty() {
        return Some("a role cannot be empty".to_owned());
    }
    scope_token_problem(role).map(|problem| {
        problem
            .replace("is not a valid scope", "is not a valid role")
            .replace("an RFC 6749 scope-token", "a role (the RFC 6749 scope-token grammar)")
            .replace("list several scopes", "list several roles")
    })
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

/// What a `#[policy]` function must look like: `fn name(principal: &Principal, head: &Parts)`,
/// optionally `state: &State` third, sync or async, not generic, not a method, with a return
/// type. The types themselves are checked by rustc, at the call the expansion makes.
pub(crate) fn policy_fn(policy: &PolicyFn) -> syn::Result<()> {
    let mut errors = Errors::default();
    let sig = &policy.func.sig;
    if let Some(receiver) = sig.receiver() {
        errors.add(receiver.span(), "a policy is a free function, without `self`");
    }
    if !sig.generics.params.is_empty() {
        errors.add(
            sig.generics.span(),
            "a policy function cannot be generic: name the state type it needs",
        );
    }
    let count = sig.inputs.len();
    if !(2..=3).contains(&count) {
        errors.add(
            if count == 0 { sig.ident.span() } else { sig.inputs.span() },
            format!(
                "a policy takes `(principal: &Principal, head: &Parts)` and optionally `state: &State`, not {count} parameter{}",
                if count == 1 { "" } else { "s" }
            ),
        );
    }
    if let Some(syn::FnArg::Typed(state)) = sig.inputs.iter().nth(2)
        && !matches!(&*state.ty, syn::Type::Reference(reference) if reference.mutability.is_none())
    {
        errors.add(state.ty.span(), "the policy's state is taken by shared reference: `&State`");
    }
    if matches!(sig.output, syn::ReturnType::Default) {
        errors.add(
            sig.paren_token.span.join(),
            "a policy answers: return `bool` or `Result<(), portcullis::authorization::PolicyRefusal>`",
        );
    }
    errors.finish(())
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
