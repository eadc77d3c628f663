//! The verifier on arbitrary token bytes, with real keys configured (HMAC, RSA, EC P-256 and
//! Ed25519, each with a kid).
//!
//! Three kinds of input: raw token text; arbitrary header and payload *bytes* signed for real
//! with the HMAC secret or the Ed25519 key (so that the fuzzer gets past the signature and
//! explores header and claims handling); and seed-like tokens with a chosen header. Whatever the
//! input, `verify` must not panic, and a token it accepts must satisfy the policy, checked
//! independently: an allowed `alg`, an unexpired `exp`, the configured `iss` and `aud`, a
//! non-empty string `sub`, and no `nbf` in the future.
#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use libfuzzer_sys::fuzz_target;
use portcullis::{Key, Verifier};
use serde_json::Value;

const SECRET: &[u8] = b"fuzzing-secret-of-at-least-32-bytes!";
const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "api";
const LEEWAY: u64 = 30;

struct Fixture {
    verifier: Verifier,
    hmac: EncodingKey,
    ed: EncodingKey,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let pem = |name: &str| {
            std::fs::read(format!("{}/../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR")))
                .expect("the test fixtures")
        };
        let verifier = Verifier::builder()
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .key(Key::hmac(SECRET).unwrap().with_kid("h"))
            .key(Key::rsa_pem(pem("rsa_public.pem")).unwrap().with_kid("r"))
            .key(Key::ec_pem(pem("ec_p256_public.pem")).unwrap().with_kid("e"))
            .key(Key::ed25519_pem(pem("ed25519_public.pem")).unwrap().with_kid("d"))
            .build()
            .unwrap();
        Fixture {
            verifier,
            hmac: EncodingKey::from_secret(SECRET).unwrap(),
            ed: EncodingKey::from_ed_pem(&pem("ed25519_private.pem")).unwrap(),
        }
    })
}

#[derive(Arbitrary, Debug)]
enum Input<'a> {
    /// Token text as sent.
    Raw(&'a str),
    /// Header and payload bytes, signed for real.
    Signed { ed: bool, header: &'a [u8], payload: &'a [u8] },
    /// A JSON header naming a key, with a fuzzed payload, signed for real.
    Claims { ed: bool, kid: &'a str, payload: &'a [u8] },
    /// Claims built around the policy (times relative to now), so that accepting paths are
    /// reached; the outcome is predicted independently and must match.
    Policy(Policy<'a>),
}

#[derive(Arbitrary, Debug)]
struct Policy<'a> {
    ed: bool,
    /// 0: the signing key's kid; 1: none; 2: another configured key's kid; else `other_kid`.
    kid: u8,
    other_kid: &'a str,
    sub: Option<&'a str>,
    /// 0: the configured issuer; 1: absent; else `other`.
    iss: u8,
    /// 0: the audience; 1: an array holding it; 2: absent; 3: a number; else `other`.
    aud: u8,
    other: &'a str,
    exp: Option<i32>,
    nbf: Option<i32>,
    scope: &'a str,
    extra: Vec<(&'a str, &'a str)>,
}

/// Signs the claims of `policy` and says whether they should be accepted (`None`: too close
/// to a time boundary to say).
fn policy_token(policy: &Policy<'_>) -> (String, Option<bool>) {
    use serde_json::json;
    let now = jsonwebtoken::get_current_timestamp() as i64;
    let (alg, own, foreign) = if policy.ed { ("EdDSA", "d", "h") } else { ("HS256", "h", "d") };
    let kid = match policy.kid {
        0 => Some(own),
        1 => None,
        2 => Some(foreign),
        _ => Some(policy.other_kid),
    };
    let mut header = json!({"alg": alg});
    if let Some(kid) = kid {
        header["kid"] = json!(kid);
    }
    let mut claims = serde_json::Map::new();
    for (name, value) in &policy.extra {
        claims.insert((*name).to_owned(), json!(value));
    }
    if let Some(sub) = policy.sub {
        claims.insert("sub".into(), json!(sub));
    }
    match policy.iss {
        0 => drop(claims.insert("iss".into(), json!(ISSUER))),
        1 => drop(claims.remove("iss")),
        _ => drop(claims.insert("iss".into(), json!(policy.other))),
    }
    match policy.aud {
        0 => drop(claims.insert("aud".into(), json!(AUDIENCE))),
        1 => drop(claims.insert("aud".into(), json!([policy.other, AUDIENCE]))),
        2 => drop(claims.remove("aud")),
        3 => drop(claims.insert("aud".into(), json!(42))),
        _ => drop(claims.insert("aud".into(), json!(policy.other))),
    }
    let exp = policy.exp.map(|offset| now + i64::from(offset));
    let nbf = policy.nbf.map(|offset| now + i64::from(offset));
    match exp {
        Some(exp) => drop(claims.insert("exp".into(), json!(exp))),
        None => drop(claims.remove("exp")),
    }
    match nbf {
        Some(nbf) => drop(claims.insert("nbf".into(), json!(nbf))),
        None => drop(claims.remove("nbf")),
    }
    claims.insert("scope".into(), json!(policy.scope));
    let token =
        sign(policy.ed, header.to_string().as_bytes(), &serde_json::to_vec(&claims).unwrap());

    let leeway = LEEWAY as i64;
    let near = |t: i64, edge: i64| (t - edge).abs() <= 2;
    if exp.is_some_and(|e| near(e + leeway, now)) || nbf.is_some_and(|n| near(n, now + leeway)) {
        return (token, None);
    }
    let time_ok = exp.is_some_and(|e| e >= 0 && e + leeway > now)
        && nbf.is_none_or(|n| n < 0 || n <= now + leeway);
    // A negative `nbf` is not a NumericDate: refused as a claim of the wrong type.
    let nbf_ok = nbf.is_none_or(|n| n >= 0);
    let iss_ok = policy.iss == 0 || (policy.iss > 1 && policy.other == ISSUER);
    let aud_ok = matches!(policy.aud, 0 | 1) || (policy.aud > 3 && policy.other == AUDIENCE);
    let sub_ok = policy.sub.is_some_and(|s| !s.is_empty());
    let kid_ok = kid == Some(own);
    // Any `cnf` binds the token to its client: never a bearer token for `verify`.
    let unbound = !claims.contains_key("cnf");
    (token, Some(time_ok && nbf_ok && iss_ok && aud_ok && sub_ok && kid_ok && unbound))
}

