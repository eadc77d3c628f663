//! The checks of a DPoP proof that need no signature work (RFC 9449 §4.3): its header (`typ`,
//! `alg`, a public `jwk`), its claims against the request (`jti`, `htm`, `htu`, `iat`, `ath`),
//! and the RFC 7638 thumbprint of its key, which a bound token's `cnf.jkt` must equal.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::nonce::DpopNonces;
use super::replay::ReplayStore;
use crate::crypto::sha256;
use crate::keys::{Algorithm, Key};
use crate::numeric_date;
use crate::respond::{DpopNonceReason, DpopProofReason};

/// The proof algorithms accepted unless configured otherwise.
pub(crate) const DEFAULT_ALGORITHMS: [Algorithm; 5] =
    [Algorithm::ES256, Algorithm::ES384, Algorithm::RS256, Algorithm::PS256, Algorithm::EdDSA];

/// How far a proof's `iat` may be from now, either way, before the leeway.
pub(crate) const DEFAULT_IAT_WINDOW: Duration = Duration::from_secs(60);

/// The members of a JWK that only a private key has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A checked DPoP configuration (DPoP allowed or required).
#[derive(Debug)]
pub(crate) struct DpopSettings {
    /// Only DPoP is accepted.
    pub(crate) required: bool,
    /// The accepted proof algorithms: asymmetric only.
    pub(crate) algorithms: Vec<Algorithm>,
    /// The public URL of the API, normalized, without a trailing `/`: a request's `htu` is this
    /// followed by the request's path.
    pub(crate) origin: String,
    /// `iat` may be this far from now, either way, leeway included (seconds).
    pub(crate) window: u64,
    /// Where the `jti`s of accepted proofs are remembered.
    pub(crate) store: Arc<dyn ReplayStore>,
    /// Server-provided nonces, when required (RFC 9449 §9).
    pub(crate) nonces: Option<DpopNonces>,
}

/// What a proof is checked against: the request it came with.
pub(crate) struct ProofRequest<'a> {
    pub(crate) method: &'a str,
    /// The URI the client called, absolute (`htu` must name it); any query is ignored.
    pub(crate) uri: &'a str,
    /// The access token, as presented.
    pub(crate) token: &'a [u8],
    /// Seconds since the epoch.
    pub(crate) now: u64,
}

/// A proof's key, once its header is checked.
pub(crate) struct ProofKey {
    pub(crate) alg: Algorithm,
    pub(crate) key: Key,
    /// The RFC 7638 SHA-256 thumbprint of the `jwk`, base64url.
    pub(crate) thumbprint: String,
}

impl DpopSettings {
    /// The URI a request for `path` (as the client called it, under any `Router::nest` prefix)
    /// names: the configured origin followed by the path.
    pub(crate) fn uri_of(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// The accepted algorithms, as the `algs` attribute of a challenge lists them.
    pub(crate) fn algs(&self) -> String {
        self.algorithms.iter().map(|alg| alg.as_str()).collect::<Vec<_>>().join(" ")
    }

    /// How long a proof's `jti` is remembered: as long as its `iat` can be accepted.
    pub(crate) fn replay_ttl(&self) -> Duration {
        Duration::from_secs(2 * self.window)
    }

    /// Checks the header: `typ` `dpop+jwt`, no critical extension, an accepted `alg`, and a
    /// public `jwk` usable with it.
    pub(crate) fn check_header(
        &self,
        header: &Map<String, Value>,
    ) -> Result<ProofKey, DpopProofReason> {
        match header.get("typ") {
            Some(Value::String(typ)) if typ.eq_ignore_ascii_case("dpop+jwt") => {}
            _ => return Err(DpopProofReason::WrongType),
        }
        if header.contains_key("crit") {
            return Err(DpopProofReason::Malformed);
        }
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .and_then(|name| name.parse::<Algorithm>().ok())
            .filter(|alg| self.algorithms.contains(alg))
            .ok_or(DpopProofReason::DisallowedAlgorithm)?;
        let Some(Value::Object(jwk)) = header.get("jwk") else {
            return Err(DpopProofReason::InvalidKey);
        };
        if PRIVATE_MEMBERS.iter().any(|member| jwk.contains_key(*member)) {
            return Err(DpopProofReason::PrivateKey);
        }
        let thumbprint = thumbprint(jwk).ok_or(DpopProofReason::InvalidKey)?;
        let key = Key::from_jwk(&Value::Object(jwk.clone()))
            .ok()
            .filter(|key| key.algorithms().contains(&alg))
            .ok_or(DpopProofReason::InvalidKey)?;
        Ok(ProofKey { alg, key, thumbprint })
    }

    /// Checks the claims against `request`; returns the `jti`.
    pub(crate) fn check_claims<'c>(
        &self,
        claims: &'c Map<String, Value>,
        request: &ProofRequest<'_>,
    ) -> Result<&'c str, DpopProofReason> {
        let string = |name| match claims.get(name) {
            Some(Value::String(value)) if !value.is_empty() => Ok(value.as_str()),
            _ => Err(DpopProofReason::MissingClaim),
        };
        let jti = string("jti")?;
        let (htm, htu, ath) = (string("htm")?, string("htu")?, string("ath")?);
        let iat = claims
            .get("iat")
            .and_then(numeric_date::seconds)
            .ok_or(DpopProofReason::MissingClaim)?;
        if htm != request.method {
            return Err(DpopProofReason::WrongMethod);
        }
        let expected = normalize_uri(request.uri);
        if expected.is_none() || normalize_uri(htu) != expected {
            return Err(DpopProofReason::WrongUri);
        }
        if iat.abs_diff(request.now) > self.window {
            return Err(DpopProofReason::Stale);
        }
        // RFC 9449 needs no `exp`, but one that is there is kept: a proof past it is stale.
        match claims.get("exp") {
            None => {}
            Some(exp) => match numeric_date::seconds(exp) {
                Some(exp) if exp >= request.now => {}
                Some(_) => return Err(DpopProofReason::Stale),
                None => return Err(DpopProofReason::Malformed),
            },
        }
        if ath != URL_SAFE_NO_PAD.encode(sha256(request.token)) {
            return Err(DpopProofReason::WrongTokenHash);
        }
        Ok(jti)
    }
}

