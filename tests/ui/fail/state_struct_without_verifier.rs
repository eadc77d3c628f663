// An application state without a `Verifier` field, given with `.with_state(..)`, behind two
// guarded routes: the error names the state and the fix, and nothing of `__private`.
use axum::extract::FromRef;
use axum::{Router, routing::get};

#[derive(Clone)]
struct Store;

#[derive(Clone, FromRef)]
struct AppState {
    store: Store,
}

#[portcullis::requires_scope("docs:read")]
async fn list() {}

#[portcullis::authenticated]
async fn me() {}

fn _router(store: Store) -> Router {
    Router::new().route("/docs", get(list)).route("/me", get(me)).with_state(AppState { store })
}

fn main() {}
