//! Deadlines (时限) by policy (R-10…R-13). The policy lists deadline rules:
//! which tickets a rule applies to (types, priorities), its limit (minutes,
//! natural hours or working days on the official calendar), the actions
//! that start it and the actions that meet it. A ticket carries its
//! deadlines; every action updates them here, in the same decision that
//! changes the ticket:
//! - a rule whose `starts_on` names the action (or `create`) starts (again);
//! - a running deadline whose `met_by` names the action is met;
//! - entering a pausing state (挂起) pauses every running deadline, leaving
//!   it resumes them and moves their due time by the time paused;
//! - a priority change recomputes running deadlines from their start;
//! - withdrawing or archiving cancels what still runs.
//!
//! Warning and breach are read against the clock (`DeadlineState`); the
//! watcher records them as events.

use crate::action::ActionKind;
use crate::calendar::{Calendar, CalendarError};
use crate::enums::{Priority, TicketType};
use crate::ticket::Ticket;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaPolicy {
    /// Share of a deadline's span after which it is in warning (预警).
    pub warning_threshold: f64,
    /// Ticket states in which the clocks stop.
    pub pause_states: Vec<String>,
    /// Deadline kinds whose clocks stop while the ticket is linked to a
    /// major incident: its repair is out of the handler's hands.
    #[serde(default)]
    pub incident_pauses: Vec<String>,
    pub deadlines: Vec<DeadlineRule>,
    /// Who hears of a breach, step by step: the first step at the
    /// due time, each later one `after_minutes` past it if still not met.
    #[serde(default)]
    pub escalation: Vec<EscalationStep>,
    /// Who hears of a warning.
    #[serde(default)]
    pub warn: Vec<Recipient>,
}

impl Default for SlaPolicy {
    fn default() -> Self {
        SlaPolicy {
            warning_threshold: 0.8,
            pause_states: vec!["suspended".into()],
            incident_pauses: Vec::new(),
            deadlines: Vec::new(),
            escalation: Vec::new(),
            warn: Vec::new(),
        }
    }
}

/// Who to notify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    /// The current handler.
    Owner,
    /// The first-contact owner (首问责任人), who stays accountable.
    FirstOwner,
    /// The handler's team lead (until teams exist: the supervisors).
    TeamLead,
    /// The customer-service supervisors (客服主管).
    Supervisor,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationStep {
    pub after_minutes: i64,
    pub notify: Vec<Recipient>,
}

/// An alert the watcher raises on a ticket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub kind: String,
    pub label_zh: String,
    /// `warning` or `breach`; `escalation` for later breach steps.
    pub level: &'static str,
    /// 0 for warnings and the breach itself, then 1, 2 … along the chain.
    pub step: u32,
    pub due_at: DateTime<Utc>,
    pub notify: Vec<Recipient>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadlineRule {
    pub kind: String,
    pub label_zh: String,
    /// The English view's label; the kind, worded, when a policy leaves it out.
    #[serde(default)]
    pub label_en: Option<String>,
    /// Empty: every type / priority. A more specific rule for the same kind
    /// is listed first: the first match wins.
    #[serde(default)]
    pub types: Vec<TicketType>,
    #[serde(default)]
    pub priorities: Vec<Priority>,
    /// Support tiers the rule applies at (empty: all). A tier's own limit
    /// starts when the ticket reaches it and is met when it leaves.
    #[serde(default)]
    pub tiers: Vec<u8>,
    /// On breach, escalate the ticket to this tier automatically if it is
    /// still below it.
    pub escalate_to: Option<u8>,
    pub minutes: Option<i64>,
    pub hours: Option<i64>,
    pub working_days: Option<u32>,
    /// `create` or action names.
    pub starts_on: Vec<String>,
    pub met_by: Vec<ActionKind>,
}

impl DeadlineRule {
    fn applies(&self, t: TicketType, p: Priority, tier: u8) -> bool {
        (self.types.is_empty() || self.types.contains(&t))
            && (self.priorities.is_empty() || self.priorities.contains(&p))
            && (self.tiers.is_empty() || self.tiers.contains(&tier))
    }

