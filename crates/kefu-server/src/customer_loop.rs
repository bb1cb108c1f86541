//! The customer loop in the service (R-15, R-25…R-28): the messages an
//! action sends (receipt, result notice, visit invitation), the archive
//! gate, appeals that escalate, confirmation by default after the policy's
//! time, the return-visit scheduler, delivery receipts, the customer's
//! signed links, and the return-visit coverage report.

use crate::Kefu;
use crate::error::ApiError;
use crate::links::LinkError;
use crate::service::Core;
use chrono::{DateTime, Duration, Utc};
use kefu_domain::action::{ActionInput, ActionKind, ActionRequest, Decision};
use kefu_domain::customer_loop::{self as cl, Via, VisitState};
use kefu_domain::flow::Actor;
use kefu_domain::ticket::Ticket;
use kefu_domain::{DomainError, FieldError, Role, TicketId};

use kefu_store::*;
use serde_json::{Value, json};

/// The actor name of a customer answering through the link in a message
/// sent to their own phone or e-mail.
pub const PORTAL: &str = "customer:portal";
/// The actor name of whoever answers through a link got by looking the
/// ticket up with its number and the customer's phone.
pub const LOOKUP: &str = "customer:lookup";

/// Where the customer's link goes in a stored message: the signed link is
/// put in only as the message leaves for its gateway, so no staff view of
/// the message (nor the database) holds a link that acts as the customer.
pub const LINK_MARK: &str = "⟦link⟧";

/// What staff see in place of the link.
pub const LINK_SHOWN: &str = "［客户专用链接 / customer's link］";
/// The actor name of confirmation by default.
pub const AUTO_CONFIRM: &str = "system:auto-confirm";
const VISIT_SCHEDULER: &str = "system:visit-scheduler";

/// How an answer arrived, from who gave it.
pub fn via(actor: &Actor) -> Via {
    match actor.username.as_str() {
        PORTAL | LOOKUP => Via::Portal,
        AUTO_CONFIRM => Via::Default,
        _ => Via::Staff,
    }
}

/// The customer, acting through a signed link: allowed what the flows let
/// an agent record on their behalf (confirm, appeal, rate).
pub fn customer_actor(kind: crate::links::LinkKind) -> Actor {
    let name = match kind {
        crate::links::LinkKind::Message => PORTAL,
        crate::links::LinkKind::Lookup => LOOKUP,
    };
    Actor::new(SYSTEM, name, Role::Agent)
}

/// The message as it leaves for its gateway: the customer's signed link
/// put in, valid for the policy's time from when the message was written.
pub fn with_link(core: &Core, m: &Message) -> Message {
    let mut out = m.clone();
    if let Some(id) = m.ticket_id.filter(|_| m.body.contains(LINK_MARK)) {
        let link = portal_link(core, id, m.created_at);
        out.body = m.body.replace(LINK_MARK, &link);
    }
    out
}

fn when(t: DateTime<Utc>) -> String {
    t.with_timezone(&kefu_domain::time::shanghai()).format("%Y-%m-%d %H:%M").to_string()
}

/// A signed link to the ticket's portal page, valid for the policy's time.
pub fn portal_link(core: &Core, id: TicketId, now: DateTime<Utc>) -> String {
    let expires = now + Duration::hours(i64::from(core.policy.customer_loop.link_valid_hours));
    format!("{}/portal/t/{}", core.settings.public_url.trim_end_matches('/'), core.settings.link_key.sign(id, expires))
}

fn message(core: &Core, kind: &str, channel: &str, to: String, vars: &[(&str, &str)]) -> NewMessage {
    let r = core.settings.templates.render(kind, &core.policy.customer_loop.language, vars);
    NewMessage { kind: kind.into(), channel: channel.into(), recipient: to, subject: r.subject, body: r.body }
}

