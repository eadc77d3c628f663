//! A cache of verified tokens: the signature of a token seen again is not checked again.
//!
//! Signature verification is most of what a guard costs (tens of microseconds for RSA and
//! ECDSA, against well under one for the rest), and clients send the same token for many
//! requests. Only successful verifications are stored. An entry is used only while the token's
//! `exp` (with the leeway) has not passed, at most for the configured time (on the system clock,
//! as `exp` is), and only with the key set that verified it: a change of keys makes every entry
//! stale at once.
//!
//! # Why a hit is the very same token
//!
//! An entry is kept under a 64-bit hash of the token's last 32 bytes (the end of its signature),
//! keyed with a random secret of the process (foldhash, seeded at start): that hash only chooses
//! where to look. What decides a hit is a constant-time comparison of the whole presented token
//! with the whole token the entry holds, header, payload and signature. So:
//! - a hit is the byte-for-byte token that was verified: two tokens whose hashes collide (by
//!   chance, 2^-64 a pair; a client cannot aim for it without the secret) are compared, found
//!   different, and the second is verified in full, then replaces the first. A collision costs a
//!   verification, never hands one caller another's principal;
//! - a client cannot crowd one bucket or one shard with chosen tokens: where a token lands is
//!   unknown without the secret, and only tokens that passed verification are ever stored;
//! - a lookup's time depends on the lengths of the presented and the stored token, never on
//!   their bytes: no client learns a cached token by timing guesses against it.
//!
//! No cryptographic digest is needed for any of that, and none is computed: a SHA-256 of the
//! signature cost more than the rest of a hit (BENCHMARKS.md has the figures). The price is that
//! the cache holds the tokens themselves, as the requests that carried them did, for as long as
//! an entry lives (SECURITY.md).

use std::time::Duration;

use super::claims::Validity;
use crate::expiring::ExpiringCache;
use crate::principal::Principal;

/// How the verified-token cache is sized; on by default.
///
/// ```
/// use std::time::Duration;
/// use portcullis::{Verifier, config::TokenCache};
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

    /// How many verified tokens are kept (about 300 bytes each, plus the token and its decoded
    /// claims); zero disables the cache. When it is full, expired
    /// entries leave first, then those not presented again since eviction last passed them
    /// (CLOCK): any set of tokens in use smaller than about 80 % of the capacity stays cached,
    /// however many other tokens come through.
    #[must_use]
    pub fn capacity(mut self, tokens: usize) -> Self {
        self.capacity = tokens;
        self
    }

    /// How long a verified token is trusted without a new verification, at most; its `exp`
    /// always ends it sooner if it comes first. Measured on the system clock, as `exp` is.
    #[must_use]
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    fn is_enabled(&self) -> bool {
        self.capacity > 0 && !self.max_age.is_zero()
    }
}

/// How many bytes at the end of a token choose its entry: the tail of the signature.
const TAIL: usize = 32;

/// A presented token as the cache looks it up.
pub(crate) struct TokenKey<'a> {
    /// The whole token, which a hit must match byte for byte.
    token: &'a [u8],
    /// The token's last [`TAIL`] bytes, whose keyed hash chooses the entry: the end of the
    /// signature (32 base64url characters, 192 bits of it), as unpredictable as the signature
    /// and cheaper to find and hash than all of it (an RS256 signature is 342 characters).
    tail: &'a [u8],
}

impl<'a> TokenKey<'a> {
    /// The key of `token`; `None` for a token without a `.`, which no verification accepts
    /// (opaque tokens have the introspection cache).
    pub(crate) fn new(token: &'a [u8]) -> Option<Self> {
        // Vectorized, from the start: the first `.` ends the header, a few dozen bytes in.
        memchr::memchr(b'.', token)?;
        Some(Self { token, tail: &token[token.len().saturating_sub(TAIL)..] })
    }
}

/// One verified token, kept until the first of its `exp` (with the leeway) and the end of the
/// maximum age.
struct Entry {
    /// The whole token, which a hit must match.
    token: Box<[u8]>,
    principal: Principal,
    /// The key set generation that verified the token.
    generation: u64,
    /// From when the entry may be used, in milliseconds since the epoch: the token's `nbf` less
    /// the leeway, zero without one.
    valid_from: u64,
}

