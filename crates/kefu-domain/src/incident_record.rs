//! The major incident as kept: its document, the public progress
//! notes, the notice batches to customers, and its own audit chain (the
//! same SHA-256 chaining as a ticket's, over the incident's events).

use crate::audit::{GENESIS, canonical_json, canonical_time};
use crate::incident::{Kind, Scope, State};
use crate::{FieldError, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// How a ticket names the incident it is linked to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IncidentRef {
    pub id: i64,
    pub number: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    Major,
    Minor,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Critical, Severity::Major, Severity::Minor];

    pub fn code(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Major => "major",
            Severity::Minor => "minor",
        }
    }

    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Severity::Critical => ("特别重大", "Critical"),
            Severity::Major => ("重大", "Major"),
            Severity::Minor => ("较大", "Minor"),
        }
    }

    pub fn parse(raw: &str, field: &str) -> Result<Severity, FieldError> {
        Severity::ALL.into_iter().find(|s| s.code() == raw.trim()).ok_or_else(|| {
            FieldError::new(
                field,
                format!("{field} is critical, major or minor"),
                "级别须为 critical（特别重大）、major（重大）或 minor（较大）",
            )
        })
    }
}

/// A public progress note: what agents read to callers and, by the sync
/// rules, what linked tickets show their customers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub at: DateTime<Utc>,
    pub by: UserId,
    pub by_name: String,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchState {
    /// Above the policy's threshold: waits for a second person.
    AwaitingApproval,
    /// Being fanned out to the children's customers.
    Sending,
    /// Every child linked so far has it; children linked later get it too.
    Sent,
}

impl BatchState {
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            BatchState::AwaitingApproval => ("待审批", "Awaiting approval"),
            BatchState::Sending => ("发送中", "Sending"),
            BatchState::Sent => ("已发出", "Sent"),
        }
    }
}

/// One notice to the incident's customers. Its key is what makes a
/// customer get it once: the store keeps one row per (incident, key, customer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoticeBatch {
    /// `n1`, `n2` … in the order requested.
    pub key: String,
    pub text: String,
    /// `sms`: every customer has a phone number.
    pub channel: String,
    pub state: BatchState,
    /// Customers it would reach when requested.
    pub planned: u32,
    pub requested_by: UserId,
    pub requested_at: DateTime<Utc>,
    #[serde(default)]
    pub approved_by: Option<UserId>,
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
}

/// An emergency plan started from the incident, and its steps checked off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaybookRun {
    pub key: String,
    pub started_at: DateTime<Utc>,
    pub started_by: UserId,
    #[serde(default)]
    pub checks: Vec<StepCheck>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepCheck {
    pub step: String,
    pub at: DateTime<Utc>,
    pub by: UserId,
    pub by_name: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// Who approved the compensation proposals, when, and what they came to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    pub by: UserId,
    pub at: DateTime<Utc>,
    pub rows: u32,
    /// The credits kefu could compute (fixed and capped ones), in fen;
    /// pro-rata waivers are the billing system's fee × the row's share.
    pub total_fen: i64,
}

/// The incident as kept (document of the `incidents` row).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: i64,
    pub number: String,
    pub kind: Kind,
    pub title: String,
    pub scope: Scope,
    pub severity: Severity,
    pub state: State,
    pub owner: Option<UserId>,
    pub started_at: DateTime<Utc>,
    /// The estimated end (预计恢复时间), told to callers.
    pub eta: Option<DateTime<Utc>>,
    /// The actual end, set on restore.
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub notes: Vec<Note>,
    /// What the repair was; copied to the children on restore.
    pub resolution: Option<String>,
    #[serde(default)]
    pub notices: Vec<NoticeBatch>,
    /// The spike alarm it was confirmed from, if any (its bucket).
    #[serde(default)]
    pub from_alarm: Option<String>,
    /// The compensation proposals as approved; the rows themselves are in
    /// the chain's `compensation_approved` event, which the export reads.
    #[serde(default)]
    pub compensation: Option<Approval>,
    /// The emergency plan run for it, if one was started.
    #[serde(default)]
    pub playbook: Option<PlaybookRun>,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Incident {
    pub fn as_ref(&self) -> IncidentRef {
        IncidentRef { id: self.id, number: self.number.clone() }
    }

    pub fn window(&self) -> crate::incident::Window {
        crate::incident::Window { started_at: self.started_at, ended_at: self.ended_at, state: self.state }
    }

    pub fn batch(&self, key: &str) -> Option<&NoticeBatch> {
        self.notices.iter().find(|b| b.key == key)
    }

    /// The key the next notice batch gets.
    pub fn next_batch_key(&self) -> String {
        format!("n{}", self.notices.len() + 1)
    }
}

