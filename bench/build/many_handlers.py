#!/usr/bin/env python3
"""Writes a cargo project of 100 axum handlers, guarded by portcullis or not, to measure what the
guard macros cost to build (issue 25, item 2).

    many_handlers.py OUTDIR guarded|unguarded

- `guarded`: every handler has `#[requires_scope(..)]`; the odd ones also `#[owner_only(Doc)]`
  and take the loaded `Owned<Doc>`.
- `unguarded`: the same handlers without guards, doing the same work: the same `Query` and
  `Json` extractors, and the odd ones load the same `Doc` themselves (`Path` and `State`, then
  `Doc::load`, with a 404 when it is absent).

Both share the router, the state (a `Verifier` and a store) and `main`, which serves the router,
so that every handler is compiled. The handlers live in ten modules of ten, as in an application
of that size; the package is `many-handlers-<variant>`, its own workspace, with a path
dependency on this repository's runtime (found from this script's place) and a copy of its
Cargo.lock, so that both variants build the same dependency versions.

An edit: each handler's body holds the line `let edit = "h000";` (its number); changing that
string in `src/handlers/m0.rs` (`h000` → anything) changes one handler's body, nothing else.
"""

import pathlib
import shutil
import sys

HANDLERS = 100
PER_MODULE = 10
REPOSITORY = pathlib.Path(__file__).resolve().parent.parent.parent


def cargo_toml(variant: str) -> str:
    runtime = REPOSITORY / "runtime"
    return f"""[package]
name = "many-handlers-{variant}"
version = "0.1.0"
edition = "2024"
publish = false

# Its own workspace, wherever OUTDIR is.
[workspace]

[dependencies]
portcullis = {{ path = "{runtime}" }}
axum = {{ version = "0.8", default-features = false, features = ["http1", "tokio", "json", "query"] }}
serde = {{ version = "1", features = ["derive"] }}
tokio = {{ version = "1", features = ["macros", "rt-multi-thread", "net"] }}
"""


MAIN = """//! 100 handlers ({variant}) and the router that serves them.

mod handlers;
mod store;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::{{get, post}};
use portcullis::{{Key, Verifier}};

use crate::store::Db;

/// The router state: the verifier and the store.
#[derive(Clone)]
pub struct AppState {{
    verifier: Verifier,
    db: Db,
}}

impl FromRef<AppState> for Verifier {{
    fn from_ref(state: &AppState) -> Self {{
        state.verifier.clone()
    }}
}}

impl FromRef<AppState> for Db {{
    fn from_ref(state: &AppState) -> Self {{
        state.db.clone()
    }}
}}

fn app(state: AppState) -> Router {{
    Router::new()
{routes}
        .with_state(state)
}}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {{
    let verifier = Verifier::builder()
        .issuer("https://issuer.example")
        .audience("many-handlers")
        .key(Key::hmac(b"a secret of at least thirty-two bytes, for HS256")?)
        .build()?;
    let state = AppState {{ verifier, db: Db::default() }};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    axum::serve(listener, app(state)).await?;
    Ok(())
}}
"""

STORE = """//! The documents the odd handlers load: an owner and a title by id.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

/// The store, shared by the router state.
#[derive(Clone, Default)]
pub struct Db(Arc<HashMap<u64, (String, String)>>);

/// A document.
pub struct Doc {
    pub owner: String,
    pub title: String,
}

impl Doc {
    /// The document `id`, if any.
    pub async fn load(id: u64, db: &Db) -> Result<Option<Self>, Infallible> {
        Ok(db.0.get(&id).map(|(owner, title)| Doc { owner: owner.clone(), title: title.clone() }))
    }
}

impl portcullis::OwnedResource for Doc {
    type State = Db;
    type Id = u64;
    type Error = Infallible;

    async fn load(id: u64, db: &Db) -> Result<Option<Self>, Infallible> {
        Doc::load(id, db).await
    }

    fn owner(&self) -> &str {
        &self.owner
    }
}
"""

