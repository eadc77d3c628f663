//! Scopes: what a token grants and what a handler requires (RFC 6749 §3.3, RFC 6750 §3.1).

use std::fmt;

/// `true` for the characters of an RFC 6749 `scope-token` (`%x21 / %x23-5B / %x5D-7E`).
pub(crate) const fn is_scope_char(byte: u8) -> bool {
    matches!(byte, 0x21 | 0x23..=0x5B | 0x5D..=0x7E)
}

/// `true` when `scope` is a valid RFC 6749 `scope-token`: non-empty, no space, quote, backslash,
/// control or non-ASCII character.
pub(crate) const fn is_scope_token(scope: &str) -> bool {
    let bytes = scope.as_bytes();
    if bytes.is_empty() {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if !is_scope_char(bytes[i]) {
            return false;
        }
        i += 1;
    }
    true
}

/// A set of granted names (scopes, roles), matched exactly and case-sensitively.
///
/// Kept sorted and deduplicated: a token rarely holds more than a few dozen, so a binary search
/// over a vector beats hashing and allocates once.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct NameSet(Vec<String>);

impl NameSet {
    pub(crate) fn new<I, T>(names: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        let mut names: Vec<String> = names.into_iter().map(Into::into).collect();
        names.sort_unstable();
        names.dedup();
        Self(names)
    }

    #[inline]
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.0.binary_search_by(|granted| granted.as_str().cmp(name)).is_ok()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for NameSet {
    // As the list it is: `["docs:read", "docs:write"]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Every name `rules` name, each once, in the order written.
pub(crate) fn named(rules: &'static [ScopeRule]) -> Vec<&'static str> {
    let mut named: Vec<&'static str> = Vec::new();
    for name in rules.iter().flat_map(ScopeRule::scopes) {
        if !named.contains(name) {
            named.push(name);
        }
    }
    named
}

/// The scopes a verified token grants. Matching is exact and case-sensitive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes {
    granted: NameSet,
}

impl Scopes {
    /// Builds a set from any list of scopes.
    pub fn new<I, T>(scopes: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        Self { granted: NameSet::new(scopes) }
    }

    /// `true` when `scope` is granted.
    pub fn contains(&self, scope: &str) -> bool {
        self.granted.contains(scope)
    }

    /// The granted scopes, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.granted.iter()
    }

    /// How many scopes are granted.
    pub fn len(&self) -> usize {
        self.granted.len()
    }

    /// `true` when no scope is granted.
    pub fn is_empty(&self) -> bool {
        self.granted.is_empty()
    }

    /// `true` when these scopes satisfy `requirement`.
    pub fn satisfy(&self, requirement: &ScopeRequirement) -> bool {
        requirement.rules().iter().all(|rule| rule.is_met_by(self))
    }
}

/// One rule of a [`ScopeRequirement`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeRule {
    /// Every listed scope is required.
    All(&'static [&'static str]),
    /// One listed scope suffices.
    Any(&'static [&'static str]),
}

impl ScopeRule {
    /// The scopes the rule names.
    pub fn scopes(&self) -> &'static [&'static str] {
        match self {
            Self::All(scopes) | Self::Any(scopes) => scopes,
        }
    }

    fn is_met_by(&self, scopes: &Scopes) -> bool {
        self.is_met(|scope| scopes.contains(scope))
    }

    /// `true` when the rule is met by a set whose membership is `contains`: scopes, or roles.
    pub(crate) fn is_met(&self, contains: impl Fn(&str) -> bool) -> bool {
        match self {
            Self::All(required) => required.iter().all(|name| contains(name)),
            Self::Any(candidates) => candidates.iter().any(|name| contains(name)),
        }
    }
}

