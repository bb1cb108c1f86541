//! Ticket events for the systems around kefu (issue 22): which of kefu's own
//! event types (webhooks, the NATS stream) and which TMF621 notifications an
//! audit event is, what of a change may leave kefu, the retry schedule of a
//! delivery and the TMF hub's query filter. Every change of a ticket is one
//! audit event and so at most one kefu event, identified by ticket and
//! sequence number (`evt_{ticket}_{seq}`): a receiver deduplicates by it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// kefu's event types with their Chinese labels.
pub const EVENT_TYPES: [(&str, &str); 9] = [
    ("ticket.created", "工单受理"),
    ("ticket.changed", "工单变更"),
    ("ticket.resolved", "工单办结"),
    ("ticket.archived", "工单归档"),
    ("sla.warning", "时限预警"),
    ("sla.breached", "时限超时"),
    ("incident.linked", "关联重大故障"),
    ("incident.unlinked", "解除重大故障关联"),
    ("survey.completed", "回访评价完成"),
];

/// TMF621's notification types.
pub const TMF_EVENT_TYPES: [&str; 6] = [
    "TroubleTicketCreateEvent",
    "TroubleTicketAttributeValueChangeEvent",
    "TroubleTicketStatusChangeEvent",
    "TroubleTicketResolvedEvent",
    "TroubleTicketDeleteEvent",
    "TroubleTicketInformationRequiredEvent",
];

/// The id of the event an audit event is: stable across retries, replays and nodes.
pub fn event_id(ticket: i64, seq: i64) -> String {
    format!("evt_{ticket}_{seq}")
}

/// The kefu event an audit event (`action`, its `data`) is, if any: the
/// watcher's routine checks that raise nothing are no event.
pub fn event_type(action: &str, data: &Value) -> Option<&'static str> {
    let levels = || data["alerts"].as_array().into_iter().flatten().filter_map(|a| a["level"].as_str());
    Some(match action {
        "create" => "ticket.created",
        "resolve" => "ticket.resolved",
        "archive" => "ticket.archived",
        "return_visit" => "survey.completed",
        "incident_link" => "incident.linked",
        "incident_unlink" => "incident.unlinked",
        "sla_check" => return None,
        "sla_alert" | "escalate" if levels().any(|l| l == "breach") => "sla.breached",
        "sla_alert" if levels().any(|l| l == "warning") => "sla.warning",
        "sla_alert" => return None,
        _ => "ticket.changed",
    })
}

/// The label of an event type, Chinese or English.
pub fn label(kind: &str, zh: bool) -> &str {
    match EVENT_TYPES.iter().find(|(k, _)| *k == kind) {
        Some((_, l)) if zh => l,
        _ => kind,
    }
}

/// Fields of a ticket whose change an event carries: states, handling and
/// times. Personal data (customer, title, description, address, result
/// text) never leaves in an event; a receiver reads the ticket through the
/// API with its own rights.
pub const SHARED_FIELDS: [&str; 16] = [
    "status",
    "priority",
    "ticket_type",
    "tier",
    "assignee",
    "team",
    "transfer_to",
    "supervised",
    "satisfaction",
    "nps",
    "appeal_count",
    "resolved_at",
    "archived_at",
    "incident",
    "visit",
    "updated_at",
];

/// The shared part of an audit event's before/after: `{field: {from, to}}`.
pub fn changes(before: &Value, after: &Value) -> Value {
    let mut out = Map::new();
    for f in SHARED_FIELDS {
        let (b, a) = (&before[f], &after[f]);
        if b != a && !(sealed(b) || sealed(a)) {
            out.insert(f.to_string(), serde_json::json!({"from": b, "to": a}));
        }
    }
    Value::Object(out)
}

/// A sealed value in the audit trail (`{"sealed": …}`): never sent.
fn sealed(v: &Value) -> bool {
    v.as_object().is_some_and(|m| m.contains_key("sealed") || m.contains_key("enc"))
}

