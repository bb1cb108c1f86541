//! The store interface of kefu: everything the services need from a
//! database, implemented once per backend (`kefu-store-sqlite` today,
//! PostgreSQL next). Writes that touch a ticket take a decision closure that
//! runs inside the backend's write transaction, so the rule check, the
//! ticket change, its audit event and the idempotency record commit together
//! or not at all.

mod attachments;
mod bot;
pub mod conformance;
pub mod crypto;
pub mod doc;
pub mod dump;
mod events;
mod exports;
mod feed;
pub mod filter;
mod inbound;
mod incidents;
mod inventory;
mod kb;
mod kpi;
mod macros;
mod models;
mod quality;
mod reports;
mod schedules;
pub mod seal;
mod types;

pub use attachments::*;
pub use bot::{BotStore, MISS_KINDS, Miss, NewMiss};
pub use events::*;
pub use exports::*;
pub use feed::{FeedMark, FeedStore, TicketText};
pub use inbound::*;
pub use incidents::*;
pub use inventory::*;
pub use kb::{ArticleFilter, Feedback, FeedbackSummary, KbChange, KbStore};
pub use kpi::*;
pub use macros::MacroStore;
pub use models::{ModelStore, StoredModel};
pub use quality::*;
pub use reports::ReportStore;
pub use schedules::{Schedule, ScheduleStore};
pub use types::*;

use kefu_domain::audit::AuditEvent;
use kefu_domain::org::{Department, StaffProfile, Team};
use kefu_domain::ticket::{Comment, Customer, Ticket, Transfer};
use kefu_domain::{CustomerId, TeamId, TicketId, UserId};
use std::future::Future;

/// Errors callers match on. Refusals from a decision closure come back as
/// `Domain` unchanged.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Domain(#[from] kefu_domain::DomainError),
    /// A unique constraint, named as in both migration trees.
    #[error("already exists: {constraint}")]
    Conflict { constraint: String },
    #[error("the database schema is at version {found}, newer than this binary knows ({known}); upgrade kefu")]
    SchemaTooNew { found: i64, known: i64 },
    #[error("database error: {0}")]
    Backend(String),
    /// The key file is not the one the database was written with.
    #[error(
        "the key file does not match this database: {0}. Start with the key file (or KEFU_KEYS) this database was written with / 密钥文件与数据库不符，请使用写入本数据库时的密钥文件"
    )]
    KeyMismatch(String),
    /// An Idempotency-Key reused with a different request body.
    #[error("idempotency key reused with a different request")]
    IdempotencyMismatch,
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Every store trait, for code that calls a concrete backend's methods.
pub mod prelude {
    pub use crate::{
        AccountStore, AttachmentStore, BotStore, DumpStore, EventStore, ExportStore, FeedStore, InboundStore,
        IncidentStore, InventoryStore, JobStore, KbStore, KpiStore, MacroStore, ModelStore, OrgStore, OutboxStore,
        PrivacyStore, QualityStore, ReportStore, ScheduleStore, SecurityStore, Store, TicketStore,
    };
}

/// The store: every capability. Handlers and jobs take one type parameter
/// `S: Store`; each capability is a trait of its own (one file per backend
/// and one conformance file each), and a new capability adds its trait here.
pub trait Store:
    AccountStore
    + TicketStore
    + DumpStore
    + JobStore
    + PrivacyStore
    + OrgStore
    + OutboxStore
    + MacroStore
    + ReportStore
    + KbStore
    + FeedStore
    + BotStore
    + ModelStore
    + KpiStore
    + ExportStore
    + ScheduleStore
    + QualityStore
    + IncidentStore
    + SecurityStore
    + InventoryStore
    + AttachmentStore
    + InboundStore
    + EventStore
{
}

impl<T> Store for T where
    T: AccountStore
        + TicketStore
        + DumpStore
        + JobStore
        + PrivacyStore
        + OrgStore
        + OutboxStore
        + MacroStore
        + ReportStore
        + KbStore
        + FeedStore
        + BotStore
        + ModelStore
        + KpiStore
        + ExportStore
        + ScheduleStore
        + QualityStore
        + IncidentStore
        + SecurityStore
        + InventoryStore
        + AttachmentStore
        + InboundStore
        + EventStore
{
}

