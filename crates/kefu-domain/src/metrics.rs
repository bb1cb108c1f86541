//! The metric dictionary (R-13, R-30, R-34): each KPI defined once, as
//! data (`metrics/default.toml`, operator entries replacing shipped ones
//! by key), so a supervisor can read what a number means and every screen,
//! export and scheduled report computes it the same way. The facts a
//! formula names are recorded per ticket when they happen; the reports
//! policy holds the thresholds and targets.

use crate::policy::Policy;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const SHIPPED: &str = include_str!("../metrics/default.toml");

/// Moments of a ticket's life a duration runs between.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Registered,
    /// The handler starts work, a customer-visible reply, or the
    /// resolution, whichever comes first (automatic dispatch is not one).
    FirstResponse,
    /// The last resolution (a reopened ticket's counts).
    Resolved,
    /// The result notice reached the customer.
    Notified,
    Confirmed,
    Visited,
}

/// What is known of each ticket, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fact {
    Registered,
    Resolved,
    /// Resolved within `[reports] resolution_limit_hours` of registration.
    ResolvedInLimit,
    FirstContact,
    OneTouch,
    Transferred,
    Escalated,
    Reopened,
    Appealed,
    Visited,
    /// Has a satisfaction rating.
    Rated,
    /// Rated at or above `[customer_loop] satisfied_at`.
    Satisfied,
    /// The satisfaction rating (1–5).
    Rating,
    /// The likelihood to recommend (0–10).
    Recommend,
    /// A complaint ticket.
    Complaint,
    /// Tickets or customers, as `[reports] complaint_base` says.
    ComplaintBase,
    /// Not resolved yet.
    Open,
    /// At least one deadline breached.
    Breached,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalendarKind {
    /// Working-day time on the official calendar.
    Working,
    Natural,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Formula {
    Duration { start: Event, stop: Event, pauses: Vec<String>, calendar: CalendarKind },
    Share { numerator: Fact, denominator: Fact },
    OnTime,
    Average { fact: Fact },
    Nps { fact: Fact },
    Rate { numerator: Fact, denominator: Fact, per: u32 },
    Count { fact: Fact },
    Buckets { fact: Fact },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Hours,
    Percent,
    Score,
    Points,
    Count,
}

impl Unit {
    pub fn label_zh(self) -> &'static str {
        match self {
            Unit::Hours => "小时",
            Unit::Percent => "%",
            Unit::Score => "分（1–5）",
            Unit::Points => "百分点",
            Unit::Count => "件",
        }
    }

    /// A figure worded in this unit: "93.5%", "2.3 小时" / "2.3 h", "4.20", "12".
    pub fn worded(self, v: Option<f64>, zh: bool) -> String {
        let Some(v) = v else { return "—".to_string() };
        match self {
            Unit::Percent => format!("{:.1}%", v * 100.0),
            Unit::Hours => format!("{v:.1} {}", if zh { "小时" } else { "h" }),
            Unit::Score => format!("{v:.2}"),
            Unit::Points => format!("{v:.1}"),
            Unit::Count => format!("{v:.0}"),
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Unit::Hours => "hours",
            Unit::Percent => "%",
            Unit::Score => "points of 5",
            Unit::Points => "points",
            Unit::Count => "tickets",
        }
    }
}

/// The day a ticket's figure is attributed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Created,
    Resolved,
    /// The open tickets now.
    Now,
}

/// Which tickets a figure includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Counts {
    pub withdrawn: bool,
    pub test: bool,
    pub incident_children: bool,
}

impl Default for Counts {
    fn default() -> Self {
        Counts { withdrawn: false, test: false, incident_children: true }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    pub key: String,
    pub name_zh: String,
    pub name_en: String,
    pub unit: Unit,
    pub definition_zh: String,
    pub definition_en: String,
    pub formula: Formula,
    pub period: Period,
    #[serde(default)]
    pub counts: Counts,
    /// A key of the policy's targets (see `Policy::target`).
    #[serde(default)]
    pub target: Option<String>,
}

/// Whether more or less is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    Higher,
    Lower,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// In the metric's unit (a share as a fraction: 0.95).
    pub value: f64,
    pub better: Better,
}

