//! The documents API: every user keeps their own documents, behind portcullis guards.
//!
//! | route | guard | answer |
//! |---|---|---|
//! | `GET /health` | public | 200 |
//! | `GET /documents?limit=…&cursor=…` | `docs:read` | 200, a page of the caller's documents; `Link: <…>; rel="next"` names the next |
//! | `POST /documents` | `docs:write` | 201, `Location: /documents/{id}` |
//! | `GET /documents/{id}` | `docs:read`, owner only | 200 |
//! | `PUT /documents/{id}` | `docs:write`, owner only | 200 |
//! | `DELETE /documents/{id}` | `docs:delete`, owner only | 204 |
//! | `GET /documents/search?q=…&limit=…` | `docs:read` | 200, the caller's matching documents |
//! | `GET /documents/export` | `docs:read`, `acr` `urn:documents:mfa`, signed in within 600 s | 200, every document of the caller; otherwise 401 `insufficient_user_authentication` (step-up, RFC 9470) |
//! | `GET /admin/stats` | `admin:read` or `docs:admin` | 200, counts |
//! | `GET /whoami` | optional credentials | 200, `{"subject": …}` (`null` without a token) |
//! | `PUT /documents/{id}/shares/{subject}` | `docs:write`, `email_verified`, owner only | 204 |
//! | `DELETE /documents/{id}/shares/{subject}` | `docs:write`, `email_verified`, owner only | 204 |
//! | `GET /admin/documents` | role `documents-admin` | 200, every document's id, owner, title |
//! | `GET /.well-known/oauth-protected-resource` | public, with a resource identifier | 200, the RFC 9728 metadata |
//! | `GET /openapi.json` | public | 200, the OpenAPI 3.1 document of the routes above, their guards included |
//!
//! With a resource identifier (`PORTCULLIS_RESOURCE`, always in development mode), the RFC 9728
//! document is served at the path derived from it, and every 401 and 403 `insufficient_scope`
//! challenge names it in `resource_metadata`; without one, that path is the fallback 404.
//!
//! A document shared with someone can be read by them (`GET /documents/{id}`), and nothing
//! else: their `PUT`, `DELETE` and sharing get 403 without a challenge. Anyone else gets the
//! same 404 as for a document that does not exist.
//!
//! The `{subject}` of a share is a principal id, the very identity ownership uses
//! ([`Principal::id`], and `owner` in `GET /admin/documents`): with one issuer, the token's
//! `sub` (`/shares/bob`); with several, the pair `["<iss>","<sub>"]`, percent-encoded in the
//! path (`/shares/%5B%22https%3A%2F%2Fa.example%22%2C%22bob%22%5D`). A pair is compared in its
//! compact spelling, whatever whitespace the client put in it; a bare subject where ids are
//! pairs could never match anyone, so it is refused with 400.
//!
//! The guards answer 401, 403 and 404 before any part of the request is read; the extractors
//! answer 400, 413 and 415 after them. Every refusal is an RFC 9457 problem document.
//!
//! [`router`] builds the whole application from an [`AppState`], so tests drive exactly what the
//! binary serves.

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis::extract::{Json, Path, Query, Valid};
use portcullis::{
    InternalError, Owned, Principal, PrincipalId, Problem, Verifier,
    layer::AccessLogLayer,
    response::{DeniedWith, InvalidParam},
};
use serde::Deserialize;
use serde_json::{Value, json};

mod export;
mod openapi;
pub mod operations;
mod store;

pub use export::{EXPORT_MAX_AGE, MFA};

pub use store::{Document, Executed, Page, Stats, Store, StoreError, Summary, VISIBILITY, Work};

portcullis::scopes! {
    /// The scopes of the documents API.
    pub enum Scope {
        DocsRead = "docs:read",
        DocsWrite = "docs:write",
        DocsDelete = "docs:delete",
        AdminRead = "admin:read",
        DocsAdmin = "docs:admin",
    }
}

portcullis::roles! {
    /// The roles of the documents API.
    pub enum Role {
        /// May list every document of every owner.
        DocumentsAdmin = "documents-admin",
    }
}

/// Where roles are read when `PORTCULLIS_ROLES_CLAIM` is not set: Keycloak's realm roles.
pub const DEFAULT_ROLES_CLAIM: &str = "realm_access.roles";

