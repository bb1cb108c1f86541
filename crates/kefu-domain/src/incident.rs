//! Major incidents (重大故障, R-55): an outage, planned maintenance or a
//! degradation over a scope (regions, services, network elements), with its
//! own flow — detected → confirmed → notifying → repairing → restored →
//! closed — and the rules that link tickets to it and copy its news to them.
//! Pure rules; the service keeps the records, the clock and the notices.

use crate::ticket::Ticket;
use crate::{FieldError, TicketType};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Outage,
    Maintenance,
    Degradation,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Outage, Kind::Maintenance, Kind::Degradation];

    pub fn code(self) -> &'static str {
        match self {
            Kind::Outage => "outage",
            Kind::Maintenance => "maintenance",
            Kind::Degradation => "degradation",
        }
    }

    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Kind::Outage => ("故障中断", "Unplanned outage"),
            Kind::Maintenance => ("计划维护", "Planned maintenance"),
            Kind::Degradation => ("性能劣化", "Degradation"),
        }
    }

    pub fn parse(raw: &str, field: &str) -> Result<Kind, FieldError> {
        Kind::ALL.into_iter().find(|k| k.code() == raw.trim()).ok_or_else(|| {
            FieldError::new(
                field,
                format!("{field} is outage, maintenance or degradation"),
                "类型须为 outage（故障中断）、maintenance（计划维护）或 degradation（性能劣化）",
            )
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Detected,
    Confirmed,
    Notifying,
    Repairing,
    Restored,
    Closed,
}

impl State {
    pub const ALL: [State; 6] =
        [State::Detected, State::Confirmed, State::Notifying, State::Repairing, State::Restored, State::Closed];

    pub fn code(self) -> &'static str {
        match self {
            State::Detected => "detected",
            State::Confirmed => "confirmed",
            State::Notifying => "notifying",
            State::Repairing => "repairing",
            State::Restored => "restored",
            State::Closed => "closed",
        }
    }

    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            State::Detected => ("已发现", "Detected"),
            State::Confirmed => ("已确认", "Confirmed"),
            State::Notifying => ("通知中", "Notifying"),
            State::Repairing => ("抢修中", "Repairing"),
            State::Restored => ("已恢复", "Restored"),
            State::Closed => ("已关闭", "Closed"),
        }
    }

    /// Still affecting customers: new tickets link to it.
    pub fn active(self) -> bool {
        !matches!(self, State::Restored | State::Closed)
    }
}

/// What moves an incident along.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Confirm,
    /// Start telling the customers (a notice batch).
    Notify,
    /// The notice batch is out: the repair goes on.
    Notified,
    Restore,
    Close,
}

impl Action {
    pub const ALL: [Action; 5] = [Action::Confirm, Action::Notify, Action::Notified, Action::Restore, Action::Close];

    pub fn code(self) -> &'static str {
        match self {
            Action::Confirm => "confirm",
            Action::Notify => "notify",
            Action::Notified => "notified",
            Action::Restore => "restore",
            Action::Close => "close",
        }
    }
}

/// The state after `action`, or the error naming why not.
pub fn next(state: State, action: Action) -> Result<State, (String, String)> {
    use State::*;
    let to = match (state, action) {
        (Detected, Action::Confirm) => Confirmed,
        // Telling customers again (progress) is allowed while it lasts.
        (Confirmed | Notifying | Repairing, Action::Notify) => Notifying,
        (Notifying, Action::Notified) => Repairing,
        (Confirmed | Notifying | Repairing, Action::Restore) => Restored,
        (Restored, Action::Close) => Closed,
        _ => {
            let (zh, en) = state.label();
            return Err((
                format!("'{}' is not possible while the incident is {en}", action.code()),
                format!("事件处于“{zh}”状态，不能执行“{}”", action.code()),
            ));
        }
    };
    Ok(to)
}

