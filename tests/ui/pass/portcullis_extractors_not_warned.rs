//! portcullis's own extractors and ordinary parameters in a guarded handler: no warning.
#![deny(deprecated)]

use axum::extract::State;
use portcullis::extract::{Json, Path, Query, Valid};
use portcullis::{Claims, Principal, Verifier};
use serde::Deserialize;

#[derive(Deserialize, garde::Validate)]
struct Search {
    #[garde(length(min = 1))]
    q: String,
}

#[derive(Deserialize)]
struct Custom {
    tenant: String,
}

#[portcullis::requires_scope("docs:write")]
async fn create(
    State(_verifier): State<Verifier>,
    principal: Principal,
    Path(id): Path<u64>,
    Query(search): Query<Search>,
    Json(body): Json<String>,
) -> String {
    format!("{}: {id} {} {body}", principal.subject(), search.q)
}

#[portcullis::authenticated]
async fn validated(Claims(custom): Claims<Custom>, Valid(Json(search)): Valid<Json<Search>>) -> String {
    format!("{}: {}", custom.tenant, search.q)
}

#[portcullis::authenticated(optional)]
async fn optional(principal: Option<Principal>, body: String) -> String {
    format!("{:?}: {body}", principal.map(|p| p.subject().to_owned()))
}

fn main() {}
