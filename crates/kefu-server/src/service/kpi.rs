//! KPI reports: any metric of the dictionary for any period,
//! grouped by a dimension or by time, read from the rollup cells (or, for
//! the backlog, from the open tickets), with the tickets counted beside
//! each figure. Who may read what: supervisors, inspectors and admins
//! everything, a team lead their teams, everyone else their own figures.

use super::*;
use crate::error::ApiError;
use chrono::{Duration, NaiveDate};
use kefu_domain::flow::Actor;
use kefu_domain::kpi::{Cuboid, Dim, Figure, Grain, GroupBy, Level, Sums, evaluate, plan, scopes};
use kefu_domain::metrics::{Formula, Metric, Period, Target, Unit};
use kefu_domain::{FieldError, Role, TeamId};
use kefu_store::*;
use std::collections::BTreeMap;

/// What a report asks for.
#[derive(Debug, Clone)]
pub struct KpiRequest {
    pub metric: String,
    pub group_by: GroupBy,
    /// Shanghai days, both inclusive.
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub filter: DimFilter,
}

/// One figure of a report.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct KpiItem {
    /// The group: a team or user id, a channel …, a day/week/month/quarter; `all` ungrouped.
    pub key: String,
    pub label: String,
    pub label_en: String,
    /// In the metric's unit (a share as a fraction, hours for a duration); null when nothing counted.
    pub value: Option<f64>,
    /// The tickets (or deadlines, ratings) the figure counts.
    pub n: i64,
    /// A duration in natural time (hours).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub natural: Option<f64>,
    /// A duration in working-day time (hours).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working: Option<f64>,
    /// The backlog by age: tickets per bucket of `[reports] backlog_age_days`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buckets: Option<Vec<i64>>,
    /// Whether the value meets the target (when there is one and a value).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub met: Option<bool>,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct KpiReport {
    pub metric: String,
    pub name_zh: String,
    pub name_en: String,
    #[schema(value_type = String)]
    pub unit: Unit,
    pub unit_zh: String,
    pub definition_zh: String,
    pub group_by: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub target: Option<Target>,
    /// Labels of the backlog age buckets (backlog_age only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_labels: Option<Vec<String>>,
    pub items: Vec<KpiItem>,
}

fn invalid(field: &str, en: String, zh: String) -> ApiError {
    FieldError::new(field, en, zh).into()
}

/// Sees every figure.
fn sees_all(role: Role) -> bool {
    matches!(role, Role::Supervisor | Role::Inspector | Role::Admin)
}

impl<S: Store> Kefu<S> {
    /// The filter narrowed to what `who` may see: their own figures, their
    /// teams' for a lead, everything for supervisors, inspectors, admins.
    pub async fn kpi_scope(&self, who: &Actor, mut f: DimFilter) -> Result<DimFilter, ApiError> {
        if sees_all(who.role) {
            return Ok(f);
        }
        let leads = &who.org.leads;
        let refuse = || ApiError::Forbidden {
            reason: "you may read your own figures and your teams' only".into(),
            reason_zh: "只能查看本人或本人所带班组的指标".into(),
        };
        if !leads.is_empty() {
            if let Some(a) = f.agent
                && a != who.id
            {
                let org = self.org().await?;
                let team = org.user(a).and_then(|u| u.profile.team);
                if !team.is_some_and(|t| leads.contains(&t)) {
                    return Err(refuse());
                }
                f.team = f.team.or(team);
            }
            match f.team {
                Some(t) if leads.contains(&t) => return Ok(f),
                Some(_) => return Err(refuse()),
                None if f.agent == Some(who.id) => return Ok(f),
                None if leads.len() == 1 => return Ok(DimFilter { team: Some(leads[0]), ..f }),
                None => {
                    return Err(invalid(
                        "team",
                        "name one of the teams you lead".into(),
                        "请指定您所带的一个班组".into(),
                    ));
                }
            }
        }
        match f.agent {
            Some(a) if a != who.id => Err(refuse()),
            _ => Ok(DimFilter { agent: Some(who.id), ..f }),
        }
    }

