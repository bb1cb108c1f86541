//! The KPI rollups of the store: each ticket's facts as last
//! counted, and the cells they add up to at every grain. Filled by the
//! rollup job from the ticket change feed, never on the request's path;
//! each batch (facts, cells and the job's place) is one transaction.

use crate::StoreResult;
use chrono::{DateTime, NaiveDate, Utc};
use kefu_domain::facts::Facts;
use kefu_domain::kpi::Dim;
use kefu_domain::rollup::{Basis, Cell, Dims, Key, Scope};
use kefu_domain::{Channel, CustomerId, Priority, TeamId, TicketId, TicketType, UserId};
use std::future::Future;

/// A ticket's facts as its cells count them.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptFacts {
    pub ticket: TicketId,
    /// The ticket's change counter when they were computed.
    pub rev: i64,
    pub customer: CustomerId,
    pub facts: Facts,
    pub dims: Dims,
    /// A later contact from the same customer about the same type came
    /// within the policy's days of the resolution.
    pub repeated: bool,
}

/// Where the rollup job is in the feed: everything changed before
/// `settled` is counted; `version` moves with every batch, so a node that
/// lost its lease cannot apply a batch computed from an older state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KpiMark {
    pub settled: Option<DateTime<Utc>>,
    pub version: i64,
}

/// One batch of the rollup job.
#[derive(Debug, Clone, Default)]
pub struct KpiBatch {
    /// The mark the batch was computed from (applied only if unchanged).
    pub expected: KpiMark,
    pub settled: Option<DateTime<Utc>>,
    pub facts: Vec<KeptFacts>,
    /// Changes to the cells, at every grain (`Grain::code`).
    pub cells: Vec<(i16, Key, Cell)>,
}

/// A read of the cells: one grain, the days `from..=to`, grouped by a
/// dimension (or not), per day or not, with filters on dimensions.
#[derive(Debug, Clone)]
pub struct CellQuery {
    pub grain: i16,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub scopes: Vec<Scope>,
    /// The measures to read (a metric needs a few).
    pub measures: Vec<String>,
    pub group: Option<Dim>,
    pub by_day: bool,
    pub filter: DimFilter,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DimFilter {
    pub team: Option<TeamId>,
    pub agent: Option<UserId>,
    pub channel: Option<Channel>,
    pub ticket_type: Option<TicketType>,
    pub priority: Option<Priority>,
}

impl DimFilter {
    /// Whether a per-ticket cell passes the filter.
    pub fn matches(&self, key: &Key) -> bool {
        self.team.is_none_or(|t| key.team == Some(t))
            && self.agent.is_none_or(|a| key.agent == Some(a))
            && self.channel.is_none_or(|c| key.channel == c)
            && self.ticket_type.is_none_or(|t| key.ticket_type == t)
            && self.priority.is_none_or(|p| key.priority == p)
    }