impl Target {
    pub fn met(&self, value: f64) -> bool {
        match self.better {
            Better::Higher => value >= self.value,
            Better::Lower => value <= self.value,
        }
    }
}

/// What the denominator of the complaint rate counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComplaintBase {
    Tickets,
    Customers,
}

/// Thresholds of the reports (`[reports]` in the policy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportsPolicy {
    /// "Resolved within" this many natural hours of registration (R-30: 24).
    pub resolution_limit_hours: u32,
    /// A contact from the same customer about the same type within this
    /// many days of a resolution undoes its first-contact resolution.
    pub repeat_contact_days: u32,
    /// Upper bounds (days) of the backlog age buckets, ascending; the last
    /// bucket holds the older ones.
    pub backlog_age_days: Vec<u32>,
    /// Likelihood to recommend at or above this: a promoter.
    pub nps_promoter_from: u8,
    /// At or below this: a detractor.
    pub nps_detractor_to: u8,
    pub complaint_base: ComplaintBase,
    /// How often the rollup job reads the ticket change feed: a change
    /// shows in the reports within about this many seconds.
    pub catch_up_seconds: u64,
    /// Scheduled reports go out at this hour (Shanghai time).
    pub schedule_hour: u32,
    /// Targets by key (the metric dictionary's `target`).
    pub targets: BTreeMap<String, Target>,
}

impl Default for ReportsPolicy {
    fn default() -> Self {
        ReportsPolicy {
            resolution_limit_hours: 24,
            repeat_contact_days: 7,
            backlog_age_days: vec![1, 3, 7, 15, 30],
            nps_promoter_from: 9,
            nps_detractor_to: 6,
            complaint_base: ComplaintBase::Tickets,
            catch_up_seconds: 5,
            schedule_hour: 8,
            targets: shipped_targets(),
        }
    }
}

/// The shipped policy's targets: a policy file without `[reports.targets]`
/// keeps them (the shipped metrics name them).
fn shipped_targets() -> BTreeMap<String, Target> {
    #[derive(Deserialize)]
    struct Shipped {
        reports: Targets,
    }
    #[derive(Deserialize)]
    struct Targets {
        targets: BTreeMap<String, Target>,
    }
    let s: Shipped = toml::from_str(crate::policy::DEFAULT_POLICY).expect("the shipped policy has [reports.targets]");
    s.reports.targets
}

impl ReportsPolicy {
    pub fn check(&self) -> Result<(), String> {
        if self.schedule_hour > 23 {
            return Err("reports.schedule_hour must be 0 to 23".into());
        }
        if self.catch_up_seconds == 0 {
            return Err("reports.catch_up_seconds must be at least 1".into());
        }
        if self.resolution_limit_hours == 0 {
            return Err("reports.resolution_limit_hours must be at least 1".into());
        }
        if self.backlog_age_days.is_empty() || self.backlog_age_days.windows(2).any(|w| w[0] >= w[1]) {
            return Err("reports.backlog_age_days must be ascending and not empty".into());
        }
        if self.nps_promoter_from > 10 || self.nps_detractor_to >= self.nps_promoter_from {
            return Err("reports: nps_detractor_to < nps_promoter_from <= 10".into());
        }
        for (key, t) in &self.targets {
            if !t.value.is_finite() || t.value < 0.0 {
                return Err(format!("reports.targets.{key}: value must be a number ≥ 0"));
            }
        }
        Ok(())
    }

    /// Labels of the backlog age buckets, e.g. "≤1天", "1–3天", ">30天".
    pub fn bucket_labels(&self) -> Vec<(String, String)> {
        let days = &self.backlog_age_days;
        let mut out = Vec::with_capacity(days.len() + 1);
        for (i, d) in days.iter().enumerate() {
            match i {
                0 => out.push((format!("≤{d}天"), format!("≤ {d} d"))),
                _ => out.push((format!("{}–{d}天", days[i - 1]), format!("{}–{d} d", days[i - 1]))),
            }
        }
        let last = days.last().copied().unwrap_or_default();
        out.push((format!(">{last}天"), format!("> {last} d")));
        out
    }