/// Request bodies larger than this (1 MiB) are refused with 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How many documents a search returns when the request does not say.
pub const DEFAULT_SEARCH_LIMIT: u32 = 20;

/// How many documents a page of `GET /documents` holds when the request does not say.
pub const DEFAULT_PAGE_LIMIT: u32 = 20;

/// What every handler can reach: the token verifier and the document store, each taken from
/// the state by its type (`State<Store>`, and the guards' `Verifier`) through the derived
/// `FromRef`.
#[derive(Debug, Clone, FromRef)]
pub struct AppState {
    /// Verifies bearer tokens and renders denials.
    pub verifier: Verifier,
    /// The documents.
    pub store: Store,
}

/// The body of `POST /documents` and `PUT /documents/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, garde::Validate, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentInput {
    /// Required: 1 to 200 characters, not only whitespace.
    #[garde(length(chars, min = 1, max = 200), custom(not_blank))]
    pub title: String,
    /// Required: at most 100 000 characters.
    #[garde(length(chars, max = 100_000))]
    pub body: String,
}

/// The query of `GET /documents/search`. Unknown and repeated parameters are refused.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, garde::Validate, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// Required: what the title must contain, 1 to 100 characters.
    #[garde(length(chars, min = 1, max = 100))]
    pub q: String,
    /// At most this many results, 1 to 100; [`DEFAULT_SEARCH_LIMIT`] when absent.
    #[garde(range(min = 1, max = 100))]
    pub limit: Option<u32>,
}

/// The query of `GET /documents`. Unknown and repeated parameters are refused.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, garde::Validate, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// At most this many documents, 1 to 100; [`DEFAULT_PAGE_LIMIT`] when absent.
    #[garde(range(min = 1, max = 100))]
    pub limit: Option<u32>,
    /// Where the page starts: the `cursor` of the previous page's `Link` header; the first
    /// page when absent.
    #[garde(skip)]
    pub cursor: Option<Cursor>,
}

/// Where a page of `GET /documents` starts: after the last document of the previous page.
///
/// Opaque to clients, who only copy it from a `Link` header: base64url, without padding, of a
/// version byte (1) and the id of that last document (8 bytes, big-endian). A cursor that is
/// not one this server could have written is refused with 400 (`invalid-params`: `cursor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Cursor {
    /// The id of the last document of the previous page.
    pub after: i64,
}

/// The version byte of the cursors this server writes.
const CURSOR_VERSION: u8 = 1;

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut bytes = [0; 9];
        bytes[0] = CURSOR_VERSION;
        bytes[1..].copy_from_slice(&self.after.to_be_bytes());
        f.write_str(&URL_SAFE_NO_PAD.encode(bytes))
    }
}

/// A `cursor` this server did not write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a cursor of this server")]
pub struct InvalidCursor;

impl std::str::FromStr for Cursor {
    type Err = InvalidCursor;

    /// Only the spelling [`Cursor`]'s `Display` writes: canonical base64url, the version byte,
    /// and a positive id.
    fn from_str(text: &str) -> Result<Self, InvalidCursor> {
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| InvalidCursor)?;
        let Some((&CURSOR_VERSION, id)) = bytes.split_first() else { return Err(InvalidCursor) };
        let id: [u8; 8] = id.try_into().map_err(|_| InvalidCursor)?;
        let after = i64::from_be_bytes(id);
        if after < 1 {
            return Err(InvalidCursor);
        }
        Ok(Self { after })
    }
}

impl TryFrom<String> for Cursor {
    type Error = InvalidCursor;

    fn try_from(text: String) -> Result<Self, InvalidCursor> {
        text.parse()
    }
}

/// The path of `PUT` and `DELETE /documents/{id}/shares/{subject}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, garde::Validate, schemars::JsonSchema)]
pub struct ShareParams {
    /// The document; the guard has already loaded it.
    #[garde(skip)]
    pub id: i64,
    /// The principal id to share with, as ownership spells it ([`Principal::id`]): the `sub`
    /// with one issuer, the JSON pair `["<iss>","<sub>"]` with several. 1 to 1024 characters
    /// (room for an issuer URL in the pair).
    #[garde(length(chars, min = 1, max = 1024))]
    pub subject: String,
}

