//! Keys, tokens, verifiers and the hand-written bare-`jsonwebtoken` check that both benchmarks
//! share: the load-benchmark server (this crate) and the criterion micro benchmarks
//! (`runtime/benches/guard.rs` includes this very file), so that both compare the same code.
//!
//! Keys are generated at start-up with `aws-lc-rs` and handed to portcullis and to
//! `jsonwebtoken` as the same PEM or DER bytes: the two sides verify with identical key material.

use std::error::Error;
use std::time::Duration;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use portcullis::{
    Key, Verifier,
    authorization::{ScopeRequirement, ScopeRule},
    config::TokenCache,
};
use serde::Deserialize;

/// The `iss` of every benchmark token.
pub const ISSUER: &str = "https://issuer.bench.invalid";
/// The `aud` of every benchmark token.
pub const AUDIENCE: &str = "bench-api";
/// The `kid` of every benchmark key.
pub const KID: &str = "bench-key";
/// The scope every guarded route requires.
pub const REQUIRED_SCOPE: &str = "docs:read";
/// The same requirement as the guard sees it.
pub const REQUIRED: ScopeRequirement = ScopeRequirement::new(&[ScopeRule::All(&[REQUIRED_SCOPE])]);
/// The scopes of a token that passes.
pub const GRANTED: &str = "profile docs:read docs:write";
/// The scopes of a token that is refused with 403.
pub const NOT_GRANTED: &str = "profile";
/// The HMAC secret of the HS256 fixture (a benchmark secret that protects nothing).
const HMAC_SECRET: &[u8] = b"portcullis-benchmark-secret-of-48-bytes-0123456";
/// The leeway on `exp`/`nbf`, the same on both sides (portcullis' default).
const LEEWAY: Duration = portcullis::config::DEFAULT_LEEWAY;

/// An error while building a fixture.
pub type FixtureError = Box<dyn Error + Send + Sync>;

/// The algorithms benchmarked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    /// RSA 2048 with SHA-256, PKCS#1 v1.5.
    Rs256,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// Ed25519.
    EdDsa,
    /// HMAC with SHA-256.
    Hs256,
}

impl Alg {
    /// Every benchmarked algorithm.
    pub const ALL: [Self; 4] = [Self::Rs256, Self::Es256, Self::EdDsa, Self::Hs256];

    /// A lower-case name for routes and benchmark ids.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "rs256",
            Self::Es256 => "es256",
            Self::EdDsa => "eddsa",
            Self::Hs256 => "hs256",
        }
    }

    /// The JOSE algorithm.
    /// The algorithm as portcullis names it.
    pub const fn portcullis_algorithm(self) -> portcullis::keys::Algorithm {
        match self {
            Self::Rs256 => portcullis::keys::Algorithm::RS256,
            Self::Es256 => portcullis::keys::Algorithm::ES256,
            Self::EdDsa => portcullis::keys::Algorithm::EdDSA,
            Self::Hs256 => portcullis::keys::Algorithm::HS256,
        }
    }

    /// The algorithm as jsonwebtoken names it, for the hand-written check.
    pub const fn algorithm(self) -> Algorithm {
        match self {
            Self::Rs256 => Algorithm::RS256,
            Self::Es256 => Algorithm::ES256,
            Self::EdDsa => Algorithm::EdDSA,
            Self::Hs256 => Algorithm::HS256,
        }
    }
}

/// One algorithm's key material, in the forms each side needs.
pub struct Fixture {
    alg: Alg,
    encoding: EncodingKey,
    decoding: DecodingKey,
    key: Key,
    validation: Validation,
    raw_public: Vec<u8>,
}

/// The claims the bare check deserializes: what a hand-written check typically reads.
#[derive(Debug, Deserialize)]
pub struct BareClaims {
    /// The subject.
    pub sub: String,
    /// The space-separated scopes.
    #[serde(default)]
    pub scope: String,
}

/// Why the bare check refused a token.
#[derive(Debug)]
pub enum BareRefusal {
    /// No valid token: 401.
    Unauthorized,
    /// A valid token without the required scope: 403.
    Forbidden,
}

