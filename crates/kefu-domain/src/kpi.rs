//! Reading the KPIs back from the rollup cells: which cells a
//! report reads, and how a metric of the dictionary turns summed cells
//! into its figure. The same code serves the screen, the API, exports and
//! scheduled reports, so a figure is computed one way everywhere.
//!
//! Cells are kept at several grains: each a subset of the dimensions
//! (a cuboid) at day or month resolution. A report reads the smallest
//! cuboid holding its grouping and filters, months from the month cells
//! and the odd days at either end from the day cells, so a quarter reads
//! a few thousand rows however many tickets it covers.

use crate::metrics::{ComplaintBase, Fact, Formula, Metric, Unit};
use crate::policy::Policy;
use crate::rollup::{Basis, Cell, Key, Scope};
use chrono::{Datelike, Duration, NaiveDate};
use std::collections::BTreeMap;

/// A dimension a report groups or filters by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dim {
    Team,
    Agent,
    Channel,
    Type,
    Priority,
}

/// A subset of the dimensions the cells are kept at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cuboid {
    Total,
    Teams,
    Categories,
    People,
    TeamCategories,
}

impl Cuboid {
    /// Smallest first: a report reads the first one that holds its
    /// dimensions. A person crossed with categories is not kept (at a
    /// provincial operator's size it would hold a row per ticket and
    /// measure): such a report reads that person's kept facts instead.
    pub const ALL: [Cuboid; 5] =
        [Cuboid::Total, Cuboid::Teams, Cuboid::Categories, Cuboid::People, Cuboid::TeamCategories];

    pub fn dims(self) -> &'static [Dim] {
        match self {
            Cuboid::Total => &[],
            Cuboid::Teams => &[Dim::Team],
            Cuboid::Categories => &[Dim::Channel, Dim::Type, Dim::Priority],
            Cuboid::People => &[Dim::Team, Dim::Agent],
            Cuboid::TeamCategories => &[Dim::Team, Dim::Channel, Dim::Type, Dim::Priority],
        }
    }

    /// The smallest cuboid holding every dimension of `needed`, if any.
    pub fn holding(needed: &[Dim]) -> Option<Cuboid> {
        Cuboid::ALL.into_iter().find(|c| needed.iter().all(|d| c.dims().contains(d)))
    }
}

/// The time resolution of a grain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    Day,
    Month,
}

/// Where a cell is kept: cuboid and level, stored as one small number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Grain {
    pub cuboid: Cuboid,
    pub level: Level,
}

impl Grain {
    pub fn all() -> impl Iterator<Item = Grain> {
        Cuboid::ALL
            .into_iter()
            .flat_map(|cuboid| [Level::Day, Level::Month].into_iter().map(move |level| Grain { cuboid, level }))
    }

    pub fn code(self) -> i16 {
        self.cuboid as i16 * 2 + self.level as i16
    }

    /// `key` as kept at this grain: the dimensions the cuboid leaves out
    /// blank, the day the first of its month at month level.
    pub fn project(self, key: &Key) -> Key {
        let dims = self.cuboid.dims();
        let has = |d| dims.contains(&d);
        Key {
            day: match self.level {
                Level::Day => key.day,
                Level::Month => month_start(key.day),
            },
            basis: key.basis,
            scope: key.scope,
            team: key.team.filter(|_| has(Dim::Team)),
            agent: key.agent.filter(|_| has(Dim::Agent)),
            channel: if has(Dim::Channel) { key.channel } else { crate::Channel::ALL[0] },
            ticket_type: if has(Dim::Type) { key.ticket_type } else { crate::TicketType::ALL[0] },
            priority: if has(Dim::Priority) { key.priority } else { crate::Priority::ALL[0] },
            measure: key.measure.clone(),
        }
    }
}

/// The cells kept for a change of the per-ticket cells `delta`, at every grain.
pub fn at_every_grain(delta: &BTreeMap<Key, Cell>) -> BTreeMap<(i16, Key), Cell> {
    let mut out: BTreeMap<(i16, Key), Cell> = BTreeMap::new();
    for (k, c) in delta {
        for g in Grain::all() {
            out.entry((g.code(), g.project(k))).or_default().add(c, 1);
        }
    }
    out.retain(|_, c| !c.is_zero());
    out
}

