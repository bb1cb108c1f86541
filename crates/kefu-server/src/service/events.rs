//! Events for the systems around kefu (issue 22): the fan-out that turns
//! outbox rows into deliveries for each endpoint (kefu's own webhooks, the
//! TMF621 hub), the worker that sends them signed, and the event bodies the
//! NATS stream carries too. See `kefu_domain::events` for the rules.
//!
//! A kefu event (webhooks and NATS):
//! `{id, type, timestamp, data: {ticket_id, number, seq, action, action_zh,
//! actor, ticket: {…the shared fields as of this change…}, changes: {field:
//! {from, to}}}}`. The ticket's state is rebuilt from the audit trail up to
//! the event, so a late or replayed delivery still tells the state the change
//! made; personal data never travels (a receiver reads the ticket through the
//! API with its own rights).

use super::Kefu;
use crate::error::ApiError;
use crate::webhooks::Sender;
use chrono::{DateTime, Utc};
use kefu_domain::audit::AuditEvent;
use kefu_domain::events::{HubQuery, event_id, event_type, tmf_event_types};
use kefu_domain::flow::Actor;
use kefu_domain::{FieldError, TicketId};
use kefu_store::{Attempt, Delivery, NewDelivery, NewWebhook, OutboxEvent, Store, Webhook, WebhookPatch};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};

/// Fields of the ticket an event carries besides the changed ones.
const SNAPSHOT: [&str; 16] = [
    "number",
    "channel",
    "type",
    "priority",
    "status",
    "tier",
    "assignee",
    "first_owner",
    "supervised",
    "satisfaction",
    "appeal_count",
    "created_at",
    "resolved_at",
    "archived_at",
    "incident",
    "business_line",
];

/// The audit trail of a ticket, folded: its shared state after each event.
pub struct Trail {
    events: Vec<AuditEvent>,
}

impl Trail {
    pub fn new(events: Vec<AuditEvent>) -> Trail {
        Trail { events }
    }

    pub fn event(&self, seq: i64) -> Option<&AuditEvent> {
        self.events.iter().find(|e| e.seq == seq)
    }

    /// The ticket's document as of event `seq` (0: before the first).
    pub fn state_at(&self, seq: i64) -> Map<String, Value> {
        let mut doc = Map::new();
        for e in self.events.iter().take_while(|e| e.seq <= seq) {
            if let Value::Object(after) = &e.after {
                for (k, v) in after {
                    doc.insert(k.clone(), v.clone());
                }
            }
            doc.insert("updated_at".into(), json!(e.at));
        }
        doc
    }
}

/// The kefu event of one audit event, if it is one: (type, body).
pub fn kefu_event(trail: &Trail, e: &AuditEvent, username: &dyn Fn(i64) -> String) -> Option<(&'static str, Value)> {
    let kind = event_type(&e.action, &e.data)?;
    let state = trail.state_at(e.seq);
    let mut ticket = Map::new();
    ticket.insert("id".into(), json!(e.ticket_id));
    for f in SNAPSHOT {
        let v = state.get(f).cloned().unwrap_or(Value::Null);
        let v = match (f, &v) {
            ("assignee" | "first_owner", Value::Number(n)) => json!(username(n.as_i64().unwrap_or_default())),
            _ => v,
        };
        ticket.insert(f.into(), v);
    }
    ticket.insert("updated_at".into(), json!(e.at));
    let mut changes = kefu_domain::events::changes(&e.before, &e.after);
    for f in ["assignee", "transfer_to"] {
        if let Some(c) = changes.get_mut(f) {
            for side in ["from", "to"] {
                if let Some(id) = c[side].as_i64() {
                    c[side] = json!(username(id));
                }
            }
        }
    }
    let action_zh =
        kefu_domain::action::ActionKind::parse(&e.action).map(|a| a.label_zh()).unwrap_or(match e.action.as_str() {
            "create" => "受理",
            "comment" => "备注",
            "attach" => "上传附件",
            "sla_alert" => "时限告警",
            _ => "变更",
        });
    let body = json!({
        "id": event_id(e.ticket_id.0, e.seq),
        "type": kind,
        "timestamp": e.at,
        "data": {
            "ticket_id": e.ticket_id,
            "number": state.get("number").cloned().unwrap_or(Value::Null),
            "seq": e.seq,
            "action": e.action,
            "action_zh": action_zh,
            "actor": e.actor_name,
            "ticket": ticket,
            "changes": changes,
        }
    });
    Some((kind, body))
}

