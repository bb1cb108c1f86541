//! TM Forum TMF621 Trouble Ticket (v4.0.0) as an adapter over kefu's own
//! model, which stays the Chinese operator's: a ticket as the caller may see
//! it (masked for their role) rendered as a `TroubleTicket`. The mapping,
//! also in the README:
//!
//! | TMF621 | kefu |
//! | --- | --- |
//! | `id`, `href` | the ticket id, `/tmf-api/troubleTicket/v4/troubleTicket/{id}` |
//! | `externalId` | the ticket number (`GD…`) |
//! | `name`, `description` | title, description |
//! | `ticketType` | the type code (`fault`, `complaint`, `consultation` …) |
//! | `severity` / `priority` | urgent → Critical / High, important → Major / Medium, normal → Minor / Low |
//! | `status` | `STATUS` below: the flows' states, grouped |
//! | `creationDate`, `lastUpdate`, `resolutionDate` | created, updated, resolved |
//! | `expectedResolutionDate` | the resolution deadline |
//! | `statusChange`, `statusChangeDate`, `statusChangeReason` | the audit events that changed the state |
//! | `channel` | `{id: channel code, name: 中文}` |
//! | `relatedParty` | customer, first owner (`originator`), handler (`assignee`) |
//! | `relatedEntity` | the service number (`@referredType` Service, role `serviceNumber`) |
//! | `troubleTicketRelationship` | the major incident the ticket is linked to (`isChildOf`) |
//! | `note` | notes and replies (internal ones marked in `@type`) |
//! | `attachment` | the ticket's files, by reference |

use serde_json::{Map, Value, json};

/// kefu states → TMF621 status. A state of an operator's own flow not
/// listed falls back on what the ticket is: open → inProgress, resolved →
/// resolved, else acknowledged.
pub const STATUS: &[(&str, &str)] = &[
    ("accepted", "acknowledged"),
    ("dispatched", "inProgress"),
    ("in_progress", "inProgress"),
    ("transfer_pending", "inProgress"),
    ("approved", "inProgress"),
    ("operator_confirmed", "inProgress"),
    ("suspended", "pending"),
    ("resolved", "resolved"),
    ("result_notified", "resolved"),
    ("confirmed", "resolved"),
    ("visited", "resolved"),
    ("reviewed", "resolved"),
    ("processed", "resolved"),
    ("confirmation_sent", "resolved"),
    ("archived", "closed"),
    ("withdrawn", "cancelled"),
    ("merged", "cancelled"),
    ("rejected", "rejected"),
];

/// The statuses of the specification.
pub const STATUSES: [&str; 8] =
    ["acknowledged", "rejected", "pending", "held", "inProgress", "cancelled", "closed", "resolved"];

pub fn status(state: &str, open: bool, resolved: bool) -> &'static str {
    match STATUS.iter().find(|(s, _)| *s == state) {
        Some((_, t)) => t,
        None if open => "inProgress",
        None if resolved => "resolved",
        None => "acknowledged",
    }
}

/// The kefu states a TMF status stands for (for the list's filter).
pub fn states_of(tmf: &str) -> Vec<String> {
    STATUS.iter().filter(|(_, t)| *t == tmf).map(|(s, _)| s.to_string()).collect()
}

/// (severity, priority) of a kefu priority.
pub fn severity_priority(p: &str) -> (&'static str, &'static str) {
    match p {
        "urgent" => ("Critical", "High"),
        "important" => ("Major", "Medium"),
        _ => ("Minor", "Low"),
    }
}

/// The kefu type a TMF `ticketType` names: a kefu code, or the words other
/// systems use for it (the specification leaves the values to each
/// operator: its own example says `Bill Dispute`). Unknown: itself, which
/// intake then refuses listing kefu's codes.
pub fn ticket_type_of(value: &str) -> String {
    let v = value.trim().to_ascii_lowercase().replace(['-', '_'], " ");
    let code = match v.as_str() {
        "complaint" | "complain" | "bill dispute" | "billing dispute" | "dispute" => "complaint",
        "fault" | "incident" | "trouble" | "network fault" | "outage" | "alarm" | "problem" => "fault",
        "consultation" | "inquiry" | "enquiry" | "question" | "information" => "consultation",
        "service request" | "servicerequest" | "request" => "service_request",
        "business" | "order" => "business",
        "account" => "account",
        "unsubscribe" | "cancellation" => "unsubscribe",
        _ => return value.trim().to_string(),
    };
    code.to_string()
}