impl DpopSettings {
    /// Checks the proof's `nonce`, when nonces are required: `Ok(Some(fresh))` when it is valid
    /// but about to expire, with the nonce the client should use next.
    pub(crate) fn check_nonce(
        &self,
        claims: &Map<String, Value>,
        now: u64,
    ) -> Result<Option<String>, DpopNonceReason> {
        let Some(nonces) = &self.nonces else {
            return Ok(None);
        };
        let nonce = match claims.get("nonce") {
            None => return Err(DpopNonceReason::Missing),
            Some(Value::String(nonce)) => nonce,
            Some(_) => return Err(DpopNonceReason::Invalid),
        };
        Ok(nonces.check(nonce, now)?.then(|| nonces.issue(now)))
    }
}

/// The key under which a proof is remembered: a digest of its `jti` and its key's thumbprint,
/// never the proof's own text.
pub(crate) fn replay_key(jti: &str, thumbprint: &str) -> [u8; 32] {
    let mut input = Vec::with_capacity(jti.len() + thumbprint.len() + 1);
    input.extend_from_slice(thumbprint.as_bytes());
    input.push(0);
    input.extend_from_slice(jti.as_bytes());
    sha256(&input)
}

/// The RFC 7638 SHA-256 thumbprint of a public JWK, base64url: the required members of its key
/// type, in lexicographic order, as JSON without whitespace. `None` for another key type or a
/// member that is not a string.
pub(crate) fn thumbprint(jwk: &Map<String, Value>) -> Option<String> {
    let members: &[&str] = match jwk.get("kty")?.as_str()? {
        "EC" => &["crv", "kty", "x", "y"],
        "RSA" => &["e", "kty", "n"],
        "OKP" => &["crv", "kty", "x"],
        _ => return None,
    };
    let mut json = String::from("{");
    for (index, name) in members.iter().enumerate() {
        let value = jwk.get(*name)?.as_str()?;
        if index > 0 {
            json.push(',');
        }
        json.push_str(&format!("\"{name}\":{}", Value::String(value.to_owned())));
    }
    json.push('}');
    Some(URL_SAFE_NO_PAD.encode(sha256(json.as_bytes())))
}

/// An `http` or `https` URI normalized as RFC 9449 §4.3 asks (RFC 3986 §6.2.2 and §6.2.3):
/// query and fragment dropped, scheme and host in lower case, the default port removed, an
/// empty path made `/`, percent-encodings in upper case and those of unreserved characters
/// decoded. `None` for anything else (another scheme, user information, a bad escape).
pub(crate) fn normalize_uri(uri: &str) -> Option<String> {
    let uri = uri.split('#').next().unwrap_or_default();
    let uri = uri.split('?').next().unwrap_or_default();
    let (scheme, rest) = uri.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let mut host = authority.to_ascii_lowercase();
    if let Some((name, port)) = host.rsplit_once(':')
        && port.bytes().all(|b| b.is_ascii_digit())
        && (!name.starts_with('[') || name.ends_with(']'))
        && (port.is_empty() || port == default_port)
    {
        host.truncate(name.len());
    }
    let path = if path.is_empty() { "/" } else { path };
    Some(format!("{scheme}://{host}{}", normalize_escapes(path)?))
}

/// Percent-encodings in upper case, and those of unreserved characters decoded.
fn normalize_escapes(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] != b'%' {
            out.push(char::from(bytes[index]));
            index += 1;
            continue;
        }
        let hex = path.get(index + 1..index + 3)?;
        let byte = u8::from_str_radix(hex, 16).ok()?;
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push_str(&hex.to_ascii_uppercase());
        }
        index += 3;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc7638_example_thumbprint() {
        // RFC 7638 §3.1.
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(
            thumbprint(jwk.as_object().unwrap()).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
        assert_eq!(thumbprint(json!({"kty": "oct", "k": "x"}).as_object().unwrap()), None);
    }

    #[test]
    fn uris_are_normalized_before_comparison() {
        let same = [
            "https://api.example/documents",
            "HTTPS://API.Example:443/documents",
            "https://api.example/documents?x=1#top",
            "https://api.example/%64ocuments",
        ];
        for uri in same {
            assert_eq!(
                normalize_uri(uri).as_deref(),
                Some("https://api.example/documents"),
                "{uri}"
            );
        }
        assert_eq!(normalize_uri("https://api.example").as_deref(), Some("https://api.example/"));
        assert_eq!(normalize_uri("http://[::1]:80/a%2fb").as_deref(), Some("http://[::1]/a%2Fb"));
        assert_eq!(
            normalize_uri("https://api.example:8443/x").as_deref(),
            Some("https://api.example:8443/x")
        );
        for bad in ["ftp://a/b", "https://user@a/b", "https:///b", "https://a/%zz", "https://a/%4"]
        {
            assert_eq!(normalize_uri(bad), None, "{bad}");
        }
    }
}
