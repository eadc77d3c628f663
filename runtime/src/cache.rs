//! A cache of verified tokens: the signature of a token seen again is not checked again.
//!
//! Signature verification is most of what a guard costs (tens of microseconds for RSA and
//! ECDSA, against well under one for the rest), and clients send the same token for many
//! requests. Entries are keyed by the SHA-256 digest of the token, never by the token itself, so
//! that a lookup compares digests and its timing says nothing about the secret. Only successful
//! verifications are stored. An entry is used only while the token's `exp` (with the leeway)
//! has not passed, at most for the configured time, and only with the key set that verified
//! it: a change of keys makes every entry stale at once.

use std::time::{Duration, Instant};

use crate::claims::{numeric_date, unix_now};
use crate::principal::Principal;
use aws_lc_rs::digest::{SHA256, digest};

/// How the verified-token cache is sized; on by default.
///
/// ```
/// use std::time::Duration;
/// use portcullis::{TokenCache, Verifier};
///
/// let builder = Verifier::builder()
///     .token_cache(TokenCache::default().capacity(50_000).max_age(Duration::from_secs(60)));
/// let without = Verifier::builder().token_cache(TokenCache::disabled());
/// # let _ = (builder, without);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenCache {
    capacity: usize,
    max_age: Duration,
}

impl Default for TokenCache {
    /// 10 000 tokens, each kept at most 5 minutes (and never past its `exp`).
    fn default() -> Self {
        Self { capacity: 10_000, max_age: Duration::from_secs(5 * 60) }
    }
}

impl TokenCache {
    /// No cache: every request's token is verified in full.
    pub fn disabled() -> Self {
        Self { capacity: 0, max_age: Duration::ZERO }
    }

    /// How many verified tokens are kept (about 300 bytes each, plus their claims); zero
    /// disables the cache. The least useful entries are evicted first.
    #[must_use]
    pub fn capacity(mut self, tokens: usize) -> Self {
        self.capacity = tokens;
        self
    }

    /// How long a verified token is trusted without a new verification, at most; its `exp`
    /// always ends it sooner if it comes first.
    #[must_use]
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    fn is_enabled(&self) -> bool {
        self.capacity > 0 && !self.max_age.is_zero()
    }
}

/// The SHA-256 digest of a token: the cache key.
pub(crate) type TokenDigest = [u8; 32];

/// One verified token.
#[derive(Clone)]
struct Entry {
    principal: Principal,
    /// The token's `exp`, in seconds since the epoch.
    exp: u64,
    /// The token's `nbf`, if any.
    nbf: Option<u64>,
    /// The key set generation that verified the token.
    generation: u64,
    /// The end of the configured maximum age; `None` when it is beyond what `Instant` holds.
    stored_until: Option<Instant>,
}

/// The verified tokens of one verifier.
pub(crate) struct VerifiedTokens {
    entries: quick_cache::sync::Cache<TokenDigest, Entry>,
    max_age: Duration,
    /// The leeway on `exp` and `nbf`, as verification applies it.
    leeway: u64,
}