fn field(name: &str, en: &str, zh: &str) -> ApiError {
    FieldError::new(name, en, zh).into()
}

/// An endpoint's URL: absolute http(s) with a host, at most 2,000 characters.
pub fn check_url(name: &str, url: &str) -> Result<String, ApiError> {
    let url = url.trim();
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() <= 2000
        && reqwest::Url::parse(url).ok().is_some_and(|u| u.host_str().is_some_and(|h| !h.is_empty()));
    if !ok {
        return Err(field(name, "an absolute http(s) URL", "须为完整的 http(s) 地址"));
    }
    Ok(url.to_string())
}

/// Event types of a webhook: known ones, no repeats; empty means all.
fn check_events(events: &[String]) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = Vec::new();
    for e in events {
        if !kefu_domain::events::EVENT_TYPES.iter().any(|(k, _)| k == e) {
            let known: Vec<&str> = kefu_domain::events::EVENT_TYPES.iter().map(|(k, _)| *k).collect();
            return Err(field(
                "events",
                &format!("unknown event type '{e}' (known: {})", known.join(", ")),
                &format!("未知的事件类型“{e}”"),
            ));
        }
        if !out.contains(e) {
            out.push(e.clone());
        }
    }
    Ok(out)
}

/// What an administrator registers.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    pub url: String,
    /// Event types (`ticket.created` …); empty or absent: all.
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub description: String,
}

/// A change of an endpoint.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookChange {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    /// Switching on clears the failure count.
    pub enabled: Option<bool>,
}

/// An endpoint as shown (the secret only once, at registration).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct WebhookView {
    pub id: i64,
    /// `webhook` (kefu's events) or `tmf` (a TMF621 hub subscription).
    pub kind: String,
    pub url: String,
    /// Event types; empty: all.
    pub events: Vec<String>,
    pub events_zh: Vec<String>,
    pub description: String,
    pub enabled: bool,
    /// Failed attempts in a row.
    pub failures: u32,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The hub's query (TMF subscriptions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// The signing secret (`whsec_…`): in the registration's answer only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

pub fn hook_view(h: &Webhook, secret: bool) -> WebhookView {
    WebhookView {
        id: h.id,
        kind: h.kind.clone(),
        url: h.url.clone(),
        events: h.events.clone(),
        events_zh: h.events.iter().map(|e| kefu_domain::events::label(e, true).to_string()).collect(),
        description: h.description.clone(),
        enabled: h.enabled,
        failures: h.failures,
        disabled_reason: h.disabled_reason.clone(),
        created_at: h.created_at,
        updated_at: h.updated_at,
        query: h.kind.starts_with("tmf").then(|| h.query.clone()),
        secret: secret.then(|| h.secret.clone()),
    }
}

/// A delivery as shown in the log, with the body it sends.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    pub id: i64,
    pub webhook_id: i64,
    pub event_id: String,
    pub event_type: String,
    pub ticket_id: i64,
    /// `pending`, `delivered`, `failed` (given up).
    pub state: String,
    pub state_zh: String,
    pub attempts: u32,
    pub next_at: DateTime<Utc>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    #[schema(value_type = Object)]
    pub payload: Value,
}

