//! The policy file: every rule and number the manuals leave to the operator.
//! Shipped defaults live in `policy/default.toml`; an operator's copy in the
//! config directory replaces them. A malformed file is refused with its line.

use crate::priority::PriorityPolicy;
use serde::{Deserialize, Serialize};

pub const DEFAULT_POLICY: &str = include_str!("../policy/default.toml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub priority: PriorityPolicy,
    #[serde(default)]
    pub security: SecurityPolicy,
    #[serde(default)]
    pub retention: RetentionPolicy,
    /// Search indexes and the knowledge base.
    #[serde(default)]
    pub search: SearchPolicy,
    /// Suggestions for a new ticket.
    #[serde(default)]
    pub suggest: SuggestPolicy,
    /// The smart first line.
    #[serde(default)]
    pub bot: crate::bot::BotPolicy,
    /// Time limits (R-10…R-13). Absent: no deadlines.
    #[serde(default)]
    pub sla: crate::sla::SlaPolicy,
    /// Absent: no authenticated endpoint is open to anyone.
    #[serde(default)]
    pub access: AccessPolicy,
    /// Absent: every personal field is masked for every role.
    #[serde(default)]
    pub privacy: crate::privacy::PrivacyPolicy,
    /// Dispatch rules, capacities, supervisor escalation.
    #[serde(default)]
    pub dispatch: crate::dispatch::DispatchPolicy,
    /// Result notice, confirmation, appeal, return visits (R-25…R-28).
    #[serde(default)]
    pub customer_loop: crate::customer_loop::LoopPolicy,
    /// Thresholds and targets of the KPIs (R-30; `metrics.rs`).
    #[serde(default)]
    pub reports: crate::metrics::ReportsPolicy,
    /// Scorecards, store grades and quotas, the assessment (R-31…R-33).
    #[serde(default)]
    pub quality: crate::quality::QualityPolicy,
    /// Service-interruption compensation rules.
    #[serde(default)]
    pub compensation: crate::compensation::CompensationPolicy,
    /// Spike warning thresholds.
    #[serde(default)]
    pub spike: crate::spike::SpikePolicy,
    /// Major incidents: linking, what children copy, notice approval.
    #[serde(default)]
    pub incidents: crate::incident::IncidentPolicy,
    /// Information-security incidents: notification hours.
    #[serde(default)]
    pub security_incidents: crate::security::SecurityPolicy,
    /// Business and unsubscribe orders: consent, approval, processing.
    #[serde(default)]
    pub orders: crate::order::OrderPolicy,
    /// Evidence files: sizes, counts, accepted kinds.
    #[serde(default)]
    pub attachments: crate::attachment::AttachmentPolicy,
    /// Messages customers send in: threading and new requests.
    #[serde(default)]
    pub inbound: crate::inbound::InboundPolicy,
    /// Webhook and TMF hub deliveries: retries, disabling (issue 22).
    #[serde(default)]
    pub webhooks: crate::events::WebhookPolicy,
}

/// Which roles may call which endpoint, keyed `"METHOD /path/{template}"`.
/// An endpoint the table does not name is closed to every role.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessPolicy {
    pub endpoints: std::collections::BTreeMap<String, Vec<crate::Role>>,
    /// Which relations to a ticket let each role see it (`[access.see]`);
    /// the shipped table when a policy file leaves it out.
    #[serde(default = "shipped_see")]
    pub see: RelationTable,
    /// Which relations let each role act on it (`[access.act]`).
    #[serde(default = "shipped_act")]
    pub act: RelationTable,
    /// Who keeps the shared macros (`shared_macros`); everyone the macro
    /// endpoints allow keeps their own.
    #[serde(default = "shipped_shared_macros")]
    pub shared_macros: Vec<crate::Role>,
}

fn shipped_shared_macros() -> Vec<crate::Role> {
    #[derive(Deserialize)]
    struct Shipped {
        access: Roles,
    }
    #[derive(Deserialize)]
    struct Roles {
        shared_macros: Vec<crate::Role>,
    }
    let s: Shipped = toml::from_str(DEFAULT_POLICY).expect("the shipped policy has access.shared_macros");
    s.access.shared_macros
}

pub type RelationTable = std::collections::BTreeMap<crate::Role, Vec<crate::access::Relation>>;

/// The need-to-know tables of the shipped policy.
fn shipped_tables() -> (RelationTable, RelationTable) {
    #[derive(Deserialize)]
    struct Shipped {
        access: Tables,
    }
    #[derive(Deserialize)]
    struct Tables {
        see: RelationTable,
        act: RelationTable,
    }
    let s: Shipped = toml::from_str(DEFAULT_POLICY).expect("the shipped policy has [access.see] and [access.act]");
    (s.access.see, s.access.act)
}

fn shipped_see() -> RelationTable {
    shipped_tables().0
}

fn shipped_act() -> RelationTable {
    shipped_tables().1
}

impl AccessPolicy {
    /// None: the endpoint has no rule (closed). Some(allowed?) otherwise.
    pub fn allows(&self, endpoint: &str, role: crate::Role) -> Option<bool> {
        self.endpoints.get(endpoint).map(|roles| roles.contains(&role))
    }
}

/// How long records are kept, counted from a ticket's archiving.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionPolicy {
    /// Tickets with their transfer and communication records.
    pub ticket_years: u32,
}

/// How suggestions for a new ticket behave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SuggestPolicy {
    /// Below this probability no type is suggested (the top three still are).
    pub type_min_confidence: f64,
    /// Below this the priority model gives way to the policy's rules.
    pub priority_min_confidence: f64,
    /// A node retrains when the store has grown by this many tickets.
    pub retrain_after: u32,
    /// The store's newest tickets learnt from, at most.
    pub max_examples: u32,
    /// Similar tickets shown.
    pub similar: u32,
}

