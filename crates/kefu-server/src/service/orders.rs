//! Orders against the customer's services: checked against
//! the inventory and the customer's consent at intake, approved and handed
//! to the BSS by people, carried out through the BSS port, and their outcome
//! drives the ticket: completed → resolved with what changed (the inventory
//! written in the same transaction), failed → back to its handler with the
//! reason. Every step is an event in the ticket's audit chain.

use super::tickets::{Resolved, settle};
use super::*;
use crate::bss::{BssItem, BssOrder, BssReply};
use crate::error::ApiError;
use crate::service::quality::{invalid, only_fields, opt_str};
use chrono::{DateTime, Duration, Utc};
use kefu_domain::action::ActionRequest;
use kefu_domain::flow::{Actor, Guard};
use kefu_domain::intake::IntakeRequest;
use kefu_domain::inventory::{self, InventoryChange, Service, ServiceState};
use kefu_domain::order::{self as rules, ItemAction, Order, OrderAction, OrderItem, OrderKind, OrderState};
use kefu_domain::ticket::{NewTicket, Ticket};
use kefu_domain::{DomainError, Role};
use kefu_store::*;
use serde_json::{Map, Value, json};

/// Jobs one node takes from the BSS queue at once.
const BATCH: u32 = 20;

impl<S: Store> Kefu<S> {
    /// The order a ticket asks for, checked at intake against the
    /// customer's services, account and consent. Only tickets that carry an
    /// order pay these reads.
    pub(super) async fn order_at_intake(&self, req: &IntakeRequest, t: &NewTicket) -> Result<Option<Order>, ApiError> {
        let Some(input) = &req.order else {
            self.unsubscribe_names_services(t).await?;
            return Ok(None);
        };
        let catalogue = &self.core.settings.catalogue;
        let (kind, mut items) = input.parse(t.ticket_type, catalogue)?;
        let (services, account) = match self.store.customer_by_phone(t.customer.phone.as_str()).await? {
            Some(c) => (self.store.services(c.id).await?, self.store.account_facts(c.id).await?),
            None => (Vec::new(), Default::default()),
        };
        let now = self.now();
        if kind == OrderKind::AccountClose && items.is_empty() {
            // Closing ends every service still running.
            items = services.iter().filter(|s| s.as_of(now).state.live()).map(|s| delete(s.id)).collect();
            if items.is_empty() {
                return Err(invalid(
                    "order.items",
                    "the customer has no services to close",
                    "该客户没有可销户的在用业务",
                ));
            }
        }
        inventory::check_order(catalogue, kind, &items, &services, &account, now)?;
        let replaced: Vec<Service> = items
            .iter()
            .filter(|i| i.action == ItemAction::Delete || (i.action == ItemAction::Modify && i.product_code.is_some()))
            .filter_map(|i| services.iter().find(|s| Some(s.id) == i.service))
            .map(|s| s.as_of(now))
            .collect();
        let ended: Vec<_> = replaced
            .iter()
            .filter(|s| items.iter().any(|i| i.action == ItemAction::Delete && i.service == Some(s.id)))
            .filter_map(|s| catalogue.product(&s.product_code))
            .map(|p| p.category)
            .collect();
        let policy = &self.core.policy.orders;
        // Never forced, in either direction: ending a service or adding
        // a value-added one needs the customer's recent, evidenced consent.
        if (kind.needs_consent() || rules::touches_value_added(catalogue, &items, &ended))
            && let Some(e) = rules::consent_refusal(policy, t.consent.as_ref(), now)
        {
            return Err(e.into());
        }
        let fees: Vec<i64> = replaced.iter().map(|s| s.monthly_fee_fen).collect();
        let fee = rules::fee_change(catalogue, &items, &fees);
        Ok(Some(Order::new(kind, items, fee, rules::needs_supervisor(policy, kind, fee), now)))
    }

