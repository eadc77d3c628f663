//! Micro benchmarks of the guard: `cargo bench -p portcullis` (about two minutes).
//!
//! - `guard/{alg}`: the whole guard path on request parts (find the bearer token in the
//!   `Authorization` header, verify it, check the scope) with the verified-token cache hit and
//!   disabled (every call a miss), beside the hand-written check (`jsonwebtoken::decode` of the
//!   same token with the same key and validation, then the same scope check) and bare
//!   `jsonwebtoken::decode` alone, in the same run.
//! - `unauthenticated/missing_token_401`: a request without credentials, refused and rendered.
//! - `expired/{alg}`: the same for a token that expired ten minutes ago: portcullis checks
//!   `exp` before the signature, `jsonwebtoken::decode` after it.
//! - `signature/{alg}`: the signature check alone, with the public key parsed on every call (as
//!   `jsonwebtoken` does) and parsed once ahead.
//! - `denial/{kind}`: rendering each denial to its response (problem document and challenge).
//! - `authorization/`: a cache hit of a scope-only guard, and the same hit followed by a role
//!   check and by a ready-made claim check, in the same run: the difference is what each adds;
//!   and each check alone on the principal of a hit.
//! - `real_guard/`: the guard the macros generate for a scope-only handler, as an extractor.
//! - `introspection/*`: an opaque token whose introspection answer is cached, against an ES256
//!   JWT served from the verified-token cache, through the same guard (the answer is fetched
//!   once, before measuring, from an authorization server on loopback started by the bench).
//! - `dpop/*`: a DPoP request (ES256 proof, the access token a verified-token cache hit) beside
//!   a Bearer cache hit of the same kind of token, through the same guard and verifier; with a
//!   replay store of the bench's own that answers "new" to every proof (the proof check without
//!   the store, one proof reused), and with the default `MemoryReplayStore` (a fresh proof for
//!   every request, minted outside the measured time); and the proof's bare ES256 signature
//!   check (`aws-lc-rs`, and `jsonwebtoken::decode` with the proof's `jwk`) beside it.
//!
//! - `step_up/*`: the generated guard of a scope-only handler beside the same handler's with
//!   `#[requires_authentication(acr = .., max_age = ..)]`, both token-cache hits.
//!
//! Filter as usual: `cargo bench -p portcullis -- guard/es256`.

use std::hint::black_box;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::response::IntoResponse as _;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::request::Parts;
use portcullis::config::Dpop;
use portcullis::testing::{DpopKey, TestIssuer};
use portcullis::{
    Principal, Verifier,
    authorization::{ClaimCheck, PolicyRefusal, RoleRequirement, ScopeRule},
    dpop::{ReplayStore, ReplayStoreError},
    response::{DenialKind, InvalidRequestReason, InvalidTokenReason, NotFoundReason},
};

#[allow(dead_code, unreachable_pub)]
#[path = "../../bench/server/src/fixture.rs"]
mod fixture;

use fixture::{AUDIENCE, Alg, Fixture, GRANTED, ISSUER, REQUIRED};

/// Runs a future that never waits: with keys configured in code, `authenticate` completes on its
/// first poll, so no executor (and none of its cost) is needed.
fn now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the guard waited, but keys configured in code never wait"),
    }
}

/// Request parts carrying `token` as a bearer token.
fn parts(token: &str) -> Parts {
    let request = http::Request::get("/documents/1")
        .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
        .header(http::header::ACCEPT, "application/json")
        .body(())
        .unwrap_or_else(|error| panic!("{error}"));
    request.into_parts().0
}

/// A cache hit of [`guard`], under a name of its own that nothing else calls, so that callgrind
/// counts the hits alone (`bench/instruction-budget`).
#[inline(never)]
fn cache_hit(verifier: &Verifier, parts: &Parts) -> Result<Principal, portcullis::Denial> {
    guard(verifier, parts)
}