MODULE_HEADER = {
    "guarded": """//! Handlers {first} to {last}, guarded.

use axum::http::StatusCode;
use portcullis::extract::{{Json, Query}};
use portcullis::{{Owned, requires_scope}};
use serde::{{Deserialize, Serialize}};

use crate::store::Doc;
""",
    "unguarded": """//! Handlers {first} to {last}, unguarded.

use axum::extract::State;
use axum::http::StatusCode;
use portcullis::extract::{{Json, Path, Query}};
use serde::{{Deserialize, Serialize}};

use crate::store::{{Db, Doc}};
""",
}

MODULE_TYPES = """
/// A page of a listing.
#[derive(Deserialize)]
pub struct Page {
    from: u64,
    count: Option<u64>,
}

/// A listing.
#[derive(Serialize)]
pub struct Listing {
    handler: &'static str,
    ids: Vec<u64>,
}

/// A document's title, changed.
#[derive(Deserialize)]
pub struct Rename {
    title: String,
}
"""


def listing(number: int, variant: str) -> str:
    guard = f'#[requires_scope("docs:list{number % 4}")]\n' if variant == "guarded" else ""
    return f"""
{guard}pub async fn h{number:03}(Query(page): Query<Page>) -> Json<Listing> {{
    let edit = "h{number:03}";
    let count = page.count.unwrap_or({number}).min(100);
    Json(Listing {{ handler: edit, ids: (page.from..page.from + count).collect() }})
}}
"""


def owned(number: int, variant: str) -> str:
    # Reads for a quarter, renames for the rest: GET and POST, with and without a body.
    renames = number % 4 == 3
    if variant == "guarded":
        scope = "docs:write" if renames else "docs:read"
        # Under `requires_scope`, which reads it: an import of `owner_only` would be unused.
        head = f'#[requires_scope("{scope}")]\n#[portcullis::owner_only(Doc)]\n'
        params = "Owned(doc): Owned<Doc>"
        load = ""
    else:
        head = ""
        params = "Path(id): Path<u64>, State(db): State<Db>"
        load = """    let Ok(Some(doc)) = Doc::load(id, &db).await else {
        return Err(StatusCode::NOT_FOUND);
    };
"""
    if renames:
        params += ", Json(rename): Json<Rename>"
        work = 'format!("{edit}: {} ({}) renamed {}", doc.title, doc.owner, rename.title)'
    else:
        work = 'format!("{edit}: {} ({})", doc.title, doc.owner)'
    return f"""
{head}pub async fn h{number:03}({params}) -> Result<String, StatusCode> {{
    let edit = "h{number:03}";
{load}    Ok({work})
}}
"""


def route(number: int) -> str:
    if number % 2 == 0:
        return f'        .route("/h{number:03}", get(handlers::m{number // PER_MODULE}::h{number:03}))'
    method = "post" if number % 4 == 3 else "get"
    return f'        .route("/h{number:03}/{{id}}", {method}(handlers::m{number // PER_MODULE}::h{number:03}))'


def main() -> None:
    if len(sys.argv) != 3 or sys.argv[2] not in ("guarded", "unguarded"):
        sys.exit(__doc__.split("\n\n")[1])
    out = pathlib.Path(sys.argv[1])
    variant = sys.argv[2]
    (out / "src" / "handlers").mkdir(parents=True, exist_ok=True)
    (out / "Cargo.toml").write_text(cargo_toml(variant))
    shutil.copy(REPOSITORY / "Cargo.lock", out / "Cargo.lock")
    routes = "\n".join(route(number) for number in range(HANDLERS))
    (out / "src" / "main.rs").write_text(MAIN.format(variant=variant, routes=routes))
    (out / "src" / "store.rs").write_text(STORE)
    modules = range(HANDLERS // PER_MODULE)
    (out / "src" / "handlers.rs").write_text(
        "//! The handlers, ten per module.\n\n"
        + "".join(f"pub mod m{module};\n" for module in modules)
    )
    for module in modules:
        first = module * PER_MODULE
        numbers = range(first, first + PER_MODULE)
        text = MODULE_HEADER[variant].format(first=first, last=first + PER_MODULE - 1)
        text += MODULE_TYPES
        for number in numbers:
            text += listing(number, variant) if number % 2 == 0 else owned(number, variant)
        (out / "src" / "handlers" / f"m{module}.rs").write_text(text)


if __name__ == "__main__":
    main()
