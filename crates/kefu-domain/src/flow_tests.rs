//! Exhaustive tests of the shipped flows: every type walks to archived, every
//! action outside its states is refused with the allowed list, roles and
//! guards are enforced, branches and effects do what the flow says.

use crate::action::{ActionKind, ActionRequest, Decision, StaffRef, Target, Wanted, decide};
use crate::enums::{Priority, Role, TicketType};
use crate::error::DomainError;
use crate::flow::Guard;
use crate::flow::{Actor, FlowSet};
use crate::ids::UserId;
use crate::ticket::Ticket;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

fn now() -> DateTime<Utc> {
    "2026-11-22T08:00:00Z".parse().unwrap()
}

fn actor(id: i64, role: Role) -> Actor {
    Actor::new(UserId(id), format!("u{id}"), role)
}

const AGENT: i64 = 1;
const ENGINEER: i64 = 2;
const SPECIALIST: i64 = 3;
const SUPERVISOR: i64 = 4;
const INSPECTOR: i64 = 5;
const AGENT2: i64 = 6;

fn staff(id: i64) -> StaffRef {
    let role = match id {
        AGENT | AGENT2 => Role::Agent,
        ENGINEER => Role::Engineer,
        SPECIALIST => Role::ComplaintSpecialist,
        SUPERVISOR => Role::Supervisor,
        _ => Role::Inspector,
    };
    let org = crate::org::Membership { tier: role.tier(), ..Default::default() };
    StaffRef { id: UserId(id), username: format!("u{id}"), role, active: true, org }
}

fn ticket(t: TicketType) -> Ticket {
    let mut t = crate::ticket::sample(t, Priority::Normal);
    t.number = "GD20261122000001".into();
    t.first_owner = UserId(AGENT);
    t.created_at = now();
    t.updated_at = now();
    t
}

fn request(body: Value) -> ActionRequest {
    ActionRequest::parse(body.as_object().unwrap()).unwrap()
}

fn act(flows: &FlowSet, t: &Ticket, who: i64, body: Value) -> Result<Decision, DomainError> {
    let req = request(body);
    let target = match req.wanted() {
        Some(Wanted::User { name, .. }) => Some(Target::Staff(staff(name.trim_start_matches('u').parse().unwrap()))),
        Some(Wanted::Auto { .. }) => Some(Target::Queue { team: None }),
        _ => None,
    };
    let a = actor(who, staff(who).role);
    decide(flows.get(t.ticket_type), t, &a, &req, target.as_ref(), now())
}

fn step(flows: &FlowSet, t: &mut Ticket, who: i64, body: Value, expect_state: &str) {
    let d = act(flows, t, who, body.clone()).unwrap_or_else(|e| panic!("{body} by {who} in {}: {e:?}", t.status));
    assert_eq!(d.ticket.status, expect_state, "after {body}");
    *t = d.ticket;
}