/// What a handler requires: every rule must be met.
///
/// The attribute macros build these at compile time, after checking each scope's syntax.
///
/// ```
/// use portcullis::{Scopes, authorization::{ScopeRequirement, ScopeRule}};
///
/// static STATS: ScopeRequirement =
///     ScopeRequirement::new(&[ScopeRule::Any(&["admin:read", "docs:admin"])]);
/// assert!(Scopes::new(["docs:admin"]).satisfy(&STATS));
/// assert!(!Scopes::new(["docs:read"]).satisfy(&STATS));
/// assert_eq!(STATS.to_string(), "admin:read docs:admin");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopeRequirement {
    rules: &'static [ScopeRule],
}

impl ScopeRequirement {
    /// A requirement made of `rules`, all of which must be met.
    pub const fn new(rules: &'static [ScopeRule]) -> Self {
        Self { rules }
    }

    /// The rules.
    pub fn rules(&self) -> &'static [ScopeRule] {
        self.rules
    }

    /// Every scope the requirement names, each once, in the order written: what the 403
    /// challenge's `scope` attribute lists.
    ///
    /// RFC 6750 has no syntax for alternatives, so for an `any(..)` rule every alternative is
    /// listed: the list is a scope set that suffices (a token granted all of it passes), while
    /// the guard accepts a token with any one alternative.
    pub fn named_scopes(&self) -> Vec<&'static str> {
        named(self.rules)
    }
}

impl fmt::Display for ScopeRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.named_scopes().join(" "))
    }
}

/// `true` when `scope` is one of `declared`; `const` so the macros can check a literal against a
/// declared vocabulary at compile time.
pub const fn is_declared(scope: &str, declared: &[&str]) -> bool {
    let mut i = 0;
    while i < declared.len() {
        if str_eq(scope, declared[i]) {
            return true;
        }
        i += 1;
    }
    false
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_is_exact_and_case_sensitive() {
        let scopes = Scopes::new(["docs:read", "docs:write", "docs:read"]);
        assert_eq!(scopes.len(), 2);
        assert!(scopes.contains("docs:read"));
        assert!(!scopes.contains("Docs:read"));
        assert!(!scopes.contains("docs"));
        assert!(!scopes.contains("docs:read "));
    }

    #[test]
    fn all_any_and_stacked_rules() {
        static ALL: ScopeRequirement = ScopeRequirement::new(&[ScopeRule::All(&["a", "b"])]);
        static ANY: ScopeRequirement = ScopeRequirement::new(&[ScopeRule::Any(&["a", "b"])]);
        static STACKED: ScopeRequirement =
            ScopeRequirement::new(&[ScopeRule::All(&["a"]), ScopeRule::Any(&["b", "c"])]);
        let a = Scopes::new(["a"]);
        let ab = Scopes::new(["a", "b"]);
        let ac = Scopes::new(["a", "c"]);
        assert!(!a.satisfy(&ALL) && ab.satisfy(&ALL));
        assert!(a.satisfy(&ANY) && !Scopes::new(["c"]).satisfy(&ANY));
        assert!(!a.satisfy(&STACKED) && ab.satisfy(&STACKED) && ac.satisfy(&STACKED));
        assert_eq!(STACKED.to_string(), "a b c");
        assert!(Scopes::default().satisfy(&ScopeRequirement::new(&[])));
    }

    #[test]
    fn named_scopes_are_listed_once() {
        static REQ: ScopeRequirement =
            ScopeRequirement::new(&[ScopeRule::All(&["a", "b"]), ScopeRule::Any(&["b", "c"])]);
        assert_eq!(REQ.named_scopes(), ["a", "b", "c"]);
    }

    #[test]
    fn declared_scopes_compare_exactly() {
        const DECLARED: &[&str] = &["docs:read", "docs:write"];
        const _: () = assert!(is_declared("docs:read", DECLARED));
        assert!(is_declared("docs:write", DECLARED));
        assert!(!is_declared("doc:write", DECLARED));
        assert!(!is_declared("docs:writes", DECLARED));
        assert!(!is_declared("", DECLARED));
    }
}