/// Where an incident bites: every non-empty list must be met by a ticket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scope {
    /// Districts or cities, found in the ticket's location or the customer's address.
    pub regions: Vec<String>,
    /// Business lines (宽带, IPTV, 移动 …): the ticket's, or named in its text.
    pub services: Vec<String>,
    /// Network elements (an OLT, a port, a cell): named in the ticket's text.
    /// They narrow nothing when regions or services are given — customers
    /// rarely know their OLT — and are the whole scope otherwise.
    pub elements: Vec<String>,
}

impl Scope {
    pub fn is_empty(&self) -> bool {
        self.regions.is_empty() && self.services.is_empty() && self.elements.is_empty()
    }

    /// Whether the ticket lies in the scope.
    pub fn covers(&self, t: &Ticket) -> bool {
        if self.is_empty() {
            return false;
        }
        let place = format!("{} {}", t.location.as_deref().unwrap_or(""), t.customer.address.as_deref().unwrap_or(""));
        let text = format!("{} {} {}", t.title, t.description, t.location.as_deref().unwrap_or(""));
        let region = self.regions.is_empty() || self.regions.iter().any(|r| place.contains(r.as_str()));
        let service = self.services.is_empty()
            || self
                .services
                .iter()
                .any(|s| t.business_line.as_deref() == Some(s.as_str()) || text.contains(s.as_str()));
        let element = !(self.regions.is_empty() && self.services.is_empty())
            || self.elements.iter().any(|e| text.contains(e.as_str()));
        region && service && element
    }
}

/// What an incident copies to its children (as policy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncRules {
    /// Public progress notes become customer-visible notes on each child.
    pub public_note: bool,
    /// Restoring the incident resolves each open child with its resolution.
    pub resolution: bool,
}

impl Default for SyncRules {
    fn default() -> Self {
        SyncRules { public_note: true, resolution: true }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IncidentPolicy {
    /// Ticket types linked automatically.
    pub link_types: Vec<TicketType>,
    /// Tickets registered this long before the incident's start still link
    /// (customers call before the network team declares it).
    pub link_before_minutes: u32,
    pub sync: SyncRules,
    /// A notice batch to more customers than this needs a second person's approval.
    pub approval_above: u32,
    /// How old a node's list of active incidents (matched at intake) may be;
    /// tickets registered meanwhile are linked by the sweep.
    pub refresh_seconds: u32,
}

impl Default for IncidentPolicy {
    fn default() -> Self {
        IncidentPolicy {
            link_types: vec![TicketType::Fault, TicketType::Complaint],
            link_before_minutes: 60,
            sync: SyncRules::default(),
            approval_above: 500,
            refresh_seconds: 5,
        }
    }
}

/// What linking needs to know of an incident.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub started_at: DateTime<Utc>,
    /// The actual end, once restored.
    pub ended_at: Option<DateTime<Utc>>,
    pub state: State,
}

/// Whether a ticket links to the incident automatically: an open ticket of a
/// linked type, registered within the incident's window, in its scope.
pub fn links(policy: &IncidentPolicy, scope: &Scope, w: Window, t: &Ticket) -> bool {
    let from = w.started_at - Duration::minutes(i64::from(policy.link_before_minutes));
    let before_end = w.ended_at.is_none_or(|end| t.created_at <= end);
    w.state.active()
        && t.open
        && policy.link_types.contains(&t.ticket_type)
        && t.created_at >= from
        && before_end
        && scope.covers(t)
}

/// Whether the incident's news may change a child: never one whose
/// customer already confirmed the result, nor one closed or archived.
pub fn may_sync(child: &Ticket) -> bool {
    child.open && child.archived_at.is_none() && child.customer_loop.confirmed_at.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket() -> Ticket {
        crate::ticket::sample(TicketType::Fault, crate::Priority::Urgent)
    }

    fn at(h: i64) -> DateTime<Utc> {
        chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 20, 0, 0, 0).unwrap() + Duration::hours(h)
    }