/// The steps that take a ticket of each type from accepted to archived.
fn happy_path(t: TicketType) -> Vec<(i64, Value, &'static str)> {
    let handle = vec![
        (AGENT, json!({"action": "dispatch", "assignee": "u2"}), "dispatched"),
        (ENGINEER, json!({"action": "start"}), "in_progress"),
        (ENGINEER, json!({"action": "suspend", "reason": "等待客户提供截图"}), "suspended"),
        (ENGINEER, json!({"action": "resume"}), "in_progress"),
        (ENGINEER, json!({"action": "resolve", "result": "已更换光猫"}), "resolved"),
    ];
    let close = vec![
        (AGENT, json!({"action": "notify_result", "method": "sms"}), "result_notified"),
        (AGENT, json!({"action": "confirm"}), "confirmed"),
        (
            AGENT,
            json!({"action": "return_visit", "method": "phone", "reached": true, "satisfaction": 5, "nps": 9}),
            "visited",
        ),
        (SUPERVISOR, json!({"action": "review", "passed": true, "comment": "处理规范"}), "reviewed"),
        (SUPERVISOR, json!({"action": "archive"}), "archived"),
    ];
    match t {
        TicketType::Business => {
            let mut v = vec![
                (AGENT, json!({"action": "dispatch", "assignee": "u2"}), "dispatched"),
                (SUPERVISOR, json!({"action": "approve", "comment": "资料齐全"}), "approved"),
                (ENGINEER, json!({"action": "start"}), "in_progress"),
                (ENGINEER, json!({"action": "resolve", "result": "套餐已变更"}), "resolved"),
            ];
            v.extend(close);
            v
        }
        TicketType::Unsubscribe => vec![
            (AGENT, json!({"action": "approve"}), "operator_confirmed"),
            (AGENT, json!({"action": "resolve", "result": "已退订视频彩铃"}), "processed"),
            (AGENT, json!({"action": "notify_result", "method": "sms"}), "confirmation_sent"),
            (SUPERVISOR, json!({"action": "review", "passed": true}), "reviewed"),
            (SUPERVISOR, json!({"action": "archive"}), "archived"),
        ],
        _ => handle.into_iter().chain(close).collect(),
    }
}

#[test]
fn every_type_walks_to_archived() {
    let flows = FlowSet::defaults();
    for &tt in TicketType::ALL {
        let mut t = ticket(tt);
        for (who, body, state) in happy_path(tt) {
            step(&flows, &mut t, who, body, state);
        }
        assert!(t.archived_at.is_some(), "{tt}");
        assert_eq!(t.first_owner, UserId(AGENT), "first owner never changes");
    }
}

#[test]
fn every_action_outside_its_states_is_refused_with_the_allowed_list() {
    let flows = FlowSet::defaults();
    for &tt in TicketType::ALL {
        let flow = flows.get(tt);
        let mut t = ticket(tt);
        for (who, body, state) in happy_path(tt) {
            let sup = actor(SUPERVISOR, Role::Supervisor);
            for &kind in ActionKind::ALL {
                // Rules for a ticket linked to an incident do not apply to this one.
                let in_state = flow.actions.iter().any(|r| {
                    r.name == kind
                        && r.from.contains(&t.status)
                        && !r.only.iter().any(|g| g.on_ticket() && *g != Guard::OrderSettled)
                });
                match flow.rule_for(&t, &sup, kind) {
                    Err(DomainError::NotAllowed { allowed, state, .. }) => {
                        assert!(!in_state, "{tt}/{}: {kind:?} should be possible", t.status);
                        assert_eq!(state, t.status);
                        let expect: Vec<String> =
                            flow.allowed_actions(&t, &sup).iter().map(|a| a.as_str().to_string()).collect();
                        assert_eq!(allowed, expect);
                    }
                    Err(DomainError::Forbidden { .. }) | Ok(_) => {
                        assert!(in_state, "{tt}/{}: {kind:?}", t.status)
                    }
                    Err(e) => panic!("{tt}/{}: {kind:?}: {e:?}", t.status),
                }
            }
            step(&flows, &mut t, who, body, state);
        }
        // Archived: every action on every role is refused as immutable.
        for &kind in ActionKind::ALL {
            for &role in Role::ALL {
                assert_eq!(flows.get(tt).rule_for(&t, &actor(9, role), kind).unwrap_err(), DomainError::Archived);
            }
        }
        assert!(flows.get(tt).allowed_actions(&t, &actor(SUPERVISOR, Role::Supervisor)).is_empty());
    }
}

