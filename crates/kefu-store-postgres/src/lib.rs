//! PostgreSQL store, for several `kefu` nodes on one database.
//!
//! Every write is one transaction on a pooled connection. What must be
//! unique or exclusive across nodes is decided by the database: ticket
//! numbers by a row-locked counter per Shanghai day, idempotency keys by
//! claiming the key row first (a second node with the same key waits for the
//! first and then replays its answer), and a ticket change by locking the
//! ticket row (`SELECT … FOR UPDATE`) while the decision closure runs.

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
pub mod testing;
mod tickets;
mod users;

use chrono::{DateTime, Utc};
use kefu_domain::audit::AuditEvent;
use kefu_domain::org::{Department, StaffProfile, Team};
use kefu_domain::ticket::{Comment, Customer, Ticket, Transfer};
use kefu_domain::{CustomerId, TeamId, TicketId, UserId};
use kefu_store::crypto::FieldCipher;
use kefu_store::seal;
use kefu_store::*;
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

pub use migrate::known_version;

#[derive(Clone)]
pub struct PgStore {
    pool: deadpool_postgres::Pool,
    numbers: std::sync::Arc<tokio::sync::Mutex<tickets::NumberBlock>>,
    cipher: std::sync::Arc<FieldCipher>,
}

pub(crate) fn pg(e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error()
        && *db.code() == SqlState::UNIQUE_VIOLATION
    {
        return StoreError::Conflict { constraint: db.constraint().unwrap_or("unique").to_string() };
    }
    // "db error" alone names nothing: the server's own message does.
    match e.as_db_error() {
        Some(db) => StoreError::Backend(format!("{e}: {} ({})", db.message(), db.code().code())),
        None => StoreError::Backend(e.to_string()),
    }
}

/// Connections per node: enough to keep PostgreSQL busy from two cores.
const POOL_SIZE: usize = 16;

impl PgStore {
    /// Connects (`postgres://user@host:port/db`, `?options=-c search_path=…`
    /// selects a schema) and applies missing migrations.
    /// `cipher` encrypts and decrypts the sensitive customer fields.
    pub async fn connect(url: &str, cipher: std::sync::Arc<FieldCipher>) -> StoreResult<PgStore> {
        Self::migrate_only(url).await?;
        let config: tokio_postgres::Config =
            url.parse().map_err(|e| StoreError::Backend(format!("invalid PostgreSQL URL: {e}")))?;
        let store = PgStore { pool: pool(config)?, numbers: Default::default(), cipher };
        keys::check(&store.client().await?, &store.cipher).await?;
        Ok(store)
    }

    /// Applies migrations only, on a connection of its own that is closed
    /// afterwards, reporting the schema version reached.
    pub async fn migrate_only(url: &str) -> StoreResult<i64> {
        let config: tokio_postgres::Config =
            url.parse().map_err(|e| StoreError::Backend(format!("invalid PostgreSQL URL: {e}")))?;
        let (mut client, conn) = config.connect(NoTls).await.map_err(pg)?;
        let conn = tokio::spawn(conn);
        let result = migrate::migrate(&mut client).await;
        drop(client);
        let _ = conn.await;
        result
    }

    pub(crate) async fn client(&self) -> StoreResult<deadpool_postgres::Client> {
        self.pool.get().await.map_err(|e| StoreError::Backend(format!("no PostgreSQL connection: {e}")))
    }
}

fn pool(config: tokio_postgres::Config) -> StoreResult<deadpool_postgres::Pool> {
    let manager = deadpool_postgres::Manager::from_config(
        config,
        NoTls,
        deadpool_postgres::ManagerConfig { recycling_method: deadpool_postgres::RecyclingMethod::Fast },
    );
    deadpool_postgres::Pool::builder(manager)
        .max_size(POOL_SIZE)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .map_err(|e| StoreError::Backend(format!("cannot build the connection pool: {e}")))
}
