//! Server-provided nonces (RFC 9449 §8 and §9): a nonce is `base64url(slot || tag)`, where
//! `slot` is the number of lifetimes since the epoch (8 bytes, big-endian) and `tag` the
//! HMAC-SHA256 of the slot under the nonce key. Any instance holding the key checks a nonce
//! without state shared with the instance that issued it: the current and the previous slot
//! are accepted, so a nonce lives between one and two lifetimes.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::crypto::{HmacSha256, fill_random};
use crate::respond::DpopNonceReason;

/// The bytes of a nonce: the slot, then the tag.
const NONCE_BYTES: usize = 8 + 32;
/// The length of a nonce as sent: unpadded base64url of [`NONCE_BYTES`].
const NONCE_LEN: usize = (NONCE_BYTES * 4).div_ceil(3);
/// What the tag covers besides the slot: a purpose, so that the key's tags mean nothing else.
const CONTEXT: &[u8] = b"portcullis dpop nonce\0";
/// The shortest nonce key accepted: as long as the tag.
const MIN_KEY_LEN: usize = 32;

/// Server-provided DPoP nonces (RFC 9449 §9), switched on with
/// [`Dpop::nonces`](crate::config::Dpop::nonces) or
/// `PORTCULLIS_DPOP_NONCE=true`: a proof must then carry, in its `nonce` claim, a nonce this
/// server issued recently; one without is refused with 401 `use_dpop_nonce` and a fresh nonce in
/// the `DPoP-Nonce` header.
///
/// A nonce is valid for the time slot it was issued in and the next one: between one and two
/// [lifetimes](Self::lifetime). It needs no state: any instance with the same key accepts
/// another's nonces. [`DpopNonces::new`] draws a key at random, right for one instance; give
/// several instances one key with [`DpopNonces::with_key`]. Clones share the key.
///
/// ```
/// use std::time::Duration;
/// use portcullis::dpop::DpopNonces;
///
/// let nonces = DpopNonces::with_key([7u8; 32])?.lifetime(Duration::from_secs(60));
/// let nonce = nonces.nonce();
/// assert_eq!(nonce.len(), 54);
/// assert!(nonce.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
/// # Ok::<(), portcullis::dpop::NonceKeyTooShort>(())
/// ```
#[derive(Clone)]
pub struct DpopNonces {
    key: Arc<HmacSha256>,
    lifetime: Duration,
}

impl std::fmt::Debug for DpopNonces {
    // Never the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopNonces").field("lifetime", &self.lifetime).finish_non_exhaustive()
    }
}

impl Default for DpopNonces {
    fn default() -> Self {
        Self::new()
    }
}

/// A DPoP nonce key shorter than 32 bytes was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a DPoP nonce key must be at least 32 bytes")]
pub struct NonceKeyTooShort;

impl DpopNonces {
    /// The lifetime unless configured otherwise: five minutes.
    pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(5 * 60);
    /// The longest lifetime accepted: one hour.
    pub const MAX_LIFETIME: Duration = Duration::from_secs(60 * 60);

    /// Nonces under a key drawn at random now, valid for this process only.
    pub fn new() -> Self {
        let mut secret = [0u8; MIN_KEY_LEN];
        // The system's generator does not fail on the platforms the backends support; were it
        // to, the verifier must not start with a guessable key.
        #[allow(clippy::expect_used, reason = "no random key is no safe fallback")]
        fill_random(&mut secret).expect("the system random generator");
        Self::keyed(&secret)
    }

    /// Nonces under `secret`, at least 32 bytes: give every instance that serves one API the
    /// same secret, so that each accepts the nonces of the others.
    pub fn with_key(secret: impl AsRef<[u8]>) -> Result<Self, NonceKeyTooShort> {
        let secret = secret.as_ref();
        if secret.len() < MIN_KEY_LEN {
            return Err(NonceKeyTooShort);
        }
        Ok(Self::keyed(secret))
    }

    fn keyed(secret: &[u8]) -> Self {
        Self { key: Arc::new(HmacSha256::new(secret)), lifetime: Self::DEFAULT_LIFETIME }
    }

    /// The length of a time slot, in whole seconds, between one second and
    /// [`MAX_LIFETIME`](Self::MAX_LIFETIME) (checked by
    /// [`VerifierBuilder::build`](crate::config::VerifierBuilder::build)); a nonce is accepted in the
    /// slot it was issued in and the next.
    #[must_use]
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// The configured lifetime.
    pub fn configured_lifetime(&self) -> Duration {
        self.lifetime
    }

    /// The nonce of the current slot: what a client should put in its next proof. An
    /// application may send it itself, in a `DPoP-Nonce` header of its own responses.
    pub fn nonce(&self) -> String {
        self.nonce_at(SystemTime::now())
    }

