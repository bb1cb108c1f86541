//! Major incidents (重大故障, R-55): declaring one, linking the tickets its
//! scope covers (at intake, on confirmation and by a sweep), its flow, the
//! notices to the linked customers (once each, approved above a
//! threshold), public notes copied to the children, and the restore that
//! resolves every linked ticket with one action. The rules are the
//! domain's (`kefu_domain::incident`); this module keeps the records.

use super::quality::{invalid, only_fields, opt_str};
use super::*;
use crate::error::ApiError;
use kefu_domain::action::{ActionKind, ActionRequest};
use kefu_domain::flow::Actor;
use kefu_domain::incident::{Action, Kind, Scope, State, links, may_sync, next};
use kefu_domain::incident_record::{
    BatchState, Incident, IncidentRef, Note, NoticeBatch, PlaybookRun, Severity, StepCheck,
};
use kefu_domain::intake::parse_time;
use kefu_domain::playbook::{Playbook, may_check, progress, script};
use kefu_domain::ticket::Ticket;
use kefu_domain::{DomainError, FieldError, Role, TicketId};
use kefu_store::*;
use serde_json::{Map, Value, json};
use std::sync::Mutex;
use std::time::Instant;

/// Children read and written per round of a fan-out.
const PAGE: u32 = 200;

/// This node's view of the active incidents, read again when older than
/// the policy's `refresh_seconds`: intake matches every ticket against it
/// without a database read. A ticket another node registers before it
/// learns of a new incident is linked by the sweep.
#[derive(Default)]
pub struct ActiveIncidents(Mutex<Option<(Instant, Arc<Vec<Incident>>)>>);

impl ActiveIncidents {
    fn fresh(&self, max_age: std::time::Duration) -> Option<Arc<Vec<Incident>>> {
        let guard = self.0.lock().ok()?;
        guard.as_ref().filter(|(at, _)| at.elapsed() < max_age).map(|(_, v)| v.clone())
    }

    fn put(&self, list: Vec<Incident>) -> Arc<Vec<Incident>> {
        let list = Arc::new(list);
        if let Ok(mut g) = self.0.lock() {
            *g = Some((Instant::now(), list.clone()));
        }
        list
    }

    pub fn forget(&self) {
        if let Ok(mut g) = self.0.lock() {
            *g = None;
        }
    }
}

fn not_found() -> ApiError {
    ApiError::NotFound { what: "incident", what_zh: "重大故障" }
}

/// The strings of a list field: absent is empty; at most 50 of 1–100 characters.
fn str_list(body: &Map<String, Value>, field: &str) -> Result<Vec<String>, ApiError> {
    let bad = || {
        invalid(field, format!("{field} is a list of up to 50 names"), format!("{field} 须为不超过 50 项的名称列表"))
    };
    match body.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) if items.len() <= 50 => items
            .iter()
            .map(|v| {
                let s = v.as_str().ok_or_else(bad)?;
                Ok(kefu_domain::validate::required_text(Some(s), field, 100)?)
            })
            .collect(),
        Some(_) => Err(bad()),
    }
}

fn scope_of(body: &Map<String, Value>) -> Result<Scope, ApiError> {
    let o = body.get("scope").and_then(Value::as_object).ok_or_else(|| {
        invalid("scope", "scope is {regions, services, elements}", "scope 须为 {regions, services, elements}")
    })?;
    only_fields(o, &["regions", "services", "elements"])?;
    let scope = Scope {
        regions: str_list(o, "regions")?,
        services: str_list(o, "services")?,
        elements: str_list(o, "elements")?,
    };
    if scope.is_empty() {
        return Err(invalid(
            "scope",
            "name at least one region, service or network element",
            "影响范围须至少包含一个区域、业务或网元",
        ));
    }
    Ok(scope)
}

fn opt_time(body: &Map<String, Value>, field: &str) -> Result<Option<chrono::DateTime<Utc>>, ApiError> {
    Ok(opt_str(body, field)?.map(|s| parse_time(s, field)).transpose()?)
}

fn label(zh_en: (&str, &str)) -> Value {
    json!({"zh": zh_en.0, "en": zh_en.1})
}

/// The incident as the API shows it, with its children and notices.
pub fn incident_json(i: &Incident) -> Value {
    let notices: Vec<Value> = i
        .notices
        .iter()
        .map(|b| {
            json!({"key": b.key, "text": b.text, "channel": b.channel, "state": b.state, "state_label": label(b.state.label()),
                "planned": b.planned, "requested_by": b.requested_by, "requested_at": b.requested_at,
                "approved_by": b.approved_by, "finished_at": b.finished_at})
        })
        .collect();
    json!({
        "id": i.id, "number": i.number, "type": i.kind, "type_label": label(i.kind.label()), "title": i.title,
        "scope": i.scope, "severity": i.severity, "severity_label": label(i.severity.label()),
        "state": i.state, "state_label": label(i.state.label()), "active": i.state.active(), "owner": i.owner,
        "started_at": i.started_at, "eta": i.eta, "ended_at": i.ended_at, "notes": i.notes,
        "resolution": i.resolution, "notices": notices, "from_alarm": i.from_alarm, "compensation": i.compensation,
        "created_by": i.created_by, "created_at": i.created_at, "updated_at": i.updated_at,
    })
}

/// Who may move an incident along (notes: engineers too).
fn may_steer(who: &Actor) -> Result<(), ApiError> {
    match who.role {
        Role::Supervisor | Role::Admin => Ok(()),
        _ => Err(ApiError::Forbidden {
            reason: "only supervisors steer a major incident".into(),
            reason_zh: "仅客服主管可推进重大故障".into(),
        }),
    }
}