impl std::fmt::Debug for VerifiedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedTokens")
            .field("len", &self.entries.len())
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl VerifiedTokens {
    /// The cache `config` asks for, or `None` when it is disabled.
    pub(crate) fn new(config: TokenCache, leeway: Duration) -> Option<Self> {
        config.is_enabled().then(|| Self {
            entries: quick_cache::sync::Cache::new(config.capacity),
            max_age: config.max_age,
            leeway: leeway.as_secs(),
        })
    }

    /// The digest that keys `token`.
    pub(crate) fn digest(token: &[u8]) -> TokenDigest {
        let mut key = [0; 32];
        key.copy_from_slice(digest(&SHA256, token).as_ref());
        key
    }

    /// The principal of a token verified earlier with the keys of `generation`, if it is still
    /// within its `exp`, its `nbf` and the maximum age. A stale entry is removed.
    pub(crate) fn get(&self, digest: &TokenDigest, generation: u64) -> Option<Principal> {
        let entry = self.entries.get(digest)?;
        let now = unix_now();
        let fresh = entry.generation == generation
            && entry.stored_until.is_none_or(|until| Instant::now() < until)
            && now < entry.exp.saturating_add(self.leeway)
            && entry.nbf.is_none_or(|nbf| nbf <= now.saturating_add(self.leeway));
        if fresh {
            Some(entry.principal)
        } else {
            self.entries.remove(digest);
            None
        }
    }

    /// Remembers a token that `generation`'s keys just verified.
    pub(crate) fn insert(&self, digest: TokenDigest, principal: &Principal, generation: u64) {
        // Verification required `exp`; a token without a usable one is simply not cached.
        let date = |name| numeric_date(principal.claims().get(name)).ok().flatten();
        let Some(exp) = date("exp") else { return };
        let nbf = date("nbf");
        let entry = Entry {
            principal: principal.clone(),
            exp,
            nbf,
            generation,
            stored_until: Instant::now().checked_add(self.max_age),
        };
        self.entries.insert(digest, entry);
    }

    /// How many tokens are cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::principal::ClaimMapping;
    use serde_json::{Value, json};

    fn principal(exp: u64, nbf: Option<u64>) -> Principal {
        let mut claims = json!({"sub": "alice", "exp": exp, "scope": "a"});
        if let Some(nbf) = nbf {
            claims["nbf"] = json!(nbf);
        }
        let Value::Object(claims) = claims else { unreachable!() };
        Principal::from_claims(claims, &ClaimMapping::default()).unwrap_or_else(|_| panic!())
    }

    fn cache(config: TokenCache) -> VerifiedTokens {
        VerifiedTokens::new(config, Duration::from_secs(30)).unwrap_or_else(|| panic!())
    }

    #[test]
    fn a_verified_token_is_found_by_its_digest() {
        let tokens = cache(TokenCache::default());
        let key = VerifiedTokens::digest(b"a.b.c");
        assert_ne!(key, VerifiedTokens::digest(b"a.b.d"));
        assert!(tokens.get(&key, 0).is_none());
        tokens.insert(key, &principal(unix_now() + 600, None), 0);
        assert_eq!(tokens.get(&key, 0).map(|p| p.subject().to_owned()).as_deref(), Some("alice"));
        assert!(tokens.get(&VerifiedTokens::digest(b"a.b.d"), 0).is_none());
    }

    #[test]
    fn an_entry_ends_with_exp_and_leeway() {
        let tokens = cache(TokenCache::default());
        let key = VerifiedTokens::digest(b"t");
        // Expired beyond the leeway: never served, and removed.
        tokens.insert(key, &principal(unix_now() - 31, None), 0);
        assert!(tokens.get(&key, 0).is_none());
        assert_eq!(tokens.len(), 0);
        // Within the leeway, as verification would accept it.
        tokens.insert(key, &principal(unix_now() - 5, None), 0);
        assert!(tokens.get(&key, 0).is_some());
        // Not yet valid beyond the leeway.
        tokens.insert(key, &principal(unix_now() + 600, Some(unix_now() + 120)), 0);
        assert!(tokens.get(&key, 0).is_none());
    }

    #[test]
    fn an_entry_ends_with_its_key_set() {
        let tokens = cache(TokenCache::default());
        let key = VerifiedTokens::digest(b"t");
        tokens.insert(key, &principal(unix_now() + 600, None), 3);
        assert!(tokens.get(&key, 4).is_none());
        assert!(tokens.get(&key, 3).is_none(), "a stale entry is removed");
    }

    #[test]
    fn an_entry_ends_with_the_maximum_age() {
        let tokens = cache(TokenCache::default().max_age(Duration::from_millis(20)));
        let key = VerifiedTokens::digest(b"t");
        tokens.insert(key, &principal(unix_now() + 600, None), 0);
        assert!(tokens.get(&key, 0).is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(tokens.get(&key, 0).is_none());
    }

    #[test]
    fn the_size_is_bounded() {
        let tokens = cache(TokenCache::default().capacity(100));
        let exp = unix_now() + 600;
        for i in 0..10_000 {
            tokens.insert(
                VerifiedTokens::digest(i.to_string().as_bytes()),
                &principal(exp, None),
                0,
            );
        }
        assert!(tokens.len() <= 110, "{}", tokens.len());
    }

    #[test]
    fn an_unbounded_maximum_age_means_until_exp() {
        let tokens = cache(TokenCache::default().max_age(Duration::MAX));
        let key = VerifiedTokens::digest(b"t");
        tokens.insert(key, &principal(unix_now() + 600, None), 0);
        assert!(tokens.get(&key, 0).is_some());
    }

    #[test]
    fn disabled_means_none() {
        assert!(VerifiedTokens::new(TokenCache::disabled(), Duration::ZERO).is_none());
        assert!(VerifiedTokens::new(TokenCache::default().capacity(0), Duration::ZERO).is_none());
    }
}
