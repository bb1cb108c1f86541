//! Flows as data: one definition per ticket type, loaded from TOML
//! files shipped with the binary (`flows/*.toml`) and overridable from the
//! config directory. A flow names the states (with Chinese labels) and, for
//! each action, the states it may start from, where it leads, which roles
//! may take it and which fields it requires. This module is the only place
//! that interprets state names.

use crate::action::ActionKind;
use crate::enums::{Role, TicketType};
use crate::error::DomainError;
use crate::ids::UserId;
use crate::ticket::Ticket;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The default flow files, compiled into the binary.
pub const DEFAULT_FLOWS: &[(&str, &str)] = &[
    ("complaint.toml", include_str!("../flows/complaint.toml")),
    ("consultation.toml", include_str!("../flows/consultation.toml")),
    ("business.toml", include_str!("../flows/business.toml")),
    ("account.toml", include_str!("../flows/account.toml")),
    ("service_request.toml", include_str!("../flows/service_request.toml")),
    ("fault.toml", include_str!("../flows/fault.toml")),
    ("unsubscribe.toml", include_str!("../flows/unsubscribe.toml")),
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    #[serde(rename = "type")]
    pub ticket_type: TicketType,
    pub label_zh: String,
    pub label_en: String,
    pub initial: String,
    /// Roles that may act on any ticket regardless of `only` guards
    /// (supervisors stepping in for an absent assignee).
    #[serde(default)]
    pub override_roles: Vec<Role>,
    pub states: Vec<StateDef>,
    pub actions: Vec<ActionRule>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateDef {
    pub name: String,
    pub zh: String,
    pub en: String,
    /// A final state admits no action at all (archived: immutable, R-42).
    #[serde(default, rename = "final")]
    pub is_final: bool,
    /// The ticket weighs on its handler here (counts against capacity).
    /// States after resolution and withdrawal say `open = false`.
    #[serde(default = "yes")]
    pub open: bool,
}

fn yes() -> bool {
    true
}

/// `only = "assignee"` or `only = ["first_owner", "team_lead"]`.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Guard>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(Guard),
        Many(Vec<Guard>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(g)) => vec![g],
        Some(OneOrMany::Many(v)) => v,
    })
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionRule {
    pub name: ActionKind,
    pub from: Vec<String>,
    /// Target state; absent means the action keeps the state.
    pub to: Option<String>,
    pub roles: Vec<Role>,
    /// Who among those roles: the ticket's first owner, its assignee, the
    /// receiver of a pending transfer or the lead of the ticket's team; any
    /// one of those listed suffices. Empty: anyone with the role.
    #[serde(default, deserialize_with = "one_or_many")]
    pub only: Vec<Guard>,
    /// Fields the request must carry, beyond what the action itself needs.
    #[serde(default)]
    pub require: Vec<String>,
    /// A different target when a request field has a given value
    /// (e.g. review with passed=false goes back to handling).
    pub branch: Option<Branch>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Guard {
    FirstOwner,
    Assignee,
    TransferTarget,
    TeamLead,
    /// A condition on the ticket, not a person: it is linked to a major
    /// incident. Override roles do not bypass it.
    IncidentChild,
    /// A condition on the ticket: the order it carries is completed (the
    /// BSS's outcome resolves it).
    OrderCompleted,
    /// A condition on the ticket: it carries no order still to be carried
    /// out or in the BSS's hands (a person cannot resolve it around the order).
    OrderSettled,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Branch {
    pub field: String,
    pub equals: serde_json::Value,
    /// Absent: the branch keeps the state.
    pub to: Option<String>,
}

/// Who is acting: the authenticated staff member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Actor {
    pub id: UserId,
    pub username: String,
    pub role: Role,
    /// Team, department, teams led and tier.
    #[serde(default)]
    pub org: crate::org::Membership,
}

impl Actor {
    /// An actor outside any team (kefu's own jobs, tests, the command line).
    pub fn new(id: UserId, username: impl Into<String>, role: Role) -> Actor {
        Actor {
            id,
            username: username.into(),
            role,
            org: crate::org::Membership { tier: role.tier(), ..Default::default() },
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("flow file {file}: {message}")]
pub struct FlowError {
    pub file: String,
    pub message: String,
}

impl Guard {
    fn holds(self, ticket: &Ticket, actor: &Actor) -> bool {
        match self {
            Guard::FirstOwner => ticket.first_owner == actor.id,
            Guard::Assignee => ticket.assignee == Some(actor.id),
            Guard::TransferTarget => {
                ticket.transfer_to == Some(actor.id)
                    || ticket.transfer_team.is_some_and(|t| actor.org.team == Some(t))
                    || ticket.transfer_department.is_some_and(|d| actor.org.department == Some(d))
            }
            Guard::TeamLead => ticket.team.is_some_and(|t| actor.org.leads.contains(&t)),
            Guard::IncidentChild => ticket.incident.is_some(),
            Guard::OrderCompleted => {
                ticket.order.as_ref().is_some_and(|o| o.state == crate::order::OrderState::Completed)
            }
            Guard::OrderSettled => ticket.order.as_ref().is_none_or(|o| o.state.settled()),
        }
    }

    /// A condition on the ticket rather than on who acts: every one of
    /// these must hold, and override roles do not lift them.
    pub fn on_ticket(self) -> bool {
        matches!(self, Guard::IncidentChild | Guard::OrderCompleted | Guard::OrderSettled)
    }

    /// Who the guard lets through, in English and Chinese.
    fn who(self) -> (&'static str, &'static str) {
        match self {
            Guard::FirstOwner => ("the first-contact owner", "首问责任人"),
            Guard::Assignee => ("the assignee", "当前处理人"),
            Guard::TransferTarget => ("the receiver of the transfer", "转派接收人"),
            Guard::TeamLead => ("the lead of the ticket's team", "工单所属班组的组长"),
            Guard::IncidentChild => ("on a ticket linked to a major incident", "仅限关联重大故障的工单"),
            Guard::OrderCompleted => ("once its order is completed", "仅限订单已完成的工单"),
            Guard::OrderSettled => ("once its order is carried out, failed or revoked", "须待订单执行完成、失败或撤销"),
        }
    }
}

impl Flow {
    pub fn parse(file: &str, text: &str) -> Result<Flow, FlowError> {
        let flow: Flow =
            toml::from_str(text).map_err(|e| FlowError { file: file.to_string(), message: e.to_string() })?;
        flow.check().map_err(|message| FlowError { file: file.to_string(), message })?;
        Ok(flow)
    }

    /// Every state an action names must exist, and something must be final.
    fn check(&self) -> Result<(), String> {
        let known = |s: &str| self.states.iter().any(|d| d.name == s);
        if !known(&self.initial) {
            return Err(format!("initial state '{}' is not defined", self.initial));
        }
        if !self.states.iter().any(|s| s.is_final) {
            return Err("no final state is defined".into());
        }
        for rule in &self.actions {
            let targets = rule.to.iter().chain(rule.branch.as_ref().and_then(|b| b.to.as_ref()));
            for s in rule.from.iter().chain(targets) {
                if !known(s) {
                    return Err(format!("action '{}' names unknown state '{s}'", rule.name.as_str()));
                }
            }
            if rule.roles.is_empty() {
                return Err(format!("action '{}' lists no roles", rule.name.as_str()));
            }
        }
        Ok(())
    }

    /// Whether the flow has the action at all (from any state).
    pub fn has_action(&self, kind: ActionKind) -> bool {
        self.actions.iter().any(|r| r.name == kind)
    }

    pub fn state(&self, name: &str) -> Option<&StateDef> {
        self.states.iter().find(|s| s.name == name)
    }

    pub fn is_final(&self, state: &str) -> bool {
        self.state(state).is_some_and(|s| s.is_final)
    }

    /// Whether a ticket in this state weighs on its handler.
    pub fn is_open(&self, state: &str) -> bool {
        self.state(state).is_some_and(|s| s.open && !s.is_final)
    }

    fn permits(&self, rule: &ActionRule, ticket: &Ticket, actor: &Actor) -> bool {
        let on_ticket = |g: &Guard| g.on_ticket();
        rule.roles.contains(&actor.role)
            && rule.only.iter().filter(|g| on_ticket(g)).all(|g| g.holds(ticket, actor))
            && (self.override_roles.contains(&actor.role)
                || rule.only.iter().all(on_ticket)
                || rule.only.iter().any(|g| !on_ticket(g) && g.holds(ticket, actor)))
    }

    /// The actions this actor may take on this ticket now, in flow order.
    pub fn allowed_actions(&self, ticket: &Ticket, actor: &Actor) -> Vec<ActionKind> {
        let mut out: Vec<ActionKind> = Vec::new();
        for rule in &self.actions {
            if rule.from.contains(&ticket.status) && self.permits(rule, ticket, actor) && !out.contains(&rule.name) {
                out.push(rule.name);
            }
        }
        out
    }

    /// The rule under which this actor may take `kind` now, or why not:
    /// wrong state → NotAllowed (409), wrong role or relation → Forbidden (403).
    pub fn rule_for(&self, ticket: &Ticket, actor: &Actor, kind: ActionKind) -> Result<&ActionRule, DomainError> {
        if self.is_final(&ticket.status) {
            return Err(DomainError::Archived);
        }
        // A rule whose condition on the ticket fails is as if absent: the
        // action is not possible on this ticket now, whoever asks.
        let applies = |r: &ActionRule| r.only.iter().filter(|g| g.on_ticket()).all(|g| g.holds(ticket, actor));
        let in_state: Vec<&ActionRule> =
            self.actions.iter().filter(|r| r.name == kind && r.from.contains(&ticket.status) && applies(r)).collect();
        if in_state.is_empty() {
            return Err(DomainError::NotAllowed {
                action: kind.as_str().to_string(),
                state: ticket.status.clone(),
                allowed: self.allowed_actions(ticket, actor).iter().map(|a| a.as_str().to_string()).collect(),
            });
        }
        if let Some(rule) = in_state.iter().find(|r| self.permits(r, ticket, actor)) {
            return Ok(rule);
        }
        let guards = in_state.iter().find(|r| r.roles.contains(&actor.role)).map(|r| r.only.as_slice()).unwrap_or(&[]);
        let reason = match guards {
            [] => format!("role {} may not {}", actor.role.as_str(), kind.as_str()),
            gs => format!("only {} may do this", gs.iter().map(|g| g.who().0).collect::<Vec<_>>().join(" or ")),
        };
        Err(DomainError::Forbidden { action: kind.as_str().to_string(), role: actor.role.as_str().to_string(), reason })
    }
}

/// Why a guard refused, in Chinese, for error messages.
pub fn guard_reason_zh(reason_en: &str) -> String {
    let Some(who) = reason_en.strip_prefix("only ").and_then(|r| r.strip_suffix(" may do this")) else {
        return "当前角色无权执行此操作".into();
    };
    let all = [Guard::FirstOwner, Guard::Assignee, Guard::TransferTarget, Guard::TeamLead];
    let zh: Vec<&str> =
        who.split(" or ").filter_map(|en| all.iter().find(|g| g.who().0 == en).map(|g| g.who().1)).collect();
    format!("仅{}可执行此操作", zh.join("或"))
}

/// The flows of all ticket types.
#[derive(Debug, Clone, Serialize)]
pub struct FlowSet(BTreeMap<TicketType, Flow>);

impl FlowSet {
    /// Loads the defaults, then lets each `(file name, text)` override the
    /// flow of the type it declares.
    pub fn load(overrides: &[(String, String)]) -> Result<FlowSet, FlowError> {
        let mut flows = BTreeMap::new();
        let defaults = DEFAULT_FLOWS.iter().map(|(f, t)| (f.to_string(), t.to_string()));
        for (file, text) in defaults.chain(overrides.iter().cloned()) {
            let flow = Flow::parse(&file, &text)?;
            flows.insert(flow.ticket_type, flow);
        }
        if let Some(missing) = TicketType::ALL.iter().find(|t| !flows.contains_key(t)) {
            return Err(FlowError { file: "flows".into(), message: format!("no flow for type {missing}") });
        }
        Ok(FlowSet(flows))
    }

    pub fn defaults() -> FlowSet {
        FlowSet::load(&[]).expect("the shipped flow files are valid")
    }

    pub fn get(&self, t: TicketType) -> &Flow {
        // load() guarantees every type is present.
        &self.0[&t]
    }

    pub fn iter(&self) -> impl Iterator<Item = &Flow> {
        self.0.values()
    }
}
