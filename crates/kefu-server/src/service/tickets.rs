//! The ticket write path: intake, actions and notes. Each change hands
//! the store a decision closure that applies the flow rules inside the
//! write transaction; the capability hooks (customer messages, notices,
//! dispatch on intake) are called from here.

use super::*;
use crate::error::ApiError;
use crate::view::ticket_view;
use chrono::{DateTime, Utc};
use kefu_domain::action::{ActionKind, ActionRequest, Target, Wanted, decide};
use kefu_domain::flow::Actor;
use kefu_domain::intake::{IntakeRequest, limits};
use kefu_domain::ticket::{Ticket, looks_like_number};
use kefu_domain::{DomainError, FieldError, TicketId, UserId};
use kefu_store::*;
use serde_json::{Map, Value, json};
use std::sync::Arc;

impl<S: Store> Kefu<S> {
    pub(super) fn renderer(&self, viewer: &Actor) -> Render {
        let core = self.core.clone();
        let viewer = viewer.clone();
        Box::new(move |t: &Ticket| {
            serde_json::to_value(ticket_view(t, &viewer, &core.flows, &core.directory, &core.policy, core.clock.now()))
                .unwrap_or(Value::Null)
        })
    }

    pub(super) fn idem(actor: &Actor, key: Option<Idem>) -> Option<IdempotencyKey> {
        key.map(|k| IdempotencyKey { user: actor.id, key: k.key, scope: k.scope, fingerprint: k.fingerprint })
    }

    pub async fn create_ticket(
        &self,
        actor: &Actor,
        req: &IntakeRequest,
        idempotency: Option<Idem>,
    ) -> Result<Written, ApiError> {
        self.create_ticket_from(actor, req, idempotency, None).await
    }

    /// A registration; `email`: the request came by e-mail from this address
    /// (and Message-ID), where the receipt and replies then go, in its thread.
    pub(crate) async fn create_ticket_from(
        &self,
        actor: &Actor,
        req: &IntakeRequest,
        idempotency: Option<Idem>,
        email: Option<(String, Option<String>)>,
    ) -> Result<Written, ApiError> {
        let mut ticket = req.parse(&self.core.policy.priority)?;
        if let Some((address, message_id)) = email {
            ticket.email = Some(address);
            ticket.email_message_id = message_id;
        }
        ticket.order = self.order_at_intake(req, &ticket).await?;
        if let Some(code) = &ticket.store {
            // One read, paid only by tickets that name a store.
            if self.store.outlet(code.clone()).await?.is_none() {
                return Err(FieldError::new(
                    "store",
                    format!("no store has the code '{code}'"),
                    format!("营业厅编码“{code}”不存在"),
                )
                .into());
            }
        }
        let initial_state = self.core.flows.get(ticket.ticket_type).initial.clone();
        let now = self.now();
        ticket.deadlines = kefu_domain::sla::on_create(
            &self.core.policy.sla,
            &self.core.calendar,
            ticket.ticket_type,
            ticket.priority,
            now,
        )
        .map_err(DomainError::from)?;
        ticket.next_alert_at = kefu_domain::sla::next_alert(&self.core.policy.sla, &ticket.deadlines);
        let draft = provisional(&ticket, &initial_state, actor, now);
        // Matched against this node's cached list: no read per ticket.
        ticket.incident = self.incident_for(&draft).await?;
        if ticket.incident.is_some() {
            kefu_domain::sla::hold_from_start(&self.core.policy.sla, &mut ticket.deadlines, now);
            ticket.next_alert_at = kefu_domain::sla::next_alert(&self.core.policy.sla, &ticket.deadlines);
        }
        let follow_up = match self.core.policy.dispatch.on_create {
            true => Some(self.dispatch_on_create(&Ticket { incident: ticket.incident.clone(), ..draft }).await?),
            false => None,
        };
        let written = self
            .store
            .create_ticket(CreateTicket {
                ticket,
                actor: actor.clone(),
                initial_state,
                now,
                idempotency: Self::idem(actor, idempotency),
                follow_up,
                render: self.renderer(actor),
                messages: crate::service::messages::receipt(self.core.clone()),
            })
            .await?;
        self.core.search.note_ticket_write();
        let Written::New { ticket, .. } = &written else { return Ok(written) };
        if let Some(to) = &ticket.incident {
            // Only tickets linked at intake pay this read.
            self.catch_up_child(to.id, ticket).await?;
        }
        if !self.core.policy.dispatch.on_create || ticket.assignee.is_some() || ticket.unassignable {
            return Ok(written);
        }
        // The chosen handler filled up meanwhile (the store refused the
        // follow-up): registered anyway; dispatch again, next candidates first.
        match self.auto_dispatch(ticket).await {
            Ok(t) => Ok(Written::New { body: self.view(&t, actor), ticket: Box::new(t) }),
            Err(e) => {
                tracing::warn!(ticket = %ticket.id, error = %e, "automatic dispatch failed; the ticket stays unassigned");
                Ok(written)
            }
        }
    }