/// The guard: authenticate, then the scope check, as the macros' guard does.
fn guard(verifier: &Verifier, parts: &Parts) -> Result<Principal, portcullis::Denial> {
    let principal = now(verifier.authenticate(parts))?;
    if principal.scopes().satisfy(&REQUIRED) {
        Ok(principal)
    } else {
        Err(verifier.deny(DenialKind::InsufficientScope(REQUIRED)))
    }
}

fn guard_path(c: &mut Criterion) {
    for alg in Alg::ALL {
        let fixture = Fixture::generate(alg).unwrap_or_else(|error| panic!("{error}"));
        let token = fixture.valid_token(3600).unwrap_or_else(|error| panic!("{error}"));
        let request = parts(&token);
        let cached = fixture.verifier(true).unwrap_or_else(|error| panic!("{error}"));
        let uncached = fixture.verifier(false).unwrap_or_else(|error| panic!("{error}"));
        // Sanity: every variant accepts the token, so no error path is measured.
        assert!(guard(&cached, &request).is_ok() && guard(&uncached, &request).is_ok());
        assert!(fixture.bare_check(&token).is_ok());

        let mut group = c.benchmark_group(format!("guard/{}", alg.name()));
        group.bench_function("portcullis_cache_hit", |b| {
            b.iter(|| cache_hit(&cached, black_box(&request)));
        });
        group.bench_function("portcullis_cache_miss", |b| {
            b.iter(|| guard(&uncached, black_box(&request)));
        });
        group.bench_function("bare_jsonwebtoken_check", |b| {
            b.iter(|| {
                // The hand-written guard also has to find the token in the header.
                let token = black_box(&request)
                    .headers
                    .get(http::header::AUTHORIZATION)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.strip_prefix("Bearer "))
                    .unwrap_or_default();
                fixture.bare_check(token).is_ok()
            });
        });
        group.bench_function("bare_jsonwebtoken_decode", |b| {
            b.iter(|| fixture.bare_decode(black_box(&token)).is_ok());
        });
        group.finish();
    }
}

/// The guard's answer to a request without credentials: the 401 with its challenge and problem
/// document, rendered. Never inlined, for callgrind's count (`bench/instruction-budget`).
#[inline(never)]
fn unauthenticated_response(verifier: &Verifier, parts: &Parts) -> axum::response::Response {
    match now(verifier.authenticate(parts)) {
        Ok(_) => panic!("a request without credentials passed"),
        Err(denial) => denial.into_response(),
    }
}

/// A request without credentials, refused: the guard's other hot path (clients probing, a
/// client that forgot its token, scanners).
fn unauthenticated(c: &mut Criterion) {
    let fixture = Fixture::generate(Alg::Es256).unwrap_or_else(|error| panic!("{error}"));
    let verifier = fixture.verifier(true).unwrap_or_else(|error| panic!("{error}"));
    let request = http::Request::get("/documents/1")
        .header(http::header::ACCEPT, "application/json")
        .body(())
        .unwrap_or_else(|error| panic!("{error}"))
        .into_parts()
        .0;
    let response = unauthenticated_response(&verifier, &request);
    assert_eq!(response.status(), http::StatusCode::UNAUTHORIZED);
    assert!(response.headers().contains_key(http::header::WWW_AUTHENTICATE));
    let mut group = c.benchmark_group("unauthenticated");
    group.bench_function("missing_token_401", |b| {
        b.iter(|| unauthenticated_response(&verifier, black_box(&request)));
    });
    group.finish();
}

fn expired(c: &mut Criterion) {
    for alg in Alg::ALL {
        let fixture = Fixture::generate(alg).unwrap_or_else(|error| panic!("{error}"));
        let token = fixture.valid_token(-600).unwrap_or_else(|error| panic!("{error}"));
        let request = parts(&token);
        let cached = fixture.verifier(true).unwrap_or_else(|error| panic!("{error}"));
        assert!(guard(&cached, &request).is_err() && fixture.bare_check(&token).is_err());

        let mut group = c.benchmark_group(format!("expired/{}", alg.name()));
        group.bench_function("portcullis", |b| {
            b.iter(|| guard(&cached, black_box(&request)).is_err());
        });
        group.bench_function("bare_jsonwebtoken_decode", |b| {
            b.iter(|| fixture.bare_decode(black_box(&token)).is_err());
        });
        group.finish();
    }
}

