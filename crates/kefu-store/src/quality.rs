//! Quality and assessment: scorecard versions, stores
//! (营业厅), evaluations (a QA review of a ticket, a store inspection, a
//! calibration review — one record for the one scorecard engine), gradings
//! of a period and innovation entries. The scoring is the domain's
//! (`kefu_domain::quality`); the store keeps what was decided, with the
//! scorecard version it was decided on.

use crate::StoreResult;
use chrono::{DateTime, NaiveDate, Utc};
use kefu_domain::{TicketId, UserId};
use std::future::Future;

/// One version of a scorecard; versions are never changed, only added.
#[derive(Debug, Clone, PartialEq)]
pub struct ScorecardVersion {
    pub key: String,
    pub version: i64,
    /// `review`, `store` or `mystery`.
    pub usage: String,
    /// The card as JSON (`kefu_domain::quality::Scorecard`).
    pub body: String,
    /// None for the shipped card.
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

/// A store (营业厅); `Outlet` so as not to be confused with the data store.
#[derive(Debug, Clone, PartialEq)]
pub struct Outlet {
    pub code: String,
    pub name: String,
    pub region: String,
    pub manager: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvaluationKind {
    /// A QA review of a ticket's handling; counts for the agent.
    Review,
    /// A store inspection or a mystery shopper's visit; counts for the store.
    Inspection,
    /// A review in a calibration session; counts for nobody.
    Calibration,
}

impl EvaluationKind {
    pub fn code(self) -> &'static str {
        match self {
            EvaluationKind::Review => "review",
            EvaluationKind::Inspection => "inspection",
            EvaluationKind::Calibration => "calibration",
        }
    }

    pub fn parse(raw: &str) -> Option<EvaluationKind> {
        [EvaluationKind::Review, EvaluationKind::Inspection, EvaluationKind::Calibration]
            .into_iter()
            .find(|k| k.code() == raw)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub id: i64,
    pub kind: EvaluationKind,
    /// The store's code (an inspection) or the ticket's number (a review).
    pub subject: String,
    pub ticket: Option<TicketId>,
    /// Whose work is judged (a review).
    pub agent: Option<UserId>,
    pub scorecard: String,
    pub version: i64,
    /// The cycle judged (`2026-11`, `2026-Q4`) and its days.
    pub period: String,
    pub day_from: NaiveDate,
    pub day_to: NaiveDate,
    pub score: f64,
    /// The scored items and parts as JSON (`kefu_domain::quality::Scored`)
    /// plus the reviewer's notes.
    pub body: String,
    pub reviewer: UserId,
    /// The retry key (caller, scope, key) and the request's fingerprint.
    pub request: Option<(String, String)>,
    pub created_at: DateTime<Utc>,
}

/// Which evaluations to list; `within` keeps those whose cycle lies in the
/// days given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvaluationFilter {
    pub kind: Option<EvaluationKind>,
    pub within: Option<(NaiveDate, NaiveDate)>,
    pub subject: Option<String>,
    pub agent: Option<UserId>,
    pub ticket: Option<TicketId>,
}

/// A period's grading of the stores, as decided (JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct Grading {
    pub period: String,
    pub body: String,
    pub graded_by: UserId,
    pub graded_at: DateTime<Utc>,
}

/// A recorded service innovation (服务创新) of an agent.
#[derive(Debug, Clone, PartialEq)]
pub struct Innovation {
    pub id: i64,
    pub agent: UserId,
    pub day: NaiveDate,
    pub title: String,
    pub points: f64,
    pub recorded_by: UserId,
    pub created_at: DateTime<Utc>,
}

pub trait QualityStore: Clone + Send + Sync + 'static {
    /// Adds the next version of a scorecard (1 for a new key) and returns it.
    fn add_scorecard_version(
        &self,
        key: String,
        usage: String,
        body: String,
        by: Option<UserId>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<ScorecardVersion>> + Send;
    /// The latest version of every scorecard, by key.
    fn scorecards(&self) -> impl Future<Output = StoreResult<Vec<ScorecardVersion>>> + Send;
    /// One version, or the latest with `None`.
    fn scorecard(
        &self,
        key: String,
        version: Option<i64>,
    ) -> impl Future<Output = StoreResult<Option<ScorecardVersion>>> + Send;

    /// `Conflict` if the code is taken.
    fn create_outlet(&self, o: Outlet) -> impl Future<Output = StoreResult<Outlet>> + Send;
    fn outlets(&self) -> impl Future<Output = StoreResult<Vec<Outlet>>> + Send;
    fn outlet(&self, code: String) -> impl Future<Output = StoreResult<Option<Outlet>>> + Send;

    /// Keeps an evaluation (`id` is ignored) and returns it with its id.
    fn add_evaluation(&self, e: Evaluation) -> impl Future<Output = StoreResult<Evaluation>> + Send;
    fn evaluation(&self, id: i64) -> impl Future<Output = StoreResult<Option<Evaluation>>> + Send;
    /// The evaluation a request with this retry key made.
    fn evaluation_by_request(&self, key: String) -> impl Future<Output = StoreResult<Option<Evaluation>>> + Send;
    /// Oldest first.
    fn evaluations(&self, f: EvaluationFilter) -> impl Future<Output = StoreResult<Vec<Evaluation>>> + Send;

    /// Replaces the period's grading.
    fn save_grading(&self, g: Grading) -> impl Future<Output = StoreResult<()>> + Send;
    fn grading(&self, period: String) -> impl Future<Output = StoreResult<Option<Grading>>> + Send;

    fn add_innovation(&self, i: Innovation) -> impl Future<Output = StoreResult<Innovation>> + Send;
    /// The entries dated within the days (both inclusive), of one agent or all.
    fn innovations(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        agent: Option<UserId>,
    ) -> impl Future<Output = StoreResult<Vec<Innovation>>> + Send;
}