    /// Resolves a path segment that is either a numeric id or a ticket number.
    pub async fn ticket_id(&self, key: &str) -> Result<TicketId, ApiError> {
        Ok(self.ticket(key).await?.id)
    }

    pub async fn ticket(&self, key: &str) -> Result<Ticket, ApiError> {
        let not_found = ApiError::NotFound { what: "ticket", what_zh: "工单" };
        let key = if looks_like_number(key) {
            TicketKey::Number(key.to_string())
        } else {
            TicketKey::Id(TicketId(key.parse().map_err(|_| not_found)?))
        };
        self.store.ticket(key).await?.ok_or(ApiError::NotFound { what: "ticket", what_zh: "工单" })
    }

    pub fn view(&self, t: &Ticket, viewer: &Actor) -> Value {
        (self.renderer(viewer))(t)
    }

    pub async fn act(
        &self,
        actor: &Actor,
        key: &str,
        body: &Map<String, Value>,
        idempotency: Option<Idem>,
    ) -> Result<Written, ApiError> {
        let request = ActionRequest::parse(body)?;
        let current = self.ticket_for(actor, key, true).await?;
        if request.kind == ActionKind::Merge {
            return self.merge(actor, &current, request, idempotency).await;
        }
        self.act_on(actor, &current, request, idempotency).await
    }

    /// `act` on a ticket already read.
    pub(super) async fn act_on(
        &self,
        actor: &Actor,
        current: &Ticket,
        request: ActionRequest,
        idempotency: Option<Idem>,
    ) -> Result<Written, ApiError> {
        let mut passed_over: Vec<UserId> = Vec::new();
        loop {
            let resolved = self.resolve(&request, current, &passed_over).await?;
            // Nobody to dispatch to: say so without a write, once the
            // caller is known to be allowed to dispatch at all.
            if let Some(Target::Queue { .. }) = resolved.target
                && matches!(request.kind, ActionKind::Dispatch | ActionKind::Redispatch)
            {
                self.core.flows.get(current.ticket_type).rule_for(current, actor, request.kind)?;
                return Err(ApiError::NoCandidate { tier: current.tier });
            }
            let chosen = resolved.capacity.as_ref().map(|c| c.user);
            match self.act_resolved(actor, current.id, request.clone(), resolved, idempotency.clone()).await {
                // Someone else's dispatch filled the chosen handler: next best.
                Err(ApiError::CapacityFull { .. }) if passed_over.len() < 3 && chosen.is_some() => {
                    passed_over.extend(chosen);
                }
                other => return other,
            }
        }
    }