#[test]
fn roles_are_checked() {
    let flows = FlowSet::defaults();
    let t = ticket(TicketType::Complaint);
    // An inspector may not dispatch; an agent may not review or archive.
    let e = act(&flows, &t, INSPECTOR, json!({"action": "dispatch", "assignee": "u2"})).unwrap_err();
    assert!(matches!(e, DomainError::Forbidden { .. }), "{e:?}");
    let mut visited = t.clone();
    visited.status = "visited".into();
    assert!(matches!(
        act(&flows, &visited, AGENT, json!({"action": "review", "passed": true})),
        Err(DomainError::Forbidden { .. })
    ));
    let mut reviewed = t.clone();
    reviewed.status = "reviewed".into();
    assert!(matches!(act(&flows, &reviewed, AGENT, json!({"action": "archive"})), Err(DomainError::Forbidden { .. })));
    // Business approval is a supervisor's.
    let mut b = ticket(TicketType::Business);
    b.status = "dispatched".into();
    assert!(matches!(act(&flows, &b, AGENT, json!({"action": "approve"})), Err(DomainError::Forbidden { .. })));
}

#[test]
fn only_the_assignee_handles_but_a_supervisor_may_step_in() {
    let flows = FlowSet::defaults();
    let mut t = ticket(TicketType::Fault);
    step(&flows, &mut t, AGENT, json!({"action": "dispatch", "assignee": "u2"}), "dispatched");
    match act(&flows, &t, AGENT2, json!({"action": "start"})).unwrap_err() {
        DomainError::Forbidden { reason, .. } => assert!(reason.contains("assignee")),
        e => panic!("{e:?}"),
    }
    step(&flows, &mut t, SUPERVISOR, json!({"action": "start"}), "in_progress");
    let agent = actor(AGENT2, Role::Agent);
    assert!(!flows.get(t.ticket_type).allowed_actions(&t, &agent).contains(&ActionKind::Resolve));
}

#[test]
fn consultation_first_contact_resolution_is_for_the_first_owner() {
    let flows = FlowSet::defaults();
    let t = ticket(TicketType::Consultation);
    let body = json!({"action": "resolve", "result": "已告知5G套餐资费"});
    assert!(matches!(act(&flows, &t, AGENT2, body.clone()), Err(DomainError::Forbidden { .. })));
    let d = act(&flows, &t, AGENT, body.clone()).unwrap();
    assert_eq!(d.ticket.status, "resolved");
    // Other types have no first-contact resolution.
    let c = ticket(TicketType::Complaint);
    assert!(matches!(act(&flows, &c, AGENT, body), Err(DomainError::NotAllowed { .. })));
}

#[test]
fn withdraw_only_before_resolution() {
    let flows = FlowSet::defaults();
    let mut t = ticket(TicketType::Account);
    let w = json!({"action": "withdraw", "reason": "客户已自行解决"});
    assert_eq!(act(&flows, &t, AGENT, w.clone()).unwrap().ticket.status, "withdrawn");
    t.status = "resolved".into();
    assert!(matches!(act(&flows, &t, AGENT, w.clone()), Err(DomainError::NotAllowed { .. })));
    // A withdrawn ticket can still be archived.
    t.status = "withdrawn".into();
    assert_eq!(act(&flows, &t, SUPERVISOR, json!({"action": "archive"})).unwrap().ticket.status, "archived");
}

#[test]
fn a_repeat_report_merges_into_the_open_ticket_before_resolution() {
    let flows = FlowSet::defaults();
    for ty in TicketType::ALL {
        let mut t = ticket(*ty);
        let m = json!({"action": "merge", "into": " gd20261122000001 ", "reason": "客户重复来电"});
        let d = act(&flows, &t, AGENT, m.clone()).unwrap();
        assert_eq!((d.ticket.status.as_str(), d.ticket.open), ("merged", false), "{ty:?}");
        // The number is kept as people write it on tickets.
        assert_eq!(
            request(m.clone()).input,
            crate::action::ActionInput::Merge {
                into: "GD20261122000001".into(), reason: Some("客户重复来电".into())
            }
        );
        assert!(matches!(act(&flows, &t, ENGINEER, m.clone()), Err(DomainError::Forbidden { .. })), "{ty:?}");
        // A merged ticket has no loop of its own: it may be archived at once.
        t.status = "merged".into();
        assert_eq!(act(&flows, &t, SUPERVISOR, json!({"action": "archive"})).unwrap().ticket.status, "archived");
        t.status = "reviewed".into();
        assert!(matches!(act(&flows, &t, AGENT, m), Err(DomainError::NotAllowed { .. })), "{ty:?}");
    }
    let missing = ActionRequest::parse(json!({"action": "merge"}).as_object().unwrap()).unwrap_err();
    assert_eq!(missing.field, "into");
}