/// The kefu channel of a TMF `channel` (a reference into the client's own
/// catalogue): a kefu channel code by id or name, else `web` (a system
/// reaching kefu online).
pub fn channel_of(channel: &Value) -> String {
    [&channel["id"], &channel["name"]]
        .into_iter()
        .filter_map(Value::as_str)
        .map(|s| s.trim().to_ascii_lowercase())
        .find(|s| kefu_domain::Channel::ALL.iter().any(|c| c.as_str() == s))
        .unwrap_or_else(|| "web".into())
}

/// The kefu priority a TMF severity or priority names (either vocabulary).
pub fn priority_of(value: &str) -> Option<&'static str> {
    match value.to_ascii_lowercase().as_str() {
        "critical" | "high" => Some("urgent"),
        "major" | "medium" => Some("important"),
        "minor" | "low" => Some("normal"),
        _ => None,
    }
}

/// The parts of a ticket beyond its view.
pub struct Extras<'a> {
    pub comments: &'a [kefu_domain::ticket::Comment],
    pub author: &'a dyn Fn(kefu_domain::UserId) -> String,
    pub attachments: &'a [crate::service::attachments::AttachmentView],
    pub events: &'a [kefu_domain::audit::AuditEvent],
    pub flows: &'a kefu_domain::flow::FlowSet,
    pub ticket_type: kefu_domain::TicketType,
}

fn party(p: &Value, role: &str) -> Option<Value> {
    let id = p.get("id").filter(|v| !v.is_null())?;
    Some(json!({
        "id": id.to_string().trim_matches('"'),
        "name": p["name"],
        "role": role,
        "@referredType": if role == "customer" { "Individual" } else { "PartyRole" },
    }))
}

/// A ticket view (already masked for the caller) as a `TroubleTicket`.
pub fn trouble_ticket(base: &str, v: &Value, x: &Extras) -> Value {
    let id = v["id"].to_string();
    let href = format!("{base}/troubleTicket/{id}");
    let state = v["status"].as_str().unwrap_or_default();
    let open = v["allowed_actions"].as_array().is_some_and(|a| !a.is_empty()) && v["resolved_at"].is_null();
    let (severity, priority) = severity_priority(v["priority"].as_str().unwrap_or_default());
    let flow = x.flows.get(x.ticket_type);
    let state_of = |e: &kefu_domain::audit::AuditEvent, k: &str| e.after.get(k).or_else(|| e.before.get(k)).cloned();
    let mut changes: Vec<Value> = Vec::new();
    for e in x.events {
        let (before, after) =
            (e.before.get("status").and_then(Value::as_str), e.after.get("status").and_then(Value::as_str));
        let to = match (e.action.as_str(), after) {
            ("create", _) => Some(flow.initial.as_str()),
            (_, Some(a)) if Some(a) != before => Some(a),
            _ => None,
        };
        if let Some(to) = to {
            let resolved = state_of(e, "resolved_at").is_some_and(|r| !r.is_null());
            let reason = e.data.get("reason").or_else(|| e.data.get("result")).and_then(Value::as_str);
            changes.push(json!({
                "changeDate": e.at,
                "changeReason": reason.map_or_else(|| e.action.clone(), str::to_string),
                "status": status(to, flow.is_open(to), resolved),
                "@type": "StatusChange",
            }));
        }
    }
    let last = changes.last().cloned().unwrap_or(Value::Null);
    let resolution_due = v["deadlines"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["kind"] == "resolution"))
        .map(|d| d["due_at"].clone())
        .unwrap_or(Value::Null);
    let mut parties: Vec<Value> = Vec::new();
    parties.extend(party(&v["customer"], "customer"));
    parties.extend(party(&v["first_owner"], "originator"));
    parties.extend(party(&v["assignee"], "assignee"));
    let entities: Vec<Value> = v["service_number"]
        .as_str()
        .map(|n| json!({"id": n, "role": "serviceNumber", "name": n, "@referredType": "Service"}))
        .into_iter()
        .collect();
    let relations: Vec<Value> = v["incident"]
        .as_object()
        .map(|i| json!({"id": i.get("id").map(|x| x.to_string()), "name": i.get("number"), "relationshipType": "isChildOf", "@type": "TroubleTicketRelationship"}))
        .into_iter()
        .collect();
    let notes: Vec<Value> = x
        .comments
        .iter()
        .map(|c| {
            let kind = match (&c.channel, c.internal) {
                (Some(_), _) => "CustomerMessage",
                (None, true) => "InternalNote",
                (None, false) => "Note",
            };
            let author = if c.channel.is_some() { "customer".to_string() } else { (x.author)(c.author) };
            json!({"id": c.id.to_string(), "author": author, "date": c.created_at, "text": c.body, "@type": kind})
        })
        .collect();
    let files: Vec<Value> = x
        .attachments
        .iter()
        .map(|a| {
            json!({
                "id": a.id, "href": a.url, "name": a.filename, "mimeType": a.content_type,
                "size": {"amount": a.size, "units": "bytes"}, "attachmentType": a.kind_en,
                "@referredType": "Attachment", "@type": "AttachmentRef",
            })
        })
        .collect();
    json!({
        "id": id,
        "href": href,
        "externalId": v["number"],
        "name": v["title"],
        "description": v["description"],
        "ticketType": v["type"],
        "severity": severity,
        "priority": priority,
        "status": status(state, open || flow.is_open(state), !v["resolved_at"].is_null()),
        "creationDate": v["created_at"],
        "lastUpdate": v["updated_at"],
        "resolutionDate": v["resolved_at"],
        "expectedResolutionDate": resolution_due,
        "statusChangeDate": last.get("changeDate").cloned().unwrap_or(Value::Null),
        "statusChangeReason": last.get("changeReason").cloned().unwrap_or(Value::Null),
        "statusChange": changes,
        "channel": {"id": v["channel"], "name": v["channel_zh"], "@referredType": "Channel"},
        "relatedParty": parties,
        "relatedEntity": entities,
        "troubleTicketRelationship": relations,
        "note": notes,
        "attachment": files,
        "@type": "TroubleTicket",
        "@baseType": "TroubleTicket",
    })
}

