//! The customer loop (闭环, R-15, R-25…R-28): after resolution the customer
//! hears the result, confirms or appeals, is visited and rates the service,
//! a supervisor reviews, and only then may the ticket be archived. This
//! module keeps the loop's record on the ticket and says which steps are
//! still missing; which steps a type has comes from its flow (an
//! unsubscribe has no return visit), every number from the policy.

use crate::action::{ActionInput, ActionKind};
use crate::enums::TicketType;
use crate::flow::Flow;
use crate::ticket::Ticket;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The loop's policy (`[customer_loop]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoopPolicy {
    /// A result notice nobody answers counts as confirmed after this long.
    pub auto_confirm_hours: u32,
    /// The return visit is due this long after resolution (R-26).
    pub visit_within_hours: u32,
    /// Attempts that do not reach the customer before the visit is recorded
    /// as unreachable.
    pub visit_attempts: u32,
    /// How the visit is made, per type; the first matching rule wins.
    pub visit_methods: Vec<VisitMethodRule>,
    /// Share of resolved tickets that must be visited (R-26).
    pub coverage_target: f64,
    /// Satisfaction at or above this counts as satisfied (R-27).
    pub satisfied_at: u8,
    /// Appeals on these types go to a handler of `appeal_tier`; appeals on
    /// other types go to the supervisors (R-28).
    pub appeal_tier_types: Vec<TicketType>,
    pub appeal_tier: u8,
    /// Customer links (confirm, appeal, survey) stay valid this long.
    pub link_valid_hours: u32,
    /// Send the receipt (受理回执) by SMS at registration.
    pub receipt: bool,
    /// Language of customer notices: "zh", "en" or "both".
    pub language: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisitMethodRule {
    #[serde(default)]
    pub types: Vec<TicketType>,
    /// `phone` (an agent calls), `sms` (a survey link by SMS) or `online`.
    pub method: String,
}

impl Default for LoopPolicy {
    fn default() -> Self {
        LoopPolicy {
            auto_confirm_hours: 24,
            visit_within_hours: 48,
            visit_attempts: 3,
            visit_methods: vec![VisitMethodRule { types: vec![], method: "sms".into() }],
            coverage_target: 0.8,
            satisfied_at: 4,
            appeal_tier_types: vec![TicketType::Complaint],
            appeal_tier: 3,
            link_valid_hours: 168,
            receipt: true,
            language: "zh".into(),
        }
    }
}

impl LoopPolicy {
    pub fn check(&self) -> Result<(), String> {
        for r in &self.visit_methods {
            if !crate::action::VISIT_METHODS.contains(&r.method.as_str()) {
                return Err(format!("customer_loop.visit_methods: unknown method '{}'", r.method));
            }
        }
        if !(0.0..=1.0).contains(&self.coverage_target) {
            return Err("customer_loop.coverage_target must be between 0 and 1".into());
        }
        if !matches!(self.language.as_str(), "zh" | "en" | "both") {
            return Err("customer_loop.language must be zh, en or both".into());
        }
        if self.visit_attempts == 0 || !(1..=3).contains(&self.appeal_tier) {
            return Err("customer_loop: visit_attempts ≥ 1 and appeal_tier 1–3".into());
        }
        Ok(())
    }

    pub fn visit_method(&self, t: TicketType) -> &str {
        self.visit_methods
            .iter()
            .find(|r| r.types.is_empty() || r.types.contains(&t))
            .map_or("phone", |r| r.method.as_str())
    }

    /// The tier an appeal on this type goes to; None: to the supervisors.
    pub fn appeal_tier_for(&self, t: TicketType) -> Option<u8> {
        self.appeal_tier_types.contains(&t).then_some(self.appeal_tier)
    }
}

/// Where the return-visit task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitState {
    /// Resolved; the customer has not confirmed yet.
    Waiting,
    /// Due: an agent calls, or the scheduler sends the survey.
    Pending,
    /// The survey link was sent; waiting for the answer.
    Invited,
    Visited,
    Unreachable,
    /// The customer appealed: this resolution no longer counts.
    Cancelled,
}

