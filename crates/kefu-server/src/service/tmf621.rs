//! The TMF621 façade's reads (issue 22): a ticket, or a page of them, as
//! `TroubleTicket` resources (`tmf621.rs` maps), by the caller's need to know
//! and masked for their role like every other read.

use super::Kefu;
use crate::error::ApiError;
use crate::tmf621::{Extras, priority_of, states_of, trouble_ticket};
use kefu_domain::flow::Actor;
use kefu_domain::ticket::Ticket;
use kefu_domain::{FieldError, TicketType};
use kefu_store::{Store, TicketFilter};
use serde_json::Value;

/// The list's query: paging, field selection and the attribute filters.
#[derive(Debug, Clone, Default)]
pub struct TmfQuery {
    pub fields: Option<String>,
    pub offset: u32,
    pub limit: u32,
    pub status: Option<String>,
    pub ticket_type: Option<String>,
    pub severity: Option<String>,
    pub priority: Option<String>,
    pub external_id: Option<String>,
    pub created_from: Option<chrono::DateTime<chrono::Utc>>,
    pub created_to: Option<chrono::DateTime<chrono::Utc>>,
}

/// The largest page.
pub const MAX_LIMIT: u32 = 100;

/// Fields whose values cost reads beyond the ticket itself.
const EXTRA_FIELDS: [&str; 5] = ["note", "attachment", "statusChange", "statusChangeDate", "statusChangeReason"];

impl<S: Store> Kefu<S> {
    fn tmf_base(&self) -> String {
        format!("{}/tmf-api/troubleTicket/v4", self.core.settings.public_url.trim_end_matches('/'))
    }

    /// One ticket as a `TroubleTicket` (404 to whoever may not see it).
    pub async fn tmf_ticket(&self, actor: &Actor, id: &str, fields: Option<&str>) -> Result<Value, ApiError> {
        let t = self.visible_ticket(actor, id).await?;
        Ok(crate::tmf621::select(self.tmf_render(actor, &t, fields).await?, fields))
    }

    async fn tmf_render(&self, actor: &Actor, t: &Ticket, fields: Option<&str>) -> Result<Value, ApiError> {
        let v = self.view(t, actor);
        let wanted = |f: &str| fields.is_none_or(|list| list.split(',').any(|x| x.trim() == f));
        let extras = EXTRA_FIELDS.iter().any(|f| wanted(f));
        let privacy = &self.core.policy.privacy;
        let (mut comments, mut attachments, mut events) = (Vec::new(), Vec::new(), Vec::new());
        if extras {
            comments = self.store.comments(t.id).await?;
            for c in &mut comments {
                c.body = privacy.show_text(actor.role, &c.body);
            }
            attachments =
                self.store.attachments(t.id).await?.iter().map(|a| super::attachments::view(a, &t.number)).collect();
            events = self.store.events(t.id).await?;
            for e in &mut events {
                e.data = crate::view::mask_json(&e.data, actor.role, privacy);
            }
        }
        let directory = &self.core.directory;
        let author = |u: kefu_domain::UserId| directory.summary(u).username;
        let x = Extras {
            comments: &comments,
            author: &author,
            attachments: &attachments,
            events: &events,
            flows: &self.core.flows,
            ticket_type: t.ticket_type,
        };
        Ok(trouble_ticket(&self.tmf_base(), &v, &x))
    }

