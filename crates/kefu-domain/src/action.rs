//! Actions on a ticket. `decide` is the whole rule: given the flow, the
//! ticket as stored, the actor and the parsed request, it returns the ticket
//! as it must become plus what to record, or why not. Stores run it inside
//! their write transaction, so the check and the write cannot interleave.

use crate::enums::{Priority, Role};
use crate::error::{DomainError, FieldError};
use crate::flow::{Actor, Flow};
use crate::ids::{DepartmentId, TeamId, UserId};
use crate::intake::limits;
use crate::org::Membership;
use crate::ticket::Ticket;
use crate::validate::{optional_free_text, optional_text, required_free_text, required_text};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

macro_rules! action_kinds {
    ($($variant:ident = ($api:literal, $zh:literal)),+ $(,)?) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum ActionKind { $($variant),+ }

        impl ActionKind {
            pub const ALL: &'static [ActionKind] = &[$(ActionKind::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $(ActionKind::$variant => $api),+ }
            }
            pub fn label_zh(self) -> &'static str {
                match self { $(ActionKind::$variant => $zh),+ }
            }
            pub fn parse(raw: &str) -> Result<Self, FieldError> {
                match raw {
                    $($api => Ok(ActionKind::$variant),)+
                    _ => Err(FieldError::new(
                        "action",
                        format!("unknown action '{raw}'"),
                        format!("未知的操作“{raw}”"),
                    )),
                }
            }
        }
    };
}

action_kinds! {
    Dispatch = ("dispatch", "派单"),
    Redispatch = ("redispatch", "改派"),
    Start = ("start", "开始处理"),
    Suspend = ("suspend", "挂起"),
    Resume = ("resume", "恢复处理"),
    Transfer = ("transfer", "转派"),
    AcceptTransfer = ("accept_transfer", "接收转派"),
    RejectTransfer = ("reject_transfer", "拒绝转派"),
    Escalate = ("escalate", "升级"),
    Approve = ("approve", "审批通过"),
    Reject = ("reject", "驳回"),
    Resolve = ("resolve", "办结"),
    NotifyResult = ("notify_result", "反馈结果"),
    Confirm = ("confirm", "客户确认"),
    Appeal = ("appeal", "客户申诉"),
    ReturnVisit = ("return_visit", "回访"),
    Review = ("review", "复核"),
    Archive = ("archive", "归档"),
    Withdraw = ("withdraw", "撤单"),
    SetPriority = ("set_priority", "调整优先级"),
    Merge = ("merge", "合并"),
}

impl ActionKind {
    /// The fields each action reads besides `action`: anything else in the
    /// body is refused, so a typo is not silently ignored.
    pub fn fields(self) -> &'static [&'static str] {
        use ActionKind as K;
        match self {
            K::Dispatch | K::Redispatch => &["assignee", "reason", "mode"],
            K::Start | K::Resume | K::AcceptTransfer | K::Confirm | K::Archive => &[],
            K::Suspend | K::RejectTransfer | K::Reject | K::Appeal | K::Withdraw => &["reason"],
            K::Transfer => &["to", "to_team", "to_department", "reason", "mode"],
            K::Escalate => &["to_tier", "to", "to_supervisor", "reason"],
            K::Approve => &["comment"],
            K::Resolve => &["result"],
            K::NotifyResult => &["method", "email"],
            K::ReturnVisit => &["method", "reached", "satisfaction", "nps", "comment"],
            K::Review => &["passed", "comment"],
            K::SetPriority => &["priority", "reason"],
            K::Merge => &["into", "reason"],
        }
    }
}

pub const TRANSFER_MODES: &[&str] = &["phone", "system", "manual"];
pub const NOTIFY_METHODS: &[&str] = &["sms", "email", "phone", "online", "letter"];
pub const VISIT_METHODS: &[&str] = &["phone", "sms", "online"];

/// A staff member named by a request (dispatch target, transfer receiver …),
/// looked up by the service before `decide` runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaffRef {
    pub id: UserId,
    pub username: String,
    pub role: Role,
    pub active: bool,
    pub org: Membership,
}

/// Who or where an action sends the ticket, as the service resolved it.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Staff(StaffRef),
    Team {
        id: TeamId,
        department: DepartmentId,
    },
    Department {
        id: DepartmentId,
    },
    /// Nobody can take it now: it waits in this team's queue (or the
    /// general one), flagged.
    Queue {
        team: Option<TeamId>,
    },
}

