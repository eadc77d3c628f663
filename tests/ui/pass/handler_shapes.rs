//! Handlers keep their shape: docs, attributes, `#[cfg]`, visibility, generics with a where
//! clause, extractors in any order, and names that shadow the ones generated code could use.
#![deny(warnings)]

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

fn main() {
    let _router: Router<AppState> = Router::new()
        .route("/docs", post(create))
        .route("/generic", get(generic::<u8>))
        .route("/users/{user}/docs/{doc_id}", get(read))
        .route("/debugged", get(debugged));
}
