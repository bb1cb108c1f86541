//! Scheduled reports: what to send, to whom, how often. A run puts
//! the e-mails in the outbox and moves the schedule on in one transaction,
//! so a report goes out once however many nodes look.

use crate::{NewMessage, StoreResult};
use chrono::{DateTime, Utc};
use kefu_domain::UserId;
use std::future::Future;

#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub id: i64,
    pub owner: UserId,
    pub name: String,
    /// `daily`, `weekly` or `monthly`.
    pub frequency: String,
    /// What the report covers (JSON: team or agent, as the KPI filters).
    pub scope: String,
    pub recipients: Vec<UserId>,
    pub next_run_at: DateTime<Utc>,
    pub last_run_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

pub trait ScheduleStore: Clone + Send + Sync + 'static {
    /// Stores a new schedule (`id` and `last_run_at` are ignored).
    fn create_schedule(&self, s: Schedule) -> impl Future<Output = StoreResult<Schedule>> + Send;
    fn schedules(&self, owner: Option<UserId>) -> impl Future<Output = StoreResult<Vec<Schedule>>> + Send;
    /// False if there was none of that id and owner.
    fn delete_schedule(&self, id: i64, owner: UserId) -> impl Future<Output = StoreResult<bool>> + Send;
    fn due_schedules(&self, now: DateTime<Utc>) -> impl Future<Output = StoreResult<Vec<Schedule>>> + Send;
    /// Puts `messages` in the outbox and moves the schedule to `next` if it
    /// is still due at `expected`; false (nothing written) if another node
    /// ran it first.
    fn complete_run(
        &self,
        id: i64,
        expected: DateTime<Utc>,
        next: DateTime<Utc>,
        messages: Vec<NewMessage>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}
