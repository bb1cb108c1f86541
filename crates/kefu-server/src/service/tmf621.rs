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
    let channel = obj.get("channel").and_then(|c| c["id"].as_str()).map(str::to_string).unwrap_or_else(|| "web".into());
    Ok(kefu_domain::intake::IntakeRequest {
        channel: Some(channel),
        ticket_type: Some(ticket_type),
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