/// The first and last day a ticket's facts count on (for reading a
/// person's facts over a period).
pub fn days_of(contributions: &[(Key, Cell)]) -> Option<(NaiveDate, NaiveDate)> {
    let first = contributions.iter().map(|(k, _)| k.day).min()?;
    let last = contributions.iter().map(|(k, _)| k.day).max()?;
    Some((first, last))
}

pub fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

fn next_month(day: NaiveDate) -> NaiveDate {
    let d = month_start(day);
    if d.month() == 12 {
        NaiveDate::from_ymd_opt(d.year() + 1, 1, 1).unwrap_or(d)
    } else {
        NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1).unwrap_or(d)
    }
}

/// The days `from..=to` as ranges to read: whole months from the month
/// cells, the days before the first and after the last whole month from
/// the day cells. Each range is `(level, first, last)`, inclusive.
pub fn plan(from: NaiveDate, to: NaiveDate) -> Vec<(Level, NaiveDate, NaiveDate)> {
    let mut out = Vec::new();
    if to < from {
        return out;
    }
    let first_whole = if month_start(from) == from { from } else { next_month(from) };
    let after_last = if next_month(to) - Duration::days(1) == to { next_month(to) } else { month_start(to) };
    if first_whole >= after_last {
        out.push((Level::Day, from, to));
        return out;
    }
    if from < first_whole {
        out.push((Level::Day, from, first_whole - Duration::days(1)));
    }
    out.push((Level::Month, first_whole, after_last - Duration::days(1)));
    if after_last <= to {
        out.push((Level::Day, after_last, to));
    }
    out
}

/// How often a scheduled report goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frequency {
    Daily,
    Weekly,
    Monthly,
}

impl Frequency {
    pub fn parse(s: &str) -> Option<Frequency> {
        match s {
            "daily" => Some(Frequency::Daily),
            "weekly" => Some(Frequency::Weekly),
            "monthly" => Some(Frequency::Monthly),
            _ => None,
        }
    }

    fn runs_on(self, day: NaiveDate) -> bool {
        match self {
            Frequency::Daily => true,
            Frequency::Weekly => day.weekday() == chrono::Weekday::Mon,
            Frequency::Monthly => day.day() == 1,
        }
    }

    /// The first run after `after`: at `hour` Shanghai time each day, each
    /// Monday, or each first of the month.
    pub fn next_run(self, after: chrono::DateTime<chrono::Utc>, hour: u32) -> chrono::DateTime<chrono::Utc> {
        let mut day = crate::time::shanghai_date(after);
        loop {
            let at = crate::time::shanghai_at(day, hour);
            if self.runs_on(day) && at > after {
                return at;
            }
            day += Duration::days(1);
        }
    }

    /// The days a run at `at` reports on: the day before, the week before
    /// (Monday to Sunday), or the month before.
    pub fn period(self, at: chrono::DateTime<chrono::Utc>) -> (NaiveDate, NaiveDate) {
        let today = crate::time::shanghai_date(at);
        let yesterday = today - Duration::days(1);
        match self {
            Frequency::Daily => (yesterday, yesterday),
            Frequency::Weekly => {
                let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
                (monday - Duration::days(7), monday - Duration::days(1))
            }
            Frequency::Monthly => {
                (month_start(month_start(today) - Duration::days(1)), month_start(today) - Duration::days(1))
            }
        }
    }
}

/// How a report groups its figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupBy {
    All,
    Team,
    Agent,
    Channel,
    Type,
    Priority,
    Day,
    Week,
    Month,
    Quarter,
}

