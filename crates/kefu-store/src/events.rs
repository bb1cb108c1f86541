//! Events for the systems around kefu (issue 22): the transactional outbox
//! every audit event writes a row to (in `insert_event`, so with the change
//! itself), the endpoints (webhooks and TMF621 hub subscriptions) and their
//! delivery log. Each endpoint's deliveries go out one at a time, oldest
//! first, so a receiver sees a ticket's events in order.

use crate::StoreResult;
use chrono::{DateTime, Utc};
use kefu_domain::{TicketId, UserId};
use std::future::Future;

/// A row of the outbox: which audit event, not its content.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    pub id: i64,
    pub ticket: TicketId,
    pub seq: i64,
    pub action: String,
    pub at: DateTime<Utc>,
}

/// `webhook` (kefu's own events), `tmf` / `tmf5` (a TMF621 hub
/// subscription made through v4 / v5: its events in that version's words).
pub const HOOK_KINDS: [&str; 3] = ["webhook", "tmf", "tmf5"];

#[derive(Debug, Clone, PartialEq)]
pub struct NewWebhook {
    pub kind: String,
    pub url: String,
    /// Event types delivered; empty: all.
    pub events: Vec<String>,
    /// The TMF hub's query (empty for webhooks).
    pub query: String,
    /// The signing secret (`whsec_…`), sealed at rest.
    pub secret: String,
    pub description: String,
    /// Who registered it: deliveries see tickets as they may.
    pub owner: UserId,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Webhook {
    pub id: i64,
    pub kind: String,
    pub url: String,
    pub events: Vec<String>,
    pub query: String,
    #[serde(skip)]
    pub secret: String,
    pub description: String,
    pub owner: UserId,
    pub enabled: bool,
    /// Failed attempts in a row.
    pub failures: u32,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A change of an endpoint; `None` keeps the value. Switching an endpoint
/// on clears its failure count and the reason it was switched off.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewDelivery {
    pub webhook: i64,
    pub event_id: String,
    pub event_type: String,
    pub ticket: TicketId,
    /// The JSON body, as it will be signed and sent (sealed at rest).
    pub payload: String,
}

/// `pending`, `delivered` or `failed` (retries used up).
pub const DELIVERY_STATES: [&str; 3] = ["pending", "delivered", "failed"];

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Delivery {
    pub id: i64,
    pub webhook: i64,
    pub event_id: String,
    pub event_type: String,
    pub ticket: TicketId,
    #[serde(skip)]
    pub payload: String,
    pub state: String,
    pub attempts: u32,
    pub next_at: DateTime<Utc>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// The outcome of one try of a delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub delivery: i64,
    pub at: DateTime<Utc>,
    pub ok: bool,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<u16>,
    pub error: Option<String>,
    /// When to try again after a failure; `None`: give up.
    pub retry_at: Option<DateTime<Utc>>,
    /// Switch the endpoint off at this many failures in a row (0: never).
    pub disable_after: u32,
}

pub trait EventStore: Clone + Send + Sync + 'static {
    /// Outbox rows not yet handed to the endpoints, oldest first.
    fn unfanned_events(&self, limit: u32) -> impl Future<Output = StoreResult<Vec<OutboxEvent>>> + Send;
    /// Records the deliveries made of outbox rows `ids` and marks the rows
    /// handed out (also published, when no stream is configured), in one
    /// transaction: a crash repeats the whole round or none of it.
    fn fan_out(
        &self,
        ids: Vec<i64>,
        deliveries: Vec<NewDelivery>,
        also_published: bool,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Outbox rows not yet published to the stream, oldest first.
    fn unpublished_events(&self, limit: u32) -> impl Future<Output = StoreResult<Vec<OutboxEvent>>> + Send;
    fn mark_published(&self, ids: Vec<i64>) -> impl Future<Output = StoreResult<()>> + Send;
    /// Removes outbox rows handed out and published, and the delivery log
    /// of deliveries settled before `before`. Returns rows removed.
    fn prune_events(&self, before: DateTime<Utc>) -> impl Future<Output = StoreResult<u64>> + Send;

    fn create_webhook(&self, hook: NewWebhook) -> impl Future<Output = StoreResult<Webhook>> + Send;
    /// Every endpoint of both kinds, by id.
    fn webhooks(&self) -> impl Future<Output = StoreResult<Vec<Webhook>>> + Send;
    fn webhook(&self, id: i64) -> impl Future<Output = StoreResult<Option<Webhook>>> + Send;
    fn update_webhook(
        &self,
        id: i64,
        patch: WebhookPatch,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<Option<Webhook>>> + Send;
    /// Removes an endpoint with its delivery log; false if there was none.
    fn delete_webhook(&self, id: i64) -> impl Future<Output = StoreResult<bool>> + Send;

    /// The oldest pending delivery of each enabled endpoint, if it is due
    /// (a later one waits behind it: order per endpoint).
    fn due_deliveries(&self, now: DateTime<Utc>, limit: u32)
    -> impl Future<Output = StoreResult<Vec<Delivery>>> + Send;
    /// Records a try: delivered, retried later, or given up; counts the
    /// endpoint's failures in a row and switches it off at the limit.
    fn record_attempt(&self, attempt: Attempt) -> impl Future<Output = StoreResult<()>> + Send;
    /// An endpoint's delivery log, newest first, before the delivery `before`.
    fn deliveries(
        &self,
        webhook: i64,
        before: Option<i64>,
        limit: u32,
    ) -> impl Future<Output = StoreResult<Vec<Delivery>>> + Send;
    /// Sends a delivery again: back to pending, due now.
    fn replay_delivery(
        &self,
        webhook: i64,
        delivery: i64,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<Option<Delivery>>> + Send;
}
