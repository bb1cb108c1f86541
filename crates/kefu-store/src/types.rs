//! Plain data passed across the store interface.

use chrono::{DateTime, Utc};
use kefu_domain::action::TransferChange;
use kefu_domain::flow::Actor;
use kefu_domain::ticket::{NewTicket, Ticket};
use kefu_domain::{Channel, DomainError, Priority, Role, TicketId, TicketType, UserId};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub active: bool,
    #[serde(skip)]
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
    /// Wrong passwords in a row since the last success or lock.
    #[serde(skip)]
    pub failed_logins: i64,
    #[serde(skip)]
    pub locked_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
    pub now: DateTime<Utc>,
}

/// A login session; only the SHA-256 of the bearer token is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub token_hash: String,
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// An `Idempotency-Key`, scoped to the user who sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub user: UserId,
    pub key: String,
}

/// Turns the written ticket into the response body that is returned and
/// kept for replays of the same idempotency key.
pub type Render = Box<dyn FnOnce(&Ticket) -> Value + Send>;

pub struct CreateTicket {
    pub ticket: NewTicket,
    pub actor: Actor,
    pub initial_state: String,
    pub now: DateTime<Utc>,
    pub idempotency: Option<IdempotencyKey>,
    pub render: Render,
}

/// The outcome of a decision: the ticket as it must become and what to
/// record with it.
#[derive(Debug, Clone)]
pub struct Mutation {
    pub ticket: Ticket,
    pub action: String,
    pub data: Value,
    pub transfer: Option<TransferChange>,
    pub comment: Option<NewComment>,
    /// Breaches the SLA watcher records with this change.
    pub breaches: Vec<Breach>,
}

/// A breached deadline, kept for the KPIs.
#[derive(Debug, Clone, PartialEq)]
pub struct Breach {
    pub kind: String,
    pub due_at: DateTime<Utc>,
    pub breached_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewComment {
    pub body: String,
    pub internal: bool,
}

pub type Decide = Box<dyn FnOnce(&Ticket) -> Result<Mutation, DomainError> + Send>;

pub struct MutateTicket {
    pub ticket: TicketId,
    pub actor: Actor,
    pub now: DateTime<Utc>,
    pub idempotency: Option<IdempotencyKey>,
    pub decide: Decide,
    pub render: Render,
    /// HTTP status the response carries (201 for a new comment, 200 for an action).
    pub status: u16,
}

/// What a write returned: the new ticket and its rendered body, or the body
/// stored for an idempotency key that was seen before.
#[derive(Debug, Clone)]
pub enum Written {
    New { ticket: Box<Ticket>, body: Value },
    Replayed { status: u16, body: Value },
}

impl Written {
    pub fn body(&self) -> &Value {
        match self {
            Written::New { body, .. } | Written::Replayed { body, .. } => body,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum TicketKey {
    Id(TicketId),
    Number(String),
}

/// The list filters of `GET /api/v1/tickets`, parsed.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub status: Option<String>,
    pub ticket_type: Option<TicketType>,
    pub priority: Option<Priority>,
    pub channel: Option<Channel>,
    pub assignee: Option<UserId>,
    pub first_owner: Option<UserId>,
    pub customer_phone: Option<String>,
    pub number: Option<String>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    /// Tickets whose next deadline has passed at `now`.
    pub overdue_at: Option<DateTime<Utc>>,
    pub due_before: Option<DateTime<Utc>>,
    /// Substring of title or description.
    pub q: Option<String>,
    pub page: u32,
    pub per_page: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub page: u32,
    pub per_page: u32,
}

/// One entry of the access log: a reveal of a personal field or an export.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: Option<UserId>,
    pub actor_name: String,
    /// `reveal` or `export`.
    pub action: String,
    /// What was looked at: `ticket:GD…`, `customer:12`, `all`.
    pub subject: String,
    pub field: Option<String>,
    pub reason: String,
}

/// An archived ticket whose retention has run out.
#[derive(Debug, Clone, PartialEq)]
pub struct RetentionDue {
    pub ticket: TicketId,
    pub number: String,
    pub customer: kefu_domain::CustomerId,
    pub archived_at: DateTime<Utc>,
}

/// The actor of changes kefu makes by itself (the SLA watcher): events
/// record no user, and the actor name says which job it was.
pub const SYSTEM: UserId = UserId(0);