/// What the service must resolve before `decide` can run.
#[derive(Debug, Clone, PartialEq)]
pub enum Wanted<'a> {
    User {
        field: &'static str,
        name: &'a str,
    },
    Team {
        field: &'static str,
        code: &'a str,
    },
    Department {
        field: &'static str,
        code: &'a str,
    },
    /// The best candidate by the dispatch rules (at this tier, if given).
    Auto {
        tier: Option<u8>,
    },
}

/// A parsed action request. User references are still names here; the
/// service resolves the one an action names (`target_field`).
#[derive(Debug, Clone, PartialEq)]
pub struct ActionRequest {
    pub kind: ActionKind,
    /// The request's fields, minus `action`, kept for flow `require` and
    /// `branch` checks and for the audit record.
    pub fields: Map<String, Value>,
    pub input: ActionInput,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ActionInput {
    /// Dispatch or re-dispatch; no assignee: automatic by the rules.
    Dispatch {
        assignee: Option<String>,
        reason: Option<String>,
    },
    Plain,
    WithReason {
        reason: String,
    },
    Transfer {
        to: Receiver<String>,
        reason: String,
        mode: String,
    },
    Escalate {
        to_tier: Option<u8>,
        to: Option<String>,
        to_supervisor: bool,
        reason: String,
    },
    Approve {
        comment: Option<String>,
    },
    Resolve {
        result: String,
    },
    NotifyResult {
        method: String,
    },
    ReturnVisit {
        method: String,
        reached: bool,
        satisfaction: Option<u8>,
        nps: Option<u8>,
        comment: Option<String>,
    },
    Review {
        passed: bool,
        comment: Option<String>,
    },
    SetPriority {
        priority: Priority,
        reason: String,
    },
    /// Into the open ticket (its number) that already handles the problem.
    Merge {
        into: String,
        reason: Option<String>,
    },
}

fn str_field(fields: &Map<String, Value>, name: &str) -> Result<Option<String>, FieldError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        // Users may be named by numeric id as well as by username.
        Some(Value::Number(n)) if matches!(name, "assignee" | "to" | "to_team" | "to_department") => {
            Ok(Some(n.to_string()))
        }
        Some(_) => Err(FieldError::new(name, format!("{name} must be a string"), format!("{name} 必须是字符串"))),
    }
}

fn bool_field(fields: &Map<String, Value>, name: &str) -> Result<Option<bool>, FieldError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => {
            Err(FieldError::new(name, format!("{name} must be true or false"), format!("{name} 必须是 true 或 false")))
        }
    }
}

fn int_field(fields: &Map<String, Value>, name: &str, min: u8, max: u8) -> Result<Option<u8>, FieldError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            v.as_u64().filter(|n| (u64::from(min)..=u64::from(max)).contains(n)).map(|n| Some(n as u8)).ok_or_else(
                || {
                    FieldError::new(
                        name,
                        format!("{name} must be a whole number from {min} to {max}"),
                        format!("{name} 必须是 {min} 到 {max} 之间的整数"),
                    )
                },
            )
        }
    }
}

fn one_of(
    fields: &Map<String, Value>,
    name: &str,
    allowed: &[&str],
    default: Option<&str>,
) -> Result<String, FieldError> {
    let v = match (str_field(fields, name)?, default) {
        (Some(v), _) => v,
        (None, Some(d)) => d.to_string(),
        (None, None) => return Err(FieldError::required(name)),
    };
    if allowed.contains(&v.as_str()) {
        return Ok(v);
    }
    Err(FieldError::new(
        name,
        format!("{name} must be one of: {}", allowed.join(", ")),
        format!("{name} 必须是以下之一：{}", allowed.join("、")),
    ))
}

fn reason(fields: &Map<String, Value>) -> Result<String, FieldError> {
    required_free_text(str_field(fields, "reason")?.as_deref(), "reason", limits::REASON)
}

