//! DPoP (RFC 9449) through DPoP-configured verifiers: arbitrary `Authorization` schemes and
//! tokens (bound to one key, to another, unbound, or arbitrary text) with zero, one or several
//! `DPoP` proofs, each arbitrary text or a real ES256 proof with fuzzed header and claims
//! (`typ`, `alg`, `jwk`, `jti`, `htm`, `htu`, `iat`, `ath`, `nonce`, anything else), on a
//! verifier that allows DPoP (development disclosure, in-process replay store) and one that
//! requires it with server nonces.
//!
//! Whatever the input: no panic; a refusal is 400 or 401, a problem document whose `status` is
//! the HTTP status, with every `WWW-Authenticate` value a list of challenges an independent
//! RFC 9110 §11 parser reads, a `DPoP` challenge (with `algs`) whenever DPoP is required or the
//! client used the scheme, only RFC 6750/9449 error codes, and a `DPoP-Nonce` with
//! `use_dpop_nonce`; nothing of the token or the proofs is echoed. An accepted request is
//! checked independently: a bearer principal only for an unbound token under the `Bearer`
//! scheme where DPoP is only allowed; a DPoP principal only for the `DPoP` scheme, one proof,
//! signed with the very key the token is bound to (its `jwk` that key's public members, no
//! private member), `typ` `dpop+jwt`, `alg` ES256, `htm` the method, `htu` the request's URL
//! under RFC 9449 §4.3's normalisation (written here independently), `iat` within the window,
//! `ath` the token's hash, a `jti` never accepted before with that key, and (when nonces are
//! required) a nonce this server issued. The same request sent again is refused: a replay.
#![no_main]

use std::cell::RefCell;
use std::collections::HashMap;
use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use axum::response::IntoResponse;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderValue, Method, Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use portcullis::Verifier;
use portcullis::config::Dpop;
use portcullis::dpop::DpopNonces;
use portcullis::response::Disclosure;
use portcullis::testing::{DpopKey, TestIssuer};
use serde_json::{Map, Value, json};

#[path = "support/challenges.rs"]
mod challenges;

const ORIGIN: &str = "https://api.example";
/// The default `iat` window (60 s) widened by the default leeway (30 s), and a margin for a slow
/// execution.
const WINDOW: i64 = 60 + 30 + 2;

struct Fixture {
    /// DPoP allowed, development disclosure (the most detailed answers).
    allowed: Verifier,
    /// DPoP required, with server nonces.
    required: Verifier,
    keys: [DpopKey; 2],
    /// Bound to key 0, bound to key 1, unbound.
    tokens: [String; 3],
    runtime: tokio::runtime::Runtime,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let issuer = TestIssuer::new();
        let allowed = issuer
            .verifier()
            .disclosure(Disclosure::Development)
            .dpop(Dpop::allowed().origin(ORIGIN))
            .build()
            .unwrap();
        let nonces = DpopNonces::with_key([42u8; 32]).unwrap();
        let required =
            issuer.verifier().dpop(Dpop::required().origin(ORIGIN).nonces(nonces)).build().unwrap();
        let keys = [DpopKey::new(), DpopKey::new()];
        let day = Duration::from_secs(86_400);
        let tokens = [
            issuer.token("alice").bound_to(&keys[0]).expires_in(day).sign(),
            issuer.token("bob").bound_to(&keys[1]).expires_in(day).sign(),
            issuer.token("carol").expires_in(day).sign(),
        ];
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        Fixture { allowed, required, keys, tokens, runtime }
    })
}

thread_local! {
    /// Every nonce the required verifier handed out in this process.
    static ISSUED: RefCell<HashSet<String>> = RefCell::new(HashSet::new());
    /// (verifier: DPoP required or not, key, jti) of every accepted proof, and when.
    static ACCEPTED: RefCell<HashMap<(bool, usize, String), Instant>> = RefCell::new(HashMap::new());
}

#[derive(Arbitrary, Debug)]
enum TokenChoice<'a> {
    BoundTo(bool),
    Unbound,
    Raw(&'a str),
}

#[derive(Arbitrary, Debug)]
enum Scheme<'a> {
    Dpop,
    Bearer,
    Raw(&'a str),
}

#[derive(Arbitrary, Debug)]
enum Name<'a> {
    Typ,
    Alg,
    Jwk,
    Kid,
    Crit,
    Jti,
    Htm,
    Htu,
    Iat,
    Ath,
    Nonce,
    Cnf,
    Other(&'a str),
}

