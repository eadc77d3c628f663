//! Roles: the authorities an identity provider puts in claims of its own (Keycloak's
//! `realm_access.roles`, Entra ID's `roles`, Cognito's `cognito:groups`), and what a handler
//! requires of them.
//!
//! A role is not something a client can ask the authorization server for, so a missing role is
//! answered with 403 `insufficient_scope` but no `scope=` attribute.

use std::fmt;

use crate::scope::{NameSet, ScopeRule, named};

/// The roles a verified token grants, read from the claim paths the verifier was given
/// ([`VerifierBuilder::role_claims`](crate::config::VerifierBuilder::role_claims)). Matching is exact
/// and case-sensitive.
///
/// ```
/// use portcullis::{Roles, authorization::{RoleRequirement, ScopeRule}};
///
/// static ADMIN: RoleRequirement = RoleRequirement::new(&[ScopeRule::All(&["documents-admin"])]);
/// assert!(Roles::new(["documents-admin", "user"]).satisfy(&ADMIN));
/// assert!(!Roles::new(["user"]).satisfy(&ADMIN));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roles {
    granted: NameSet,
}

impl Roles {
    /// Builds a set from any list of roles.
    pub fn new<I, T>(roles: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        Self { granted: NameSet::new(roles) }
    }

    /// `true` when `role` is granted.
    pub fn contains(&self, role: &str) -> bool {
        self.granted.contains(role)
    }

    /// The granted roles, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.granted.iter()
    }

    /// How many roles are granted.
    pub fn len(&self) -> usize {
        self.granted.len()
    }

    /// `true` when no role is granted.
    pub fn is_empty(&self) -> bool {
        self.granted.is_empty()
    }

    /// `true` when these roles satisfy `requirement`.
    pub fn satisfy(&self, requirement: &RoleRequirement) -> bool {
        requirement.rules.iter().all(|rule| rule.is_met(|role| self.contains(role)))
    }
}

/// What a handler requires of the caller's roles: every rule must be met. The rules are those of
/// scopes ([`ScopeRule::All`], [`ScopeRule::Any`]); `#[requires_role]` builds them at compile
/// time.
///
/// ```
/// use portcullis::authorization::{RoleRequirement, ScopeRule};
///
/// static AUDIT: RoleRequirement =
///     RoleRequirement::new(&[ScopeRule::Any(&["auditor", "documents-admin"])]);
/// assert_eq!(AUDIT.to_string(), "auditor documents-admin");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleRequirement {
    rules: &'static [ScopeRule],
}

impl RoleRequirement {
    /// A requirement made of `rules`, all of which must be met.
    pub const fn new(rules: &'static [ScopeRule]) -> Self {
        Self { rules }
    }

    /// The rules.
    pub fn rules(&self) -> &'static [ScopeRule] {
        self.rules
    }

    /// Every role the requirement names, each once, in the order written.
    pub fn named_roles(&self) -> Vec<&'static str> {
        named(self.rules)
    }

    /// The roles of the rules that `roles` does not meet: for an unmet `All` rule the roles that
    /// are missing, for an unmet `Any` rule every alternative. What Development mode names.
    pub fn missing(&self, roles: &Roles) -> Vec<&'static str> {
        let mut missing: Vec<&'static str> = Vec::new();
        for rule in self.rules {
            let unmet: Vec<&'static str> = match rule {
                ScopeRule::All(required) => {
                    required.iter().copied().filter(|role| !roles.contains(role)).collect()
                }
                ScopeRule::Any(candidates) if !candidates.iter().any(|r| roles.contains(r)) => {
                    candidates.to_vec()
                }
                ScopeRule::Any(_) => Vec::new(),
            };
            for role in unmet {
                if !missing.contains(&role) {
                    missing.push(role);
                }
            }
        }
        missing
    }
}

impl fmt::Display for RoleRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.named_roles().join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_any_and_stacked_rules() {
        static REQ: RoleRequirement =
            RoleRequirement::new(&[ScopeRule::All(&["a"]), ScopeRule::Any(&["b", "c"])]);
        assert!(!Roles::new(["a"]).satisfy(&REQ));
        assert!(Roles::new(["a", "c"]).satisfy(&REQ));
        assert!(!Roles::new(["A", "c"]).satisfy(&REQ));
        assert!(Roles::default().satisfy(&RoleRequirement::new(&[])));
        assert_eq!(REQ.missing(&Roles::new(["b"])), ["a"]);
        assert_eq!(REQ.missing(&Roles::default()), ["a", "b", "c"]);
        assert!(REQ.missing(&Roles::new(["a", "b"])).is_empty());
    }
}
