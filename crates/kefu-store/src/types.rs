//! Plain data passed across the store interface.

use chrono::{DateTime, Utc};
use kefu_domain::action::TransferChange;
use kefu_domain::flow::Actor;
use kefu_domain::org::StaffProfile;
use kefu_domain::ticket::{NewTicket, Ticket};
use kefu_domain::{Channel, DepartmentId, DomainError, Priority, Role, TeamId, TicketId, TicketType, UserId};
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
    /// Team, tier, skills, capacity, on duty.
    pub profile: StaffProfile,
    /// When a ticket was last given to them (fair tie-breaking in dispatch).
    pub last_assigned_at: Option<DateTime<Utc>>,
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
    /// `METHOD /path` of the request: a key is scoped by user and route.
    pub scope: String,
    pub key: String,
    /// A hash of the request body: the same key with another body is refused.
    pub fingerprint: String,
}

impl IdempotencyKey {
    /// The stored key: scope and key, so that one key on two routes are two.
    pub fn stored(&self) -> String {
        format!("{}\n{}", self.scope, self.key)
    }
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
    /// A change applied to the new ticket in the same transaction, as its
    /// own audit event (automatic dispatch). If it is refused, the
    /// registration commits alone and the ticket comes back as registered.
    pub follow_up: Option<FollowUp>,
    /// Renders the ticket as it is after the follow-up.
    pub render: Render,
    /// Messages to the customer about the new ticket (the receipt), made
    /// once its number is known and written in the same transaction.
    pub messages: Option<MessagesFn>,
}

/// Makes the outbox messages of a ticket just written.
pub type MessagesFn = Box<dyn FnOnce(&Ticket) -> Vec<NewMessage> + Send>;

pub struct FollowUp {
    pub actor: Actor,
    pub decide: Decide,
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
    /// Staff notices caused by the change, written with it.
    pub notices: Vec<NewNotice>,
    /// For automatic dispatch: refuse the write (`CapacityFull`) if the new
    /// assignee would then hold more open tickets than this.
    pub capacity: Option<CapacityCheck>,
    /// Messages to the customer (outbox), written with the change and
    /// delivered afterwards by the outbox worker.
    pub outbox: Vec<NewMessage>,
    /// A completed order's changes to the customer's services.
    pub inventory: Option<crate::InventoryWrite>,
    /// The order handed to the BSS, or settled.
    pub bss: Option<crate::BssQueue>,
    /// Evidence files added by the change (their bytes are already stored).
    pub attachments: Vec<crate::Attachment>,
}

impl Mutation {
    /// A change with nothing recorded beside its audit event.
    pub fn new(ticket: Ticket, action: impl Into<String>, data: Value) -> Mutation {
        Mutation {
            ticket,
            action: action.into(),
            data,
            transfer: None,
            comment: None,
            breaches: Vec::new(),
            notices: Vec::new(),
            capacity: None,
            outbox: Vec::new(),
            inventory: None,
            bss: None,
            attachments: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CapacityCheck {
    pub user: UserId,
    pub username: String,
    pub max: u32,
}

/// A notice to a staff member (站内通知): transfers, results, mentions,
/// escalations, deadline warnings and breaches.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotice {
    pub user: UserId,
    pub kind: String,
    pub message: String,
    pub message_zh: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Notice {
    pub id: i64,
    pub user: UserId,
    pub ticket_id: Option<TicketId>,
    pub ticket_number: Option<String>,
    /// `dispatch`, `transfer`, `transfer_accepted`, `transfer_rejected`,
    /// `resolved`, `escalation`, `supervised`, `mention`, `sla_warning`,
    /// `sla_breach`, `queued`.
    pub kind: String,
    pub message: String,
    pub message_zh: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

/// A message for the outbox (通知发件箱): SMS or e-mail to a customer.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    /// The template it was made from: `receipt`, `result`, `visit_invitation` …
    pub kind: String,
    /// `sms` or `email`.
    pub channel: String,
    /// Phone number or e-mail address; stored encrypted.
    pub recipient: String,
    pub subject: String,
    pub body: String,
    /// An e-mail answering the customer's message with this Message-ID.
    pub in_reply_to: Option<String>,
}

/// A message in the outbox with its delivery state: `pending` (waiting or
/// retrying), `sent` (the gateway took it), `delivered` (receipt), `failed`
/// (given up, or the receipt said undeliverable).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Message {
    pub id: i64,
    pub ticket_id: Option<TicketId>,
    pub kind: String,
    pub channel: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub state: String,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// The gateway's id of the message, matched by delivery receipts.
    pub provider_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// An e-mail answering the customer's message with this Message-ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum SendOutcome {
    Sent { provider_id: Option<String> },
    Retry { at: DateTime<Utc>, error: String },
    Failed { error: String },
}

/// The return-visit tasks (回访任务) list: by state and method.
#[derive(Debug, Clone, Default)]
pub struct VisitFilter {
    pub state: Option<String>,
    pub method: Option<String>,
    pub team: Option<TeamId>,
    pub page: u32,
    pub per_page: u32,
}

/// A return-visit task as listed (the projection of a ticket's visit).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VisitRow {
    pub ticket_id: TicketId,
    pub number: String,
    pub ticket_type: String,
    pub team: Option<TeamId>,
    pub method: String,
    pub state: String,
    pub attempts: u32,
    pub resolved_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub satisfaction: Option<u8>,
    pub nps: Option<u8>,
    pub visited_at: Option<DateTime<Utc>>,
}

/// Return-visit figures of one team over a period of resolutions (R-26,
/// Tickets reopened by an appeal count with their new resolution.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VisitCounts {
    pub team: Option<TeamId>,
    pub resolved: i64,
    pub visited: i64,
    pub unreachable: i64,
    /// Ratings 1–5 given, their sum, and how many were ≥ the satisfied mark.
    pub rated: i64,
    pub rating_sum: i64,
    pub satisfied: i64,
    /// NPS answers, promoters (9–10) and detractors (0–6).
    pub nps_answers: i64,
    pub promoters: i64,
    pub detractors: i64,
    /// Resolved after their `resolution` deadline was breached.
    pub late: i64,
}

