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

/// What an actor may do with a ticket.
struct Standing {
    see: bool,
    act: bool,
}

impl<S: Store> Kefu<S> {
    /// Whether the actor may see and act on the ticket, from their
    /// relations to it; past transfer records are read (once) only when
    /// they could make the difference.
    async fn standing(&self, actor: &Actor, t: &Ticket) -> Result<Standing, ApiError> {
        if is_system(actor) {
            return Ok(Standing { see: true, act: true });
        }
        let need = &self.core.policy.access;
        let role = actor.role;
        let judge = |has: &[Relation]| Standing { see: need.may_see(role, has), act: need.may_act(role, has) };
        let cheap = judge(&relations(t, actor, false));
        let asks_transfers = |needed: &[Relation]| needed.contains(&Relation::Transferred);
        let undecided = (!cheap.see && asks_transfers(need.see_relations(role)))
            || (!cheap.act && asks_transfers(need.act_relations(role)));
        if !undecided {
            return Ok(cheap);
        }
        let me = Some(actor.id);
        let before = self
            .store
            .transfers(t.id)
            .await?
            .iter()
            .any(|x| x.from_user == me || x.to_user == me || x.decided_by == me);
        Ok(judge(&relations(t, actor, before)))
    }

    /// The ticket by id or number, if the actor may see it; 404 otherwise,
    /// as for a ticket that does not exist.
    pub async fn visible_ticket(&self, actor: &Actor, key: &str) -> Result<Ticket, ApiError> {
        self.ticket_for(actor, key, false).await
    }

    /// The ticket by id or number for an actor who means to see it or, with
    /// `acting`, to act on it: 404 to someone who may not see it, 403 to
    /// someone who sees it but is not one of its people.
    pub async fn ticket_for(&self, actor: &Actor, key: &str, acting: bool) -> Result<Ticket, ApiError> {
        let t = self.ticket(key).await?;
        match self.standing(actor, &t).await? {
            Standing { act: true, .. } => Ok(t),
            Standing { see: true, .. } if !acting => Ok(t),
            Standing { see: false, .. } => Err(NOT_FOUND),
            Standing { see: true, act: false } => Err(ApiError::Forbidden {
                reason: format!(
                    "you are not one of this ticket's people (handler, registrar, transfer, team lead); a {} may not act on it",
                    actor.role.as_str()
                ),
                reason_zh: "您与该工单无处理关系（非处理人、首问、转派相关人或班组长），不能操作".into(),
            }),
        }
    }

    /// The ticket as the actor sees it, offering no action to someone who
    /// sees it but is not one of its people.
    pub async fn view_for(&self, actor: &Actor, t: &Ticket) -> Result<serde_json::Value, ApiError> {
        let mut v = self.view(t, actor);
        if !self.standing(actor, t).await?.act {
            v["allowed_actions"] = serde_json::json!([]);
        }
        Ok(v)
    }

    /// The list filter of the actor's need to know; None for those who see all.
    pub fn visibility(&self, actor: &Actor) -> Option<Visible> {
        let need = &self.core.policy.access;
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