/// What a lookup found under a token's hash.
enum Found {
    /// The very same token, usable now.
    Usable(Principal),
    /// The same token, unusable for every request from now on: verified with older keys than
    /// this request saw, or not valid yet.
    Stale,
    /// Another token under this hash, or this token verified with newer keys than this
    /// request saw (a request that took its key snapshot before a refresh): left alone.
    NotForThisRequest,
}

/// The verified tokens of one verifier.
pub(crate) struct VerifiedTokens {
    entries: ExpiringCache<Entry>,
    /// The maximum age in milliseconds, rounded up so that one under a millisecond is not zero.
    max_age_ms: u64,
    /// The leeway on `exp` and `nbf`, as verification applies it, in seconds.
    leeway: u64,
}

impl std::fmt::Debug for VerifiedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedTokens")
            .field("len", &self.entries.len())
            .field("max_age_ms", &self.max_age_ms)
            .finish_non_exhaustive()
    }
}

impl VerifiedTokens {
    /// The cache `config` asks for, or `None` when it is disabled.
    pub(crate) fn new(config: TokenCache, leeway: Duration) -> Option<Self> {
        config.is_enabled().then(|| Self {
            entries: ExpiringCache::new(config.capacity),
            max_age_ms: u64::try_from(config.max_age.as_nanos().div_ceil(1_000_000))
                .unwrap_or(u64::MAX),
            leeway: leeway.as_secs(),
        })
    }

    /// The principal of a token verified earlier with the keys of `generation`, if it is still
    /// within its `exp`, its `nbf` and the maximum age. An entry stale for every request (not
    /// yet valid, or of older keys) is removed; an expired one is dropped when room is needed.
    pub(crate) fn get(&self, key: &TokenKey<'_>, generation: u64) -> Option<Principal> {
        self.get_at(key, generation, unix_millis())
    }

    /// Remembers a token that `generation`'s keys just verified, valid as `validity` says.
    pub(crate) fn insert(
        &self,
        key: &TokenKey<'_>,
        principal: &Principal,
        validity: Validity,
        generation: u64,
    ) {
        self.insert_at(key, principal, validity, generation, unix_millis());
    }

    /// [`VerifiedTokens::get`] at `now`, in milliseconds since the epoch.
    fn get_at(&self, key: &TokenKey<'_>, generation: u64, now: u64) -> Option<Principal> {
        let stale = |entry: &Entry| entry.generation < generation || entry.valid_from > now;
        let hash = self.entries.hash(key.tail);
        let found = self.entries.get(hash, now, |entry| {
            if !same_token(key.token, &entry.token) {
                Found::NotForThisRequest
            } else if stale(entry) {
                Found::Stale
            } else if entry.generation == generation {
                Found::Usable(entry.principal.clone().served_from_cache())
            } else {
                Found::NotForThisRequest
            }
        })?;
        match found {
            Found::Usable(principal) => Some(principal),
            Found::Stale => {
                // Checked again under the write lock: another request may have just stored the
                // token afresh.
                self.entries.remove_if(hash, |entry, _| {
                    same_token(key.token, &entry.token) && stale(entry)
                });
                None
            }
            Found::NotForThisRequest => None,
        }
    }

    /// [`VerifiedTokens::insert`] at `now`, in milliseconds since the epoch.
    fn insert_at(
        &self,
        key: &TokenKey<'_>,
        principal: &Principal,
        Validity { exp, nbf }: Validity,
        generation: u64,
        now: u64,
    ) {
        let millis = |seconds: u64| seconds.saturating_mul(1000);
        let entry = Entry {
            token: key.token.into(),
            principal: principal.clone(),
            generation,
            valid_from: nbf.map_or(0, |nbf| millis(nbf.saturating_sub(self.leeway))),
        };
        let valid_until =
            millis(exp.saturating_add(self.leeway)).min(now.saturating_add(self.max_age_ms));
        self.entries.insert(self.entries.hash(key.tail), entry, valid_until, now);
    }