impl<S: Store> Kefu<S> {
    /// `POST /api/v1/incidents`: declared as detected (or, by a supervisor
    /// confirming a spike's proposal, with `tickets` to link at once).
    pub async fn create_incident(&self, who: &Actor, body: &Map<String, Value>) -> Result<Value, ApiError> {
        only_fields(
            body,
            &["type", "title", "scope", "started_at", "eta", "severity", "owner", "note", "alarm", "tickets"],
        )?;
        let kind = Kind::parse(opt_str(body, "type")?.unwrap_or(""), "type")?;
        let title = kefu_domain::validate::required_text(opt_str(body, "title")?, "title", 200)?;
        let scope = scope_of(body)?;
        let now = self.now();
        let started_at = opt_time(body, "started_at")?.unwrap_or(now);
        if started_at > now + chrono::Duration::days(90) {
            return Err(invalid("started_at", "started_at is at most 90 days ahead", "开始时间最多为 90 天后"));
        }
        let eta = opt_time(body, "eta")?;
        if eta.is_some_and(|e| e < started_at) {
            return Err(invalid("eta", "eta is after started_at", "预计恢复时间须晚于开始时间"));
        }
        let severity = Severity::parse(opt_str(body, "severity")?.unwrap_or("major"), "severity")?;
        let owner = match opt_str(body, "owner")? {
            Some(name) => Some(self.find_staff(name, "owner").await?.id),
            None => None,
        };
        let note = kefu_domain::validate::optional_free_text(opt_str(body, "note")?, "note", 1000)?;
        let from_alarm = kefu_domain::validate::optional_text(opt_str(body, "alarm")?, "alarm", 200)?;
        let tickets = self.listed_tickets(body).await?;
        let draft = Incident {
            id: 0,
            number: String::new(),
            kind,
            title,
            scope,
            severity,
            state: State::Detected,
            owner,
            started_at,
            eta,
            ended_at: None,
            notes: note
                .map(|text| vec![Note { at: now, by: who.id, by_name: who.username.clone(), text }])
                .unwrap_or_default(),
            resolution: None,
            notices: vec![],
            from_alarm,
            compensation: None,
            playbook: None,
            created_by: who.id,
            created_at: now,
            updated_at: now,
        };
        let data = json!({"type": kind, "title": draft.title, "scope": draft.scope, "started_at": started_at});
        let i = self.store.create_incident(draft, who.username.clone(), data).await?;
        self.core.incidents.forget();
        for t in tickets {
            self.link_one(who, &i, t, Some("来自突增预警 / from the spike alarm")).await?;
        }
        self.sweep_incident(&i, None).await?;
        self.incident_view(i.id).await
    }

    /// The `tickets` of a confirmed proposal: numbers or ids, at most 500.
    async fn listed_tickets(&self, body: &Map<String, Value>) -> Result<Vec<TicketId>, ApiError> {
        let keys = str_list(body, "tickets").map_err(|_| {
            invalid("tickets", "tickets is a list of up to 50 ticket numbers", "tickets 须为不超过 50 个工单号")
        })?;
        let mut out = Vec::new();
        for k in keys {
            out.push(self.ticket_id(&k).await.map_err(|_| {
                ApiError::from(FieldError::new("tickets", format!("no ticket '{k}'"), format!("工单“{k}”不存在")))
            })?);
        }
        Ok(out)
    }

    pub async fn incident(&self, id: i64) -> Result<Incident, ApiError> {
        self.store.incident(id).await?.ok_or_else(not_found)
    }

    /// The incident with `children: {total, by_status}` and notice progress.
    pub async fn incident_view(&self, id: i64) -> Result<Value, ApiError> {
        let i = self.incident(id).await?;
        let mut out = incident_json(&i);
        out["playbook"] = playbook_json(&i, self.now());
        let by_status = self.store.children_by_status(id).await?;
        let total: i64 = by_status.iter().map(|(_, n)| n).sum();
        let labelled: Vec<Value> = by_status
            .iter()
            .map(|(s, n)| {
                let (zh, en) = self.status_label(s);
                json!({"status": s, "label": zh, "label_en": en, "count": n})
            })
            .collect();
        let by: Map<String, Value> = by_status.iter().map(|(s, n)| (s.clone(), json!(n))).collect();
        out["children"] = json!({"total": total, "by_status": by, "statuses": labelled});
        let progress = self.store.notice_progress(id).await?;
        for (n, p) in progress.iter().enumerate() {
            let by: Map<String, Value> = p.by_state.iter().map(|(s, c)| (s.clone(), json!(c))).collect();
            if let Some(slot) =
                out["notices"].as_array_mut().and_then(|l| l.iter_mut().find(|b| b["key"] == p.notice.as_str()))
            {
                slot["customers"] = json!(p.customers);
                slot["by_state"] = Value::Object(by);
            } else {
                tracing::warn!(incident = id, notice = %p.notice, n, "notice rows without their batch");
            }
        }
        Ok(out)
    }

    fn status_label(&self, status: &str) -> (String, String) {
        for tt in kefu_domain::TicketType::ALL {
            if let Some(s) = self.core.flows.get(*tt).state(status) {
                return (s.zh.clone(), s.en.clone());
            }
        }
        (status.to_string(), status.to_string())
    }

    /// The active incidents (for the intake banner), this node's cache.
    pub async fn active_incidents(&self) -> Result<Arc<Vec<Incident>>, ApiError> {
        let max_age = std::time::Duration::from_secs(self.core.policy.incidents.refresh_seconds.into());
        if let Some(list) = self.core.incidents.fresh(max_age) {
            return Ok(list);
        }
        Ok(self.core.incidents.put(self.store.incidents(true, 100).await?))
    }

