//! PostgreSQL store, for several `kefu` nodes on one database.
//!
//! Every write is one transaction on a pooled connection. What must be
//! unique or exclusive across nodes is decided by the database: ticket
//! numbers by a row-locked counter per Shanghai day, idempotency keys by
//! claiming the key row first (a second node with the same key waits for the
//! first and then replays its answer), and a ticket change by locking the
//! ticket row (`SELECT … FOR UPDATE`) while the decision closure runs.

mod dump;
mod migrate;
mod org;
mod outbox;
mod rows;
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
    StoreError::Backend(e.to_string())
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
        Ok(PgStore { pool: pool(config)?, numbers: Default::default(), cipher })
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

impl AccountStore for PgStore {
    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        users::create(&self.client().await?, &user).await
    }
    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        users::by_username(&self.client().await?, username).await
    }
    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        users::by_id(&self.client().await?, id).await
    }
    async fn list_users(&self) -> StoreResult<Vec<User>> {
        users::list(&self.client().await?).await
    }
    async fn set_password(&self, id: UserId, password_hash: String) -> StoreResult<()> {
        users::set_password(&self.client().await?, id, &password_hash).await
    }
    async fn set_account(
        &self,
        id: UserId,
        role: Option<kefu_domain::Role>,
        active: Option<bool>,
    ) -> StoreResult<User> {
        users::set_account(&self.client().await?, id, role, active).await
    }
    async fn create_session(&self, session: Session) -> StoreResult<()> {
        users::create_session(&self.client().await?, &session).await
    }
    async fn session(&self, token_hash: &str) -> StoreResult<Option<Session>> {
        users::session(&self.client().await?, token_hash).await
    }
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        users::delete_session(&self.client().await?, token_hash).await
    }
    async fn record_login_failure(
        &self,
        id: UserId,
        now: DateTime<Utc>,
        max: u32,
        lock: chrono::Duration,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        users::record_login_failure(&self.client().await?, id, now, max, lock).await
    }
    async fn reset_login_failures(&self, id: UserId) -> StoreResult<()> {
        users::reset_login_failures(&self.client().await?, id).await
    }
    async fn remember_login_address(&self, id: UserId, addr: String, now: DateTime<Utc>) -> StoreResult<()> {
        let addr_idx = self.cipher.blind_index("login_address", &addr);
        users::remember_login_address(&self.client().await?, id, &addr_idx, now).await
    }
    async fn known_login_address(&self, id: UserId, addr: String) -> StoreResult<bool> {
        let addr_idx = self.cipher.blind_index("login_address", &addr);
        users::known_login_address(&self.client().await?, id, &addr_idx).await
    }
}

impl TicketStore for PgStore {
    async fn create_ticket(&self, op: CreateTicket) -> StoreResult<Written> {
        tickets::create(&self.numbers, &mut self.client().await?, op, &self.cipher).await
    }
    async fn mutate_ticket(&self, op: MutateTicket) -> StoreResult<Written> {
        tickets::mutate(&mut self.client().await?, op, &self.cipher).await
    }
    async fn ticket(&self, key: TicketKey) -> StoreResult<Option<Ticket>> {
        tickets::get(&self.client().await?, &key, false, &self.cipher).await
    }
    async fn list_tickets(&self, filter: TicketFilter) -> StoreResult<Page<Ticket>> {
        tickets::list(&self.client().await?, &filter, &self.cipher).await
    }
    async fn events(&self, ticket: TicketId) -> StoreResult<Vec<AuditEvent>> {
        let events = rows::events(&self.client().await?, Some(ticket), None, i64::MAX).await?;
        events.into_iter().map(|e| seal::open_event(&self.cipher, e)).collect()
    }
    async fn transfers(&self, ticket: TicketId) -> StoreResult<Vec<Transfer>> {
        let transfers = rows::transfers(&self.client().await?, ticket).await?;
        transfers.into_iter().map(|t| seal::open_transfer(&self.cipher, t)).collect()
    }
    async fn comments(&self, ticket: TicketId) -> StoreResult<Vec<Comment>> {
        let comments = rows::comments(&self.client().await?, ticket).await?;
        comments.into_iter().map(|c| Ok(Comment { body: seal::open_text(&self.cipher, &c.body)?, ..c })).collect()
    }
    async fn customer_by_phone(&self, phone: &str) -> StoreResult<Option<Customer>> {
        rows::customer_by_phone(&self.client().await?, phone, &self.cipher).await
    }
    async fn ticket_count(&self) -> StoreResult<i64> {
        Ok(self.client().await?.query_one("SELECT COUNT(*) FROM tickets", &[]).await.map_err(pg)?.get(0))
    }
    async fn events_after(&self, after: Option<(TicketId, i64)>, limit: u32) -> StoreResult<Vec<AuditEvent>> {
        let events = rows::events(&self.client().await?, None, after, i64::from(limit)).await?;
        events.into_iter().map(|e| seal::open_event(&self.cipher, e)).collect()
    }
    async fn tickets_without_events(&self, limit: u32) -> StoreResult<Vec<TicketId>> {
        rows::tickets_without_events(&self.client().await?, i64::from(limit)).await
    }
    async fn alerts_due(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<TicketId>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id FROM tickets WHERE next_alert_at IS NOT NULL AND next_alert_at <= $1 ORDER BY next_alert_at LIMIT $2",
                &[&now, &i64::from(limit)],
            )
            .await
            .map_err(pg)?;
        Ok(rows.iter().map(|r| TicketId(r.get(0))).collect())
    }
    async fn breaches(&self, ticket: TicketId) -> StoreResult<Vec<Breach>> {
        let rows = self
            .client()
            .await?
            .query("SELECT kind, due_at, breached_at FROM sla_breaches WHERE ticket_id = $1 ORDER BY id", &[&ticket.0])
            .await
            .map_err(pg)?;
        Ok(rows.iter().map(|r| Breach { kind: r.get(0), due_at: r.get(1), breached_at: r.get(2) }).collect())
    }
}

