//! Major incidents: the incident documents with their audit chain,
//! and the notices sent to the customers of their linked tickets — one row
//! per (incident, notice, customer), so no customer gets a notice twice,
//! whichever node sends it and however often a batch is retried. Which
//! tickets are linked is the tickets' own field (`tickets.incident_id`),
//! changed through `TicketStore::mutate_ticket` with the ticket's audit event.

use crate::{NewMessage, StoreResult};
use chrono::{DateTime, Utc};
use kefu_domain::incident_record::{Incident, IncidentEvent};
use kefu_domain::{CustomerId, DomainError, TicketId, UserId};
use serde_json::Value;
use std::future::Future;

/// A change of an incident decided on the current document inside the
/// write: the new document and what its audit event says.
pub type DecideIncident = Box<dyn FnOnce(&Incident) -> Result<(Incident, String, Value), DomainError> + Send>;

pub struct ChangeIncident {
    pub id: i64,
    pub actor: Option<UserId>,
    pub actor_name: String,
    pub now: DateTime<Utc>,
    pub decide: DecideIncident,
}

/// One customer to tell, through one of their linked tickets.
#[derive(Debug, Clone, PartialEq)]
pub struct NoticeTarget {
    pub customer: CustomerId,
    pub ticket: TicketId,
    pub message: NewMessage,
}

/// How far a notice batch got: customers recorded, and their messages by
/// outbox state (pending, sent, delivered, failed).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NoticeProgress {
    pub notice: String,
    pub customers: i64,
    pub by_state: Vec<(String, i64)>,
}

pub trait IncidentStore: Clone + Send + Sync + 'static {
    /// Writes a new incident (id and number drawn here; the document's are
    /// ignored) with the first event of its chain.
    fn create_incident(
        &self,
        incident: Incident,
        actor_name: String,
        data: Value,
    ) -> impl Future<Output = StoreResult<Incident>> + Send;
    /// Loads the incident inside a write transaction, runs `decide`, writes
    /// the document and the next event of its chain.
    fn change_incident(&self, op: ChangeIncident) -> impl Future<Output = StoreResult<Incident>> + Send;
    fn incident(&self, id: i64) -> impl Future<Output = StoreResult<Option<Incident>>> + Send;
    /// Incidents newest first; `active_only`: not restored or closed.
    fn incidents(&self, active_only: bool, limit: u32) -> impl Future<Output = StoreResult<Vec<Incident>>> + Send;
    fn incident_events(&self, id: i64) -> impl Future<Output = StoreResult<Vec<IncidentEvent>>> + Send;
    /// Linked tickets per state.
    fn children_by_status(&self, id: i64) -> impl Future<Output = StoreResult<Vec<(String, i64)>>> + Send;
    /// Records the notice for each target whose customer does not have it
    /// yet and queues its message in the outbox, in one transaction; how
    /// many were new. Safe to run twice, on two nodes at once.
    fn record_notices(
        &self,
        id: i64,
        notice: String,
        targets: Vec<NoticeTarget>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<u32>> + Send;
    /// Per notice batch of the incident, in key order.
    fn notice_progress(&self, id: i64) -> impl Future<Output = StoreResult<Vec<NoticeProgress>>> + Send;
}

/// `(notice, outbox state, count)` rows into one progress per notice, in
/// the notices' order (`n1`, `n2` … `n10`).
pub fn fold_progress(rows: Vec<(String, String, i64)>) -> Vec<NoticeProgress> {
    let mut out: Vec<NoticeProgress> = Vec::new();
    for (notice, state, n) in rows {
        let at = match out.iter().position(|p| p.notice == notice) {
            Some(at) => at,
            None => {
                out.push(NoticeProgress { notice, ..Default::default() });
                out.len() - 1
            }
        };
        out[at].customers += n;
        out[at].by_state.push((state, n));
    }
    out.sort_by_key(|p| (p.notice.len(), p.notice.clone()));
    out
}