impl GroupBy {
    pub const NAMES: [&'static str; 10] =
        ["all", "agent", "team", "channel", "type", "priority", "day", "week", "month", "quarter"];

    pub fn parse(raw: &str) -> Option<GroupBy> {
        Some(match raw {
            "all" | "" => GroupBy::All,
            "agent" => GroupBy::Agent,
            "team" => GroupBy::Team,
            "channel" => GroupBy::Channel,
            "type" => GroupBy::Type,
            "priority" => GroupBy::Priority,
            "day" => GroupBy::Day,
            "week" => GroupBy::Week,
            "month" => GroupBy::Month,
            "quarter" => GroupBy::Quarter,
            _ => return None,
        })
    }

    pub fn dim(self) -> Option<Dim> {
        Some(match self {
            GroupBy::Team => Dim::Team,
            GroupBy::Agent => Dim::Agent,
            GroupBy::Channel => Dim::Channel,
            GroupBy::Type => Dim::Type,
            GroupBy::Priority => Dim::Priority,
            _ => return None,
        })
    }

    /// Grouping by time: the cells must be read at day resolution when a
    /// group is shorter than a month.
    pub fn by_time(self) -> bool {
        matches!(self, GroupBy::Day | GroupBy::Week | GroupBy::Month | GroupBy::Quarter)
    }

    /// The group a day falls in: `2026-11-30`, `2026-W49`, `2026-11`, `2026-Q4`.
    pub fn period_of(self, day: NaiveDate) -> String {
        match self {
            GroupBy::Day => day.to_string(),
            GroupBy::Week => {
                let w = day.iso_week();
                format!("{}-W{:02}", w.year(), w.week())
            }
            GroupBy::Month => format!("{}-{:02}", day.year(), day.month()),
            GroupBy::Quarter => format!("{}-Q{}", day.year(), (day.month() - 1) / 3 + 1),
            _ => String::new(),
        }
    }
}

/// The cells of one group summed, by basis and measure.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sums(pub BTreeMap<(Basis, String), Cell>);

impl Sums {
    pub fn add(&mut self, basis: Basis, measure: &str, c: &Cell) {
        self.0.entry((basis, measure.to_string())).or_default().add(c, 1);
    }

    fn get(&self, basis: Basis, measure: &str) -> Cell {
        self.0.get(&(basis, measure.to_string())).copied().unwrap_or_default()
    }

    /// Tickets with a rating (or recommendation) `prefix:k`, and Σ k·n, for k in `keep`.
    fn scores(&self, prefix: &str, keep: impl Fn(u8) -> bool) -> (i64, f64) {
        let mut n = 0;
        let mut sum = 0.0;
        for ((basis, m), c) in &self.0 {
            let Some(k) = m.strip_prefix(prefix).and_then(|k| k.parse::<u8>().ok()) else { continue };
            if *basis == Basis::Resolved && keep(k) {
                n += c.n;
                sum += f64::from(k) * c.n as f64;
            }
        }
        (n, sum)
    }