    /// The bucket of a ticket open for `age_days` (fractional days).
    pub fn bucket_of(&self, age_days: f64) -> usize {
        self.backlog_age_days.iter().position(|d| age_days <= f64::from(*d)).unwrap_or(self.backlog_age_days.len())
    }
}

/// The dictionary: the shipped metrics with an operator's entries on top,
/// in the shipped order (new keys after).
#[derive(Debug, Clone, PartialEq)]
pub struct Dictionary {
    pub metrics: Vec<Metric>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    metrics: Vec<Metric>,
}

impl Dictionary {
    pub fn shipped() -> Dictionary {
        let f: File = toml::from_str(SHIPPED).expect("the shipped metric dictionary is valid");
        Dictionary { metrics: f.metrics }
    }

    /// The shipped dictionary with the entries of an operator's file
    /// (`source` names it in errors), checked against `policy`.
    pub fn load(overrides: Option<(&str, &str)>, policy: &Policy) -> Result<Dictionary, String> {
        let mut d = Dictionary::shipped();
        if let Some((source, text)) = overrides {
            let f: File = toml::from_str(text).map_err(|e| format!("{source}: {e}"))?;
            for m in f.metrics {
                match d.metrics.iter_mut().find(|x| x.key == m.key) {
                    Some(x) => *x = m,
                    None => d.metrics.push(m),
                }
            }
        }
        d.check(policy)?;
        Ok(d)
    }

    pub fn get(&self, key: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.key == key)
    }

    fn check(&self, policy: &Policy) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for m in &self.metrics {
            let bad = |what: &str| Err(format!("metric {}: {what}", m.key));
            if m.key.is_empty() || !m.key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
                return bad("a key is lower-case letters, digits and _");
            }
            if !seen.insert(m.key.as_str()) {
                return bad("listed twice");
            }
            if [&m.name_zh, &m.name_en, &m.definition_zh, &m.definition_en].iter().any(|s| s.trim().is_empty()) {
                return bad("needs name_zh, name_en, definition_zh and definition_en");
            }
            if let Some(t) = &m.target
                && policy.target(t).is_none()
            {
                return bad(&format!("target '{t}' is not in the policy's [reports.targets]"));
            }
            if let Formula::Duration { start, stop, .. } = &m.formula
                && start == stop
            {
                return bad("a duration needs different start and stop events");
            }
            let snapshot = matches!(m.formula, Formula::Count { fact: Fact::Open } | Formula::Buckets { .. });
            if snapshot != (m.period == Period::Now) {
                return bad("period \"now\" is for counts of open tickets, and only for them");
            }
            if let Formula::Rate { per: 0, .. } = m.formula {
                return bad("per must be at least 1");
            }
        }
        Ok(())
    }
}

