//! Deadline alerts: warnings, breaches and the escalation a breach
//! triggers, raised once in the ticket's own write transaction.

use super::tickets::settle;
use super::*;
use crate::error::ApiError;
use kefu_domain::action::{ActionKind, ActionRequest, Target, decide};
use kefu_domain::flow::Actor;
use kefu_domain::ticket::Ticket;
use kefu_domain::{Role, TicketId};
use kefu_store::*;
use serde_json::{Value, json};
use std::sync::Arc;

impl<S: Store> Kefu<S> {
    /// Raises the SLA alerts due on one ticket (warning, breach, escalation
    /// steps), in the ticket's own write transaction: an audit event lists
    /// each alert and the staff notified, notices go to them, and the
    /// deadlines remember what was raised, so nothing is raised twice — on
    /// any node, across restarts. A breach of a tier's limit escalates the
    /// ticket to the next tier in the same change, and repeated
    /// breaches bring in the supervisor. Returns how many alerts were raised.
    pub async fn raise_sla_alerts(&self, id: TicketId) -> Result<usize, ApiError> {
        let (core, now) = (self.core.clone(), self.now());
        let current = self.ticket(&id.0.to_string()).await?;
        // Peek: will a breach escalate the ticket? Then choose its handler first.
        let mut probe = current.clone();
        let due = kefu_domain::sla::raise_alerts(&core.policy.sla, &mut probe, now);
        let tier = due
            .iter()
            .filter(|a| a.level == "breach")
            .filter_map(|a| core.policy.sla.escalation_for(&a.kind, &current))
            .max();
        let escalation = match tier {
            Some(tier) => {
                let (plan, org) = self.plan(&current, Some(tier)).await?;
                let target = self.pick(&plan, &org, &[]).map_or(Target::Queue { team: plan.queue_team }, |(t, _)| t);
                Some((tier, target))
            }
            None => None,
        };
        let org = self.org().await?;
        let raised = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = raised.clone();
        let decide_fn: Decide = Box::new(move |t: &Ticket| {
            let mut next = t.clone();
            let alerts = kefu_domain::sla::raise_alerts(&core.policy.sla, &mut next, now);
            count.store(alerts.len(), std::sync::atomic::Ordering::Relaxed);
            let watcher = Actor::new(SYSTEM, "system:sla-watcher", Role::Supervisor);
            let mut action = if alerts.is_empty() { "sla_check" } else { "sla_alert" };
            let mut escalated = Value::Null;
            let mut notices = Vec::new();
            if let Some((tier, target)) = &escalation
                && let Some(a) = alerts
                    .iter()
                    .find(|a| a.level == "breach" && core.policy.sla.escalation_for(&a.kind, t) == Some(*tier))
            {
                let reason = format!("{}超时，自动升级 / {} breached: escalated automatically", a.label_zh, a.kind);
                let body = json!({"action": "escalate", "to_tier": tier, "reason": reason});
                let req = ActionRequest::parse(body.as_object().expect("an object"))?;
                match decide(core.flows.get(t.ticket_type), &next, &watcher, &req, Some(target), now) {
                    Ok(mut d) => {
                        let flow_before = next.clone();
                        kefu_domain::sla::on_action(
                            &core.policy.sla,
                            &core.calendar,
                            &flow_before,
                            &mut d.ticket,
                            d.action,
                            now,
                        )?;
                        escalated = json!({"from_tier": t.tier, "to_tier": d.ticket.tier, "reason": reason,
                                           "assignee": d.ticket.assignee.map(|u| org.username(u))});
                        next = d.ticket;
                        action = "escalate";
                    }
                    Err(e) => escalated = json!({"skipped": e.to_string()}),
                }
            }
            let breached = next.deadlines.iter().filter(|d| d.escalations > 0).count() as u32;
            let after = core.policy.dispatch.supervisor_after_breaches;
            if !next.supervised && after > 0 && breached >= after {
                next.supervised = true;
            }
            settle(&core, &mut next);
            if action == "escalate" || next.supervised != t.supervised {
                notices.extend(crate::service::notices::for_action(
                    &org,
                    &core.settings.templates,
                    t,
                    &next,
                    ActionKind::Escalate,
                    &watcher,
                ));
            }
            let mut alert_notices = crate::service::notices::Notices::new(SYSTEM);
            crate::service::notices::for_alerts(&org, &core.settings.templates, &next, &alerts, &mut alert_notices);
            notices.extend(alert_notices.into_vec());
            let listed: Vec<Value> = alerts
                .iter()
                .map(|a| {
                    let notify: Vec<String> = crate::service::notices::recipients(&org, t, &a.notify)
                        .into_iter()
                        .map(|u| org.username(u))
                        .collect();
                    json!({"kind": a.kind, "label_zh": a.label_zh, "level": a.level, "step": a.step, "due_at": a.due_at,
                           "notify": notify})
                })
                .collect();
            let breaches: Vec<Breach> = alerts
                .iter()
                .filter(|a| a.level == "breach")
                .map(|a| Breach { kind: a.kind.clone(), due_at: a.due_at, breached_at: now })
                .collect();
            let mut data = json!({"alerts": listed});
            if !escalated.is_null() {
                data["escalation"] = escalated;
            }
            if next.supervised && !t.supervised {
                data["supervised"] = json!({"breaches": breached});
            }
            Ok(Mutation { breaches, notices, ..Mutation::new(next, action, data) })
        });
        let system = Actor::new(SYSTEM, "system:sla-watcher", Role::Admin);
        let op = MutateTicket {
            ticket: id,
            actor: system.clone(),
            now,
            idempotency: None,
            decide: decide_fn,
            render: self.renderer(&system),
            status: 200,
        };
        self.store.mutate_ticket(op).await?;
        Ok(raised.load(std::sync::atomic::Ordering::Relaxed))
    }
}
