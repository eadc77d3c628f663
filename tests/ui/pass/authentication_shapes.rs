//! Shapes of `#[requires_authentication]` that must keep compiling.

use axum::Router;
use axum::routing::get;
use portcullis::{Principal, Verifier, requires_authentication};

#[portcullis::requires_authentication(acr = "urn:documents:mfa")]
async fn acr_only() {}

#[requires_authentication(acr = any("phr", "phrh",), max_age = "1h30m",)]
async fn both_trailing_commas(principal: Principal) -> String {
    principal.subject().to_owned()
}

#[portcullis::requires_authentication(max_age = 600, state = Verifier)]
#[portcullis::requires_scope("docs:read")]
#[portcullis::requires_role("documents-admin")]
#[portcullis::requires_policy(claim_true("email_verified"))]
async fn stacked_below() {}

#[portcullis::requires_scope("docs:read")]
#[portcullis::requires_authentication(max_age = "0s")]
pub async fn signed_in_just_now() {}

fn main() {
    let _: Router<Verifier> = Router::new()
        .route("/a", get(acr_only))
        .route("/b", get(both_trailing_commas))
        .route("/c", get(stacked_below))
        .route("/d", get(signed_in_just_now));
}