/// The receipt (受理回执) of a new ticket, by SMS to the customer's phone.
pub fn receipt(core: std::sync::Arc<Core>) -> Option<MessagesFn> {
    if !core.policy.customer_loop.receipt {
        return None;
    }
    Some(Box::new(move |t: &Ticket| {
        let link = LINK_MARK.to_string();
        let vars = [
            ("number", t.number.as_str()),
            ("type_zh", t.ticket_type.label_zh()),
            ("type_en", t.ticket_type.as_str()),
            ("title", t.title.as_str()),
            ("created_at", &when(t.created_at)),
            ("link", &link),
        ];
        vec![message(&core, "receipt", "sms", t.customer.phone.as_str().to_string(), &vars)]
    }))
}

/// What the archive gate knows beyond the ticket: whether the result
/// notice sent by SMS or e-mail reached its gateway.
pub async fn notice_delivered<S: Store>(kefu: &Kefu<S>, t: &Ticket) -> Result<Option<bool>, ApiError> {
    let l = &t.customer_loop;
    if !matches!(l.notice_method.as_deref(), Some("sms" | "email")) {
        return Ok(None);
    }
    let since = l.notified_at.unwrap_or(t.created_at);
    let messages = kefu.store.messages(t.id).await?;
    let last = messages
        .iter()
        .rev()
        .find(|m| matches!(m.kind.as_str(), "result" | "unsubscribe_confirmation") && m.created_at >= since);
    Ok(Some(last.is_some_and(|m| matches!(m.state.as_str(), "sent" | "delivered"))))
}

/// The loop's part of an action, run in the decision: the archive gate,
/// the loop record, the unreachable visit, and the messages to send.
pub fn on_action(
    core: &Core,
    before: &Ticket,
    d: &mut Decision,
    who: &Actor,
    request: &ActionRequest,
    delivered: Option<bool>,
    now: DateTime<Utc>,
) -> Result<Vec<NewMessage>, DomainError> {
    let flow = core.flows.get(before.ticket_type);
    if d.action == ActionKind::Archive {
        let missing = cl::missing_for_archive(flow, before, delivered);
        if !missing.is_empty() {
            return Err(DomainError::LoopIncomplete { missing: missing.iter().map(|s| s.to_string()).collect() });
        }
    }
    let has_visit = flow.has_action(ActionKind::ReturnVisit);
    let policy = &core.policy.customer_loop;
    if cl::apply(policy, &mut d.ticket, d.action, &request.input, via(who), has_visit, now) {
        // Unreachable after the policy's attempts: the visit is done, as such.
        if let Some(to) = flow.rule_for(before, who, ActionKind::ReturnVisit)?.to.clone() {
            d.ticket.status = to;
            d.ticket.open = flow.is_open(&d.ticket.status);
        }
        if let Value::Object(m) = &mut d.data {
            m.insert("unreachable".into(), json!(true));
        }
    }
    if d.action == ActionKind::Confirm
        && let Value::Object(m) = &mut d.data
    {
        m.insert("confirmed_by".into(), json!(d.ticket.customer_loop.confirmed_by));
    }
    match (&request.input, d.action) {
        (ActionInput::NotifyResult { method }, _) => result_notice(core, &d.ticket, method, request, now),
        _ => Ok(Vec::new()),
    }
}