impl Name<'_> {
    fn as_str(&self) -> &str {
        match self {
            Self::Typ => "typ",
            Self::Alg => "alg",
            Self::Jwk => "jwk",
            Self::Kid => "kid",
            Self::Crit => "crit",
            Self::Jti => "jti",
            Self::Htm => "htm",
            Self::Htu => "htu",
            Self::Iat => "iat",
            Self::Ath => "ath",
            Self::Nonce => "nonce",
            Self::Cnf => "cnf",
            Self::Other(name) => name,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Json<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
    Strs(Vec<&'a str>),
    /// `now` plus this many seconds.
    Time(i32),
    /// The other key's public JWK.
    OtherJwk,
    /// The signing key's JWK with a private member added.
    JwkWith(&'a str, &'a str),
    /// The signing key's JWK without one member.
    JwkWithout(&'a str),
}

#[derive(Arbitrary, Debug)]
enum Edit<'a> {
    Header(Name<'a>, Json<'a>),
    NoHeader(Name<'a>),
    Claim(Name<'a>, Json<'a>),
    NoClaim(Name<'a>),
}

#[derive(Arbitrary, Debug)]
enum NonceChoice<'a> {
    None,
    Fresh,
    Raw(&'a str),
}

#[derive(Arbitrary, Debug)]
enum Proof<'a> {
    Raw(&'a str),
    Built { other_key: bool, nonce: NonceChoice<'a>, edits: Vec<Edit<'a>> },
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    required: bool,
    token: TokenChoice<'a>,
    scheme: Scheme<'a>,
    method: u8,
    path: &'a str,
    proofs: Vec<Proof<'a>>,
    replay: bool,
}

const METHODS: [Method; 4] = [Method::GET, Method::POST, Method::DELETE, Method::PATCH];

fn value(json: &Json<'_>, key: &DpopKey, other: &DpopKey) -> Value {
    let now = jsonwebtoken::get_current_timestamp() as i64;
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => json!(b),
        Json::Int(n) => json!(n),
        Json::Float(x) => json!(x),
        Json::Str(text) => json!(text),
        Json::Strs(texts) => json!(texts),
        Json::Time(offset) => json!(now + i64::from(*offset)),
        Json::OtherJwk => other.jwk().clone(),
        Json::JwkWith(name, text) => {
            let mut jwk = key.jwk().clone();
            jwk[*name] = json!(text);
            jwk
        }
        Json::JwkWithout(name) => {
            let mut jwk = key.jwk().clone();
            if let Some(members) = jwk.as_object_mut() {
                members.remove(*name);
            }
            jwk
        }
    }
}

fn decode_part(proof: &str, index: usize) -> Option<Map<String, Value>> {
    let part = proof.split('.').nth(index)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}

/// RFC 9449 §4.3 (RFC 3986 §6.2.2, §6.2.3), independently of the crate: no query or fragment,
/// scheme and host in lower case, no default port, percent-encodings in upper case and those of
/// unreserved characters decoded, an empty path as `/`.
fn normalized(uri: &str) -> Option<String> {
    let uri = &uri[..uri.find(['?', '#']).unwrap_or(uri.len())];
    let colon = uri.find("://")?;
    let scheme = uri[..colon].to_ascii_lowercase();
    let rest = &uri[colon + 3..];
    let slash = rest.find('/').unwrap_or(rest.len());
    let mut authority = rest[..slash].to_ascii_lowercase();
    if scheme == "https" && authority.ends_with(":443") {
        authority.truncate(authority.len() - 4);
    } else if authority.ends_with(':') {
        authority.pop();
    }
    let mut path = Vec::new();
    let bytes = rest[slash..].as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            let byte = u8::from_str_radix(hex, 16).ok()?;
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                path.push(byte);
            } else {
                path.extend_from_slice(format!("%{byte:02X}").as_bytes());
            }
            i += 3;
        } else {
            path.push(bytes[i]);
            i += 1;
        }
    }
    if path.is_empty() {
        path.push(b'/');
    }
    Some(format!("{scheme}://{authority}{}", String::from_utf8_lossy(&path)))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fuzz_target!(|input: Input<'_>| {
    let fixture = fixture();
    let verifier = if input.required { &fixture.required } else { &fixture.allowed };
    let method = METHODS[usize::from(input.method) % METHODS.len()].clone();
    let Ok(uri) = format!("/{}", input.path).parse::<http::Uri>() else { return };
    let url = format!("{ORIGIN}{}", uri.path());
    let (token, bound_to): (&str, Option<usize>) = match input.token {
        TokenChoice::BoundTo(other) => {
            (&fixture.tokens[usize::from(other)], Some(usize::from(other)))
        }
        TokenChoice::Unbound => (&fixture.tokens[2], None),
        TokenChoice::Raw(text) => (text, None),
    };
    let scheme = match input.scheme {
        Scheme::Dpop => "DPoP",
        Scheme::Bearer => "Bearer",
        Scheme::Raw(text) => text,
    };
    let Ok(authorization) = HeaderValue::from_str(&format!("{scheme} {token}")) else { return };

    let mut proofs = Vec::new();
    let mut signers = Vec::new();
    for proof in input.proofs.iter().take(3) {
        match proof {
            Proof::Raw(text) => {
                proofs.push((*text).to_owned());
                signers.push(None);
            }
            Proof::Built { other_key, nonce, edits } => {
                let signer = usize::from(*other_key);
                let key = &fixture.keys[signer];
                let other = &fixture.keys[1 - signer];
                let mut builder = key.proof(method.as_str(), &url, token);
                match nonce {
                    NonceChoice::None => {}
                    NonceChoice::Fresh => {
                        let nonce = fixture.required.dpop_nonce().expect("nonces are configured");
                        ISSUED.with(|issued| issued.borrow_mut().insert(nonce.clone()));
                        builder = builder.nonce(nonce);
                    }
                    NonceChoice::Raw(text) => builder = builder.nonce(*text),
                }
                for edit in edits.iter().take(6) {
                    builder = match edit {
                        Edit::Header(name, json) => {
                            builder.header(name.as_str(), value(json, key, other))
                        }
                        Edit::NoHeader(name) => builder.without_header(name.as_str()),
                        Edit::Claim(name, json) => {
                            builder.claim(name.as_str(), value(json, key, other))
                        }
                        Edit::NoClaim(name) => builder.without_claim(name.as_str()),
                    };
                }
                proofs.push(builder.sign());
                signers.push(Some(signer));
            }
        }
    }
    let mut request = Request::builder().method(method.clone()).uri(uri.clone());
    request = request.header(AUTHORIZATION, authorization);
    for proof in &proofs {
        let Ok(value) = HeaderValue::from_str(proof) else { return };
        request = request.header("dpop", value);
    }
    let (parts, ()) = request.body(()).unwrap().into_parts();

    let outcome = fixture.runtime.block_on(verifier.authenticate(&parts));
    let principal = match outcome {
        Err(denial) => {
            // The secrets: the fixture's token and the signatures of real proofs (arbitrary
            // text may well be something a response says itself).
            let mut secrets: Vec<&str> = signers
                .iter()
                .zip(&proofs)
                .filter(|(signer, _)| signer.is_some())
                .map(|(_, proof)| proof.as_str())
                .collect();
            if !matches!(input.token, TokenChoice::Raw(_)) {
                secrets.push(token);
            }
            check_refusal(denial, input.required, scheme, &secrets, &uri);
            return;
        }
        Ok(principal) => principal,
    };

    // Accepted: check it independently of the crate.
    if !principal.is_dpop() {
        assert!(!input.required, "a bearer principal where DPoP is required");
        assert!(scheme.eq_ignore_ascii_case("bearer"), "a bearer principal under {scheme:?}");
        assert!(matches!(input.token, TokenChoice::Unbound), "a bound token accepted as bearer");
        if report_accepted() {
            eprintln!("accepted: bearer");
        }
        return;
    }
    assert!(scheme.eq_ignore_ascii_case("dpop"), "a DPoP principal under {scheme:?}");
    assert_eq!(proofs.len(), 1, "accepted with {} proofs", proofs.len());
    let holder = bound_to.expect("a DPoP principal for a token bound to a fuzzer key");
    assert_eq!(signers[0], Some(holder), "a proof not signed with the token's key");
    let proof = &proofs[0];
    let header = decode_part(proof, 0).expect("a JSON header");
    let claims = decode_part(proof, 1).expect("JSON claims");
    assert!(
        header
            .get("typ")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("dpop+jwt")),
        "typ {:?}",
        header.get("typ")
    );
    assert_eq!(header.get("alg"), Some(&json!("ES256")));
    assert!(header.get("crit").is_none(), "crit accepted");
    let jwk = header.get("jwk").and_then(Value::as_object).expect("a jwk");
    let own = fixture.keys[holder].jwk().as_object().unwrap();
    for (name, value) in own {
        assert_eq!(jwk.get(name), Some(value), "jwk member {name}");
    }
    for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
        assert!(!jwk.contains_key(private), "a jwk with the private member {private}");
    }
    assert_eq!(claims.get("htm"), Some(&json!(method.as_str())), "htm");
    let htu = claims.get("htu").and_then(Value::as_str).expect("a string htu");
    assert_eq!(normalized(htu), normalized(&url), "htu {htu:?} for {url:?}");
    let now = jsonwebtoken::get_current_timestamp() as f64;
    let iat = claims.get("iat").and_then(Value::as_f64).expect("a numeric iat");
    assert!((iat - now).abs() <= WINDOW as f64, "iat {iat} at {now}");
    let expected_ath = decode_part(&fixture.keys[holder].proof("GET", &url, token).sign(), 1)
        .and_then(|claims| claims.get("ath").cloned());
    assert_eq!(claims.get("ath"), expected_ath.as_ref(), "ath");
    let jti = claims.get("jti").and_then(Value::as_str).expect("a string jti");
    assert!(!jti.is_empty());
    // The replay store keeps a proof's key for twice the window (180 s) after accepting it; each
    // verifier (DPoP allowed, DPoP required) has a store of its own, as two servers would.
    let seen = (input.required, holder, jti.to_owned());
    let before = ACCEPTED.with(|accepted| accepted.borrow_mut().insert(seen, Instant::now()));
    assert!(
        before.is_none_or(|at| at.elapsed() >= Duration::from_secs(178)),
        "the jti {jti:?} accepted twice with one key within the replay window"
    );
    if input.required {
        let nonce = claims.get("nonce").and_then(Value::as_str).expect("a nonce where required");
        assert!(ISSUED.with(|issued| issued.borrow().contains(nonce)), "a nonce never issued");
    }
    if report_accepted() {
        eprintln!("accepted: DPoP proof, jti {jti:?}, key {holder}, required {}", input.required);
    }
    if input.replay {
        let again = fixture.runtime.block_on(verifier.authenticate(&parts));
        let denial = again.expect_err("a replayed proof accepted");
        assert_eq!(denial.status(), StatusCode::UNAUTHORIZED);
    }
});

