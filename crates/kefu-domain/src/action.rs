//! Actions on a ticket. `decide` is the whole rule: given the flow, the
//! ticket as stored, the actor and the parsed request, it returns the ticket
//! as it must become plus what to record, or why not. Stores run it inside
//! their write transaction, so the check and the write cannot interleave.

use crate::enums::{Priority, Role};
use crate::error::{DomainError, FieldError};
use crate::flow::{Actor, Flow};
use crate::ids::UserId;
use crate::intake::limits;
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
    Dispatch { assignee: String },
    Plain,
    WithReason { reason: String },
    Transfer { to: String, reason: String, mode: String },
    Escalate { to_tier: Option<u8>, to: Option<String>, reason: String },
    Approve { comment: Option<String> },
    Resolve { result: String },
    NotifyResult { method: String },
    ReturnVisit { method: String, reached: bool, satisfaction: Option<u8>, nps: Option<u8>, comment: Option<String> },
    Review { passed: bool, comment: Option<String> },
    SetPriority { priority: Priority, reason: String },
}

fn str_field(fields: &Map<String, Value>, name: &str) -> Result<Option<String>, FieldError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        // Users may be named by numeric id as well as by username.
        Some(Value::Number(n)) if name == "assignee" || name == "to" => Ok(Some(n.to_string())),
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
            K::Dispatch => {
                ActionInput::Dispatch { assignee: required_text(str_field(f, "assignee")?.as_deref(), "assignee", 64)? }
            }
            K::Start | K::Resume | K::AcceptTransfer | K::Confirm | K::Archive => ActionInput::Plain,
            K::Suspend | K::RejectTransfer | K::Reject | K::Appeal | K::Withdraw => {
                ActionInput::WithReason { reason: reason(f)? }
            }
            K::Transfer => ActionInput::Transfer {
                to: required_text(str_field(f, "to")?.as_deref(), "to", 64)?,
                reason: reason(f)?,
                mode: one_of(f, "mode", TRANSFER_MODES, Some("manual"))?,
            },
            K::Escalate => {
                let to_tier = int_field(f, "to_tier", 1, 3)?;
                let to = optional_text(str_field(f, "to")?.as_deref(), "to", 64)?;
                if to_tier.is_none() && to.is_none() {
                    return Err(FieldError::new(
                        "to_tier",
                        "escalate needs to_tier (2 or 3) or to (a user)",
                        "升级需要指定 to_tier（2 或 3）或 to（接收人）",
                    ));
                }
                ActionInput::Escalate { to_tier, to, reason: reason(f)? }
            }
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
        })
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

    /// The field naming a user this action needs resolved, if any.
    pub fn target_user(&self) -> Option<(&'static str, &str)> {
        match &self.input {
            ActionInput::Dispatch { assignee } => Some(("assignee", assignee)),
            ActionInput::Transfer { to, .. } => Some(("to", to)),
            ActionInput::Escalate { to: Some(to), .. } => Some(("to", to)),
            _ => None,
        }
    }
}

/// What a transfer action does to the transfer records.
#[derive(Debug, Clone, PartialEq)]
pub enum TransferChange {
    Open { from: Option<UserId>, to: UserId, reason: String, mode: String },
    Close { accepted: bool, reason: Option<String> },
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
    target: Option<&StaffRef>,
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
    let branch_taken = rule.branch.as_ref().filter(|b| request.fields.get(&b.field) == Some(&b.equals));
    if let Some(to) = branch_taken.map(|b| &b.to).or(rule.to.as_ref()) {
        next.status = to.clone();
    }
    next.updated_at = now;
    Ok(Decision { ticket: next, action: request.kind, data: Value::Object(request.fields.clone()), transfer })
}

fn handler_target<'a>(target: Option<&'a StaffRef>, field: &str) -> Result<&'a StaffRef, DomainError> {
    let t = target.ok_or_else(|| FieldError::new(field, "unknown user", "用户不存在"))?;
    let handles = matches!(t.role, Role::Agent | Role::Engineer | Role::ComplaintSpecialist | Role::Supervisor);
    if !t.active || !handles {
        return Err(FieldError::new(
            field,
            format!("{} cannot handle tickets (inactive or role {})", t.username, t.role.as_str()),
            format!("{} 不能处理工单（已停用或角色为{}）", t.username, t.role.label_zh()),
        )
        .into());
    }
    Ok(t)
}

/// The per-action effect on the ticket beyond the state change: one small
/// function per action that has one.
fn apply_effect(
    t: &mut Ticket,
    actor: &Actor,
    kind: ActionKind,
    input: &ActionInput,
    target: Option<&StaffRef>,
    now: DateTime<Utc>,
) -> Result<Option<TransferChange>, DomainError> {
    match (kind, input) {
        (_, ActionInput::Dispatch { .. }) => dispatch(t, handler_target(target, "assignee")?),
        (_, ActionInput::Transfer { reason, mode, .. }) => {
            return transfer(t, actor, handler_target(target, "to")?, reason, mode);
        }
        (ActionKind::AcceptTransfer, _) => return Ok(Some(accept_transfer(t, actor))),
        (ActionKind::RejectTransfer, ActionInput::WithReason { reason }) => {
            t.transfer_to = None;
            return Ok(Some(TransferChange::Close { accepted: false, reason: Some(reason.clone()) }));
        }
        (_, ActionInput::Escalate { to_tier, .. }) => {
            let to = target.map(|s| handler_target(Some(s), "to")).transpose()?;
            escalate(t, *to_tier, to)?;
        }
        (_, ActionInput::Resolve { result }) => {
            t.result = Some(result.clone());
            t.resolved_at = Some(now);
        }
        (ActionKind::Appeal, _) => reopen_on_appeal(t),
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

fn accept_transfer(t: &mut Ticket, actor: &Actor) -> TransferChange {
    t.assignee = t.transfer_to.take();
    t.tier = actor.role.tier().unwrap_or(t.tier);
    TransferChange::Close { accepted: true, reason: None }
}

fn dispatch(t: &mut Ticket, to: &StaffRef) {
    t.assignee = Some(to.id);
    if let Some(tier) = to.role.tier() {
        t.tier = tier;
    }
}

fn transfer(
    t: &mut Ticket,
    actor: &Actor,
    to: &StaffRef,
    reason: &str,
    mode: &str,
) -> Result<Option<TransferChange>, DomainError> {
    if t.assignee == Some(to.id) {
        return Err(FieldError::new("to", "the ticket is already assigned to this user", "工单已由该用户处理").into());
    }
    t.transfer_to = Some(to.id);
    Ok(Some(TransferChange::Open {
        from: t.assignee.or(Some(actor.id)),
        to: to.id,
        reason: reason.to_string(),
        mode: mode.to_string(),
    }))
}

fn escalate(t: &mut Ticket, to_tier: Option<u8>, to: Option<&StaffRef>) -> Result<(), DomainError> {
    let tier = to_tier.or_else(|| to.and_then(|s| s.role.tier())).unwrap_or(t.tier);
    if tier <= t.tier && to.is_none() {
        return Err(FieldError::new(
            "to_tier",
            format!("the ticket is already at tier L{}; escalate to a higher tier", t.tier),
            format!("工单已在 L{} 层级，只能升级到更高层级", t.tier),
        )
        .into());
    }
    t.tier = tier;
    if let Some(s) = to {
        t.assignee = Some(s.id);
    }
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