    /// The dimensions it filters by.
    pub fn dims(&self) -> Vec<Dim> {
        let mut d = Vec::new();
        for (on, dim) in [
            (self.team.is_some(), Dim::Team),
            (self.agent.is_some(), Dim::Agent),
            (self.channel.is_some(), Dim::Channel),
            (self.ticket_type.is_some(), Dim::Type),
            (self.priority.is_some(), Dim::Priority),
        ] {
            if on {
                d.push(dim);
            }
        }
        d
    }
}

/// Summed cells of one group: the group's value of the dimension (a team
/// or user id, a channel's name …; empty for none) and, per day, the day.
#[derive(Debug, Clone, PartialEq)]
pub struct CellSum {
    pub group: String,
    pub day: Option<NaiveDate>,
    pub basis: Basis,
    pub measure: String,
    pub cell: Cell,
}

/// Open tickets counted by group and age: `buckets` are the creation
/// times at the buckets' upper age bounds (newest first); a ticket's
/// bucket is how many of them it was created before.
#[derive(Debug, Clone)]
pub struct BacklogQuery {
    pub group: Option<Dim>,
    /// Agent is who holds the ticket now.
    pub filter: DimFilter,
    pub buckets: Vec<DateTime<Utc>>,
}

pub trait KpiStore: Clone + Send + Sync + 'static {
    fn kpi_mark(&self) -> impl Future<Output = StoreResult<KpiMark>> + Send;
    /// The kept facts of these tickets (those counted so far).
    fn kept_facts(&self, ids: Vec<TicketId>) -> impl Future<Output = StoreResult<Vec<KeptFacts>>> + Send;
    /// The kept facts counting on a day of `from..=to`, for `agent` (as
    /// first owner or resolver) or everyone.
    fn facts_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        agent: Option<UserId>,
    ) -> impl Future<Output = StoreResult<Vec<KeptFacts>>> + Send;
    /// The kept facts of a customer's tickets of one type.
    fn customer_facts(
        &self,
        customer: CustomerId,
        ticket_type: TicketType,
    ) -> impl Future<Output = StoreResult<Vec<KeptFacts>>> + Send;
    /// Applies a batch if the mark is still `batch.expected`; false if
    /// another node moved it (nothing applied).
    fn apply_kpi(&self, batch: KpiBatch) -> impl Future<Output = StoreResult<bool>> + Send;
    fn kpi_cells(&self, query: CellQuery) -> impl Future<Output = StoreResult<Vec<CellSum>>> + Send;
    /// (group, bucket, tickets) of the open tickets.
    fn backlog(&self, query: BacklogQuery) -> impl Future<Output = StoreResult<Vec<(String, usize, i64)>>> + Send;
    fn customer_count(&self) -> impl Future<Output = StoreResult<i64>> + Send;
    /// Forgets every fact and cell (a rebuild from the feed follows).
    fn reset_kpi(&self) -> impl Future<Output = StoreResult<()>> + Send;
}

/// The group value of a dimension in a key, as `CellSum::group` names it.
pub fn group_of(key: &Key, dim: Option<Dim>) -> String {
    match dim {
        None => String::new(),
        Some(Dim::Team) => key.team.map_or_else(String::new, |t| t.0.to_string()),
        Some(Dim::Agent) => key.agent.map_or_else(String::new, |a| a.0.to_string()),
        Some(Dim::Channel) => key.channel.as_str().to_string(),
        Some(Dim::Type) => key.ticket_type.as_str().to_string(),
        Some(Dim::Priority) => key.priority.as_str().to_string(),
    }
}

/// The column a dimension is kept in, in both backends' `kpi_cells`.
pub fn dim_column(dim: Dim) -> &'static str {
    match dim {
        Dim::Team => "team",
        Dim::Agent => "agent",
        Dim::Channel => "channel",
        Dim::Type => "ticket_type",
        Dim::Priority => "priority",
    }
}

pub fn basis_of(s: &str) -> Basis {
    if s == "created" { Basis::Created } else { Basis::Resolved }
}

pub fn scope_of(s: &str) -> Scope {
    match s {
        "withdrawn" => Scope::Withdrawn,
        "merged" => Scope::Merged,
        _ => Scope::Counted,
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct FactsDoc {
    facts: Facts,
    dims: Dims,
}

/// Kept facts as both backends store them (JSON).
pub fn encode_facts(facts: &Facts, dims: &Dims) -> StoreResult<String> {
    serde_json::to_string(&FactsDoc { facts: facts.clone(), dims: dims.clone() })
        .map_err(|e| crate::StoreError::Backend(format!("facts: {e}")))
}

pub fn decode_facts(doc: &str) -> StoreResult<(Facts, Dims)> {
    let d: FactsDoc = serde_json::from_str(doc).map_err(|e| crate::StoreError::Backend(format!("facts: {e}")))?;
    Ok((d.facts, d.dims))
}

/// The columns kept beside the facts: first owner, resolver (0: none), and
/// the first and last day they count on.
pub fn facts_columns(f: &KeptFacts) -> (i64, i64, NaiveDate, NaiveDate) {
    let c = kefu_domain::rollup::contributions(&f.facts, &f.dims);
    let created = kefu_domain::time::shanghai_date(f.dims.created_at);
    let (from, to) = kefu_domain::kpi::days_of(&c).unwrap_or((created, created));
    (f.dims.first_owner.0, f.facts.resolver.map_or(0, |r| r.0), from, to)
}
