//! The customer's services capability of the store: their
//! subscriptions and history, the account facts closing needs, the BSS
//! import, and the queue of orders to hand to the BSS. An order's changes
//! to the inventory are written with the ticket's change (`Mutation::inventory`),
//! so the inventory and the ticket's audit chain cannot disagree.

use crate::StoreResult;
use chrono::{DateTime, Utc};
use kefu_domain::inventory::{AccountFacts, InventoryChange, Service, ServiceState};
use kefu_domain::ticket::NewCustomer;
use kefu_domain::{CustomerId, TicketId};
use serde::Serialize;
use std::future::Future;

/// An order's changes, written with the ticket's change that completes it.
#[derive(Debug, Clone, PartialEq)]
pub struct InventoryWrite {
    pub customer: CustomerId,
    pub order_id: String,
    pub changes: Vec<InventoryChange>,
}

/// What a ticket's change does to the BSS queue.
#[derive(Debug, Clone, PartialEq)]
pub enum BssQueue {
    /// Hand the order to the BSS from `at` (submitted, or polled after).
    Enqueue { order_id: String, at: DateTime<Utc> },
    /// The order is settled: nothing more to send or ask.
    Done { order_id: String },
}

/// An order waiting for the BSS: to be submitted, or asked after.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BssJob {
    pub order_id: String,
    pub ticket: TicketId,
    /// `submit` until the BSS took it, then `poll`.
    pub kind: String,
    pub attempts: u32,
    pub next_at: DateTime<Utc>,
    pub last_error: Option<String>,
}

/// What became of an attempt on a job a node holds.
#[derive(Debug, Clone, PartialEq)]
pub enum BssJobOutcome {
    /// Try again (or ask again) at `at`; `attempt` counts it as a failed try.
    Later { at: DateTime<Utc>, kind: String, error: Option<String>, attempt: bool },
    /// Nothing more to do.
    Done,
}

/// One change of the customer's services, in their history.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceChange {
    pub id: i64,
    pub service: i64,
    pub ticket: Option<TicketId>,
    pub order_id: Option<String>,
    /// `added`, `changed` or `imported`.
    pub change: String,
    /// The service as it became.
    pub state: ServiceState,
    pub product_code: String,
    pub at: DateTime<Utc>,
}

/// A service as the operator's BSS exports it (`kefu inventory import`).
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedService {
    pub customer: NewCustomer,
    pub product_code: String,
    pub service_number: String,
    pub state: ServiceState,
    pub monthly_fee_fen: i64,
    pub started_at: DateTime<Utc>,
    pub contract_end: Option<DateTime<Utc>>,
    pub devices_out: u32,
    /// The account balance, fen, when the export carries it.
    pub balance_fen: Option<i64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportCounts {
    pub added: u64,
    pub updated: u64,
}

/// The customers' services (`services`, `service_history`,
/// `customer_accounts`) and the BSS queue (`bss_jobs`).
pub trait InventoryStore: Clone + Send + Sync + 'static {
    /// A customer's services, ended ones too, oldest first.
    fn services(&self, customer: CustomerId) -> impl Future<Output = StoreResult<Vec<Service>>> + Send;
    /// A customer's service changes, oldest first.
    fn service_history(&self, customer: CustomerId) -> impl Future<Output = StoreResult<Vec<ServiceChange>>> + Send;
    /// Balance and the like; a customer the BSS told nothing about owes nothing.
    fn account_facts(&self, customer: CustomerId) -> impl Future<Output = StoreResult<AccountFacts>> + Send;
    /// Adds or updates (by customer, service number and product) each row,
    /// creating customers found by phone, in one transaction; history says `imported`.
    fn import_services(
        &self,
        rows: Vec<ImportedService>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<ImportCounts>> + Send;
    /// Claims up to `limit` jobs due at `now` for `node` until `now + lease`.
    fn claim_bss_jobs(
        &self,
        node: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: u32,
    ) -> impl Future<Output = StoreResult<Vec<BssJob>>> + Send;
    /// Records what became of a job `node` holds; false if its claim ran out
    /// (or the order was settled meanwhile and the job is gone).
    fn finish_bss_job(
        &self,
        order_id: &str,
        node: &str,
        outcome: BssJobOutcome,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// The job of an order, if it is still queued.
    fn bss_job(&self, order_id: &str) -> impl Future<Output = StoreResult<Option<BssJob>>> + Send;
}
