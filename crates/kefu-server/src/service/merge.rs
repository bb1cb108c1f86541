//! Merging a repeat report (重复来电) into the customer's open ticket
//! that already handles the problem: the repeat closes as 已合并 by its
//! flow's rule, and the open ticket records where it came from — both in
//! one transaction, so neither is ever recorded without the other.

use super::*;
use crate::error::ApiError;
use kefu_domain::action::{ActionInput, ActionRequest};
use kefu_domain::flow::Actor;
use kefu_domain::ticket::Ticket;
use kefu_domain::{DomainError, FieldError};
use kefu_store::*;
use serde_json::json;

fn into_error(en: &str, zh: &str) -> FieldError {
    FieldError::new("into", en, zh)
}

impl<S: Store> Kefu<S> {
    /// `current` merged into the ticket its request names.
    pub(super) async fn merge(
        &self,
        actor: &Actor,
        current: &Ticket,
        mut request: ActionRequest,
        idempotency: Option<Idem>,
    ) -> Result<Written, ApiError> {
        let ActionInput::Merge { into, reason } = request.input.clone() else {
            return Err(ApiError::Internal("merge without its input".into()));
        };
        // A ticket the caller may not see is, for them, one that does not exist.
        let target = match self.visible_ticket(actor, &into).await {
            Ok(t) => t,
            Err(ApiError::NotFound { .. }) => {
                return Err(into_error(&format!("no ticket {into}"), &format!("工单“{into}”不存在")).into());
            }
            Err(e) => return Err(e),
        };
        if target.id == current.id {
            return Err(into_error("a ticket cannot be merged into itself", "不能合并到工单自身").into());
        }
        // The record names the ticket as it is numbered, however it was typed.
        request.fields.insert("into".into(), json!(target.number));
        let resolved = self.resolve(&request, current, &[]).await?;
        let decide = self.action_decider(actor, request, resolved);
        let (core, now, who) = (self.core.clone(), self.now(), actor.id);
        let linked: DecideLinked = Box::new(move |t: &Ticket, repeat: &Ticket| {
            // Checked on the locked rows: the target may have closed meanwhile.
            if !t.open || core.flows.get(t.ticket_type).is_final(&t.status) {
                return Err(DomainError::from(into_error(
                    "only an open ticket takes a merge",
                    "只能合并到处理中的工单（未办结）",
                )));
            }
            if t.customer.id != repeat.customer.id {
                return Err(DomainError::from(into_error(
                    "only the same customer's tickets are merged",
                    "只能合并同一客户的工单",
                )));
            }
            let mut ticket = Ticket { updated_at: now, ..t.clone() };
            super::tickets::settle(&core, &mut ticket);
            let mut notices = super::notices::Notices::new(who);
            let (en, zh) = (
                format!("{} (a repeat report) was merged into {}", repeat.number, t.number),
                format!("工单 {}（重复来电）已合并到 {}", repeat.number, t.number),
            );
            notices.add(t.assignee, "merged", &en, &zh);
            let data = json!({"from": repeat.number, "title": repeat.title, "reason": reason});
            Ok(Mutation { notices: notices.into_vec(), ..Mutation::new(ticket, "merged_in", data) })
        });
        let op = MutateTicket {
            ticket: current.id,
            actor: actor.clone(),
            now,
            idempotency: Self::idem(actor, idempotency),
            decide,
            render: self.renderer(actor),
            status: 200,
        };
        let written = self.store.mutate_pair(op, Linked { ticket: target.id, decide: linked }).await?;
        self.core.search.note_ticket_write();
        Ok(written)
    }
}
