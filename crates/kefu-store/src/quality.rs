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
    /// Made at or after this instant.
    pub created_from: Option<DateTime<Utc>>,
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

/// A violation recorded against an agent.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub id: i64,
    pub agent: UserId,
    pub kind: String,
    pub points: f64,
    pub ticket: Option<TicketId>,
    pub evaluation: Option<i64>,
    pub description: String,
    /// `kefu_domain::violations::State` code.
    pub state: String,
    pub appeal_until: DateTime<Utc>,
    /// The rectification's due time.
    pub due_at: DateTime<Utc>,
    pub appealed_at: Option<DateTime<Utc>>,
    pub recorded_by: UserId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Moves on with every step (a step applies only over what was read).
    pub version: i64,
}

/// One step of a violation, kept for good.
#[derive(Debug, Clone, PartialEq)]
pub struct ViolationEvent {
    pub id: i64,
    pub violation: i64,
    pub action: String,
    pub actor: UserId,
    pub note: String,
    /// The state after the step.
    pub state: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ViolationFilter {
    pub agent: Option<UserId>,
    pub state: Option<String>,
    /// Recorded in `[from, to)`.
    pub created: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// A training record of a staff member (培训档案, R-58).
#[derive(Debug, Clone, PartialEq)]
pub struct Training {
    pub id: i64,
    pub user: UserId,
    pub course: String,
    pub day: NaiveDate,
    pub hours: f64,
    /// 合格, 优秀, 不合格 … as the trainer words it.
    pub result: String,
    pub certificate: Option<String>,
    pub recorded_by: UserId,
    pub created_at: DateTime<Utc>,
}

/// A store's report that it rectified what a failing inspection found.
#[derive(Debug, Clone, PartialEq)]
pub struct RectificationReport {
    /// The failing inspection (the task's id).
    pub inspection: i64,
    pub store: String,
    pub note: String,
    pub reported_by: UserId,
    pub reported_at: DateTime<Utc>,
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

    /// Records a violation and its first event together (ids ignored).
    fn add_violation(&self, v: Violation, e: ViolationEvent) -> impl Future<Output = StoreResult<Violation>> + Send;
    fn violation(&self, id: i64) -> impl Future<Output = StoreResult<Option<Violation>>> + Send;
    /// Newest first.
    fn violations(&self, f: ViolationFilter) -> impl Future<Output = StoreResult<Vec<Violation>>> + Send;
    fn violation_events(&self, id: i64) -> impl Future<Output = StoreResult<Vec<ViolationEvent>>> + Send;
    /// Writes `v` (its version moved on by one) and the event, only if the
    /// stored version is still `v.version`; false (nothing written) if not.
    fn step_violation(&self, v: Violation, e: ViolationEvent) -> impl Future<Output = StoreResult<bool>> + Send;

    fn add_training(&self, t: Training) -> impl Future<Output = StoreResult<Training>> + Send;
    /// A staff member's training records, newest first.
    fn trainings(&self, user: UserId) -> impl Future<Output = StoreResult<Vec<Training>>> + Send;

    /// `Conflict { store_rectifications_pkey }` when the task was reported already.
    fn report_rectification(&self, r: RectificationReport) -> impl Future<Output = StoreResult<()>> + Send;
    /// The reports of one store, or of every store.
    fn rectification_reports(
        &self,
        store: Option<String>,
    ) -> impl Future<Output = StoreResult<Vec<RectificationReport>>> + Send;

    fn add_innovation(&self, i: Innovation) -> impl Future<Output = StoreResult<Innovation>> + Send;
    /// The entries dated within the days (both inclusive), of one agent or all.
    fn innovations(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        agent: Option<UserId>,
    ) -> impl Future<Output = StoreResult<Vec<Innovation>>> + Send;
}
