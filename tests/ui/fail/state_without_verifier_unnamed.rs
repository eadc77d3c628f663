use axum::{Router, routing::get};

#[derive(Clone)]
struct AppState {
    _db: (),
}

#[portcullis::requires_scope("docs:read")]
async fn handler() {}

fn _router() -> Router {
    Router::new().route("/", get(handler)).with_state(AppState { _db: () })
}

fn main() {}
