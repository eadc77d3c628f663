//! A set of keys, and the selection of one by a token's `kid` and `alg`.

use super::algorithm::Algorithm;
use super::key::{Key, KeyError};
use crate::respond::InvalidTokenReason;

/// A set of keys, selected by the token's `kid` and `alg`.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<Key>,
    /// Whether any key has a `kid`; kept up to date by `insert`, read on every selection.
    named: bool,
}

impl IntoIterator for KeySet {
    type Item = Key;
    type IntoIter = std::vec::IntoIter<Key>;

    fn into_iter(self) -> Self::IntoIter {
        self.keys.into_iter()
    }
}

impl KeySet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key; its `kid`, if any, must be new to the set.
    pub fn insert(&mut self, key: Key) -> Result<(), KeyError> {
        if let Some(kid) = key.kid()
            && self.keys.iter().any(|k| k.kid() == Some(kid))
        {
            return Err(KeyError::DuplicateKid(kid.to_owned()));
        }
        self.named |= key.kid().is_some();
        self.keys.push(key);
        Ok(())
    }

    /// How many keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// `true` when the set holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys.
    pub fn iter(&self) -> impl Iterator<Item = &Key> {
        self.keys.iter()
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Key> {
        self.keys.iter_mut()
    }

    /// The key at `index`, as [`KeySet::position`] found it.
    pub(super) fn at(&self, index: usize) -> &Key {
        &self.keys[index]
    }

    /// The index of the key for a token with header `kid` and `alg`.
    ///
    /// A `kid` that names a key selects it, and the key must allow `alg`; a `kid` that names no
    /// key is unknown, unless no configured key has a `kid`. Without a `kid`, the keys configured
    /// without one are candidates: exactly one of them may allow `alg`. Several
    /// candidates are refused rather than tried in turn, so a token costs one verification.
    pub(crate) fn position(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<usize, InvalidTokenReason> {
        if let Some(kid) = kid {
            if let Some(index) = self.keys.iter().position(|k| k.kid() == Some(kid)) {
                return if self.keys[index].allows(alg) {
                    Ok(index)
                } else {
                    Err(InvalidTokenReason::DisallowedAlgorithm)
                };
            }
            // Once keys are named, a name that matches none is unknown. Only a set without any
            // names (a single shared secret, say) ignores the token's `kid`.
            if self.named {
                return Err(InvalidTokenReason::UnknownKey);
            }
        }
        let mut candidates =
            self.keys.iter().enumerate().filter(|(_, k)| k.kid().is_none() && k.allows(alg));
        match (candidates.next(), candidates.next()) {
            (Some((index, _)), None) => Ok(index),
            (Some(_), Some(_)) => Err(InvalidTokenReason::UnknownKey),
            (None, _) if self.keys.iter().any(|k| k.allows(alg)) => {
                Err(InvalidTokenReason::UnknownKey)
            }
            (None, _) => Err(InvalidTokenReason::DisallowedAlgorithm),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl KeySet {
        fn select(&self, kid: Option<&str>, alg: Algorithm) -> Result<&Key, InvalidTokenReason> {
            self.position(kid, alg).map(|index| self.at(index))
        }
    }

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn selection_by_kid_then_by_algorithm() {
        let mut keys = KeySet::new();
        keys.insert(Key::hmac(SECRET).unwrap().with_kid("h")).unwrap();
        keys.insert(Key::hmac([1u8; 32]).unwrap()).unwrap();
        assert_eq!(keys.select(Some("h"), Algorithm::HS256).unwrap().kid(), Some("h"));
        assert_eq!(
            keys.select(Some("h"), Algorithm::ES256).unwrap_err(),
            InvalidTokenReason::DisallowedAlgorithm
        );
        // Once keys are named, an unknown kid is unknown.
        assert_eq!(
            keys.select(Some("zzz"), Algorithm::HS256).unwrap_err(),
            InvalidTokenReason::UnknownKey
        );
        assert_eq!(keys.select(None, Algorithm::HS256).unwrap().kid(), None);
        assert_eq!(
            keys.select(None, Algorithm::RS256).unwrap_err(),
            InvalidTokenReason::DisallowedAlgorithm
        );
        keys.insert(Key::hmac([2u8; 32]).unwrap()).unwrap();
        assert_eq!(
            keys.select(None, Algorithm::HS256).unwrap_err(),
            InvalidTokenReason::UnknownKey
        );
        assert!(matches!(
            keys.insert(Key::hmac(SECRET).unwrap().with_kid("h")),
            Err(KeyError::DuplicateKid(_))
        ));
        // A set without names ignores the token's kid.
        let mut unnamed = KeySet::new();
        unnamed.insert(Key::hmac(SECRET).unwrap()).unwrap();
        assert!(unnamed.select(Some("anything"), Algorithm::HS256).is_ok());
    }
}
