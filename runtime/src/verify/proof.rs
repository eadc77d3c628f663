//! A request presented with the `DPoP` scheme (RFC 9449 §7): the access token is verified (or
//! found in the cache) as any other, then its proof is checked, on every request: one `DPoP`
//! header, the token's binding (exactly a `cnf.jkt`), the checks of `crate::dpop` on the proof's
//! header and claims, its signature with its own key, the binding to that key, and last the
//! replay store. With server nonces on, the proof's `nonce` is checked before its signature.
//!
//! [`Verifier::verify_dpop`] runs the same checks for a transport other than an axum request.

use std::time::Duration;

use axum::extract::OriginalUri;
use http::request::Parts;
use http::{Method, Uri};

use super::Verifier;
use super::claims::unix_now;
use super::jws::Proof;
use super::token::{self, Presented};
use crate::dpop::{DpopSettings, ProofRequest, replay_key};
use crate::principal::{Binding, Principal};
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
        let proof = match token::proof(parts) {
            Ok(Some(proof)) => proof,
            Ok(None) => return Err(self.deny_dpop(DpopProofReason::Missing)),
            Err(reason) => return Err(self.deny_dpop(reason)),
        };
        let principal = self.principal_of(presented).await.map_err(Denial::for_dpop_request)?;
        let uri = dpop.uri_of(called_path(parts));
        let request = ProofRequest {
            method: parts.method.as_str(),
            uri: &uri,
            token: presented.as_bytes(),
            now: unix_now(),
        };
        self.prove(principal, proof, &request, dpop).await
    }

    /// Verifies an access token presented with the `DPoP` scheme and the DPoP proof that came
    /// with it (RFC 9449 §7.1), for a transport other than an axum request (a WebSocket
    /// upgrade handled elsewhere, a gRPC service, a request your own code forwards): the checks
    /// and the refusals of a `DPoP` request through the guards, token cache, key fetches and
    /// introspection included, and the proof's `jti` remembered in the replay store.
    ///
    /// `token` is the access token without the `DPoP ` prefix, `proof` the value of the `DPoP`
    /// header, `method` and `uri` those of the request as the client sent it: `uri` absolute
    /// (`https://api.example.com/documents/7`), or a path, which follows the configured
    /// [origin](crate::config::Dpop::origin). A query in either is ignored, as in
    /// `htu`.
    ///
    /// With DPoP off, the `DPoP` scheme is not one this verifier reads: the answer is
    /// [`DenialKind::MissingCredentials`], as to an axum request. With server
    /// [nonces](crate::config::Dpop::nonces) on, [`Principal::dpop_nonce`] holds the
    /// nonce to send the client when its own expires soon.
    ///
    /// ```
    /// # async fn check(verifier: &portcullis::Verifier, token: &str, proof: &str)
    /// #     -> Result<(), portcullis::Denial> {
    /// let uri: http::Uri = "https://api.example.com/documents/7".parse().expect("a URI");
    /// let principal = verifier.verify_dpop(token, proof, &http::Method::GET, &uri).await?;
    /// assert!(principal.is_dpop());
    /// # Ok(()) }
    /// ```
    pub async fn verify_dpop(
        &self,
        token: &str,
        proof: &str,
        method: &Method,
        uri: &Uri,
    ) -> Result<Principal, Denial> {
        let settings = &self.inner.settings;
        let Some(dpop) = &settings.dpop else {
            return Err(self.deny(DenialKind::MissingCredentials));
        };
        if token.len() > settings.sources.max_len {
            let denial = self.deny(DenialKind::InvalidToken(InvalidTokenReason::TooLarge));
            return Err(denial.for_dpop_request());
        }
        let presented = Presented::with_dpop(token.as_bytes());
        let principal = self.principal_of(&presented).await.map_err(Denial::for_dpop_request)?;
        let uri = match uri.scheme() {
            Some(_) => uri.to_string(),
            None => dpop.uri_of(uri.path()),
        };
        let request = ProofRequest {
            method: method.as_str(),
            uri: &uri,
            token: token.as_bytes(),
            now: unix_now(),
        };
        Box::pin(self.prove(principal, proof.as_bytes(), &request, dpop)).await
    }

    /// Checks that `principal`'s token is bound to the key of `proof`, and the proof against
    /// `request`; remembers it.
    async fn prove(
        &self,
        principal: Principal,
        proof: &[u8],
        request: &ProofRequest<'_>,
        dpop: &DpopSettings,
    ) -> Result<Principal, Denial> {
        let deny = |kind| self.deny(kind).for_dpop_request();
        let jkt = match principal.binding() {
            Binding::DpopKey(jkt) => jkt,
            Binding::Bearer => return Err(self.deny_dpop(DpopProofReason::UnboundToken)),
            Binding::Unsupported => {
                return Err(deny(DenialKind::InvalidToken(InvalidTokenReason::UnsupportedBinding)));
            }
        };
        let checked = self.check_proof(proof, request, dpop).map_err(|kind| {
            crate::observability::dpop_proof("refused");
            match kind {
                DenialKind::UseDpopNonce(_) => self.deny(kind),
                kind => deny(kind),
            }
        })?;
        // Compared once the proof is known to be signed by the key it names.
        if checked.thumbprint != *jkt {
            crate::observability::dpop_proof("refused");
            return Err(deny(DenialKind::InvalidToken(InvalidTokenReason::DpopKeyMismatch)));
        }
        match dpop.store.remember(checked.replay, dpop.replay_ttl()).await {
            Ok(true) => {
                crate::observability::dpop_proof("accepted");
                let principal = principal.proven_with_dpop();
                Ok(match checked.fresh_nonce {
                    Some(nonce) => principal.with_dpop_nonce(nonce),
                    None => principal,
                })
            }
            Ok(false) => {
                crate::observability::dpop_proof("replayed");
                Err(self.deny_dpop(DpopProofReason::Replayed))
            }
            Err(error) => {
                crate::observability::dpop_proof("store_error");
                tracing::warn!(target: "portcullis::dpop", %error, "the DPoP replay store failed");
                Err(deny(DenialKind::ReplayStoreUnavailable { retry_after: REPLAY_STORE_RETRY }))
            }
        }
    }

    /// A refusal of the proof, with the `DPoP` challenge.
    pub(super) fn deny_dpop(&self, reason: DpopProofReason) -> Denial {
        self.deny(DenialKind::InvalidDpopProof(reason)).for_dpop_request()
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

/// The path the client called: under `Router::nest`, axum strips the prefix from the request's
/// URI and keeps the URI as received in the `OriginalUri` extension, which is what `htu` names.
fn called_path(parts: &Parts) -> &str {
    match parts.extensions.get::<OriginalUri>() {
        Some(OriginalUri(uri)) => uri.path(),
        None => parts.uri.path(),
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
