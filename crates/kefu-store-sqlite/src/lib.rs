//! Embedded SQLite store (the default backend).
//!
//! One writer thread owns the only write connection and commits in groups:
//! it takes every write request waiting in its queue (up to a batch limit),
//! runs each inside its own SAVEPOINT (so one refusal rolls back only
//! itself), commits once with `synchronous=FULL`, and only then answers the
//! callers. A write that was answered is on disk, and many writers share
//! one fsync. Reads run on a small pool of WAL reader connections in the
//! blocking thread pool and never wait for the writer.

mod dump;
mod migrate;
mod org;
mod outbox;
mod rows;
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
        "idempotency_keys.user_id, idempotency_keys.key" => "idempotency_keys_pkey",
        other => other,
    }
    .to_string()
}

fn open_connection(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open(path).map_err(backend)?;
    // WAL: readers never block the writer. synchronous=FULL: a commit is on
    // disk before it returns (survives power loss, not only kill -9).
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
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
        Ok(SqliteStore {
            writer: writer::Writer::spawn(conn),
            readers: Arc::new(ReadPool {
                path,
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(tokio::sync::Semaphore::new(MAX_READERS)),
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
            let out = f(&conn);
            pool.give_back(conn);
            drop(permit);
            out
        })
        .await
        .map_err(|e| StoreError::Backend(format!("reader task failed: {e}")))?
    }
}

/// Reader connections, opened on demand and kept: at most MAX_READERS
/// reads run at once, so at most that many connections exist.
struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<tokio::sync::Semaphore>,
}

const MAX_READERS: usize = 16;

impl ReadPool {
    fn take(&self) -> StoreResult<Connection> {
        if let Some(c) = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok(c);
        }
        open_connection(&self.path)
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_READERS {
            idle.push(conn);
        }
    }
}

impl AccountStore for SqliteStore {
    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        self.writer.run(move |c| users::create(c, &user)).await
    }
    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let name = username.to_string();
        self.read(move |c| users::by_username(c, &name)).await
    }
    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        self.read(move |c| users::by_id(c, id)).await
    }
    async fn list_users(&self) -> StoreResult<Vec<User>> {
        self.read(users::list).await
    }
    async fn set_password(&self, id: UserId, password_hash: String) -> StoreResult<()> {
        self.writer.run(move |c| users::set_password(c, id, &password_hash)).await
    }
    async fn set_account(
        &self,
        id: UserId,
        role: Option<kefu_domain::Role>,
        active: Option<bool>,
    ) -> StoreResult<User> {
        self.writer.run(move |c| users::set_account(c, id, role, active)).await
    }
    async fn create_session(&self, session: Session) -> StoreResult<()> {
        self.writer.run(move |c| users::create_session(c, &session)).await
    }
    async fn session(&self, token_hash: &str) -> StoreResult<Option<Session>> {
        let h = token_hash.to_string();
        self.read(move |c| users::session(c, &h)).await
    }
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        let h = token_hash.to_string();
        self.writer.run(move |c| users::delete_session(c, &h)).await
    }
    async fn record_login_failure(
        &self,
        id: UserId,
        now: DateTime<Utc>,
        max: u32,
        lock: chrono::Duration,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        self.writer.run(move |c| users::record_login_failure(c, id, now, max, lock)).await
    }
    async fn reset_login_failures(&self, id: UserId) -> StoreResult<()> {
        self.writer.run(move |c| users::reset_login_failures(c, id)).await
    }
    async fn remember_login_address(&self, id: UserId, addr: String, now: DateTime<Utc>) -> StoreResult<()> {
        let addr_idx = self.cipher.blind_index("login_address", &addr);
        self.writer.run(move |c| users::remember_login_address(c, id, &addr_idx, now)).await
    }
    async fn known_login_address(&self, id: UserId, addr: String) -> StoreResult<bool> {
        let addr_idx = self.cipher.blind_index("login_address", &addr);
        self.read(move |c| users::known_login_address(c, id, &addr_idx)).await
    }
}