impl VisitState {
    pub fn as_str(self) -> &'static str {
        match self {
            VisitState::Waiting => "waiting",
            VisitState::Pending => "pending",
            VisitState::Invited => "invited",
            VisitState::Visited => "visited",
            VisitState::Unreachable => "unreachable",
            VisitState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<VisitState> {
        [
            VisitState::Waiting,
            VisitState::Pending,
            VisitState::Invited,
            VisitState::Visited,
            VisitState::Unreachable,
            VisitState::Cancelled,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    /// The visit has an outcome (the archive gate's "return visit" step).
    pub fn is_done(self) -> bool {
        matches!(self, VisitState::Visited | VisitState::Unreachable)
    }
}

/// The return-visit task (回访任务) of the current resolution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VisitTask {
    pub resolved_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub method: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub state: VisitState,
    pub attempts: u32,
    pub satisfaction: Option<u8>,
    pub nps: Option<u8>,
    pub comment: Option<String>,
    pub visited_at: Option<DateTime<Utc>>,
}

/// The loop's record since the last resolution.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustomerLoop {
    /// When and how the result notice went out.
    pub notified_at: Option<DateTime<Utc>>,
    pub notice_method: Option<String>,
    /// Who confirmed: `customer` (portal link), `agent` (on the customer's
    /// word) or `default` (no answer within the policy's time).
    pub confirmed_by: Option<String>,
    pub confirmed_at: Option<DateTime<Utc>>,
    /// An appeal not yet answered by a new resolution.
    pub appeal_open: bool,
    pub visit: Option<VisitTask>,
    /// The supervisor's review: passed or returned.
    pub reviewed: Option<bool>,
}

/// How the customer's answer arrived, for `confirm` and `return_visit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Staff,
    Portal,
    Default,
}

/// Records an action's effect on the loop. `has_visit`: the type's flow
/// has a return visit. Returns true when the visit is now unreachable
/// (the caller moves the ticket on as if the visit were done).
pub fn apply(
    policy: &LoopPolicy,
    t: &mut Ticket,
    kind: ActionKind,
    input: &ActionInput,
    via: Via,
    has_visit: bool,
    now: DateTime<Utc>,
) -> bool {
    let l = &mut t.customer_loop;
    match (kind, input) {
        (ActionKind::Resolve | ActionKind::Reject, _) => {
            let visit = has_visit.then(|| VisitTask {
                resolved_at: now,
                due_at: now + Duration::hours(i64::from(policy.visit_within_hours)),
                method: policy.visit_method(t.ticket_type).to_string(),
                state: VisitState::Waiting,
                attempts: 0,
                satisfaction: None,
                nps: None,
                comment: None,
                visited_at: None,
            });
            *l = CustomerLoop { visit, ..CustomerLoop::default() };
        }
        (ActionKind::NotifyResult, ActionInput::NotifyResult { method }) => {
            l.notified_at = Some(now);
            l.notice_method = Some(method.clone());
        }
        (ActionKind::Confirm, _) => {
            l.confirmed_by = Some(
                match via {
                    Via::Staff => "agent",
                    Via::Portal => "customer",
                    Via::Default => "default",
                }
                .into(),
            );
            l.confirmed_at = Some(now);
            if let Some(v) = l.visit.as_mut().filter(|v| v.state == VisitState::Waiting) {
                v.state = VisitState::Pending;
            }
        }
        (ActionKind::Appeal, _) => {
            l.appeal_open = true;
            if let Some(v) = l.visit.as_mut() {
                v.state = VisitState::Cancelled;
            }
        }
        (ActionKind::ReturnVisit, ActionInput::ReturnVisit { method, reached, satisfaction, nps, comment }) => {
            if let Some(v) = l.visit.as_mut() {
                v.attempts += 1;
                v.method = method.clone();
                if *reached {
                    v.state = VisitState::Visited;
                    v.satisfaction = *satisfaction;
                    v.nps = *nps;
                    v.comment = comment.clone();
                    v.visited_at = Some(now);
                } else if v.attempts >= policy.visit_attempts {
                    v.state = VisitState::Unreachable;
                    v.visited_at = Some(now);
                    return true;
                }
            }
        }
        (ActionKind::Review, ActionInput::Review { passed, .. }) => l.reviewed = Some(*passed),
        _ => {}
    }
    false
}