pub fn delivery_view(d: &Delivery) -> DeliveryView {
    let state_zh = match d.state.as_str() {
        "pending" => "待投递",
        "delivered" => "已投递",
        _ => "已放弃",
    };
    DeliveryView {
        id: d.id,
        webhook_id: d.webhook,
        event_id: d.event_id.clone(),
        event_type: d.event_type.clone(),
        ticket_id: d.ticket.0,
        state: d.state.clone(),
        state_zh: state_zh.into(),
        attempts: d.attempts,
        next_at: d.next_at,
        last_status: d.last_status,
        last_error: d.last_error.clone(),
        created_at: d.created_at,
        delivered_at: d.delivered_at,
        payload: serde_json::from_str::<Value>(&d.payload).unwrap_or(Value::Null),
    }
}

impl<S: Store> Kefu<S> {
    /// Registers an endpoint (`webhook` by an administrator, `tmf` by the hub).
    pub async fn register_hook(
        &self,
        actor: &Actor,
        kind: &str,
        input: WebhookInput,
        query: String,
    ) -> Result<Webhook, ApiError> {
        let url = check_url(if kind.starts_with("tmf") { "callback" } else { "url" }, &input.url)?;
        let events = check_events(&input.events)?;
        if input.description.chars().count() > 200 {
            return Err(field("description", "at most 200 characters", "不超过200字"));
        }
        let secret = crate::webhooks::new_secret().map_err(ApiError::Internal)?;
        let hook = NewWebhook {
            kind: kind.into(),
            url,
            events,
            query,
            secret,
            description: input.description.trim().to_string(),
            owner: actor.id,
            now: self.now(),
        };
        Ok(self.store.create_webhook(hook).await?)
    }

    /// One endpoint of `kind` (None: either), or 404.
    pub async fn hook(&self, id: i64, kind: Option<&str>) -> Result<Webhook, ApiError> {
        match self.store.webhook(id).await? {
            Some(h) if kind.is_none_or(|k| h.kind.starts_with(k)) => Ok(h),
            _ => Err(ApiError::NotFound { what: "webhook", what_zh: "回调地址" }),
        }
    }

    pub async fn change_hook(&self, id: i64, c: WebhookChange) -> Result<Webhook, ApiError> {
        let h = self.hook(id, None).await?;
        let name = if h.kind.starts_with("tmf") { "callback" } else { "url" };
        let patch = WebhookPatch {
            url: c.url.as_deref().map(|u| check_url(name, u)).transpose()?,
            events: c.events.as_deref().map(check_events).transpose()?,
            description: c.description.map(|d| d.trim().to_string()),
            enabled: c.enabled,
        };
        if patch.description.as_ref().is_some_and(|d| d.chars().count() > 200) {
            return Err(field("description", "at most 200 characters", "不超过200字"));
        }
        self.store
            .update_webhook(id, patch, self.now())
            .await?
            .ok_or(ApiError::NotFound { what: "webhook", what_zh: "回调地址" })
    }

    pub async fn remove_hook(&self, id: i64, kind: Option<&str>) -> Result<(), ApiError> {
        self.hook(id, kind).await?;
        self.store.delete_webhook(id).await?;
        Ok(())
    }

    /// One round of the fan-out: outbox rows become deliveries for every
    /// enabled endpoint that wants them, in one write with the rows' mark.
    /// Returns how many rows were handed out.
    pub async fn fan_out_events(&self) -> Result<usize, ApiError> {
        let rows = self.store.unfanned_events(self.core.policy.webhooks.batch.max(1)).await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let hooks: Vec<Webhook> = self.store.webhooks().await?.into_iter().filter(|h| h.enabled).collect();
        let deliveries = if hooks.is_empty() { Vec::new() } else { self.deliveries_for(&rows, &hooks).await? };
        let ids = rows.iter().map(|r| r.id).collect();
        let published = self.core.settings.nats.is_none();
        self.store.fan_out(ids, deliveries, published, self.now()).await?;
        Ok(rows.len())
    }