impl TicketStore for SqliteStore {
    async fn create_ticket(&self, op: CreateTicket) -> StoreResult<Written> {
        let k = self.cipher.clone();
        self.writer.run(move |c| tickets::create(c, op, &k)).await
    }
    async fn mutate_ticket(&self, op: MutateTicket) -> StoreResult<Written> {
        let k = self.cipher.clone();
        self.writer.run(move |c| tickets::mutate(c, op, &k)).await
    }
    async fn ticket(&self, key: TicketKey) -> StoreResult<Option<Ticket>> {
        let k = self.cipher.clone();
        self.read(move |c| tickets::get(c, &key, &k)).await
    }
    async fn list_tickets(&self, filter: TicketFilter) -> StoreResult<Page<Ticket>> {
        let k = self.cipher.clone();
        self.read(move |c| tickets::list(c, &filter, &k)).await
    }
    async fn events(&self, ticket: TicketId) -> StoreResult<Vec<AuditEvent>> {
        let k = self.cipher.clone();
        self.read(move |c| rows::events(c, Some(ticket), None, u32::MAX, &k)).await
    }
    async fn transfers(&self, ticket: TicketId) -> StoreResult<Vec<Transfer>> {
        let k = self.cipher.clone();
        self.read(move |c| rows::transfers(c, ticket, &k)).await
    }
    async fn comments(&self, ticket: TicketId) -> StoreResult<Vec<Comment>> {
        let k = self.cipher.clone();
        self.read(move |c| rows::comments(c, ticket, &k)).await
    }
    async fn customer_by_phone(&self, phone: &str) -> StoreResult<Option<Customer>> {
        let p = phone.to_string();
        let k = self.cipher.clone();
        self.read(move |c| rows::customer_by_phone(c, &p, &k)).await
    }
    async fn ticket_count(&self) -> StoreResult<i64> {
        self.read(|c| c.query_row("SELECT COUNT(*) FROM tickets", [], |r| r.get(0)).map_err(backend)).await
    }
    async fn events_after(&self, after: Option<(TicketId, i64)>, limit: u32) -> StoreResult<Vec<AuditEvent>> {
        let k = self.cipher.clone();
        self.read(move |c| rows::events(c, None, after, limit, &k)).await
    }
    async fn tickets_without_events(&self, limit: u32) -> StoreResult<Vec<TicketId>> {
        self.read(move |c| rows::tickets_without_events(c, limit)).await
    }
    async fn alerts_due(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<TicketId>> {
        self.read(move |c| {
            c.prepare_cached(
                "SELECT id FROM tickets WHERE next_alert_at IS NOT NULL AND next_alert_at <= ?1 ORDER BY next_alert_at LIMIT ?2",
            )
            .map_err(backend)?
            .query_map(rusqlite::params![rows::ts(now), limit], |r| Ok(TicketId(r.get(0)?)))
            .map_err(backend)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(backend)
        })
        .await
    }
    async fn breaches(&self, ticket: TicketId) -> StoreResult<Vec<Breach>> {
        self.read(move |c| {
            c.prepare_cached("SELECT kind, due_at, breached_at FROM sla_breaches WHERE ticket_id = ?1 ORDER BY id")
                .map_err(backend)?
                .query_map([ticket.0], |r| {
                    Ok(Breach {
                        kind: r.get(0)?,
                        due_at: rows::parse_ts(&r.get::<_, String>(1)?)?,
                        breached_at: rows::parse_ts(&r.get::<_, String>(2)?)?,
                    })
                })
                .map_err(backend)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)
        })
        .await
    }
}

impl DumpStore for SqliteStore {
    async fn export_rows(
        &self,
        table: &'static kefu_store::dump::TableSpec,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Vec<serde_json::Map<String, serde_json::Value>>> {
        self.read(move |c| dump::export(c, table, offset, limit)).await
    }
    async fn import_rows(
        &self,
        table: &'static kefu_store::dump::TableSpec,
        rows: Vec<serde_json::Map<String, serde_json::Value>>,
    ) -> StoreResult<()> {
        self.writer.run(move |c| dump::import(c, table, &rows)).await
    }
    async fn finish_import(&self) -> StoreResult<()> {
        // INTEGER PRIMARY KEY columns continue after the largest id by themselves.
        Ok(())
    }
}

impl JobStore for SqliteStore {
    async fn try_lease(&self, job: &str, holder: &str, now: DateTime<Utc>, ttl: chrono::Duration) -> StoreResult<bool> {
        let (job, holder) = (job.to_string(), holder.to_string());
        self.writer.run(move |c| users::try_lease(c, &job, &holder, now, ttl)).await
    }
    async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        self.writer.run(move |c| users::purge_expired_sessions(c, now)).await
    }
}