/// Signature verification alone, with `aws-lc-rs`: the public key parsed on every call (what
/// `jsonwebtoken::crypto::verify`, and so both portcullis and `jsonwebtoken::decode`, do), and
/// parsed once ahead (`UnparsedPublicKey::parse`).
fn signature(c: &mut Criterion) {
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_FIXED, ED25519, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey,
        VerificationAlgorithm,
    };
    use base64::Engine as _;
    for alg in [Alg::Rs256, Alg::Es256, Alg::EdDsa] {
        let fixture = Fixture::generate(alg).unwrap_or_else(|error| panic!("{error}"));
        let token = fixture.valid_token(3600).unwrap_or_else(|error| panic!("{error}"));
        let (message, signature) = token.rsplit_once('.').unwrap_or_default();
        let signature =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature).unwrap_or_default();
        let algorithm: &'static dyn VerificationAlgorithm = match alg {
            Alg::Rs256 => &RSA_PKCS1_2048_8192_SHA256,
            Alg::Es256 => &ECDSA_P256_SHA256_FIXED,
            _ => &ED25519,
        };
        let unparsed = UnparsedPublicKey::new(algorithm, fixture.raw_public_key().to_vec());
        let parsed = unparsed.parse().unwrap_or_else(|error| panic!("{error}"));
        assert!(unparsed.verify(message.as_bytes(), &signature).is_ok());
        assert!(parsed.verify_sig(message.as_bytes(), &signature).is_ok());

        let mut group = c.benchmark_group(format!("signature/{}", alg.name()));
        group.bench_function("key_parsed_per_call", |b| {
            b.iter(|| {
                UnparsedPublicKey::new(algorithm, black_box(fixture.raw_public_key()))
                    .verify(black_box(message.as_bytes()), &signature)
                    .is_ok()
            });
        });
        group.bench_function("key_parsed_once", |b| {
            b.iter(|| parsed.verify_sig(black_box(message.as_bytes()), &signature).is_ok());
        });
        group.finish();
    }
}

fn denials(c: &mut Criterion) {
    let fixture = Fixture::generate(Alg::Hs256).unwrap_or_else(|error| panic!("{error}"));
    let verifier = fixture.verifier(true).unwrap_or_else(|error| panic!("{error}"));
    let kinds = [
        ("401_missing_credentials", DenialKind::MissingCredentials),
        ("401_invalid_token_expired", DenialKind::InvalidToken(InvalidTokenReason::Expired)),
        (
            "400_invalid_request",
            DenialKind::InvalidRequest(InvalidRequestReason::SeveralAuthorizationHeaders),
        ),
        ("403_insufficient_scope", DenialKind::InsufficientScope(REQUIRED)),
        ("404_not_found", DenialKind::NotFound(NotFoundReason::NotOwner)),
        (
            "503_keys_unavailable",
            DenialKind::KeysUnavailable { retry_after: Duration::from_secs(30) },
        ),
        ("500_lookup_failed", DenialKind::LookupFailed),
    ];
    let mut group = c.benchmark_group("denial");
    for (name, kind) in kinds {
        group.bench_function(name, |b| {
            b.iter(|| verifier.deny(black_box(kind.clone())).into_response());
        });
    }
    group.finish();
}

/// What `#[requires_role("documents-admin")]` requires.
const ADMIN: RoleRequirement = RoleRequirement::new(&[ScopeRule::All(&["documents-admin"])]);
/// What `#[requires_policy(claim_true("email_verified"))]` checks.
const VERIFIED: ClaimCheck = ClaimCheck::IsTrue("email_verified");