/// Why a share subject is refused, in the problem's `invalid-params`.
const NOT_A_PAIR: &str = r#"must be a principal id: ["<issuer>","<subject>"]"#;

/// The principal id a share names, spelt as [`Principal::id`] spells it, so that it matches the
/// caller it names; `None` when it cannot name anyone.
///
/// When `sharer`'s own id is by issuer, every caller's is (several issuers are accepted):
/// `subject` must be a pair `["<iss>","<sub>"]` too (any JSON spacing), and is respelt as
/// [`PrincipalId`] spells it. Otherwise ids are subjects and `subject` is taken as it is.
fn share_subject(sharer: &Principal, subject: &str) -> Option<String> {
    if sharer.id().issuer().is_none() {
        return Some(subject.to_owned());
    }
    let (issuer, subject) = serde_json::from_str::<(String, String)>(subject).ok()?;
    PrincipalId::by_issuer(&issuer, &subject).ok().map(|id| id.to_string())
}

/// The 400 for a share subject that names no one, as the path extractor words its own.
fn invalid_subject() -> Response {
    let mut response = Problem::new(StatusCode::BAD_REQUEST)
        .with_detail("The path parameters are invalid")
        .with_invalid_params(vec![InvalidParam::new("subject", NOT_A_PAIR)])
        .into_response();
    response.extensions_mut().insert(DeniedWith("invalid_params"));
    response
}

/// An empty value is already reported by the length rule; this one catches `"   "`.
fn not_blank(value: &str, _context: &()) -> garde::Result {
    if !value.is_empty() && value.trim().is_empty() {
        return Err(garde::Error::new("must not be blank"));
    }
    Ok(())
}

/// The whole application: routes, guards, the protected resource metadata (when the verifier
/// has a resource identifier), `GET /ready` ([`operations::ready`]), the 1 MiB body limit and
/// portcullis's access log (target `portcullis::access_log`). `GET /metrics` is added by the
/// binary ([`operations::metrics_router`]), which owns the process's metrics recorder.
pub fn router(state: AppState) -> Router {
    let metadata = state.verifier.metadata_router();
    // The routes the OpenAPI document describes, from the one list that builds both.
    Router::from(openapi::routes())
        .merge(metadata)
        .route("/openapi.json", get(openapi::serve))
        .route("/ready", get(operations::ready))
        .fallback(unknown_route)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(AccessLogLayer::new())
        .with_state(state)
}