    /// How many tokens are cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Whether a presented token is the token an entry holds. Its time depends on the lengths only,
/// never on the bytes (`constant_time_eq` compares whole words and branches on nothing else).
fn same_token(presented: &[u8], stored: &[u8]) -> bool {
    constant_time_eq::constant_time_eq(presented, stored)
}

/// The wall clock in milliseconds since the epoch: one reading decides `exp`, `nbf` and the
/// maximum age of an entry. The coarse clock: why its lag of a tick is safe is in `clock`.
fn unix_millis() -> u64 {
    crate::clock::coarse_unix_millis()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use crate::respond::Presentation;
    use crate::verify::claims::{ClaimMapping, ClaimRules, unix_now};
    use serde_json::{Value, json};

    /// A principal as verification hands it to the cache: with the validity its claims say.
    struct Verified {
        principal: Principal,
        validity: Validity,
    }

    fn principal(exp: u64, nbf: Option<u64>) -> Verified {
        principal_of("alice", exp, nbf)
    }

    fn principal_of(subject: &str, exp: u64, nbf: Option<u64>) -> Verified {
        let mut claims = json!({"sub": subject, "exp": exp, "scope": "a"});
        if let Some(nbf) = nbf {
            claims["nbf"] = json!(nbf);
        }
        let Value::Object(claims) = claims else { unreachable!() };
        let presentation = Arc::new(Presentation::new("api").unwrap_or_else(|_| panic!()));
        let principal =
            ClaimMapping::default().principal(claims, &presentation).unwrap_or_else(|_| panic!());
        Verified { principal, validity: Validity { exp, nbf } }
    }

    impl VerifiedTokens {
        fn put(&self, key: &TokenKey<'_>, verified: &Verified, generation: u64) {
            self.insert(key, &verified.principal, verified.validity, generation);
        }

        fn put_at(&self, key: &TokenKey<'_>, verified: &Verified, generation: u64, now: u64) {
            self.insert_at(key, &verified.principal, verified.validity, generation, now);
        }
    }

    fn key(token: &[u8]) -> TokenKey<'_> {
        TokenKey::new(token).unwrap_or_else(|| panic!("no key"))
    }

    fn cache(config: TokenCache) -> VerifiedTokens {
        VerifiedTokens::new(config, Duration::from_secs(30)).unwrap_or_else(|| panic!())
    }

    #[test]
    fn a_verified_token_is_found_again() {
        let tokens = cache(TokenCache::default());
        let key = key(b"a.b.c");
        assert!(tokens.get(&key, 0).is_none());
        tokens.put(&key, &principal(unix_now() + 600, None), 0);
        assert_eq!(tokens.get(&key, 0).map(|p| p.subject().to_owned()).as_deref(), Some("alice"));
    }

    #[test]
    fn only_the_very_same_token_is_found() {
        let tokens = cache(TokenCache::default());
        tokens.put(&key(b"hd.pl.sig"), &principal(unix_now() + 600, None), 0);
        // Another signature; the same signature on another header or payload, shorter, longer
        // or of the same length; the dot moved: each is another token.
        for token in [
            &b"hd.pl.sih"[..],
            b"hd.pm.sig",
            b"he.pl.sig",
            b"hd.p.sig",
            b"hd.plx.sig",
            b"x.hd.pl.sig",
            b".sig",
            b"hd.plsig",
            b"hd.p.lsig",
            b"hd.pl.sig.",
        ] {
            let other = key(token);
            assert!(tokens.get(&other, 0).is_none(), "{}", String::from_utf8_lossy(token));
        }
        assert!(tokens.get(&key(b"hd.pl.sig"), 0).is_some(), "a near miss leaves the entry");
    }