/// The guard of a handler that also requires a role, as the macros' guard checks it.
fn guard_with_role(verifier: &Verifier, parts: &Parts) -> Result<Principal, portcullis::Denial> {
    let principal = guard(verifier, parts)?;
    if principal.roles().satisfy(&ADMIN) {
        Ok(principal)
    } else {
        let missing = ADMIN.missing(principal.roles());
        Err(verifier.deny(DenialKind::MissingRole { required: ADMIN, missing }))
    }
}

/// The guard of a handler that also has a ready-made claim check.
fn guard_with_claim(verifier: &Verifier, parts: &Parts) -> Result<Principal, portcullis::Denial> {
    let principal = guard(verifier, parts)?;
    if VERIFIED.is_met_by(principal.claims()) {
        Ok(principal)
    } else {
        Err(verifier.deny(DenialKind::PolicyRefused(PolicyRefusal::CLAIM_NOT_SATISFIED)))
    }
}

fn authorization(c: &mut Criterion) {
    let issuer = TestIssuer::es256();
    let verifier = issuer
        .verifier()
        .role_claims(["realm_access.roles"])
        .build()
        .unwrap_or_else(|error| panic!("{error}"));
    // A Keycloak-like token: a few roles, a few other claims.
    let token = issuer
        .token("alice")
        .scopes(["profile", "docs:read", "docs:write"])
        .claim("email_verified", true)
        .claim("name", "Alice Example")
        .claim(
            "realm_access",
            serde_json::json!({"roles": ["default-roles", "offline_access", "documents-admin"]}),
        )
        .sign();
    let request = parts(&token);
    assert!(guard(&verifier, &request).is_ok());
    assert!(guard_with_role(&verifier, &request).is_ok());
    assert!(guard_with_claim(&verifier, &request).is_ok());

    let mut group = c.benchmark_group("authorization");
    group.bench_function("scope_only_hit", |b| {
        b.iter(|| guard(&verifier, black_box(&request)));
    });
    group.bench_function("scope_and_role_hit", |b| {
        b.iter(|| guard_with_role(&verifier, black_box(&request)));
    });
    group.bench_function("scope_and_claim_check_hit", |b| {
        b.iter(|| guard_with_claim(&verifier, black_box(&request)));
    });
    // The two checks alone, on the principal of a hit: what each adds, without the noise of the
    // hit itself.
    let principal = guard(&verifier, &request).unwrap_or_else(|error| panic!("{error}"));
    group.bench_function("role_check_alone", |b| {
        b.iter(|| black_box(&principal).roles().satisfy(black_box(&ADMIN)));
    });
    group.bench_function("claim_check_alone", |b| {
        b.iter(|| black_box(&VERIFIED).is_met_by(black_box(&principal).claims()));
    });
    group.finish();
}

#[portcullis::requires_scope("docs:read", state = Verifier)]
async fn scope_only() {}

/// The guard the macros generate for `scope_only`, run as axum runs it: the extractor itself, on
/// the same request parts each time (the per-request principal removed first, so that every
/// call is a token-cache hit and not a reuse).
fn real_guard(c: &mut Criterion) {
    use axum::extract::FromRequestParts as _;
    type ScopeOnlyGuard = portcullis::__private::Guard<
        __PortcullisRequirements_scope_only,
        (Verifier, portcullis::__private::Witness),
    >;
    let _: axum::routing::MethodRouter<Verifier> = axum::routing::get(scope_only);
    let fixture = Fixture::generate(Alg::Es256).unwrap_or_else(|error| panic!("{error}"));
    let token = fixture.valid_token(3600).unwrap_or_else(|error| panic!("{error}"));
    let verifier = fixture.verifier(true).unwrap_or_else(|error| panic!("{error}"));
    let mut request = parts(&token);
    assert!(now(ScopeOnlyGuard::from_request_parts(&mut request, &verifier)).is_ok());
    let mut group = c.benchmark_group("real_guard");
    group.bench_function("es256_scope_only_hit", |b| {
        b.iter(|| {
            request.extensions.clear();
            now(ScopeOnlyGuard::from_request_parts(black_box(&mut request), &verifier)).is_ok()
        });
    });
    group.finish();
}