#[test]
fn transfer_accept_and_reject() {
    let flows = FlowSet::defaults();
    let mut t = ticket(TicketType::Fault);
    step(&flows, &mut t, AGENT, json!({"action": "dispatch", "assignee": "u1"}), "dispatched");
    step(&flows, &mut t, AGENT, json!({"action": "start"}), "in_progress");
    let d = act(&flows, &t, AGENT, json!({"action": "transfer", "to": "u2", "reason": "需现场排查", "mode": "system"}))
        .unwrap();
    assert!(matches!(
        d.transfer,
        Some(crate::action::TransferChange::Open { to: crate::action::Receiver::User(2), .. })
    ));
    t = d.ticket;
    assert_eq!(t.status, "transfer_pending");
    // Only the receiver decides.
    assert!(matches!(
        act(&flows, &t, AGENT2, json!({"action": "accept_transfer"})),
        Err(DomainError::Forbidden { .. })
    ));
    let rejected = act(&flows, &t, ENGINEER, json!({"action": "reject_transfer", "reason": "非本组业务"})).unwrap();
    assert_eq!(rejected.ticket.assignee, Some(UserId(AGENT)));
    assert_eq!(rejected.ticket.transfer_to, None);
    let accepted = act(&flows, &t, ENGINEER, json!({"action": "accept_transfer"})).unwrap();
    assert_eq!(accepted.ticket.assignee, Some(UserId(ENGINEER)));
    assert_eq!(accepted.ticket.tier, 2);
    assert_eq!(accepted.ticket.status, "in_progress");
    // Transfer to the current assignee is refused.
    let e =
        act(&flows, &accepted.ticket, ENGINEER, json!({"action": "transfer", "to": "u2", "reason": "x"})).unwrap_err();
    assert!(matches!(e, DomainError::Invalid(f) if f.field == "to"));
}

#[test]
fn escalation_moves_the_tier_up_only() {
    let flows = FlowSet::defaults();
    let mut t = ticket(TicketType::Complaint);
    step(&flows, &mut t, AGENT, json!({"action": "dispatch", "assignee": "u1"}), "dispatched");
    step(&flows, &mut t, AGENT, json!({"action": "escalate", "to_tier": 3, "reason": "客户要求升级"}), "dispatched");
    assert_eq!(t.tier, 3);
    let e = act(&flows, &t, AGENT, json!({"action": "escalate", "to_tier": 2, "reason": "x"})).unwrap_err();
    assert!(matches!(e, DomainError::Invalid(f) if f.field == "to_tier"));
    step(&flows, &mut t, AGENT, json!({"action": "escalate", "to": "u3", "reason": "转投诉专员"}), "dispatched");
    assert_eq!(t.assignee, Some(UserId(SPECIALIST)));
}

#[test]
fn branches_appeal_and_failed_visit() {
    let flows = FlowSet::defaults();
    let mut t = ticket(TicketType::Complaint);
    for (who, body, state) in happy_path(TicketType::Complaint).into_iter().take(6) {
        step(&flows, &mut t, who, body, state);
    }
    assert_eq!(t.status, "result_notified");
    let appealed = act(&flows, &t, AGENT, json!({"action": "appeal", "reason": "问题未解决"})).unwrap().ticket;
    assert_eq!(appealed.status, "in_progress");
    assert_eq!(appealed.appeal_count, 1);
    assert_eq!(appealed.resolved_at, None);
    step(&flows, &mut t, AGENT, json!({"action": "confirm"}), "confirmed");
    step(&flows, &mut t, AGENT, json!({"action": "return_visit", "method": "phone", "reached": false}), "confirmed");
    assert_eq!(t.satisfaction, None);
    step(
        &flows,
        &mut t,
        AGENT,
        json!({"action": "return_visit", "method": "sms", "reached": true, "satisfaction": 4}),
        "visited",
    );
    step(
        &flows,
        &mut t,
        SUPERVISOR,
        json!({"action": "review", "passed": false, "comment": "结果描述不完整"}),
        "in_progress",
    );
}

