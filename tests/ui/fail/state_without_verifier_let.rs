use axum::{Router, routing::get};

#[derive(Clone)]
struct AppState {
    _db: (),
}

#[portcullis::authenticated]
async fn handler() {}

fn _router() -> Router {
    let app = Router::new().route("/", get(handler));
    app.with_state(AppState { _db: () })
}

fn main() {}