/// The loop steps still missing before this ticket may be archived, named
/// as in the 409's details. A withdrawn ticket was never resolved: it has
/// no loop. `delivered`: whether the result notice sent by SMS or e-mail
/// reached the gateway (None: it went by phone, letter or in person).
pub fn missing_for_archive(flow: &Flow, t: &Ticket, delivered: Option<bool>) -> Vec<&'static str> {
    let mut out = Vec::new();
    if t.resolved_at.is_none() && t.customer_loop == CustomerLoop::default() {
        return out;
    }
    let l = &t.customer_loop;
    if flow.has_action(ActionKind::NotifyResult) {
        if l.notified_at.is_none() {
            out.push("result_notice");
        } else if delivered == Some(false) {
            out.push("result_notice_delivery");
        }
    }
    if l.appeal_open {
        out.push("open_appeal");
    }
    if flow.has_action(ActionKind::ReturnVisit) && !l.visit.as_ref().is_some_and(|v| v.state.is_done()) {
        out.push("return_visit");
    }
    if flow.has_action(ActionKind::Review) && l.reviewed != Some(true) {
        out.push("review");
    }
    out
}

/// The Chinese name of a missing step.
pub fn step_zh(step: &str) -> &'static str {
    match step {
        "result_notice" => "结果反馈",
        "result_notice_delivery" => "结果通知送达",
        "open_appeal" => "未结申诉",
        "return_visit" => "回访结果",
        "review" => "主管复核",
        _ => "闭环步骤",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::FlowSet;

    fn visit(reached: bool, satisfaction: Option<u8>) -> ActionInput {
        ActionInput::ReturnVisit { method: "phone".into(), reached, satisfaction, nps: Some(9), comment: None }
    }

    fn resolved(flows: &FlowSet, p: &LoopPolicy, ty: TicketType) -> Ticket {
        let mut t = crate::ticket::sample(ty, crate::Priority::Normal);
        t.resolved_at = Some(t.created_at);
        let has_visit = flows.get(ty).has_action(ActionKind::ReturnVisit);
        let input = ActionInput::Resolve { result: "ok".into() };
        let now = t.created_at;
        apply(p, &mut t, ActionKind::Resolve, &input, Via::Staff, has_visit, now);
        t
    }

    #[test]
    fn archive_needs_every_step_the_flow_has() {
        let (flows, p) = (FlowSet::defaults(), LoopPolicy::default());
        let mut t = resolved(&flows, &p, TicketType::Fault);
        let flow = flows.get(TicketType::Fault);
        assert_eq!(missing_for_archive(flow, &t, None), ["result_notice", "return_visit", "review"]);
        let now = t.created_at;
        let notify = ActionInput::NotifyResult { method: "sms".into() };
        apply(&p, &mut t, ActionKind::NotifyResult, &notify, Via::Staff, true, now);
        assert_eq!(missing_for_archive(flow, &t, Some(false)), ["result_notice_delivery", "return_visit", "review"]);
        apply(&p, &mut t, ActionKind::Confirm, &ActionInput::Plain, Via::Default, true, now);
        assert_eq!(t.customer_loop.confirmed_by.as_deref(), Some("default"));
        assert_eq!(t.customer_loop.visit.as_ref().unwrap().state, VisitState::Pending);
        apply(&p, &mut t, ActionKind::ReturnVisit, &visit(true, Some(5)), Via::Staff, true, now);
        let review = |passed| ActionInput::Review { passed, comment: None };
        apply(&p, &mut t, ActionKind::Review, &review(false), Via::Staff, true, now);
        assert_eq!(missing_for_archive(flow, &t, Some(true)), ["review"]);
        apply(&p, &mut t, ActionKind::Review, &review(true), Via::Staff, true, now);
        assert!(missing_for_archive(flow, &t, Some(true)).is_empty());
    }

    #[test]
    fn unsubscribe_has_no_return_visit_and_withdrawn_tickets_no_loop() {
        let (flows, p) = (FlowSet::defaults(), LoopPolicy::default());
        let t = resolved(&flows, &p, TicketType::Unsubscribe);
        assert!(t.customer_loop.visit.is_none());
        assert_eq!(missing_for_archive(flows.get(TicketType::Unsubscribe), &t, None), ["result_notice", "review"]);
        let fresh = crate::ticket::sample(TicketType::Fault, crate::Priority::Normal);
        assert!(missing_for_archive(flows.get(TicketType::Fault), &fresh, None).is_empty());
    }

    #[test]
    fn an_appeal_cancels_the_visit_and_stays_open_until_the_next_resolution() {
        let (flows, p) = (FlowSet::defaults(), LoopPolicy::default());
        let mut t = resolved(&flows, &p, TicketType::Complaint);
        let now = t.created_at;
        let appeal = ActionInput::WithReason { reason: "没修好".into() };
        apply(&p, &mut t, ActionKind::Appeal, &appeal, Via::Portal, true, now);
        assert!(t.customer_loop.appeal_open);
        assert_eq!(t.customer_loop.visit.as_ref().unwrap().state, VisitState::Cancelled);
        assert!(missing_for_archive(flows.get(TicketType::Complaint), &t, None).contains(&"open_appeal"));
        let later = now + Duration::hours(5);
        apply(&p, &mut t, ActionKind::Resolve, &ActionInput::Resolve { result: "r".into() }, Via::Staff, true, later);
        assert!(!t.customer_loop.appeal_open);
        let v = t.customer_loop.visit.unwrap();
        assert_eq!((v.state, v.due_at), (VisitState::Waiting, later + Duration::hours(48)));
    }

    #[test]
    fn unreachable_after_the_policy_attempts() {
        let (flows, p) = (FlowSet::defaults(), LoopPolicy { visit_attempts: 2, ..LoopPolicy::default() });
        let mut t = resolved(&flows, &p, TicketType::Fault);
        let now = t.created_at;
        apply(&p, &mut t, ActionKind::Confirm, &ActionInput::Plain, Via::Staff, true, now);
        assert!(!apply(&p, &mut t, ActionKind::ReturnVisit, &visit(false, None), Via::Staff, true, now));
        assert_eq!(t.customer_loop.visit.as_ref().unwrap().state, VisitState::Pending);
        assert!(apply(&p, &mut t, ActionKind::ReturnVisit, &visit(false, None), Via::Staff, true, now));
        let v = t.customer_loop.visit.as_ref().unwrap();
        assert_eq!((v.state, v.attempts), (VisitState::Unreachable, 2));
        assert!(!missing_for_archive(flows.get(TicketType::Fault), &t, None).contains(&"return_visit"));
    }

    #[test]
    fn methods_and_appeal_targets_come_from_the_policy() {
        let p: LoopPolicy = toml::from_str(
            "visit_methods = [{ types = [\"complaint\"], method = \"phone\" }, { method = \"online\" }]\n\
             appeal_tier_types = [\"complaint\", \"fault\"]\nappeal_tier = 2",
        )
        .unwrap();
        assert_eq!(p.visit_method(TicketType::Complaint), "phone");
        assert_eq!(p.visit_method(TicketType::Fault), "online");
        assert_eq!(p.appeal_tier_for(TicketType::Fault), Some(2));
        assert_eq!(p.appeal_tier_for(TicketType::Account), None);
        assert!(LoopPolicy { language: "fr".into(), ..p }.check().is_err());
    }
}