impl DumpStore for PgStore {
    async fn export_rows(
        &self,
        table: &'static kefu_store::dump::TableSpec,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Vec<JsonRow>> {
        dump::export(&self.client().await?, table, offset, limit).await
    }
    async fn import_rows(&self, table: &'static kefu_store::dump::TableSpec, rows: Vec<JsonRow>) -> StoreResult<()> {
        dump::import(&mut self.client().await?, table, &rows).await
    }
    async fn finish_import(&self) -> StoreResult<()> {
        dump::finish(&self.client().await?).await
    }
}

impl JobStore for PgStore {
    async fn try_lease(&self, job: &str, holder: &str, now: DateTime<Utc>, ttl: chrono::Duration) -> StoreResult<bool> {
        users::try_lease(&self.client().await?, job, holder, now, ttl).await
    }
    async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        users::purge_expired_sessions(&self.client().await?, now).await
    }
}

impl PrivacyStore for PgStore {
    async fn append_access(&self, entry: AccessEntry) -> StoreResult<AccessEntry> {
        let reason = entry.reason.clone();
        let sealed = AccessEntry { reason: seal::seal_text(&self.cipher, &entry.reason), ..entry };
        let logged = rows::append_access(&self.client().await?, sealed).await?;
        Ok(AccessEntry { reason, ..logged })
    }
    async fn access_log(&self, page: u32, per_page: u32) -> StoreResult<Page<AccessEntry>> {
        let log = rows::access_log(&self.client().await?, page, per_page).await?;
        let items = log
            .items
            .into_iter()
            .map(|e| Ok(AccessEntry { reason: seal::open_text(&self.cipher, &e.reason)?, ..e }))
            .collect::<StoreResult<_>>()?;
        Ok(Page { items, ..log })
    }
    async fn customer_by_id(&self, id: CustomerId) -> StoreResult<Option<Customer>> {
        rows::customer_by_id(&self.client().await?, id, &self.cipher).await
    }
    async fn reencrypt_customers(&self, batch: u32) -> StoreResult<u64> {
        rows::reencrypt_customers(&mut self.client().await?, batch, &self.cipher).await
    }
    async fn delete_customer(&self, id: CustomerId) -> StoreResult<()> {
        let client = self.client().await?;
        let used: i64 =
            client.query_one("SELECT COUNT(*) FROM tickets WHERE customer_id = $1", &[&id.0]).await.map_err(pg)?.get(0);
        if used > 0 {
            return Err(StoreError::Conflict { constraint: "tickets_customer_id_fkey".into() });
        }
        // A ticket registered meanwhile makes the foreign key refuse this.
        match client.execute("DELETE FROM customers WHERE id = $1", &[&id.0]).await {
            Ok(0) => Err(StoreError::NotFound),
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) => {
                Err(StoreError::Conflict { constraint: "tickets_customer_id_fkey".into() })
            }
            Err(e) => Err(pg(e)),
        }
    }
    async fn retention_due(&self, cutoff: DateTime<Utc>, limit: u32) -> StoreResult<Vec<RetentionDue>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, number, customer_id, (doc::json->>'archived_at')::timestamptz AS archived FROM tickets
                 WHERE status = 'archived' AND (doc::json->>'archived_at')::timestamptz <= $1
                 ORDER BY archived, id LIMIT $2",
                &[&cutoff, &i64::from(limit)],
            )
            .await
            .map_err(pg)?;
        Ok(rows
            .iter()
            .map(|r| RetentionDue {
                ticket: TicketId(r.get(0)),
                number: r.get(1),
                customer: CustomerId(r.get(2)),
                archived_at: r.get(3),
            })
            .collect())
    }
    async fn purge_ticket(&self, id: TicketId) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        for table in ["comments", "transfers", "sla_breaches", "notices", "outbox", "visits", "ticket_events"] {
            tx.execute(&format!("DELETE FROM {table} WHERE ticket_id = $1"), &[&id.0]).await.map_err(pg)?;
        }
        let n = tx.execute("DELETE FROM tickets WHERE id = $1", &[&id.0]).await.map_err(pg)?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await.map_err(pg)
    }
    async fn purge_idempotency(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.client().await?.execute("DELETE FROM idempotency_keys WHERE created_at < $1", &[&before]).await.map_err(pg)
    }
}

