//! Dispatch: who takes a ticket by the rules, and the team queue when
//! nobody can.

use super::tickets::{Resolved, settle, written_ticket};
use super::*;
use crate::error::ApiError;
use kefu_domain::Role;
use kefu_domain::action::{ActionKind, ActionRequest};
use kefu_domain::flow::Actor;
use kefu_domain::ticket::Ticket;
use kefu_store::*;
use serde_json::json;
use std::sync::Arc;

impl<S: Store> Kefu<S> {
    /// Dispatches a ticket by the rules, as kefu itself; if nobody can take
    /// it, it waits in its team's queue, flagged, and the lead hears of it.
    pub async fn auto_dispatch(&self, t: &Ticket) -> Result<Ticket, ApiError> {
        let system = Actor::new(SYSTEM, "system:dispatch", Role::Admin);
        let allowed = self.core.flows.get(t.ticket_type).allowed_actions(t, &system);
        let body = if allowed.contains(&ActionKind::Dispatch) {
            json!({"action": "dispatch", "mode": "system"})
        } else if allowed.contains(&ActionKind::Redispatch) {
            json!({"action": "redispatch", "mode": "system", "reason": "自动派单 / automatic dispatch"})
        } else {
            return Ok(t.clone());
        };
        let request = ActionRequest::parse(body.as_object().expect("an object"))?;
        match self.act_on(&system, t, request, None).await {
            Ok(w) => written_ticket(w),
            // Nobody free, or everyone chosen filled up meanwhile: it waits.
            Err(ApiError::NoCandidate { .. } | ApiError::CapacityFull { .. }) => self.queue(t).await,
            Err(e) => Err(e),
        }
    }

    /// Puts a ticket nobody can take into its team's queue, flagged.
    pub(super) async fn queue(&self, t: &Ticket) -> Result<Ticket, ApiError> {
        if t.unassignable {
            return Ok(t.clone());
        }
        let (plan, org) = self.plan(t, None).await?;
        let system = Actor::new(SYSTEM, "system:dispatch", Role::Admin);
        written_ticket(self.mutate(&system, t.id, None, self.queue_decider(plan, org), 200).await?)
    }

    /// Puts the ticket in the plan's team queue, flagged, and tells the lead.
    pub(super) fn queue_decider(
        &self,
        plan: kefu_domain::dispatch::Plan,
        org: Arc<crate::directory::OrgSnapshot>,
    ) -> Decide {
        let core = self.core.clone();
        Box::new(move |t: &Ticket| {
            let mut next = Ticket { team: plan.queue_team.or(t.team), unassignable: true, ..t.clone() };
            settle(&core, &mut next);
            let mut out = crate::service::notices::Notices::new(SYSTEM);
            let n = &t.number;
            out.add(
                org.lead_or_supervisors(next.team),
                "queued",
                &format!("ticket {n}: nobody on duty can take it (L{}); it waits in the queue", plan.tier),
                &format!("工单 {n} 暂无在岗可派人员（L{}），已进入队列等待派单", plan.tier),
            );
            let data = json!({"tier": plan.tier, "dispatch_rule": plan.rule, "team": next.team});
            Ok(Mutation { notices: out.into_vec(), ..Mutation::new(next, "queue", data) })
        })
    }

    /// Automatic dispatch of a ticket being registered, decided now and
    /// written in the registration's transaction: to the best candidate,
    /// or into the queue when nobody is free.
    pub(super) async fn dispatch_on_create(&self, t: &Ticket) -> Result<FollowUp, ApiError> {
        let system = Actor::new(SYSTEM, "system:dispatch", Role::Admin);
        let (plan, org) = self.plan(t, None).await?;
        let decide = match self.pick(&plan, &org, &[]) {
            Some((target, capacity)) => {
                let resolved = Resolved {
                    target: Some(target),
                    capacity: Some(capacity),
                    rule: plan.rule.clone(),
                    org: org.clone(),
                    delivered: None,
                };
                let body = json!({"action": "dispatch", "mode": "system"});
                let request = ActionRequest::parse(body.as_object().expect("an object"))?;
                self.action_decider(&system, request, resolved)
            }
            None => self.queue_decider(plan, org),
        };
        Ok(FollowUp { actor: system, decide })
    }
}