    /// An unsubscribe of a customer whose services kefu knows names them in
    /// its order: what ends is chosen from the inventory, never free text
    /// . One read, paid by unsubscribe tickets without an order only.
    async fn unsubscribe_names_services(&self, t: &NewTicket) -> Result<(), ApiError> {
        if t.ticket_type != kefu_domain::TicketType::Unsubscribe {
            return Ok(());
        }
        let Some(c) = self.store.customer_by_phone(t.customer.phone.as_str()).await? else { return Ok(()) };
        let now = self.now();
        if self.store.services(c.id).await?.iter().any(|s| s.as_of(now).state.live()) {
            return Err(invalid(
                "order",
                "choose the services to end from the customer's services (order: {kind: unsubscribe, items})",
                "请从客户的在用业务中选择要退订的业务（order）",
            ));
        }
        Ok(())
    }

    /// A person's step on a ticket's order: `{action: approve | submit |
    /// retry | revoke, reason?}`. Approval is a supervisor's; handing it to
    /// the BSS is the handler's (or a supervisor's), while the ticket is in
    /// handling; revoking is possible until the BSS has it.
    pub async fn order_action(
        &self,
        actor: &Actor,
        key: &str,
        body: &Map<String, Value>,
        idempotency: Option<Idem>,
    ) -> Result<Written, ApiError> {
        only_fields(body, &["action", "reason"])?;
        let action = OrderAction::parse(opt_str(body, "action")?.ok_or_else(|| invalid_required("action"))?)?;
        let reason = opt_str(body, "reason")?
            .map(|r| kefu_domain::validate::required_free_text(Some(r), "reason", 500))
            .transpose()?;
        let current = self.ticket_for(actor, key, true).await?;
        may_take(&self.core, actor, &current, action)?;
        let (core, now) = (self.core.clone(), self.now());
        let who = actor.username.clone();
        let decide: Decide = Box::new(move |t: &Ticket| {
            let order = t.order.as_ref().ok_or_else(no_order)?;
            let hands_over = matches!(action, OrderAction::Submit | OrderAction::Retry);
            if hands_over && !handling(&core, t) {
                return Err(DomainError::NotAllowed {
                    action: format!("order_{}", action.as_str()),
                    state: t.status.clone(),
                    allowed: order.state.steps().iter().map(|a| a.to_string()).collect(),
                });
            }
            // Consent is checked again when the order is carried out: it may have aged meanwhile.
            if hands_over
                && needs_consent(&core, order)
                && let Some(e) = rules::consent_refusal(&core.policy.orders, t.consent.as_ref(), now)
            {
                return Err(e.into());
            }
            let next = order.act(action, &who, &t.number, now).map_err(|_| DomainError::NotAllowed {
                action: format!("order_{}", action.as_str()),
                state: order.state.as_str().to_string(),
                allowed: order.state.steps().iter().map(|a| a.to_string()).collect(),
            })?;
            let bss = hands_over.then(|| BssQueue::Enqueue { order_id: next.id.clone().unwrap_or_default(), at: now });
            let data = json!({"order_id": next.id, "kind": next.kind, "state": next.state, "reason": reason});
            let mut ticket = Ticket { order: Some(next), updated_at: now, ..t.clone() };
            settle(&core, &mut ticket);
            Ok(Mutation { bss, ..Mutation::new(ticket, format!("order_{}", action.as_str()), data) })
        });
        let written = self.mutate(actor, current.id, idempotency, decide, 200).await?;
        if matches!(action, OrderAction::Submit | OrderAction::Retry) {
            // Carried out at once rather than at the job's next round.
            let kefu = self.clone();
            tokio::spawn(async move {
                if let Err(e) = kefu.process_bss(&format!("submit:{}", current.id)).await {
                    tracing::warn!(error = %e, "handing an order to the BSS failed; the job retries");
                }
            });
        }
        Ok(written)
    }