/// The TMF621 notifications a change is, given the TMF status before and
/// after: creation; resolution; any other change of status (a ticket
/// withdrawn through `DELETE` is also a `TroubleTicketDeleteEvent`, one
/// suspended waits on information from outside: `…InformationRequiredEvent`);
/// else an attribute change. The watcher's routine checks are none.
pub fn tmf_event_types(action: &str, data: &Value, status: (&str, &str)) -> Vec<&'static str> {
    let (from, to) = status;
    let mut out = Vec::new();
    match action {
        "create" => return vec!["TroubleTicketCreateEvent"],
        "sla_check" => return out,
        "sla_alert" if event_type(action, data).is_none() => return out,
        _ => {}
    }
    if from != to {
        out.push(if to == "resolved" { "TroubleTicketResolvedEvent" } else { "TroubleTicketStatusChangeEvent" });
    } else {
        out.push("TroubleTicketAttributeValueChangeEvent");
    }
    if action == "withdraw" {
        out.push("TroubleTicketDeleteEvent");
    }
    if action == "suspend" {
        out.push("TroubleTicketInformationRequiredEvent");
    }
    out
}

/// A TMF hub's `query`: `eventType=A,B&status=resolved&severity=Major`
/// (the `event.troubleTicket.` prefix of a field is optional). Every term
/// must hold; a term's values are alternatives.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HubQuery {
    pub terms: Vec<(String, Vec<String>)>,
}

impl HubQuery {
    /// Parses a query; a term without `=` or naming no field is refused.
    pub fn parse(raw: &str) -> Result<HubQuery, String> {
        let mut terms = Vec::new();
        for part in raw.trim().trim_start_matches('?').split('&').filter(|p| !p.trim().is_empty()) {
            let Some((k, v)) = part.split_once('=') else {
                return Err(format!("'{part}' is not field=value"));
            };
            let key = k.trim().trim_start_matches("event.troubleTicket.").trim_start_matches("troubleTicket.");
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_') {
                return Err(format!("'{k}' is not a field"));
            }
            let values: Vec<String> = v.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect();
            if key == "eventType"
                && let Some(bad) = values.iter().find(|x| !TMF_EVENT_TYPES.contains(&x.as_str()))
            {
                return Err(format!("'{bad}' is not a TMF621 event type"));
            }
            terms.push((key.to_string(), values));
        }
        Ok(HubQuery { terms })
    }

    /// Whether an event of `event_type` about `ticket` (a TroubleTicket) passes.
    pub fn matches(&self, event_type: &str, ticket: &Value) -> bool {
        self.terms.iter().all(|(k, values)| {
            let have = if k == "eventType" { Value::String(event_type.into()) } else { path(ticket, k) };
            let have = match &have {
                Value::String(s) => s.clone(),
                Value::Null => return false,
                other => other.to_string(),
            };
            values.iter().any(|v| v.eq_ignore_ascii_case(&have))
        })
    }
}

fn path(v: &Value, dotted: &str) -> Value {
    dotted.split('.').fold(v.clone(), |v, k| v.get(k).cloned().unwrap_or(Value::Null))
}

/// `[webhooks]` of the policy: how deliveries are retried and when an
/// endpoint that keeps failing is switched off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookPolicy {
    /// Seconds to wait before each retry; after the last, the delivery is
    /// given up (kept in the log, replayable).
    pub retry_seconds: Vec<u32>,
    /// Consecutive failed attempts after which an endpoint is disabled.
    pub disable_after: u32,
    /// Seconds a receiver has to answer.
    pub timeout_seconds: u32,
    /// Days the delivery log and the delivered events are kept.
    pub keep_days: u32,
    /// Events handed out per round of the fan-out.
    pub batch: u32,
}

impl Default for WebhookPolicy {
    fn default() -> Self {
        // The Standard Webhooks schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
        WebhookPolicy {
            retry_seconds: vec![5, 300, 1800, 7200, 18000, 36000, 36000],
            disable_after: 20,
            timeout_seconds: 10,
            keep_days: 30,
            batch: 200,
        }
    }
}