/// The result notice (处理结果, or 退订确认 for an unsubscribe) by SMS or
/// e-mail; by phone, letter or in person nothing is sent, only recorded.
fn result_notice(
    core: &Core,
    t: &Ticket,
    method: &str,
    request: &ActionRequest,
    now: DateTime<Utc>,
) -> Result<Vec<NewMessage>, DomainError> {
    let to = match method {
        "sms" => t.customer.phone.as_str().to_string(),
        "email" => email(request.fields.get("email"))?,
        _ => return Ok(Vec::new()),
    };
    let kind =
        if t.ticket_type == kefu_domain::TicketType::Unsubscribe { "unsubscribe_confirmation" } else { "result" };
    let link = LINK_MARK.to_string();
    let handler = t.assignee.map_or_else(|| "客服中心".to_string(), |a| core.directory.summary(a).name);
    let hours = core.policy.customer_loop.auto_confirm_hours.to_string();
    let vars = [
        ("number", t.number.as_str()),
        ("title", t.title.as_str()),
        ("result", t.result.as_deref().unwrap_or("")),
        ("handler", &handler),
        ("resolved_at", &when(t.resolved_at.unwrap_or(now))),
        ("link", &link),
        ("confirm_hours", &hours),
    ];
    Ok(vec![message(core, kind, method, to, &vars)])
}

/// The address a result notice by e-mail goes to (the customer gives it
/// for this notice; it is kept encrypted with the message).
fn email(v: Option<&Value>) -> Result<String, FieldError> {
    let bad = || FieldError::new("email", "a valid e-mail address is required", "请填写有效的电子邮箱地址");
    let s = v.and_then(Value::as_str).map(str::trim).ok_or_else(bad)?;
    let (local, domain) = s.split_once('@').ok_or_else(bad)?;
    let ok = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && s.len() <= 254
        && !s.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'));
    if ok { Ok(s.to_string()) } else { Err(bad()) }
}

/// A staff notice of an appeal, to the handler and the first-contact owner.
pub fn appeal_notices(core: &Core, before: &Ticket, after: &Ticket, request: &ActionRequest) -> Vec<NewNotice> {
    let reason = match &request.input {
        ActionInput::WithReason { reason } => reason.as_str(),
        _ => "",
    };
    let vars = [("number", after.number.as_str()), ("reason", reason)];
    let zh = core.settings.templates.render("staff_appeal", "zh", &vars);
    let mut out = crate::notices::Notices::new(SYSTEM);
    let who = [Some(after.first_owner), before.assignee, after.assignee];
    out.add(who.into_iter().flatten(), "appeal", &zh.body_en, &zh.body);
    out.into_vec()
}

