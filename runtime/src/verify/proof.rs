//! A request presented with the `DPoP` scheme (RFC 9449 §7): the access token is verified (or
//! found in the cache) as any other, then its proof is checked, on every request: one `DPoP`
//! header, the checks of `crate::dpop` on its header and claims, its signature with its own
//! key, the token's binding to that key (`cnf.jkt`), and last the replay store. With server
//! nonces on, the proof's `nonce` is checked before its signature.

use std::time::Duration;

use http::request::Parts;
use serde_json::Value;

use super::claims::unix_now;
use super::jws::Proof;
use super::token::{self, Presented};
use super::{Verifier, bound_key};
use crate::dpop::{DpopSettings, ProofRequest, replay_key};
use crate::principal::Principal;
use crate::respond::{Denial, DenialKind, DpopProofReason, InvalidTokenReason};

/// When a client refused because the replay store could not answer should try again.
const REPLAY_STORE_RETRY: Duration = Duration::from_secs(5);

impl Verifier {
    /// Verifies the token of a `DPoP`-scheme request and the proof that comes with it; every
    /// refusal carries the `DPoP` challenge.
    pub(super) async fn authenticate_dpop(
        &self,
        parts: &Parts,
        presented: &Presented<'_>,
        dpop: &DpopSettings,
    ) -> Result<Principal, Denial> {
        let deny = |kind| self.deny(kind).for_dpop_request();
        let proof = match token::proof(parts) {
            Ok(Some(proof)) => proof,
            Ok(None) => return Err(deny(DenialKind::InvalidDpopProof(DpopProofReason::Missing))),
            Err(reason) => return Err(deny(DenialKind::InvalidRequest(reason))),
        };
        let principal = self.principal_of(presented).await.map_err(Denial::for_dpop_request)?;
        let Some(Value::String(jkt)) = bound_key(&principal) else {
            return Err(deny(DenialKind::InvalidToken(InvalidTokenReason::DpopUnbound)));
        };
        let request = ProofRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            token: presented.as_bytes(),
            now: unix_now(),
        };
        let checked = self.check_proof(proof, &request, dpop).map_err(|kind| match kind {
            DenialKind::UseDpopNonce(_) => self.deny(kind),
            kind => deny(kind),
        })?;
        // Compared once the proof is known to be signed by the key it names.
        if checked.thumbprint != *jkt {
            return Err(deny(DenialKind::InvalidToken(InvalidTokenReason::DpopKeyMismatch)));
        }
        match dpop.store.remember(checked.replay, dpop.replay_ttl()).await {
            Ok(true) => {
                let principal = principal.proven_with_dpop();
                Ok(match checked.fresh_nonce {
                    Some(nonce) => principal.with_dpop_nonce(nonce),
                    None => principal,
                })
            }
            Ok(false) => Err(deny(DenialKind::InvalidDpopProof(DpopProofReason::Replayed))),
            Err(error) => {
                tracing::warn!(target: "portcullis::dpop", %error, "the DPoP replay store failed");
                Err(deny(DenialKind::ReplayStoreUnavailable { retry_after: REPLAY_STORE_RETRY }))
            }
        }
    }

    /// Checks a proof, claims and nonce before the signature (a stale or misdirected proof, or
    /// one without a current nonce, costs no signature work).
    fn check_proof(
        &self,
        proof: &[u8],
        request: &ProofRequest<'_>,
        dpop: &DpopSettings,
    ) -> Result<CheckedProof, DenialKind> {
        let bad = DenialKind::InvalidDpopProof;
        if proof.len() > self.inner.settings.sources.max_len {
            return Err(bad(DpopProofReason::Malformed));
        }
        let proof = std::str::from_utf8(proof)
            .ok()
            .and_then(Proof::decode)
            .ok_or(bad(DpopProofReason::Malformed))?;
        let key = dpop.check_header(&proof.header).map_err(bad)?;
        let jti = dpop.check_claims(&proof.claims, request).map_err(bad)?;
        let fresh_nonce =
            dpop.check_nonce(&proof.claims, request.now).map_err(DenialKind::UseDpopNonce)?;
        if !proof.signature_verifies(&key.key, key.alg) {
            return Err(bad(DpopProofReason::BadSignature));
        }
        let replay = replay_key(jti, &key.thumbprint);
        Ok(CheckedProof { thumbprint: key.thumbprint, replay, fresh_nonce })
    }
}

/// A proof whose every check passed but the binding and the replay store.
struct CheckedProof {
    /// The thumbprint of the proof's key, which the token's `cnf.jkt` must equal.
    thumbprint: String,
    /// The key the replay store remembers the proof by.
    replay: [u8; 32],
    /// A nonce to send the client, when the proof's is about to expire.
    fresh_nonce: Option<String>,
}