impl ActionRequest {
    /// Parses `{"action": …, …fields}`.
    pub fn parse(body: &Map<String, Value>) -> Result<ActionRequest, FieldError> {
        let kind = match body.get("action") {
            Some(Value::String(s)) => ActionKind::parse(s)?,
            Some(_) => {
                return Err(FieldError::new("action", "action must be a string", "action 必须是字符串"));
            }
            None => return Err(FieldError::required("action")),
        };
        let known = kind.fields();
        if let Some(unknown) = body.keys().find(|k| k.as_str() != "action" && !known.contains(&k.as_str())) {
            let list = if known.is_empty() { "none".to_string() } else { known.join(", ") };
            return Err(FieldError::new(
                unknown.clone(),
                format!("'{unknown}' is not a field of the action {}; its fields: {list}", kind.as_str()),
                format!("“{unknown}”不是操作“{}”的字段", kind.label_zh()),
            ));
        }
        let mut fields = body.clone();
        fields.remove("action");
        // The fields are kept in the audit trail as sent: redact ID numbers.
        let fields: Map<String, Value> =
            fields.iter().map(|(k, v)| (k.clone(), crate::privacy::redact_json(v))).collect();
        let input = Self::parse_input(kind, &fields)?;
        Ok(ActionRequest { kind, fields, input })
    }

    fn parse_input(kind: ActionKind, f: &Map<String, Value>) -> Result<ActionInput, FieldError> {
        use ActionKind as K;
        Ok(match kind {
            K::Dispatch => ActionInput::Dispatch {
                assignee: optional_text(str_field(f, "assignee")?.as_deref(), "assignee", 64)?,
                reason: optional_free_text(str_field(f, "reason")?.as_deref(), "reason", limits::REASON)?,
            },
            K::Redispatch => ActionInput::Dispatch {
                assignee: optional_text(str_field(f, "assignee")?.as_deref(), "assignee", 64)?,
                reason: Some(reason(f)?),
            },
            K::Start | K::Resume | K::AcceptTransfer | K::Confirm | K::Archive => ActionInput::Plain,
            K::Suspend | K::RejectTransfer | K::Reject | K::Appeal | K::Withdraw => {
                ActionInput::WithReason { reason: reason(f)? }
            }
            K::Transfer => ActionInput::Transfer {
                to: Self::receiver(f)?,
                reason: reason(f)?,
                mode: one_of(f, "mode", TRANSFER_MODES, Some("manual"))?,
            },
            K::Escalate => Self::parse_escalate(f)?,
            K::Approve => ActionInput::Approve {
                comment: optional_free_text(str_field(f, "comment")?.as_deref(), "comment", limits::COMMENT)?,
            },
            K::Resolve => ActionInput::Resolve {
                result: required_free_text(str_field(f, "result")?.as_deref(), "result", limits::RESULT)?,
            },
            K::NotifyResult => ActionInput::NotifyResult { method: one_of(f, "method", NOTIFY_METHODS, None)? },
            K::ReturnVisit => Self::parse_visit(f)?,
            K::Review => {
                let passed = bool_field(f, "passed")?.ok_or_else(|| FieldError::required("passed"))?;
                let comment = optional_free_text(str_field(f, "comment")?.as_deref(), "comment", limits::COMMENT)?;
                if !passed && comment.is_none() {
                    return Err(FieldError::new(
                        "comment",
                        "a review that does not pass needs a comment",
                        "复核不通过时必须填写意见",
                    ));
                }
                ActionInput::Review { passed, comment }
            }
            K::SetPriority => ActionInput::SetPriority {
                priority: Priority::parse(
                    &str_field(f, "priority")?.ok_or_else(|| FieldError::required("priority"))?,
                    "priority",
                )?,
                reason: reason(f)?,
            },
            K::Merge => ActionInput::Merge {
                into: required_text(str_field(f, "into")?.as_deref(), "into", 32)?.to_ascii_uppercase(),
                reason: optional_free_text(str_field(f, "reason")?.as_deref(), "reason", limits::REASON)?,
            },
        })
    }

    /// Exactly one of `to` (a person), `to_team`, `to_department`.
    fn receiver(f: &Map<String, Value>) -> Result<Receiver<String>, FieldError> {
        let user = optional_text(str_field(f, "to")?.as_deref(), "to", 64)?;
        let team = optional_text(str_field(f, "to_team")?.as_deref(), "to_team", 64)?;
        let dept = optional_text(str_field(f, "to_department")?.as_deref(), "to_department", 64)?;
        match (user, team, dept) {
            (Some(u), None, None) => Ok(Receiver::User(u)),
            (None, Some(t), None) => Ok(Receiver::Team(t)),
            (None, None, Some(d)) => Ok(Receiver::Department(d)),
            (None, None, None) => Err(FieldError::new(
                "to",
                "transfer needs to (a person), to_team or to_department",
                "转派需要指定 to（接收人）、to_team（班组）或 to_department（部门）",
            )),
            _ => Err(FieldError::new(
                "to",
                "name only one of to, to_team, to_department",
                "to、to_team、to_department 只能指定其中一个",
            )),
        }
    }