    async fn deliveries_for(&self, rows: &[OutboxEvent], hooks: &[Webhook]) -> Result<Vec<NewDelivery>, ApiError> {
        let org = self.org().await?;
        let username = |id: i64| org.username(kefu_domain::UserId(id));
        let trails = self.trails(rows).await?;
        // A subscriber sees tickets as its owner may (masked for their role).
        let mut owners: HashMap<i64, Option<Actor>> = HashMap::new();
        for h in hooks.iter().filter(|h| h.kind.starts_with("tmf")) {
            let actor = org
                .user(h.owner)
                .filter(|u| u.active)
                .map(|u| Actor { org: org.membership(u), ..Actor::new(u.id, u.username.clone(), u.role) });
            owners.insert(h.id, actor);
        }
        let mut out = Vec::new();
        for r in rows {
            let Some(trail) = trails.get(&r.ticket) else { continue };
            // A ticket purged since leaves nothing to tell.
            let Some(e) = trail.event(r.seq) else { continue };
            if let Some((kind, body)) = kefu_event(trail, e, &username) {
                let payload = body.to_string();
                for h in hooks.iter().filter(|h| h.kind == "webhook") {
                    if h.events.is_empty() || h.events.iter().any(|x| x == kind) {
                        out.push(NewDelivery {
                            webhook: h.id,
                            event_id: event_id(r.ticket.0, r.seq),
                            event_type: kind.into(),
                            ticket: r.ticket,
                            payload: payload.clone(),
                        });
                    }
                }
            }
            for h in hooks.iter().filter(|h| h.kind.starts_with("tmf")) {
                let Some(Some(owner)) = owners.get(&h.id) else { continue };
                out.extend(self.tmf_deliveries(h, owner, trail, e).await?);
            }
        }
        Ok(out)
    }

    /// The TMF621 notifications of one change for one hub subscription.
    async fn tmf_deliveries(
        &self,
        h: &Webhook,
        owner: &Actor,
        trail: &Trail,
        e: &AuditEvent,
    ) -> Result<Vec<NewDelivery>, ApiError> {
        let status_at = |seq: i64| -> String {
            let s = trail.state_at(seq);
            let state = s.get("status").and_then(Value::as_str).unwrap_or_default().to_string();
            if state.is_empty() {
                return String::new();
            }
            let open =
                s.get("resolved_at").is_none_or(Value::is_null) && s.get("archived_at").is_none_or(Value::is_null);
            crate::tmf621::status(&state, open, !open).to_string()
        };
        let (from, to) = (status_at(e.seq - 1), status_at(e.seq));
        let kinds = tmf_event_types(&e.action, &e.data, (&from, &to));
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        // The resource as the subscriber may see it now; one it may not see is not told.
        let Ok(mut ticket) = self.tmf_ticket(owner, &e.ticket_id.0.to_string(), None).await else {
            return Ok(Vec::new());
        };
        ticket["status"] = json!(to);
        let query = HubQuery::parse(&h.query).unwrap_or_default();
        let changed: Vec<String> = kefu_domain::events::changes(&e.before, &e.after)
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        let mut out = Vec::new();
        for kind in kinds {
            if !query.matches(kind, &ticket) {
                continue;
            }
            let id = format!("{}_{kind}", event_id(e.ticket_id.0, e.seq));
            let mut body = json!({
                "eventId": id,
                "eventTime": e.at,
                "timeOcurred": e.at,
                "eventType": kind,
                "domain": "kefu",
                "title": format!("{} {}", ticket["externalId"].as_str().unwrap_or_default(), kind),
                "correlationId": event_id(e.ticket_id.0, e.seq),
                "event": {"troubleTicket": ticket},
            });
            if kind == "TroubleTicketAttributeValueChangeEvent" {
                body["fieldPath"] = json!(changed.join(","));
            }
            // A subscription made through v5 gets v5's resource.
            if h.kind == "tmf5" {
                body = crate::tmf621::to_v5(body);
            }
            out.push(NewDelivery {
                webhook: h.id,
                event_id: id,
                event_type: kind.into(),
                ticket: e.ticket_id,
                payload: body.to_string(),
            });
        }
        Ok(out)
    }

