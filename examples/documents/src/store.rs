//! Documents in SQLite, through one `rusqlite` connection used on tokio's blocking threads.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use portcullis::{
    Principal,
    resource::{Access, Action, Visibility},
};
use rusqlite::{Connection, OptionalExtension, Params, Row, Statement, StatementStatus, params};
use serde::{Deserialize, Serialize};

use crate::DocumentInput;

/// The schema, applied at every start. `AUTOINCREMENT` keeps ids unique for ever: a deleted
/// document's id never names another one later.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS documents (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    owner      TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE INDEX IF NOT EXISTS documents_by_owner ON documents (owner, id);
CREATE TABLE IF NOT EXISTS shares (
    document_id INTEGER NOT NULL,
    subject     TEXT NOT NULL,
    PRIMARY KEY (document_id, subject)
);
";

/// The columns every query returns, in the order [`Document::from_row`] reads them.
const COLUMNS: &str = "id, owner, title, body, created_at, updated_at";

/// A document, as stored and as sent to its owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Document {
    /// Assigned by the database; never reused.
    pub id: i64,
    /// The principal id ([`Principal::id`]) of the caller who created it: the token's `sub`, or
    /// with several issuers the pair `["<iss>","<sub>"]`.
    pub owner: String,
    /// 1 to 200 characters, not blank.
    pub title: String,
    /// At most 100 000 characters.
    pub body: String,
    /// When it was created, RFC 3339 in UTC, to the second.
    pub created_at: String,
    /// When it was last replaced, RFC 3339 in UTC, to the second.
    pub updated_at: String,
    /// The principal ids it is shared with, read-only, in the same form as `owner` (a share's
    /// path `{subject}` is one). Loaded with the document for the access decision; not sent.
    #[serde(skip)]
    pub shared_with: Vec<String>,
}

/// A line of `GET /admin/documents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Summary {
    /// The document's id.
    pub id: i64,
    /// Its owner.
    pub owner: String,
    /// Its title.
    pub title: String,
}

impl Document {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            owner: row.get(1)?,
            title: row.get(2)?,
            body: row.get(3)?,
            created_at: row.get(4)?,
            updated_at: row.get(5)?,
            shared_with: Vec::new(),
        })
    }
}

/// Counts over every owner's documents, for `GET /admin/stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Stats {
    /// How many documents are stored.
    pub documents: u64,
    /// How many distinct owners they have.
    pub owners: u64,
}

/// The database could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused or failed.
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// The blocking task running the query panicked or was cancelled.
    #[error("the database task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// One page of a caller's documents, from [`Store::page`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// At most the page's limit of documents, oldest first.
    pub documents: Vec<Document>,
    /// The id of the last document of this page when more documents follow it; `None` on the
    /// last page.
    pub next_after: Option<i64>,
}

/// The document store: a handle to one SQLite database, cheap to clone.
///
/// SQLite calls block, so each query runs on tokio's blocking thread pool; one connection is
/// shared behind a mutex, which also makes an in-memory database one database for every request.
#[derive(Debug, Clone)]
pub struct Store {
    database: Arc<Mutex<Database>>,
}

/// The connection, and the statements run on it while a test records them.
#[derive(Debug)]
struct Database {
    connection: Connection,
    /// `Some` once [`Store::record_statements`] was called.
    recorded: Option<Vec<Executed>>,
}

/// A statement the store ran, as [`Store::take_statements`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed {
    /// Its SQL.
    pub sql: String,
    /// What SQLite did to run it, for the statements the store runs to completion itself
    /// (`None` for those whose rows a caller steps through).
    pub work: Option<Work>,
}

/// What SQLite did to run one statement (`sqlite3_stmt_status`): two runs that visit the same
/// rows of the same indexes execute the same virtual machine steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Work {
    /// Virtual machine operations executed (`SQLITE_STMTSTATUS_VM_STEP`).
    pub vm_steps: i32,
    /// Steps of full table scans (`SQLITE_STMTSTATUS_FULLSCAN_STEP`): 0 when every table is
    /// reached through an index.
    pub fullscan_steps: i32,
}

impl Work {
    fn of(statement: &Statement<'_>) -> Self {
        Self {
            vm_steps: statement.get_status(StatementStatus::VmStep),
            fullscan_steps: statement.get_status(StatementStatus::FullscanStep),
        }
    }
}

/// What the store's queries run SQL through, so that a test can see which statements ran and
/// what they did.
struct Db<'a> {
    connection: &'a Connection,
    recorded: &'a mut Option<Vec<Executed>>,
}