    #[test]
    fn the_flow_goes_one_way() {
        use State::*;
        assert_eq!(next(Detected, Action::Confirm), Ok(Confirmed));
        assert_eq!(next(Confirmed, Action::Notify), Ok(Notifying));
        assert_eq!(next(Notifying, Action::Notified), Ok(Repairing));
        assert_eq!(next(Repairing, Action::Notify), Ok(Notifying), "progress is told again");
        assert_eq!(next(Repairing, Action::Restore), Ok(Restored));
        assert_eq!(next(Restored, Action::Close), Ok(Closed));
        for (s, a) in [
            (Detected, Action::Notify),
            (Detected, Action::Restore),
            (Restored, Action::Notify),
            (Closed, Action::Close),
            (Confirmed, Action::Close),
        ] {
            let (en, zh) = next(s, a).unwrap_err();
            assert!(en.contains(a.code()) && zh.contains(s.label().0), "{en} / {zh}");
        }
        assert!(Repairing.active() && !Restored.active());
        assert_eq!(Kind::parse(" maintenance", "type").unwrap(), Kind::Maintenance);
        assert_eq!(Kind::parse("fire", "type").unwrap_err().field, "type");
    }

    #[test]
    fn scope_needs_every_list_given() {
        let mut t = ticket();
        t.location = Some("北京市朝阳区望京街道".into());
        t.business_line = Some("宽带".into());
        let scope = |r: &[&str], s: &[&str], e: &[&str]| Scope {
            regions: r.iter().map(|x| x.to_string()).collect(),
            services: s.iter().map(|x| x.to_string()).collect(),
            elements: e.iter().map(|x| x.to_string()).collect(),
        };
        assert!(scope(&["朝阳区"], &[], &[]).covers(&t));
        assert!(scope(&["朝阳区"], &["宽带"], &["OLT-CY-07"]).covers(&t), "elements do not narrow a region");
        assert!(!scope(&["海淀区"], &["宽带"], &[]).covers(&t));
        assert!(!scope(&["朝阳区"], &["IPTV"], &[]).covers(&t));
        assert!(!scope(&[], &[], &["OLT-CY-07"]).covers(&t), "an element alone must be named");
        t.description = "光猫LOS红灯，师傅说是OLT-CY-07故障".into();
        assert!(scope(&[], &[], &["OLT-CY-07"]).covers(&t));
        assert!(!Scope::default().covers(&t), "an empty scope covers nothing");
    }

    #[test]
    fn tickets_link_within_the_window_by_type_and_while_active() {
        let p = IncidentPolicy::default();
        let scope = Scope { regions: vec!["朝阳区".into()], ..Default::default() };
        let mut t = ticket();
        t.location = Some("朝阳区".into());
        t.ticket_type = TicketType::Fault;
        let w = Window { started_at: at(10), ended_at: None, state: State::Repairing };
        t.created_at = at(9);
        assert!(links(&p, &scope, w, &t), "an hour before the start still links");
        t.created_at = at(8);
        assert!(!links(&p, &scope, w, &t));
        t.created_at = at(12);
        assert!(links(&p, &scope, w, &t));
        assert!(!links(&p, &scope, Window { state: State::Restored, ..w }, &t));
        assert!(!links(&p, &scope, Window { ended_at: Some(at(11)), ..w }, &t), "after the end");
        let consultation = Ticket { ticket_type: TicketType::Consultation, ..t.clone() };
        assert!(!links(&p, &scope, w, &consultation));
        let closed = Ticket { open: false, ..t.clone() };
        assert!(!links(&p, &scope, w, &closed));
    }

    #[test]
    fn a_confirmed_child_is_never_overwritten() {
        let mut t = ticket();
        assert!(may_sync(&t));
        t.customer_loop.confirmed_at = Some(at(3));
        assert!(!may_sync(&t));
        let archived = Ticket { archived_at: Some(at(4)), ..ticket() };
        assert!(!may_sync(&archived));
        let p = crate::policy::Policy::defaults();
        assert_eq!(p.incidents, IncidentPolicy::default());
    }
}