fn sign(ed: bool, header: &[u8], payload: &[u8]) -> String {
    let fixture = fixture();
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload));
    let (key, alg) =
        if ed { (&fixture.ed, Algorithm::EdDSA) } else { (&fixture.hmac, Algorithm::HS256) };
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).unwrap();
    format!("{input}.{signature}")
}

fuzz_target!(|input: Input<'_>| {
    let mut prediction = None;
    let token = match input {
        Input::Policy(policy) => {
            let (token, expected) = policy_token(&policy);
            prediction = expected;
            token
        }
        Input::Raw(text) => text.to_owned(),
        Input::Signed { ed, header, payload } => sign(ed, header, payload),
        Input::Claims { ed, kid, payload } => {
            let alg = if ed { "EdDSA" } else { "HS256" };
            let header = serde_json::json!({"alg": alg, "typ": "JWT", "kid": kid}).to_string();
            sign(ed, header.as_bytes(), payload)
        }
    };
    let verifier = &fixture().verifier;
    let outcome = verifier.verify(&token);
    if let Some(expected) = prediction {
        assert_eq!(outcome.is_ok(), expected, "{outcome:?}");
    }
    let Ok(principal) = outcome else { return };

    // Accepted: check the policy independently of the crate.
    let header = jsonwebtoken::decode_header(&token).expect("an accepted token has a header");
    // The header's own `alg` text, read as portcullis names algorithms: one the verifier allows.
    let raw_header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap())
            .unwrap();
    let alg: portcullis::keys::Algorithm =
        raw_header["alg"].as_str().expect("a string alg").parse().expect("a known alg");
    assert!(verifier.algorithms().contains(&alg), "{alg:?}");
    let payload = token.split('.').nth(1).unwrap();
    let claims: serde_json::Map<String, Value> =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let now = jsonwebtoken::get_current_timestamp();
    let exp = claims.get("exp").and_then(Value::as_f64).expect("a numeric exp");
    assert!(exp + (LEEWAY as f64) + 1.0 >= now as f64, "expired: {exp}");
    if let Some(nbf) = claims.get("nbf") {
        let nbf = nbf.as_f64().expect("a numeric nbf");
        assert!(nbf <= (now + LEEWAY + 1) as f64, "not yet valid: {nbf}");
    }
    assert_eq!(claims.get("iss"), Some(&Value::String(ISSUER.to_owned())));
    match claims.get("aud") {
        Some(Value::String(aud)) => assert_eq!(aud, AUDIENCE),
        Some(Value::Array(auds)) => assert!(auds.contains(&Value::String(AUDIENCE.to_owned()))),
        other => panic!("aud {other:?}"),
    }
    let sub = claims.get("sub").and_then(Value::as_str).expect("a string sub");
    assert!(!sub.is_empty());
    assert_eq!(principal.subject(), sub);
    assert!(header.crit.is_none());
    assert!(!claims.contains_key("cnf"), "a bound token accepted as a bearer token");
    if report_accepted() {
        eprintln!("accepted: sub {sub:?}, alg {:?}", header.alg);
    }
});

/// `FUZZ_REPORT_ACCEPTED=1` prints every accepted token's subject: run the target over its
/// corpus with `-runs=0` to see that the fuzzer does reach the accepting paths.
fn report_accepted() -> bool {
    static REPORT: OnceLock<bool> = OnceLock::new();
    *REPORT.get_or_init(|| std::env::var_os("FUZZ_REPORT_ACCEPTED").is_some())
}