impl<S: Store> Kefu<S> {
    /// Confirms, as the policy's default, every result notice nobody
    /// answered within `auto_confirm_hours` (recorded as such). Returns
    /// how many were confirmed.
    pub async fn auto_confirm(&self) -> Result<usize, ApiError> {
        let wait = Duration::hours(i64::from(self.core.policy.customer_loop.auto_confirm_hours));
        let system = Actor::new(SYSTEM, AUTO_CONFIRM, Role::Supervisor);
        let body = json!({"action": "confirm"});
        let mut done = 0;
        for page in 1.. {
            let filter =
                TicketFilter { status: Some("result_notified".into()), page, per_page: 500, ..Default::default() };
            let got = self.store.list_tickets(filter).await?;
            for t in &got.items {
                let due = t.customer_loop.notified_at.is_some_and(|at| at + wait <= self.now());
                if !due
                    || !self.core.flows.get(t.ticket_type).allowed_actions(t, &system).contains(&ActionKind::Confirm)
                {
                    continue;
                }
                let request = ActionRequest::parse(body.as_object().expect("an object"))?;
                match self.act_as(&system, t, request).await {
                    Ok(_) => done += 1,
                    // Answered meanwhile (confirmed or appealed): nothing to do.
                    Err(ApiError::NotAllowed { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            if got.items.len() < 500 {
                break;
            }
        }
        Ok(done)
    }

    /// Sends the survey link of every due return visit made by SMS or
    /// online; visits by phone wait in the return-visit queue for an agent.
    pub async fn invite_visits(&self) -> Result<usize, ApiError> {
        let mut done = 0;
        for method in ["sms", "online"] {
            loop {
                let filter = VisitFilter {
                    state: Some("pending".into()),
                    method: Some(method.into()),
                    page: 1,
                    per_page: 200,
                    ..Default::default()
                };
                let due: Vec<VisitRow> = self.store.visits(filter).await?.items;
                for v in &due {
                    self.invite(v.ticket_id).await?;
                    done += 1;
                }
                if due.len() < 200 {
                    break;
                }
            }
        }
        Ok(done)
    }

    async fn invite(&self, id: TicketId) -> Result<(), ApiError> {
        let (core, now) = (self.core.clone(), self.now());
        let decide: Decide = Box::new(move |t: &Ticket| {
            let mut next = t.clone();
            let Some(v) = next.customer_loop.visit.as_mut().filter(|v| v.state == VisitState::Pending) else {
                // Taken care of meanwhile: record nothing new.
                return Ok(Mutation::new(t.clone(), "visit_check", json!({})));
            };
            v.state = VisitState::Invited;
            let method = v.method.clone();
            let link = LINK_MARK.to_string();
            let valid = when(now + Duration::hours(i64::from(core.policy.customer_loop.link_valid_hours)));
            let vars =
                [("number", t.number.as_str()), ("title", t.title.as_str()), ("link", &link), ("valid_until", &valid)];
            let invitation = message(&core, "visit_invitation", "sms", t.customer.phone.as_str().to_string(), &vars);
            next.updated_at = now;
            let data = json!({"method": method, "channel": "sms"});
            Ok(Mutation { outbox: vec![invitation], ..Mutation::new(next, "visit_invite", data) })
        });
        let system = Actor::new(SYSTEM, VISIT_SCHEDULER, Role::Admin);
        self.system_change(&system, id, decide).await
    }

    /// A delivery receipt from the SMS gateway.
    pub async fn sms_receipt(
        &self,
        provider_id: &str,
        delivered: bool,
        detail: Option<String>,
    ) -> Result<bool, ApiError> {
        Ok(self.store.message_receipt(provider_id, delivered, detail, self.now()).await?.is_some())
    }

    /// The ticket a signed link names, or why the link is refused.
    pub async fn ticket_by_link(&self, token: &str) -> Result<Ticket, LinkError> {
        Ok(self.ticket_and_link(token).await?.0)
    }

    async fn ticket_and_link(&self, token: &str) -> Result<(Ticket, crate::links::LinkKind), LinkError> {
        let (id, kind) = self.core.settings.link_key.verify(token, self.now())?;
        let t = self.store.ticket(TicketKey::Id(id)).await.ok().flatten().ok_or(LinkError::Malformed)?;
        Ok((t, kind))
    }

    /// A fresh link for a customer who proved the ticket is theirs by its
    /// number and their phone number.
    pub async fn lookup_link(&self, number: &str, phone: &str) -> Result<Option<String>, ApiError> {
        let number = number.trim().to_uppercase();
        if !kefu_domain::ticket::looks_like_number(&number) {
            return Ok(None);
        }
        let t = match self.store.ticket(TicketKey::Number(number)).await? {
            Some(t) if t.customer.phone.as_str() == phone.trim() => t,
            _ => return Ok(None),
        };
        let expires = self.now() + Duration::hours(1);
        Ok(Some(self.core.settings.link_key.sign_lookup(t.id, expires)))
    }

    /// The customer's answer through a signed link: confirm, appeal or the
    /// survey, checked by the flow like any other action.
    pub async fn customer_action(
        &self,
        token: &str,
        body: &serde_json::Map<String, Value>,
    ) -> Result<Ticket, ApiError> {
        let (t, kind) =
            self.ticket_and_link(token).await.map_err(|_| ApiError::NotFound { what: "link", what_zh: "链接" })?;
        let request = ActionRequest::parse(body)?;
        if !matches!(request.kind, ActionKind::Confirm | ActionKind::Appeal | ActionKind::ReturnVisit) {
            return Err(ApiError::Forbidden {
                reason: "customers may confirm, appeal or answer the survey only".into(),
                reason_zh: "客户只能确认、申诉或填写满意度调查".into(),
            });
        }
        self.act_as(&customer_actor(kind), &t, request).await
    }

    /// Return-visit figures per team and in total over resolutions in
    /// `[from, to)`, against the policy's coverage target.
    pub async fn visit_report(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Value, ApiError> {
        let policy = &self.core.policy.customer_loop;
        let rows = self.store.visit_counts(from, to, policy.satisfied_at).await?;
        let org = self.org().await?;
        let mut total = VisitCounts::default();
        let mut teams = Vec::new();
        for r in &rows {
            let team = r.team.and_then(|id| org.teams.iter().find(|t| t.id == id));
            let mut v = figures(r, policy.coverage_target);
            v["team"] = json!(team.map(|t| json!({"id": t.id, "code": t.code, "name": t.name})));
            teams.push(v);
            add(&mut total, r);
        }
        Ok(json!({
            "from": from, "to": to,
            "coverage_target": policy.coverage_target,
            "satisfied_at": policy.satisfied_at,
            "total": figures(&total, policy.coverage_target),
            "teams": teams,
        }))
    }
}

fn add(total: &mut VisitCounts, r: &VisitCounts) {
    total.resolved += r.resolved;
    total.visited += r.visited;
    total.unreachable += r.unreachable;
    total.rated += r.rated;
    total.rating_sum += r.rating_sum;
    total.satisfied += r.satisfied;
    total.nps_answers += r.nps_answers;
    total.promoters += r.promoters;
    total.detractors += r.detractors;
    total.late += r.late;
}

fn ratio(a: i64, b: i64) -> Option<f64> {
    (b > 0).then(|| (a as f64 / b as f64 * 10_000.0).round() / 10_000.0)
}

/// Coverage = visited / resolved; unreachable visits are counted apart and
/// do not cover. NPS = % promoters − % detractors.
fn figures(r: &VisitCounts, target: f64) -> Value {
    let coverage = ratio(r.visited, r.resolved);
    json!({
        "resolved": r.resolved,
        "visited": r.visited,
        "unreachable": r.unreachable,
        "coverage": coverage,
        "meets_target": coverage.map(|c| c >= target),
        "rated": r.rated,
        "satisfaction_avg": ratio(r.rating_sum, r.rated),
        "satisfied_rate": ratio(r.satisfied, r.rated),
        "late": r.late,
        "on_time_rate": ratio(r.resolved - r.late, r.resolved),
        "nps": (r.nps_answers > 0).then(|| ((r.promoters - r.detractors) as f64 * 100.0 / r.nps_answers as f64).round()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e_mail_addresses_are_checked() {
        assert_eq!(email(Some(&json!(" li.si@example.com "))).unwrap(), "li.si@example.com");
        for bad in ["", "nobody", "a@b", "a b@c.com", "@c.com", "a@.com", "x@y.com>", "a@b.c;d@e.f"] {
            assert!(email(Some(&json!(bad))).is_err(), "{bad}");
        }
        assert_eq!(email(None).unwrap_err().field, "email");
    }

    #[test]
    fn coverage_and_nps_figures() {
        let r = VisitCounts {
            resolved: 10,
            visited: 8,
            unreachable: 1,
            rated: 8,
            rating_sum: 36,
            satisfied: 7,
            nps_answers: 4,
            promoters: 2,
            detractors: 1,
            ..Default::default()
        };
        let f = figures(&r, 0.8);
        assert_eq!(f["coverage"], json!(0.8));
        assert_eq!(f["meets_target"], json!(true));
        assert_eq!(f["satisfaction_avg"], json!(4.5));
        assert_eq!(f["satisfied_rate"], json!(0.875));
        assert_eq!(f["nps"], json!(25.0));
        let none = figures(&VisitCounts::default(), 0.8);
        assert!(none["coverage"].is_null() && none["meets_target"].is_null());
    }
}