impl<'a> Db<'a> {
    fn record(&mut self, sql: &str, work: Option<Work>) {
        if let Some(recorded) = self.recorded.as_mut() {
            recorded.push(Executed { sql: sql.to_owned(), work });
        }
    }

    fn prepare(&mut self, sql: &str) -> rusqlite::Result<Statement<'a>> {
        self.record(sql, None);
        self.connection.prepare(sql)
    }

    fn query_row<T, P: Params>(
        &mut self,
        sql: &str,
        params: P,
        row: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let mut statement = self.connection.prepare(sql)?;
        let result = statement.query_row(params, row);
        self.record(sql, Some(Work::of(&statement)));
        result
    }

    fn execute<P: Params>(&mut self, sql: &str, params: P) -> rusqlite::Result<usize> {
        let mut statement = self.connection.prepare(sql)?;
        let result = statement.execute(params);
        self.record(sql, Some(Work::of(&statement)));
        result
    }
}

/// Whether a document is there and may be seen by a principal, in one statement whose work
/// does not depend on the answer for anyone but its owner and those it is shared with: two
/// probes that run whatever either finds, the document's row by its id (the primary key) and
/// the share by (document, principal) (the shares' primary key). The first yields exactly one
/// row either way, the owner or, for an absent id, the `NULL` that `UNION ALL` appends
/// (SQLite runs a compound's parts in order, and `LIMIT 1` stops after the first row), so that
/// SQLite executes the same steps for an absent document and for someone else's.
pub const VISIBILITY: &str = "SELECT \
    (SELECT owner FROM documents WHERE id = ?1 UNION ALL SELECT NULL LIMIT 1), \
    EXISTS (SELECT 1 FROM shares WHERE document_id = ?1 AND subject = ?2)";