async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// A page of the caller's documents, oldest first; when more follow, `Link: <…>; rel="next"`
/// (RFC 8288) names the next page, with the same `limit`. Only the page is read from the store.
#[portcullis::requires_scope(Scope::DocsRead)]
async fn list(
    principal: Principal,
    State(store): State<Store>,
    Valid(Query(params)): Valid<Query<ListParams>>,
) -> Result<Response, InternalError> {
    let limit = params.limit.unwrap_or(DEFAULT_PAGE_LIMIT);
    let after = params.cursor.map(|cursor| cursor.after);
    let page = store.page(principal.id().as_str(), after, limit).await?;
    let mut response = Json(page.documents).into_response();
    if let Some(after) = page.next_after {
        let next = format!("</documents?limit={limit}&cursor={}>; rel=\"next\"", Cursor { after });
        // Digits and the base64url alphabet only: always a valid header value.
        if let Ok(value) = header::HeaderValue::try_from(next) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

#[portcullis::requires_scope(Scope::DocsWrite)]
async fn create(
    principal: Principal,
    State(store): State<Store>,
    Valid(Json(input)): Valid<Json<DocumentInput>>,
) -> Result<Response, InternalError> {
    let document = store.create(principal.id().as_str(), input).await?;
    let location = format!("/documents/{}", document.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(document)).into_response())
}

#[portcullis::requires_scope(Scope::DocsRead)]
#[portcullis::owner_only(Document, action = read)]
async fn read(document: Owned<Document>) -> Json<Document> {
    Json(document.into_inner())
}

#[portcullis::requires_scope(Scope::DocsWrite)]
#[portcullis::owner_only(Document, action = write)]
async fn update(
    principal: Principal,
    document: Owned<Document>,
    State(store): State<Store>,
    Valid(Json(input)): Valid<Json<DocumentInput>>,
) -> Result<Response, InternalError> {
    Ok(match store.update(document.id, &document.owner, input).await? {
        Some(updated) => Json(updated).into_response(),
        // Deleted between the guard's look-up and this update: the guard's own 404.
        None => principal.not_found().into_response(),
    })
}

#[portcullis::requires_scope(Scope::DocsDelete)]
#[portcullis::owner_only(Document, action = delete)]
async fn remove(
    principal: Principal,
    document: Owned<Document>,
    State(store): State<Store>,
) -> Result<Response, InternalError> {
    Ok(if store.delete(document.id, &document.owner).await? {
        StatusCode::NO_CONTENT.into_response()
    } else {
        principal.not_found().into_response()
    })
}

#[portcullis::requires_scope(Scope::DocsRead)]
async fn search(
    principal: Principal,
    State(store): State<Store>,
    Valid(Query(params)): Valid<Query<SearchParams>>,
) -> Result<Json<Vec<Document>>, InternalError> {
    let limit = params.limit.unwrap_or(DEFAULT_SEARCH_LIMIT);
    Ok(Json(store.search(principal.id().as_str(), &params.q, limit).await?))
}

#[portcullis::requires_scope(any(Scope::AdminRead, Scope::DocsAdmin))]
async fn stats(State(store): State<Store>) -> Result<Json<Stats>, InternalError> {
    Ok(Json(store.stats().await?))
}

/// Sharing changes who may read the document: the owner's business only (a reader trying gets
/// 403), and only with a verified e-mail address. `{subject}` is a principal id, as ownership
/// compares it (see [`share_subject`]).
#[portcullis::requires_scope(Scope::DocsWrite)]
#[portcullis::requires_policy(claim_true("email_verified"))]
#[portcullis::owner_only(Document, id = "id", action = write)]
async fn share(
    principal: Principal,
    document: Owned<Document>,
    State(store): State<Store>,
    Valid(Path(params)): Valid<Path<ShareParams>>,
) -> Result<Response, InternalError> {
    change_share(&principal, &params.subject, async |subject| {
        store.share(document.id, &document.owner, subject).await
    })
    .await
}

#[portcullis::requires_scope(Scope::DocsWrite)]
#[portcullis::requires_policy(claim_true("email_verified"))]
#[portcullis::owner_only(Document, id = "id", action = write)]
async fn unshare(
    principal: Principal,
    document: Owned<Document>,
    State(store): State<Store>,
    Valid(Path(params)): Valid<Path<ShareParams>>,
) -> Result<Response, InternalError> {
    change_share(&principal, &params.subject, async |subject| {
        store.unshare(document.id, &document.owner, subject).await
    })
    .await
}

/// What `share` and `unshare` answer once their guards passed: 400 for a `{subject}` that is not
/// a principal id, 204 when `change` applied, and the guard's own 404 when the document was
/// deleted meanwhile.
async fn change_share(
    principal: &Principal,
    subject: &str,
    change: impl AsyncFnOnce(&str) -> Result<bool, StoreError>,
) -> Result<Response, InternalError> {
    let Some(subject) = share_subject(principal, subject) else {
        return Ok(invalid_subject());
    };
    Ok(if change(&subject).await? {
        StatusCode::NO_CONTENT.into_response()
    } else {
        principal.not_found().into_response()
    })
}

#[portcullis::requires_role(Role::DocumentsAdmin)]
async fn all_documents(State(store): State<Store>) -> Result<Json<Vec<Summary>>, InternalError> {
    Ok(Json(store.all().await?))
}

/// Optional credentials: who is calling, if anyone.
#[portcullis::authenticated(optional)]
async fn whoami(principal: Option<Principal>) -> Json<Value> {
    Json(match principal {
        None => json!({"subject": null}),
        Some(principal) => json!({
            "subject": principal.subject(),
            "scopes": principal.scopes().iter().collect::<Vec<_>>(),
        }),
    })
}

/// Unknown paths get a problem document too (the same bytes as a Production ownership 404).
async fn unknown_route() -> Problem {
    Problem::new(StatusCode::NOT_FOUND)
}
