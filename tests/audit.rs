//! The audit trail: off unless configured; then one event per guard decision, allowed ones
//! too, with the route's template, the requirement that decided, the stage and the outcome,
//! and the principal's id only when the application opts in.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use axum::extract::FromRef;
use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;
use portcullis::observability::AuditTrail;
use portcullis::testing::TestIssuer;
use portcullis::{Owned, OwnedResource, Principal, Verifier};
use portcullis_tests::{Captured, bearer, get_request, send};
use serde_json::{Value, json};

struct Note {
    owner: String,
}

#[derive(Clone)]
struct Notes;

impl OwnedResource for Note {
    type State = Notes;
    type Id = u32;
    type Error = std::convert::Infallible;

    async fn load(id: u32, _: &Notes) -> Result<Option<Self>, Self::Error> {
        Ok((id == 1).then(|| Note { owner: "alice".into() }))
    }

    fn owner(&self) -> &str {
        &self.owner
    }
}

#[derive(Clone, FromRef)]
struct AppState {
    verifier: Verifier,
    notes: Notes,
}

#[portcullis::requires_scope("docs:read")]
#[portcullis::requires_role("editor")]
async fn edit(principal: Principal) -> Json<Value> {
    Json(json!(principal.subject()))
}

#[portcullis::requires_policy(claim_equals("tenant", "acme"))]
async fn tenant() -> Json<Value> {
    Json(json!("tenant"))
}

#[portcullis::owner_only(Note)]
async fn note(_note: Owned<Note>) -> Json<Value> {
    Json(json!("note"))
}

fn app(verifier: Verifier) -> Router {
    Router::new()
        .route("/edit", get(edit))
        .route("/tenant", get(tenant))
        .route("/notes/{id}", get(note))
        .with_state(AppState { verifier, notes: Notes })
}

/// The audit events captured while `requests` ran, one line each.
async fn audit_lines(verifier: Verifier, issuer: &TestIssuer) -> Vec<String> {
    let (captured, _guard) = Captured::start(tracing::Level::INFO);
    let app = app(verifier);
    let full = issuer
        .token("alice")
        .scopes(["docs:read"])
        .roles(["editor"])
        .claim("tenant", "EVIL-acme")
        .sign();
    let scopes_only = issuer.token("alice").scopes(["docs:read"]).sign();
    assert_eq!(send(app.clone(), bearer("/edit", &full)).await.status, StatusCode::OK);
    assert_eq!(
        send(app.clone(), bearer("/edit", &scopes_only)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(send(app.clone(), get_request("/edit")).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(send(app.clone(), bearer("/tenant", &full)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(send(app.clone(), bearer("/notes/1", &full)).await.status, StatusCode::OK);
    let missing = bearer("/notes/EVIL-path-777", &full);
    assert_eq!(send(app.clone(), missing).await.status, StatusCode::NOT_FOUND);
    captured
        .text()
        .lines()
        .filter(|line| line.contains("portcullis::audit"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn every_decision_is_one_event_naming_route_requirement_stage_and_outcome() {
    let issuer = TestIssuer::new();
    let verifier = issuer.verifier().audit_trail(AuditTrail::new()).build().unwrap();
    let lines = audit_lines(verifier, &issuer).await;
    assert_eq!(lines.len(), 6, "{lines:#?}");
    let expect = [
        [
            "INFO",
            "method=\"GET\"",
            "route=\"/edit\"",
            "stage=\"complete\"",
            "outcome=\"allowed\"",
            "reason=\"none\"",
            "requirement=scopes docs:read; roles editor",
        ],
        [
            "INFO",
            "route=\"/edit\"",
            "stage=\"roles\"",
            "outcome=\"denied\"",
            "reason=\"missing_role\"",
            "requirement=role editor",
            "decision",
        ],
        [
            "INFO",
            "route=\"/edit\"",
            "stage=\"credentials\"",
            "outcome=\"denied\"",
            "reason=\"missing_credentials\"",
            "requirement=credentials",
            "decision",
        ],
        [
            "INFO",
            "route=\"/tenant\"",
            "stage=\"policies\"",
            "outcome=\"denied\"",
            "reason=\"claim_not_satisfied\"",
            "requirement=policy claim_not_satisfied: ",
            "decision",
        ],
        [
            "INFO",
            "route=\"/notes/{id}\"",
            "stage=\"complete\"",
            "outcome=\"allowed\"",
            "requirement=authenticated",
            "decision",
            "reason=\"none\"",
        ],
        [
            "INFO",
            "route=\"/notes/{id}\"",
            "stage=\"resource\"",
            "outcome=\"denied\"",
            "reason=\"invalid_id\"",
            "requirement=resource owner",
            "decision",
        ],
    ];
    for (line, fields) in lines.iter().zip(expect) {
        for field in fields {
            assert!(line.contains(field), "{field} missing from {line}");
        }
        // Never the path, a claim value, the token, or who the caller is.
        assert!(!line.contains("EVIL"), "{line}");
        assert!(!line.contains("eyJ"), "{line}");
        assert!(!line.contains("principal"), "{line}");
        assert!(!line.contains("alice"), "{line}");
    }
}

#[tokio::test]
async fn the_principal_id_is_written_only_on_opt_in() {
    let issuer = TestIssuer::new();
    let verifier =
        issuer.verifier().audit_trail(AuditTrail::new().with_principal_id()).build().unwrap();
    let lines = audit_lines(verifier, &issuer).await;
    assert_eq!(lines.len(), 6, "{lines:#?}");
    // Every decision after the token was verified names the principal; the one without
    // credentials cannot.
    let named: Vec<bool> = lines.iter().map(|line| line.contains("principal=\"alice\"")).collect();
    assert_eq!(named, [true, true, false, true, true, true], "{lines:#?}");
    assert!(lines.iter().all(|line| !line.contains("EVIL")), "{lines:#?}");
}

#[tokio::test]
async fn without_an_audit_trail_nothing_is_written_to_its_target() {
    let issuer = TestIssuer::new();
    let lines = audit_lines(issuer.verifier().build().unwrap(), &issuer).await;
    assert!(lines.is_empty(), "{lines:#?}");
}
