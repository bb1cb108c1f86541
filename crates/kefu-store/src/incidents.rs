//! Major incidents: the incident documents with their audit chain,
//! and the notices sent to the customers of their linked tickets — one row
//! per (incident, notice, customer), so no customer gets a notice twice,
//! whichever node sends it and however often a batch is retried. Which
//! tickets are linked is the tickets' own field (`tickets.incident_id`),
//! changed through `TicketStore::mutate_ticket` with the ticket's audit event.

use crate::{NewMessage, StoreResult};
use chrono::{DateTime, Utc};
use kefu_domain::incident_record::{Incident, IncidentEvent};
use kefu_domain::security::SecurityIncident;
use kefu_domain::{CustomerId, DomainError, TicketId, UserId};
use serde_json::Value;
use std::future::Future;

/// A document kept with a number of the day and its own audit chain: a
/// major incident, a security incident. One set of backend code keeps both.
pub trait Register: serde::Serialize + serde::de::DeserializeOwned + Clone + Send + Sync + 'static {
    const TABLE: &'static str;
    const EVENTS: &'static str;
    /// The number's letters: `ZD20261201001`.
    const PREFIX: &'static str;
    fn identity(&self) -> (i64, String);
    fn set_identity(&mut self, id: i64, number: String);
    fn touch(&mut self, now: DateTime<Utc>);
    /// The columns pulled out of the document for lists.
    fn row(&self) -> RegisterRow;
}

pub struct RegisterRow {
    pub state: &'static str,
    /// Still open (lists of active ones).
    pub active: bool,
    pub started_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub created_by: UserId,
}

/// The identity and touch of a record whose fields are `id`, `number` and `updated_at`.
macro_rules! identity_fields {
    () => {
        fn identity(&self) -> (i64, String) {
            (self.id, self.number.clone())
        }
        fn set_identity(&mut self, id: i64, number: String) {
            (self.id, self.number) = (id, number);
        }
        fn touch(&mut self, now: DateTime<Utc>) {
            self.updated_at = now;
        }
    };
}

impl Register for Incident {
    const TABLE: &'static str = "incidents";
    const EVENTS: &'static str = "incident_events";
    const PREFIX: &'static str = "ZD";
    identity_fields!();
    fn row(&self) -> RegisterRow {
        RegisterRow {
            state: self.state.code(),
            active: self.state.active(),
            started_at: self.started_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            created_by: self.created_by,
        }
    }
}

impl Register for SecurityIncident {
    const TABLE: &'static str = "security_incidents";
    const EVENTS: &'static str = "security_events";
    const PREFIX: &'static str = "AQ";
    identity_fields!();
    fn row(&self) -> RegisterRow {
        RegisterRow {
            state: self.state.code(),
            active: self.state != kefu_domain::security::State::Closed,
            started_at: self.discovered_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            created_by: self.created_by,
        }
    }
}

/// A change of a record decided on the current document inside the write:
/// the new document and what its audit event says.
pub type DecideRecord<T> = Box<dyn FnOnce(&T) -> Result<(T, String, Value), DomainError> + Send>;

pub struct ChangeRecord<T> {
    pub id: i64,
    pub actor: Option<UserId>,
    pub actor_name: String,
    pub now: DateTime<Utc>,
    pub decide: DecideRecord<T>,
}

pub type ChangeIncident = ChangeRecord<Incident>;

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
    /// A supervisor dismissed a spike proposal: its bucket is not proposed
    /// again before `until`.
    fn dismiss_spike(&self, d: Dismissal) -> impl Future<Output = StoreResult<()>> + Send;
    /// Dismissals still in force at `now`.
    fn spike_dismissals(&self, now: DateTime<Utc>) -> impl Future<Output = StoreResult<Vec<Dismissal>>> + Send;
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dismissal {
    pub bucket: String,
    pub until: DateTime<Utc>,
    pub reason: String,
    pub by: UserId,
    pub at: DateTime<Utc>,
}

/// The register of information-security incidents: restricted;
/// the same record-and-chain keeping as major incidents.
pub trait SecurityStore: Clone + Send + Sync + 'static {
    fn create_security_incident(
        &self,
        record: SecurityIncident,
        actor_name: String,
        data: Value,
    ) -> impl Future<Output = StoreResult<SecurityIncident>> + Send;
    fn change_security_incident(
        &self,
        op: ChangeRecord<SecurityIncident>,
    ) -> impl Future<Output = StoreResult<SecurityIncident>> + Send;
    fn security_incident(&self, id: i64) -> impl Future<Output = StoreResult<Option<SecurityIncident>>> + Send;
    /// Newest first.
    fn security_incidents(&self, limit: u32) -> impl Future<Output = StoreResult<Vec<SecurityIncident>>> + Send;
    fn security_events(&self, id: i64) -> impl Future<Output = StoreResult<Vec<IncidentEvent>>> + Send;
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