    fn due(&self, cal: &Calendar, from: DateTime<Utc>) -> Result<DateTime<Utc>, CalendarError> {
        match (self.minutes, self.hours, self.working_days) {
            (Some(m), _, _) => Ok(from + Duration::minutes(m)),
            (_, Some(h), _) => Ok(cal.add_hours(from, h)),
            (_, _, Some(d)) => cal.add_working_days(from, d),
            _ => Ok(from),
        }
    }

    fn check(&self) -> Result<(), String> {
        let limits = [self.minutes.is_some(), self.hours.is_some(), self.working_days.is_some()];
        if limits.iter().filter(|x| **x).count() != 1 {
            return Err(format!("deadline '{}' needs exactly one of minutes, hours, working_days", self.kind));
        }
        if self.starts_on.is_empty() || self.met_by.is_empty() {
            return Err(format!("deadline '{}' needs starts_on and met_by", self.kind));
        }
        for s in &self.starts_on {
            if s != "create" && ActionKind::parse(s).is_err() {
                return Err(format!("deadline '{}': unknown start '{s}'", self.kind));
            }
        }
        if self.tiers.iter().chain(self.escalate_to.iter()).any(|t| !(1..=3).contains(t)) {
            return Err(format!("deadline '{}': tiers are 1, 2 or 3", self.kind));
        }
        Ok(())
    }
}

impl SlaPolicy {
    pub fn check(&self) -> Result<(), String> {
        if !(0.0..1.0).contains(&self.warning_threshold) {
            return Err("warning_threshold must be between 0 and 1".into());
        }
        self.deadlines.iter().try_for_each(DeadlineRule::check)
    }

    /// The rule for a kind, as it applies to this type, priority and tier.
    fn rule(&self, kind: &str, t: TicketType, p: Priority, tier: u8) -> Option<&DeadlineRule> {
        self.deadlines.iter().find(|r| r.kind == kind && r.applies(t, p, tier))
    }

    /// The tier a breach of this deadline escalates the ticket to, if the
    /// ticket is still below it.
    pub fn escalation_for(&self, kind: &str, t: &Ticket) -> Option<u8> {
        self.rule(kind, t.ticket_type, t.priority, t.tier).and_then(|r| r.escalate_to).filter(|to| *to > t.tier)
    }

    /// The deadline kinds of the policy, each once, in its order, with the
    /// Chinese label of its first rule.
    pub fn kinds(&self) -> Vec<(&str, &str)> {
        let mut out: Vec<(&str, &str)> = Vec::new();
        for r in &self.deadlines {
            if !out.iter().any(|(k, _)| *k == r.kind) {
                out.push((&r.kind, &r.label_zh));
            }
        }
        out
    }

    /// The longest working-day limit: the calendar must reach this far.
    pub fn max_working_days(&self) -> u32 {
        self.deadlines.iter().filter_map(|r| r.working_days).max().unwrap_or(0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Running,
    Paused,
    Met,
    Cancelled,
}

/// A deadline on a ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Deadline {
    pub kind: String,
    pub label_zh: String,
    pub started_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub warn_at: DateTime<Utc>,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub phase: Phase,
    pub met_at: Option<DateTime<Utc>>,
    pub paused_at: Option<DateTime<Utc>>,
    /// Time spent paused so far, in seconds.
    pub paused_secs: i64,
    /// The warning was raised (once).
    #[serde(default)]
    pub warned: bool,
    /// Escalation steps taken after the breach (0: breach not yet raised).
    #[serde(default)]
    pub escalations: u32,
}

/// What a deadline is at an instant: running, paused, met, warning, breached.
pub fn state_at(d: &Deadline, now: DateTime<Utc>) -> &'static str {
    match d.phase {
        Phase::Met => {
            if d.met_at.is_some_and(|m| m > d.due_at) {
                "breached"
            } else {
                "met"
            }
        }
        Phase::Cancelled => "cancelled",
        Phase::Paused => "paused",
        Phase::Running if now >= d.due_at => "breached",
        Phase::Running if now >= d.warn_at => "warning",
        Phase::Running => "running",
    }
}