#[derive(Debug, Clone)]
pub struct NewTeam {
    pub department: DepartmentId,
    pub code: String,
    pub name: String,
    pub lead: Option<UserId>,
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
    pub mentions: Vec<UserId>,
    /// A message from the customer: the channel it came by (`sms`, `email`, `wechat`).
    pub channel: Option<String>,
}

pub type Decide = Box<dyn FnOnce(&Ticket) -> Result<Mutation, DomainError> + Send>;

/// A change of a second ticket that commits with the first or not at all
/// (a merge is recorded on both): decided on that ticket as stored, given
/// the first as it became.
pub struct Linked {
    pub ticket: TicketId,
    pub decide: DecideLinked,
}

pub type DecideLinked = Box<dyn FnOnce(&Ticket, &Ticket) -> Result<Mutation, DomainError> + Send>;

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
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TicketFilter {
    pub status: Option<String>,
    /// Any of these states (the TMF621 façade's status, which several states share).
    pub statuses: Option<Vec<String>>,
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
    /// Substring of title, description or the customer's name.
    pub q: Option<String>,
    /// Resolved (a resolve event) by this person, by a member of this
    /// team, in `[resolved_from, resolved_to)`: what the handling figures count.
    pub resolved_by: Option<UserId>,
    pub resolved_team: Option<TeamId>,
    pub resolved_from: Option<DateTime<Utc>>,
    pub resolved_to: Option<DateTime<Utc>>,
    pub team: Option<TeamId>,
    pub tier: Option<u8>,
    /// Taken at or about this store (营业厅 code).
    pub store: Option<String>,
    /// Linked to this major incident.
    pub incident: Option<i64>,
    /// Open (weighing on a handler) or not.
    pub open: Option<bool>,
    /// Open tickets nobody holds.
    pub unassigned: bool,
    /// Transfers awaiting acceptance by any of these receivers (`transfer_key`).
    pub awaiting: Vec<String>,
    /// Some deadline in warning at this instant and none breached.
    pub warning_at: Option<DateTime<Utc>>,
    /// Most urgent first (earliest running deadline) instead of newest first.
    pub due_first: bool,
    /// Keyset paging of the newest-first order: only tickets after this
    /// one (older), so a deep page costs what the first one does.
    pub after: Option<Cursor>,
    pub page: u32,
    pub per_page: u32,
    /// Need to know: only the tickets the caller stands in one of these
    /// relations to (None: every ticket).
    pub visible: Option<Visible>,
    /// Only these tickets (search hits); an empty list passes none.
    pub ids: Option<Vec<TicketId>>,
}

/// The relations that let a caller see a ticket, with what they need.
#[derive(Debug, Clone, PartialEq)]
pub struct Visible {
    pub user: UserId,
    pub relations: Vec<kefu_domain::access::Relation>,
    pub team: Option<TeamId>,
    pub leads: Vec<TeamId>,
    /// The caller's keys of pending transfers (`u:`, `t:`, `d:`).
    pub transfer_keys: Vec<String>,
}

/// A position in the newest-first order: the last ticket of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: TicketId,
}

impl Cursor {
    pub fn of(t: &Ticket) -> Cursor {
        Cursor { created_at: t.created_at, id: t.id }
    }

    /// `<microseconds since the epoch>.<id>`: opaque to clients.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.created_at.timestamp_micros(), self.id.0)
    }

    pub fn parse(s: &str) -> Option<Cursor> {
        let (micros, id) = s.split_once('.')?;
        let created_at = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
        Some(Cursor { created_at, id: TicketId(id.parse().ok()?) })
    }
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

/// A change of a staff member's team, tier or skills.
#[derive(Debug, Clone, PartialEq)]
pub struct StaffChange {
    pub user: UserId,
    pub at: DateTime<Utc>,
    /// Who changed it; None when the command line did.
    pub by: Option<UserId>,
    pub before: kefu_domain::org::Placement,
    pub after: kefu_domain::org::Placement,
}