/// Serves `answer` to every POST on a loopback port, on a thread of its own; returns the URL.
fn authorization_server(answer: serde_json::Value) -> String {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|error| panic!("{error}"));
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap_or_else(|error| panic!("{error}"));
            let addr = listener.local_addr().unwrap_or_else(|error| panic!("{error}"));
            let _ = sender.send(format!("http://{addr}/introspect"));
            let router = axum::Router::new().route(
                "/introspect",
                axum::routing::post(move || async move { axum::Json(answer) }),
            );
            let _ = axum::serve(listener, router).await;
        });
    });
    receiver.recv().unwrap_or_else(|error| panic!("{error}"))
}

fn introspection(c: &mut Criterion) {
    let fixture = Fixture::generate(Alg::Es256).unwrap_or_else(|error| panic!("{error}"));
    let jwt = fixture.valid_token(3600).unwrap_or_else(|error| panic!("{error}"));
    let jwt_request = parts(&jwt);
    let jwt_verifier = fixture.verifier(true).unwrap_or_else(|error| panic!("{error}"));
    assert!(guard(&jwt_verifier, &jwt_request).is_ok());

    let exp = jsonwebtoken::get_current_timestamp() + 3600;
    let url = authorization_server(serde_json::json!({
        "active": true, "iss": ISSUER, "aud": AUDIENCE, "sub": "bench-user", "scope": GRANTED,
        "exp": exp, "client_id": "bench-client", "token_type": "Bearer",
    }));
    let opaque = "2YotnFZFEjr1zCsicMWpAA-bench-opaque-token-of-43-bytes";
    let opaque_request = parts(opaque);
    let introspecting = Verifier::builder()
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .introspection(
            portcullis::introspection::Introspection::endpoint(url)
                .client_credentials("bench-client", "bench-secret")
                .max_age(Duration::from_secs(3600)),
        )
        .build()
        .unwrap_or_else(|error| panic!("{error}"));
    // The one introspection call: every measured request is a cache hit, which never waits.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|error| panic!("{error}"));
    let first = runtime.block_on(introspecting.authenticate(&opaque_request));
    assert!(first.is_ok_and(|principal| principal.scopes().satisfy(&REQUIRED)));
    assert!(guard(&introspecting, &opaque_request).is_ok());

    let mut group = c.benchmark_group("introspection");
    group.bench_function("jwt_es256_cache_hit", |b| {
        b.iter(|| guard(&jwt_verifier, black_box(&jwt_request)));
    });
    group.bench_function("opaque_introspection_cache_hit", |b| {
        b.iter(|| guard(&introspecting, black_box(&opaque_request)));
    });
    group.finish();
}

/// The public URL of the API the DPoP benches' proofs are for.
const DPOP_ORIGIN: &str = "https://api.bench.invalid";
/// The URL of the request of [`parts`] and [`dpop_parts`], as the proofs' `htu` names it.
const DPOP_URL: &str = "https://api.bench.invalid/documents/1";

/// Request parts carrying `token` with the `DPoP` scheme, and `proof` in the `DPoP` header.
fn dpop_parts(token: &str, proof: &str) -> Parts {
    let request = http::Request::get("/documents/1")
        .header(http::header::AUTHORIZATION, format!("DPoP {token}"))
        .header("dpop", proof)
        .header(http::header::ACCEPT, "application/json")
        .body(())
        .unwrap_or_else(|error| panic!("{error}"));
    request.into_parts().0
}

/// A replay store that answers "new" to every proof and remembers nothing: it isolates the
/// proof check from the store (and lets one proof be presented again and again).
#[derive(Debug)]
struct AlwaysNew;

