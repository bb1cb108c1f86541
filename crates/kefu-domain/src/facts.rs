//! What one ticket contributes to the KPIs, derived from its record
//! and its audit chain by the metric dictionary's definitions. Durations
//! are computed in both calendars when their stop event has happened and
//! are then kept as recorded (`Facts::keep_durations`): a calendar edited
//! later does not change a figure already reported.

use crate::audit::AuditEvent;
use crate::calendar::Calendar;
use crate::flow::FlowSet;
use crate::metrics::{Dictionary, Event, Formula, Period};
use crate::policy::Policy;
use crate::sla::Phase;
use crate::ticket::Ticket;
use crate::{TicketType, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A duration metric of one ticket, in seconds, in both calendars.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub metric: String,
    pub natural_secs: i64,
    pub working_secs: i64,
    /// When the stop event happened (the figure's resolution day, say).
    pub at: DateTime<Utc>,
    /// The day the metric attributes the figure to.
    #[serde(default = "resolved_period")]
    pub period: Period,
}

fn resolved_period() -> Period {
    Period::Resolved
}

/// A deadline that fell due: met in time or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlineOutcome {
    pub kind: String,
    pub met: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    pub open: bool,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Who resolved it last.
    pub resolver: Option<UserId>,
    pub withdrawn: bool,
    /// Merged into another ticket (a repeat report): counted there.
    pub merged: bool,
    pub transferred: bool,
    pub escalated: bool,
    pub reopened: bool,
    pub appealed: bool,
    pub visited: bool,
    pub rating: Option<u8>,
    /// Rated at or above the customer loop's `satisfied_at`.
    pub satisfied: bool,
    pub recommend: Option<u8>,
    pub complaint: bool,
    pub breached: bool,
    /// Resolved by the first owner with no transfer, no reopening and no
    /// repeat report merged in; a later contact about the same type from
    /// the same customer is the store's to add (`repeat_contact`).
    pub first_contact: bool,
    /// Resolved by whoever registered it, never given to anyone else.
    pub one_touch: bool,
    pub resolved_in_limit: bool,
    pub deadlines: Vec<DeadlineOutcome>,
    pub spans: Vec<Span>,
}

/// Actions that move a ticket to someone else.
const TRANSFERS: &[&str] = &["transfer", "accept_transfer", "redispatch"];

fn status(v: &serde_json::Value) -> Option<&str> {
    v.get("status").and_then(|s| s.as_str())
}

/// When `event` first happened on the ticket (the last time, for `Resolved`).
fn event_at(event: Event, ticket: &Ticket, events: &[AuditEvent]) -> Option<DateTime<Utc>> {
    let first = |names: &[&str]| events.iter().find(|e| names.contains(&e.action.as_str())).map(|e| e.at);
    match event {
        Event::Registered => Some(ticket.created_at),
        Event::FirstResponse => events
            .iter()
            .find(|e| match e.action.as_str() {
                "start" | "resolve" => true,
                "comment" => e.data.get("internal").and_then(|v| v.as_bool()) == Some(false),
                _ => false,
            })
            .map(|e| e.at),
        Event::Resolved => events.iter().rev().find(|e| e.action == "resolve").map(|e| e.at),
        Event::Notified => first(&["notify_result"]),
        Event::Confirmed => first(&["confirm"]),
        Event::Visited => first(&["return_visit"]),
    }
}

/// Time between `from` and `to` spent in one of `states`, from the chain's
/// status changes.
fn paused(
    events: &[AuditEvent],
    states: &[String],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut out = Vec::new();
    let mut since: Option<DateTime<Utc>> = None;
    for e in events {
        let (before, after) = (status(&e.before), status(&e.after));
        if before == after {
            continue;
        }
        let entering = after.is_some_and(|s| states.iter().any(|p| p == s));
        match (since, entering) {
            (None, true) => since = Some(e.at),
            (Some(s), false) => {
                out.push((s, e.at));
                since = None;
            }
            _ => {}
        }
    }
    if let Some(s) = since {
        out.push((s, to));
    }
    out.into_iter().map(|(a, b)| (a.max(from), b.min(to))).filter(|(a, b)| a < b).collect()
}