    /// Tokens ending in the same bytes (one signature on two payloads) share one hash, the
    /// surest collision there is: each is served only as itself, the later replacing the
    /// earlier.
    #[test]
    fn tokens_under_one_hash_are_never_confused() {
        let tokens = cache(TokenCache::default());
        let exp = unix_now() + 600;
        let signature = "s".repeat(TAIL + 8);
        let alice = format!("alice.pl.{signature}").into_bytes();
        let bob = format!("bob.pl.{signature}").into_bytes();
        assert_eq!(key(&alice).tail, key(&bob).tail, "one hash for both");
        let subject = |token: &[u8]| tokens.get(&key(token), 0).map(|p| p.subject().to_owned());
        tokens.put(&key(&alice), &principal_of("alice", exp, None), 0);
        assert_eq!(subject(&alice).as_deref(), Some("alice"));
        tokens.put(&key(&bob), &principal_of("bob", exp, None), 0);
        assert_eq!(subject(&alice), None, "replaced, not served as bob");
        assert_eq!(subject(&bob).as_deref(), Some("bob"));
        assert_eq!(tokens.len(), 1);
        // Of the same length and differing in one byte, anywhere.
        for at in 0..bob.len() {
            let mut near = bob.clone();
            near[at] ^= 1;
            if near.contains(&b'.') {
                assert_eq!(subject(&near), None, "{}", String::from_utf8_lossy(&near));
            }
        }
        assert_eq!(subject(&bob).as_deref(), Some("bob"), "a near miss leaves the entry");
    }

    #[test]
    fn a_token_without_a_dot_has_no_key() {
        assert!(TokenKey::new(b"opaque").is_none());
        assert!(TokenKey::new(b"").is_none());
    }

    #[test]
    fn an_entry_ends_with_exp_and_leeway() {
        let tokens = cache(TokenCache::default());
        let key = key(b"h.p.s");
        // Expired beyond the leeway: never served, and removed.
        tokens.put(&key, &principal(unix_now() - 31, None), 0);
        assert!(tokens.get(&key, 0).is_none());
        assert_eq!(tokens.len(), 0);
        // Within the leeway, as verification would accept it.
        tokens.put(&key, &principal(unix_now() - 5, None), 0);
        assert!(tokens.get(&key, 0).is_some());
        // Not yet valid beyond the leeway.
        tokens.put(&key, &principal(unix_now() + 600, Some(unix_now() + 120)), 0);
        assert!(tokens.get(&key, 0).is_none());
    }

    /// The cache serves a token at exactly the milliseconds at which verification, which counts
    /// whole seconds, accepts it: around the edges of `exp` and `nbf`, with the leeway.
    #[test]
    fn the_edges_of_exp_and_nbf_are_those_of_verification() {
        const NOW: u64 = 1_800_000_000;
        let tokens = cache(TokenCache::default());
        let rules = ClaimRules {
            issuers: None,
            audiences: None,
            leeway: 30,
            profile: crate::config::TokenProfile::Jwt,
            audience_claim: None,
            access_token_marks: Vec::new(),
        };
        let key = key(b"h.p.s");
        for (exp, nbf) in [(NOW - 30, None), (NOW + 600, Some(NOW + 30))] {
            let principal = principal(exp, nbf);
            tokens.put_at(&key, &principal, 0, NOW * 1000 - 5_000);
            for now in (NOW * 1000 - 2_000)..(NOW * 1000 + 2_000) {
                let verified = rules.check(principal.principal.claims(), now / 1000).is_ok();
                let served = tokens.get_at(&key, 0, now).is_some();
                assert_eq!(served, verified, "exp {exp}, nbf {nbf:?}, at {now} ms");
                // A refusal removed the entry: store it again for the next instant.
                tokens.put_at(&key, &principal, 0, now);
            }
        }
    }

    #[test]
    fn an_entry_ends_with_its_key_set() {
        let tokens = cache(TokenCache::default());
        let key = key(b"h.p.s");
        tokens.put(&key, &principal(unix_now() + 600, None), 3);
        assert!(tokens.get(&key, 4).is_none());
        assert!(tokens.get(&key, 3).is_none(), "a stale entry is removed");
    }