impl OrgStore for PgStore {
    async fn create_department(&self, code: String, name: String, now: DateTime<Utc>) -> StoreResult<Department> {
        org::create_department(&self.client().await?, &code, &name, now).await
    }
    async fn departments(&self) -> StoreResult<Vec<Department>> {
        org::departments(&self.client().await?).await
    }
    async fn create_team(&self, team: NewTeam, now: DateTime<Utc>) -> StoreResult<Team> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let t = org::create_team(&tx, &team, now).await?;
        tx.commit().await.map_err(pg)?;
        Ok(t)
    }
    async fn update_team(&self, id: TeamId, name: Option<String>, lead: Option<Option<UserId>>) -> StoreResult<Team> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let t = org::update_team(&tx, id, name.as_deref(), lead).await?;
        tx.commit().await.map_err(pg)?;
        Ok(t)
    }
    async fn teams(&self) -> StoreResult<Vec<Team>> {
        org::teams(&self.client().await?).await
    }
    async fn set_profile(&self, id: UserId, profile: StaffProfile) -> StoreResult<User> {
        users::set_profile(&self.client().await?, id, &profile).await
    }
    async fn staff_loads(&self, ids: Vec<UserId>) -> StoreResult<Vec<(UserId, u32)>> {
        org::staff_loads(&self.client().await?, &ids).await
    }
    async fn notices(&self, user: UserId, unread_only: bool, page: u32, per_page: u32) -> StoreResult<Page<Notice>> {
        let got = org::notices(&self.client().await?, user, unread_only, page, per_page).await?;
        let open = |n: Notice| -> StoreResult<Notice> {
            let (message, message_zh) =
                (seal::open_text(&self.cipher, &n.message)?, seal::open_text(&self.cipher, &n.message_zh)?);
            Ok(Notice { message, message_zh, ..n })
        };
        let items = got.items.into_iter().map(open).collect::<StoreResult<_>>()?;
        Ok(Page { items, ..got })
    }
    async fn read_notices(&self, user: UserId, id: Option<i64>, now: DateTime<Utc>) -> StoreResult<u64> {
        org::read_notices(&self.client().await?, user, id, now).await
    }
}

impl OutboxStore for PgStore {
    async fn claim_messages(
        &self,
        node: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        outbox::claim(&self.client().await?, node, now, lease, limit, &self.cipher).await
    }
    async fn finish_message(&self, id: i64, node: &str, outcome: SendOutcome, now: DateTime<Utc>) -> StoreResult<bool> {
        outbox::finish(&self.client().await?, id, node, &outcome, now).await
    }
    async fn message_receipt(
        &self,
        provider_id: &str,
        delivered: bool,
        detail: Option<String>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<TicketId>> {
        outbox::receipt(&self.client().await?, provider_id, delivered, detail, now).await
    }
    async fn messages(&self, ticket: TicketId) -> StoreResult<Vec<Message>> {
        outbox::messages(&self.client().await?, ticket, &self.cipher).await
    }
    async fn visits(&self, filter: VisitFilter) -> StoreResult<Page<VisitRow>> {
        outbox::visits(&self.client().await?, &filter).await
    }
    async fn visit_counts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        satisfied_at: u8,
    ) -> StoreResult<Vec<VisitCounts>> {
        outbox::counts(&self.client().await?, from, to, satisfied_at).await
    }
}