    /// Turns what a request names into a target: a person, team or
    /// department, or for automatic dispatch the best candidate (with a
    /// capacity check for the store) or the queue.
    pub(super) async fn resolve(
        &self,
        request: &ActionRequest,
        t: &Ticket,
        passed_over: &[UserId],
    ) -> Result<Resolved, ApiError> {
        let org = self.org().await?;
        let mut out = Resolved { target: None, capacity: None, rule: None, org: org.clone(), delivered: None };
        if request.kind == ActionKind::Archive {
            out.delivered = crate::service::messages::notice_delivered(self, t).await?;
        }
        // An appeal on a type the policy escalates by tier goes to a handler
        // of that tier (complaints: L3), chosen like any dispatch.
        let appeal_tier = self.core.policy.customer_loop.appeal_tier_for(t.ticket_type);
        let wanted = match (request.kind, appeal_tier) {
            (ActionKind::Appeal, Some(tier)) => Some(Wanted::Auto { tier: Some(tier) }),
            _ => request.wanted(),
        };
        let Some(wanted) = wanted else { return Ok(out) };
        let unknown = |field: &str, key: &str| -> ApiError {
            FieldError::new(field, format!("unknown {field} '{key}'"), format!("{field}“{key}”不存在")).into()
        };
        out.target = Some(match wanted {
            Wanted::User { field, name } => {
                let id = self.find_staff(name, field).await?.id;
                let u = match org.user(id) {
                    Some(u) => u.clone(),
                    None => self.store.user_by_id(id).await?.ok_or_else(|| unknown(field, name))?,
                };
                Target::Staff(org.staff_ref(&u))
            }
            Wanted::Team { field, code } => {
                let team = org.team_by_key(code).ok_or_else(|| unknown(field, code))?;
                Target::Team { id: team.id, department: team.department }
            }
            Wanted::Department { field, code } => {
                Target::Department { id: org.department_by_key(code).ok_or_else(|| unknown(field, code))?.id }
            }
            Wanted::Auto { tier } => {
                let (plan, org) = self.plan(t, tier).await?;
                out.rule = plan.rule.clone();
                match self.pick(&plan, &org, passed_over) {
                    Some((target, capacity)) => {
                        out.capacity = Some(capacity);
                        target
                    }
                    None => Target::Queue { team: plan.queue_team },
                }
            }
        });
        Ok(out)
    }

    /// The best candidate of a plan not passed over, with the capacity the
    /// store re-checks when it writes; None: nobody can take the ticket.
    pub(super) fn pick(
        &self,
        plan: &kefu_domain::dispatch::Plan,
        org: &crate::directory::OrgSnapshot,
        passed_over: &[UserId],
    ) -> Option<(Target, CapacityCheck)> {
        let u = plan.ranked.iter().find(|id| !passed_over.contains(id)).and_then(|id| org.user(*id))?;
        let max = u.profile.capacity.unwrap_or(self.core.policy.dispatch.default_capacity);
        Some((Target::Staff(org.staff_ref(u)), CapacityCheck { user: u.id, username: u.username.clone(), max }))
    }

    async fn act_resolved(
        &self,
        actor: &Actor,
        id: TicketId,
        request: ActionRequest,
        resolved: Resolved,
        idempotency: Option<Idem>,
    ) -> Result<Written, ApiError> {
        let decide_fn = self.action_decider(actor, request, resolved);
        self.mutate(actor, id, idempotency, decide_fn, 200).await
    }