impl Store {
    /// Opens (or creates) the database file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::init(Connection::open(path)?)
    }

    /// A fresh database in memory, gone when the last clone of the store is dropped.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(connection: Connection) -> Result<Self, StoreError> {
        // Another process may hold the file's lock for a moment; wait rather than fail.
        connection.busy_timeout(Duration::from_secs(5))?;
        connection.execute_batch(SCHEMA)?;
        let database = Database { connection, recorded: None };
        Ok(Self { database: Arc::new(Mutex::new(database)) })
    }

    /// A test hook: from now on the SQL of every statement the store runs is kept, for
    /// [`Store::take_statements`], so that a test can count the queries of a request and see
    /// which columns they read.
    pub fn record_statements(&self) {
        let mut database = self.database.lock().unwrap_or_else(PoisonError::into_inner);
        database.recorded.get_or_insert_with(Vec::new);
    }

    /// A test hook: the statements run since [`Store::record_statements`] or the last call,
    /// oldest first, with what SQLite did to run them; empty when nothing is recorded.
    pub fn take_statements(&self) -> Vec<Executed> {
        let mut database = self.database.lock().unwrap_or_else(PoisonError::into_inner);
        database.recorded.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// A test hook: SQLite's query plan of `sql` (`EXPLAIN QUERY PLAN`, parameters unbound),
    /// one line per step, nested steps indented.
    pub async fn query_plan(&self, sql: &str) -> Result<Vec<String>, StoreError> {
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        self.run(move |db| {
            let mut statement = db.connection.prepare(&explain)?;
            let mut depths: Vec<(i64, usize)> = Vec::new();
            let unbound = std::iter::repeat_n(rusqlite::types::Null, statement.parameter_count());
            let rows = statement.query_map(rusqlite::params_from_iter(unbound), |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get::<_, String>(3)?))
            })?;
            let mut plan = Vec::new();
            for row in rows {
                let (id, parent, detail) = row?;
                let depth =
                    depths.iter().find(|(known, _)| *known == parent).map_or(0, |(_, d)| d + 1);
                depths.push((id, depth));
                plan.push(format!("{}{detail}", "  ".repeat(depth)));
            }
            Ok(plan)
        })
        .await
    }

    /// Runs `query` with the connection on a blocking thread.
    async fn run<T, F>(&self, query: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Db<'_>) -> rusqlite::Result<T> + Send + 'static,
    {
        let database = Arc::clone(&self.database);
        let result = tokio::task::spawn_blocking(move || {
            // A panic while the lock was held leaves SQLite itself consistent (every statement
            // is atomic), so a poisoned lock is still usable.
            let mut database = database.lock().unwrap_or_else(PoisonError::into_inner);
            let Database { connection, recorded } = &mut *database;
            query(&mut Db { connection, recorded })
        })
        .await?;
        Ok(result?)
    }

    /// Whether document `id` is there and `principal` (a principal id) may see it, reading
    /// only its owner and whether it is shared with them, never its title or body: `None` when
    /// no document has this id. One statement, [`VISIBILITY`], whose work is the same for an
    /// absent document and someone else's.
    pub async fn visible_to(&self, id: i64, principal: &str) -> Result<Option<bool>, StoreError> {
        let principal = principal.to_owned();
        self.run(move |db| {
            let (owner, shared): (Option<String>, bool) =
                db.query_row(VISIBILITY, params![id, principal], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })?;
            Ok(owner.map(|owner| owner == principal || shared))
        })
        .await
    }

    /// The document with this id, whoever owns it, with whom it is shared.
    pub async fn get(&self, id: i64) -> Result<Option<Document>, StoreError> {
        self.run(move |db| {
            let document = db
                .query_row(
                    &format!("SELECT {COLUMNS} FROM documents WHERE id = ?1"),
                    params![id],
                    Document::from_row,
                )
                .optional()?;
            let Some(mut document) = document else { return Ok(None) };
            let mut statement =
                db.prepare("SELECT subject FROM shares WHERE document_id = ?1 ORDER BY subject")?;
            document.shared_with =
                statement.query_map(params![id], |row| row.get(0))?.collect::<Result<_, _>>()?;
            Ok(Some(document))
        })
        .await
    }

    /// Every document of every owner, oldest first, for administrators.
    pub async fn all(&self) -> Result<Vec<Summary>, StoreError> {
        self.run(|db| {
            let mut statement = db.prepare("SELECT id, owner, title FROM documents ORDER BY id")?;
            let rows = statement.query_map([], |row| {
                Ok(Summary { id: row.get(0)?, owner: row.get(1)?, title: row.get(2)? })
            })?;
            rows.collect()
        })
        .await
    }

    /// Shares document `id` of `owner` with the principal id `subject` (again: no change);
    /// whether the document is there (any more).
    pub async fn share(&self, id: i64, owner: &str, subject: &str) -> Result<bool, StoreError> {
        let (owner, subject) = (owner.to_owned(), subject.to_owned());
        self.run(move |db| {
            let inserted = db.execute(
                "INSERT OR IGNORE INTO shares (document_id, subject) \
                 SELECT id, ?3 FROM documents WHERE id = ?1 AND owner = ?2",
                params![id, owner, subject],
            )?;
            if inserted > 0 {
                return Ok(true);
            }
            owned(db, id, &owner)
        })
        .await
    }

    /// Stops sharing document `id` of `owner` with `subject` (not shared: no change); whether
    /// the document is there (any more).
    pub async fn unshare(&self, id: i64, owner: &str, subject: &str) -> Result<bool, StoreError> {
        let (owner, subject) = (owner.to_owned(), subject.to_owned());
        self.run(move |db| {
            if !owned(db, id, &owner)? {
                return Ok(false);
            }
            db.execute(
                "DELETE FROM shares WHERE document_id = ?1 AND subject = ?2",
                params![id, subject],
            )?;
            Ok(true)
        })
        .await
    }

    /// At most `limit` documents of `owner`, oldest first, after the document `after` when it
    /// is given. Only `limit + 1` rows are read: the extra one only tells whether a next page
    /// exists.
    pub async fn page(
        &self,
        owner: &str,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Page, StoreError> {
        let owner = owner.to_owned();
        self.run(move |db| {
            let mut statement = db.prepare(&format!(
                "SELECT {COLUMNS} FROM documents WHERE owner = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
            ))?;
            // Ids start at 1, so `0` is before every document.
            let after = after.unwrap_or(0);
            let rows = statement
                .query_map(params![owner, after, i64::from(limit) + 1], Document::from_row)?;
            let mut documents = rows.collect::<Result<Vec<_>, _>>()?;
            let limit = usize::try_from(limit).unwrap_or(usize::MAX);
            let next_after = if documents.len() > limit {
                documents.truncate(limit);
                documents.last().map(|last| last.id)
            } else {
                None
            };
            Ok(Page { documents, next_after })
        })
        .await
    }

    /// Every document of `owner`, oldest first: what `GET /documents/export` answers.
    pub async fn owned_by(&self, owner: &str) -> Result<Vec<Document>, StoreError> {
        let owner = owner.to_owned();
        self.run(move |db| {
            let mut statement = db.prepare(&format!(
                "SELECT {COLUMNS} FROM documents WHERE owner = ?1 ORDER BY id"
            ))?;
            let rows = statement.query_map(params![owner], Document::from_row)?;
            rows.collect()
        })
        .await
    }

    /// The documents of `owner` whose title contains `query` (case-sensitive), oldest first, at
    /// most `limit` of them.
    pub async fn search(
        &self,
        owner: &str,
        query: &str,
        limit: u32,
    ) -> Result<Vec<Document>, StoreError> {
        let (owner, query) = (owner.to_owned(), query.to_owned());
        self.run(move |db| {
            // `instr` rather than `LIKE`: the client's `%` and `_` are plain characters.
            let mut statement = db.prepare(&format!(
                "SELECT {COLUMNS} FROM documents WHERE owner = ?1 AND instr(title, ?2) > 0 \
                 ORDER BY id LIMIT ?3"
            ))?;
            let rows = statement.query_map(params![owner, query, limit], Document::from_row)?;
            rows.collect()
        })
        .await
    }

    /// Stores a new document owned by `owner`.
    pub async fn create(&self, owner: &str, input: DocumentInput) -> Result<Document, StoreError> {
        let owner = owner.to_owned();
        self.run(move |db| {
            db.query_row(
                &format!(
                    "INSERT INTO documents (owner, title, body) VALUES (?1, ?2, ?3) \
                     RETURNING {COLUMNS}"
                ),
                params![owner, input.title, input.body],
                Document::from_row,
            )
        })
        .await
    }

    /// Replaces the title and body of document `id` if `owner` owns it; `None` when no such
    /// document is there (any more).
    pub async fn update(
        &self,
        id: i64,
        owner: &str,
        input: DocumentInput,
    ) -> Result<Option<Document>, StoreError> {
        let owner = owner.to_owned();
        self.run(move |db| {
            db.query_row(
                &format!(
                    "UPDATE documents SET title = ?3, body = ?4, \
                     updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') \
                     WHERE id = ?1 AND owner = ?2 RETURNING {COLUMNS}"
                ),
                params![id, owner, input.title, input.body],
                Document::from_row,
            )
            .optional()
        })
        .await
    }

    /// Deletes document `id` if `owner` owns it; whether it was there.
    pub async fn delete(&self, id: i64, owner: &str) -> Result<bool, StoreError> {
        let owner = owner.to_owned();
        self.run(move |db| {
            let deleted = db.execute(
                "DELETE FROM documents WHERE id = ?1 AND owner = ?2",
                params![id, owner],
            )?;
            if deleted > 0 {
                db.execute("DELETE FROM shares WHERE document_id = ?1", params![id])?;
            }
            Ok(deleted > 0)
        })
        .await
    }

    /// How many documents and owners there are.
    pub async fn stats(&self) -> Result<Stats, StoreError> {
        self.run(|db| {
            db.query_row("SELECT COUNT(*), COUNT(DISTINCT owner) FROM documents", [], |row| {
                // SQLite integers are signed; a count is never negative.
                let count = |index| row.get::<_, i64>(index).map(|n| n.unsigned_abs());
                Ok(Stats { documents: count(0)?, owners: count(1)? })
            })
        })
        .await
    }
}