#[test]
fn bad_action_fields_are_named() {
    let bad = [
        (json!({"action": "fly"}), "action"),
        (json!({}), "action"),
        (json!({"action": "redispatch", "assignee": "u2"}), "reason"),
        (json!({"action": "dispatch", "assignee": ["u2"]}), "assignee"),
        (json!({"action": "transfer", "reason": "x"}), "to"),
        (json!({"action": "transfer", "to": "u2", "to_team": "net", "reason": "x"}), "to"),
        (json!({"action": "escalate", "to_supervisor": true, "to_tier": 3, "reason": "x"}), "to_supervisor"),
        (json!({"action": "suspend"}), "reason"),
        (json!({"action": "resolve", "result": ""}), "result"),
        (json!({"action": "notify_result", "method": "pigeon"}), "method"),
        (json!({"action": "return_visit", "method": "phone", "reached": true}), "satisfaction"),
        (json!({"action": "return_visit", "method": "phone", "reached": true, "satisfaction": 6}), "satisfaction"),
        (json!({"action": "return_visit", "method": "phone", "reached": true, "satisfaction": 5, "nps": 11}), "nps"),
        (json!({"action": "return_visit", "method": "phone", "reached": "yes"}), "reached"),
        (json!({"action": "review"}), "passed"),
        (json!({"action": "review", "passed": false}), "comment"),
        (json!({"action": "set_priority", "priority": "asap", "reason": "x"}), "priority"),
        (json!({"action": "escalate", "reason": "x"}), "to_tier"),
        (json!({"action": "transfer", "to": "u2", "reason": "x", "mode": "fax"}), "mode"),
        (json!({"action": "withdraw", "reason": "x".repeat(1001)}), "reason"),
    ];
    for (body, field) in bad {
        let e = ActionRequest::parse(body.as_object().unwrap()).unwrap_err();
        assert_eq!(e.field, field, "{body}");
    }
}

#[test]
fn overrides_replace_a_flow_and_required_fields_apply() {
    let mut text = crate::flow::DEFAULT_FLOWS.iter().find(|(f, _)| *f == "business.toml").unwrap().1.to_string();
    text = text.replace("name = \"approve\"\nfrom = [\"dispatched\"]\nto = \"approved\"\nroles = [\"supervisor\"]", "name = \"approve\"\nfrom = [\"dispatched\"]\nto = \"approved\"\nroles = [\"supervisor\"]\nrequire = [\"comment\"]");
    let flows = FlowSet::load(&[("business.toml".into(), text)]).unwrap();
    let mut t = ticket(TicketType::Business);
    t.status = "dispatched".into();
    let e = act(&flows, &t, SUPERVISOR, json!({"action": "approve"})).unwrap_err();
    assert!(matches!(e, DomainError::Invalid(f) if f.field == "comment"));
    assert!(act(&flows, &t, SUPERVISOR, json!({"action": "approve", "comment": "同意"})).is_ok());
}

#[test]
fn malformed_flows_are_refused_with_the_file_and_reason() {
    let e = FlowSet::load(&[("x.toml".into(), "type = \"fault\"\nlabel_zh = 1".into())]).unwrap_err();
    assert_eq!(e.file, "x.toml");
    let base = crate::flow::DEFAULT_FLOWS[5].1;
    let e = FlowSet::load(&[("fault.toml".into(), base.replace("to = \"resolved\"", "to = \"solved\""))]).unwrap_err();
    assert!(e.message.contains("unknown state 'solved'"), "{}", e.message);
    let e =
        FlowSet::load(&[("fault.toml".into(), base.replace("name = \"resume\"", "name = \"rewind\""))]).unwrap_err();
    assert!(e.message.contains("rewind"), "{}", e.message);
}