    /// Sends what is due, oldest first per endpoint, until nothing is due
    /// or `budget` has passed. Returns how many tries were made.
    pub async fn deliver_webhooks(&self, budget: std::time::Duration) -> Result<usize, ApiError> {
        let started = std::time::Instant::now();
        let policy = self.core.policy.webhooks.clone();
        let mut sender: Option<Sender> = None;
        let mut tries = 0;
        while started.elapsed() < budget {
            let due = self.store.due_deliveries(self.now(), 64).await?;
            if due.is_empty() {
                break;
            }
            let hooks: HashMap<i64, Webhook> = self.store.webhooks().await?.into_iter().map(|h| (h.id, h)).collect();
            let sender = match &sender {
                Some(s) => s.clone(),
                None => sender.insert(Sender::new(policy.timeout_seconds).map_err(ApiError::Internal)?).clone(),
            };
            // One delivery per endpoint per pass: the endpoints in parallel.
            let sends = due.iter().filter_map(|d| hooks.get(&d.webhook).map(|h| (d, h))).map(|(d, h)| {
                let sender = sender.clone();
                async move {
                    let at = self.now();
                    let sent = sender.post(&h.url, &h.secret, &d.event_id, at.timestamp(), &d.payload).await;
                    (d, at, sent)
                }
            });
            for (d, at, sent) in futures_util::future::join_all(sends).await {
                tries += 1;
                let attempt = match sent {
                    Ok(status) => Attempt {
                        delivery: d.id,
                        at,
                        ok: true,
                        status: Some(status),
                        error: None,
                        retry_at: None,
                        disable_after: policy.disable_after,
                    },
                    Err(f) => Attempt {
                        delivery: d.id,
                        at,
                        ok: false,
                        status: f.status,
                        error: Some(f.error),
                        retry_at: policy.retry_after(d.attempts + 1).map(|s| at + chrono::Duration::seconds(s.into())),
                        disable_after: policy.disable_after,
                    },
                };
                if !attempt.ok {
                    tracing::info!(webhook = d.webhook, event = %d.event_id, error = ?attempt.error, "webhook delivery failed");
                }
                self.store.record_attempt(attempt).await?;
            }
        }
        Ok(tries)
    }

    /// The kefu events of outbox rows, for the stream: (row id, event id,
    /// type, body); rows that are no event come back with `None`.
    pub async fn stream_events(
        &self,
        rows: &[OutboxEvent],
    ) -> Result<Vec<(i64, Option<(String, &'static str, String)>)>, ApiError> {
        let org = self.org().await?;
        let username = |id: i64| org.username(kefu_domain::UserId(id));
        let trails = self.trails(rows).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let event = trails
                .get(&r.ticket)
                .and_then(|trail| trail.event(r.seq).map(|e| (trail, e)))
                .and_then(|(trail, e)| kefu_event(trail, e, &username))
                .map(|(kind, body)| (event_id(r.ticket.0, r.seq), kind, body.to_string()));
            out.push((r.id, event));
        }
        Ok(out)
    }

    /// The audit trails of the tickets of these rows.
    async fn trails(&self, rows: &[OutboxEvent]) -> Result<BTreeMap<TicketId, Trail>, ApiError> {
        let mut trails = BTreeMap::new();
        for t in rows.iter().map(|r| r.ticket).collect::<std::collections::BTreeSet<_>>() {
            trails.insert(t, Trail::new(self.store.events(t).await?));
        }
        Ok(trails)
    }

    /// Removes outbox rows done with and the delivery log past `keep_days`.
    pub async fn prune_events(&self, now: DateTime<Utc>) -> Result<u64, ApiError> {
        let keep = chrono::Duration::days(i64::from(self.core.policy.webhooks.keep_days));
        Ok(self.store.prune_events(now - keep).await?)
    }
}
