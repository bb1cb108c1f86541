//! Violations: recorded against an agent with the points deducted,
//! a rectification due in working days, the agent's one appeal, a
//! supervisor's decision, a re-check — each step checked by the domain
//! (`kefu_domain::violations`), written over the version read, with an
//! event that is never changed.

use super::quality::{invalid, only_fields, opt_str, reads_about, sees_all};
use super::*;
use crate::error::ApiError;
use kefu_domain::flow::Actor;
use kefu_domain::violations::{Standing, State, Step, next};
use kefu_domain::{FieldError, UserId};
use kefu_store::*;
use serde_json::{Map, Value, json};

const TEXT_MAX: usize = 1000;

/// A violation as the API shows it: labels for every code, deadlines,
/// whether the rectification is overdue, and (with `events`) its steps.
pub fn violation_json(
    v: &Violation,
    events: Option<&[ViolationEvent]>,
    org: &crate::directory::OrgSnapshot,
    policy: &kefu_domain::violations::ViolationPolicy,
    now: chrono::DateTime<chrono::Utc>,
) -> Value {
    let name = |u: UserId| org.user(u).map(|u| json!({"username": u.username, "name": u.display_name}));
    let kind = policy.kinds.get(&v.kind);
    let state = State::parse(&v.state).unwrap_or(State::Open);
    let (state_zh, state_en) = state.label();
    let mut out = json!({
        "id": v.id, "agent": name(v.agent), "kind": v.kind,
        "kind_label": kind.map(|k| k.name_zh.clone()), "kind_label_en": kind.map(|k| k.name_en.clone()),
        "points": v.points, "counts": state.counts(), "ticket": v.ticket.map(|t| t.0), "review": v.evaluation,
        "description": v.description, "state": v.state, "state_label": state_zh, "state_label_en": state_en,
        "appeal_until": v.appeal_until, "due_at": v.due_at, "appealed_at": v.appealed_at,
        "overdue": matches!(state, State::Open) && now > v.due_at,
        "recorded_by": name(v.recorded_by), "created_at": v.created_at, "updated_at": v.updated_at,
    });
    if let Some(events) = events {
        out["events"] = events
            .iter()
            .map(|e| json!({"action": e.action, "actor": name(e.actor), "note": e.note, "state": e.state, "at": e.at}))
            .collect();
    }
    out
}

