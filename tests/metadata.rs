//! RFC 9728 protected resource metadata through real routers: the document at the path derived
//! from the resource identifier, exactly; `resource_metadata` on every challenge of a 401 and a
//! 403; nothing at all without a resource identifier; the configuration errors.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests: a panic is a failed test")]

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{Request, StatusCode};
use portcullis::config::{Dpop, DpopError, ResourceError, ResourceMetadata};
use portcullis::testing::{TEST_AUDIENCE, TEST_ISSUER, TestIssuer};
use portcullis::{ConfigError, Verifier, config::VerifierBuilder};
use portcullis_tests::{Reply, bearer, get_request, me, send, with_authorization};
use serde_json::{Value, json};

const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

#[portcullis::requires_scope("docs:write")]
async fn write(principal: portcullis::Principal) -> axum::Json<Value> {
    axum::Json(json!({ "sub": principal.subject() }))
}

/// `/me`, `/write` and the metadata router, with a problem-document fallback like an app's.
fn router(verifier: Verifier) -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/write", get(write))
        .merge(verifier.metadata_router())
        .fallback(|| async { portcullis::Problem::new(StatusCode::NOT_FOUND) })
        .with_state(verifier)
}

/// The document served at `path`, checked to be a 200 `application/json`.
async fn document(verifier: &Verifier, path: &str) -> Value {
    let reply = send(router(verifier.clone()), get_request(path)).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {reply:?}");
    assert_eq!(reply.headers[CONTENT_TYPE], "application/json");
    reply.body
}