/// Whether document `id` exists and belongs to `owner`.
fn owned(db: &mut Db<'_>, id: i64, owner: &str) -> rusqlite::Result<bool> {
    db.query_row(
        "SELECT EXISTS (SELECT 1 FROM documents WHERE id = ?1 AND owner = ?2)",
        params![id, owner],
        |row| row.get(0),
    )
}

impl portcullis::OwnedResource for Document {
    type State = Store;
    type Id = i64;
    type Error = StoreError;

    /// One query on the owner and the shares, never the title or body: an absent document and
    /// someone else's take the same work, whatever their size, and only a document the caller
    /// may see is loaded.
    async fn visibility(
        id: &i64,
        principal: &Principal,
        store: &Store,
    ) -> Result<Visibility, StoreError> {
        Ok(match store.visible_to(*id, principal.id().as_str()).await? {
            None => Visibility::Absent,
            Some(false) => Visibility::NotVisible,
            Some(true) => Visibility::Visible,
        })
    }

    async fn load(id: i64, store: &Store) -> Result<Option<Self>, StoreError> {
        store.get(id).await
    }

    fn owner(&self) -> &str {
        &self.owner
    }

    /// The owner does everything; whoever it is shared with reads, and may do nothing else (403);
    /// anyone else does not see it (the same 404 as for an absent document). Owner and shares
    /// are both principal ids, compared with [`Principal::id`]: with several issuers a share
    /// with bob of A is not one with bob of B.
    fn access(&self, principal: &Principal, action: Action) -> Access {
        if self.owner == principal.id() {
            Access::Allowed
        } else if self.shared_with.iter().any(|subject| subject == principal.id()) {
            if action == Action::Read { Access::Allowed } else { Access::Forbidden }
        } else {
            Access::NotVisible
        }
    }
}