impl Default for SuggestPolicy {
    fn default() -> Self {
        SuggestPolicy {
            type_min_confidence: 0.5,
            priority_min_confidence: 0.5,
            retrain_after: 200,
            max_examples: 20_000,
            similar: 5,
        }
    }
}

/// How search behaves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchPolicy {
    /// How old a node's view of the knowledge base may be before a search
    /// first reads what other nodes wrote (its own writes show at once).
    pub catch_up_seconds: u64,
    /// Hits a knowledge base search returns at most.
    pub max_hits: u32,
    /// Articles shown beside a ticket.
    pub related_articles: u32,
    /// Best matches of a ticket search that the list's other filters and
    /// the caller's access rules are applied to (the total counts those).
    pub ticket_candidates: u32,
    /// How late a ticket change may become visible to the feed after the
    /// time it carries (a slow transaction, another node's clock): the
    /// feed re-reads changes this recent, so none is missed.
    pub feed_settle_seconds: u64,
}

impl Default for SearchPolicy {
    fn default() -> Self {
        SearchPolicy {
            catch_up_seconds: 2,
            max_hits: 50,
            related_articles: 3,
            ticket_candidates: 1000,
            feed_settle_seconds: 10,
        }
    }
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy { ticket_years: 3 }
    }
}

impl RetentionPolicy {
    /// Until when a ticket must be kept: `ticket_years` after its archiving,
    /// or indefinitely (None) while it is not archived.
    pub fn ticket_kept_until(
        &self,
        archived_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        archived_at.map(|a| a.checked_add_months(chrono::Months::new(12 * self.ticket_years)).unwrap_or(a))
    }
}

/// Login protection (issue 4 hardening): the numbers are policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityPolicy {
    /// Wrong passwords (from anywhere, counted on every node) after which an
    /// account is guarded: only addresses it has logged in from may try.
    pub max_failed_logins: u32,
    /// How long an account stays guarded.
    pub lockout_minutes: u32,
    /// Login attempts one client address may make per minute, for any
    /// accounts (per node); a call centre behind one NAT address logs in
    /// together at shift start, so this is generous.
    pub login_attempts_per_minute: u32,
    /// Wrong passwords one address may send for one account before it has
    /// to wait; each further one doubles the wait, from
    /// `pair_first_delay_seconds` up to `pair_max_delay_seconds`.
    pub pair_free_failures: u32,
    pub pair_first_delay_seconds: u32,
    pub pair_max_delay_seconds: u32,
    /// Customer portal look-ups (ticket number + phone) one address may make
    /// per minute (per node).
    pub portal_lookups_per_minute: u32,
}

impl Default for SecurityPolicy {
    fn default() -> Self {
        SecurityPolicy {
            max_failed_logins: 20,
            lockout_minutes: 15,
            login_attempts_per_minute: 600,
            pair_free_failures: 3,
            pair_first_delay_seconds: 2,
            pair_max_delay_seconds: 900,
            portal_lookups_per_minute: 30,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("policy {source_name}: {message}")]
pub struct PolicyError {
    pub source_name: String,
    /// 1-based line of the error, when the parser knows it.
    pub line: Option<usize>,
    pub message: String,
}

impl Policy {
    pub fn parse(source_name: &str, text: &str) -> Result<Policy, PolicyError> {
        let policy: Policy = toml::from_str(text).map_err(|e| PolicyError {
            source_name: source_name.to_string(),
            line: e.span().map(|s| text[..s.start.min(text.len())].lines().count().max(1)),
            message: e.to_string(),
        })?;
        policy
            .sla
            .check()
            .and_then(|()| policy.dispatch.check())
            .and_then(|()| policy.customer_loop.check())
            .and_then(|()| policy.bot.check())
            .and_then(|()| policy.reports.check())
            .and_then(|()| policy.quality.check())
            .and_then(|()| policy.compensation.check())
            .and_then(|()| policy.spike.check())
            .and_then(|()| policy.attachments.check())
            .map_err(|message| PolicyError { source_name: source_name.to_string(), line: None, message })?;
        Ok(policy)
    }

    pub fn defaults() -> Policy {
        Policy::parse("default policy", DEFAULT_POLICY).expect("the shipped policy is valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Priority, TicketType};

    #[test]
    fn shipped_policy_derives_urgent_complaints_and_faults() {
        let p = Policy::defaults();
        assert_eq!(p.priority.derive(TicketType::Complaint, "x", "y", None), Priority::Urgent);
        assert_eq!(p.priority.derive(TicketType::Fault, "x", "y", None), Priority::Urgent);
        assert_eq!(p.priority.derive(TicketType::Consultation, "x", "要去工信部投诉", None), Priority::Urgent);
        assert_eq!(p.priority.derive(TicketType::Account, "x", "y", Some("VIP")), Priority::Important);
        assert_eq!(p.priority.derive(TicketType::Consultation, "x", "y", None), Priority::Normal);
    }

    #[test]
    fn malformed_policy_names_the_line() {
        let e = Policy::parse(
            "policy.toml",
            "[priority]\ndefault = \"normal\"\n\n[[priority.rules]]\npriority = \"asap\"\n",
        )
        .unwrap_err();
        assert_eq!(e.line, Some(5), "{e:?}");
        assert!(e.message.contains("asap"));
        assert!(Policy::parse("p", "[priority]\ndefault = \"normal\"\nsurprise = 1\n").is_err());
    }
}
