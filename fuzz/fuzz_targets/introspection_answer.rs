//! Introspection answers (RFC 7662 §2.2), read as a verifier configured for introspection
//! reads the body its endpoint returned (through the `cfg(fuzzing)` entry point
//! `portcullis::fuzzing::introspection_answer`): the answer, then an active answer's members
//! under the claim rules of a JWT.
//!
//! Whatever the bytes: no panic; an answer that is not a JSON object, or whose `active` is not
//! a boolean, is refused; `active` false or absent is an inactive token; a principal comes only
//! from an object whose `active` is `true`, with an unexpired numeric `exp` (or none), no future
//! `nbf` or `iat`, the endpoint's issuer as `iss`, the API among `aud`, nothing that names a
//! refresh or ID token (`token_use`, `typ`, `token_type`), and a subject that is its `sub` (or
//! its `client_id` without one).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portcullis::Verifier;
use portcullis::fuzzing::introspection_answer;
use portcullis::introspection::Introspection;
use portcullis::testing::TestIssuer;
use serde_json::{Map, Value};

const LEEWAY: f64 = 30.0;

struct Fixture {
    verifier: Verifier,
    issuer: String,
    audience: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let issuer = TestIssuer::new();
        let verifier = issuer
            .verifier()
            .introspection(
                Introspection::endpoint("https://as.example/introspect")
                    .issuer(issuer.issuer())
                    .client_credentials("api", "secret"),
            )
            .build()
            .unwrap();
        Fixture {
            verifier,
            issuer: issuer.issuer().to_owned(),
            audience: issuer.audience().to_owned(),
        }
    })
}

fn names_other_token(members: &Map<String, Value>) -> bool {
    let text = |name: &str| members.get(name).and_then(Value::as_str).map(str::to_ascii_lowercase);
    let uri = |kind: &str| format!("urn:ietf:params:oauth:token-type:{kind}");
    if let Some(used) = text("token_use")
        && !["access", "access_token", &uri("access_token")].contains(&used.as_str())
    {
        return true;
    }
    if let Some(kind) = text("typ")
        && [
            "refresh",
            "offline",
            "id",
            "refresh_token",
            "id_token",
            &uri("refresh_token"),
            &uri("id_token"),
        ]
        .contains(&kind.as_str())
    {
        return true;
    }
    if let Some(kind) = text("token_type")
        && !["bearer", "access_token", &uri("access_token")].contains(&kind.as_str())
        && !(kind == "dpop" && members.contains_key("cnf"))
    {
        return true;
    }
    false
}

fuzz_target!(|body: &[u8]| {
    let fixture = fixture();
    let outcome = introspection_answer(&fixture.verifier, body, Some(&fixture.issuer));
    let document: Option<Value> = serde_json::from_slice(body).ok();
    let members = document.as_ref().and_then(Value::as_object);
    match &outcome {
        Err(_) => {
            // Refused: either no answer at all, or an active one the rules refuse.
            if let Some(members) = members {
                assert!(
                    members.get("active").is_none_or(|active| active != &Value::Bool(false)),
                    "an inactive answer refused as a failure"
                );
            }
            return;
        }
        Ok(None) => {
            let members = members.expect("an inactive answer is an object");
            assert!(
                members.get("active").is_none_or(|active| active == &Value::Bool(false)),
                "{:?} read as inactive",
                members.get("active")
            );
            return;
        }
        Ok(Some(_)) => {}
    }
    let principal = outcome.unwrap().unwrap();
    let members = members.expect("an active answer is an object");
    assert_eq!(members.get("active"), Some(&Value::Bool(true)));
    let now = jsonwebtoken::get_current_timestamp() as f64;
    if let Some(exp) = members.get("exp") {
        let exp = exp.as_f64().expect("a numeric exp");
        assert!(exp + LEEWAY + 1.0 >= now, "expired: {exp}");
    }
    for name in ["nbf", "iat"] {
        if let Some(time) = members.get(name) {
            let time = time.as_f64().expect("a numeric time");
            assert!(time <= now + LEEWAY + 1.0, "{name} in the future: {time}");
        }
    }
    assert_eq!(members.get("iss").and_then(Value::as_str), Some(fixture.issuer.as_str()));
    match members.get("aud") {
        Some(Value::String(aud)) => assert_eq!(aud, &fixture.audience),
        Some(Value::Array(auds)) => {
            assert!(auds.iter().any(|aud| aud.as_str() == Some(&fixture.audience)), "{auds:?}")
        }
        other => panic!("aud {other:?}"),
    }
    assert!(!names_other_token(members), "a refresh or ID token accepted: {members:?}");
    let subject = members.get("sub").or_else(|| members.get("client_id"));
    assert_eq!(subject.and_then(Value::as_str), Some(principal.subject()), "the subject");
});
