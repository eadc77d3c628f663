// The router is built but never given its state: every guarded route should say
// "call `.with_state(..)`", not "add a `Verifier` field to `()`".
use axum::{Router, routing::get};
use portcullis::Principal;

#[portcullis::requires_scope("docs:read")]
async fn list() {}

#[portcullis::authenticated]
async fn me(principal: Principal) -> String {
    principal.subject().to_owned()
}

fn _router() -> Router {
    Router::new().route("/docs", get(list)).route("/me", get(me))
}

fn main() {}