impl ReplayStore for AlwaysNew {
    fn remember(
        &self,
        _key: [u8; 32],
        _ttl: Duration,
    ) -> Pin<Box<dyn Future<Output = Result<bool, ReplayStoreError>> + Send + '_>> {
        Box::pin(std::future::ready(Ok(true)))
    }
}

/// The bare ES256 signature check of a proof: `signature` (base64url) over `message` (the
/// signing input), with the key's point (`04 ‖ x ‖ y`) parsed on the call, as the key of a proof
/// comes with the proof. Never inlined, so that `callgrind` can count it.
#[inline(never)]
fn proof_signature(message: &str, signature: &str, point: &[u8]) -> bool {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
    use base64::Engine as _;
    let signature =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature).unwrap_or_default();
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
        .verify(message.as_bytes(), &signature)
        .is_ok()
}

/// What a hand-written proof check with `jsonwebtoken` starts with: the header, the key it
/// carries, then the signature (and the claims' JSON, with no claim checked). Never inlined, so
/// that `callgrind` can count it.
#[inline(never)]
fn proof_jsonwebtoken_decode(proof: &str, validation: &jsonwebtoken::Validation) -> bool {
    jsonwebtoken::decode_header(proof)
        .ok()
        .and_then(|header| header.jwk)
        .and_then(|jwk| jsonwebtoken::DecodingKey::from_jwk(&jwk).ok())
        .is_some_and(|key| {
            jsonwebtoken::decode::<serde_json::Value>(proof, &key, validation).is_ok()
        })
}