impl<S: Store> Kefu<S> {
    /// `{agent, kind, points?, ticket?, review?, description}`: the record,
    /// its appeal window and rectification due on the working-day calendar.
    pub async fn record_violation(&self, who: &Actor, body: &Map<String, Value>) -> Result<Violation, ApiError> {
        only_fields(body, &["agent", "kind", "points", "ticket", "review", "description"])?;
        let policy = &self.core.policy.quality.violations;
        let org = self.org().await?;
        let agent = super::quality::staff_named(&org, "agent", opt_str(body, "agent")?.unwrap_or(""))?;
        if agent.id == who.id {
            return Err(invalid("agent", "nobody records a violation of their own", "不能给本人记录违规"));
        }
        let kind_key = opt_str(body, "kind")?.unwrap_or("").trim().to_string();
        let kind = policy.kinds.get(&kind_key).ok_or_else(|| {
            let keys: Vec<&str> = policy.kinds.keys().map(String::as_str).collect();
            invalid("kind", format!("kind is one of {}", keys.join(", ")), format!("违规类型须为：{}", keys.join("、")))
        })?;
        let points = match body.get("points") {
            None | Some(Value::Null) => kind.points,
            Some(v) => {
                v.as_f64().filter(|p| p.is_finite() && *p >= 0.0 && *p <= policy.max_points).ok_or_else(|| {
                    invalid(
                        "points",
                        format!("points is a number from 0 to {}", policy.max_points),
                        format!("扣分须在0至{}之间", policy.max_points),
                    )
                })?
            }
        };
        let description =
            kefu_domain::validate::required_free_text(opt_str(body, "description")?, "description", TEXT_MAX)?;
        let ticket = match body.get("ticket") {
            None | Some(Value::Null) => None,
            Some(Value::String(k)) => Some(self.visible_ticket(who, k.trim()).await?.id),
            Some(Value::Number(n)) => Some(self.visible_ticket(who, &n.to_string()).await?.id),
            Some(_) => return Err(invalid("ticket", "ticket is a number or an id", "ticket 须为工单号")),
        };
        let evaluation = match body.get("review").and_then(Value::as_i64) {
            Some(id) => Some(
                self.review_for(who, id).await.map_err(|_| invalid("review", "no such review", "没有该质检记录"))?.id,
            ),
            None => None,
        };
        let now = self.now();
        let cal = &self.core.calendar;
        let v = Violation {
            id: 0,
            agent: agent.id,
            kind: kind_key,
            points,
            ticket,
            evaluation,
            description: description.clone(),
            state: State::Open.code().into(),
            appeal_until: cal.add_working_days(now, policy.appeal_days).map_err(kefu_domain::DomainError::from)?,
            due_at: cal.add_working_days(now, policy.rectification_days).map_err(kefu_domain::DomainError::from)?,
            appealed_at: None,
            recorded_by: who.id,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let e = event(who, "record", description, State::Open, now);
        Ok(self.store.add_violation(v, e).await?)
    }

    /// One violation `who` may read (404 otherwise).
    pub async fn violation_for(&self, who: &Actor, id: i64) -> Result<Violation, ApiError> {
        let none = || ApiError::NotFound { what: "violation", what_zh: "违规记录" };
        let v = self.store.violation(id).await?.ok_or_else(none)?;
        let org = self.org().await?;
        if reads_about(who, &org, v.agent) { Ok(v) } else { Err(none()) }
    }

    /// The violations `who` may read.
    pub async fn visible_violations(&self, who: &Actor, mut f: ViolationFilter) -> Result<Vec<Violation>, ApiError> {
        if !sees_all(who.role) && who.org.leads.is_empty() {
            f.agent = Some(who.id);
        }
        let org = self.org().await?;
        Ok(self.store.violations(f).await?.into_iter().filter(|v| reads_about(who, &org, v.agent)).collect())
    }

    /// `{action: appeal|decide|rectify|recheck, reason | note, upheld?, passed?}`.
    pub async fn step_violation(&self, who: &Actor, id: i64, body: &Map<String, Value>) -> Result<Violation, ApiError> {
        only_fields(body, &["action", "reason", "note", "upheld", "passed"])?;
        let v = self.violation_for(who, id).await?;
        let text = |k: &str| -> Result<String, ApiError> {
            Ok(kefu_domain::validate::optional_free_text(opt_str(body, k)?, k, TEXT_MAX)?.unwrap_or_default())
        };
        let flag = |k: &str| -> Result<bool, ApiError> {
            body.get(k)
                .and_then(Value::as_bool)
                .ok_or_else(|| invalid(k, format!("{k} is true or false"), format!("{k} 须为 true 或 false")))
        };
        let step = match opt_str(body, "action")? {
            Some("appeal") => Step::Appeal { reason: text("reason")? },
            Some("decide") => Step::Decide { upheld: flag("upheld")?, note: text("note")? },
            Some("rectify") => Step::Rectify { note: text("note")? },
            Some("recheck") => Step::Recheck { passed: flag("passed")?, note: text("note")? },
            _ => {
                return Err(invalid(
                    "action",
                    "action is appeal, decide, rectify or recheck",
                    "action 须为 appeal、decide、rectify 或 recheck",
                ));
            }
        };
        let now = self.now();
        let state = State::parse(&v.state).unwrap_or(State::Open);
        let standing = Standing {
            is_agent: v.agent == who.id,
            is_recorder: v.recorded_by == who.id,
            role: who.role,
            appealed_before: v.appealed_at.is_some(),
            appeal_until: v.appeal_until,
            now,
        };
        let after = next(state, &step, standing).map_err(|(field, en, zh)| match field {
            "action" => ApiError::Forbidden { reason: en, reason_zh: zh },
            f => ApiError::from(FieldError::new(f, en, zh)),
        })?;
        let mut changed = Violation { state: after.code().into(), updated_at: now, ..v.clone() };
        if matches!(step, Step::Appeal { .. }) {
            changed.appealed_at = Some(now);
        }
        // Back to rectifying (an appeal upheld late, a failed re-check): a
        // fresh window to do it in.
        if after == State::Open && state != State::Open {
            let days = self.core.policy.quality.violations.rectification_days;
            let fresh = self.core.calendar.add_working_days(now, days).map_err(kefu_domain::DomainError::from)?;
            changed.due_at = changed.due_at.max(fresh);
        }
        let note = match &step {
            Step::Appeal { reason } => reason.clone(),
            Step::Decide { note, upheld } => format!("{}：{note}", if *upheld { "维持" } else { "撤销" }),
            Step::Recheck { note, passed } => format!("{}：{note}", if *passed { "通过" } else { "不通过" }),
            Step::Rectify { note } => note.clone(),
        };
        let e = event(who, step.code(), note, after, now);
        if !self.store.step_violation(changed, e).await? {
            return Err(ApiError::Conflict { constraint: "quality_violations_version".into() });
        }
        self.store.violation(id).await?.ok_or(ApiError::NotFound { what: "violation", what_zh: "违规记录" })
    }

    /// Points deducted per agent for violations recorded in the days given
    /// (Shanghai), not overturned.
    pub(crate) async fn violation_points(
        &self,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<std::collections::BTreeMap<UserId, (f64, i64)>, ApiError> {
        let start = kefu_domain::time::shanghai_at(from, 0);
        let end = kefu_domain::time::shanghai_at(to.succ_opt().unwrap_or(to), 0);
        let f = ViolationFilter { created: Some((start, end)), ..Default::default() };
        let mut out: std::collections::BTreeMap<UserId, (f64, i64)> = Default::default();
        for v in self.store.violations(f).await? {
            if State::parse(&v.state).is_none_or(State::counts) {
                let e = out.entry(v.agent).or_default();
                e.0 += v.points;
                e.1 += 1;
            }
        }
        Ok(out)
    }
}

fn event(who: &Actor, action: &str, note: String, state: State, at: chrono::DateTime<chrono::Utc>) -> ViolationEvent {
    ViolationEvent { id: 0, violation: 0, action: action.into(), actor: who.id, note, state: state.code().into(), at }
}
