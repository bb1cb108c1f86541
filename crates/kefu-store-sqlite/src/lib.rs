//! Embedded SQLite store (the default backend).
//!
//! One writer thread owns the only write connection and commits in groups:
//! it takes every write request waiting in its queue (up to a batch limit),
//! runs each inside its own SAVEPOINT (so one refusal rolls back only
//! itself), commits once with `synchronous=FULL`, and only then answers the
//! callers. A write that was answered is on disk, and many writers share
//! one fsync. Reads run on a small pool of WAL reader connections in the
//! blocking thread pool and never wait for the writer.

mod attachments;
mod bot;
mod dump;
mod events;
mod exports;
mod feed;
mod inbound;
mod incidents;
mod inventory;
mod kb;
mod keys;
mod kpi;
mod macros;
mod migrate;
mod models;
mod org;
mod outbox;
mod quality;
mod reports;
mod rows;
mod schedules;
mod tickets;
mod users;
mod writer;

use chrono::{DateTime, Utc};
use kefu_domain::audit::AuditEvent;
use kefu_domain::org::{Department, StaffProfile, Team};
use kefu_domain::ticket::{Comment, Customer, Ticket, Transfer};
use kefu_domain::{CustomerId, TeamId, TicketId, UserId};
use kefu_store::crypto::FieldCipher;
use kefu_store::*;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub use migrate::known_version;

#[derive(Clone)]
pub struct SqliteStore {
    writer: writer::Writer,
    readers: Arc<ReadPool>,
    cipher: Arc<FieldCipher>,
}

pub(crate) fn backend(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, Some(msg)) = &e
        && f.code == rusqlite::ErrorCode::ConstraintViolation
        && msg.starts_with("UNIQUE")
    {
        return StoreError::Conflict { constraint: unique_constraint_name(msg) };
    }
    StoreError::Backend(e.to_string())
}

/// SQLite names the columns of a unique violation, not the constraint:
/// map them back to the constraint names both migration trees use.
fn unique_constraint_name(msg: &str) -> String {
    let cols = msg.trim_start_matches("UNIQUE constraint failed: ");
    match cols {
        "users.username" => "users_username_key",
        "customers.phone_idx" => "customers_phone_key",
        "tickets.number" => "tickets_number_key",
        "departments.code" => "departments_code_key",
        "teams.code" => "teams_code_key",
        "macros.owner_id, macros.name" => "macros_owner_name_key",
        "idempotency_keys.user_id, idempotency_keys.key" => "idempotency_keys_pkey",
        "bot_sessions.id" => "bot_sessions_pkey",
        "store_rectifications.inspection_id" => "store_rectifications_pkey",
        other => other,
    }
    .to_string()
}

fn open_connection(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open(path).map_err(backend)?;
    // WAL: readers never block the writer. synchronous=FULL: a commit is on
    // disk before it returns (survives power loss, not only kill -9).
    // temp_store=MEMORY: the savepoint sub-journal of every grouped write
    // stays in memory instead of a temporary file (it is never needed after
    // a crash: the WAL is).
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA temp_store = MEMORY;",
    )
    .map_err(backend)?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies migrations.
    /// `cipher` encrypts and decrypts the sensitive customer fields.
    pub fn open(path: impl Into<PathBuf>, cipher: Arc<FieldCipher>) -> StoreResult<SqliteStore> {
        let path = path.into();
        let mut conn = open_connection(&path)?;
        migrate::migrate(&mut conn)?;
        keys::check(&conn, &cipher)?;
        let stats = Arc::new(AtomicU64::new(0));
        Ok(SqliteStore {
            writer: writer::Writer::spawn(conn, stats.clone()),
            readers: Arc::new(ReadPool {
                path,
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(tokio::sync::Semaphore::new(MAX_READERS)),
                stats,
            }),
            cipher,
        })
    }

    /// Applies migrations only, reporting the schema version reached.
    pub fn migrate_only(path: impl AsRef<Path>) -> StoreResult<i64> {
        let mut conn = open_connection(path.as_ref())?;
        migrate::migrate(&mut conn)
    }

    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let pool = self.readers.clone();
        // At most MAX_READERS reads at once, each on a kept connection:
        // waiting for one is far cheaper than opening (and parsing the
        // schema for) a new one.
        let permit = pool
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| StoreError::Backend(format!("reader pool closed: {e}")))?;
        tokio::task::spawn_blocking(move || {
            let conn = pool.take()?;
            let out = f(&conn.0);
            pool.give_back(conn);
            drop(permit);
            out
        })
        .await
        .map_err(|e| StoreError::Backend(format!("reader task failed: {e}")))?
    }
}

/// Reader connections, opened on demand and kept: at most MAX_READERS
/// reads run at once, so at most that many connections exist. A connection
/// loads the planner's statistics when it opens, so after the writer
/// refreshes them (`stats` moves on) the older ones are closed.
struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<(Connection, u64)>>,
    permits: Arc<tokio::sync::Semaphore>,
    stats: Arc<AtomicU64>,
}

const MAX_READERS: usize = 16;

impl ReadPool {
    fn take(&self) -> StoreResult<(Connection, u64)> {
        let now = self.stats.load(Ordering::Acquire);
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.retain(|(_, generation)| *generation == now);
        if let Some(c) = idle.pop() {
            return Ok(c);
        }
        drop(idle);
        Ok((open_connection(&self.path)?, now))
    }

    fn give_back(&self, conn: (Connection, u64)) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_READERS && conn.1 == self.stats.load(Ordering::Acquire) {
            idle.push(conn);
        }
    }
}