/// The resource with only `fields` (comma-separated; `id` and `href` always
/// kept), nulls left out as the specification's examples do.
pub fn select(v: Value, fields: Option<&str>) -> Value {
    let Value::Object(m) = v else { return v };
    let wanted: Option<Vec<&str>> = fields.map(|f| f.split(',').map(str::trim).filter(|s| !s.is_empty()).collect());
    let keep = |k: &str| wanted.as_ref().is_none_or(|w| k == "id" || k == "href" || w.contains(&k));
    Value::Object(m.into_iter().filter(|(k, v)| keep(k) && !v.is_null()).collect::<Map<_, _>>())
}

/// The specification's error body.
pub fn error(code: u16, reason: &str, message: &str) -> Value {
    json!({"code": code.to_string(), "reason": reason, "message": message, "status": code.to_string(), "@type": "Error"})
}

/// TMF621 v5.0.1 where it differs from v4 (the same tickets; kefu maps v4,
/// v5 is a rewrite of it): `externalIdentifier` (a list) for `externalId`,
/// `relatedParty` as `RelatedPartyRefOrPartyRoleRef` (`partyOrPartyRole`),
/// `statusChangeHistory` for `statusChange`, and `/v5/` in `href`s.
pub fn to_v5(v: Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.into_iter().map(to_v5).collect()),
        Value::Object(mut m) if m.contains_key("href") || m.contains_key("externalId") => {
            if let Some(Value::String(h)) = m.get_mut("href") {
                *h = h.replacen("/troubleTicket/v4/", "/troubleTicket/v5/", 1);
            }
            if let Some(number) = m.remove("externalId") {
                m.insert(
                    "externalIdentifier".into(),
                    json!([{"id": number, "externalIdentifierType": "troubleTicketNumber", "owner": "kefu",
                            "@type": "ExternalIdentifier"}]),
                );
            }
            if let Some(history) = m.remove("statusChange") {
                m.insert("statusChangeHistory".into(), history);
            }
            if let Some(Value::Array(parties)) = m.remove("relatedParty") {
                let parties: Vec<Value> = parties
                    .into_iter()
                    .map(|p| {
                        let mut party = p.clone();
                        if let Value::Object(o) = &mut party {
                            o.remove("role");
                            o.insert("@type".into(), json!("PartyRef"));
                        }
                        json!({"role": p["role"], "partyOrPartyRole": party, "@type": "RelatedPartyRefOrPartyRoleRef"})
                    })
                    .collect();
                m.insert("relatedParty".into(), Value::Array(parties));
            }
            if let Some(Value::Object(event)) = m.get_mut("event")
                && let Some(t) = event.remove("troubleTicket")
            {
                event.insert("troubleTicket".into(), to_v5(t));
            }
            Value::Object(m)
        }
        // An event: its ticket rewritten.
        Value::Object(mut m) if m.contains_key("eventType") => {
            if let Some(Value::Object(event)) = m.get_mut("event")
                && let Some(t) = event.remove("troubleTicket")
            {
                event.insert("troubleTicket".into(), to_v5(t));
            }
            Value::Object(m)
        }
        other => other,
    }
}

