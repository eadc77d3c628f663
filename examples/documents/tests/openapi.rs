//! `GET /openapi.json`: each route's security requirement is its guard attribute's, and its
//! refusals, parameters and bodies are described, through the real router.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use axum::body::Body;
use documents::{AppState, Store, router};
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use portcullis::testing::TestIssuer;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn document() -> Value {
    let issuer = TestIssuer::new();
    let verifier = issuer.verifier().realm("documents").build().expect("verifier");
    let store = Store::in_memory().expect("store");
    let app = router(AppState { verifier, store });
    // Public: no token.
    let request = Request::get("/openapi.json").body(Body::empty()).unwrap();
    let response = app.oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    serde_json::from_slice(&bytes).expect("JSON")
}

fn operation<'d>(doc: &'d Value, method: &str, path: &str) -> &'d Value {
    let operation = &doc["paths"][path][method];
    assert!(operation.is_object(), "{method} {path} is not documented");
    operation
}

fn scopes(scopes: &[&str]) -> Value {
    json!({"bearer": scopes})
}

#[tokio::test]
async fn every_route_carries_its_guards_requirement() {
    let doc = document().await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"],
        json!({"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
               "description": doc["components"]["securitySchemes"]["bearer"]["description"]})
    );
    let expected: &[(&str, &str, Value)] = &[
        ("get", "/documents", json!([scopes(&["docs:read"])])),
        ("post", "/documents", json!([scopes(&["docs:write"])])),
        ("get", "/documents/search", json!([scopes(&["docs:read"])])),
        ("get", "/documents/export", json!([scopes(&["docs:read"])])),
        ("get", "/documents/{id}", json!([scopes(&["docs:read"])])),
        ("put", "/documents/{id}", json!([scopes(&["docs:write"])])),
        ("delete", "/documents/{id}", json!([scopes(&["docs:delete"])])),
        ("put", "/documents/{id}/shares/{subject}", json!([scopes(&["docs:write"])])),
        ("delete", "/documents/{id}/shares/{subject}", json!([scopes(&["docs:write"])])),
        // `any(..)`: one requirement per alternative.
        ("get", "/admin/stats", json!([scopes(&["admin:read"]), scopes(&["docs:admin"])])),
        // A role is no OAuth scope: a token is required, the role shows as the 403.
        ("get", "/admin/documents", json!([scopes(&[])])),
        // Optional credentials: no requirement, or a token.
        ("get", "/whoami", json!([{}, scopes(&[])])),
    ];
    for (method, path, security) in expected {
        let operation = operation(&doc, method, path);
        assert_eq!(&operation["security"], security, "{method} {path}");
        let responses = &operation["responses"];
        for status in ["400", "401"] {
            let refusal = &responses[status]["content"]["application/problem+json"]["schema"];
            assert_eq!(refusal["$ref"], "#/components/schemas/Problem", "{method} {path} {status}");
        }
        assert!(responses["401"]["headers"]["WWW-Authenticate"].is_object());
        let refuses = *path != "/whoami";
        assert_eq!(responses["403"].is_object(), refuses, "{method} {path} 403");
        let owned = path.starts_with("/documents/{id}");
        assert_eq!(responses["404"].is_object(), owned, "{method} {path} 404");
    }
    // Step-up authentication: the sign-in it needs, in the description and the 401; no other
    // operation says anything of it.
    let step_up = "Step-up authentication (RFC 9470): the user must have signed in with `acr` `urn:documents:mfa`, within the last 600 seconds (`auth_time`); otherwise 401 `insufficient_user_authentication` with `acr_values=\"urn:documents:mfa\" max_age=\"600\"`.";
    let export = operation(&doc, "get", "/documents/export");
    assert_eq!(export["description"], step_up);
    let unauthorized = export["responses"]["401"]["description"].as_str().unwrap();
    assert!(unauthorized.ends_with(&format!(" {step_up}")), "{unauthorized}");
    assert_eq!(
        export["responses"]["200"]["content"]["application/json"]["schema"]["type"],
        "array"
    );
    for (method, path, _) in expected.iter().filter(|(_, path, _)| *path != "/documents/export") {
        let operation = operation(&doc, method, path);
        assert!(!operation.to_string().contains("insufficient_user_authentication"), "{path}");
    }
    let public = operation(&doc, "get", "/health");
    assert!(public.get("security").is_none_or(|security| security == &json!([])));
    assert!(public["responses"]["401"].is_null());
}

#[tokio::test]
async fn parameters_bodies_and_responses_are_described() {
    let doc = document().await;
    let problem = &doc["components"]["schemas"]["Problem"];
    assert_eq!(problem["properties"]["invalid-params"]["type"], "array");

    let create = operation(&doc, "post", "/documents");
    let body = &create["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(body["$ref"], "#/components/schemas/DocumentInput");
    let input = &doc["components"]["schemas"]["DocumentInput"];
    assert_eq!(input["properties"]["title"]["minLength"], 1);
    assert_eq!(input["properties"]["title"]["maxLength"], 200);
    assert_eq!(input["additionalProperties"], false);
    for status in ["413", "415"] {
        assert!(create["responses"][status]["content"]["application/problem+json"].is_object());
    }
    let created = &create["responses"]["201"];
    assert_eq!(
        created["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Document"
    );
    assert!(created["headers"]["Location"].is_object());

    let search = operation(&doc, "get", "/documents/search");
    let params = search["parameters"].as_array().unwrap();
    let q = params.iter().find(|p| p["name"] == "q").unwrap();
    assert_eq!((&q["in"], &q["required"]), (&json!("query"), &json!(true)));
    assert_eq!(q["schema"]["maxLength"], 100);
    let limit = params.iter().find(|p| p["name"] == "limit").unwrap();
    assert_eq!(limit["schema"]["maximum"], 100);

    // The guard's resource id, and the `Path` extractor's, once each.
    let share = operation(&doc, "put", "/documents/{id}/shares/{subject}");
    let names: Vec<&Value> =
        share["parameters"].as_array().unwrap().iter().map(|p| &p["name"]).collect();
    assert_eq!(names, [&json!("id"), &json!("subject")]);
    assert!(share["responses"]["204"].is_object());
    let read = operation(&doc, "get", "/documents/{id}");
    assert_eq!(read["parameters"][0]["in"], "path");
    assert_eq!(read["parameters"][0]["schema"]["type"], "integer");
}