impl PrivacyStore for SqliteStore {
    async fn append_access(&self, entry: AccessEntry) -> StoreResult<AccessEntry> {
        let k = self.cipher.clone();
        self.writer.run(move |c| rows::append_access(c, entry, &k)).await
    }
    async fn access_log(&self, page: u32, per_page: u32) -> StoreResult<Page<AccessEntry>> {
        let k = self.cipher.clone();
        self.read(move |c| rows::access_log(c, page, per_page, &k)).await
    }
    async fn customer_by_id(&self, id: CustomerId) -> StoreResult<Option<Customer>> {
        let k = self.cipher.clone();
        self.read(move |c| rows::customer_by_id(c, id, &k)).await
    }
    async fn reencrypt_customers(&self, batch: u32) -> StoreResult<u64> {
        let k = self.cipher.clone();
        self.writer.run(move |c| rows::reencrypt_customers(c, batch, &k)).await
    }
    async fn delete_customer(&self, id: CustomerId) -> StoreResult<()> {
        self.writer
            .run(move |c| {
                let used: i64 = c
                    .query_row("SELECT COUNT(*) FROM tickets WHERE customer_id = ?1", [id.0], |r| r.get(0))
                    .map_err(backend)?;
                if used > 0 {
                    return Err(StoreError::Conflict { constraint: "tickets_customer_id_fkey".into() });
                }
                match c.execute("DELETE FROM customers WHERE id = ?1", [id.0]).map_err(backend)? {
                    0 => Err(StoreError::NotFound),
                    _ => Ok(()),
                }
            })
            .await
    }
    async fn retention_due(&self, cutoff: DateTime<Utc>, limit: u32) -> StoreResult<Vec<RetentionDue>> {
        self.read(move |c| rows::retention_due(c, cutoff, limit)).await
    }
    async fn purge_ticket(&self, id: TicketId) -> StoreResult<()> {
        self.writer.run(move |c| rows::purge_ticket(c, id)).await
    }
    async fn purge_idempotency(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.writer
            .run(move |c| {
                let n = c
                    .execute("DELETE FROM idempotency_keys WHERE created_at < ?1", [rows::ts(before)])
                    .map_err(backend)?;
                Ok(n as u64)
            })
            .await
    }
}

impl OrgStore for SqliteStore {
    async fn create_department(&self, code: String, name: String, now: DateTime<Utc>) -> StoreResult<Department> {
        self.writer.run(move |c| org::create_department(c, &code, &name, now)).await
    }
    async fn departments(&self) -> StoreResult<Vec<Department>> {
        self.read(org::departments).await
    }
    async fn create_team(&self, team: NewTeam, now: DateTime<Utc>) -> StoreResult<Team> {
        self.writer.run(move |c| org::create_team(c, &team, now)).await
    }
    async fn update_team(&self, id: TeamId, name: Option<String>, lead: Option<Option<UserId>>) -> StoreResult<Team> {
        self.writer.run(move |c| org::update_team(c, id, name.as_deref(), lead)).await
    }
    async fn teams(&self) -> StoreResult<Vec<Team>> {
        self.read(org::teams).await
    }
    async fn set_profile(&self, id: UserId, profile: StaffProfile) -> StoreResult<User> {
        self.writer.run(move |c| users::set_profile(c, id, &profile)).await
    }
    async fn staff_loads(&self, ids: Vec<UserId>) -> StoreResult<Vec<(UserId, u32)>> {
        self.read(move |c| org::staff_loads(c, &ids)).await
    }
    async fn notices(&self, user: UserId, unread_only: bool, page: u32, per_page: u32) -> StoreResult<Page<Notice>> {
        let k = self.cipher.clone();
        self.read(move |c| org::notices(c, user, (unread_only, page, per_page), &k)).await
    }
    async fn read_notices(&self, user: UserId, id: Option<i64>, now: DateTime<Utc>) -> StoreResult<u64> {
        self.writer.run(move |c| org::read_notices(c, user, id, now)).await
    }
}

impl OutboxStore for SqliteStore {
    async fn claim_messages(
        &self,
        node: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        let (k, node) = (self.cipher.clone(), node.to_string());
        self.writer.run(move |c| outbox::claim(c, &node, now, lease, limit, &k)).await
    }
    async fn finish_message(&self, id: i64, node: &str, outcome: SendOutcome, now: DateTime<Utc>) -> StoreResult<bool> {
        let node = node.to_string();
        self.writer.run(move |c| outbox::finish(c, id, &node, &outcome, now)).await
    }
    async fn message_receipt(
        &self,
        provider_id: &str,
        delivered: bool,
        detail: Option<String>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<TicketId>> {
        let id = provider_id.to_string();
        self.writer.run(move |c| outbox::receipt(c, &id, delivered, detail, now)).await
    }
    async fn messages(&self, ticket: TicketId) -> StoreResult<Vec<Message>> {
        let k = self.cipher.clone();
        self.read(move |c| outbox::messages(c, ticket, &k)).await
    }
    async fn visits(&self, filter: VisitFilter) -> StoreResult<Page<VisitRow>> {
        self.read(move |c| outbox::visits(c, &filter)).await
    }
    async fn visit_counts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        satisfied_at: u8,
    ) -> StoreResult<Vec<VisitCounts>> {
        self.read(move |c| outbox::counts(c, from, to, satisfied_at)).await
    }
}