    fn parse_escalate(f: &Map<String, Value>) -> Result<ActionInput, FieldError> {
        let to_tier = int_field(f, "to_tier", 1, 3)?;
        let to = optional_text(str_field(f, "to")?.as_deref(), "to", 64)?;
        let to_supervisor = bool_field(f, "to_supervisor")?.unwrap_or(false);
        if to_supervisor && (to_tier.is_some() || to.is_some()) {
            return Err(FieldError::new(
                "to_supervisor",
                "escalate either to the supervisor or to a tier or person, not both",
                "升级至主管时不能同时指定层级或接收人",
            ));
        }
        if to_tier.is_none() && to.is_none() && !to_supervisor {
            return Err(FieldError::new(
                "to_tier",
                "escalate needs to_tier (2 or 3), to (a user) or to_supervisor",
                "升级需要指定 to_tier（2 或 3）、to（接收人）或 to_supervisor",
            ));
        }
        Ok(ActionInput::Escalate { to_tier, to, to_supervisor, reason: reason(f)? })
    }

    fn parse_visit(f: &Map<String, Value>) -> Result<ActionInput, FieldError> {
        let reached = bool_field(f, "reached")?.ok_or_else(|| FieldError::required("reached"))?;
        let satisfaction = int_field(f, "satisfaction", 1, 5)?;
        if reached && satisfaction.is_none() {
            return Err(FieldError::new(
                "satisfaction",
                "a return visit that reached the customer needs satisfaction 1-5",
                "回访成功时必须填写满意度（1–5）",
            ));
        }
        Ok(ActionInput::ReturnVisit {
            method: one_of(f, "method", VISIT_METHODS, None)?,
            reached,
            satisfaction,
            nps: int_field(f, "nps", 0, 10)?,
            comment: optional_free_text(str_field(f, "comment")?.as_deref(), "comment", limits::COMMENT)?,
        })
    }

    /// Whom or what this action names, for the service to resolve.
    pub fn wanted(&self) -> Option<Wanted<'_>> {
        match &self.input {
            ActionInput::Dispatch { assignee: Some(a), .. } => Some(Wanted::User { field: "assignee", name: a }),
            ActionInput::Dispatch { assignee: None, .. } => Some(Wanted::Auto { tier: None }),
            ActionInput::Transfer { to: Receiver::User(u), .. } => Some(Wanted::User { field: "to", name: u }),
            ActionInput::Transfer { to: Receiver::Team(t), .. } => Some(Wanted::Team { field: "to_team", code: t }),
            ActionInput::Transfer { to: Receiver::Department(d), .. } => {
                Some(Wanted::Department { field: "to_department", code: d })
            }
            ActionInput::Escalate { to: Some(to), .. } => Some(Wanted::User { field: "to", name: to }),
            ActionInput::Escalate { to_tier: Some(tier), .. } => Some(Wanted::Auto { tier: Some(*tier) }),
            _ => None,
        }
    }
}

/// The receiver of a transfer: a person, a team or a department (named in
/// a request, or resolved to ids in a record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Receiver<T> {
    User(T),
    Team(T),
    Department(T),
}

/// What an action does to the transfer records.
#[derive(Debug, Clone, PartialEq)]
pub enum TransferChange {
    Open {
        from: Option<UserId>,
        to: Receiver<i64>,
        reason: String,
        mode: String,
    },
    /// The receiver accepted or rejected the pending transfer.
    Close {
        accepted: bool,
        reason: Option<String>,
        by: UserId,
    },
    /// What became of the last accepted transfer: the resolution, and the
    /// customer's word on it.
    Outcome {
        result: Option<String>,
        customer_feedback: Option<String>,
    },
}

/// The result of a permitted action.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub ticket: Ticket,
    pub action: ActionKind,
    /// Request data worth keeping in the audit record (reasons, results…).
    pub data: Value,
    pub transfer: Option<TransferChange>,
}