    /// The incident a ticket being registered belongs to, if any: the
    /// newest active one whose scope and window cover it.
    pub(super) async fn incident_for(&self, t: &Ticket) -> Result<Option<IncidentRef>, ApiError> {
        let policy = &self.core.policy.incidents;
        let active = self.active_incidents().await?;
        Ok(active.iter().find(|i| links(policy, &i.scope, i.window(), t)).map(Incident::as_ref))
    }

    /// Links the open tickets the incident's scope covers, registered since
    /// `since` (None: since its window began). Returns how many.
    pub async fn sweep_incident(&self, i: &Incident, since: Option<chrono::DateTime<Utc>>) -> Result<u32, ApiError> {
        if !i.state.active() {
            return Ok(0);
        }
        let policy = &self.core.policy.incidents;
        let from = i.started_at - chrono::Duration::minutes(policy.link_before_minutes.into());
        let system = self.system_actor();
        let mut linked = 0;
        let mut after = None;
        loop {
            let filter = TicketFilter {
                open: Some(true),
                created_from: Some(since.map_or(from, |s| s.max(from))),
                after,
                page: 1,
                per_page: PAGE,
                ..Default::default()
            };
            let page = self.store.list_tickets(filter).await?;
            for t in &page.items {
                if t.incident.is_none() && links(policy, &i.scope, i.window(), t) {
                    linked += u32::from(self.link_one(&system, i, t.id, None).await?);
                }
            }
            match page.items.last() {
                Some(last) if page.items.len() == PAGE as usize => after = Some(Cursor::of(last)),
                _ => break,
            }
        }
        Ok(linked)
    }

    /// kefu itself, for automatic links.
    fn system_actor(&self) -> Actor {
        Actor::new(kefu_store::SYSTEM, "system:incidents", Role::Admin)
    }

    /// Links a ticket (a write on the ticket, with its audit event) and gives
    /// it what the incident already told its other children. False if it
    /// was already linked to this incident.
    pub(super) async fn link_one(
        &self,
        who: &Actor,
        i: &Incident,
        ticket: TicketId,
        reason: Option<&str>,
    ) -> Result<bool, ApiError> {
        let to = i.as_ref();
        let data =
            json!({"incident": to.number, "incident_id": to.id, "reason": reason, "automatic": reason.is_none()});
        let mut fresh = true;
        let (core, now) = (self.core.clone(), self.now());
        let outcome = self
            .system_change(
                who,
                ticket,
                Box::new(move |t: &Ticket| {
                    match &t.incident {
                        Some(have) if have.id == to.id => {
                            return Err(DomainError::Invalid(FieldError::new("ticket", "already linked", "已关联")));
                        }
                        Some(other) => {
                            return Err(DomainError::Invalid(FieldError::new(
                                "ticket",
                                format!("the ticket is linked to {} already; unlink it first", other.number),
                                format!("该工单已关联重大故障 {}，请先解除关联", other.number),
                            )));
                        }
                        None => {}
                    }
                    let mut next = t.clone();
                    next.incident = Some(to);
                    held(&core, t, &mut next, now);
                    Ok(Mutation::new(next, "incident_link", data))
                }),
            )
            .await;
        match outcome {
            Ok(()) => {}
            Err(ApiError::Invalid(e)) if e.message == "already linked" => fresh = false,
            Err(e) => return Err(e),
        }
        if fresh && let Some(t) = self.store.ticket(TicketKey::Id(ticket)).await? {
            self.catch_up_child(i.id, &t).await?;
        }
        Ok(fresh)
    }

    /// A child linked late gets the notices already sent (the store keeps
    /// it to once per customer). Public notes need no copy: the child's
    /// view shows the incident's.
    pub(super) async fn catch_up_child(&self, incident: i64, t: &Ticket) -> Result<(), ApiError> {
        let Some(i) = self.store.incident(incident).await? else { return Ok(()) };
        for b in i.notices.iter().filter(|b| b.state != BatchState::AwaitingApproval) {
            let targets = notice_targets(b, std::slice::from_ref(t));
            self.store.record_notices(i.id, b.key.clone(), targets, self.now()).await?;
        }
        Ok(())
    }

    /// `POST /api/v1/incidents/{id}/links {ticket, reason?}` by staff.
    pub async fn link_incident(&self, who: &Actor, id: i64, body: &Map<String, Value>) -> Result<Value, ApiError> {
        only_fields(body, &["ticket", "reason"])?;
        let i = self.incident(id).await?;
        if i.state == State::Closed {
            return Err(invalid("incident", "the incident is closed", "该重大故障已关闭"));
        }
        let key =
            opt_str(body, "ticket")?.ok_or_else(|| invalid("ticket", "ticket is required", "须填写工单号 ticket"))?;
        let reason = kefu_domain::validate::optional_free_text(opt_str(body, "reason")?, "reason", 500)?;
        let t = self.ticket_for(who, key, true).await?;
        let fresh =
            self.link_one(who, &i, t.id, Some(reason.as_deref().unwrap_or("人工关联 / linked by staff"))).await?;
        let mut out = self.incident_view(id).await?;
        out["linked"] = json!({"ticket": t.number, "new": fresh});
        Ok(out)
    }

