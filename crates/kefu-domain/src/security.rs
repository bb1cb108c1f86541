//! Information-security incidents (信息安全事件, R-44): personal data
//! exposed, disclosed to the wrong person, a lost device, access beyond a
//! role — recorded with what they touched, contained step by step, the
//! regulator and the affected customers told within the policy's hours, and
//! closed only when what was due was done. Pure rules; the service keeps
//! the register (restricted) and its audit chain.

use crate::incident_record::{Note, Severity};
use crate::{FieldError, UserId};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    DataExposure,
    WrongDisclosure,
    LostDevice,
    UnauthorizedAccess,
    Other,
}

impl Kind {
    pub const ALL: [Kind; 5] =
        [Kind::DataExposure, Kind::WrongDisclosure, Kind::LostDevice, Kind::UnauthorizedAccess, Kind::Other];

    pub fn code(self) -> &'static str {
        match self {
            Kind::DataExposure => "data_exposure",
            Kind::WrongDisclosure => "wrong_disclosure",
            Kind::LostDevice => "lost_device",
            Kind::UnauthorizedAccess => "unauthorized_access",
            Kind::Other => "other",
        }
    }

    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Kind::DataExposure => ("数据泄露", "Data exposure"),
            Kind::WrongDisclosure => ("错误披露", "Disclosed to the wrong person"),
            Kind::LostDevice => ("设备丢失", "Lost device"),
            Kind::UnauthorizedAccess => ("越权访问", "Access beyond a role"),
            Kind::Other => ("其他", "Other"),
        }
    }

    pub fn parse(raw: &str, field: &str) -> Result<Kind, FieldError> {
        Kind::ALL.into_iter().find(|k| k.code() == raw.trim()).ok_or_else(|| {
            FieldError::new(
                field,
                format!("{field} is data_exposure, wrong_disclosure, lost_device, unauthorized_access or other"),
                "类型须为 data_exposure（数据泄露）、wrong_disclosure（错误披露）、lost_device（设备丢失）、unauthorized_access（越权访问）或 other（其他）",
            )
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Reported,
    Contained,
    Closed,
}

impl State {
    pub fn code(self) -> &'static str {
        match self {
            State::Reported => "reported",
            State::Contained => "contained",
            State::Closed => "closed",
        }
    }

    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            State::Reported => ("已报告", "Reported"),
            State::Contained => ("已控制", "Contained"),
            State::Closed => ("已关闭", "Closed"),
        }
    }
}

/// A notification owed: when by, when done, its reference (the
/// regulator's receipt number, how customers were told).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Duty {
    pub due_at: Option<DateTime<Utc>>,
    pub done_at: Option<DateTime<Utc>>,
    pub reference: Option<String>,
}

impl Duty {
    /// Owed and not done by `now`, past its time.
    pub fn overdue(&self, now: DateTime<Utc>) -> bool {
        self.done_at.is_none() && self.due_at.is_some_and(|d| now > d)
    }

    /// Owed and not done yet.
    pub fn open(&self) -> bool {
        self.due_at.is_some() && self.done_at.is_none()
    }
}

/// Notification deadlines, as policy. The defaults are to confirm with
/// the operator's security office against the rules it reports under
/// (the CAC's incident reporting measures: hours for major incidents).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityPolicy {
    /// Hours from discovery to report to the regulator, by severity; 0: not owed.
    pub regulator_hours_critical: u32,
    pub regulator_hours_major: u32,
    pub regulator_hours_minor: u32,
    /// Hours from discovery to tell the affected customers, when any are.
    pub customer_hours: u32,
}

impl Default for SecurityPolicy {
    fn default() -> Self {
        SecurityPolicy {
            regulator_hours_critical: 1,
            regulator_hours_major: 4,
            regulator_hours_minor: 0,
            customer_hours: 72,
        }
    }
}