    /// How many tickets have `fact`.
    fn count(&self, fact: Fact, policy: &Policy) -> i64 {
        let r = |m: &str| self.get(Basis::Resolved, m).n;
        let c = |m: &str| self.get(Basis::Created, m).n;
        match fact {
            Fact::Registered | Fact::ComplaintBase => c("registered"),
            Fact::Resolved => r("resolved"),
            Fact::ResolvedInLimit => r("resolved_in_limit"),
            Fact::FirstContact => r("first_contact"),
            Fact::OneTouch => r("one_touch"),
            Fact::Reopened => r("reopened"),
            Fact::Appealed => r("appealed"),
            Fact::Visited => r("visited"),
            Fact::Transferred => c("transferred"),
            Fact::Escalated => c("escalated"),
            Fact::Complaint => c("complaint"),
            Fact::Breached => c("breached"),
            Fact::Rated | Fact::Rating => self.scores("rating:", |_| true).0,
            Fact::Satisfied => self.scores("rating:", |k| k >= policy.customer_loop.satisfied_at).0,
            Fact::Recommend => self.scores("recommend:", |_| true).0,
            // Open tickets are read from the tickets, not the cells.
            Fact::Open => 0,
        }
    }
}

/// The measures a metric's figure is computed from (`kind`: one deadline
/// kind of the on-time rate; `deadline_kinds`: the policy's).
pub fn measures(metric: &Metric, kind: Option<&str>, deadline_kinds: &[&str]) -> Vec<String> {
    fn of(fact: Fact) -> Vec<String> {
        let scores =
            |prefix: &str, range: std::ops::RangeInclusive<u8>| range.map(|k| format!("{prefix}{k}")).collect();
        match fact {
            Fact::Registered | Fact::ComplaintBase => vec!["registered".into()],
            Fact::Resolved => vec!["resolved".into()],
            Fact::ResolvedInLimit => vec!["resolved_in_limit".into()],
            Fact::FirstContact => vec!["first_contact".into()],
            Fact::OneTouch => vec!["one_touch".into()],
            Fact::Reopened => vec!["reopened".into()],
            Fact::Appealed => vec!["appealed".into()],
            Fact::Visited => vec!["visited".into()],
            Fact::Transferred => vec!["transferred".into()],
            Fact::Escalated => vec!["escalated".into()],
            Fact::Complaint => vec!["complaint".into()],
            Fact::Breached => vec!["breached".into()],
            Fact::Rated | Fact::Rating | Fact::Satisfied => scores("rating:", 1..=5),
            Fact::Recommend => scores("recommend:", 0..=10),
            Fact::Open => Vec::new(),
        }
    }
    let mut out = match &metric.formula {
        Formula::Duration { .. } => vec![format!("span:{}", metric.key)],
        Formula::Share { numerator, denominator } | Formula::Rate { numerator, denominator, .. } => {
            [of(*numerator), of(*denominator)].concat()
        }
        Formula::OnTime => match kind {
            Some(k) => vec![format!("deadline:{k}")],
            None => deadline_kinds.iter().map(|k| format!("deadline:{k}")).collect(),
        },
        Formula::Average { fact } | Formula::Count { fact } | Formula::Buckets { fact } => of(*fact),
        Formula::Nps { .. } => of(Fact::Recommend),
    };
    out.sort();
    out.dedup();
    out
}

/// Scopes a metric reads: counted tickets, and withdrawn ones if it says so.
pub fn scopes(metric: &Metric) -> Vec<Scope> {
    let mut s = vec![Scope::Counted];
    if metric.counts.withdrawn {
        s.push(Scope::Withdrawn);
    }
    s
}

/// One figure: its value in the metric's unit (a share as a fraction,
/// hours for a duration; None when nothing counted) and the tickets it
/// counts. A duration has both calendars.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Figure {
    pub value: Option<f64>,
    pub n: i64,
    pub natural: Option<f64>,
    pub working: Option<f64>,
}

fn ratio(num: f64, den: i64) -> Option<f64> {
    (den > 0).then(|| num / den as f64)
}

/// The figure of `metric` (with `kind`, a deadline kind for the on-time
/// rate) over `sums`. `customers` is the customer count for a complaint
/// rate per customer.
pub fn evaluate(metric: &Metric, kind: Option<&str>, sums: &Sums, policy: &Policy, customers: i64) -> Figure {
    let count = |f| sums.count(f, policy);
    match &metric.formula {
        Formula::Duration { calendar, .. } => {
            let c = sums.get(metric_basis(metric), &format!("span:{}", metric.key));
            let natural = ratio(c.sum / 3600.0, c.n);
            let working = ratio(c.sum_working / 3600.0, c.n);
            let value = match calendar {
                crate::metrics::CalendarKind::Natural => natural,
                crate::metrics::CalendarKind::Working => working,
            };
            Figure { value, n: c.n, natural, working }
        }
        Formula::Share { numerator, denominator } => {
            let den = count(*denominator);
            Figure { value: ratio(count(*numerator) as f64, den), n: den, ..Figure::default() }
        }
        Formula::OnTime => {
            let mut c = Cell::default();
            for ((basis, m), cell) in &sums.0 {
                let Some(k) = m.strip_prefix("deadline:") else { continue };
                if *basis == Basis::Resolved && kind.is_none_or(|want| want == k) {
                    c.add(cell, 1);
                }
            }
            Figure { value: ratio(c.sum, c.n), n: c.n, ..Figure::default() }
        }
        Formula::Average { fact } => {
            let prefix = if *fact == Fact::Recommend { "recommend:" } else { "rating:" };
            let (n, sum) = sums.scores(prefix, |_| true);
            Figure { value: ratio(sum, n), n, ..Figure::default() }
        }
        Formula::Nps { .. } => {
            let r = &policy.reports;
            let (n, _) = sums.scores("recommend:", |_| true);
            let (promoters, _) = sums.scores("recommend:", |k| k >= r.nps_promoter_from);
            let (detractors, _) = sums.scores("recommend:", |k| k <= r.nps_detractor_to);
            Figure { value: ratio(100.0 * (promoters - detractors) as f64, n), n, ..Figure::default() }
        }
        Formula::Rate { numerator, denominator, per } => {
            let den =
                if *denominator == Fact::ComplaintBase && policy.reports.complaint_base == ComplaintBase::Customers {
                    customers
                } else {
                    count(*denominator)
                };
            // A percentage is a fraction like every share; other units are per `per`.
            let scale = if metric.unit == Unit::Percent { 1.0 } else { f64::from(*per) };
            Figure { value: ratio(scale * count(*numerator) as f64, den), n: den, ..Figure::default() }
        }
        Formula::Count { fact } => {
            let n = count(*fact);
            Figure { value: Some(n as f64), n, ..Figure::default() }
        }
        // Open tickets: counted from the tickets (see the reports service).
        Formula::Buckets { .. } => Figure::default(),
    }
}

