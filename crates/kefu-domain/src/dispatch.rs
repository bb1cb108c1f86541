//! Dispatch (派单, R-17): which staff member gets a ticket. The policy's rule
//! table matches a ticket by type, priority, customer level, region and
//! business line and names where its handlers are (tier, department, team);
//! among those candidates, the ones on duty with free capacity and the
//! skills the ticket needs, the least loaded wins and ties go to whoever
//! was given a ticket longest ago (round robin among equals). The store
//! re-checks capacity when it writes, so concurrent dispatches cannot
//! overfill anyone.

use crate::enums::{Priority, TicketType};
use crate::ids::{TeamId, UserId};
use crate::org::{Department, Skills, Team};
use crate::ticket::Ticket;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispatchPolicy {
    /// Dispatch every new ticket at registration.
    #[serde(default = "yes")]
    pub on_create: bool,
    /// Open tickets a staff member may hold when their profile sets no capacity.
    pub default_capacity: u32,
    /// How often tickets waiting in a queue are offered again, in seconds.
    pub retry_seconds: u64,
    /// Breaches on one ticket that bring in the supervisor (主管督办, R-19).
    pub supervisor_after_breaches: u32,
    /// An appeal brings in the supervisor.
    #[serde(default = "yes")]
    pub supervisor_on_appeal: bool,
    /// The first matching rule wins; a ticket no rule matches goes to its
    /// current tier, anywhere.
    #[serde(default)]
    pub rules: Vec<DispatchRule>,
}

impl Default for DispatchPolicy {
    fn default() -> Self {
        DispatchPolicy {
            on_create: true,
            default_capacity: 30,
            retry_seconds: 60,
            supervisor_after_breaches: 2,
            supervisor_on_appeal: true,
            rules: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispatchRule {
    /// Named in the audit record of each dispatch it makes.
    pub name: String,
    // What the rule matches; empty matches anything.
    #[serde(default)]
    pub types: Vec<TicketType>,
    #[serde(default)]
    pub priorities: Vec<Priority>,
    #[serde(default)]
    pub customer_levels: Vec<String>,
    #[serde(default)]
    pub regions: Vec<String>,
    #[serde(default)]
    pub business_lines: Vec<String>,
    // Where the handlers are; absent: anywhere.
    pub tier: Option<u8>,
    pub department: Option<String>,
    pub team: Option<String>,
}

/// A staff member as dispatch sees them.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: UserId,
    pub username: String,
    pub tier: Option<u8>,
    pub team: Option<TeamId>,
    pub skills: Skills,
    pub capacity: u32,
    pub on_duty: bool,
    pub active: bool,
    /// Open tickets held now.
    pub load: u32,
    pub last_assigned_at: Option<DateTime<Utc>>,
}

/// The outcome of a dispatch decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The rule that matched, if any.
    pub rule: Option<String>,
    /// Eligible candidates, best first.
    pub ranked: Vec<UserId>,
    /// The team whose queue the ticket waits in when nobody can take it.
    pub queue_team: Option<TeamId>,
    pub tier: u8,
}

/// Where a ticket is: its location, else the customer's address.
fn region_text(t: &Ticket) -> String {
    format!("{} {}", t.location.as_deref().unwrap_or(""), t.customer.address.as_deref().unwrap_or(""))
}

fn region_matches(regions: &[String], t: &Ticket) -> bool {
    let text = region_text(t);
    regions.is_empty() || regions.iter().any(|r| text.contains(r.as_str()))
}

impl DispatchRule {
    pub fn matches(&self, t: &Ticket) -> bool {
        let level = t.customer.level.as_deref().unwrap_or("");
        (self.types.is_empty() || self.types.contains(&t.ticket_type))
            && (self.priorities.is_empty() || self.priorities.contains(&t.priority))
            && (self.customer_levels.is_empty() || self.customer_levels.iter().any(|l| l.eq_ignore_ascii_case(level)))
            && region_matches(&self.regions, t)
            && (self.business_lines.is_empty()
                || t.business_line.as_ref().is_some_and(|b| self.business_lines.contains(b)))
    }
}

/// Whether a candidate has the skills a ticket needs.
pub fn skilled(s: &Skills, t: &Ticket) -> bool {
    (s.types.is_empty() || s.types.contains(&t.ticket_type))
        && (s.business_lines.is_empty() || t.business_line.as_ref().is_none_or(|b| s.business_lines.contains(b)))
        && region_matches(&s.regions, t)
}

impl DispatchPolicy {
    pub fn check(&self) -> Result<(), String> {
        for r in &self.rules {
            if r.tier.is_some_and(|t| !(1..=3).contains(&t)) {
                return Err(format!("dispatch rule '{}': tier must be 1, 2 or 3", r.name));
            }
        }
        if self.default_capacity == 0 {
            return Err("dispatch.default_capacity must be at least 1".into());
        }
        Ok(())
    }

    /// The rule for a ticket; with `tier`, only a rule for that tier
    /// (escalation picks handlers of the tier it escalates to).
    pub fn rule_for(&self, t: &Ticket, tier: Option<u8>) -> Option<&DispatchRule> {
        self.rules.iter().find(|r| r.matches(t) && tier.is_none_or(|want| r.tier == Some(want)))
    }