impl SecurityPolicy {
    /// What is owed for an incident of this severity discovered at `at`.
    pub fn duties(&self, severity: Severity, at: DateTime<Utc>, customers: u32) -> (Duty, Duty) {
        let hours = match severity {
            Severity::Critical => self.regulator_hours_critical,
            Severity::Major => self.regulator_hours_major,
            Severity::Minor => self.regulator_hours_minor,
        };
        let due = |h: u32| (h > 0).then(|| at + Duration::hours(i64::from(h)));
        let regulator = Duty { due_at: due(hours), ..Default::default() };
        let customers =
            Duty { due_at: if customers > 0 { due(self.customer_hours) } else { None }, ..Default::default() };
        (regulator, customers)
    }
}

/// The register's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityIncident {
    pub id: i64,
    pub number: String,
    pub kind: Kind,
    pub severity: Severity,
    pub title: String,
    pub description: String,
    pub discovered_at: DateTime<Utc>,
    /// Records (customers' files, tickets) touched, as far as known.
    pub affected_records: u32,
    pub affected_customers: u32,
    /// Ticket numbers concerned.
    #[serde(default)]
    pub tickets: Vec<String>,
    /// Access-log entries that show it (who saw what, when).
    #[serde(default)]
    pub access_entries: Vec<i64>,
    /// Containment steps taken, in order.
    #[serde(default)]
    pub containment: Vec<Note>,
    pub regulator: Duty,
    pub customers: Duty,
    pub state: State,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Why the record may not close yet, if anything: not contained, or a
/// notification owed and not done.
pub fn may_close(i: &SecurityIncident) -> Result<(), (String, String)> {
    if i.state != State::Contained {
        return Err(("contain it first".into(), "须先控制事态".into()));
    }
    if i.regulator.open() {
        return Err(("the regulator has not been told".into(), "尚未向监管部门报告".into()));
    }
    if i.customers.open() {
        return Err(("the affected customers have not been told".into(), "尚未告知受影响客户".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: i64) -> DateTime<Utc> {
        chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 12, 1, 2, 0, 0).unwrap() + Duration::hours(h)
    }

    #[test]
    fn duties_follow_severity_and_who_was_touched() {
        let p = SecurityPolicy::default();
        let (reg, cust) = p.duties(Severity::Major, at(0), 12);
        assert_eq!((reg.due_at, cust.due_at), (Some(at(4)), Some(at(72))));
        let (reg, cust) = p.duties(Severity::Minor, at(0), 0);
        assert_eq!((reg.due_at, cust.due_at), (None, None), "a minor one with no customers owes nothing");
        assert!(reg.due_at.is_none() && !reg.overdue(at(100)));
        let (reg, _) = p.duties(Severity::Critical, at(0), 0);
        assert!(reg.overdue(at(2)) && !reg.overdue(at(1)));
        assert_eq!(crate::policy::Policy::defaults().security_incidents, p);
        assert_eq!(Kind::parse("lost_device", "kind").unwrap().label().0, "设备丢失");
        assert_eq!(Kind::parse("fire", "kind").unwrap_err().field, "kind");
    }

    #[test]
    fn closing_needs_containment_and_every_notification_owed() {
        let p = SecurityPolicy::default();
        let (regulator, customers) = p.duties(Severity::Major, at(0), 3);
        let mut i = SecurityIncident {
            id: 1,
            number: "AQ20261201001".into(),
            kind: Kind::WrongDisclosure,
            severity: Severity::Major,
            title: "工单回复发错客户".into(),
            description: String::new(),
            discovered_at: at(0),
            affected_records: 3,
            affected_customers: 3,
            tickets: vec![],
            access_entries: vec![],
            containment: vec![],
            regulator,
            customers,
            state: State::Reported,
            created_by: UserId(1),
            created_at: at(0),
            updated_at: at(0),
        };
        assert!(may_close(&i).unwrap_err().1.contains("控制"));
        i.state = State::Contained;
        assert!(may_close(&i).unwrap_err().1.contains("监管"));
        i.regulator.done_at = Some(at(3));
        assert!(may_close(&i).unwrap_err().1.contains("客户"));
        i.customers.done_at = Some(at(5));
        assert_eq!(may_close(&i), Ok(()));
    }
}
