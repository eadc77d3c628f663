//! Checks that need no type information: scope syntax and duplicates.

use proc_macro2::Span;
use syn::LitStr;

/// Why `scope` is not an RFC 6749 `scope-token` (`1*( %x21 / %x23-5B / %x5D-7E )`), if it is not.
pub(crate) fn scope_token_problem(scope: &str) -> Option<String> {
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

/// Checks one scope literal.
pub(crate) fn scope_literal(lit: &LitStr) -> syn::Result<()> {
    match scope_token_problem(&lit.value()) {
        Some(problem) => Err(syn::Error::new(lit.span(), problem)),
        None => Ok(()),
    }
}

/// Collects errors so that one build reports all of them.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn add(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    pub(crate) fn check<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|error| self.push(error)).ok()
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::scope_token_problem;

    #[test]
    fn scope_tokens() {
        assert_eq!(scope_token_problem("docs:write"), None);
        assert_eq!(scope_token_problem("!#[]~"), None);
        for bad in ["", "a b", "a\"b", "a\\b", "é", "a\tb"] {
            assert!(scope_token_problem(bad).is_some(), "{bad:?}");
        }
    }
}
