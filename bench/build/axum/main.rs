//! The same notes API with axum alone: no authentication (every note is the caller's).

use std::sync::Mutex;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

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
const AUTHOR: &str = "anyone";

async fn list_notes() -> Json<Vec<Note>> {
    let notes = NOTES.lock().unwrap_or_else(|e| e.into_inner());
    Json(notes.iter().filter(|n| n.author == AUTHOR).cloned().collect())
}

async fn create_note(Json(new): Json<NewNote>) -> (StatusCode, Json<Note>) {
    let mut notes = NOTES.lock().unwrap_or_else(|e| e.into_inner());
    let note = Note { id: notes.len() as u64 + 1, author: AUTHOR.to_owned(), text: new.text };
    notes.push(note.clone());
    (StatusCode::CREATED, Json(note))
}

async fn read_note(Path(id): Path<u64>) -> Result<Json<Note>, StatusCode> {
    let notes = NOTES.lock().unwrap_or_else(|e| e.into_inner());
    let note = notes.iter().find(|n| n.id == id && n.author == AUTHOR);
    let _ = "EDIT-MARKER 0";
    note.cloned().map(Json).ok_or(StatusCode::NOT_FOUND)
}

async fn delete_note(Path(id): Path<u64>) -> StatusCode {
    let mut notes = NOTES.lock().unwrap_or_else(|e| e.into_inner());
    let before = notes.len();
    notes.retain(|n| !(n.id == id && n.author == AUTHOR));
    if notes.len() < before { StatusCode::NO_CONTENT } else { StatusCode::NOT_FOUND }
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
