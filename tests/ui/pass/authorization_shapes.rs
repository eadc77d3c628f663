//! Shapes of the authorization attributes that must keep compiling.

use axum::Router;
use axum::extract::FromRef;
use axum::routing::get;
use http::request::Parts;
use portcullis::{Owned, OwnedResource, Principal, Verifier, authorization::PolicyRefusal};

portcullis::roles! {
    /// Roles.
    pub enum Role {
        /// Documented by hand.
        Admin = "documents-admin",
        Editor = "editor",
    }
}

#[derive(Clone)]
struct Db;

#[derive(Clone, FromRef)]
struct AppState {
    verifier: Verifier,
    db: Db,
}

struct Doc {
    owner: String,
}

impl OwnedResource for Doc {
    type State = Db;
    type Id = u64;
    type Error = std::convert::Infallible;

    async fn load(_: u64, _: &Db) -> Result<Option<Self>, Self::Error> {
        Ok(None)
    }

    fn owner(&self) -> &str {
        &self.owner
    }
}

/// A documented, public, sync policy.
#[portcullis::policy]
pub fn always(_principal: &Principal, _head: &Parts) -> bool {
    true
}

/// An async policy with state and a `Result`.
#[portcullis::policy]
async fn with_state(_principal: &Principal, _head: &Parts, _db: &Db) -> Result<(), PolicyRefusal> {
    Ok(())
}

/// Named like the parameters of the generated code.
#[portcullis::policy]
fn head(principal: &Principal, head: &Parts) -> bool {
    principal.subject().len() < head.uri.path().len() + 100
}

#[cfg(any())]
#[portcullis::policy]
fn compiled_out(_principal: &Principal, _head: &Parts) -> bool {
    false
}

#[portcullis::authenticated(optional, state = AppState)]
async fn optional(principal: Option<Principal>) -> String {
    principal.map(|p| p.subject().to_owned()).unwrap_or_default()
}

/// Every new attribute stacked, with the declared vocabulary and literals.
#[portcullis::requires_scope("docs:write")]
#[portcullis::requires_role(Role::Editor, declared_in = Role)]
#[portcullis::requires_role(any("documents-admin", Role::Admin))]
#[portcullis::requires_policy(always, with_state, head, claim_true("email_verified"))]
#[portcullis::requires_policy(claim_equals("tier", -2), claim_includes("groups", "a", "b"))]
#[portcullis::owner_only(Doc, id = "doc", action = write)]
async fn everything(doc: Owned<Doc>) -> String {
    doc.owner.clone()
}

fn main() {
    let _: fn(AppState) -> Router = |state| {
        Router::new()
            .route("/optional", get(optional))
            .route("/docs/{doc}", get(everything))
            .with_state(state)
    };
}