fn lead_of(team: i64, id: i64, role: Role) -> Actor {
    let mut a = actor(id, role);
    a.org.leads = vec![crate::TeamId(team)];
    a.org.team = Some(crate::TeamId(team));
    a
}

#[test]
fn dispatch_is_for_the_first_owner_or_the_team_lead_and_happens_once() {
    let flows = FlowSet::defaults();
    let flow = flows.get(TicketType::Fault);
    let mut t = ticket(TicketType::Fault);
    t.team = Some(crate::TeamId(7));
    let req = request(json!({"action": "dispatch", "assignee": "u2"}));
    let to = Target::Staff(staff(ENGINEER));
    // Another agent may not; the first owner and the team's lead may.
    let e = decide(flow, &t, &actor(AGENT2, Role::Agent), &req, Some(&to), now()).unwrap_err();
    assert!(matches!(e, DomainError::Forbidden { .. }), "{e:?}");
    let by_lead = decide(flow, &t, &lead_of(7, AGENT2, Role::Agent), &req, Some(&to), now()).unwrap();
    assert_eq!(by_lead.ticket.assignee, Some(UserId(ENGINEER)));
    assert_eq!(by_lead.ticket.tier, 2);
    // A second dispatch meets a dispatched ticket: 409 with redispatch offered to the lead.
    match decide(flow, &by_lead.ticket, &lead_of(7, AGENT2, Role::Agent), &req, Some(&to), now()).unwrap_err() {
        DomainError::NotAllowed { allowed, .. } => assert!(allowed.contains(&"redispatch".to_string()), "{allowed:?}"),
        e => panic!("{e:?}"),
    }
    // Re-dispatch: the lead only, with a reason, to someone else.
    let re = request(json!({"action": "redispatch", "assignee": "u6", "reason": "工程师请假"}));
    let to6 = Target::Staff(staff(AGENT2));
    let e = decide(flow, &by_lead.ticket, &actor(AGENT, Role::Agent), &re, Some(&to6), now()).unwrap_err();
    assert!(matches!(e, DomainError::Forbidden { .. }), "first owner is not the lead: {e:?}");
    let moved = decide(flow, &by_lead.ticket, &lead_of(7, 9, Role::Agent), &re, Some(&to6), now()).unwrap();
    assert_eq!((moved.ticket.assignee, moved.ticket.status.as_str()), (Some(UserId(AGENT2)), "dispatched"));
    // Automatic dispatch that found nobody is refused, changing nothing.
    let auto = request(json!({"action": "dispatch"}));
    let e = decide(flow, &t, &actor(AGENT, Role::Agent), &auto, Some(&Target::Queue { team: None }), now());
    assert!(matches!(e, Err(DomainError::NoCandidate { .. })));
}