fn check_refusal(
    denial: portcullis::Denial,
    required: bool,
    scheme: &str,
    secrets: &[&str],
    uri: &http::Uri,
) {
    let status = denial.status();
    assert!(
        matches!(status, StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED),
        "{status}: {denial:?}"
    );
    let response = denial.into_response();
    assert_eq!(response.status(), status);
    let (parts, body) = response.into_parts();
    let body =
        fixture().runtime.block_on(http_body_util::BodyExt::collect(body)).unwrap().to_bytes();
    assert_eq!(parts.headers[CONTENT_TYPE], "application/problem+json");
    let document: Value = serde_json::from_slice(&body).expect("a JSON problem");
    assert_eq!(document["status"], status.as_u16());

    let mut dpop_challenge = false;
    let mut use_nonce = false;
    for value in parts.headers.get_all(WWW_AUTHENTICATE) {
        let text = value.to_str().expect("a visible ASCII challenge");
        let parsed = challenges::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        for (challenge_scheme, params) in parsed {
            let error = params.iter().find(|(name, _)| name == "error").map(|(_, v)| v.as_str());
            assert!(
                error.is_none_or(|e| [
                    "invalid_request",
                    "invalid_token",
                    "invalid_dpop_proof",
                    "use_dpop_nonce"
                ]
                .contains(&e)),
                "error {error:?}"
            );
            if challenge_scheme.eq_ignore_ascii_case("dpop") {
                dpop_challenge = true;
                let algs = params.iter().find(|(name, _)| name == "algs").expect("DPoP algs");
                assert!(!algs.1.is_empty() && !algs.1.contains("HS"), "algs {:?}", algs.1);
                use_nonce |= error == Some("use_dpop_nonce");
            } else {
                assert!(challenge_scheme.eq_ignore_ascii_case("bearer"), "{challenge_scheme}");
                assert!(!required, "a Bearer challenge where DPoP is required");
            }
        }
    }
    if status == StatusCode::UNAUTHORIZED {
        assert!(parts.headers.contains_key(WWW_AUTHENTICATE), "401 without a challenge");
        if required || scheme.eq_ignore_ascii_case("dpop") {
            assert!(dpop_challenge, "no DPoP challenge");
        }
    }
    if use_nonce {
        let nonce = parts.headers.get("dpop-nonce").expect("use_dpop_nonce without a nonce");
        ISSUED.with(|issued| issued.borrow_mut().insert(nonce.to_str().unwrap().to_owned()));
    }
    // Nothing of the credentials comes back (unless the client put it in its own URL too).
    let shown = [format!("{:?}", parts.headers).as_bytes(), &body].concat();
    let own = uri.to_string();
    for secret in secrets {
        if secret.len() >= 24 {
            let needle = &secret.as_bytes()[secret.len() - 24..];
            if !contains(own.as_bytes(), needle) && !contains(scheme.as_bytes(), needle) {
                assert!(!contains(&shown, needle), "a credential echoed");
            }
        }
    }
}

/// `FUZZ_REPORT_ACCEPTED=1` prints every accepted request: run the target over its corpus with
/// `-runs=0` to see that the fuzzer does reach the accepting paths.
fn report_accepted() -> bool {
    static REPORT: OnceLock<bool> = OnceLock::new();
    *REPORT.get_or_init(|| std::env::var_os("FUZZ_REPORT_ACCEPTED").is_some())
}