    /// A page of tickets: (resources, total matching).
    pub async fn tmf_list(&self, actor: &Actor, q: &TmfQuery) -> Result<(Vec<Value>, i64), ApiError> {
        let filter = self.tmf_filter(actor, q)?;
        let limit = q.limit.clamp(1, MAX_LIMIT);
        // kefu pages by number: the one or two pages that hold [offset, offset + limit).
        let first = (q.offset / limit).saturating_add(1);
        let skip = (q.offset % limit) as usize;
        let mut items = Vec::new();
        let mut total = 0;
        for page in [first, first.saturating_add(1)] {
            let got = self.list_tickets(TicketFilter { page, per_page: limit, ..filter.clone() }).await?.page;
            total = got.total;
            let n = got.items.len();
            items.extend(got.items);
            if skip == 0 || n < limit as usize {
                break;
            }
        }
        let mut out = Vec::with_capacity(limit as usize);
        for t in items.iter().skip(skip).take(limit as usize) {
            out.push(crate::tmf621::select(self.tmf_render(actor, t, q.fields.as_deref()).await?, q.fields.as_deref()));
        }
        Ok((out, total))
    }

    fn tmf_filter(&self, actor: &Actor, q: &TmfQuery) -> Result<TicketFilter, ApiError> {
        let bad = |field: &str, what: &str| -> ApiError {
            FieldError::new(field, format!("{field}: {what}"), format!("{field} 取值无效：{what}")).into()
        };
        let mut f = TicketFilter { visible: self.visibility(actor), ..Default::default() };
        if let Some(s) = &q.status {
            if !crate::tmf621::STATUSES.contains(&s.as_str()) {
                return Err(bad("status", &format!("one of {}", crate::tmf621::STATUSES.join(", "))));
            }
            f.statuses = Some(states_of(s));
        }
        if let Some(t) = &q.ticket_type {
            f.ticket_type = Some(TicketType::parse(t, "ticketType")?);
        }
        for (field, value) in [("severity", &q.severity), ("priority", &q.priority)] {
            if let Some(v) = value {
                let p = priority_of(v).ok_or_else(|| bad(field, "Critical, Major, Minor (or High, Medium, Low)"))?;
                f.priority = Some(kefu_domain::Priority::parse(p, field)?);
            }
        }
        f.number = q.external_id.clone();
        f.created_from = q.created_from;
        f.created_to = q.created_to;
        Ok(f)
    }
}