fn new_deadline(
    policy: &SlaPolicy,
    rule: &DeadlineRule,
    cal: &Calendar,
    start: DateTime<Utc>,
) -> Result<Deadline, CalendarError> {
    let due_at = rule.due(cal, start)?;
    let span = (due_at - start).num_seconds() as f64;
    let warn_at = start + Duration::seconds((span * policy.warning_threshold) as i64);
    Ok(Deadline {
        kind: rule.kind.clone(),
        label_zh: rule.label_zh.clone(),
        started_at: start,
        due_at,
        warn_at,
        phase: Phase::Running,
        met_at: None,
        paused_at: None,
        paused_secs: 0,
        warned: false,
        escalations: 0,
    })
}

/// Starts the deadlines whose rules start on `event` (an action); a tier's
/// limit only when the action brought the ticket to that tier.
fn start(
    policy: &SlaPolicy,
    cal: &Calendar,
    t: &mut Ticket,
    event: &str,
    entered_tier: bool,
    now: DateTime<Utc>,
) -> Result<(), CalendarError> {
    for rule in &policy.deadlines {
        if !rule.starts_on.iter().any(|s| s == event)
            || (!rule.tiers.is_empty() && !entered_tier)
            || policy.rule(&rule.kind, t.ticket_type, t.priority, t.tier) != Some(rule)
        {
            continue;
        }
        let fresh = new_deadline(policy, rule, cal, now)?;
        match t.deadlines.iter_mut().find(|d| d.kind == rule.kind) {
            Some(existing) => *existing = fresh,
            None => t.deadlines.push(fresh),
        }
    }
    Ok(())
}

/// Deadlines at registration of a ticket of this type and priority.
pub fn on_create(
    policy: &SlaPolicy,
    cal: &Calendar,
    ticket_type: TicketType,
    priority: Priority,
    now: DateTime<Utc>,
) -> Result<Vec<Deadline>, CalendarError> {
    let mut out: Vec<Deadline> = Vec::new();
    for rule in policy.deadlines.iter().filter(|r| r.starts_on.iter().any(|s| s == "create")) {
        // Every ticket starts at tier 1.
        if policy.rule(&rule.kind, ticket_type, priority, 1) == Some(rule) && !out.iter().any(|d| d.kind == rule.kind) {
            out.push(new_deadline(policy, rule, cal, now)?);
        }
    }
    Ok(out)
}

/// Whether a deadline of `kind` stands still on the ticket: in a pausing
/// state, or one the policy stops while the ticket is linked to an incident.
fn held(policy: &SlaPolicy, t: &Ticket, kind: &str) -> bool {
    policy.pause_states.contains(&t.status)
        || (t.incident.is_some() && policy.incident_pauses.iter().any(|k| k == kind))
}

/// Pauses the deadlines the change stops and resumes those it releases,
/// moving a resumed one's due and warning times by the time it stood still.
pub fn hold(policy: &SlaPolicy, before: &Ticket, after: &mut Ticket, now: DateTime<Utc>) {
    let stopped: Vec<(bool, bool)> =
        after.deadlines.iter().map(|d| (held(policy, before, &d.kind), held(policy, after, &d.kind))).collect();
    for (d, (was, is)) in after.deadlines.iter_mut().zip(stopped) {
        match d.phase {
            Phase::Running if is && !was => {
                d.phase = Phase::Paused;
                d.paused_at = Some(now);
            }
            Phase::Paused if !is => {
                let paused = now - d.paused_at.unwrap_or(now);
                d.paused_secs += paused.num_seconds();
                d.due_at += paused;
                d.warn_at += paused;
                d.paused_at = None;
                d.phase = Phase::Running;
            }
            _ => {}
        }
    }
}

/// A ticket registered into an incident: its incident-stopped clocks start stopped.
pub fn hold_from_start(policy: &SlaPolicy, deadlines: &mut [Deadline], now: DateTime<Utc>) {
    for d in deadlines.iter_mut().filter(|d| d.phase == Phase::Running) {
        if policy.incident_pauses.contains(&d.kind) {
            d.phase = Phase::Paused;
            d.paused_at = Some(now);
        }
    }
}