/// Staff accounts, sessions and login protection (`users`, `sessions`, `login_addresses`).
pub trait AccountStore: Clone + Send + Sync + 'static {
    // --- staff and sessions ---
    fn create_user(&self, user: NewUser) -> impl Future<Output = StoreResult<User>> + Send;
    fn user_by_username(&self, username: &str) -> impl Future<Output = StoreResult<Option<User>>> + Send;
    fn user_by_id(&self, id: UserId) -> impl Future<Output = StoreResult<Option<User>>> + Send;
    fn list_users(&self) -> impl Future<Output = StoreResult<Vec<User>>> + Send;
    /// Sets the password and ends every session of the account.
    fn set_password(&self, id: UserId, password_hash: String) -> impl Future<Output = StoreResult<()>> + Send;
    /// Changes the role and/or whether the account is active, and ends
    /// every session of the account.
    fn set_account(
        &self,
        id: UserId,
        role: Option<kefu_domain::Role>,
        active: Option<bool>,
    ) -> impl Future<Output = StoreResult<User>> + Send;
    fn create_session(&self, session: Session) -> impl Future<Output = StoreResult<()>> + Send;
    fn session(&self, token_hash: &str) -> impl Future<Output = StoreResult<Option<Session>>> + Send;
    fn delete_session(&self, token_hash: &str) -> impl Future<Output = StoreResult<()>> + Send;

    // --- login protection ---
    /// Counts a wrong password; at `max` in a row the account locks until
    /// `now + lock` and the count starts again. Returns the lock, if any.
    fn record_login_failure(
        &self,
        id: UserId,
        now: chrono::DateTime<chrono::Utc>,
        max: u32,
        lock: chrono::Duration,
    ) -> impl Future<Output = StoreResult<Option<chrono::DateTime<chrono::Utc>>>> + Send;
    /// A successful login clears the count.
    fn reset_login_failures(&self, id: UserId) -> impl Future<Output = StoreResult<()>> + Send;
    /// Records that the account logged in from the address (stored as a
    /// keyed hash, like the blind indexes).
    fn remember_login_address(
        &self,
        id: UserId,
        addr: String,
        now: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Whether the account ever logged in from the address.
    fn known_login_address(&self, id: UserId, addr: String) -> impl Future<Output = StoreResult<bool>> + Send;
}

/// Tickets: intake, changes decided inside the write, reads, lists, the audit trail, transfer records, notes, and what the SLA watcher needs.
pub trait TicketStore: Clone + Send + Sync + 'static {
    // --- tickets ---
    /// Registers a ticket: finds or creates the customer by phone, draws the
    /// next number of the Shanghai day, writes the ticket and its first
    /// audit event, and records the idempotency key, in one transaction.
    fn create_ticket(&self, op: CreateTicket) -> impl Future<Output = StoreResult<Written>> + Send;
    /// Loads the ticket inside a write transaction, runs `op.decide` on it
    /// and writes what it returns with its audit event.
    fn mutate_ticket(&self, op: MutateTicket) -> impl Future<Output = StoreResult<Written>> + Send;
    /// `mutate_ticket`, and in the same transaction the linked ticket's
    /// change with its own audit event: both commit or neither does. Both
    /// rows are locked in id order, so two merges cannot deadlock.
    fn mutate_pair(&self, op: MutateTicket, linked: Linked) -> impl Future<Output = StoreResult<Written>> + Send;
    fn ticket(&self, key: TicketKey) -> impl Future<Output = StoreResult<Option<Ticket>>> + Send;
    fn list_tickets(&self, filter: TicketFilter) -> impl Future<Output = StoreResult<Page<Ticket>>> + Send;
    fn events(&self, ticket: TicketId) -> impl Future<Output = StoreResult<Vec<AuditEvent>>> + Send;
    fn transfers(&self, ticket: TicketId) -> impl Future<Output = StoreResult<Vec<Transfer>>> + Send;
    fn comments(&self, ticket: TicketId) -> impl Future<Output = StoreResult<Vec<Comment>>> + Send;
    fn customer_by_phone(&self, phone: &str) -> impl Future<Output = StoreResult<Option<Customer>>> + Send;
    fn ticket_count(&self) -> impl Future<Output = StoreResult<i64>> + Send;

    // --- audit ---
    /// Events of all tickets in (ticket, seq) order, after `after`, at most
    /// `limit`: lets `kefu audit verify` stream every chain.
    fn events_after(
        &self,
        after: Option<(TicketId, i64)>,
        limit: u32,
    ) -> impl Future<Output = StoreResult<Vec<AuditEvent>>> + Send;
    /// Tickets that have no audit event at all (a broken chain by definition).
    fn tickets_without_events(&self, limit: u32) -> impl Future<Output = StoreResult<Vec<TicketId>>> + Send;

    // --- SLA watcher ---
    /// Tickets whose next alert is due at `now`, earliest first (indexed).
    fn alerts_due(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> impl Future<Output = StoreResult<Vec<TicketId>>> + Send;
    /// The breaches recorded on a ticket.
    fn breaches(&self, ticket: TicketId) -> impl Future<Output = StoreResult<Vec<Breach>>> + Send;
}