/// Applies `request` to `ticket` under `flow`, or says why not.
pub fn decide(
    flow: &Flow,
    ticket: &Ticket,
    actor: &Actor,
    request: &ActionRequest,
    target: Option<&Target>,
    now: DateTime<Utc>,
) -> Result<Decision, DomainError> {
    let rule = flow.rule_for(ticket, actor, request.kind)?;
    for field in &rule.require {
        if request.fields.get(field).is_none_or(Value::is_null) {
            return Err(FieldError::required(field).into());
        }
    }
    let mut next = ticket.clone();
    let transfer = apply_effect(&mut next, actor, request.kind, &request.input, target, now)?;
    match rule.branch.as_ref().filter(|b| request.fields.get(&b.field) == Some(&b.equals)) {
        Some(branch) => {
            if let Some(to) = &branch.to {
                next.status = to.clone();
            }
        }
        None => {
            if let Some(to) = &rule.to {
                next.status = to.clone();
            }
        }
    }
    next.open = flow.is_open(&next.status);
    next.updated_at = now;
    Ok(Decision { ticket: next, action: request.kind, data: Value::Object(request.fields.clone()), transfer })
}

fn handler(s: &StaffRef, field: &str) -> Result<(), DomainError> {
    let handles = matches!(s.role, Role::Agent | Role::Engineer | Role::ComplaintSpecialist | Role::Supervisor);
    if !s.active || !handles {
        return Err(FieldError::new(
            field,
            format!("{} cannot handle tickets (inactive or role {})", s.username, s.role.as_str()),
            format!("{} 不能处理工单（已停用或角色为{}）", s.username, s.role.label_zh()),
        )
        .into());
    }
    Ok(())
}

fn unknown(field: &str) -> DomainError {
    FieldError::new(field, "unknown user", "用户不存在").into()
}

/// The per-action effect on the ticket beyond the state change: one small
/// function per action that has one.
fn apply_effect(
    t: &mut Ticket,
    actor: &Actor,
    kind: ActionKind,
    input: &ActionInput,
    target: Option<&Target>,
    now: DateTime<Utc>,
) -> Result<Option<TransferChange>, DomainError> {
    match (kind, input) {
        (_, ActionInput::Dispatch { .. }) => dispatch(t, kind, target)?,
        (_, ActionInput::Transfer { reason, mode, .. }) => {
            return transfer(t, actor, target, reason, mode).map(Some);
        }
        (ActionKind::AcceptTransfer, _) => return Ok(Some(accept_transfer(t, actor))),
        (ActionKind::RejectTransfer, ActionInput::WithReason { reason }) => {
            clear_transfer(t);
            return Ok(Some(TransferChange::Close { accepted: false, reason: Some(reason.clone()), by: actor.id }));
        }
        (_, ActionInput::Escalate { to_tier, to_supervisor, .. }) => escalate(t, *to_tier, *to_supervisor, target)?,
        (_, ActionInput::Resolve { result }) => {
            t.result = Some(result.clone());
            t.resolved_at = Some(now);
            return Ok(Some(TransferChange::Outcome { result: Some(result.clone()), customer_feedback: None }));
        }
        (ActionKind::Confirm, _) => {
            let feedback = Some("客户确认结果 / confirmed by the customer".to_string());
            return Ok(Some(TransferChange::Outcome { result: None, customer_feedback: feedback }));
        }
        (ActionKind::Appeal, ActionInput::WithReason { reason }) => {
            reopen_on_appeal(t);
            // Escalated by the policy: to a handler of the appeal tier, or
            // into that tier's queue when nobody is free.
            match target {
                Some(Target::Staff(s)) => assign(t, s),
                Some(Target::Queue { team }) => {
                    t.assignee = None;
                    t.team = team.or(t.team);
                    t.unassignable = true;
                }
                _ => {}
            }
            let feedback = Some(format!("客户申诉 / appeal: {reason}"));
            return Ok(Some(TransferChange::Outcome { result: None, customer_feedback: feedback }));
        }
        (_, ActionInput::ReturnVisit { reached: true, satisfaction, nps, .. }) => {
            t.satisfaction = *satisfaction;
            t.nps = *nps;
        }
        (_, ActionInput::SetPriority { priority, .. }) => t.priority = *priority,
        (ActionKind::Archive, _) => t.archived_at = Some(now),
        _ => {}
    }
    Ok(None)
}

fn clear_transfer(t: &mut Ticket) {
    t.transfer_to = None;
    t.transfer_team = None;
    t.transfer_department = None;
}

/// Whoever accepts takes the ticket: the named receiver, or a member of
/// the team or department it was sent to.
fn accept_transfer(t: &mut Ticket, actor: &Actor) -> TransferChange {
    clear_transfer(t);
    t.assignee = Some(actor.id);
    t.tier = actor.org.tier.unwrap_or(t.tier);
    t.team = actor.org.team.or(t.team);
    t.unassignable = false;
    TransferChange::Close { accepted: true, reason: None, by: actor.id }
}