    /// The customer revokes their order through the portal before it is
    /// carried out; the ticket is withdrawn with it where its flow allows.
    pub async fn revoke_by_customer(&self, t: &Ticket) -> Result<(), ApiError> {
        let who = crate::service::customer_loop::customer_actor(crate::links::LinkKind::Message);
        let body: Map<String, Value> = [("action".to_string(), json!("revoke"))].into_iter().collect();
        self.order_action(&who, &t.id.0.to_string(), &body, None).await?;
        let withdraw = json!({"action": "withdraw", "reason": "客户本人撤销订单"});
        let request = ActionRequest::parse(withdraw.as_object().unwrap_or(&Map::new()))?;
        let now = self.ticket(&t.id.0.to_string()).await?;
        if self
            .core
            .flows
            .get(now.ticket_type)
            .allowed_actions(&now, &who)
            .contains(&kefu_domain::action::ActionKind::Withdraw)
        {
            self.act_as(&who, &now, request).await?;
        }
        Ok(())
    }

    /// One round of the BSS queue on this node: hands over, asks after,
    /// retries with backoff, fails an order the BSS cannot take. Returns how
    /// many jobs it worked on.
    pub async fn process_bss(&self, node: &str) -> Result<u32, ApiError> {
        let lease = Duration::seconds(self.core.settings.bss.claim_seconds.max(1));
        let jobs = self.store.claim_bss_jobs(node, self.now(), lease, BATCH).await?;
        for job in &jobs {
            let outcome = self.run_bss_job(job).await?;
            // False: settled meanwhile (the job left with the change) or taken over.
            self.store.finish_bss_job(&job.order_id, node, outcome).await?;
        }
        Ok(u32::try_from(jobs.len()).unwrap_or(u32::MAX))
    }

    async fn run_bss_job(&self, job: &BssJob) -> Result<BssJobOutcome, ApiError> {
        let t = self.store.ticket(TicketKey::Id(job.ticket)).await?;
        let live = t.as_ref().and_then(|t| t.order.as_ref().map(|o| (t, o)));
        let Some((t, order)) = live.filter(|(_, o)| o.id.as_deref() == Some(&job.order_id) && o.state.in_flight())
        else {
            return Ok(BssJobOutcome::Done);
        };
        let request = bss_order(t, order, &job.order_id);
        let reply = match job.kind.as_str() {
            "poll" => self.core.bss.poll(&request, order.bss_ref.as_deref()).await,
            _ => self.core.bss.submit(&request).await,
        };
        let policy = &self.core.policy.orders;
        let now = self.now();
        Ok(match reply {
            BssReply::Took { state, bss_ref, reason } => {
                self.report_on(t, &job.order_id, state, bss_ref.as_deref(), reason.as_deref()).await?;
                match state.in_flight() {
                    true => later(now, policy.bss_poll_seconds, 0, "poll", None, false),
                    false => BssJobOutcome::Done,
                }
            }
            BssReply::Refused { reason } => {
                self.report_on(t, &job.order_id, OrderState::Failed, None, Some(&reason)).await?;
                BssJobOutcome::Done
            }
            // Asking after an order the BSS has goes on; it may still finish it.
            BssReply::Unavailable { error } if job.kind == "poll" => {
                later(now, policy.bss_poll_seconds, job.attempts.min(6), "poll", Some(error), true)
            }
            BssReply::Unavailable { error } if job.attempts + 1 >= policy.bss_retries => {
                let reason = format!("{error} (after {} attempts)", job.attempts + 1);
                self.report_on(t, &job.order_id, OrderState::Failed, None, Some(&reason)).await?;
                BssJobOutcome::Done
            }
            BssReply::Unavailable { error } => {
                later(now, policy.bss_retry_seconds, job.attempts, "submit", Some(error), true)
            }
        })
    }

    /// What the BSS said about order `order_id` (its callback, or the job's
    /// question). False when it changes nothing: a repeated or late report,
    /// an order that is not ours.
    pub async fn bss_report(
        &self,
        order_id: &str,
        state: OrderState,
        bss_ref: Option<&str>,
        reason: Option<&str>,
    ) -> Result<bool, ApiError> {
        let Some((number, _)) = order_id.rsplit_once('-') else { return Ok(false) };
        let Some(t) = self.store.ticket(TicketKey::Number(number.to_string())).await? else { return Ok(false) };
        self.report_on(&t, order_id, state, bss_ref, reason).await
    }

