//! The SHA-256 digest, where a digest must be collision-resistant: the token cache's key, and
//! the fingerprint that tells a key rotation from a refresh that changed nothing.

use aws_lc_rs::digest::{SHA256, digest};

/// The SHA-256 digest of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut digested = [0; 32];
    digested.copy_from_slice(digest(&SHA256, bytes).as_ref());
    digested
}