/// A v5 request body in v4's words: `partyOrPartyRole` flattened into the
/// party (its `role` kept), `externalIdentifier` dropped (kefu numbers its
/// own tickets, as `externalId` on v4).
pub fn from_v5(v: Value) -> Value {
    let Value::Object(mut m) = v else { return v };
    if let Some(Value::Array(parties)) = m.remove("relatedParty") {
        let parties: Vec<Value> = parties
            .into_iter()
            .map(|p| match p.get("partyOrPartyRole").cloned() {
                Some(Value::Object(mut inner)) => {
                    inner.insert("role".into(), p["role"].clone());
                    Value::Object(inner)
                }
                _ => p,
            })
            .collect();
        m.insert("relatedParty".into(), Value::Array(parties));
    }
    m.remove("externalIdentifier");
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    #[test]
    fn other_systems_words_for_types_and_channels() {
        assert_eq!(ticket_type_of("Bill Dispute"), "complaint");
        assert_eq!(ticket_type_of("incident"), "fault");
        assert_eq!(ticket_type_of("Service-Request"), "service_request");
        assert_eq!(ticket_type_of("fault"), "fault");
        assert_eq!(ticket_type_of("Gardening"), "Gardening");
        assert_eq!(channel_of(&json!({"id": "8774", "name": "self service"})), "web");
        assert_eq!(channel_of(&json!({"id": "8774", "name": "Phone"})), "phone");
        assert_eq!(channel_of(&json!(null)), "web");
    }

    #[test]
    fn v5_rewrites_identifiers_parties_and_history_both_ways() {
        let v4 = json!({"id": "7", "href": "http://k/tmf-api/troubleTicket/v4/troubleTicket/7", "externalId": "GD1",
                        "statusChange": [{"status": "acknowledged"}],
                        "relatedParty": [{"id": "13900000000", "name": "赵六", "role": "customer", "@referredType": "Individual"}]});
        let v5 = to_v5(v4);
        assert_eq!(v5["href"], "http://k/tmf-api/troubleTicket/v5/troubleTicket/7");
        assert_eq!(v5["externalIdentifier"][0]["id"], "GD1");
        assert!(v5.get("externalId").is_none() && v5.get("statusChange").is_none());
        assert_eq!(v5["statusChangeHistory"][0]["status"], "acknowledged");
        assert_eq!(v5["relatedParty"][0]["role"], "customer");
        assert_eq!(v5["relatedParty"][0]["partyOrPartyRole"]["name"], "赵六");
        assert_eq!(to_v5(json!([{"code": "404"}])), json!([{"code": "404"}]), "errors stay");
        let back =
            from_v5(json!({"relatedParty": [v5["relatedParty"][0].clone()], "externalIdentifier": [{"id": "x"}]}));
        assert_eq!(back["relatedParty"][0]["id"], "13900000000");
        assert_eq!(back["relatedParty"][0]["role"], "customer");
        assert!(back.get("externalIdentifier").is_none());
    }

    use super::*;

    #[test]
    fn every_state_of_the_shipped_flows_has_a_status_of_the_specification() {
        let flows = kefu_domain::flow::FlowSet::defaults();
        for t in kefu_domain::TicketType::ALL {
            for s in &flows.get(*t).states {
                let tmf = status(&s.name, flows.get(*t).is_open(&s.name), false);
                assert!(STATUSES.contains(&tmf), "{t:?} {}", s.name);
                assert!(STATUS.iter().any(|(k, _)| *k == s.name), "{} is mapped explicitly", s.name);
            }
        }
        assert_eq!(status("operator_own_state", true, false), "inProgress");
        assert_eq!(states_of("cancelled"), vec!["withdrawn".to_string(), "merged".to_string()]);
        assert!(states_of("held").is_empty());
    }

    #[test]
    fn priorities_travel_both_ways_and_fields_select() {
        for p in ["urgent", "important", "normal"] {
            let (sev, pri) = severity_priority(p);
            assert_eq!((priority_of(sev), priority_of(pri)), (Some(p), Some(p)));
        }
        assert_eq!(priority_of("whatever"), None);
        let v = json!({"id": "1", "href": "h", "name": "n", "status": "acknowledged", "severity": null});
        assert_eq!(
            select(v.clone(), Some("status, name")),
            json!({"id": "1", "href": "h", "name": "n", "status": "acknowledged"})
        );
        assert_eq!(select(v.clone(), Some("status")), json!({"id": "1", "href": "h", "status": "acknowledged"}));
        assert_eq!(select(v, None), json!({"id": "1", "href": "h", "name": "n", "status": "acknowledged"}));
    }
}