fn dpop(c: &mut Criterion) {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let issuer = TestIssuer::es256();
    let key = DpopKey::new();
    let scopes = ["profile", "docs:read", "docs:write"];
    // The same token but for `cnf.jkt`: the Bearer one unbound, the DPoP one bound to `key`.
    let bearer = issuer.token("alice").scopes(scopes).sign();
    let bound = issuer.token("alice").scopes(scopes).bound_to(&key).sign();
    let build = |no_op_store: bool| {
        let dpop = Dpop::allowed().origin(DPOP_ORIGIN);
        let dpop = if no_op_store { dpop.replay_store(AlwaysNew) } else { dpop };
        issuer.verifier().dpop(dpop).build().unwrap_or_else(|error| panic!("{error}"))
    };
    let no_op = build(true);
    // The default store: the process's `MemoryReplayStore`.
    let memory = build(false);
    let bearer_request = parts(&bearer);
    let fresh = || dpop_parts(&bound, &key.proof("GET", DPOP_URL, &bound).sign());
    // One proof presented again and again: only with the store that never says "replayed".
    let reused = fresh();
    // Sanity, and the tokens' verifications cached: every measured request is a token-cache hit,
    // and accepted.
    for verifier in [&no_op, &memory] {
        assert!(guard(verifier, &bearer_request).is_ok_and(|principal| !principal.is_dpop()));
        assert!(guard(verifier, &fresh()).is_ok_and(|principal| principal.is_dpop()));
    }
    assert!(guard(&no_op, &reused).is_ok() && guard(&no_op, &reused).is_ok());
    assert!(guard(&memory, &reused).is_ok() && guard(&memory, &reused).is_err());

    // The proof's signature alone: the signing input, the signature, and the key's point from
    // its `jwk`.
    let proof = key.proof("GET", DPOP_URL, &bound).sign();
    let (message, signature) = proof.rsplit_once('.').unwrap_or_default();
    let jwk = key.jwk();
    let coordinate = |name: &str| {
        URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap_or_default()).unwrap_or_default()
    };
    let point = [vec![4], coordinate("x"), coordinate("y")].concat();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    assert!(proof_signature(message, signature, &point));
    assert!(proof_jsonwebtoken_decode(&proof, &validation));

    let mut group = c.benchmark_group("dpop");
    group.bench_function("bearer_cache_hit", |b| {
        b.iter(|| guard(&no_op, black_box(&bearer_request)));
    });
    group.bench_function("dpop_cache_hit_no_op_store", |b| {
        b.iter(|| guard(&no_op, black_box(&reused)));
    });
    // The reused proof is still within its `iat` window: every measured request was accepted.
    assert!(guard(&no_op, &reused).is_ok_and(|principal| principal.is_dpop()));
    // A fresh proof for each request, minted (and the parts built and dropped) outside the
    // measured time: the same harness for both stores, so their difference is the store's.
    group.bench_function("dpop_cache_hit_no_op_store_fresh_proofs", |b| {
        b.iter_batched_ref(
            fresh,
            |request| guard(&no_op, black_box(request)),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("dpop_cache_hit_memory_store_fresh_proofs", |b| {
        b.iter_batched_ref(
            fresh,
            |request| guard(&memory, black_box(request)),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("proof_signature_aws_lc", |b| {
        b.iter(|| proof_signature(black_box(message), black_box(signature), black_box(&point)));
    });
    group.bench_function("proof_bare_jsonwebtoken_decode", |b| {
        b.iter(|| proof_jsonwebtoken_decode(black_box(&proof), &validation));
    });
    group.finish();
}

// Step-up authentication (RFC 9470): the guard the macros generate for a handler with
// `#[requires_authentication]` beside the same handler's without it, both token-cache hits of the
// same token (ES256, with `acr` and a fresh `auth_time`), as axum runs them.

#[portcullis::requires_scope("docs:read", state = Verifier)]
async fn export_without_step_up() {}

#[portcullis::requires_scope("docs:read", state = Verifier)]
#[portcullis::requires_authentication(acr = "urn:documents:mfa", max_age = "10m")]
async fn export_with_step_up() {}

type WithoutStepUpGuard = portcullis::__private::Guard<
    __PortcullisRequirements_export_without_step_up,
    (Verifier, portcullis::__private::Witness),
>;
type WithStepUpGuard = portcullis::__private::Guard<
    __PortcullisRequirements_export_with_step_up,
    (Verifier, portcullis::__private::Witness),
>;

/// A cache hit of the guard without step-up, under a name callgrind can count.
#[inline(never)]
fn without_step_up_hit(verifier: &Verifier, request: &mut Parts) -> bool {
    use axum::extract::FromRequestParts as _;
    request.extensions.clear();
    now(WithoutStepUpGuard::from_request_parts(request, verifier)).is_ok()
}

/// A cache hit of the guard with step-up, under a name callgrind can count.
#[inline(never)]
fn with_step_up_hit(verifier: &Verifier, request: &mut Parts) -> bool {
    use axum::extract::FromRequestParts as _;
    request.extensions.clear();
    now(WithStepUpGuard::from_request_parts(request, verifier)).is_ok()
}

fn step_up(c: &mut Criterion) {
    let _: axum::routing::MethodRouter<Verifier> = axum::routing::get(export_without_step_up);
    let _: axum::routing::MethodRouter<Verifier> = axum::routing::get(export_with_step_up);
    let issuer = TestIssuer::es256();
    let verifier = issuer.verifier().build().unwrap_or_else(|error| panic!("{error}"));
    let token = issuer
        .token("alice")
        .scopes(["docs:read"])
        .acr("urn:documents:mfa")
        .signed_in(Duration::ZERO)
        .sign();
    let mut request = parts(&token);
    assert!(without_step_up_hit(&verifier, &mut request));
    assert!(with_step_up_hit(&verifier, &mut request));
    let mut group = c.benchmark_group("step_up");
    group.bench_function("scope_only_hit", |b| {
        b.iter(|| without_step_up_hit(&verifier, black_box(&mut request)));
    });
    group.bench_function("scope_and_step_up_hit", |b| {
        b.iter(|| with_step_up_hit(&verifier, black_box(&mut request)));
    });
    group.finish();
}

criterion_group! {
    name = benches;
    // Short runs: the whole suite takes about two minutes on two cores.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = guard_path, unauthenticated, expired, signature, denials, authorization, real_guard, introspection,
        dpop, step_up
}
criterion_main!(benches);