#[test]
fn transfer_to_a_team_is_accepted_by_any_member() {
    let flows = FlowSet::defaults();
    let mut t = ticket(TicketType::Fault);
    step(&flows, &mut t, AGENT, json!({"action": "dispatch", "assignee": "u1"}), "dispatched");
    let flow = flows.get(TicketType::Fault);
    let req = request(json!({"action": "transfer", "to_team": "network", "reason": "需网络组排查", "mode": "phone"}));
    let team = Target::Team { id: crate::TeamId(3), department: crate::DepartmentId(1) };
    let d = decide(flow, &t, &actor(AGENT, Role::Agent), &req, Some(&team), now()).unwrap();
    assert!(
        matches!(&d.transfer, Some(crate::action::TransferChange::Open { to: crate::action::Receiver::Team(3), mode, .. }) if mode == "phone")
    );
    let pending = d.ticket;
    let outsider = actor(ENGINEER, Role::Engineer);
    let accept = request(json!({"action": "accept_transfer"}));
    assert!(matches!(decide(flow, &pending, &outsider, &accept, None, now()), Err(DomainError::Forbidden { .. })));
    let mut member = actor(ENGINEER, Role::Engineer);
    member.org.team = Some(crate::TeamId(3));
    member.org.tier = Some(2);
    let took = decide(flow, &pending, &member, &accept, None, now()).unwrap();
    assert_eq!(
        (took.ticket.assignee, took.ticket.tier, took.ticket.team),
        (Some(UserId(ENGINEER)), 2, Some(crate::TeamId(3)))
    );
    assert_eq!(took.ticket.transfer_team, None);
    // Department members may accept a transfer to their department.
    let dept = Target::Department { id: crate::DepartmentId(5) };
    let req = request(json!({"action": "transfer", "to_department": "technical", "reason": "x"}));
    let pending = decide(flow, &t, &actor(AGENT, Role::Agent), &req, Some(&dept), now()).unwrap().ticket;
    let mut in_dept = actor(SPECIALIST, Role::ComplaintSpecialist);
    in_dept.org.department = Some(crate::DepartmentId(5));
    assert!(decide(flow, &pending, &in_dept, &accept, None, now()).is_ok());
}

#[test]
fn escalation_to_the_supervisor_keeps_the_state_and_to_a_tier_queues_when_nobody_is_free() {
    let flows = FlowSet::defaults();
    let flow = flows.get(TicketType::Complaint);
    let mut t = ticket(TicketType::Complaint);
    step(&flows, &mut t, AGENT, json!({"action": "dispatch", "assignee": "u1"}), "dispatched");
    step(&flows, &mut t, AGENT, json!({"action": "start"}), "in_progress");
    let sup = request(json!({"action": "escalate", "to_supervisor": true, "reason": "客户多次来电"}));
    let d = decide(flow, &t, &actor(AGENT, Role::Agent), &sup, None, now()).unwrap();
    assert_eq!((d.ticket.status.as_str(), d.ticket.supervised, d.ticket.tier), ("in_progress", true, 1));
    assert!(decide(flow, &d.ticket, &actor(AGENT, Role::Agent), &sup, None, now()).is_err(), "only once");
    let up = request(json!({"action": "escalate", "to_tier": 3, "reason": "升级投诉"}));
    let q = Target::Queue { team: Some(crate::TeamId(4)) };
    let d = decide(flow, &t, &actor(AGENT, Role::Agent), &up, Some(&q), now()).unwrap();
    assert_eq!(d.ticket.status, "dispatched");
    assert_eq!((d.ticket.tier, d.ticket.assignee, d.ticket.unassignable), (3, None, true));
    assert_eq!(d.ticket.team, Some(crate::TeamId(4)));
}

#[test]
fn open_states_follow_the_flow() {
    let flows = FlowSet::defaults();
    let mut t = ticket(TicketType::Fault);
    for (who, body, state) in happy_path(TicketType::Fault) {
        step(&flows, &mut t, who, body, state);
        let open = matches!(state, "dispatched" | "in_progress" | "suspended");
        assert_eq!(t.open, open, "{state}");
    }
}

#[test]
fn an_incident_resolves_its_linked_tickets_from_any_handling_state() {
    let flows = FlowSet::defaults();
    let body = json!({"action": "resolve", "result": "光缆已熔接，业务恢复"});
    for tt in [TicketType::Fault, TicketType::Complaint] {
        let mut t = ticket(tt);
        // Not linked: a supervisor cannot skip handling, override or not.
        assert!(matches!(act(&flows, &t, SUPERVISOR, body.clone()), Err(DomainError::NotAllowed { .. })));
        t.incident = Some(crate::incident_record::IncidentRef { id: 1, number: "ZD20261201001".into() });
        assert_eq!(act(&flows, &t, SUPERVISOR, body.clone()).unwrap().ticket.status, "resolved");
        // Linked, but an agent who holds nothing of it still may not.
        assert!(matches!(act(&flows, &t, AGENT2, body.clone()), Err(DomainError::Forbidden { .. })));
    }
}
