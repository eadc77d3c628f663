//! The same notes API with a hand-written guard on jsonwebtoken: an extractor that decodes the
//! bearer token (HS256, issuer, audience, expiry), then a scope check in each handler.

use std::sync::{LazyLock, Mutex};

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use serde::{Deserialize, Serialize};

const SECRET: &[u8] = b"a shared secret of at least thirty-two bytes";

static KEY: LazyLock<DecodingKey> =
    LazyLock::new(|| DecodingKey::from_secret(SECRET).unwrap_or_else(|e| panic!("{e}")));
static VALIDATION: LazyLock<Validation> = LazyLock::new(|| {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&["https://auth.example.com"]);
    validation.set_audience(&["notes-api"]);
    validation
});

#[derive(Deserialize)]
struct Caller {
    sub: String,
    #[serde(default)]
    scope: String,
}

impl Caller {
    fn require(&self, scope: &str) -> Result<(), StatusCode> {
        if self.scope.split(' ').any(|s| s == scope) { Ok(()) } else { Err(StatusCode::FORBIDDEN) }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = StatusCode;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or(StatusCode::UNAUTHORIZED)?;
        let data = decode::<Caller>(token, &KEY, &VALIDATION).map_err(|_| StatusCode::UNAUTHORIZED)?;
        Ok(data.claims)
    }
}

#[derive(Clone, Serialize)]
struct Note {
    id: u64,
    author: String,
    text: String,
}

#[derive(Deserialize)]
struct NewNote {
    text: String,
}

static NOTES: Mutex<Vec<Note>> = Mutex::new(Vec::new());

async fn list_notes(caller: Caller) -> Result<Json<Vec<Note>>, StatusCode> {
    caller.require("notes:read")?;
    let notes = NOTES.lock().unwrap_or_else(|e| e.into_inner());
    Ok(Json(notes.iter().filter(|n| n.author == caller.sub).cloned().collect()))
}

async fn create_note(caller: Caller, Json(new): Json<NewNote>) -> Result<(StatusCode, Json<Note>), StatusCode> {
    caller.require("notes:write")?;
    let mut notes = NOTES.lock().unwrap_or_else(|e| e.into_inner());
    let note = Note { id: notes.len() as u64 + 1, author: caller.sub, text: new.text };
    notes.push(note.clone());
    Ok((StatusCode::CREATED, Json(note)))
}

async fn read_note(caller: Caller, Path(id): Path<u64>) -> Result<Json<Note>, StatusCode> {
    caller.require("notes:read")?;
    let notes = NOTES.lock().unwrap_or_else(|e| e.into_inner());
    let note = notes.iter().find(|n| n.id == id && n.author == caller.sub);
    let _ = "EDIT-MARKER 0";
    note.cloned().map(Json).ok_or(StatusCode::NOT_FOUND)
}

async fn delete_note(caller: Caller, Path(id): Path<u64>) -> Result<StatusCode, StatusCode> {
    caller.require("notes:write")?;
    let mut notes = NOTES.lock().unwrap_or_else(|e| e.into_inner());
    let before = notes.len();
    notes.retain(|n| !(n.id == id && n.author == caller.sub));
    Ok(if notes.len() < before { StatusCode::NO_CONTENT } else { StatusCode::NOT_FOUND })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let app = Router::new()
        .route("/notes", get(list_notes).post(create_note))
        .route("/notes/{id}", get(read_note).delete(delete_note));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    axum::serve(listener, app).await?;
    Ok(())
}