    /// A report on ticket `t`'s order, as read; re-checked on the locked ticket.
    async fn report_on(
        &self,
        t: &Ticket,
        order_id: &str,
        state: OrderState,
        bss_ref: Option<&str>,
        reason: Option<&str>,
    ) -> Result<bool, ApiError> {
        let now = self.now();
        let Some(next) = t.order.as_ref().and_then(|o| o.report(order_id, state, bss_ref, reason, now)) else {
            return Ok(false);
        };
        let system = order_actor();
        let decide = match next.state {
            OrderState::Completed => self.completion(&system, t, next).await?,
            _ => self.report_decider(&system, next),
        };
        match self.mutate(&system, t.id, None, decide, 200).await {
            Ok(_) => Ok(true),
            // Another node's report of the same change won the race.
            Err(ApiError::NotAllowed { action, .. }) if action == "order_report" => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// A completed order: the inventory changes written with the ticket's
    /// change, which resolves the ticket with what changed (as kefu, by the
    /// flow's rule for a completed order) when it is in handling.
    async fn completion(&self, system: &Actor, t: &Ticket, next: Order) -> Result<Decide, ApiError> {
        let now = self.now();
        let services = self.store.services(t.customer.id).await?;
        let catalogue = &self.core.settings.catalogue;
        let number = t.service_number.clone().unwrap_or_else(|| t.customer.phone.as_str().to_string());
        let changes = inventory::changes(catalogue, &next, &services, &number, now);
        let next = Order { effective_at: effective_at(&changes), ..next };
        let result = result_text(catalogue, &changes, &services);
        let body = json!({"action": "resolve", "result": result});
        let request = ActionRequest::parse(body.as_object().unwrap_or(&Map::new()))?;
        let resolved = Resolved { target: None, capacity: None, rule: None, org: self.org().await?, delivered: None };
        let resolve = self.action_decider(system, request, resolved);
        let core = self.core.clone();
        let data = report_data(&next, Some(&result));
        let write = InventoryWrite { customer: t.customer.id, order_id: next.id.clone().unwrap_or_default(), changes };
        Ok(Box::new(move |t: &Ticket| {
            check_fresh(t, &next)?;
            let mut ticket = Ticket { order: Some(next.clone()), updated_at: now, ..t.clone() };
            settle(&core, &mut ticket);
            let mut m = match handling(&core, &ticket) {
                true => resolve(&ticket)?,
                // Suspended or transferred meanwhile: recorded; its handler resolves it.
                false => Mutation::new(ticket, "order_report", json!({})),
            };
            merge_data(&mut m.data, data);
            let done = BssQueue::Done { order_id: write.order_id.clone() };
            Ok(Mutation { inventory: Some(write), bss: Some(done), ..m })
        }))
    }

    /// Any other report: the order's new state; a failure goes back to its
    /// handler (the ticket stays in handling) with the reason, as a notice.
    fn report_decider(&self, system: &Actor, next: Order) -> Decide {
        let (core, now, by) = (self.core.clone(), self.now(), system.id);
        Box::new(move |t: &Ticket| {
            check_fresh(t, &next)?;
            let data = report_data(&next, None);
            let failed = next.state == OrderState::Failed;
            let mut ticket = Ticket { order: Some(next.clone()), updated_at: now, ..t.clone() };
            settle(&core, &mut ticket);
            let mut m = Mutation::new(ticket, "order_report", data);
            if failed {
                let why = next.reason.as_deref().unwrap_or("-");
                let mut notices = crate::service::notices::Notices::new(by);
                let en = format!("The order of ticket {} failed: {why}", t.number);
                let zh = format!("工单 {} 的业务订单执行失败：{why}", t.number);
                notices.add(t.assignee.into_iter().chain([t.first_owner]), "order_failed", &en, &zh);
                m.notices = notices.into_vec();
                m.bss = Some(BssQueue::Done { order_id: next.id.clone().unwrap_or_default() });
            }
            Ok(m)
        })
    }

    /// The products a customer may order, with labels.
    pub fn products_json(&self) -> Value {
        let items: Vec<Value> = self.core.settings.catalogue.products.iter().map(product_json).collect();
        json!({ "items": items })
    }

    /// A customer's services as they are now, with product names and labels.
    /// Service numbers are shown as the caller's role sees phone numbers.
    pub async fn customer_services(&self, id: kefu_domain::CustomerId, role: Role) -> Result<Value, ApiError> {
        if self.store.customer_by_id(id).await?.is_none() {
            return Err(ApiError::NotFound { what: "customer", what_zh: "客户" });
        }
        let now = self.now();
        let catalogue = &self.core.settings.catalogue;
        let privacy = &self.core.policy.privacy;
        let items: Vec<Value> = self
            .store
            .services(id)
            .await?
            .iter()
            .map(|s| {
                let number = privacy.show(role, kefu_domain::privacy::PersonalField::Phone, &s.service_number);
                service_json(catalogue, &Service { service_number: number, ..s.as_of(now) })
            })
            .collect();
        let account = self.store.account_facts(id).await?;
        Ok(json!({ "items": items, "balance_fen": account.balance_fen }))
    }

    /// A customer's service history, oldest first.
    pub async fn customer_service_history(&self, id: kefu_domain::CustomerId) -> Result<Value, ApiError> {
        if self.store.customer_by_id(id).await?.is_none() {
            return Err(ApiError::NotFound { what: "customer", what_zh: "客户" });
        }
        let catalogue = &self.core.settings.catalogue;
        let items: Vec<Value> = self
            .store
            .service_history(id)
            .await?
            .iter()
            .map(|h| {
                let (zh, en) = h.state.label();
                json!({
                    "id": h.id, "service": h.service, "ticket": h.ticket, "order_id": h.order_id,
                    "change": h.change, "state": h.state, "state_zh": zh, "state_en": en,
                    "product_code": h.product_code, "product_name": product_name(catalogue, &h.product_code),
                    "at": h.at,
                })
            })
            .collect();
        Ok(json!({ "items": items }))
    }
}

/// A supervisor's approval of a business ticket (审批) approves the order
/// it carries too: one decision, not two.
pub fn on_approval(t: &mut Ticket, action: kefu_domain::action::ActionKind, who: &Actor, now: DateTime<Utc>) {
    let lead = matches!(who.role, Role::Supervisor | Role::Admin);
    if action != kefu_domain::action::ActionKind::Approve || !lead {
        return;
    }
    if let Some(o) = t.order.as_mut().filter(|o| o.state == OrderState::AwaitingApproval) {
        o.state = OrderState::Ready;
        o.approved_by = Some(who.username.clone());
        o.updated_at = now;
    }
}

/// A ticket withdrawn, merged or rejected takes its order with it
/// (revoked), unless the BSS already has it: then it waits for the outcome.
pub fn on_ticket_end(
    t: &mut Ticket,
    action: kefu_domain::action::ActionKind,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    use kefu_domain::action::ActionKind as K;
    let Some(o) = t.order.as_mut().filter(|_| matches!(action, K::Withdraw | K::Merge | K::Reject)) else {
        return Ok(());
    };
    if o.state.in_flight() {
        return Err(DomainError::Invalid(kefu_domain::FieldError::new(
            "order",
            "the order is in the BSS's hands: wait for its outcome",
            "业务订单正在执行中，请等待执行结果",
        )));
    }
    if !o.state.settled() {
        o.state = OrderState::Revoked;
        o.updated_at = now;
    }
    Ok(())
}

/// kefu itself, carrying out what the BSS reported.
fn order_actor() -> Actor {
    Actor::new(kefu_store::SYSTEM, "system:bss", Role::Admin)
}

fn invalid_required(field: &str) -> ApiError {
    kefu_domain::FieldError::required(field).into()
}

fn no_order() -> DomainError {
    DomainError::Invalid(kefu_domain::FieldError::new("order", "the ticket carries no order", "该工单没有业务订单"))
}

fn delete(service: i64) -> OrderItem {
    OrderItem { action: ItemAction::Delete, service: Some(service), product_code: None, service_number: None }
}

/// Who may take a step on an order (their standing on the ticket is checked
/// before): approval is a supervisor's; carrying it out is for whoever the
/// flow lets resolve the ticket by hand (the assignee, in most flows).
fn may_take(core: &Core, actor: &Actor, t: &Ticket, action: OrderAction) -> Result<(), ApiError> {
    let lead = matches!(actor.role, Role::Supervisor | Role::Admin);
    let ok = match action {
        OrderAction::Approve => lead,
        OrderAction::Submit | OrderAction::Retry => lead || may_resolve(core, actor, t),
        OrderAction::Revoke => actor.role != Role::Inspector,
    };
    if ok {
        return Ok(());
    }
    let (reason, reason_zh) = match action {
        OrderAction::Approve => ("only a supervisor approves an order", "仅主管可审批业务订单"),
        _ => ("only the ticket's handler or a supervisor carries out its order", "仅当前处理人或主管可执行业务订单"),
    };
    Err(ApiError::Forbidden { reason: reason.into(), reason_zh: reason_zh.into() })
}

/// Whether the flow lets `actor` resolve the ticket by hand once it is in
/// handling and its order settled (asked of the ticket as it would be then).
fn may_resolve(core: &Core, actor: &Actor, t: &Ticket) -> bool {
    let flow = core.flows.get(t.ticket_type);
    let handling = flow.actions.iter().find(|r| r.only.contains(&Guard::OrderCompleted)).and_then(|r| r.from.first());
    let Some(state) = handling else { return false };
    let then = Ticket { status: state.clone(), order: None, ..t.clone() };
    flow.rule_for(&then, actor, kefu_domain::action::ActionKind::Resolve).is_ok()
}

/// The ticket is in a state where its order may be carried out: one the
/// flow resolves from when the order completes.
fn handling(core: &Core, t: &Ticket) -> bool {
    core.flows
        .get(t.ticket_type)
        .actions
        .iter()
        .any(|r| r.only.contains(&Guard::OrderCompleted) && r.from.contains(&t.status))
}

fn needs_consent(core: &Core, o: &Order) -> bool {
    o.kind.needs_consent() || rules::touches_value_added(&core.settings.catalogue, &o.items, &[])
}

/// The report still applies to the locked ticket's order (no other node's
/// report of the same change came first).
fn check_fresh(t: &Ticket, next: &Order) -> Result<(), DomainError> {
    let id = next.id.as_deref().unwrap_or_default();
    let fresh = t
        .order
        .as_ref()
        .and_then(|o| o.report(id, next.state, next.bss_ref.as_deref(), next.reason.as_deref(), next.updated_at));
    match fresh {
        Some(_) => Ok(()),
        None => {
            Err(DomainError::NotAllowed { action: "order_report".into(), state: t.status.clone(), allowed: vec![] })
        }
    }
}

fn report_data(o: &Order, result: Option<&str>) -> Value {
    json!({"order_id": o.id, "state": o.state, "bss_ref": o.bss_ref, "reason": o.reason, "result": result})
}

/// The order's part of the change's audit data, under `order`.
fn merge_data(into: &mut Value, order: Value) {
    match into {
        Value::Object(m) => {
            m.insert("order".into(), order);
        }
        slot => *slot = json!({ "order": order }),
    }
}

fn later(
    now: DateTime<Utc>,
    base: u32,
    attempts: u32,
    kind: &str,
    error: Option<String>,
    attempt: bool,
) -> BssJobOutcome {
    let wait = i64::from(base.max(1)) * (1_i64 << attempts.min(6));
    BssJobOutcome::Later { at: now + Duration::seconds(wait.min(3_600)), kind: kind.into(), error, attempt }
}

/// The order as the BSS is sent it.
fn bss_order(t: &Ticket, o: &Order, id: &str) -> BssOrder {
    BssOrder {
        id: id.to_string(),
        customer: t.customer.id.0,
        kind: o.kind,
        items: o
            .items
            .iter()
            .map(|i| BssItem {
                action: i.action,
                service: i.service,
                product_code: i.product_code.clone(),
                service_number: i.service_number.clone(),
            })
            .collect(),
        requested_at: o.updated_at,
    }
}

/// When an order's changes take effect: the latest of them.
fn effective_at(changes: &[InventoryChange]) -> Option<DateTime<Utc>> {
    changes
        .iter()
        .filter_map(|c| match c {
            InventoryChange::Add { started_at, .. } => Some(*started_at),
            InventoryChange::Set { pending: Some(p), .. } => Some(p.effective_at),
            InventoryChange::Set { ended_at, .. } => *ended_at,
        })
        .max()
}

fn product_name(c: &kefu_domain::catalogue::Catalogue, code: &str) -> String {
    c.product(code).map_or_else(|| code.to_string(), |p| p.name_zh.clone())
}

fn shanghai(t: DateTime<Utc>) -> String {
    t.with_timezone(&kefu_domain::time::shanghai()).format("%Y-%m-%d %H:%M").to_string()
}

/// What an order did, in the customer's words: the result of the ticket and
/// of its notice — what was ended and when billing stops, what changes when.
fn result_text(c: &kefu_domain::catalogue::Catalogue, changes: &[InventoryChange], services: &[Service]) -> String {
    let before = |id: i64| services.iter().find(|s| s.id == id);
    let parts: Vec<String> = changes
        .iter()
        .map(|ch| match ch {
            InventoryChange::Add { product_code, service_number, started_at, .. } => format!(
                "已开通{}（号码 {}），自 {} 起生效",
                product_name(c, product_code),
                service_number,
                shanghai(*started_at)
            ),
            InventoryChange::Set { product_code, ended_at: Some(end), .. } => {
                format!("已终止{}，自 {} 起停止计费", product_name(c, product_code), shanghai(*end))
            }
            InventoryChange::Set { pending: Some(p), product_code, .. } => format!(
                "套餐由{}变更为{}，自 {} 起生效",
                product_name(c, product_code),
                product_name(c, &p.product_code),
                shanghai(p.effective_at)
            ),
            InventoryChange::Set { service, state: ServiceState::Suspended, product_code, .. } => {
                format!("已停机：{}{}", product_name(c, product_code), number_of(before(*service)))
            }
            InventoryChange::Set { service, product_code, .. } => {
                let was = before(*service).map(|s| s.product_code.as_str()).unwrap_or_default();
                match was != product_code && !was.is_empty() {
                    true => format!("套餐由{}变更为{}，即时生效", product_name(c, was), product_name(c, product_code)),
                    false => format!("已复机：{}{}", product_name(c, product_code), number_of(before(*service))),
                }
            }
        })
        .collect();
    parts.join("；")
}

fn number_of(s: Option<&Service>) -> String {
    s.map(|s| format!("（号码 {}）", s.service_number)).unwrap_or_default()
}

pub fn product_json(p: &kefu_domain::catalogue::Product) -> Value {
    let (category_zh, category_en) = p.category.label();
    json!({
        "code": p.code, "name_zh": p.name_zh, "name_en": p.name_en, "category": p.category,
        "category_zh": category_zh, "category_en": category_en, "kind": p.kind,
        "monthly_fee": p.fee_fen as f64 / 100.0, "fee_fen": p.fee_fen, "effective": p.effective, "notice": p.notice,
    })
}

/// One service as `GET /api/v1/customers/{id}/services` lists it.
pub fn service_json(c: &kefu_domain::catalogue::Catalogue, s: &Service) -> Value {
    let (state_zh, state_en) = s.state.label();
    let product = c.product(&s.product_code);
    json!({
        "id": s.id,
        "product_code": s.product_code,
        "product_name": product.map_or_else(|| s.product_code.clone(), |p| p.name_zh.clone()),
        "product_name_en": product.map_or_else(|| s.product_code.clone(), |p| p.name_en.clone()),
        "category": product.map(|p| p.category),
        "service_number": s.service_number,
        "state": s.state,
        "state_zh": state_zh,
        "state_en": state_en,
        "monthly_fee": s.monthly_fee_fen as f64 / 100.0,
        "monthly_fee_fen": s.monthly_fee_fen,
        "started_at": s.started_at,
        "ended_at": s.ended_at,
        "contract_end": s.contract_end,
        "devices_out": s.devices_out,
        "pending": s.pending,
    })
}