    /// The decision of an action, as the store runs it on the locked ticket:
    /// the flow rule, deadlines, derived fields, notices, capacity re-check.
    pub(super) fn action_decider(&self, actor: &Actor, request: ActionRequest, resolved: Resolved) -> Decide {
        let (core, who, now) = (self.core.clone(), actor.clone(), self.now());
        let Resolved { target, capacity, rule, org, delivered } = resolved;
        Box::new(move |t: &Ticket| {
            let mut d = decide(core.flows.get(t.ticket_type), t, &who, &request, target.as_ref(), now)?;
            crate::service::orders::on_ticket_end(&mut d.ticket, d.action, now)?;
            crate::service::orders::on_approval(&mut d.ticket, d.action, &who, now);
            let outbox = crate::service::messages::on_action(&core, t, &mut d, &who, &request, delivered, now)?;
            // Appeals the policy does not send up a tier (or that found
            // nobody free there) go to the supervisors.
            let by_tier = matches!(target, Some(Target::Staff(_)));
            if d.action == ActionKind::Appeal && core.policy.dispatch.supervisor_on_appeal && !by_tier {
                d.ticket.supervised = true;
            }
            // Still broken after the incident's repair: this fault is the
            // customer's own now, no longer the incident's.
            if d.action == ActionKind::Appeal
                && let Some(from) = d.ticket.incident.take()
                && let Value::Object(m) = &mut d.data
            {
                m.insert("detached_from_incident".into(), json!(from.number));
            }
            kefu_domain::sla::on_action(&core.policy.sla, &core.calendar, t, &mut d.ticket, d.action, now)?;
            settle(&core, &mut d.ticket);
            let mut notices =
                crate::service::notices::for_action(&org, &core.settings.templates, t, &d.ticket, d.action, &who);
            if d.action == ActionKind::Appeal {
                notices.extend(crate::service::messages::appeal_notices(&core, t, &d.ticket, &request));
            }
            let mut data = d.data;
            if let (Some(rule), Value::Object(m)) = (&rule, &mut data) {
                m.insert("dispatch_rule".into(), json!(rule));
                m.insert("automatic".into(), json!(true));
            }
            let changes_assignee = d.ticket.assignee != t.assignee;
            Ok(Mutation {
                transfer: d.transfer,
                notices,
                outbox,
                capacity: capacity.filter(|_| changes_assignee),
                ..Mutation::new(d.ticket, d.action.as_str(), data)
            })
        })
    }

    pub async fn comment(
        &self,
        actor: &Actor,
        key: &str,
        body: Option<&str>,
        internal: bool,
        idempotency: Option<Idem>,
    ) -> Result<Written, ApiError> {
        let text = kefu_domain::validate::required_free_text(body, "body", limits::COMMENT)?;
        // An internal note needs to see the ticket; a reply to the customer
        // speaks for its handling and needs to be one of its people.
        let id = self.ticket_for(actor, key, !internal).await?.id;
        let decide_fn = self.comment_decider(actor, id, text, internal).await?;
        self.mutate(actor, id, idempotency, decide_fn, 201).await
    }

    /// The decision of a note or reply: refused on a finished ticket; a
    /// reply goes out through the outbox, @mentions become notices.
    pub(super) async fn comment_decider(
        &self,
        actor: &Actor,
        id: TicketId,
        text: String,
        internal: bool,
    ) -> Result<Decide, ApiError> {
        // A reply goes to the customer the way they were last answered.
        let reach = match internal {
            true => Default::default(),
            false => {
                let t = self
                    .store
                    .ticket(TicketKey::Id(id))
                    .await?
                    .ok_or(ApiError::NotFound { what: "ticket", what_zh: "工单" })?;
                crate::service::messages::reach(self, &t).await?
            }
        };
        let org = self.org().await?;
        let mentions = mentioned(&org, &text);
        let (core, now, who) = (self.core.clone(), self.now(), actor.clone());
        Ok(Box::new(move |t: &Ticket| {
            if core.flows.get(t.ticket_type).is_final(&t.status) {
                return Err(DomainError::Archived);
            }
            let mut ticket = Ticket { updated_at: now, ..t.clone() };
            settle(&core, &mut ticket);
            let mut notices = crate::service::notices::Notices::new(who.id);
            let place = if internal { "内部备注" } else { "回复" };
            let vars = [("number", t.number.as_str()), ("by", who.username.as_str()), ("where_zh", place)];
            let notice = core.settings.templates.render("staff_mention", "zh", &vars);
            notices.add(mentions.iter().copied(), "mention", &notice.body_en, &notice.body);
            let outbox: Vec<NewMessage> = match internal {
                true => Vec::new(),
                false => crate::service::messages::reply(&core, t, &text, &reach).into_iter().collect(),
            };
            let sent_by = outbox.first().map(|m| m.channel.clone());
            let mut data = json!({"internal": internal, "mentions": mentions});
            if !internal {
                data["sent_by"] = json!(sent_by);
            }
            let comment = Some(NewComment { body: text, internal, mentions, channel: None });
            Ok(Mutation { comment, notices: notices.into_vec(), outbox, ..Mutation::new(ticket, "comment", data) })
        }))
    }