/// Export and import of every table (`kefu export` / `kefu import`).
pub trait DumpStore: Clone + Send + Sync + 'static {
    // --- export and import (kefu export / kefu import) ---
    /// Rows of a table in its key order, `offset` rows in, at most `limit`,
    /// in the neutral form of `dump`.
    fn export_rows(
        &self,
        table: &'static dump::TableSpec,
        offset: u64,
        limit: u32,
    ) -> impl Future<Output = StoreResult<Vec<JsonRow>>> + Send;
    /// Inserts rows exactly as exported (ids kept), in one transaction.
    fn import_rows(
        &self,
        table: &'static dump::TableSpec,
        rows: Vec<JsonRow>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// After an import: moves id sequences past the imported ids.
    fn finish_import(&self) -> impl Future<Output = StoreResult<()>> + Send;
}

/// Background jobs: leases that keep a job on one node, and purges.
pub trait JobStore: Clone + Send + Sync + 'static {
    // --- background jobs ---
    /// Takes or renews the lease of `job` for `holder` until `now + ttl`, if
    /// it is free, expired or already this holder's. True: run the job.
    fn try_lease(
        &self,
        job: &str,
        holder: &str,
        now: chrono::DateTime<chrono::Utc>,
        ttl: chrono::Duration,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Deletes sessions that expired before `now`; returns how many.
    fn purge_expired_sessions(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
    /// Gives up every lease `holder` has (a node shutting down), so other
    /// nodes take its jobs over at once; returns how many.
    fn release_leases(&self, holder: &str) -> impl Future<Output = StoreResult<u64>> + Send;
    /// What readiness and the job-lag metrics read: cheap, indexed queries.
    fn health(&self) -> impl Future<Output = StoreResult<Health>> + Send;
}

/// The database as readiness and `/metrics` see it.
#[derive(Debug, Clone, Default)]
pub struct Health {
    /// Migrations applied.
    pub schema_version: i64,
    /// Why this process's keys no longer fit the database's fingerprints
    /// (another node rotated to a key this node's file lacks), if they do not.
    pub key_problem: Option<String>,
    /// The earliest SLA alert due (warning, breach, escalation step).
    pub oldest_alert_due: Option<chrono::DateTime<chrono::Utc>>,
    /// The earliest customer message waiting to be sent.
    pub oldest_message_due: Option<chrono::DateTime<chrono::Utc>>,
    /// The oldest event not yet handed to webhooks and the hub.
    pub oldest_event: Option<chrono::DateTime<chrono::Utc>>,
}

/// Personal data: the access log, customers and their encryption at rest, retention.
pub trait PrivacyStore: Clone + Send + Sync + 'static {
    // --- access log (append-only) ---
    /// Appends an entry; `entry.id` is ignored and the stored entry returned.
    fn append_access(&self, entry: AccessEntry) -> impl Future<Output = StoreResult<AccessEntry>> + Send;
    /// Entries newest first.
    fn access_log(&self, page: u32, per_page: u32) -> impl Future<Output = StoreResult<Page<AccessEntry>>> + Send;
    fn customer_by_id(&self, id: CustomerId) -> impl Future<Output = StoreResult<Option<Customer>>> + Send;

    // --- encryption at rest ---
    /// Re-encrypts up to `batch` customers not yet under the active key (or
    /// stored before encryption); returns how many. Run until it returns 0.
    fn reencrypt_customers(&self, batch: u32) -> impl Future<Output = StoreResult<u64>> + Send;
    /// Deletes a customer no ticket refers to (erasure on request);
    /// `Conflict` if tickets still refer to them.
    fn delete_customer(&self, id: CustomerId) -> impl Future<Output = StoreResult<()>> + Send;

    // --- retention (R-42) ---
    /// Archived tickets archived at or before `cutoff`, oldest first.
    fn retention_due(
        &self,
        cutoff: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> impl Future<Output = StoreResult<Vec<RetentionDue>>> + Send;
    /// Deletes a ticket with its events, transfers, notes and idempotency
    /// records, in one transaction. Other tickets' chains are untouched.
    fn purge_ticket(&self, id: TicketId) -> impl Future<Output = StoreResult<()>> + Send;
    /// Deletes idempotency records created before `before` (they only
    /// serve retries, and hold rendered responses); returns how many.
    fn purge_idempotency(&self, before: chrono::DateTime<chrono::Utc>)
    -> impl Future<Output = StoreResult<u64>> + Send;
}

/// The organisation (departments, teams, staff profiles, loads) and staff notices.
pub trait OrgStore: Clone + Send + Sync + 'static {
    // --- organisation and dispatch (R-16, R-17) ---
    /// `Conflict { departments_code_key }` if the code is taken.
    fn create_department(
        &self,
        code: String,
        name: String,
        now: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = StoreResult<Department>> + Send;
    fn departments(&self) -> impl Future<Output = StoreResult<Vec<Department>>> + Send;
    /// `Conflict { teams_code_key }` if the code is taken.
    fn create_team(
        &self,
        team: NewTeam,
        now: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = StoreResult<Team>> + Send;
    /// Renames a team and/or sets or clears its lead.
    fn update_team(
        &self,
        id: TeamId,
        name: Option<String>,
        lead: Option<Option<UserId>>,
    ) -> impl Future<Output = StoreResult<Team>> + Send;
    fn teams(&self) -> impl Future<Output = StoreResult<Vec<Team>>> + Send;
    /// Sets a staff profile; a change of team, tier or skills is kept in
    /// the staff history in the same transaction, with who made it and when.
    fn set_profile(
        &self,
        id: UserId,
        profile: StaffProfile,
        by: Option<UserId>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = StoreResult<User>> + Send;
    /// A staff member's changes of team, tier and skills, oldest first.
    fn staff_history(&self, user: UserId) -> impl Future<Output = StoreResult<Vec<StaffChange>>> + Send;
    /// Open tickets held by each of these staff (those holding none are left out).
    fn staff_loads(&self, ids: Vec<UserId>) -> impl Future<Output = StoreResult<Vec<(UserId, u32)>>> + Send;

    // --- staff notices ---
    /// A staff member's notices, newest first.
    fn notices(
        &self,
        user: UserId,
        unread_only: bool,
        page: u32,
        per_page: u32,
    ) -> impl Future<Output = StoreResult<Page<Notice>>> + Send;
    /// Marks a notice (or, with None, all of them) read; returns how many changed.
    fn read_notices(
        &self,
        user: UserId,
        id: Option<i64>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
}

/// Customer messages (the outbox) and the return-visit projection.
pub trait OutboxStore: Clone + Send + Sync + 'static {
    // --- customer messages (outbox) ---
    /// Claims up to `limit` pending messages due at `now` for `node` until
    /// `now + lease`: no other node gets them meanwhile.
    fn claim_messages(
        &self,
        node: &str,
        now: chrono::DateTime<chrono::Utc>,
        lease: chrono::Duration,
        limit: u32,
    ) -> impl Future<Output = StoreResult<Vec<Message>>> + Send;
    /// Records the outcome of an attempt on a message `node` holds; false
    /// if its claim ran out and another node may have it.
    fn finish_message(
        &self,
        id: i64,
        node: &str,
        outcome: SendOutcome,
        now: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// A delivery receipt from the gateway; the message's ticket, if known.
    fn message_receipt(
        &self,
        provider_id: &str,
        delivered: bool,
        detail: Option<String>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = StoreResult<Option<TicketId>>> + Send;
    /// A ticket's messages, oldest first, recipients decrypted.
    fn messages(&self, ticket: TicketId) -> impl Future<Output = StoreResult<Vec<Message>>> + Send;

    // --- return visits (R-26, R-27) ---
    fn visits(&self, filter: VisitFilter) -> impl Future<Output = StoreResult<Page<VisitRow>>> + Send;
    /// Per team, over tickets resolved in `[from, to)`; ratings at or above
    /// `satisfied_at` count as satisfied.
    fn visit_counts(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
        satisfied_at: u8,
    ) -> impl Future<Output = StoreResult<Vec<VisitCounts>>> + Send;
}

/// A table row in the neutral export form.
pub type JsonRow = serde_json::Map<String, serde_json::Value>;
