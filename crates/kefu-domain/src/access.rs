//! Need-to-know: who may see a ticket and who may act on it follows
//! the ticket's people — its handler, whoever registered it, whoever a
//! transfer involved, the team it is with and that team's lead — as policy
//! data per role (`[access.see]`, `[access.act]`). Supervisors and
//! inspectors see everything; inspectors act on nothing.

use crate::Role;
use crate::flow::Actor;
use crate::policy::AccessPolicy;
use crate::ticket::Ticket;
use serde::{Deserialize, Serialize};

/// How a staff member stands to a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// Every ticket, whatever the relation.
    All,
    /// Handles it now.
    Assignee,
    /// Registered it (首问责任人).
    FirstOwner,
    /// A transfer of it was to or from them (or is waiting for them, their
    /// team or their department).
    Transferred,
    /// It is open and with their team (the team queue).
    Team,
    /// It is with a team they lead.
    LedTeam,
    /// Its return visit by phone is due (whoever makes the calls).
    VisitDue,
}

impl Relation {
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::All => "all",
            Relation::Assignee => "assignee",
            Relation::FirstOwner => "first_owner",
            Relation::Transferred => "transferred",
            Relation::Team => "team",
            Relation::LedTeam => "led_team",
            Relation::VisitDue => "visit_due",
        }
    }
}

/// Need to know as the policy's `[access.see]` and `[access.act]` say it:
/// the relations each role needs to see, and to act on, a ticket. A role
/// the tables do not name sees and does nothing.
impl AccessPolicy {
    pub fn see_relations(&self, role: Role) -> &[Relation] {
        self.see.get(&role).map_or(&[], Vec::as_slice)
    }

    pub fn act_relations(&self, role: Role) -> &[Relation] {
        self.act.get(&role).map_or(&[], Vec::as_slice)
    }

    /// Whether the role sees every ticket (no filter needed).
    pub fn sees_all(&self, role: Role) -> bool {
        self.see_relations(role).contains(&Relation::All)
    }

    pub fn may_see(&self, role: Role, has: &[Relation]) -> bool {
        allowed(self.see_relations(role), has)
    }

    pub fn may_act(&self, role: Role, has: &[Relation]) -> bool {
        allowed(self.act_relations(role), has)
    }
}

fn allowed(needed: &[Relation], has: &[Relation]) -> bool {
    needed.contains(&Relation::All) || needed.iter().any(|r| has.contains(r))
}

/// The relations of `actor` to `t` that the ticket itself shows;
/// `transferred_before` says whether a past transfer record names them
/// (the service asks the store only when it matters).
pub fn relations(t: &Ticket, actor: &Actor, transferred_before: bool) -> Vec<Relation> {
    let m = &actor.org;
    let mut out = Vec::new();
    if t.assignee == Some(actor.id) {
        out.push(Relation::Assignee);
    }
    if t.first_owner == actor.id {
        out.push(Relation::FirstOwner);
    }
    let waiting_for_me = t.transfer_to == Some(actor.id)
        || (t.transfer_team.is_some() && t.transfer_team == m.team)
        || (t.transfer_department.is_some() && t.transfer_department == m.department);
    if waiting_for_me || transferred_before {
        out.push(Relation::Transferred);
    }
    // The team's queue: its open tickets (a closed one is its handler's,
    // registrar's and lead's business).
    if t.open && t.team.is_some() && t.team == m.team {
        out.push(Relation::Team);
    }
    if t.team.is_some_and(|team| m.leads.contains(&team)) {
        out.push(Relation::LedTeam);
    }
    let visit = t.customer_loop.visit.as_ref();
    if visit.is_some_and(|v| v.state == crate::customer_loop::VisitState::Pending && v.method == "phone") {
        out.push(Relation::VisitDue);
    }
    out
}