    /// A report of one metric (`on_time_rate.<kind>` for one deadline kind).
    pub async fn kpi_report(&self, req: KpiRequest) -> Result<KpiReport, ApiError> {
        let (base, kind) = match req.metric.split_once('.') {
            Some((b, k)) => (b, Some(k)),
            None => (req.metric.as_str(), None),
        };
        let unknown = || {
            invalid(
                "metric",
                format!("unknown metric '{}'; GET /api/v1/reports/metrics lists them", req.metric),
                format!("未知的指标“{}”，可用指标见 GET /api/v1/reports/metrics", req.metric),
            )
        };
        let metric = self.core.settings.metrics.get(base).ok_or_else(unknown)?.clone();
        if let Some(k) = kind
            && (!matches!(metric.formula, Formula::OnTime)
                || !self.core.policy.sla.kinds().iter().any(|(x, _)| *x == k))
        {
            return Err(unknown());
        }
        if req.to < req.from {
            return Err(invalid("to", "to is before from".into(), "结束日期早于开始日期".into()));
        }
        if req.to - req.from > Duration::days(3 * 366) {
            return Err(invalid("to", "a report covers at most three years".into(), "报表跨度最长三年".into()));
        }
        let policy = &self.core.policy;
        let mut items = if metric.period == Period::Now {
            self.backlog_items(&metric, &req).await?
        } else {
            let groups = self.summed_cells(&metric, kind, &req).await?;
            // Counted only when a rate is per customer (a full count of the table).
            let per_customer = policy.reports.complaint_base == kefu_domain::metrics::ComplaintBase::Customers;
            let customers = match metric.formula {
                Formula::Rate { .. } if per_customer => self.store.customer_count().await?,
                _ => 0,
            };
            groups
                .into_iter()
                .map(|(key, sums)| (key, evaluate(&metric, kind, &sums, policy, customers), None))
                .map(|(key, f, buckets): (String, Figure, Option<Vec<i64>>)| item(key, f, buckets))
                .collect()
        };
        self.label(&mut items, req.group_by).await?;
        let target = metric.target.as_deref().and_then(|t| policy.target(t));
        for i in &mut items {
            i.met = target.zip(i.value).map(|(t, v)| t.met(v));
        }
        if !req.group_by.by_time() {
            items.sort_by(|a, b| b.n.cmp(&a.n).then_with(|| a.label.cmp(&b.label)));
        }
        let buckets = matches!(metric.formula, Formula::Buckets { .. })
            .then(|| policy.reports.bucket_labels().into_iter().map(|(zh, _)| zh).collect());
        Ok(KpiReport {
            metric: req.metric.clone(),
            name_zh: metric.name_zh.clone(),
            name_en: metric.name_en.clone(),
            unit: metric.unit,
            unit_zh: metric.unit.label_zh().to_string(),
            definition_zh: metric.definition_zh.clone(),
            group_by: group_name(req.group_by).to_string(),
            from: req.from,
            to: req.to,
            target,
            bucket_labels: buckets,
            items,
        })
    }

    /// The cells of the period summed per group, read at the smallest grain
    /// that holds the grouping and the filters.
    async fn summed_cells(
        &self,
        metric: &Metric,
        kind: Option<&str>,
        req: &KpiRequest,
    ) -> Result<BTreeMap<String, Sums>, ApiError> {
        let mut needed = req.filter.dims();
        needed.extend(req.group_by.dim());
        let mut groups: BTreeMap<String, Sums> = BTreeMap::new();
        if req.group_by.by_time() {
            // Every period of the range, those with nothing counted too.
            let mut day = req.from;
            while day <= req.to {
                groups.entry(req.group_by.period_of(day)).or_default();
                day += Duration::days(1);
            }
        }
        let Some(cuboid) = Cuboid::holding(&needed) else {
            self.sum_facts(metric, req, &mut groups).await?;
            return Ok(groups);
        };
        // Days and weeks do not fall on month boundaries: read day cells.
        let ranges = if matches!(req.group_by, GroupBy::Day | GroupBy::Week) {
            vec![(Level::Day, req.from, req.to)]
        } else {
            plan(req.from, req.to)
        };
        let kinds = self.core.policy.sla.kinds();
        let kinds: Vec<&str> = kinds.iter().map(|(k, _)| *k).collect();
        let measures = kefu_domain::kpi::measures(metric, kind, &kinds);
        for (level, from, to) in ranges {
            let q = CellQuery {
                grain: Grain { cuboid, level }.code(),
                from,
                to,
                scopes: scopes(metric),
                measures: measures.clone(),
                group: req.group_by.dim(),
                by_day: req.group_by.by_time(),
                filter: req.filter.clone(),
            };
            for row in self.store.kpi_cells(q).await? {
                let key = match row.day {
                    Some(day) => req.group_by.period_of(day),
                    None if req.group_by == GroupBy::All => "all".to_string(),
                    None => row.group.clone(),
                };
                groups.entry(key).or_default().add(row.basis, &row.measure, &row.cell);
            }
        }
        Ok(groups)
    }

    /// A person crossed with categories, which no grain keeps: the kept
    /// facts counting in the period (that person's, when the filter names
    /// one), summed as the cells would be.
    async fn sum_facts(
        &self,
        metric: &Metric,
        req: &KpiRequest,
        groups: &mut BTreeMap<String, Sums>,
    ) -> Result<(), ApiError> {
        let scopes = scopes(metric);
        for f in self.store.facts_between(req.from, req.to, req.filter.agent).await? {
            for (key, cell) in kefu_domain::rollup::contributions(&f.facts, &f.dims) {
                if key.day < req.from || key.day > req.to || !scopes.contains(&key.scope) || !req.filter.matches(&key) {
                    continue;
                }
                let group = if req.group_by.by_time() {
                    req.group_by.period_of(key.day)
                } else if req.group_by == GroupBy::All {
                    "all".to_string()
                } else {
                    group_of(&key, req.group_by.dim())
                };
                groups.entry(group).or_default().add(key.basis, &key.measure, &cell);
            }
        }
        Ok(())
    }