/// A `TroubleTicket_Create` body as kefu's intake: `ticketType` a kefu type
/// code, `description`, `severity` (or `priority`) in either vocabulary,
/// `name` the title (else the description's start), `channel.id` a kefu
/// channel (default `web`), the customer the `relatedParty` with role
/// `customer` — its `id` their phone number, its `name` their name — and the
/// service number a `relatedEntity` with role `serviceNumber`.
pub fn intake(body: &Value) -> Result<kefu_domain::intake::IntakeRequest, ApiError> {
    let bad = |field: &str, what: &str| -> ApiError {
        FieldError::new(field, format!("{field}: {what}"), format!("{field} 取值无效：{what}")).into()
    };
    let obj = body.as_object().ok_or_else(|| bad("body", "a TroubleTicket object"))?;
    let text =
        |k: &str| obj.get(k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let description = text("description").ok_or_else(|| bad("description", "required"))?;
    let ticket_type = text("ticketType").ok_or_else(|| bad("ticketType", "required"))?;
    let severity = text("severity").ok_or_else(|| bad("severity", "required"))?;
    let priority = priority_of(&severity)
        .or_else(|| text("priority").as_deref().and_then(priority_of))
        .ok_or_else(|| bad("severity", "Critical, Major or Minor"))?;
    let title = text("name").unwrap_or_else(|| description.chars().take(30).collect());
    let role_of = |list: &str, role: &str| -> Option<Value> {
        obj.get(list)?
            .as_array()?
            .iter()
            .find(|p| p["role"].as_str().is_some_and(|r| r.eq_ignore_ascii_case(role)))
            .cloned()
    };
    let customer = role_of("relatedParty", "customer")
        .ok_or_else(|| bad("relatedParty", "a party with role customer, its id the customer's phone number"))?;
    let phone = customer["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| bad("relatedParty.id", "the customer's phone number"))?;
    let service_number = role_of("relatedEntity", "serviceNumber").and_then(|e| e["id"].as_str().map(str::to_string));
    let channel = crate::tmf621::channel_of(obj.get("channel").unwrap_or(&Value::Null));
    Ok(kefu_domain::intake::IntakeRequest {
        channel: Some(channel),
        ticket_type: Some(crate::tmf621::ticket_type_of(&ticket_type)),
        title: Some(title),
        description: Some(description),
        customer: Some(kefu_domain::intake::CustomerInput {
            name: Some(customer["name"].as_str().unwrap_or("客户").to_string()),
            phone: Some(phone),
            ..Default::default()
        }),
        service_number,
        priority: Some(priority.into()),
        submitted_by: Some("TMF621".into()),
        ..Default::default()
    })
}

impl<S: Store> Kefu<S> {
    /// `POST …/troubleTicket`: registered like any intake (deadlines,
    /// dispatch, receipt), answered as the `TroubleTicket` it became.
    pub async fn tmf_create(
        &self,
        actor: &Actor,
        body: &Value,
        idem: Option<super::Idem>,
    ) -> Result<(bool, Value), ApiError> {
        let req = intake(body)?;
        let written = self.create_ticket(actor, &req, idem).await.map_err(tmf_field)?;
        let replayed = matches!(written, kefu_store::Written::Replayed { .. });
        let id = written.body()["id"].to_string();
        let t = self.visible_ticket(actor, &id).await?;
        Ok((replayed, self.tmf_render(actor, &t, None).await.map(|v| crate::tmf621::select(v, None))?))
    }
}

/// kefu's intake fields named as the TMF client sent them.
fn tmf_field(e: ApiError) -> ApiError {
    let ApiError::Invalid(mut f) = e else { return e };
    let renamed = match f.field.as_str() {
        "type" => "ticketType",
        "title" => "name",
        "priority" => "severity",
        "channel" => "channel.id",
        "customer.phone" => "relatedParty.id",
        "customer.name" => "relatedParty.name",
        "service_number" => "relatedEntity.id",
        _ => return ApiError::Invalid(f),
    };
    f.message = f.message.replacen(&f.field, renamed, 1);
    f.message_zh = f.message_zh.replacen(&f.field, renamed, 1);
    f.field = renamed.to_string();
    ApiError::Invalid(f)
}

/// What a merge-patch may change: the status (through the flow's own
/// actions, `statusChangeReason` their reason or result), the severity (or
/// priority), and notes added. Everything else of a registration is kefu's
/// record and is refused by name.
const PATCHABLE: [&str; 6] = ["status", "statusChangeReason", "severity", "priority", "note", "@type"];

impl<S: Store> Kefu<S> {
    /// `PATCH …/troubleTicket/{id}` (JSON merge patch): every change is
    /// checked before the first is made; each is then one of kefu's own
    /// steps, with its rules, deadlines and audit event.
    pub async fn tmf_patch(&self, actor: &Actor, id: &str, patch: &Value) -> Result<Value, ApiError> {
        let bad = |field: &str, what: &str| -> ApiError {
            FieldError::new(field, format!("{field}: {what}"), format!("{field} 取值无效：{what}")).into()
        };
        let obj = patch.as_object().ok_or_else(|| bad("body", "a JSON merge patch object"))?;
        if let Some(k) = obj.keys().find(|k| !PATCHABLE.contains(&k.as_str())) {
            return Err(bad(
                k,
                "not changeable through this API (status, statusChangeReason, severity, priority, note)",
            ));
        }
        let t = self.ticket_for(actor, id, true).await?;
        let reason = obj.get("statusChangeReason").and_then(Value::as_str).map(str::to_string);
        let mut steps: Vec<serde_json::Map<String, Value>> = Vec::new();
        for field in ["severity", "priority"] {
            if let Some(v) = obj.get(field) {
                let p = v
                    .as_str()
                    .and_then(priority_of)
                    .ok_or_else(|| bad(field, "Critical, Major, Minor (or High, Medium, Low)"))?;
                if p != t.priority.as_str() {
                    let why =
                        reason.clone().unwrap_or_else(|| format!("TMF621 {field} {}", v.as_str().unwrap_or_default()));
                    steps.push(json_map(serde_json::json!({"action": "set_priority", "priority": p, "reason": why})));
                }
                break;
            }
        }
        if let Some(target) = obj.get("status") {
            let target = target
                .as_str()
                .filter(|s| crate::tmf621::STATUSES.contains(s))
                .ok_or_else(|| bad("status", "a status of the specification"))?;
            steps.push(self.tmf_status_step(actor, &t, target, reason.as_deref())?);
        }
        let notes: Vec<String> = match obj.get("note") {
            None => Vec::new(),
            Some(Value::Array(list)) => list
                .iter()
                .filter(|n| n.get("id").is_none_or(Value::is_null))
                .map(|n| {
                    n["text"].as_str().map(str::to_string).ok_or_else(|| bad("note.text", "required on a new note"))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(bad("note", "a list of notes")),
        };
        for step in steps {
            self.act(actor, &t.id.0.to_string(), &step, None).await?;
        }
        for text in notes {
            self.comment(actor, &t.id.0.to_string(), Some(&text), true, None).await?;
        }
        self.tmf_ticket(actor, &t.id.0.to_string(), None).await
    }

    /// `DELETE …/troubleTicket/{id}`: the ticket withdrawn through its flow
    /// (it stays on record; subscribers get a `TroubleTicketDeleteEvent`).
    pub async fn tmf_delete(&self, actor: &Actor, id: &str) -> Result<(), ApiError> {
        let t = self.ticket_for(actor, id, true).await?;
        let flow = self.core.flows.get(t.ticket_type);
        let allowed = flow.allowed_actions(&t, actor);
        if !allowed.contains(&kefu_domain::action::ActionKind::Withdraw) {
            return Err(ApiError::NotAllowed {
                action: "withdraw (DELETE)".into(),
                state: t.status.clone(),
                allowed: allowed.iter().map(|a| a.as_str().to_string()).collect(),
            });
        }
        let step = json_map(serde_json::json!({"action": "withdraw", "reason": "TMF621 DELETE"}));
        self.act(actor, &t.id.0.to_string(), &step, None).await?;
        Ok(())
    }

    /// The action that takes the ticket to a state with TMF status `target`,
    /// among those the caller may take now.
    fn tmf_status_step(
        &self,
        actor: &Actor,
        t: &Ticket,
        target: &str,
        reason: Option<&str>,
    ) -> Result<serde_json::Map<String, Value>, ApiError> {
        let flow = self.core.flows.get(t.ticket_type);
        let allowed = flow.allowed_actions(t, actor);
        let action = allowed.iter().find(|a| {
            flow.actions.iter().any(|r| {
                r.name == **a
                    && r.from.contains(&t.status)
                    && r.to.as_deref().is_some_and(|to| {
                        crate::tmf621::status(to, flow.is_open(to), t.resolved_at.is_some() || to == "resolved")
                            == target
                    })
            })
        });
        let Some(action) = action else {
            return Err(ApiError::NotAllowed {
                action: format!("status {target}"),
                state: t.status.clone(),
                allowed: allowed.iter().map(|a| a.as_str().to_string()).collect(),
            });
        };
        // The action takes the reason as whatever it asks for (a reason, a result).
        let text = reason.unwrap_or("TMF621");
        let mut step = json_map(serde_json::json!({"action": action.as_str()}));
        for _ in 0..3 {
            match kefu_domain::action::ActionRequest::parse(&step) {
                Err(f) if matches!(f.field.as_str(), "reason" | "result") && !step.contains_key(&f.field) => {
                    step.insert(f.field, Value::String(text.to_string()));
                }
                Err(e) => return Err(e.into()),
                Ok(_) => return Ok(step),
            }
        }
        Ok(step)
    }
}

fn json_map(v: Value) -> serde_json::Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}