impl Fixture {
    /// Generates a fresh key for `alg`.
    pub fn generate(alg: Alg) -> Result<Self, FixtureError> {
        let rng = SystemRandom::new();
        let (encoding, decoding, key, raw_public) = match alg {
            Alg::Rs256 => {
                let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)?;
                let private: Pkcs8V1Der<'_> = pair.as_der()?;
                let public: PublicKeyX509Der<'_> = pair.public_key().as_der()?;
                let private = pem("PRIVATE KEY", private.as_ref());
                let public = pem("PUBLIC KEY", public.as_ref());
                (
                    EncodingKey::from_rsa_pem(private.as_bytes())?,
                    DecodingKey::from_rsa_pem(public.as_bytes())?,
                    Key::rsa_pem(&public)?,
                    pair.public_key().as_ref().to_vec(),
                )
            }
            Alg::Es256 => {
                let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)?;
                let pair =
                    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())?;
                let public: PublicKeyX509Der<'_> = pair.public_key().as_der()?;
                let public = pem("PUBLIC KEY", public.as_ref());
                (
                    EncodingKey::from_ec_der(pkcs8.as_ref()),
                    DecodingKey::from_ec_pem(public.as_bytes())?,
                    Key::ec_pem(&public)?,
                    pair.public_key().as_ref().to_vec(),
                )
            }
            Alg::EdDsa => {
                let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)?;
                let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())?;
                let public: PublicKeyX509Der<'_> = pair.public_key().as_der()?;
                let public = pem("PUBLIC KEY", public.as_ref());
                (
                    EncodingKey::from_ed_der(pkcs8.as_ref()),
                    DecodingKey::from_ed_pem(public.as_bytes())?,
                    Key::ed25519_pem(&public)?,
                    pair.public_key().as_ref().to_vec(),
                )
            }
            Alg::Hs256 => (
                EncodingKey::from_secret(HMAC_SECRET)?,
                DecodingKey::from_secret(HMAC_SECRET)?,
                Key::hmac(HMAC_SECRET)?,
                Vec::new(),
            ),
        };
        let key = key.with_algorithm(alg.portcullis_algorithm())?.with_kid(KID);
        let mut validation = Validation::new(alg.algorithm());
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY.as_secs();
        Ok(Self { alg, encoding, decoding, key, validation, raw_public })
    }

    /// The algorithm.
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The public key in the form `jsonwebtoken` hands to `aws-lc-rs` (PKCS#1 for RSA, the
    /// point for EC, the raw key for Ed25519); empty for HMAC.
    pub fn raw_public_key(&self) -> &[u8] {
        &self.raw_public
    }

    /// A portcullis verifier for this key, with the verified-token cache on (the default) or
    /// disabled.
    pub fn verifier(&self, cache: bool) -> Result<Verifier, FixtureError> {
        let builder = Verifier::builder()
            .realm("bench")
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .key(self.key.clone());
        let builder = if cache { builder } else { builder.token_cache(TokenCache::disabled()) };
        Ok(builder.build()?)
    }

    /// A token for `sub` with `scope`, whose `exp` is `lifetime` seconds from now (negative:
    /// already expired), for audience `aud`.
    pub fn token_for(
        &self,
        sub: &str,
        scope: &str,
        lifetime: i64,
        aud: &str,
    ) -> Result<String, FixtureError> {
        let now = jsonwebtoken::get_current_timestamp();
        let exp = now.saturating_add_signed(lifetime);
        let claims = serde_json::json!({
            "iss": ISSUER, "aud": aud, "sub": sub, "scope": scope, "iat": now, "exp": exp,
        });
        let mut header = Header::new(self.alg.algorithm());
        header.kid = Some(KID.to_owned());
        Ok(jsonwebtoken::encode(&header, &claims, &self.encoding)?)
    }

    /// A token that passes: `GRANTED` scopes, valid for `lifetime` seconds.
    pub fn valid_token(&self, lifetime: i64) -> Result<String, FixtureError> {
        self.token_for("alice", GRANTED, lifetime, AUDIENCE)
    }

    /// The hand-written check a service would write without portcullis: `jsonwebtoken::decode`
    /// with the same key and validation, then the scope check.
    pub fn bare_check(&self, token: &str) -> Result<BareClaims, BareRefusal> {
        let data = jsonwebtoken::decode::<BareClaims>(token, &self.decoding, &self.validation)
            .map_err(|_| BareRefusal::Unauthorized)?;
        if data.claims.scope.split(' ').any(|scope| scope == REQUIRED_SCOPE) {
            Ok(data.claims)
        } else {
            Err(BareRefusal::Forbidden)
        }
    }

    /// `jsonwebtoken::decode` alone, without the scope check.
    pub fn bare_decode(&self, token: &str) -> Result<BareClaims, jsonwebtoken::errors::Error> {
        jsonwebtoken::decode::<BareClaims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
    }
}

/// DER bytes as PEM.
fn pem(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