impl Policy {
    /// A metric's target: `[reports.targets]`, except return-visit coverage,
    /// which the customer loop's `coverage_target` sets (one number, one place).
    pub fn target(&self, key: &str) -> Option<Target> {
        if key == "visit_coverage" {
            return Some(Target { value: self.customer_loop.coverage_target, better: Better::Higher });
        }
        self.reports.targets.get(key).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_dictionary_defines_every_kpi_of_r30_with_targets_in_the_policy() {
        let p = Policy::defaults();
        let d = Dictionary::load(None, &p).unwrap();
        for key in [
            "first_response_time",
            "handling_time",
            "resolution_time",
            "on_time_rate",
            "resolved_in_limit_rate",
            "first_contact_resolution",
            "one_touch_rate",
            "transfer_rate",
            "escalation_rate",
            "reopen_rate",
            "appeal_rate",
            "visit_coverage",
            "satisfaction_rate",
            "satisfaction_average",
            "nps",
            "complaint_rate",
            "backlog",
            "backlog_age",
            "breaches",
        ] {
            assert!(d.get(key).is_some(), "{key} is not defined");
        }
        let t = |k: &str| p.target(d.get(k).unwrap().target.as_deref().unwrap()).unwrap();
        assert_eq!(t("resolved_in_limit_rate"), Target { value: 0.95, better: Better::Higher });
        assert_eq!(t("visit_coverage"), Target { value: 0.8, better: Better::Higher });
        assert_eq!(t("complaint_rate").better, Better::Lower);
        assert!(t("complaint_rate").met(0.004) && !t("complaint_rate").met(0.006));
    }

    #[test]
    fn an_operator_replaces_a_metric_by_key_and_adds_new_ones() {
        let p = Policy::defaults();
        let text = r#"
[[metrics]]
key = "resolution_time"
name_zh = "办结时长"
name_en = "Time to resolve"
unit = "hours"
period = "resolved"
formula = { kind = "duration", start = "registered", stop = "resolved", pauses = [], calendar = "working" }
definition_zh = "自登记至办结，按工作日。"
definition_en = "Registration to resolution, working time."

[[metrics]]
key = "confirm_time"
name_zh = "确认时长"
name_en = "Time to confirmation"
unit = "hours"
period = "resolved"
formula = { kind = "duration", start = "resolved", stop = "confirmed", pauses = [], calendar = "natural" }
definition_zh = "自办结至客户确认。"
definition_en = "Resolution to the customer's confirmation."
"#;
        let d = Dictionary::load(Some(("metrics.toml", text)), &p).unwrap();
        let shipped = Dictionary::shipped();
        assert_eq!(d.metrics.len(), shipped.metrics.len() + 1);
        assert_eq!(d.get("resolution_time").unwrap().name_zh, "办结时长");
        assert_eq!(d.metrics.last().unwrap().key, "confirm_time");
        let pos = |d: &Dictionary| d.metrics.iter().position(|m| m.key == "resolution_time");
        assert_eq!(pos(&d), pos(&shipped), "a replaced metric keeps its place");
    }

    #[test]
    fn a_broken_dictionary_is_refused_with_the_metric_named() {
        let p = Policy::defaults();
        let entry = |extra: &str| {
            format!(
                "[[metrics]]\nkey = \"x\"\nname_zh = \"甲\"\nname_en = \"X\"\nunit = \"count\"\n\
                 definition_zh = \"甲\"\ndefinition_en = \"X\"\n{extra}"
            )
        };
        let cases = [
            (
                entry("period = \"created\"\nformula = { kind = \"count\", fact = \"breached\" }\ntarget = \"nope\""),
                "target 'nope'",
            ),
            (
                entry(
                    "period = \"created\"\nformula = { kind = \"duration\", start = \"resolved\", stop = \"resolved\", pauses = [], calendar = \"natural\" }",
                ),
                "different start",
            ),
            (entry("period = \"now\"\nformula = { kind = \"count\", fact = \"breached\" }"), "period"),
            (entry("period = \"created\"\nformula = { kind = \"count\", fact = \"no_such_fact\" }"), "no_such_fact"),
            (
                entry(
                    "period = \"created\"\nformula = { kind = \"rate\", numerator = \"complaint\", denominator = \"registered\", per = 0 }",
                ),
                "per",
            ),
        ];
        for (text, needle) in cases {
            let e = Dictionary::load(Some(("m.toml", &text)), &p).unwrap_err();
            assert!(e.contains(needle), "{e}");
        }
    }

    #[test]
    fn backlog_buckets_follow_the_policy_bounds() {
        let r = ReportsPolicy::default();
        let labels = r.bucket_labels();
        assert_eq!(labels.len(), 6);
        assert_eq!(labels[0].0, "≤1天");
        assert_eq!(labels[1].0, "1–3天");
        assert_eq!(labels[5].0, ">30天");
        assert_eq!(
            [r.bucket_of(0.2), r.bucket_of(1.0), r.bucket_of(1.01), r.bucket_of(29.0), r.bucket_of(31.0)],
            [0, 0, 1, 4, 5]
        );
        let bad = ReportsPolicy { backlog_age_days: vec![3, 1], ..ReportsPolicy::default() };
        assert!(bad.check().is_err());
        let bad = ReportsPolicy { nps_detractor_to: 9, ..ReportsPolicy::default() };
        assert!(bad.check().is_err());
    }
}