    /// The open tickets now, per group, counted or by age.
    async fn backlog_items(&self, metric: &Metric, req: &KpiRequest) -> Result<Vec<KpiItem>, ApiError> {
        if req.group_by.by_time() {
            return Err(invalid(
                "group_by",
                "the backlog is a count of open tickets now: group it by agent, team, channel, type or priority".into(),
                "积压是当前未结工单数，请按坐席、班组、渠道、类型或优先级分组".into(),
            ));
        }
        let now = self.now();
        let r = &self.core.policy.reports;
        let cutoffs = r.backlog_age_days.iter().map(|d| now - Duration::days(i64::from(*d))).collect();
        let q = BacklogQuery { group: req.group_by.dim(), filter: req.filter.clone(), buckets: cutoffs };
        let mut groups: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for (group, bucket, n) in self.store.backlog(q).await? {
            let key = if req.group_by == GroupBy::All { "all".to_string() } else { group };
            let b = groups.entry(key).or_insert_with(|| vec![0; r.backlog_age_days.len() + 1]);
            if let Some(slot) = b.get_mut(bucket) {
                *slot += n;
            }
        }
        let with_buckets = matches!(metric.formula, Formula::Buckets { .. });
        Ok(groups
            .into_iter()
            .map(|(key, b)| {
                let n: i64 = b.iter().sum();
                let f = Figure { value: Some(n as f64), n, ..Figure::default() };
                item(key, f, with_buckets.then_some(b))
            })
            .collect())
    }

    /// Names each group for a person: a team's or user's name, a label.
    async fn label(&self, items: &mut [KpiItem], group_by: GroupBy) -> Result<(), ApiError> {
        let org = self.org().await?;
        let users: std::collections::HashMap<i64, &User> = org.users.iter().map(|u| (u.id.0, u)).collect();
        for i in items {
            let (zh, en) = match group_by.dim() {
                _ if i.key.is_empty() => ("（无）".to_string(), "(none)".to_string()),
                Some(Dim::Team) => {
                    let name = i.key.parse().ok().and_then(|id| org.team(TeamId(id))).map(|t| t.name.clone());
                    let name = name.unwrap_or_else(|| format!("#{}", i.key));
                    (name.clone(), name)
                }
                Some(Dim::Agent) => {
                    let u = i.key.parse::<i64>().ok().and_then(|id| users.get(&id));
                    let name =
                        u.map_or_else(|| format!("#{}", i.key), |u| format!("{} ({})", u.display_name, u.username));
                    (name.clone(), name)
                }
                Some(Dim::Channel) => vocabulary(&i.key, kefu_domain::Channel::ALL, |c| (c.as_str(), c.label_zh())),
                Some(Dim::Type) => vocabulary(&i.key, kefu_domain::TicketType::ALL, |c| (c.as_str(), c.label_zh())),
                Some(Dim::Priority) => vocabulary(&i.key, kefu_domain::Priority::ALL, |c| (c.as_str(), c.label_zh())),
                None if group_by == GroupBy::All => ("合计".to_string(), "All".to_string()),
                None => (i.key.clone(), i.key.clone()),
            };
            (i.label, i.label_en) = (zh, en);
        }
        Ok(())
    }
}

fn vocabulary<T: Copy>(key: &str, all: &[T], words: impl Fn(T) -> (&'static str, &'static str)) -> (String, String) {
    match all.iter().map(|v| words(*v)).find(|(api, _)| *api == key) {
        Some((api, zh)) => (zh.to_string(), english(api)),
        None => (key.to_string(), key.to_string()),
    }
}

/// An API word as English words: `value_added` → `Value added`.
fn english(api: &str) -> String {
    let s = api.replace('_', " ");
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| f.to_uppercase().collect::<String>() + c.as_str())
}

fn item(key: String, f: Figure, buckets: Option<Vec<i64>>) -> KpiItem {
    KpiItem {
        label: String::new(),
        label_en: String::new(),
        key,
        value: f.value,
        n: f.n,
        natural: f.natural,
        working: f.working,
        buckets,
        met: None,
    }
}

pub fn group_name(g: GroupBy) -> &'static str {
    match g {
        GroupBy::All => "all",
        GroupBy::Team => "team",
        GroupBy::Agent => "agent",
        GroupBy::Channel => "channel",
        GroupBy::Type => "type",
        GroupBy::Priority => "priority",
        GroupBy::Day => "day",
        GroupBy::Week => "week",
        GroupBy::Month => "month",
        GroupBy::Quarter => "quarter",
    }
}