/// Every `WWW-Authenticate` value of `reply`.
fn challenges(reply: &Reply) -> Vec<String> {
    reply
        .headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_resource_without_a_path_serves_its_document_at_the_well_known_root() {
    let issuer = TestIssuer::new();
    let verifier = issuer
        .verifier()
        .resource_metadata(
            ResourceMetadata::new()
                .resource("https://api.example")
                .scopes_supported(["docs:read", "docs:write"]),
        )
        .build()
        .unwrap();
    let url = "https://api.example/.well-known/oauth-protected-resource";
    assert_eq!(verifier.resource_metadata_url(), Some(url));
    assert_eq!(
        document(&verifier, WELL_KNOWN).await,
        json!({
            "resource": "https://api.example",
            "authorization_servers": [TEST_ISSUER],
            "scopes_supported": ["docs:read", "docs:write"],
            "bearer_methods_supported": ["header"],
        })
    );
    // The member order is RFC 9728 §2's.
    let reply = send(router(verifier), get_request(WELL_KNOWN)).await;
    let text = String::from_utf8(reply.bytes.to_vec()).unwrap();
    assert!(text.starts_with(r#"{"resource":"https://api.example","authorization_servers""#));
}

#[tokio::test]
async fn a_resource_with_a_path_serves_its_document_at_the_derived_path() {
    let issuer = TestIssuer::new();
    for resource in ["https://api.example/v2/documents", "https://api.example/v2/documents/"] {
        let verifier = issuer
            .verifier()
            .resource_metadata(
                ResourceMetadata::new()
                    .resource(resource)
                    .name("Documents")
                    .documentation("https://api.example/docs"),
            )
            .build()
            .unwrap();
        let path = "/.well-known/oauth-protected-resource/v2/documents";
        assert_eq!(
            verifier.resource_metadata_url(),
            Some(format!("https://api.example{path}").as_str())
        );
        // Without scopes given, `scopes_supported` is left out.
        assert_eq!(
            document(&verifier, path).await,
            json!({
                "resource": resource,
                "authorization_servers": [TEST_ISSUER],
                "bearer_methods_supported": ["header"],
                "resource_name": "Documents",
                "resource_documentation": "https://api.example/docs",
            })
        );
        // The root well-known path is not this resource's.
        let reply = send(router(verifier), get_request(WELL_KNOWN)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn dpop_query_tokens_and_several_or_any_issuers_show_in_the_document() {
    let issuer = TestIssuer::new();
    let dpop =
        issuer
            .verifier()
            .resource_metadata(ResourceMetadata::new().resource("https://api.example"))
            .dpop(Dpop::required().algorithms([
                portcullis::keys::Algorithm::ES256,
                portcullis::keys::Algorithm::EdDSA,
            ]))
            .dangerous()
            .allow_query_token()
            .build()
            .unwrap();
    assert_eq!(
        document(&dpop, WELL_KNOWN).await,
        json!({
            "resource": "https://api.example",
            "authorization_servers": [TEST_ISSUER],
            "bearer_methods_supported": ["header", "query"],
            "dpop_signing_alg_values_supported": ["ES256", "EdDSA"],
            "dpop_bound_access_tokens_required": true,
        })
    );
    let allowed = issuer
        .verifier()
        .resource_metadata(ResourceMetadata::new().resource("https://api.example"))
        .dpop(Dpop::allowed())
        .build()
        .unwrap();
    let body = document(&allowed, WELL_KNOWN).await;
    assert_eq!(body["dpop_bound_access_tokens_required"], false);
    assert_eq!(
        body["dpop_signing_alg_values_supported"],
        json!(["ES256", "ES384", "RS256", "PS256", "EdDSA"])
    );
    let two = issuer
        .verifier()
        .issuer("https://second.example")
        .resource_metadata(ResourceMetadata::new().resource("https://api.example"))
        .build()
        .unwrap();
    let body = document(&two, WELL_KNOWN).await;
    assert_eq!(body["authorization_servers"], json!([TEST_ISSUER, "https://second.example"]));
    let any = VerifierBuilder::new()
        .dangerous()
        .any_issuer()
        .audience(TEST_AUDIENCE)
        .key(issuer.verification_key())
        .resource_metadata(ResourceMetadata::new().resource("https://api.example"))
        .build()
        .unwrap();
    let body = document(&any, WELL_KNOWN).await;
    assert!(body.get("authorization_servers").is_none(), "{body}");
}

#[tokio::test]
async fn every_401_and_403_challenge_names_the_document() {
    let issuer = TestIssuer::new();
    let verifier = issuer
        .verifier()
        .realm("documents")
        .resource_metadata(resource("https://api.example"))
        .build();
    let app = router(verifier.unwrap());
    let meta = r#"resource_metadata="https://api.example/.well-known/oauth-protected-resource""#;

    let none = send(app.clone(), get_request("/me")).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenges(&none), [format!(r#"Bearer realm="documents", {meta}"#)]);

    let invalid = send(app.clone(), bearer("/me", "not.a.token")).await;
    assert_eq!(invalid.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenges(&invalid),
        [format!(r#"Bearer realm="documents", error="invalid_token", {meta}"#)]
    );

    let reader = issuer.token("carol").scopes(["docs:read"]).sign();
    let forbidden = send(app.clone(), bearer("/write", &reader)).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(
        challenges(&forbidden),
        [format!(
            r#"Bearer realm="documents", error="insufficient_scope", scope="docs:write", {meta}"#
        )]
    );

    // A malformed request's challenge names it too: a client learns where to look either way.
    let two = Request::get("/me")
        .header(AUTHORIZATION, "Bearer a")
        .header(AUTHORIZATION, "Bearer b")
        .body(Body::empty())
        .unwrap();
    let malformed = send(app.clone(), two).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert!(challenges(&malformed)[0].ends_with(meta), "{malformed:?}");

    // Accepted requests carry no challenge.
    let writer = issuer.token("alice").scopes(["docs:write"]).sign();
    let ok = send(app, bearer("/write", &writer)).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(challenges(&ok).is_empty());
}

#[tokio::test]
async fn dpop_challenges_name_the_document_too() {
    let issuer = TestIssuer::new();
    // The well-known part goes between the host and the resource's path (RFC 9728 §3.1).
    let expected_meta =
        r#"resource_metadata="https://api.example/.well-known/oauth-protected-resource/api""#;
    let algs = r#"algs="ES256 ES384 RS256 PS256 EdDSA""#;

    // DPoP allowed: a request without credentials gets both challenges, each naming it.
    let allowed = issuer
        .verifier()
        .resource_metadata(ResourceMetadata::new().resource("https://api.example/api"))
        .dpop(Dpop::allowed())
        .build()
        .unwrap();
    let none = send(router(allowed.clone()), get_request("/me")).await;
    assert_eq!(
        challenges(&none),
        [
            format!(r#"Bearer realm="api", {expected_meta}"#),
            format!(r#"DPoP realm="api", {algs}, {expected_meta}"#),
        ]
    );
    // A DPoP token without its proof: 401 invalid_dpop_proof.
    let token = issuer.token("alice").sign();
    let no_proof = send(router(allowed), with_authorization("/me", &format!("DPoP {token}"))).await;
    assert_eq!(no_proof.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenges(&no_proof),
        [format!(r#"DPoP realm="api", error="invalid_dpop_proof", {algs}, {expected_meta}"#)]
    );

    // DPoP required: a bearer token gets the DPoP challenge, naming it.
    let required = issuer
        .verifier()
        .resource_metadata(ResourceMetadata::new().resource("https://api.example/api"))
        .dpop(Dpop::required())
        .build()
        .unwrap();
    let as_bearer = send(router(required), bearer("/me", &token)).await;
    assert_eq!(as_bearer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenges(&as_bearer),
        [format!(r#"DPoP realm="api", error="invalid_token", {algs}, {expected_meta}"#)]
    );
}

#[tokio::test]
async fn without_a_resource_nothing_changes() {
    let issuer = TestIssuer::new();
    // DPoP's own origin is no resource identifier: no document, no parameter.
    for builder in [
        issuer.verifier().resource_metadata(
            ResourceMetadata::new().scopes_supported(["docs:read"]).name("Documents"),
        ),
        issuer.verifier().dpop(Dpop::allowed().origin("https://api.example")),
    ] {
        let verifier = builder.build().unwrap();
        assert_eq!(verifier.resource_metadata_url(), None);
        let app = router(verifier);
        let reply = send(app.clone(), get_request(WELL_KNOWN)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        let reply = send(app.clone(), get_request("/me")).await;
        assert!(challenges(&reply).iter().all(|c| !c.contains("resource_metadata")), "{reply:?}");
        let reply = send(app, bearer("/me", "not.a.token")).await;
        assert_eq!(challenges(&reply), [r#"Bearer realm="api", error="invalid_token""#]);
    }
    // The router alone is empty.
    let verifier = issuer.verifier().build().unwrap();
    let alone: Router = verifier.metadata_router();
    let reply = send(alone, get_request(WELL_KNOWN)).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[test]
fn the_resource_is_dpop_origin_unless_one_is_set() {
    let issuer = TestIssuer::new();
    // DPoP on, the resource only: it is the origin.
    let resource = ResourceMetadata::new().resource("https://api.example");
    assert!(issuer.verifier().dpop(Dpop::allowed()).resource_metadata(resource).build().is_ok());
    // Neither: the origin is missing.
    assert!(matches!(
        issuer.verifier().dpop(Dpop::allowed()).build(),
        Err(ConfigError::Dpop(DpopError::NeedsOrigin))
    ));
}

/// The metadata of the resource identifier `url`.
fn resource(url: &str) -> ResourceMetadata {
    ResourceMetadata::new().resource(url)
}

#[test]
fn unusable_settings_are_configuration_errors() {
    let issuer = TestIssuer::new();
    for url in [
        "http://api.example",
        "https://api.example/?tenant=a",
        "https://api.example/#top",
        "ftp://api.example",
        "api.example",
        "https://user@api.example",
        "https://api.example/a b",
    ] {
        let error = issuer.verifier().resource_metadata(resource(url)).build().unwrap_err();
        assert!(
            matches!(
                &error,
                ConfigError::Resource(ResourceError::InvalidResource { url: shown, .. }) if shown == url
            ),
            "{url}: {error}"
        );
    }
    // http to loopback, or with allow_http.
    for url in ["http://127.0.0.1:3000", "http://localhost:8080/api", "http://[::1]"] {
        assert!(issuer.verifier().resource_metadata(resource(url)).build().is_ok(), "{url}");
    }
    let http = issuer.verifier().resource_metadata(resource("http://api.example"));
    assert!(http.dangerous().allow_http().build().is_ok());
    // From the environment, the error names the variable.
    let vars = [("PORTCULLIS_RESOURCE", "http://api.example")];
    let error = issuer
        .verifier()
        .with_env(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.into()))
        .unwrap()
        .build()
        .unwrap_err();
    assert!(
        matches!(&error, ConfigError::Env(env) if env.var() == "PORTCULLIS_RESOURCE"),
        "{error}"
    );
    assert!(error.to_string().starts_with("PORTCULLIS_RESOURCE: "), "{error}");
    let allowed =
        [("PORTCULLIS_RESOURCE", "http://api.example"), ("PORTCULLIS_ALLOW_HTTP", "true")];
    let verifier = issuer
        .verifier()
        .with_env(|name| allowed.iter().find(|(k, _)| *k == name).map(|(_, v)| v.into()))
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(
        verifier.resource_metadata_url(),
        Some("http://api.example/.well-known/oauth-protected-resource")
    );
    // Scopes and the documentation URL are checked.
    let error = issuer
        .verifier()
        .resource_metadata(
            resource("https://api.example").scopes_supported(["docs:read", "two words"]),
        )
        .build()
        .unwrap_err();
    assert!(matches!(
        error,
        ConfigError::Resource(ResourceError::InvalidSupportedScope(scope)) if scope == "two words"
    ));
    for doc in ["docs", "mailto:a@b", "https://a b"] {
        let error = issuer
            .verifier()
            .resource_metadata(resource("https://api.example").documentation(doc))
            .build()
            .unwrap_err();
        assert!(
            matches!(error, ConfigError::Resource(ResourceError::InvalidDocumentation(_))),
            "{doc}: {error}"
        );
    }
}
