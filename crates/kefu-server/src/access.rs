//! Need to know in the service: whether a staff member may see or act on a
//! ticket follows their relation to it (`kefu_domain::access`), and lists
//! carry the same rule as a filter. A ticket someone may not see answers
//! exactly as one that does not exist.

use crate::Kefu;
use crate::error::ApiError;
use kefu_domain::access::{Relation, relations};
use kefu_domain::flow::Actor;
use kefu_domain::ticket::Ticket;
use kefu_store::{SYSTEM, Store, Visible};

const NOT_FOUND: ApiError = ApiError::NotFound { what: "ticket", what_zh: "工单" };

/// kefu's own jobs and the customer's signed links are not staff.
fn is_system(actor: &Actor) -> bool {
    actor.id == SYSTEM
}

impl<S: Store> Kefu<S> {
    /// The actor's relations to the ticket that `needed` asks about; past
    /// transfer records are read only when they could make the difference.
    async fn relations_for(&self, actor: &Actor, t: &Ticket, needed: &[Relation]) -> Result<Vec<Relation>, ApiError> {
        let cheap = relations(t, actor, false);
        let satisfied = needed.contains(&Relation::All) || needed.iter().any(|r| cheap.contains(r));
        if satisfied || !needed.contains(&Relation::Transferred) {
            return Ok(cheap);
        }
        let me = Some(actor.id);
        let before = self
            .store
            .transfers(t.id)
            .await?
            .iter()
            .any(|x| x.from_user == me || x.to_user == me || x.decided_by == me);
        Ok(relations(t, actor, before))
    }

    /// Whether the actor may see the ticket.
    pub async fn may_see(&self, actor: &Actor, t: &Ticket) -> Result<bool, ApiError> {
        if is_system(actor) {
            return Ok(true);
        }
        let need = &self.core.need_to_know;
        let has = self.relations_for(actor, t, need.see_relations(actor.role)).await?;
        Ok(need.may_see(actor.role, &has))
    }

    /// The ticket by id or number, if the actor may see it; 404 otherwise,
    /// as for a ticket that does not exist.
    pub async fn visible_ticket(&self, actor: &Actor, key: &str) -> Result<Ticket, ApiError> {
        let t = self.ticket(key).await?;
        match self.may_see(actor, &t).await? {
            true => Ok(t),
            false => Err(NOT_FOUND),
        }
    }

    /// Whether the actor may act on the ticket (the flows then say how).
    pub async fn may_act(&self, actor: &Actor, t: &Ticket) -> Result<bool, ApiError> {
        if is_system(actor) {
            return Ok(true);
        }
        let need = &self.core.need_to_know;
        let has = self.relations_for(actor, t, need.act_relations(actor.role)).await?;
        Ok(need.may_act(actor.role, &has))
    }

    /// The ticket as the actor sees it, offering no action to someone who
    /// sees it but is not one of its people.
    pub async fn view_for(&self, actor: &Actor, t: &Ticket) -> Result<serde_json::Value, ApiError> {
        let mut v = self.view(t, actor);
        if !self.may_act(actor, t).await? {
            v["allowed_actions"] = serde_json::json!([]);
        }
        Ok(v)
    }

    /// Refuses an actor who may not act on the ticket: 403 if they may see
    /// it, 404 if not even that.
    pub async fn check_may_act(&self, actor: &Actor, t: &Ticket) -> Result<(), ApiError> {
        if self.may_act(actor, t).await? {
            return Ok(());
        }
        if !self.may_see(actor, t).await? {
            return Err(NOT_FOUND);
        }
        Err(ApiError::Forbidden {
            reason: format!(
                "you are not one of this ticket's people (handler, registrar, transfer, team lead); a {} may not act on it",
                actor.role.as_str()
            ),
            reason_zh: "您与该工单无处理关系（非处理人、首问、转派相关人或班组长），不能操作".into(),
        })
    }

    /// The list filter of the actor's need to know; None for those who see all.
    pub fn visibility(&self, actor: &Actor) -> Option<Visible> {
        let need = &self.core.need_to_know;
        if is_system(actor) || need.sees_all(actor.role) {
            return None;
        }
        let m = &actor.org;
        Some(Visible {
            user: actor.id,
            relations: need.see_relations(actor.role).to_vec(),
            team: m.team,
            leads: m.leads.clone(),
            transfer_keys: kefu_store::doc::transfer_keys_of(actor.id, m.team, m.department),
        })
    }
}