    /// An action taken by kefu itself or by a customer's link: no
    /// idempotency key, the ticket as it became.
    pub async fn act_as(&self, actor: &Actor, t: &Ticket, request: ActionRequest) -> Result<Ticket, ApiError> {
        written_ticket(self.act_on(actor, t, request, None).await?)
    }

    /// A change kefu makes by itself, decided by `decide`.
    pub async fn system_change(&self, actor: &Actor, id: TicketId, decide: Decide) -> Result<(), ApiError> {
        self.mutate(actor, id, None, decide, 200).await.map(|_| ())
    }

    pub(super) async fn mutate(
        &self,
        actor: &Actor,
        id: TicketId,
        idempotency: Option<Idem>,
        decide: Decide,
        status: u16,
    ) -> Result<Written, ApiError> {
        let written = self
            .store
            .mutate_ticket(MutateTicket {
                ticket: id,
                actor: actor.clone(),
                now: self.now(),
                idempotency: Self::idem(actor, idempotency),
                decide,
                render: self.renderer(actor),
                status,
            })
            .await?;
        // The search feed picks the change up; this only tells this node's
        // next search that there is something to read.
        self.core.search.note_ticket_write();
        Ok(written)
    }
}

/// The ticket as it will be registered, for dispatch to plan on before
/// the store assigns id, number and customer.
fn provisional(t: &kefu_domain::ticket::NewTicket, state: &str, actor: &Actor, now: DateTime<Utc>) -> Ticket {
    let c = &t.customer;
    let customer = kefu_domain::ticket::Customer {
        id: kefu_domain::CustomerId(0),
        name: c.name.clone(),
        phone: c.phone.clone(),
        id_number: c.id_number.clone(),
        address: c.address.clone(),
        level: c.level.clone(),
    };
    t.clone().into_ticket(TicketId(0), String::new(), customer, state, actor.id, now)
}

/// What `resolve` found for an action.
pub(super) struct Resolved {
    pub(super) target: Option<Target>,
    pub(super) capacity: Option<CapacityCheck>,
    pub(super) rule: Option<String>,
    pub(super) org: Arc<crate::directory::OrgSnapshot>,
    /// For archive: whether the result notice reached its gateway.
    pub(super) delivered: Option<bool>,
}

/// Keeps the fields derived from the flow and the deadlines in step with
/// the ticket: whether it weighs on its handler, when the watcher is due.
pub(super) fn settle(core: &Core, t: &mut Ticket) {
    t.open = core.flows.get(t.ticket_type).is_open(&t.status);
    t.next_alert_at = kefu_domain::sla::next_alert(&core.policy.sla, &t.deadlines);
}

pub(super) fn written_ticket(w: Written) -> Result<Ticket, ApiError> {
    match w {
        Written::New { ticket, .. } => Ok(*ticket),
        Written::Replayed { .. } => Err(ApiError::Internal("a system change was replayed".into())),
    }
}

/// Active colleagues named `@username` in a text.
fn mentioned(org: &crate::directory::OrgSnapshot, text: &str) -> Vec<UserId> {
    let mut out = Vec::new();
    for part in text.split('@').skip(1) {
        let name: String =
            part.chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')).collect();
        let name = name.trim_end_matches('.');
        if let Some(u) = org.users.iter().find(|u| u.active && u.username == name)
            && !out.contains(&u.id)
        {
            out.push(u.id);
        }
    }
    out
}
