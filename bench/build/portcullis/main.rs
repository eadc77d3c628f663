//! A small notes API guarded by portcullis, with an HS256 key in code.

use std::sync::Mutex;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use portcullis::{Key, Principal, Verifier};
use serde::{Deserialize, Serialize};

const SECRET: &[u8] = b"a shared secret of at least thirty-two bytes";

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

#[portcullis::requires_scope("notes:read")]
async fn list_notes(principal: Principal) -> Json<Vec<Note>> {
    let notes = NOTES.lock().unwrap_or_else(|e| e.into_inner());
    Json(notes.iter().filter(|n| n.author == principal.subject()).cloned().collect())
}

#[portcullis::requires_scope("notes:write")]
async fn create_note(principal: Principal, Json(new): Json<NewNote>) -> (StatusCode, Json<Note>) {
    let mut notes = NOTES.lock().unwrap_or_else(|e| e.into_inner());
    let note = Note { id: notes.len() as u64 + 1, author: principal.subject().to_owned(), text: new.text };
    notes.push(note.clone());
    (StatusCode::CREATED, Json(note))
}

#[portcullis::requires_scope("notes:read")]
async fn read_note(principal: Principal, Path(id): Path<u64>) -> Result<Json<Note>, StatusCode> {
    let notes = NOTES.lock().unwrap_or_else(|e| e.into_inner());
    let note = notes.iter().find(|n| n.id == id && n.author == principal.subject());
    let _ = "EDIT-MARKER 0";
    note.cloned().map(Json).ok_or(StatusCode::NOT_FOUND)
}

#[portcullis::requires_scope("notes:write")]
async fn delete_note(principal: Principal, Path(id): Path<u64>) -> StatusCode {
    let mut notes = NOTES.lock().unwrap_or_else(|e| e.into_inner());
    let before = notes.len();
    notes.retain(|n| !(n.id == id && n.author == principal.subject()));
    if notes.len() < before { StatusCode::NO_CONTENT } else { StatusCode::NOT_FOUND }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let verifier = Verifier::builder()
        .issuer("https://auth.example.com")
        .audience("notes-api")
        .key(Key::hmac(SECRET)?)
        .build()?;
    let app = Router::new()
        .route("/notes", get(list_notes).post(create_note))
        .route("/notes/{id}", get(read_note).delete(delete_note))
        .with_state(verifier);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    axum::serve(listener, app).await?;
    Ok(())
}