/// One event of an incident's chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentEvent {
    pub incident_id: i64,
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: Option<UserId>,
    pub actor_name: String,
    pub action: String,
    pub data: Value,
    pub prev_hash: String,
    pub hash: String,
}

impl IncidentEvent {
    /// The next event after `prev` (None: the first) and sealed.
    pub fn seal(
        incident_id: i64,
        prev: Option<(i64, &str)>,
        at: DateTime<Utc>,
        actor: Option<UserId>,
        actor_name: &str,
        action: &str,
        data: Value,
    ) -> IncidentEvent {
        let (seq, prev_hash) = prev.map_or((1, GENESIS), |(s, h)| (s + 1, h));
        let at = DateTime::parse_from_rfc3339(&canonical_time(at)).map_or(at, |t| t.with_timezone(&Utc));
        let mut e = IncidentEvent {
            incident_id,
            seq,
            at,
            actor,
            actor_name: actor_name.to_string(),
            action: action.to_string(),
            data,
            prev_hash: prev_hash.to_string(),
            hash: String::new(),
        };
        e.hash = e.compute_hash();
        e
    }

    pub fn compute_hash(&self) -> String {
        let body = json!({
            "incident_id": self.incident_id,
            "seq": self.seq,
            "at": canonical_time(self.at),
            "actor": self.actor,
            "actor_name": self.actor_name,
            "action": self.action,
            "data": self.data,
            "prev_hash": self.prev_hash,
        });
        Sha256::digest(canonical_json(&body).as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Checks an incident's events in `seq` order; the first broken seq.
pub fn verify_events(events: &[IncidentEvent]) -> Result<(), i64> {
    let mut prev = GENESIS.to_string();
    for (i, e) in events.iter().enumerate() {
        if e.seq != i as i64 + 1 || e.prev_hash != prev || e.compute_hash() != e.hash {
            return Err(i as i64 + 1);
        }
        prev = e.hash.clone();
    }
    if events.is_empty() { Err(1) } else { Ok(()) }
}

/// A record's number: letters (`ZD` a major incident, `AQ` a security
/// one) + the Shanghai day + a three-digit count of the day.
pub fn number(prefix: &str, day: chrono::NaiveDate, n: i64) -> String {
    format!("{prefix}{}{n:03}", day.format("%Y%m%d"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(m: i64) -> DateTime<Utc> {
        chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 20, 1, 0, 0).unwrap() + chrono::Duration::minutes(m)
    }

    #[test]
    fn the_chain_breaks_where_it_was_touched() {
        let first = IncidentEvent::seal(7, None, at(0), Some(UserId(1)), "王主管", "create", json!({"title": "断纤"}));
        let second = IncidentEvent::seal(
            7,
            Some((first.seq, &first.hash)),
            at(5),
            Some(UserId(1)),
            "王主管",
            "confirm",
            json!({}),
        );
        let third = IncidentEvent::seal(7, Some((2, &second.hash)), at(9), None, "kefu", "link", json!({"n": 3}));
        let mut chain = vec![first, second, third];
        assert_eq!(verify_events(&chain), Ok(()));
        chain[1].data = json!({"forged": true});
        assert_eq!(verify_events(&chain), Err(2));
        chain.remove(1);
        assert_eq!(verify_events(&chain), Err(2));
        assert_eq!(verify_events(&[]), Err(1));
    }

    #[test]
    fn numbers_and_labels() {
        assert_eq!(number("ZD", chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(), 7), "ZD20261201007");
        assert_eq!(Severity::parse("major ", "severity").unwrap(), Severity::Major);
        assert_eq!(Severity::parse("huge", "severity").unwrap_err().field, "severity");
        assert_eq!(BatchState::AwaitingApproval.label().0, "待审批");
    }
}