/// Updates `after`'s deadlines for an action taken at `now` on `before`.
pub fn on_action(
    policy: &SlaPolicy,
    cal: &Calendar,
    before: &Ticket,
    after: &mut Ticket,
    action: ActionKind,
    now: DateTime<Utc>,
) -> Result<(), CalendarError> {
    hold(policy, before, after, now);
    if action == ActionKind::SetPriority && before.priority != after.priority {
        recompute(policy, cal, after)?;
    }
    for d in after.deadlines.iter_mut().filter(|d| matches!(d.phase, Phase::Running | Phase::Paused)) {
        // Met under the rule it ran under (the tier before the action).
        let rule = policy.rule(&d.kind, before.ticket_type, after.priority, before.tier);
        let left_tier = before.tier != after.tier && rule.is_some_and(|r| !r.tiers.is_empty());
        let met = left_tier || rule.is_some_and(|r| r.met_by.contains(&action));
        if met {
            d.phase = Phase::Met;
            d.met_at = Some(now);
        }
    }
    let entered_tier = before.tier != after.tier;
    start(policy, cal, after, action.as_str(), entered_tier, now)?;
    if matches!(action, ActionKind::Withdraw | ActionKind::Merge | ActionKind::Archive) {
        for d in after.deadlines.iter_mut().filter(|d| matches!(d.phase, Phase::Running | Phase::Paused)) {
            d.phase = Phase::Cancelled;
        }
    }
    Ok(())
}

/// After a priority change: running deadlines from their start under the
/// rule for the new priority, keeping the time paused so far.
fn recompute(policy: &SlaPolicy, cal: &Calendar, t: &mut Ticket) -> Result<(), CalendarError> {
    let (ty, pr, tier) = (t.ticket_type, t.priority, t.tier);
    for d in t.deadlines.iter_mut().filter(|d| matches!(d.phase, Phase::Running | Phase::Paused)) {
        if let Some(rule) = policy.rule(&d.kind, ty, pr, tier) {
            let fresh = new_deadline(policy, rule, cal, d.started_at)?;
            let paused = Duration::seconds(d.paused_secs);
            d.due_at = fresh.due_at + paused;
            d.warn_at = fresh.warn_at + paused;
        }
    }
    Ok(())
}

/// When the next alert of a deadline is due, if any.
fn next_alert_of(policy: &SlaPolicy, d: &Deadline) -> Option<DateTime<Utc>> {
    if d.phase != Phase::Running {
        return None;
    }
    if !d.warned && d.warn_at < d.due_at {
        return Some(d.warn_at);
    }
    let step = d.escalations as usize;
    match step {
        0 => Some(d.due_at),
        _ => policy.escalation.get(step).map(|s| d.due_at + Duration::minutes(s.after_minutes)),
    }
}

/// The earliest instant at which the watcher has something to raise on
/// this ticket: stored and indexed, so a watcher tick reads only tickets
/// that have an alert due.
pub fn next_alert(policy: &SlaPolicy, deadlines: &[Deadline]) -> Option<DateTime<Utc>> {
    deadlines.iter().filter_map(|d| next_alert_of(policy, d)).min()
}

/// Raises every alert due at `now` on the ticket, marking it raised so it
/// is never raised twice. Returns the alerts, in deadline order.
pub fn raise_alerts(policy: &SlaPolicy, t: &mut Ticket, now: DateTime<Utc>) -> Vec<Alert> {
    let mut out = Vec::new();
    for d in t.deadlines.iter_mut() {
        while next_alert_of(policy, d).is_some_and(|at| at <= now) {
            let alert = if !d.warned && d.warn_at < d.due_at {
                d.warned = true;
                Alert {
                    kind: d.kind.clone(),
                    label_zh: d.label_zh.clone(),
                    level: "warning",
                    step: 0,
                    due_at: d.due_at,
                    notify: policy.warn.clone(),
                }
            } else {
                let step = d.escalations;
                d.warned = true;
                d.escalations += 1;
                let notify = policy.escalation.get(step as usize).map(|s| s.notify.clone()).unwrap_or_default();
                let level = if step == 0 { "breach" } else { "escalation" };
                Alert { kind: d.kind.clone(), label_zh: d.label_zh.clone(), level, step, due_at: d.due_at, notify }
            };
            out.push(alert);
            if d.escalations as usize >= policy.escalation.len().max(1) {
                break;
            }
        }
    }
    out
}

/// The earliest warning time of what still runs: with `next_due`, the
/// store finds tickets in warning (some warn time passed, no due time).
pub fn next_warn(t: &Ticket) -> Option<DateTime<Utc>> {
    t.deadlines.iter().filter(|d| d.phase == Phase::Running).map(|d| d.warn_at).min()
}