    /// `POST /api/v1/incidents/{id}/unlinks {ticket, reason}`: the reason is required.
    pub async fn unlink_incident(&self, who: &Actor, id: i64, body: &Map<String, Value>) -> Result<Value, ApiError> {
        only_fields(body, &["ticket", "reason"])?;
        let i = self.incident(id).await?;
        let key =
            opt_str(body, "ticket")?.ok_or_else(|| invalid("ticket", "ticket is required", "须填写工单号 ticket"))?;
        let reason = kefu_domain::validate::required_free_text(opt_str(body, "reason")?, "reason", 500)?;
        let t = self.ticket_for(who, key, true).await?;
        let number = i.number.clone();
        let data = json!({"incident": number, "incident_id": i.id, "reason": reason});
        let (core, now) = (self.core.clone(), self.now());
        self.system_change(
            who,
            t.id,
            Box::new(move |t: &Ticket| {
                if t.incident.as_ref().map(|r| r.id) != Some(i.id) {
                    return Err(DomainError::Invalid(FieldError::new(
                        "ticket",
                        format!("the ticket is not linked to {number}"),
                        format!("该工单未关联重大故障 {number}"),
                    )));
                }
                let mut next = t.clone();
                next.incident = None;
                held(&core, t, &mut next, now);
                Ok(Mutation::new(next, "incident_unlink", data))
            }),
        )
        .await?;
        self.incident_view(id).await
    }

    /// `POST /api/v1/incidents/{id}/actions {action, …}`.
    pub async fn incident_action(&self, who: &Actor, id: i64, body: &Map<String, Value>) -> Result<Value, ApiError> {
        let action = opt_str(body, "action")?.unwrap_or("");
        match action {
            "note" => return self.incident_note(who, id, body).await,
            "notify" => return self.notify_incident(who, id, body).await,
            "approve" => return self.approve_notice(who, id, body).await,
            "restore" => return self.restore_incident(who, id, body).await,
            "approve_compensation" => return self.approve_compensation(who, id, body).await,
            "start_playbook" => return self.start_playbook(who, id, body).await,
            "check_step" => return self.check_step(who, id, body).await,
            "confirm" | "close" => {}
            other => {
                return Err(invalid(
                    "action",
                    format!(
                        "unknown action '{other}' (confirm, notify, approve, note, restore, close, approve_compensation, start_playbook, check_step)"
                    ),
                    format!(
                        "未知操作“{other}”（可用：confirm、notify、approve、note、restore、close、approve_compensation、start_playbook、check_step）"
                    ),
                ));
            }
        }
        only_fields(body, &["action", "reason"])?;
        may_steer(who)?;
        let act = if action == "confirm" { Action::Confirm } else { Action::Close };
        let i = self.step(who, id, act, json!({}), |_| Ok(())).await?;
        if act == Action::Confirm {
            self.sweep_incident(&i, None).await?;
        }
        self.incident_view(id).await
    }

    /// Moves the incident by `act` (checked against its flow), letting
    /// `also` change the document in the same write.
    async fn step(
        &self,
        who: &Actor,
        id: i64,
        act: Action,
        data: Value,
        also: impl FnOnce(&mut Incident) -> Result<(), DomainError> + Send + 'static,
    ) -> Result<Incident, ApiError> {
        let now = self.now();
        let decide = Box::new(move |i: &Incident| {
            let to = next(i.state, act).map_err(|_| DomainError::NotAllowed {
                action: act.code().into(),
                state: i.state.code().into(),
                allowed: Action::ALL.iter().filter(|a| next(i.state, **a).is_ok()).map(|a| a.code().into()).collect(),
            })?;
            let mut n = i.clone();
            n.state = to;
            n.updated_at = now;
            also(&mut n)?;
            Ok((n, act.code().to_string(), data))
        });
        self.change(who, id, decide).await
    }

    /// A public progress note. Children do not get a copy: their view shows
    /// the incident's notes as they are (so a child linked late misses none).
    async fn incident_note(&self, who: &Actor, id: i64, body: &Map<String, Value>) -> Result<Value, ApiError> {
        only_fields(body, &["action", "text", "eta"])?;
        if !matches!(who.role, Role::Supervisor | Role::Admin | Role::Engineer) {
            return Err(ApiError::Forbidden {
                reason: "supervisors and engineers write progress notes".into(),
                reason_zh: "仅客服主管和工程师可发布进展".into(),
            });
        }
        let text = kefu_domain::validate::required_free_text(opt_str(body, "text")?, "text", 1000)?;
        let eta = opt_time(body, "eta")?;
        let (now, by, by_name, note_text) = (self.now(), who.id, who.username.clone(), text.clone());
        let decide = Box::new(move |i: &Incident| {
            if i.state == State::Closed {
                return Err(DomainError::Invalid(FieldError::new(
                    "action",
                    "the incident is closed",
                    "该重大故障已关闭",
                )));
            }
            let mut n = i.clone();
            n.notes.push(Note { at: now, by, by_name, text: note_text.clone() });
            if eta.is_some() {
                n.eta = eta;
            }
            Ok((n, "note".to_string(), json!({"text": note_text, "eta": eta})))
        });
        self.change(who, id, decide).await?;
        self.incident_view(id).await
    }

    /// The linked tickets, a page at a time (newest first), whole: one
    /// query per page, not one per child.
    pub(super) async fn children_page(&self, id: i64, after: Option<Cursor>) -> Result<Vec<Ticket>, ApiError> {
        let f = TicketFilter { incident: Some(id), after, page: 1, per_page: PAGE, ..Default::default() };
        Ok(self.store.list_tickets(f).await?.items)
    }

    /// The cursor after a page, None when it was the last.
    pub(super) fn next_page(page: &[Ticket]) -> Option<Cursor> {
        page.last().filter(|_| page.len() == PAGE as usize).map(Cursor::of)
    }

