//! Handlers keep their shape: docs, attributes, `#[cfg]`, visibility, generics with a where
//! clause, extractors in any order, and names that shadow the ones generated code could use.
#![deny(warnings)]
// axum's own extractors on purpose: the warning about them is ui/fail/axum_extractors_warned.rs.
#![allow(deprecated)]

use axum::extract::{FromRef, Path, Query};
use axum::routing::{get, post};
use axum::{Json, Router};
use portcullis::{Owned, OwnedResource, Principal, Verifier};

// Shadow names the generated code must not depend on.
#[allow(dead_code)]
type Result<T> = std::result::Result<T, ()>;
#[allow(dead_code)]
type Option = ();
#[allow(dead_code)]
struct Guard;
#[allow(dead_code)]
mod core {}
#[allow(dead_code)]
mod portcullis_private {}

#[derive(Clone, FromRef)]
struct AppState {
    verifier: Verifier,
    db: Db,
}

#[derive(Clone)]
struct Db;

struct Doc {
    owner: String,
}

impl OwnedResource for Doc {
    type State = Db;
    type Id = u64;
    type Error = std::convert::Infallible;

    async fn load(_id: u64, _db: &Db) -> ::core::result::Result<::core::option::Option<Self>, Self::Error> {
        Ok(Some(Doc { owner: "alice".into() }))
    }

    fn owner(&self) -> &str {
        &self.owner
    }
}

#[derive(serde::Deserialize)]
pub struct Search {
    pub q: String,
}

/// Documented, public, with a body extractor last and a query first.
#[portcullis::requires_scope("docs:write")]
pub async fn create(Query(search): Query<Search>, principal: Principal, Json(body): Json<String>) -> String {
    format!("{}{}{}", search.q, principal.subject(), body)
}

/// Generic with a where clause, naming the state so that a wrong state is caught here.
#[portcullis::authenticated(state = AppState)]
pub(crate) async fn generic<T>(principal: Principal) -> String
where
    T: Default + ToString,
{
    format!("{}{}", principal.subject(), T::default().to_string())
}

#[cfg(any())]
#[portcullis::authenticated]
async fn compiled_out() -> NotAType {}

#[portcullis::owner_only(Doc, id = "doc_id")]
#[portcullis::requires_scope(any("docs:read", "docs:admin"))]
async fn read(Path((_user, doc_id)): Path<(String, u64)>, doc: Owned<Doc>) -> String {
    // Shadowing inside the body is the user's business.
    let doc_id = doc_id.to_string();
    format!("{}{doc_id}", doc.owner)
}

/// Usable with `#[axum::debug_handler]` placed below the guard, so that it checks the guarded
/// signature.
#[portcullis::authenticated]
#[axum::debug_handler(state = AppState)]
async fn debugged(principal: Principal) -> String {
    principal.subject().to_owned()
}

/// `#[axum::debug_handler]` without `state = …` infers the state from a `State<T>` parameter.
#[portcullis::authenticated]
#[axum::debug_handler]
async fn debugged_with_state(
    axum::extract::State(_state): axum::extract::State<AppState>,
) -> &'static str {
    "ok"
}

/// Generic, without naming the state: the turbofish names the handler's own parameter only.
#[portcullis::requires_scope("docs:read")]
pub(crate) async fn generic_unnamed<T: Default + ToString>(principal: Principal) -> String {
    format!("{}{}", principal.subject(), T::default().to_string())
}

/// Named `state = Verifier`, served on a router whose state provides a verifier.
#[portcullis::authenticated(state = Verifier)]
async fn on_any_state(principal: Principal) -> String {
    principal.subject().to_owned()
}

fn main() {
    let _router: Router<AppState> = Router::new()
        .route("/docs", post(create))
        .route("/generic", get(generic::<u8>))
        .route("/generic-unnamed", get(generic_unnamed::<u16>))
        .route("/users/{user}/docs/{doc_id}", get(read))
        .route("/debugged", get(debugged))
        .route("/debugged-with-state", get(debugged_with_state))
        .route("/on-any-state", get(on_any_state));
    let _verifier_router: Router<Verifier> = Router::new().route("/on-any-state", get(on_any_state));
}