/// Gives the ticket to a person: its tier and team become theirs.
fn assign(t: &mut Ticket, s: &StaffRef) {
    t.assignee = Some(s.id);
    t.tier = s.org.tier.unwrap_or(t.tier);
    t.team = s.org.team.or(t.team);
    t.unassignable = false;
}

fn dispatch(t: &mut Ticket, kind: ActionKind, target: Option<&Target>) -> Result<(), DomainError> {
    match target {
        Some(Target::Staff(s)) => {
            handler(s, "assignee")?;
            if kind == ActionKind::Redispatch && t.assignee == Some(s.id) {
                return Err(FieldError::new(
                    "assignee",
                    "the ticket is already assigned to this user",
                    "工单已由该用户处理",
                )
                .into());
            }
            assign(t, s);
            Ok(())
        }
        Some(Target::Queue { .. }) => Err(DomainError::NoCandidate { tier: t.tier }),
        _ => Err(unknown("assignee")),
    }
}

fn transfer(
    t: &mut Ticket,
    actor: &Actor,
    target: Option<&Target>,
    reason: &str,
    mode: &str,
) -> Result<TransferChange, DomainError> {
    let to = match target {
        Some(Target::Staff(s)) => {
            handler(s, "to")?;
            if t.assignee == Some(s.id) {
                return Err(
                    FieldError::new("to", "the ticket is already assigned to this user", "工单已由该用户处理").into()
                );
            }
            t.transfer_to = Some(s.id);
            Receiver::User(s.id.0)
        }
        Some(Target::Team { id, .. }) => {
            t.transfer_team = Some(*id);
            Receiver::Team(id.0)
        }
        Some(Target::Department { id }) => {
            t.transfer_department = Some(*id);
            Receiver::Department(id.0)
        }
        _ => return Err(unknown("to")),
    };
    Ok(TransferChange::Open {
        from: t.assignee.or(Some(actor.id)),
        to,
        reason: reason.to_string(),
        mode: mode.to_string(),
    })
}

fn escalate(
    t: &mut Ticket,
    to_tier: Option<u8>,
    to_supervisor: bool,
    target: Option<&Target>,
) -> Result<(), DomainError> {
    if to_supervisor {
        if t.supervised {
            return Err(FieldError::new(
                "to_supervisor",
                "the ticket is already escalated to the supervisor",
                "工单已升级至主管督办",
            )
            .into());
        }
        t.supervised = true;
        return Ok(());
    }
    let person = match target {
        Some(Target::Staff(s)) => {
            handler(s, "to")?;
            Some(s)
        }
        _ => None,
    };
    let tier = to_tier.or_else(|| person.and_then(|s| s.org.tier)).unwrap_or(t.tier);
    // Named by tier: only upwards. Named by person: to them, at their tier.
    if tier <= t.tier && (to_tier.is_some() || person.is_none()) {
        return Err(FieldError::new(
            "to_tier",
            format!("the ticket is already at tier L{}; escalate to a higher tier", t.tier),
            format!("工单已在 L{} 层级，只能升级到更高层级", t.tier),
        )
        .into());
    }
    match (person, target) {
        (Some(s), _) => assign(t, s),
        (None, Some(Target::Queue { team })) => {
            t.assignee = None;
            t.team = team.or(t.team);
            t.unassignable = true;
        }
        _ => return Err(unknown("to")),
    }
    t.tier = tier;
    Ok(())
}

/// The appeal reopens the ticket: the first owner takes it back if
/// nobody else holds it, and the count of appeals grows.
pub fn reopen_on_appeal(t: &mut Ticket) {
    t.appeal_count += 1;
    t.resolved_at = None;
    if t.assignee.is_none() {
        t.assignee = Some(t.first_owner);
    }
}

/// Fields of a ticket JSON that differ between two snapshots: the
/// `before`/`after` of an audit event.
pub fn diff(before: &Ticket, after: &Ticket) -> (Value, Value) {
    let (Ok(Value::Object(b)), Ok(Value::Object(a))) = (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return (json!({}), json!({}));
    };
    let mut out_b = Map::new();
    let mut out_a = Map::new();
    for (k, va) in &a {
        let vb = b.get(k).cloned().unwrap_or(Value::Null);
        if k != "updated_at" && &vb != va {
            out_b.insert(k.clone(), vb);
            out_a.insert(k.clone(), va.clone());
        }
    }
    (Value::Object(out_b), Value::Object(out_a))
}