fn span(
    (metric, period): (&str, Period),
    (start, stop): (DateTime<Utc>, DateTime<Utc>),
    pauses: &[(DateTime<Utc>, DateTime<Utc>)],
    calendar: &Calendar,
) -> Span {
    let working =
        |a, b| calendar.working_time_between(a, b).map(|d| d.num_seconds()).unwrap_or_else(|_| (b - a).num_seconds());
    let mut natural_secs = (stop - start).num_seconds().max(0);
    let mut working_secs = working(start, stop);
    for (a, b) in pauses {
        natural_secs -= (*b - *a).num_seconds();
        working_secs -= working(*a, *b);
    }
    Span {
        metric: metric.to_string(),
        natural_secs: natural_secs.max(0),
        working_secs: working_secs.max(0),
        at: stop,
        period,
    }
}

/// Whether the ticket was ever given to someone other than `owner` (a
/// dispatch to the registering agent themselves keeps it in one hand).
fn held_by_another(events: &[AuditEvent], owner: UserId) -> bool {
    events.iter().any(|e| e.after.get("assignee").and_then(|a| a.as_i64()).is_some_and(|a| a != owner.0))
}

/// What the facts are computed by.
pub struct Rules<'a> {
    pub dictionary: &'a Dictionary,
    pub policy: &'a Policy,
    pub calendar: &'a Calendar,
    pub flows: &'a FlowSet,
}

/// The facts of `ticket` with its audit chain `events` (in order), as of `now`.
pub fn facts(ticket: &Ticket, events: &[AuditEvent], rules: &Rules, now: DateTime<Utc>) -> Facts {
    let acted = |names: &[&str]| events.iter().any(|e| names.contains(&e.action.as_str()));
    let flow = rules.flows.get(ticket.ticket_type);
    let open = flow.is_open(&ticket.status);
    // Resolved: the last resolution, unless the ticket is open again or
    // ended without one (withdrawn, merged).
    let resolved_at = event_at(Event::Resolved, ticket, events).filter(|_| !open);
    let resolver = events.iter().rev().find(|e| e.action == "resolve").and_then(|e| e.actor);
    let transferred = acted(TRANSFERS);
    let reopened = ticket.appeal_count > 0 || acted(&["appeal"]);
    let merged_in = acted(&["merged_in"]);
    let status = ticket.status.as_str();
    let deadlines: Vec<DeadlineOutcome> = ticket
        .deadlines
        .iter()
        .filter_map(|d| match d.phase {
            Phase::Met => Some(DeadlineOutcome { kind: d.kind.clone(), met: d.met_at.is_none_or(|m| m <= d.due_at) }),
            Phase::Running | Phase::Paused if now >= d.due_at => {
                Some(DeadlineOutcome { kind: d.kind.clone(), met: false })
            }
            _ => None,
        })
        .collect();
    let limit = chrono::Duration::hours(i64::from(rules.policy.reports.resolution_limit_hours));
    let satisfied_at = rules.policy.customer_loop.satisfied_at;
    let mut f = Facts {
        open,
        resolved_at,
        resolver,
        withdrawn: status == "withdrawn",
        merged: status == "merged",
        transferred,
        escalated: acted(&["escalate"]) || ticket.supervised,
        reopened,
        appealed: ticket.appeal_count > 0 || acted(&["appeal"]),
        visited: acted(&["return_visit"]),
        rating: ticket.satisfaction,
        satisfied: ticket.satisfaction.is_some_and(|r| r >= satisfied_at),
        recommend: ticket.nps,
        complaint: ticket.ticket_type == TicketType::Complaint,
        breached: deadlines.iter().any(|d| !d.met),
        first_contact: resolved_at.is_some()
            && resolver == Some(ticket.first_owner)
            && !transferred
            && !reopened
            && !merged_in,
        one_touch: resolved_at.is_some()
            && resolver == Some(ticket.first_owner)
            && !transferred
            && !held_by_another(events, ticket.first_owner),
        resolved_in_limit: resolved_at.is_some_and(|r| r - ticket.created_at <= limit),
        deadlines,
        spans: Vec::new(),
    };
    for m in &rules.dictionary.metrics {
        let Formula::Duration { start, stop, pauses, .. } = &m.formula else { continue };
        let (Some(a), Some(b)) = (event_at(*start, ticket, events), event_at(*stop, ticket, events)) else { continue };
        if b < a {
            continue;
        }
        f.spans.push(span((&m.key, m.period), (a, b), &paused(events, pauses, a, b), rules.calendar));
    }
    f
}