    /// The customers a notice would reach: one per customer of the open children.
    async fn notice_reach(&self, i: &Incident) -> Result<u32, ApiError> {
        let mut customers = std::collections::HashSet::new();
        let mut after = None;
        loop {
            let page = self.children_page(i.id, after).await?;
            customers.extend(page.iter().filter(|t| t.open).map(|t| t.customer.id));
            match Self::next_page(&page) {
                Some(c) => after = Some(c),
                None => return Ok(customers.len() as u32),
            }
        }
    }

    /// `notify {text, channel?, dry_run?}`: the dry run counts; above the
    /// policy's threshold the batch waits for a second person's approval.
    async fn notify_incident(&self, who: &Actor, id: i64, body: &Map<String, Value>) -> Result<Value, ApiError> {
        only_fields(body, &["action", "text", "channel", "dry_run"])?;
        may_steer(who)?;
        let text = kefu_domain::validate::required_free_text(opt_str(body, "text")?, "text", 300)?;
        // SMS: every customer has a phone number; not every one an address.
        let channel = match opt_str(body, "channel")?.unwrap_or("sms") {
            "sms" => "sms".to_string(),
            _ => return Err(invalid("channel", "channel is sms", "渠道须为 sms（短信）")),
        };
        let dry_run = match body.get("dry_run") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(invalid("dry_run", "dry_run is true or false", "dry_run 须为 true 或 false")),
        };
        let i = self.incident(id).await?;
        next(i.state, Action::Notify).map_err(|_| DomainError::NotAllowed {
            action: "notify".into(),
            state: i.state.code().into(),
            allowed: Action::ALL.iter().filter(|a| next(i.state, **a).is_ok()).map(|a| a.code().into()).collect(),
        })?;
        let reach = self.notice_reach(&i).await?;
        let threshold = self.core.policy.incidents.approval_above;
        let (via_zh, via_en) = ("短信", "SMS");
        if dry_run {
            return Ok(json!({
                "dry_run": true, "customers": reach, "channel": channel, "needs_approval": reach > threshold,
                "message": format!("this notifies {reach} customers by {via_en}"),
                "message_zh": format!("将通过{via_zh}通知 {reach} 位客户"),
            }));
        }
        let (now, by) = (self.now(), who.id);
        let state = if reach > threshold { BatchState::AwaitingApproval } else { BatchState::Sending };
        let i = self
            .step(who, id, Action::Notify, json!({"text": text, "channel": channel, "customers": reach}), move |n| {
                let key = n.next_batch_key();
                n.notices.push(NoticeBatch {
                    key,
                    text,
                    channel,
                    state,
                    planned: reach,
                    requested_by: by,
                    requested_at: now,
                    approved_by: None,
                    finished_at: None,
                });
                Ok(())
            })
            .await?;
        if state == BatchState::Sending {
            self.spawn_fan_out(i.id);
        }
        self.incident_view(id).await
    }

    /// `approve {notice}`: a second person releases a batch above the threshold.
    async fn approve_notice(&self, who: &Actor, id: i64, body: &Map<String, Value>) -> Result<Value, ApiError> {
        only_fields(body, &["action", "notice"])?;
        may_steer(who)?;
        let key = opt_str(body, "notice")?.unwrap_or("").to_string();
        let (now, by) = (self.now(), who.id);
        let decide = Box::new(move |i: &Incident| {
            let mut n = i.clone();
            let b = n.notices.iter_mut().find(|b| b.key == key).ok_or_else(|| {
                DomainError::Invalid(FieldError::new(
                    "notice",
                    format!("no notice '{key}'"),
                    format!("通知批次“{key}”不存在"),
                ))
            })?;
            if b.state != BatchState::AwaitingApproval {
                return Err(DomainError::Invalid(FieldError::new("notice", "not awaiting approval", "该批次无需审批")));
            }
            if b.requested_by == by {
                return Err(DomainError::Invalid(FieldError::new(
                    "notice",
                    "a second person approves: not the one who asked",
                    "须由发起人以外的第二人审批",
                )));
            }
            b.state = BatchState::Sending;
            b.approved_by = Some(by);
            Ok((n, "approve".to_string(), json!({"notice": key, "at": now})))
        });
        let i = self.change(who, id, decide).await?;
        self.spawn_fan_out(i.id);
        self.incident_view(id).await
    }

    fn spawn_fan_out(&self, id: i64) {
        let kefu = self.clone();
        tokio::spawn(async move {
            if let Err(e) = kefu.send_incident_notices(id).await {
                tracing::warn!(incident = id, error = %e, "incident notices interrupted; the job resumes them");
            }
        });
    }

    /// Fans every batch being sent out to the children's customers, then
    /// marks it sent. Safe on two nodes at once and after a crash: the
    /// store records each (notice, customer) once. Returns messages queued.
    pub async fn send_incident_notices(&self, id: i64) -> Result<u32, ApiError> {
        let i = self.incident(id).await?;
        let mut queued = 0;
        for b in i.notices.iter().filter(|b| b.state == BatchState::Sending) {
            let mut after = None;
            loop {
                let page = self.children_page(id, after).await?;
                let targets = notice_targets(b, &page);
                queued += self.store.record_notices(id, b.key.clone(), targets, self.now()).await?;
                match Self::next_page(&page) {
                    Some(c) => after = Some(c),
                    None => break,
                }
            }
            let (key, now) = (b.key.clone(), self.now());
            let done = Box::new(move |i: &Incident| {
                let mut n = i.clone();
                let mut state = n.state;
                if let Some(b) = n.notices.iter_mut().find(|b| b.key == key && b.state == BatchState::Sending) {
                    b.state = BatchState::Sent;
                    b.finished_at = Some(now);
                    if n.state == State::Notifying {
                        state = next(n.state, Action::Notified).unwrap_or(n.state);
                    }
                }
                n.state = state;
                Ok((n, "notified".to_string(), json!({"notice": key})))
            });
            let op = ChangeIncident { id, actor: None, actor_name: "kefu".into(), now, decide: done };
            self.store.change_incident(op).await?;
        }
        self.core.incidents.forget();
        Ok(queued)
    }

    /// `restore {resolution, ended_at?}`: the incident is over; every open
    /// child whose customer has not confirmed is resolved with the
    /// resolution, and the customer loop runs per child from there.
    async fn restore_incident(&self, who: &Actor, id: i64, body: &Map<String, Value>) -> Result<Value, ApiError> {
        only_fields(body, &["action", "resolution", "ended_at"])?;
        may_steer(who)?;
        let resolution = kefu_domain::validate::required_free_text(opt_str(body, "resolution")?, "resolution", 1000)?;
        let ended_at = opt_time(body, "ended_at")?.unwrap_or(self.now());
        if ended_at > self.now() + chrono::Duration::minutes(5) {
            return Err(invalid("ended_at", "ended_at is not in the future", "恢复时间不能晚于当前时间"));
        }
        let kept = resolution.clone();
        let data = json!({"resolution": resolution, "ended_at": ended_at});
        let i = self
            .step(who, id, Action::Restore, data, move |n| {
                if ended_at < n.started_at {
                    return Err(DomainError::Invalid(FieldError::new(
                        "ended_at",
                        "ended_at is after the start",
                        "恢复时间须晚于开始时间",
                    )));
                }
                n.ended_at = Some(ended_at);
                n.resolution = Some(kept);
                Ok(())
            })
            .await?;
        let (mut resolved, mut kept_open) = (0u32, 0u32);
        if self.core.policy.incidents.sync.resolution {
            let mut after = None;
            loop {
                let page = self.children_page(id, after).await?;
                for t in &page {
                    match self.resolve_child(who, &i, t, &resolution).await? {
                        true => resolved += 1,
                        false => kept_open += 1,
                    }
                }
                match Self::next_page(&page) {
                    Some(c) => after = Some(c),
                    None => break,
                }
            }
        }
        let mut out = self.incident_view(id).await?;
        out["restored"] = json!({"resolved": resolved, "left": kept_open});
        Ok(out)
    }

    /// Resolves one child if the sync rules allow; false if it was left as it is.
    /// The decision runs on the ticket as locked in the write; `t` may be a
    /// moment old.
    async fn resolve_child(&self, who: &Actor, i: &Incident, t: &Ticket, resolution: &str) -> Result<bool, ApiError> {
        let flow = self.core.flows.get(t.ticket_type);
        if !may_sync(t) || flow.rule_for(t, who, ActionKind::Resolve).is_err() {
            return Ok(false);
        }
        let mut body = Map::new();
        body.insert("action".into(), json!("resolve"));
        body.insert("result".into(), json!(format!("{resolution}（重大故障 {} 已修复）", i.number)));
        let request = ActionRequest::parse(&body)?;
        match self.act_as(who, t, request).await {
            Ok(_) => Ok(true),
            // Moved on meanwhile (its handler resolved it): nothing to do.
            Err(ApiError::NotAllowed { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Every batch still being sent, of every incident (the job's round,
    /// and what a node that died mid-way left).
    pub async fn resume_incident_notices(&self) -> Result<u32, ApiError> {
        let mut queued = 0;
        for i in self.store.incidents(false, 50).await? {
            if i.notices.iter().any(|b| b.state == BatchState::Sending) {
                queued += self.send_incident_notices(i.id).await?;
            }
        }
        Ok(queued)
    }

    /// The job's sweep: links tickets registered in the last `minutes` that
    /// an active incident covers (registered on a node that did not know
    /// of the incident yet).
    pub async fn sweep_incidents(&self, minutes: i64) -> Result<u32, ApiError> {
        let since = self.now() - chrono::Duration::minutes(minutes);
        let mut linked = 0;
        for i in self.store.incidents(true, 100).await?.iter() {
            linked += self.sweep_incident(i, Some(since)).await?;
        }
        Ok(linked)
    }
}

/// The clocks the policy stops while linked: stopped or released, and the
/// next alert moved accordingly.
fn held(core: &Core, before: &Ticket, after: &mut Ticket, now: chrono::DateTime<Utc>) {
    kefu_domain::sla::hold(&core.policy.sla, before, after, now);
    after.next_alert_at = kefu_domain::sla::next_alert(&core.policy.sla, &after.deadlines);
}

/// One message per customer of the open children, on the customer's first
/// open ticket of the batch.
fn notice_targets(b: &NoticeBatch, children: &[Ticket]) -> Vec<NoticeTarget> {
    let mut seen = std::collections::HashSet::new();
    children
        .iter()
        .filter(|t| t.open && seen.insert(t.customer.id))
        .map(|t| NoticeTarget {
            customer: t.customer.id,
            ticket: t.id,
            message: NewMessage {
                kind: "incident_notice".into(),
                channel: b.channel.clone(),
                recipient: t.customer.phone.as_str().to_string(),
                subject: "故障通知".into(),
                body: format!("【故障通知】{}（您的工单 {}）", b.text, t.number),
                in_reply_to: None,
            },
        })
        .collect()
}

impl<S: Store> Kefu<S> {
    /// Spike proposals: buckets whose last window is unusually full
    /// against the same window of the baseline days, with the tickets that
    /// fired them and a ready body to confirm as an incident. Reads only the
    /// windows compared, not the days between. Alarms whose tickets are all
    /// linked already are answered: left out.
    pub async fn incident_candidates(&self) -> Result<Value, ApiError> {
        let p = &self.core.policy.spike;
        // The window ends just after now: a ticket registered this very
        // instant counts (the test's windows are half-open).
        let now = self.now() + chrono::Duration::milliseconds(1);
        let mut marks = Vec::new();
        let mut recent: std::collections::HashMap<i64, Ticket> = Default::default();
        for d in 0..=i64::from(p.baseline_days) {
            let end = now - chrono::Duration::days(d);
            let mut after = None;
            loop {
                let filter = TicketFilter {
                    created_from: Some(end - p.window()),
                    created_to: Some(end),
                    after,
                    page: 1,
                    per_page: PAGE,
                    ..Default::default()
                };
                let page = self.store.list_tickets(filter).await?;
                for t in &page.items {
                    let place = format!(
                        "{} {}",
                        t.location.as_deref().unwrap_or(""),
                        t.customer.address.as_deref().unwrap_or("")
                    );
                    let text = format!("{} {}", t.title, t.description);
                    let kind = t.ticket_type.as_str();
                    for b in kefu_domain::spike::buckets(p, kind, &place, t.business_line.as_deref(), &text) {
                        marks.push((t.id.0, b, t.created_at));
                    }
                    if d == 0 {
                        recent.insert(t.id.0, t.clone());
                    }
                }
                match page.items.last() {
                    Some(last) if page.items.len() == PAGE as usize => after = Some(Cursor::of(last)),
                    _ => break,
                }
            }
        }
        let alarms = kefu_domain::spike::detect(p, &marks, now);
        let dismissed = self.store.spike_dismissals(now).await?;
        let items: Vec<Value> = alarms
            .iter()
            .filter(|a| a.tickets.iter().any(|id| recent.get(id).is_some_and(|t| t.incident.is_none())))
            .filter(|a| !dismissed.iter().any(|d| d.bucket == a.bucket))
            .map(|a| candidate_json(a, &recent, p))
            .collect();
        Ok(json!({"items": items, "window_minutes": p.window_minutes, "baseline_days": p.baseline_days}))
    }
}

impl<S: Store> Kefu<S> {
    /// `POST /api/v1/incidents/candidates/dismiss {bucket, reason}`: not an
    /// incident; the bucket is not proposed again for one window.
    pub async fn dismiss_candidate(&self, who: &Actor, body: &Map<String, Value>) -> Result<Value, ApiError> {
        only_fields(body, &["bucket", "reason"])?;
        let bucket = kefu_domain::validate::required_text(opt_str(body, "bucket")?, "bucket", 200)?;
        let reason = kefu_domain::validate::required_free_text(opt_str(body, "reason")?, "reason", 500)?;
        let now = self.now();
        let until = now + self.core.policy.spike.window();
        let d = Dismissal { bucket: bucket.clone(), until, reason: reason.clone(), by: who.id, at: now };
        self.store.dismiss_spike(d).await?;
        Ok(json!({"bucket": bucket, "until": until, "reason": reason}))
    }
}

/// One proposal: why it fired, the tickets, and the incident to confirm.
fn candidate_json(
    a: &kefu_domain::spike::Alarm,
    recent: &std::collections::HashMap<i64, Ticket>,
    p: &kefu_domain::spike::SpikePolicy,
) -> Value {
    let window = p.window_minutes;
    let parts: Vec<&str> = a.bucket.split('|').collect();
    let (region, line, cluster) = match parts.as_slice() {
        [_, region, line] => (*region, (*line != "-").then_some(*line), None),
        [cluster, region] => (*region, None, Some(*cluster)),
        _ => ("-", None, None),
    };
    let tickets: Vec<&Ticket> = a.tickets.iter().filter_map(|id| recent.get(id)).collect();
    let numbers: Vec<&str> = tickets.iter().map(|t| t.number.as_str()).collect();
    let started = tickets.first().map(|t| t.created_at);
    let what = cluster.or(line).unwrap_or("故障");
    let place = if region == "-" { "" } else { region };
    json!({
        "bucket": a.bucket, "region": (region != "-").then_some(region), "business_line": line, "cluster": cluster,
        "count": a.count, "expected": (a.expected * 100.0).round() / 100.0, "bound": a.bound, "tickets": numbers,
        "why": format!("{} tickets in the last {window} minutes where {:.1} are usual (alarm at {})", a.count, a.expected, a.bound),
        "why_zh": format!("近 {window} 分钟 {} 张工单，往常约 {:.1} 张（{} 张即预警）", a.count, a.expected, a.bound),
        "proposal": {
            "type": "outage",
            "title": format!("{place}{what}集中报障"),
            // A cluster's scope is its words: a ticket naming any of them.
            "scope": {"regions": if place.is_empty() { vec![] } else { vec![place] },
                      "services": match cluster {
                          Some(c) => p.clusters.get(c).cloned().unwrap_or_default(),
                          None => line.map(|l| vec![l.to_string()]).unwrap_or_default(),
                      },
                      "elements": []},
            "started_at": started,
            "alarm": a.bucket,
            "tickets": numbers,
        },
    })
}

impl<S: Store> Kefu<S> {
    /// `start_playbook {playbook?}`: runs an emergency plan for the
    /// incident — the one named, or the first shipped for its kind.
    pub(super) async fn start_playbook(
        &self,
        who: &Actor,
        id: i64,
        body: &Map<String, Value>,
    ) -> Result<Value, ApiError> {
        only_fields(body, &["action", "playbook"])?;
        may_steer(who)?;
        let i = self.incident(id).await?;
        let all = Playbook::all();
        let chosen = match opt_str(body, "playbook")? {
            Some(key) => all.iter().find(|p| p.key == key.trim()),
            None => all.iter().find(|p| p.kinds.contains(&i.kind)),
        };
        let p = chosen.ok_or_else(|| {
            let keys: Vec<&str> = all.iter().map(|p| p.key.as_str()).collect();
            invalid(
                "playbook",
                format!("no such emergency plan for this incident (plans: {})", keys.join(", ")),
                format!("没有适用于该事件的应急预案（可用：{}）", keys.join("、")),
            )
        })?;
        let (key, now, by) = (p.key.clone(), self.now(), who.id);
        self.change(who, id, move |i| {
            if i.playbook.is_some() {
                return Err(DomainError::Invalid(FieldError::new(
                    "playbook",
                    "a plan is running already",
                    "应急预案已启动",
                )));
            }
            if i.state == State::Closed {
                return Err(DomainError::Invalid(FieldError::new(
                    "action",
                    "the incident is closed",
                    "该重大故障已关闭",
                )));
            }
            let mut n = i.clone();
            n.playbook = Some(PlaybookRun { key: key.clone(), started_at: now, started_by: by, checks: vec![] });
            Ok((n, "start_playbook".into(), json!({"playbook": key})))
        })
        .await?;
        self.incident_view(id).await
    }

    /// `check_step {step, note?}`: by the step's role (or a supervisor), once.
    pub(super) async fn check_step(&self, who: &Actor, id: i64, body: &Map<String, Value>) -> Result<Value, ApiError> {
        only_fields(body, &["action", "step", "note"])?;
        let i = self.incident(id).await?;
        let run = i.playbook.as_ref().ok_or_else(|| invalid("step", "no plan is running", "尚未启动应急预案"))?;
        let plan = Playbook::all().iter().find(|p| p.key == run.key).ok_or_else(not_found)?;
        let key = opt_str(body, "step")?.unwrap_or("").trim().to_string();
        let step = plan
            .step(&key)
            .ok_or_else(|| invalid("step", format!("no step '{key}'"), format!("预案中没有步骤“{key}”")))?;
        if !may_check(step, who.role) {
            return Err(ApiError::Forbidden {
                reason: format!("this step is for the {} role", step.role.as_str()),
                reason_zh: format!("该步骤须由{}确认", step.role.label_zh()),
            });
        }
        let note = kefu_domain::validate::optional_free_text(opt_str(body, "note")?, "note", 500)?;
        let (now, by, by_name) = (self.now(), who.id, who.username.clone());
        self.change(who, id, move |i| {
            let mut n = i.clone();
            let run = n
                .playbook
                .as_mut()
                .ok_or_else(|| DomainError::Invalid(FieldError::new("step", "no plan", "尚未启动应急预案")))?;
            if run.checks.iter().any(|c| c.step == key) {
                return Err(DomainError::Invalid(FieldError::new("step", "already checked off", "该步骤已确认")));
            }
            run.checks.push(StepCheck { step: key.clone(), at: now, by, by_name, note: note.clone() });
            Ok((n, "check_step".into(), json!({"step": key, "note": note})))
        })
        .await?;
        self.incident_view(id).await
    }

    /// A change decided on the locked document (no flow step); this node's
    /// list of active incidents is read again after it.
    pub(super) async fn change(
        &self,
        who: &Actor,
        id: i64,
        decide: impl FnOnce(&Incident) -> Result<(Incident, String, Value), DomainError> + Send + 'static,
    ) -> Result<Incident, ApiError> {
        let op = ChangeIncident {
            id,
            actor: Some(who.id),
            actor_name: who.username.clone(),
            now: self.now(),
            decide: Box::new(decide),
        };
        let out = self.store.change_incident(op).await.map_err(|e| match e {
            StoreError::NotFound => not_found(),
            e => e.into(),
        })?;
        self.core.incidents.forget();
        Ok(out)
    }
}

/// The plan's steps as they stand: due, done, by whom, late, the script.
pub fn playbook_json(i: &Incident, now: chrono::DateTime<Utc>) -> Value {
    let Some(run) = &i.playbook else { return Value::Null };
    let Some(plan) = Playbook::all().iter().find(|p| p.key == run.key) else { return Value::Null };
    let done: Vec<(String, chrono::DateTime<Utc>)> = run.checks.iter().map(|c| (c.step.clone(), c.at)).collect();
    let eta = i.eta.map(kefu_domain::time::shanghai_minute);
    let steps: Vec<Value> = progress(plan, run.started_at, &done, now)
        .into_iter()
        .zip(&plan.steps)
        .map(|(st, step)| {
            let check = run.checks.iter().find(|c| c.step == step.key);
            json!({
                "key": st.key, "title": step.title_zh, "title_en": step.title_en, "role": step.role,
                "due_at": st.due_at, "done_at": st.done_at, "took_minutes": st.took_minutes, "late": st.late,
                "by": check.map(|c| c.by_name.clone()), "note": check.and_then(|c| c.note.clone()),
                "script": step.script_zh.as_deref().map(|t| script(t, eta.as_deref(), true)),
                "script_en": step.script_en.as_deref().map(|t| script(t, eta.as_deref(), false)),
            })
        })
        .collect();
    json!({"key": plan.key, "name": plan.name_zh, "name_en": plan.name_en, "started_at": run.started_at, "steps": steps})
}
