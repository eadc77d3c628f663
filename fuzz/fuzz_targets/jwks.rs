//! JWKS documents (RFC 7517 §5), both ways portcullis reads them: a key set the application
//! configures (`KeySet::from_jwks`, strict) and one an identity provider publishes (the key
//! refresh's lenient reader, restricted to the verifier's algorithms; through the `cfg(fuzzing)`
//! entry point `portcullis::fuzzing::published_jwks`).
//!
//! Whatever the bytes: no panic; the lenient reader accepts only a JSON object with a `keys`
//! array; every key either reader keeps has a `kid` no other kept key has, at least one
//! algorithm, never an HMAC one (a JWKS is public), each of the key type of a member of the
//! document with that `kid`, that member not meant for encryption, its `alg` (when it names one)
//! the key's only algorithm; the lenient reader keeps only accepted algorithms, and with a
//! narrower choice of algorithms a subset of the keys; a set the strict reader accepts, the
//! lenient one (every algorithm accepted) reads to the very same keys.
#![no_main]

use std::collections::HashSet;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use portcullis::fuzzing::published_jwks;
use portcullis::keys::{Algorithm, KeySet};
use serde_json::Value;

const ALL: [Algorithm; 12] = [
    Algorithm::HS256,
    Algorithm::HS384,
    Algorithm::HS512,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    /// Bit i: `ALL[i]` accepted by the lenient reader's verifier.
    accepted: u16,
    document: &'a [u8],
}

fn kty_allows(kty: &str, alg: Algorithm) -> bool {
    let name = alg.as_str();
    match kty {
        "RSA" => name.starts_with("RS") || name.starts_with("PS"),
        "EC" => name.starts_with("ES"),
        "OKP" => alg == Algorithm::EdDSA,
        _ => false,
    }
}

/// (kid, algorithms) of each key, in order.
fn summary(keys: &KeySet) -> Vec<(Option<String>, Vec<Algorithm>)> {
    keys.iter().map(|key| (key.kid().map(str::to_owned), key.algorithms().to_vec())).collect()
}

fn check_kept(keys: &KeySet, document: &Value, accepted: Option<&[Algorithm]>) {
    let members = document["keys"].as_array().expect("a keys array");
    let mut kids = HashSet::new();
    for key in keys.iter() {
        let algorithms = key.algorithms();
        assert!(!algorithms.is_empty(), "a key without algorithms");
        for alg in algorithms {
            assert!(!alg.as_str().starts_with("HS"), "a symmetric key from a JWKS");
            if let Some(accepted) = accepted {
                assert!(accepted.contains(alg), "{alg:?} is not accepted");
            }
        }
        let Some(kid) = key.kid() else { continue };
        assert!(kids.insert(kid.to_owned()), "two keys with the kid {kid:?}");
        let candidates: Vec<&Value> =
            members.iter().filter(|member| member["kid"].as_str() == Some(kid)).collect();
        assert!(!candidates.is_empty(), "a kid {kid:?} that no member has");
        let fits = candidates.iter().any(|member| {
            let kty = member["kty"].as_str().unwrap_or_default();
            let not_encryption = member.get("use").is_none_or(|u| u != "enc");
            let alg_ok = match member.get("alg").and_then(Value::as_str) {
                Some(alg) => algorithms
                    .iter()
                    .all(|a| a.as_str() == alg || (alg == "Ed25519" && *a == Algorithm::EdDSA)),
                None => true,
            };
            not_encryption && alg_ok && algorithms.iter().all(|alg| kty_allows(kty, *alg))
        });
        assert!(fits, "key {kid:?} {algorithms:?} fits no member: {candidates:?}");
    }
}

fuzz_target!(|input: Input<'_>| {
    let accepted: Vec<Algorithm> = ALL
        .iter()
        .enumerate()
        .filter(|(index, _)| input.accepted & (1 << index) != 0)
        .map(|(_, alg)| *alg)
        .collect();
    let strict = std::str::from_utf8(input.document).ok().map(KeySet::from_jwks);
    let lenient_all = published_jwks(input.document, &ALL);
    let lenient = published_jwks(input.document, &accepted);

    // Invalid UTF-8 replaced: serde skips a member it does not read (a top-level one beside
    // `keys`) without checking its bytes.
    let document: Option<Value> =
        serde_json::from_str(&String::from_utf8_lossy(input.document)).ok();
    for outcome in [&lenient_all, &lenient] {
        if outcome.is_ok() {
            let document = document.as_ref().expect("a JSON document");
            assert!(document["keys"].is_array(), "no keys array: {document}");
        }
    }
    if let Ok(keys) = &lenient_all {
        check_kept(keys, document.as_ref().unwrap(), None);
    }
    if let Ok(keys) = &lenient {
        check_kept(keys, document.as_ref().unwrap(), Some(&accepted));
        let all: Vec<_> = summary(lenient_all.as_ref().expect("the same document"))
            .into_iter()
            .map(|(kid, _)| kid)
            .collect();
        for (kid, _) in summary(keys) {
            assert!(all.contains(&kid), "{kid:?} kept only with fewer algorithms");
        }
    }
    if let Some(Ok(keys)) = &strict {
        let document = document.as_ref().expect("a JSON document");
        check_kept(keys, document, None);
        let lenient =
            lenient_all.as_ref().expect("the lenient reader accepts what the strict one does");
        assert_eq!(summary(keys), summary(lenient), "the two readers disagree");
    }
});