impl Facts {
    /// Keeps the durations `recorded` earlier for the same stop event: a
    /// figure once reported does not move when the calendar is edited. A
    /// span whose stop event moved (a reopened ticket resolved again) is
    /// the new one.
    pub fn keep_durations(&mut self, recorded: &[Span]) {
        for s in &mut self.spans {
            if let Some(old) = recorded.iter().find(|o| o.metric == s.metric && o.at == s.at) {
                *s = old.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Priority, TicketId};
    use serde_json::json;

    /// Shanghai wall time on a day of late November 2026 (Fri 27, Mon 30).
    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        format!("2026-11-{day:02}T{:02}:00:00Z", hour - 8).parse().unwrap()
    }

    fn ev(seq: i64, when: DateTime<Utc>, action: &str, actor: i64, from: &str, to: &str) -> AuditEvent {
        AuditEvent {
            ticket_id: TicketId(1),
            seq,
            at: when,
            actor: Some(UserId(actor)),
            actor_name: String::new(),
            action: action.into(),
            data: json!({}),
            before: if from.is_empty() { json!(null) } else { json!({"status": from}) },
            after: json!({"status": to}),
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    struct World {
        dictionary: Dictionary,
        policy: Policy,
        calendar: Calendar,
        flows: FlowSet,
    }

    impl World {
        fn new(calendar: Calendar) -> World {
            let policy = Policy::defaults();
            World { dictionary: Dictionary::load(None, &policy).unwrap(), policy, calendar, flows: FlowSet::defaults() }
        }
        fn facts(&self, t: &Ticket, events: &[AuditEvent]) -> Facts {
            let rules = Rules {
                dictionary: &self.dictionary,
                policy: &self.policy,
                calendar: &self.calendar,
                flows: &self.flows,
            };
            facts(t, events, &rules, at(30, 12))
        }
    }

    fn hours(f: &Facts, metric: &str) -> (f64, f64) {
        let s = f.spans.iter().find(|s| s.metric == metric).unwrap_or_else(|| panic!("{metric}: {f:?}"));
        (s.natural_secs as f64 / 3600.0, s.working_secs as f64 / 3600.0)
    }

    /// A fault registered on Friday 10:00 by agent 1, dispatched to engineer
    /// 2 who starts at 11:00, suspends it Monday 08:00–09:00 and resolves it
    /// Monday 10:00: the weekend counts in natural time only.
    fn weekend_fault() -> (Ticket, Vec<AuditEvent>) {
        let mut t = crate::ticket::sample(TicketType::Fault, Priority::Normal);
        t.created_at = at(27, 10);
        t.status = "resolved".into();
        t.resolved_at = Some(at(30, 10));
        let events = vec![
            ev(1, at(27, 10), "create", 1, "", "accepted"),
            ev(2, at(27, 10), "dispatch", 1, "accepted", "dispatched"),
            ev(3, at(27, 11), "start", 2, "dispatched", "in_progress"),
            ev(4, at(30, 8), "suspend", 2, "in_progress", "suspended"),
            ev(5, at(30, 9), "resume", 2, "suspended", "in_progress"),
            ev(6, at(30, 10), "resolve", 2, "in_progress", "resolved"),
        ];
        (t, events)
    }

    #[test]
    fn durations_in_both_calendars_less_the_pauses() {
        let w = World::new(Calendar::defaults());
        let (t, events) = weekend_fault();
        let f = w.facts(&t, &events);
        assert_eq!(hours(&f, "first_response_time"), (1.0, 1.0));
        // Fri 11:00 → Mon 10:00 is 71 h, 23 h of it on working days; less the hour suspended.
        assert_eq!(hours(&f, "handling_time"), (70.0, 22.0));
        assert_eq!(hours(&f, "resolution_time"), (71.0, 23.0));
        assert_eq!((f.resolved_at, f.resolver, f.open), (Some(at(30, 10)), Some(UserId(2)), false));
        assert!(!f.first_contact && !f.one_touch && !f.resolved_in_limit && !f.transferred);
    }

    #[test]
    fn a_holiday_declared_later_does_not_move_a_recorded_duration() {
        let (t, events) = weekend_fault();
        let recorded = World::new(Calendar::defaults()).facts(&t, &events);
        // Monday 30 November made a holiday after the fact.
        let file =
            "year = 2026\nsource = \"later\"\n[[holidays]]\nname = \"x\"\nfrom = \"2026-11-30\"\nto = \"2026-11-30\"\n";
        let edited = World::new(Calendar::load(&[("2026.toml".into(), file.into())]).unwrap());
        let mut again = edited.facts(&t, &events);
        assert_eq!(hours(&again, "resolution_time"), (71.0, 14.0), "the new calendar alone would say 14 h");
        again.keep_durations(&recorded.spans);
        assert_eq!(again.spans, recorded.spans);
    }

    /// `t` resolved once, never appealed.
    fn t0_resolved(t: &Ticket) -> Ticket {
        Ticket { appeal_count: 0, status: "resolved".into(), ..t.clone() }
    }

    #[test]
    fn first_contact_and_one_touch_need_the_first_owner_alone() {
        let w = World::new(Calendar::defaults());
        let mut t = crate::ticket::sample(TicketType::Consultation, Priority::Normal);
        t.created_at = at(27, 10);
        t.status = "resolved".into();
        t.resolved_at = Some(at(27, 10));
        t.satisfaction = Some(4);
        t.nps = Some(6);
        let done = vec![
            ev(1, at(27, 10), "create", 1, "", "accepted"),
            ev(2, at(27, 10), "resolve", 1, "accepted", "resolved"),
        ];
        let f = w.facts(&t, &done);
        assert!(f.first_contact && f.one_touch && f.resolved_in_limit && f.satisfied, "{f:?}");
        assert_eq!((f.rating, f.recommend), (Some(4), Some(6)));
        // Reopened by an appeal and resolved again: neither any more, and the last resolution counts.
        t.appeal_count = 1;
        t.resolved_at = Some(at(30, 10));
        let mut again = done.clone();
        again.push(ev(3, at(28, 10), "appeal", 1, "resolved", "in_progress"));
        again.push(ev(4, at(30, 10), "resolve", 1, "in_progress", "resolved"));
        let f = w.facts(&t, &again);
        assert!(!f.first_contact && f.reopened && f.appealed && !f.resolved_in_limit, "{f:?}");
        assert_eq!(f.resolved_at, Some(at(30, 10)));
        // Open again: not resolved at all.
        t.status = "in_progress".into();
        let f = w.facts(&t, &again[..3]);
        assert!(f.open && f.resolved_at.is_none() && !f.first_contact);
        // Dispatched to themselves: still one touch; to someone else: not.
        let mut own = done.clone();
        own.insert(
            1,
            AuditEvent {
                after: json!({"status": "dispatched", "assignee": 1}),
                ..ev(5, at(27, 10), "dispatch", 1, "accepted", "dispatched")
            },
        );
        assert!(w.facts(&t0_resolved(&t), &own).one_touch);
        own[1].after["assignee"] = json!(2);
        assert!(!w.facts(&t0_resolved(&t), &own).one_touch);
        // Transferred: not first contact.
        let mut moved = weekend_fault();
        moved.1.insert(3, ev(9, at(27, 12), "transfer", 2, "in_progress", "transfer_pending"));
        assert!(w.facts(&moved.0, &moved.1).transferred);
    }

    #[test]
    fn deadlines_due_count_met_or_not_and_withdrawn_is_marked() {
        let w = World::new(Calendar::defaults());
        let (mut t, events) = weekend_fault();
        let d = |kind: &str, due: DateTime<Utc>, phase: Phase, met: Option<DateTime<Utc>>| crate::sla::Deadline {
            kind: kind.into(),
            label_zh: kind.into(),
            started_at: at(27, 10),
            due_at: due,
            warn_at: due,
            phase,
            met_at: met,
            paused_at: None,
            paused_secs: 0,
            warned: false,
            escalations: 0,
        };
        t.deadlines = vec![
            d("response", at(27, 12), Phase::Met, Some(at(27, 11))),
            d("resolution", at(28, 10), Phase::Met, Some(at(30, 10))),
            d("visit", at(30, 10), Phase::Running, None),
            d("later", at(30, 14), Phase::Running, None),
        ];
        let f = w.facts(&t, &events);
        let outcomes: Vec<(&str, bool)> = f.deadlines.iter().map(|o| (o.kind.as_str(), o.met)).collect();
        assert_eq!(outcomes, [("response", true), ("resolution", false), ("visit", false)]);
        assert!(f.breached);
        t.status = "withdrawn".into();
        assert!(w.facts(&t, &events).withdrawn);
    }
}