impl WebhookPolicy {
    /// Seconds until the next try after `attempts` failed ones; `None`: give up.
    pub fn retry_after(&self, attempts: u32) -> Option<u32> {
        self.retry_seconds.get(attempts.saturating_sub(1) as usize).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_audit_action_is_one_event_or_none() {
        assert_eq!(event_type("create", &json!({})), Some("ticket.created"));
        assert_eq!(event_type("resolve", &json!({})), Some("ticket.resolved"));
        assert_eq!(event_type("archive", &json!({})), Some("ticket.archived"));
        assert_eq!(event_type("return_visit", &json!({})), Some("survey.completed"));
        assert_eq!(event_type("incident_link", &json!({})), Some("incident.linked"));
        assert_eq!(event_type("dispatch", &json!({})), Some("ticket.changed"));
        assert_eq!(event_type("sla_check", &json!({})), None);
        assert_eq!(event_type("sla_alert", &json!({"alerts": []})), None);
        assert_eq!(event_type("sla_alert", &json!({"alerts": [{"level": "warning"}]})), Some("sla.warning"));
        let both = json!({"alerts": [{"level": "warning"}, {"level": "breach"}]});
        assert_eq!(event_type("sla_alert", &both), Some("sla.breached"));
        assert_eq!(event_type("escalate", &both), Some("sla.breached"));
        assert_eq!(event_type("escalate", &json!({})), Some("ticket.changed"));
        assert!(EVENT_TYPES.iter().all(|(k, _)| label(k, true) != *k));
    }

    #[test]
    fn changes_carry_shared_fields_only_and_never_sealed_values() {
        let before = json!({"status": "dispatched", "title": "a", "assignee": 3, "customer": {"name": "张三"}});
        let after = json!({"status": "in_progress", "title": "b", "assignee": 3, "priority": {"sealed": "x"}});
        assert_eq!(changes(&before, &after), json!({"status": {"from": "dispatched", "to": "in_progress"}}));
    }

    #[test]
    fn tmf_notifications_follow_the_status() {
        assert_eq!(tmf_event_types("create", &json!({}), ("", "acknowledged")), ["TroubleTicketCreateEvent"]);
        assert_eq!(tmf_event_types("resolve", &json!({}), ("inProgress", "resolved")), ["TroubleTicketResolvedEvent"]);
        assert_eq!(
            tmf_event_types("start", &json!({}), ("acknowledged", "inProgress")),
            ["TroubleTicketStatusChangeEvent"]
        );
        assert_eq!(
            tmf_event_types("transfer", &json!({}), ("inProgress", "inProgress")),
            ["TroubleTicketAttributeValueChangeEvent"]
        );
        assert_eq!(
            tmf_event_types("withdraw", &json!({}), ("acknowledged", "cancelled")),
            ["TroubleTicketStatusChangeEvent", "TroubleTicketDeleteEvent"]
        );
        assert_eq!(
            tmf_event_types("suspend", &json!({}), ("inProgress", "pending")),
            ["TroubleTicketStatusChangeEvent", "TroubleTicketInformationRequiredEvent"]
        );
        assert!(tmf_event_types("sla_check", &json!({}), ("inProgress", "inProgress")).is_empty());
    }

    #[test]
    fn hub_queries_filter_on_event_type_and_ticket_fields() {
        let q = HubQuery::parse(
            "eventType=TroubleTicketStatusChangeEvent,TroubleTicketResolvedEvent&event.troubleTicket.severity=major",
        )
        .unwrap();
        let t = json!({"severity": "Major", "status": "resolved", "channel": {"id": "hotline"}});
        assert!(q.matches("TroubleTicketResolvedEvent", &t));
        assert!(!q.matches("TroubleTicketCreateEvent", &t));
        assert!(!q.matches("TroubleTicketResolvedEvent", &json!({"severity": "Minor"})));
        assert!(HubQuery::parse("channel.id=hotline").unwrap().matches("TroubleTicketCreateEvent", &t));
        assert!(HubQuery::parse("").unwrap().matches("anything", &t));
        assert!(HubQuery::parse("status").is_err());
        assert!(HubQuery::parse("eventType=TicketGone").is_err());
        assert!(HubQuery::parse("a b=c").is_err());
    }

    #[test]
    fn retries_follow_the_schedule_then_stop() {
        let p = WebhookPolicy::default();
        assert_eq!(p.retry_after(1), Some(5));
        assert_eq!(p.retry_after(7), Some(36000));
        assert_eq!(p.retry_after(8), None);
    }
}