    /// The nonce of the slot `time` falls in (a time before the epoch is the first slot): for
    /// tests, a nonce issued in the past.
    pub fn nonce_at(&self, time: SystemTime) -> String {
        let now = time.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs());
        self.issue(now)
    }

    /// `true` when the lifetime is within bounds.
    pub(crate) fn lifetime_is_valid(&self) -> bool {
        self.lifetime >= Duration::from_secs(1) && self.lifetime <= Self::MAX_LIFETIME
    }

    /// The slot `now` (seconds since the epoch) falls in.
    fn slot(&self, now: u64) -> u64 {
        now / self.lifetime.as_secs().max(1)
    }

    /// What the tag of `slot` covers.
    fn tagged(&self, slot: u64) -> Vec<u8> {
        let mut input = Vec::with_capacity(CONTEXT.len() + 16);
        input.extend_from_slice(CONTEXT);
        // The lifetime too: slots of another lifetime are other slots.
        input.extend_from_slice(&self.lifetime.as_secs().to_be_bytes());
        input.extend_from_slice(&slot.to_be_bytes());
        input
    }

    /// The nonce of the slot of `now` (seconds since the epoch).
    pub(crate) fn issue(&self, now: u64) -> String {
        let slot = self.slot(now);
        let mut bytes = Vec::with_capacity(NONCE_BYTES);
        bytes.extend_from_slice(&slot.to_be_bytes());
        bytes.extend_from_slice(&self.key.tag(&self.tagged(slot)));
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Checks a proof's `nonce` at `now`: `Ok(true)` when it is valid but of the previous slot,
    /// so that a fresh one should be sent.
    pub(crate) fn check(&self, nonce: &str, now: u64) -> Result<bool, DpopNonceReason> {
        if nonce.len() != NONCE_LEN {
            return Err(DpopNonceReason::Invalid);
        }
        let bytes = URL_SAFE_NO_PAD.decode(nonce).map_err(|_| DpopNonceReason::Invalid)?;
        let (slot, tag) = bytes.split_at_checked(8).ok_or(DpopNonceReason::Invalid)?;
        let slot = u64::from_be_bytes(slot.try_into().map_err(|_| DpopNonceReason::Invalid)?);
        // In constant time.
        if !self.key.verify(&self.tagged(slot), tag) {
            return Err(DpopNonceReason::Invalid);
        }
        let current = self.slot(now);
        match current.checked_sub(slot) {
            Some(0) => Ok(false),
            Some(1) => Ok(true),
            Some(_) => Err(DpopNonceReason::Expired),
            // A slot still to come was issued by an instance whose clock is ahead: refused, and
            // this instance's nonce, which that one accepts as its previous, is sent instead.
            None => Err(DpopNonceReason::Invalid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_accepted_for_their_slot_and_the_next() {
        let nonces = DpopNonces::with_key([1u8; 32]).unwrap().lifetime(Duration::from_secs(60));
        let nonce = nonces.issue(6_000);
        assert_eq!(nonce.len(), NONCE_LEN);
        assert_eq!(nonces.issue(6_059), nonce);
        assert_eq!(nonces.check(&nonce, 6_000), Ok(false));
        assert_eq!(nonces.check(&nonce, 6_059), Ok(false));
        assert_eq!(nonces.check(&nonce, 6_060), Ok(true));
        assert_eq!(nonces.check(&nonce, 6_119), Ok(true));
        assert_eq!(nonces.check(&nonce, 6_120), Err(DpopNonceReason::Expired));
        assert_eq!(nonces.check(&nonce, 5_999), Err(DpopNonceReason::Invalid));
    }

    #[test]
    fn only_the_key_holder_issues_nonces() {
        let nonces = DpopNonces::with_key([1u8; 32]).unwrap();
        let shared = DpopNonces::with_key([1u8; 32]).unwrap();
        let other = DpopNonces::with_key([2u8; 32]).unwrap();
        let nonce = nonces.issue(1_000);
        assert_eq!(shared.check(&nonce, 1_000), Ok(false));
        assert_eq!(other.check(&nonce, 1_000), Err(DpopNonceReason::Invalid));
        // Another lifetime, another slot numbering.
        let longer = nonces.clone().lifetime(Duration::from_secs(600));
        assert_eq!(longer.check(&nonce, 1_000), Err(DpopNonceReason::Invalid));
        let mut tampered = nonce.into_bytes();
        tampered[NONCE_LEN - 5] = if tampered[NONCE_LEN - 5] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(nonces.check(&tampered, 1_000), Err(DpopNonceReason::Invalid));
        for garbage in ["", "x", &"A".repeat(NONCE_LEN), &"!".repeat(NONCE_LEN)] {
            assert_eq!(nonces.check(garbage, 1_000), Err(DpopNonceReason::Invalid), "{garbage}");
        }
        assert_eq!(DpopNonces::with_key([0u8; 31]).err(), Some(NonceKeyTooShort));
        assert_ne!(DpopNonces::new().issue(1_000), DpopNonces::new().issue(1_000));
    }
}