/// A reason for revealing personal data must be one of the policy's
/// reasons, or written out: at least `min_chars` characters, not one
/// character repeated ("x", "xxxxxxxxxx").
pub fn reason_is_real(reason: &str, listed: &[String], min_chars: usize) -> bool {
    let r = reason.trim();
    // A listed reason, whole or its Chinese part ("回访客户 / return visit").
    if listed.iter().any(|l| l == r || l.split(" / ").next() == Some(r)) {
        return true;
    }
    let mut distinct: Vec<char> = r.chars().filter(|c| !c.is_whitespace()).collect();
    let n = distinct.len();
    distinct.sort_unstable();
    distinct.dedup();
    n >= min_chars && distinct.len() >= 3
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::org::Membership;
    use crate::{TeamId, UserId};

    fn actor(id: i64, role: Role, team: Option<i64>, leads: &[i64]) -> Actor {
        let mut a = Actor::new(UserId(id), format!("u{id}"), role);
        a.org = Membership { team: team.map(TeamId), leads: leads.iter().map(|t| TeamId(*t)).collect(), ..a.org };
        a
    }

    fn ticket() -> Ticket {
        let mut t = crate::ticket::sample(crate::TicketType::Fault, crate::Priority::Normal);
        t.first_owner = UserId(1);
        t.assignee = Some(UserId(2));
        t.team = Some(TeamId(10));
        t.open = true;
        t
    }

    fn policy() -> AccessPolicy {
        let mut p = AccessPolicy::default();
        use Relation::*;
        p.see.insert(Role::Agent, vec![Assignee, FirstOwner, Transferred, Team, LedTeam]);
        p.act.insert(Role::Agent, vec![Assignee, FirstOwner, Transferred, LedTeam]);
        p.see.insert(Role::Inspector, vec![All]);
        p
    }

    #[test]
    fn each_relation_is_found() {
        let t = ticket();
        assert_eq!(relations(&t, &actor(1, Role::Agent, None, &[]), false), vec![Relation::FirstOwner]);
        assert_eq!(
            relations(&t, &actor(2, Role::Agent, Some(10), &[]), false),
            vec![Relation::Assignee, Relation::Team]
        );
        assert_eq!(relations(&t, &actor(3, Role::Agent, None, &[10]), false), vec![Relation::LedTeam]);
        assert_eq!(relations(&t, &actor(4, Role::Agent, Some(11), &[]), false), vec![]);
        assert_eq!(relations(&t, &actor(4, Role::Agent, Some(11), &[]), true), vec![Relation::Transferred]);
        let mut waiting = t.clone();
        waiting.transfer_team = Some(TeamId(11));
        assert_eq!(relations(&waiting, &actor(4, Role::Agent, Some(11), &[]), false), vec![Relation::Transferred]);
    }

    #[test]
    fn seeing_and_acting_follow_the_table() {
        let p = policy();
        let t = ticket();
        let teammate = relations(&t, &actor(5, Role::Agent, Some(10), &[]), false);
        assert!(p.may_see(Role::Agent, &teammate));
        assert!(!p.may_act(Role::Agent, &teammate), "a teammate sees the queue but does not act on others' tickets");
        assert!(!p.may_see(Role::Agent, &[]));
        assert!(p.may_see(Role::Inspector, &[]));
        assert!(!p.may_act(Role::Inspector, &[]), "inspectors read only");
        assert!(!p.may_see(Role::Engineer, &[Relation::Assignee]), "a role the table does not name sees nothing");
    }

    #[test]
    fn reasons_must_be_real() {
        let listed = vec!["回访客户".to_string()];
        assert!(reason_is_real("回访客户", &listed, 10));
        assert!(!reason_is_real("x", &listed, 10));
        assert!(!reason_is_real("xxxxxxxxxxxx", &listed, 10));
        assert!(reason_is_real("客户来电要求核对登记的联系电话", &listed, 10));
        assert!(!reason_is_real("核对电话", &listed, 10));
    }
}