/// The earliest due time of what still runs: the store indexes it, so the
/// watcher and the `overdue` filter never scan tickets that are not due.
pub fn next_due(t: &Ticket) -> Option<DateTime<Utc>> {
    t.deadlines.iter().filter(|d| d.phase == Phase::Running).map(|d| d.due_at).min()
}

/// The English label of a deadline kind under a policy: the first rule of
/// that kind that names one, else the kind itself in words.
pub fn label_en(policy: &SlaPolicy, kind: &str) -> String {
    policy
        .deadlines
        .iter()
        .find(|r| r.kind == kind && r.label_en.is_some())
        .and_then(|r| r.label_en.clone())
        .unwrap_or_else(|| kind.replace('_', " "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn ticket(t: TicketType, p: Priority, now: DateTime<Utc>) -> Ticket {
        let policy = Policy::defaults().sla;
        let deadlines = on_create(&policy, &Calendar::defaults(), t, p, now).unwrap();
        let mut json = serde_json::json!({
            "id": 1, "number": "GD20261123000001", "channel": "phone", "type": t, "priority": p, "status": "accepted",
            "title": "t", "description": "d",
            "customer": {"id": 1, "name": "张三", "phone": "13812345678", "id_number": null, "address": null, "level": null},
            "service_number": null, "occurred_at": null, "location": null, "consent": null, "submitted_by": "张三",
            "first_owner": 1, "assignee": null, "tier": 1, "transfer_to": null, "result": null, "satisfaction": null,
            "nps": null, "appeal_count": 0, "created_at": now, "updated_at": now, "resolved_at": null, "archived_at": null,
            "next_alert_at": null,
        });
        json["deadlines"] = serde_json::to_value(&deadlines).unwrap();
        serde_json::from_value(json).unwrap()
    }

    fn due(t: &Ticket, kind: &str) -> DateTime<Utc> {
        t.deadlines.iter().find(|d| d.kind == kind).unwrap_or_else(|| panic!("no {kind}")).due_at
    }

    fn phase(t: &Ticket, kind: &str) -> Phase {
        t.deadlines.iter().find(|d| d.kind == kind).unwrap().phase
    }

    /// Applies an action: the status change as the flow would make it.
    fn step(t: &Ticket, action: ActionKind, status: &str, now: DateTime<Utc>) -> Ticket {
        let mut after = Ticket { status: status.into(), ..t.clone() };
        on_action(&Policy::defaults().sla, &Calendar::defaults(), t, &mut after, action, now).unwrap();
        after
    }

    #[test]
    fn registration_starts_the_limits_of_the_table() {
        let now = at("2026-11-23T10:00:00+08:00");
        let c = ticket(TicketType::Complaint, Priority::Urgent, now);
        assert_eq!(due(&c, "response"), now + Duration::minutes(30));
        assert_eq!(due(&c, "resolution"), now + Duration::hours(24));
        assert_eq!(due(&ticket(TicketType::Complaint, Priority::Normal, now), "resolution"), now + Duration::hours(48));
        assert_eq!(due(&ticket(TicketType::Fault, Priority::Urgent, now), "resolution"), now + Duration::hours(2));
        assert_eq!(
            due(&ticket(TicketType::Consultation, Priority::Normal, now), "resolution"),
            now + Duration::hours(48)
        );
        assert_eq!(
            due(&ticket(TicketType::Business, Priority::Normal, now), "resolution"),
            at("2026-11-24T10:00:00+08:00")
        );
        assert_eq!(
            due(&ticket(TicketType::Account, Priority::Normal, now), "resolution"),
            at("2026-11-26T10:00:00+08:00")
        );
        // Seven working days from a Monday: the next Wednesday week.
        assert_eq!(
            due(&ticket(TicketType::ServiceRequest, Priority::Normal, now), "resolution"),
            at("2026-12-02T10:00:00+08:00")
        );
        let u = ticket(TicketType::Unsubscribe, Priority::Important, now);
        assert_eq!(
            (due(&u, "confirmation"), due(&u, "resolution")),
            (now + Duration::hours(24), now + Duration::hours(72))
        );
        assert_eq!(c.deadlines[0].warn_at, now + Duration::minutes(24), "80 % of 30 minutes");
        assert_eq!(due(&c, "dispatch"), now + Duration::hours(24));
        assert_eq!(due(&c, "closed_loop"), at("2026-12-02T10:00:00+08:00"), "7 working days");
        assert_eq!(next_due(&c), Some(now + Duration::minutes(30)));
    }

    #[test]
    fn actions_meet_pause_restart_and_cancel() {
        let t0 = at("2026-11-23T10:00:00+08:00");
        let t = ticket(TicketType::Complaint, Priority::Normal, t0);
        let t = step(&t, ActionKind::Dispatch, "dispatched", t0 + Duration::minutes(10));
        assert_eq!(phase(&t, "response"), Phase::Met);
        // Still at L1: the tier limit of complaints (24 h) comes first.
        assert_eq!(next_due(&t), Some(t0 + Duration::hours(24)));
        let t = step(&t, ActionKind::Start, "in_progress", t0 + Duration::hours(1));
        let t = step(&t, ActionKind::Suspend, "suspended", t0 + Duration::hours(2));
        assert_eq!(phase(&t, "resolution"), Phase::Paused);
        assert_eq!(next_due(&t), None, "paused clocks are not due");
        let t = step(&t, ActionKind::Resume, "in_progress", t0 + Duration::hours(5));
        assert_eq!(due(&t, "resolution"), t0 + Duration::hours(51), "moved by the 3 hours paused");
        // Priority up: recomputed from the start, paused time kept.
        let mut up = Ticket { priority: Priority::Urgent, ..t.clone() };
        on_action(
            &Policy::defaults().sla,
            &Calendar::defaults(),
            &t,
            &mut up,
            ActionKind::SetPriority,
            t0 + Duration::hours(6),
        )
        .unwrap();
        assert_eq!(due(&up, "resolution"), t0 + Duration::hours(27));
        let r = step(&up, ActionKind::Resolve, "resolved", t0 + Duration::hours(8));
        assert_eq!(phase(&r, "resolution"), Phase::Met);
        assert_eq!(due(&r, "result_notice"), t0 + Duration::hours(32));
        assert_eq!(due(&r, "return_visit"), t0 + Duration::hours(56));
        // The customer appeals: the resolution clock starts again.
        let n = step(&r, ActionKind::NotifyResult, "result_notified", t0 + Duration::hours(9));
        let a = step(&n, ActionKind::Appeal, "in_progress", t0 + Duration::hours(10));
        assert_eq!((phase(&a, "resolution"), due(&a, "resolution")), (Phase::Running, t0 + Duration::hours(34)));
        let w = step(&a, ActionKind::Withdraw, "withdrawn", t0 + Duration::hours(11));
        assert!(w.deadlines.iter().all(|d| d.phase != Phase::Running));
    }

    #[test]
    fn an_incident_stops_the_repair_clocks_not_the_answer() {
        let policy = Policy::defaults().sla;
        let t0 = at("2026-11-23T10:00:00+08:00");
        let t = ticket(TicketType::Fault, Priority::Normal, t0);
        // Registered into an incident: resolution stands still from the start, the response clock runs.
        let mut born = t.deadlines.clone();
        hold_from_start(&policy, &mut born, t0);
        let phases: Vec<(&str, Phase)> = born.iter().map(|d| (d.kind.as_str(), d.phase)).collect();
        assert!(
            phases.contains(&("resolution", Phase::Paused)) && phases.contains(&("response", Phase::Running)),
            "{phases:?}"
        );
        // Linked an hour in, released three hours later: moved by three hours.
        let before_due = due(&t, "resolution");
        let mut linked = t.clone();
        linked.incident = Some(crate::incident_record::IncidentRef { id: 1, number: "ZD20261123001".into() });
        hold(&policy, &t, &mut linked, t0 + Duration::hours(1));
        assert_eq!((phase(&linked, "resolution"), phase(&linked, "response")), (Phase::Paused, Phase::Running));
        // An ordinary action while linked does not restart it.
        let started = step(&linked, ActionKind::Dispatch, "dispatched", t0 + Duration::hours(2));
        assert_eq!(phase(&started, "resolution"), Phase::Paused);
        let mut released = started.clone();
        released.incident = None;
        hold(&policy, &started, &mut released, t0 + Duration::hours(4));
        assert_eq!(
            (phase(&released, "resolution"), due(&released, "resolution")),
            (Phase::Running, before_due + Duration::hours(3))
        );
    }

    #[test]
    fn tier_limits_start_on_reaching_the_tier_end_on_leaving_and_name_the_escalation() {
        let policy = Policy::defaults().sla;
        let t0 = at("2026-11-23T10:00:00+08:00");
        let f = ticket(TicketType::Fault, Priority::Normal, t0);
        assert_eq!(due(&f, "tier_limit"), t0 + Duration::hours(2), "faults: 2 h at L1");
        assert_eq!(policy.escalation_for("tier_limit", &f), Some(2));
        assert_eq!(policy.escalation_for("resolution", &f), None);
        let c = ticket(TicketType::Complaint, Priority::Normal, t0);
        assert_eq!(due(&c, "tier_limit"), t0 + Duration::hours(24));
        assert_eq!(policy.escalation_for("tier_limit", &c), Some(3));
        assert!(
            ticket(TicketType::Consultation, Priority::Normal, t0).deadlines.iter().all(|d| d.kind != "tier_limit")
        );
        // Escalated to L3 after 3 hours: the L1 limit is met, the L3 limits start.
        let mut up = Ticket { status: "dispatched".into(), tier: 3, ..c.clone() };
        let t1 = t0 + Duration::hours(3);
        on_action(&policy, &Calendar::defaults(), &c, &mut up, ActionKind::Escalate, t1).unwrap();
        assert_eq!(phase(&up, "tier_limit"), Phase::Met);
        assert_eq!(
            (due(&up, "l3_initial"), due(&up, "l3_solution")),
            (t1 + Duration::hours(24), t1 + Duration::hours(48))
        );
        assert_eq!(policy.escalation_for("tier_limit", &up), None, "already above");
        // Starting at L3 meets the initial limit; a re-dispatch within L3 restarts nothing.
        let started = step(&up, ActionKind::Start, "in_progress", t1 + Duration::hours(1));
        assert_eq!(phase(&started, "l3_initial"), Phase::Met);
        let again = step(&started, ActionKind::Redispatch, "dispatched", t1 + Duration::hours(2));
        assert_eq!(due(&again, "l3_solution"), t1 + Duration::hours(48));
        // A complaint dispatched straight to an L3 specialist starts the L3 limits at dispatch.
        let mut direct = Ticket { status: "dispatched".into(), tier: 3, ..c.clone() };
        on_action(&policy, &Calendar::defaults(), &c, &mut direct, ActionKind::Dispatch, t0).unwrap();
        assert_eq!(due(&direct, "l3_solution"), t0 + Duration::hours(48));
        // A transfer must be taken within the hour, then resolved within 24 h.
        let sent = step(&started, ActionKind::Transfer, "transfer_pending", t1 + Duration::hours(2));
        assert_eq!(due(&sent, "transfer_acceptance"), t1 + Duration::hours(3));
        let took =
            step(&sent, ActionKind::AcceptTransfer, "in_progress", t1 + Duration::hours(2) + Duration::minutes(20));
        assert_eq!(phase(&took, "transfer_acceptance"), Phase::Met);
        assert_eq!(due(&took, "after_transfer"), t1 + Duration::hours(26) + Duration::minutes(20));
    }

    #[test]
    fn states_against_the_clock() {
        let t0 = at("2026-11-23T10:00:00+08:00");
        let t = ticket(TicketType::Fault, Priority::Urgent, t0);
        let r = t.deadlines.iter().find(|d| d.kind == "resolution").unwrap();
        assert_eq!(state_at(r, t0 + Duration::minutes(60)), "running");
        assert_eq!(state_at(r, t0 + Duration::minutes(100)), "warning");
        assert_eq!(state_at(r, t0 + Duration::minutes(120)), "breached");
        let late = step(&t, ActionKind::Resolve, "resolved", t0 + Duration::hours(3));
        let r = late.deadlines.iter().find(|d| d.kind == "resolution").unwrap();
        assert_eq!(state_at(r, t0 + Duration::hours(4)), "breached", "met late stays a breach");
        let ok = step(&t, ActionKind::Resolve, "resolved", t0 + Duration::hours(1));
        assert_eq!(
            state_at(ok.deadlines.iter().find(|d| d.kind == "resolution").unwrap(), t0 + Duration::hours(4)),
            "met"
        );
    }

    #[test]
    fn alerts_are_raised_once_each_along_the_chain() {
        let policy = Policy::defaults().sla;
        let t0 = at("2026-11-23T10:00:00+08:00");
        let mut t = ticket(TicketType::Fault, Priority::Urgent, t0);
        t.deadlines.retain(|d| d.kind == "resolution"); // 2 hours; warning at 96 minutes
        assert_eq!(next_alert(&policy, &t.deadlines), Some(t0 + Duration::minutes(96)));
        assert!(raise_alerts(&policy, &mut t, t0 + Duration::minutes(95)).is_empty());
        let a = raise_alerts(&policy, &mut t, t0 + Duration::minutes(100));
        assert_eq!(
            (a.len(), a[0].level, a[0].notify.clone()),
            (1, "warning", vec![Recipient::Owner, Recipient::FirstOwner])
        );
        assert!(raise_alerts(&policy, &mut t, t0 + Duration::minutes(110)).is_empty(), "never twice");
        assert_eq!(next_alert(&policy, &t.deadlines), Some(t0 + Duration::minutes(120)));
        let b = raise_alerts(&policy, &mut t, t0 + Duration::minutes(121));
        assert_eq!((b[0].level, b[0].step), ("breach", 0));
        assert_eq!(next_alert(&policy, &t.deadlines), Some(t0 + Duration::minutes(180)));
        let c = raise_alerts(&policy, &mut t, t0 + Duration::minutes(400));
        let steps: Vec<(&str, u32, Vec<Recipient>)> = c.iter().map(|a| (a.level, a.step, a.notify.clone())).collect();
        assert_eq!(
            steps,
            vec![("escalation", 1, vec![Recipient::TeamLead]), ("escalation", 2, vec![Recipient::Supervisor])]
        );
        assert_eq!(next_alert(&policy, &t.deadlines), None, "the chain is done");
        // A watcher that was down for hours raises everything due, in order.
        let mut late = ticket(TicketType::Fault, Priority::Urgent, t0);
        late.deadlines.retain(|d| d.kind == "resolution");
        let all: Vec<&str> =
            raise_alerts(&policy, &mut late, t0 + Duration::hours(10)).iter().map(|a| a.level).collect();
        assert_eq!(all, vec!["warning", "breach", "escalation", "escalation"]);
        // Paused or met deadlines raise nothing.
        let mut paused = ticket(TicketType::Fault, Priority::Urgent, t0);
        paused = step(&paused, ActionKind::Dispatch, "dispatched", t0);
        paused = step(&paused, ActionKind::Start, "in_progress", t0);
        paused = step(&paused, ActionKind::Suspend, "suspended", t0);
        assert_eq!(next_alert(&policy, &paused.deadlines), None);
        assert!(raise_alerts(&policy, &mut paused, t0 + Duration::hours(10)).is_empty());
    }

    #[test]
    fn malformed_rules_are_refused_at_policy_load() {
        let mut text = crate::policy::DEFAULT_POLICY.to_string();
        text = text.replacen(
            "minutes = 30\nstarts_on = [\"create\"]",
            "minutes = 30\nhours = 1\nstarts_on = [\"create\"]",
            1,
        );
        let e = Policy::parse("policy.toml", &text).unwrap_err();
        assert!(e.message.contains("exactly one"), "{e:?}");
        let bad_start =
            crate::policy::DEFAULT_POLICY.replacen("starts_on = [\"transfer\"]", "starts_on = [\"teleport\"]", 1);
        assert!(Policy::parse("p", &bad_start).unwrap_err().message.contains("teleport"));
    }

    #[test]
    fn deadline_kinds_have_english_labels_from_the_policy_or_their_name() {
        let policy = Policy::defaults().sla;
        assert_eq!(label_en(&policy, "response"), "First response");
        assert_eq!(label_en(&policy, "tier_limit"), "Tier limit");
        for rule in &policy.deadlines {
            assert!(rule.label_en.is_some(), "the shipped policy names {} in English", rule.kind);
        }
        assert_eq!(label_en(&policy, "site_visit"), "site visit");
    }
}