    #[test]
    fn an_entry_ends_with_the_maximum_age() {
        let now = unix_now() * 1000;
        let tokens = cache(TokenCache::default().max_age(Duration::from_millis(20)));
        let key = key(b"h.p.s");
        tokens.put_at(&key, &principal(unix_now() + 600, None), 0, now);
        assert!(tokens.get_at(&key, 0, now + 19).is_some());
        assert!(tokens.get_at(&key, 0, now + 20).is_none());
        // Under a millisecond: rounded up, not down to nothing.
        let tokens = cache(TokenCache::default().max_age(Duration::from_micros(500)));
        tokens.put_at(&key, &principal(unix_now() + 600, None), 0, now);
        assert!(tokens.get_at(&key, 0, now).is_some());
        assert!(tokens.get_at(&key, 0, now + 1).is_none());
    }

    /// A request that saw an older key set (its snapshot taken before a refresh) does not use,
    /// nor remove, an entry verified with the newer keys; a request that saw newer keys removes
    /// an entry of older ones.
    #[test]
    fn only_stale_entries_are_removed() {
        let tokens = cache(TokenCache::default());
        let key = key(b"h.p.s");
        tokens.put(&key, &principal(unix_now() + 600, None), 4);
        assert!(tokens.get(&key, 3).is_none());
        assert!(tokens.get(&key, 4).is_some(), "kept for the requests that see the new keys");
        assert!(tokens.get(&key, 5).is_none());
        assert_eq!(tokens.len(), 0);
    }

    #[test]
    fn the_size_is_bounded() {
        let tokens = cache(TokenCache::default().capacity(100));
        let exp = unix_now() + 600;
        for i in 0..10_000 {
            tokens.put(&key(format!("h.p.{i}").as_bytes()), &principal(exp, None), 0);
        }
        assert!(tokens.len() <= 110, "{}", tokens.len());
    }

    /// The promise the cache is for: after a warm-up of 150 000 other tokens, a working set of
    /// 40 000 tokens (80 % of a 50 000-token cache) replayed round-robin is verified once each
    /// and then always served, and tokens that expired meanwhile leave before any of it.
    #[test]
    fn a_working_set_is_served_through_churn() {
        let tokens = cache(TokenCache::default().capacity(50_000));
        let now = unix_now() * 1000;
        let live = principal(unix_now() + 600, None);
        let short = principal(unix_now() + 60, None);
        for i in 0..150_000 {
            // A third of the warm-up expires within a minute.
            let verified = if i % 3 == 0 { &short } else { &live };
            tokens.put_at(&key(format!("warm.up.u{i}").as_bytes()), verified, 0, now);
        }
        let working_set: Vec<String> = (0..40_000).map(|i| format!("in.use.w{i}")).collect();
        let (mut hits, mut verified) = (0, 0);
        for round in 0..5 {
            // Rounds two and three come after the short-lived tokens expired.
            let now = now + if round >= 2 { 120_000 } else { round * 1_000 };
            for token in &working_set {
                if tokens.get_at(&key(token.as_bytes()), 0, now).is_some() {
                    hits += 1;
                } else {
                    assert_eq!(round, 0, "{token} verified again in round {round}");
                    verified += 1;
                    tokens.put_at(&key(token.as_bytes()), &live, 0, now);
                }
            }
        }
        assert_eq!((verified, hits), (40_000, 160_000));
        // Another 5 000 new tokens after the short ones expired: they take the room of expired
        // entries and of warm-up tokens never presented again, not the working set's.
        let later = now + 120_000;
        for i in 0..5_000 {
            tokens.put_at(&key(format!("new.one.n{i}").as_bytes()), &live, 0, later);
        }
        let kept =
            working_set.iter().filter(|t| tokens.get_at(&key(t.as_bytes()), 0, later).is_some());
        assert_eq!(kept.count(), 40_000);
    }

    #[test]
    fn an_unbounded_maximum_age_means_until_exp() {
        let tokens = cache(TokenCache::default().max_age(Duration::MAX));
        let key = key(b"h.p.s");
        tokens.put(&key, &principal(unix_now() + 600, None), 0);
        assert!(tokens.get(&key, 0).is_some());
    }

    #[test]
    fn disabled_means_none() {
        assert!(VerifiedTokens::new(TokenCache::disabled(), Duration::ZERO).is_none());
        assert!(VerifiedTokens::new(TokenCache::default().capacity(0), Duration::ZERO).is_none());
    }
}
