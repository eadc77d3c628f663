//! axum's own request-shape extractors in a guarded handler: a warning under each parameter,
//! naming portcullis's extractor (made an error here by `deny(deprecated)`).
#![deny(deprecated)]

use axum::Json;
use axum::extract::{Path, Query};
use portcullis::Principal;
use serde::Deserialize;

#[derive(Deserialize)]
struct Search {
    q: String,
}

#[portcullis::requires_scope("docs:write")]
async fn create(principal: Principal, Json(body): Json<String>) -> String {
    format!("{}: {body}", principal.subject())
}

#[portcullis::authenticated]
async fn search(Query(search): Query<Search>, Path(id): axum::extract::Path<u64>) -> String {
    format!("{id}: {}", search.q)
}

#[portcullis::requires_role("admin")]
async fn import(axum::Form(form): axum::Form<Search>) -> String {
    form.q
}

fn main() {}