    /// Who may take the ticket, best first, and where it waits otherwise.
    pub fn plan(
        &self,
        t: &Ticket,
        tier: Option<u8>,
        candidates: &[Candidate],
        teams: &[Team],
        departments: &[Department],
    ) -> Plan {
        let rule = self.rule_for(t, tier);
        let want_tier = rule.and_then(|r| r.tier).or(tier).unwrap_or(t.tier);
        let team = rule.and_then(|r| r.team.as_ref()).and_then(|code| teams.iter().find(|x| &x.code == code));
        let dept = rule
            .and_then(|r| r.department.as_ref())
            .map(|code| departments.iter().find(|d| &d.code == code).map(|d| d.id));
        let in_place = |c: &Candidate| {
            let team_of = c.team.and_then(|id| teams.iter().find(|x| x.id == id));
            let team_ok = match rule.and_then(|r| r.team.as_ref()) {
                None => true,
                Some(_) => team.is_some_and(|want| c.team == Some(want.id)),
            };
            let dept_ok = match dept {
                None => true,
                Some(want) => want.is_some() && team_of.map(|x| Some(x.department)) == Some(want),
            };
            team_ok && dept_ok
        };
        let mut eligible: Vec<&Candidate> = candidates
            .iter()
            .filter(|c| c.active && c.on_duty && c.load < c.capacity && c.tier == Some(want_tier))
            .filter(|c| in_place(c) && skilled(&c.skills, t))
            .collect();
        eligible.sort_by_key(|c| (c.load, c.last_assigned_at, c.id));
        Plan {
            rule: rule.map(|r| r.name.clone()),
            ranked: eligible.iter().map(|c| c.id).collect(),
            queue_team: team.map(|x| x.id).or(t.team),
            tier: want_tier,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::DepartmentId;
    use crate::policy::Policy;

    fn ticket(tt: TicketType, p: Priority) -> Ticket {
        let mut t = crate::ticket::sample(tt, p);
        t.location = Some("北京市海淀区中关村".into());
        t
    }

    fn cand(id: i64, tier: u8, load: u32) -> Candidate {
        Candidate {
            id: UserId(id),
            username: format!("u{id}"),
            tier: Some(tier),
            team: None,
            skills: Skills::default(),
            capacity: 10,
            on_duty: true,
            active: true,
            load,
            last_assigned_at: None,
        }
    }

    fn at(h: u32) -> Option<DateTime<Utc>> {
        Some(format!("2026-11-23T{h:02}:00:00Z").parse().unwrap())
    }

    fn org() -> (Vec<Team>, Vec<Department>) {
        let d = |id, code: &str| Department { id: DepartmentId(id), code: code.into(), name: code.into() };
        let t = |id, dept, code: &str| Team {
            id: TeamId(id),
            department: DepartmentId(dept),
            code: code.into(),
            name: code.into(),
            lead: None,
        };
        (vec![t(1, 1, "hotline"), t(2, 2, "network"), t(3, 2, "devices")], vec![d(1, "service"), d(2, "technical")])
    }

    #[test]
    fn shipped_rules_send_each_type_to_its_tier() {
        let p = Policy::defaults().dispatch;
        let (teams, depts) = org();
        let all = [cand(1, 1, 0), cand(2, 2, 0), cand(3, 3, 0)];
        let expect = [
            (TicketType::Complaint, 3),
            (TicketType::Fault, 2),
            (TicketType::Consultation, 1),
            (TicketType::Business, 1),
            (TicketType::Account, 1),
            (TicketType::ServiceRequest, 1),
            (TicketType::Unsubscribe, 1),
        ];
        for (tt, tier) in expect {
            let plan = p.plan(&ticket(tt, Priority::Normal), None, &all, &teams, &depts);
            assert_eq!(plan.tier, tier, "{tt}");
            assert_eq!(plan.ranked, vec![UserId(i64::from(tier))], "{tt}");
        }
    }

    #[test]
    fn least_loaded_wins_and_ties_go_to_who_waited_longest() {
        let p = DispatchPolicy::default();
        let (teams, depts) = org();
        let t = ticket(TicketType::Consultation, Priority::Normal);
        let mut a = cand(1, 1, 3);
        let mut b = cand(2, 1, 1);
        let mut c = cand(3, 1, 1);
        b.last_assigned_at = at(10);
        c.last_assigned_at = at(9);
        assert_eq!(p.plan(&t, None, &[a.clone(), b.clone(), c.clone()], &teams, &depts).ranked, [3, 2, 1].map(UserId));
        // Never assigned beats any time; then the lower id.
        a.load = 1;
        a.last_assigned_at = None;
        assert_eq!(p.plan(&t, None, &[a.clone(), b.clone(), c.clone()], &teams, &depts).ranked[0], UserId(1));
        b.last_assigned_at = None;
        assert_eq!(p.plan(&t, None, &[b.clone(), a.clone()], &teams, &depts).ranked, [1, 2].map(UserId));
        // Round robin: giving each winner a ticket moves the next one up.
        let mut pool = vec![cand(1, 1, 0), cand(2, 1, 0), cand(3, 1, 0)];
        let mut order = Vec::new();
        for i in 0..6 {
            let win = p.plan(&t, None, &pool, &teams, &depts).ranked[0];
            order.push(win.0);
            let w = pool.iter_mut().find(|c| c.id == win).unwrap();
            w.last_assigned_at = at(i);
            if i % 3 == 2 {
                pool.iter_mut().for_each(|c| c.load += 1);
            }
        }
        assert_eq!(order, [1, 2, 3, 1, 2, 3]);
    }

    #[test]
    fn off_duty_full_inactive_unskilled_and_wrong_tier_are_skipped() {
        let p = DispatchPolicy::default();
        let (teams, depts) = org();
        let t = ticket(TicketType::Account, Priority::Normal);
        let mut off = cand(1, 1, 0);
        off.on_duty = false;
        let mut full = cand(2, 1, 10);
        full.capacity = 10;
        let mut gone = cand(3, 1, 0);
        gone.active = false;
        let mut unskilled = cand(4, 1, 0);
        unskilled.skills.types = vec![TicketType::Fault];
        let mut elsewhere = cand(5, 1, 0);
        elsewhere.skills.regions = vec!["朝阳区".into()];
        let l2 = cand(6, 2, 0);
        let mut local = cand(7, 1, 5);
        local.skills.regions = vec!["海淀区".into()];
        local.skills.types = vec![TicketType::Account, TicketType::Fault];
        let all = [off, full, gone, unskilled, elsewhere, l2, local];
        assert_eq!(p.plan(&t, None, &all, &teams, &depts).ranked, vec![UserId(7)]);
        assert!(p.plan(&t, None, &all[..6], &teams, &depts).ranked.is_empty());
    }

    #[test]
    fn rules_match_on_every_attribute_and_place_candidates() {
        let text = r#"
            default_capacity = 10
            retry_seconds = 60
            supervisor_after_breaches = 2
            [[rules]]
            name = "vip broadband faults in haidian"
            types = ["fault"]
            priorities = ["urgent"]
            customer_levels = ["VIP"]
            regions = ["海淀"]
            business_lines = ["宽带"]
            tier = 2
            team = "network"
            [[rules]]
            name = "other technical"
            types = ["fault"]
            tier = 2
            department = "technical"
        "#;
        let p: DispatchPolicy = toml::from_str(text).unwrap();
        let (teams, depts) = org();
        let mut net = cand(1, 2, 5);
        net.team = Some(TeamId(2));
        let mut dev = cand(2, 2, 0);
        dev.team = Some(TeamId(3));
        let mut hotline = cand(3, 2, 0);
        hotline.team = Some(TeamId(1));
        let all = [net, dev, hotline];
        let mut t = ticket(TicketType::Fault, Priority::Urgent);
        t.customer.level = Some("vip".into());
        t.business_line = Some("宽带".into());
        let plan = p.plan(&t, None, &all, &teams, &depts);
        assert_eq!(
            (plan.rule.as_deref(), plan.ranked.clone()),
            (Some("vip broadband faults in haidian"), vec![UserId(1)])
        );
        assert_eq!(plan.queue_team, Some(TeamId(2)));
        for change in 0..4 {
            let mut u = t.clone();
            match change {
                0 => u.priority = Priority::Normal,
                1 => u.customer.level = None,
                2 => u.location = Some("朝阳区".into()),
                _ => u.business_line = Some("IPTV".into()),
            }
            let plan = p.plan(&u, None, &all, &teams, &depts);
            assert_eq!(plan.rule.as_deref(), Some("other technical"), "change {change}");
            // Department "technical": network and devices teams, least loaded first.
            assert_eq!(plan.ranked, vec![UserId(2), UserId(1)], "change {change}");
        }
        // A rule naming an unknown team leaves nobody: the ticket waits.
        let mut q = p.clone();
        q.rules[0].team = Some("nowhere".into());
        assert!(q.plan(&t, None, &all, &teams, &depts).ranked.is_empty());
    }

    #[test]
    fn escalation_asks_for_a_tier() {
        let p = Policy::defaults().dispatch;
        let (teams, depts) = org();
        let t = ticket(TicketType::Consultation, Priority::Normal);
        let all = [cand(1, 1, 0), cand(2, 2, 0), cand(3, 3, 0)];
        assert_eq!(p.plan(&t, Some(2), &all, &teams, &depts).ranked, vec![UserId(2)]);
        assert_eq!(p.plan(&t, Some(3), &all, &teams, &depts).ranked, vec![UserId(3)]);
    }

    #[test]
    fn bad_rules_are_refused() {
        let mut p = DispatchPolicy::default();
        p.rules.push(DispatchRule {
            name: "x".into(),
            types: vec![],
            priorities: vec![],
            customer_levels: vec![],
            regions: vec![],
            business_lines: vec![],
            tier: Some(4),
            department: None,
            team: None,
        });
        assert!(p.check().unwrap_err().contains("tier"));
    }
}
