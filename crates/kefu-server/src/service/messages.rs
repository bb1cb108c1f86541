//! What the customer loop does inside a ticket change (R-15, R-25…R-28),
//! called by the write path: the messages an action sends and how they are
//! worded (receipt, result notice, visit invitation), the signed link put
//! in as a message leaves, the archive gate, and the staff notice of an
//! appeal. The answers that come back are `customer_loop`'s.

use crate::Kefu;
use crate::error::ApiError;
use crate::service::Core;
use chrono::{DateTime, Duration, Utc};
use kefu_domain::action::{ActionInput, ActionKind, ActionRequest, Decision};
use kefu_domain::customer_loop::{self as cl, Via};
use kefu_domain::flow::Actor;
use kefu_domain::ticket::Ticket;
use kefu_domain::{DomainError, FieldError, TicketId};

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

/// How an answer arrived, from who gave it.
pub fn via(actor: &Actor) -> Via {
    match actor.username.as_str() {
        PORTAL | LOOKUP | super::inbound::CUSTOMER_SMS | super::inbound::CUSTOMER_WECHAT => Via::Portal,
        AUTO_CONFIRM => Via::Default,
        _ => Via::Staff,
    }
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
    kefu_domain::time::shanghai_minute(t)
}

/// A signed link to the ticket's portal page, valid for the policy's time.
pub fn portal_link(core: &Core, id: TicketId, now: DateTime<Utc>) -> String {
    let expires = now + Duration::hours(i64::from(core.policy.customer_loop.link_valid_hours));
    format!("{}/portal/t/{}", core.settings.public_url.trim_end_matches('/'), core.settings.link_key.sign(id, expires))
}

fn message(core: &Core, kind: &str, channel: &str, to: String, vars: &[(&str, &str)]) -> NewMessage {
    let r = core.settings.templates.render(kind, &core.policy.customer_loop.language, vars);
    NewMessage {
        kind: kind.into(),
        channel: channel.into(),
        recipient: to,
        subject: r.subject,
        body: r.body,
        in_reply_to: None,
    }
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
        // A request by e-mail is answered by e-mail, in its thread.
        match &t.email {
            Some(address) => vec![threaded(message(&core, "receipt", "email", address.clone(), &vars), t)],
            None => vec![message(&core, "receipt", "sms", t.customer.phone.as_str().to_string(), &vars)],
        }
    }))
}

/// An e-mail answering the customer's latest message on the ticket.
fn threaded(m: NewMessage, t: &Ticket) -> NewMessage {
    NewMessage { in_reply_to: t.email_message_id.clone(), ..m }
}

/// Where a reply to the customer can go besides their phone.
#[derive(Debug, Clone, Default)]
pub struct Reach {
    /// The address they were last written to on the ticket.
    pub email: Option<String>,
    /// Their WeChat openid, for a ticket that came by WeChat.
    pub wechat: Option<String>,
}

/// Where a reply on the ticket can go (read before the change is decided).
pub async fn reach<S: Store>(kefu: &Kefu<S>, t: &Ticket) -> Result<Reach, ApiError> {
    let wechat = match t.channel {
        kefu_domain::Channel::Wechat => kefu.store.contact_of(t.customer.id, "wechat").await?,
        _ => None,
    };
    Ok(Reach { email: last_email(kefu, t.id).await?, wechat })
}

/// A staff member's reply to the customer, by the channel they came by: on
/// WeChat through the customer-service message API; by e-mail to the
/// address they were last written to on this ticket, or wrote from, in the
/// thread of their last mail; else by SMS to a mobile phone; None when the
/// customer has none of these (a landline).
pub fn reply(core: &Core, t: &Ticket, text: &str, reach: &Reach) -> Option<NewMessage> {
    let link = LINK_MARK.to_string();
    let vars = [("number", t.number.as_str()), ("title", t.title.as_str()), ("reply", text), ("link", &link)];
    if let Some(openid) = &reach.wechat {
        return Some(message(core, "reply", "wechat", openid.clone(), &vars));
    }
    match reach.email.as_deref().or(t.email.as_deref()) {
        Some(address) => Some(threaded(message(core, "reply", "email", address.to_string(), &vars), t)),
        None if t.customer.phone.is_mobile() => {
            Some(message(core, "reply", "sms", t.customer.phone.as_str().to_string(), &vars))
        }
        None => None,
    }
}

/// The address the customer was last written to by e-mail on a ticket.
pub async fn last_email<S: Store>(kefu: &Kefu<S>, ticket: TicketId) -> Result<Option<String>, ApiError> {
    let messages = kefu.store.messages(ticket).await?;
    Ok(messages.into_iter().rev().find(|m| m.channel == "email").map(|m| m.recipient))
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
    let mut out = crate::service::notices::Notices::new(SYSTEM);
    let who = [Some(after.first_owner), before.assignee, after.assignee];
    out.add(who.into_iter().flatten(), "appeal", &zh.body_en, &zh.body);
    out.into_vec()
}

/// The survey invitation for a resolved ticket, its link valid for the
/// policy's time from `now`.
pub fn visit_invitation(core: &Core, t: &Ticket, now: DateTime<Utc>) -> NewMessage {
    let link = LINK_MARK.to_string();
    let valid = when(now + Duration::hours(i64::from(core.policy.customer_loop.link_valid_hours)));
    let vars = [("number", t.number.as_str()), ("title", t.title.as_str()), ("link", &link), ("valid_until", &valid)];
    message(core, "visit_invitation", "sms", t.customer.phone.as_str().to_string(), &vars)
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
}