/// The basis a metric's figures are read under.
pub fn metric_basis(metric: &Metric) -> Basis {
    match metric.period {
        crate::metrics::Period::Created => Basis::Created,
        _ => Basis::Resolved,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Dictionary;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_period_reads_whole_months_from_month_cells_and_the_ends_from_day_cells() {
        assert_eq!(plan(d("2026-10-01"), d("2026-12-31")), vec![(Level::Month, d("2026-10-01"), d("2026-12-31"))]);
        assert_eq!(
            plan(d("2026-10-15"), d("2026-12-03")),
            vec![
                (Level::Day, d("2026-10-15"), d("2026-10-31")),
                (Level::Month, d("2026-11-01"), d("2026-11-30")),
                (Level::Day, d("2026-12-01"), d("2026-12-03")),
            ]
        );
        assert_eq!(plan(d("2026-11-03"), d("2026-11-09")), vec![(Level::Day, d("2026-11-03"), d("2026-11-09"))]);
        assert_eq!(plan(d("2026-12-01"), d("2027-01-31")), vec![(Level::Month, d("2026-12-01"), d("2027-01-31"))]);
        assert!(plan(d("2026-12-02"), d("2026-12-01")).is_empty());
    }

    #[test]
    fn a_report_reads_the_smallest_cuboid_holding_its_dimensions() {
        assert_eq!(Cuboid::holding(&[]), Some(Cuboid::Total));
        assert_eq!(Cuboid::holding(&[Dim::Team]), Some(Cuboid::Teams));
        assert_eq!(Cuboid::holding(&[Dim::Channel]), Some(Cuboid::Categories));
        assert_eq!(Cuboid::holding(&[Dim::Agent]), Some(Cuboid::People));
        assert_eq!(Cuboid::holding(&[Dim::Team, Dim::Type]), Some(Cuboid::TeamCategories));
        assert_eq!(Cuboid::holding(&[Dim::Agent, Dim::Priority]), None);
        let codes: std::collections::HashSet<i16> = Grain::all().map(|g| g.code()).collect();
        assert_eq!(codes.len(), 10);
    }

    #[test]
    fn schedules_run_at_the_hour_on_their_day_and_report_the_period_before() {
        let utc = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
        // Tuesday 1 December 2026, 09:30 in Shanghai.
        let now = utc("2026-12-01T01:30:00Z");
        assert_eq!(Frequency::Daily.next_run(now, 8), utc("2026-12-02T00:00:00Z"));
        assert_eq!(Frequency::Daily.next_run(now, 10), utc("2026-12-01T02:00:00Z"));
        assert_eq!(Frequency::Weekly.next_run(now, 8), utc("2026-12-07T00:00:00Z"));
        assert_eq!(Frequency::Monthly.next_run(now, 8), utc("2027-01-01T00:00:00Z"));
        // A run is never the instant it was due again.
        let at = utc("2026-12-07T00:00:00Z");
        assert_eq!(Frequency::Weekly.next_run(at, 8), utc("2026-12-14T00:00:00Z"));
        assert_eq!(Frequency::Daily.period(at), (d("2026-12-06"), d("2026-12-06")));
        assert_eq!(Frequency::Weekly.period(at), (d("2026-11-30"), d("2026-12-06")));
        assert_eq!(Frequency::Monthly.period(utc("2027-01-01T00:00:00Z")), (d("2026-12-01"), d("2026-12-31")));
    }

    #[test]
    fn time_groups_are_named_by_iso_week_month_and_quarter() {
        assert_eq!(GroupBy::Week.period_of(d("2026-11-30")), "2026-W49");
        assert_eq!(GroupBy::Week.period_of(d("2027-01-01")), "2026-W53");
        assert_eq!(GroupBy::Month.period_of(d("2026-11-30")), "2026-11");
        assert_eq!(GroupBy::Quarter.period_of(d("2026-11-30")), "2026-Q4");
        assert_eq!(GroupBy::Quarter.period_of(d("2026-01-01")), "2026-Q1");
    }

    fn sums(entries: &[(Basis, &str, i64, f64, f64)]) -> Sums {
        let mut s = Sums::default();
        for (b, m, n, sum, w) in entries {
            s.add(*b, m, &Cell { n: *n, sum: *sum, sum_working: *w });
        }
        s
    }

    #[test]
    fn each_formula_turns_summed_cells_into_its_figure() {
        let p = Policy::defaults();
        let dict = Dictionary::shipped();
        let m = |k: &str| dict.get(k).unwrap();
        let (r, c) = (Basis::Resolved, Basis::Created);
        let s = sums(&[
            (c, "registered", 200, 0.0, 0.0),
            (c, "transferred", 20, 0.0, 0.0),
            (c, "complaint", 1, 0.0, 0.0),
            (c, "breached", 7, 0.0, 0.0),
            (r, "resolved", 100, 0.0, 0.0),
            (r, "resolved_in_limit", 96, 0.0, 0.0),
            (r, "first_contact", 81, 0.0, 0.0),
            (r, "span:resolution_time", 100, 100.0 * 7200.0, 100.0 * 3600.0),
            (r, "rating:5", 6, 0.0, 0.0),
            (r, "rating:4", 2, 0.0, 0.0),
            (r, "rating:2", 2, 0.0, 0.0),
            (r, "recommend:10", 5, 0.0, 0.0),
            (r, "recommend:8", 3, 0.0, 0.0),
            (r, "recommend:3", 2, 0.0, 0.0),
            (r, "deadline:response", 10, 9.0, 0.0),
            (r, "deadline:resolution", 10, 7.0, 0.0),
        ]);
        let f = |k: &str| evaluate(m(k), None, &s, &p, 0);
        assert_eq!((f("resolved_in_limit_rate").value, f("resolved_in_limit_rate").n), (Some(0.96), 100));
        assert_eq!(f("first_contact_resolution").value, Some(0.81));
        assert_eq!(f("transfer_rate").value, Some(0.1));
        let rt = f("resolution_time");
        assert_eq!((rt.value, rt.natural, rt.working, rt.n), (Some(2.0), Some(2.0), Some(1.0), 100));
        assert_eq!(f("satisfaction_rate").value, Some(0.8));
        assert_eq!(f("satisfaction_average").value, Some((30.0 + 8.0 + 4.0) / 10.0));
        assert_eq!(f("nps").value, Some(30.0));
        assert_eq!(f("complaint_rate").value, Some(0.005));
        assert_eq!(f("breaches").value, Some(7.0));
        assert_eq!(f("on_time_rate").value, Some(0.8));
        assert_eq!(evaluate(m("on_time_rate"), Some("response"), &s, &p, 0).value, Some(0.9));
        // Nothing counted: no figure rather than zero.
        assert_eq!(f("handling_time").value, None);
        assert_eq!(f("visit_coverage").value, Some(0.0));
        // Per customer when the policy says so.
        let mut p2 = p.clone();
        p2.reports.complaint_base = ComplaintBase::Customers;
        assert_eq!(evaluate(m("complaint_rate"), None, &s, &p2, 1000).value, Some(0.001));
    }
}
