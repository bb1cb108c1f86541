//! Violations (违规, R-33): wrong wording, a breach, poor attitude, a
//! privacy lapse … recorded against an agent with the points deducted,
//! a rectification task (整改) due in working days, the agent's one appeal
//! within the appeal window with a reason, a second-level decision by
//! someone other than the recorder, and a re-check of the rectification.
//! Pure rules: who may take which step from which state; the service
//! supplies the clock, the calendar's deadlines and the record.

use crate::Role;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kind {
    pub name_zh: String,
    pub name_en: String,
    /// Points deducted unless the recorder says otherwise.
    pub points: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ViolationPolicy {
    /// The agent may appeal within this many working days of the record.
    pub appeal_days: u32,
    /// The rectification is due this many working days after the record
    /// (and again after a failed re-check).
    pub rectification_days: u32,
    /// The most points one violation may deduct.
    pub max_points: f64,
    pub kinds: BTreeMap<String, Kind>,
}

impl Default for ViolationPolicy {
    fn default() -> Self {
        let kind = |zh: &str, en: &str, points| Kind { name_zh: zh.into(), name_en: en.into(), points };
        ViolationPolicy {
            appeal_days: 3,
            rectification_days: 5,
            max_points: 20.0,
            kinds: BTreeMap::from([
                ("wrong_wording".into(), kind("服务用语不规范", "Wrong wording", 2.0)),
                ("breach".into(), kind("处理超时", "Deadline breached", 3.0)),
                ("poor_attitude".into(), kind("服务态度差", "Poor attitude", 5.0)),
                ("privacy_lapse".into(), kind("客户信息保护不当", "Privacy lapse", 10.0)),
                ("process".into(), kind("违反业务流程", "Process not followed", 3.0)),
                ("false_promise".into(), kind("虚假承诺", "False promise", 5.0)),
            ]),
        }
    }
}

impl ViolationPolicy {
    pub fn check(&self) -> Result<(), String> {
        if self.kinds.is_empty() {
            return Err("[quality.violations] needs at least one kind".into());
        }
        if self.max_points.is_nan()
            || self.max_points <= 0.0
            || self.kinds.values().any(|k| !(0.0..=self.max_points).contains(&k.points))
        {
            return Err("[quality.violations] points lie in 0..=max_points".into());
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Recorded; the rectification is due (待整改).
    Open,
    /// The agent appealed; a second-level decision is due (申诉中).
    Appealed,
    /// The agent reports the rectification done; a re-check is due (待复查).
    Rectified,
    /// Re-checked and passed (已关闭).
    Closed,
    /// Overturned on appeal: no points count (已撤销).
    Void,
}

impl State {
    pub const ALL: [State; 5] = [State::Open, State::Appealed, State::Rectified, State::Closed, State::Void];

    pub fn code(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Appealed => "appealed",
            State::Rectified => "rectified",
            State::Closed => "closed",
            State::Void => "void",
        }
    }

    pub fn parse(raw: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.code() == raw)
    }

    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            State::Open => ("待整改", "Rectification due"),
            State::Appealed => ("申诉中", "Appealed"),
            State::Rectified => ("待复查", "Re-check due"),
            State::Closed => ("已关闭", "Closed"),
            State::Void => ("已撤销", "Overturned"),
        }
    }

    /// Whether its points count against the agent.
    pub fn counts(self) -> bool {
        self != State::Void
    }
}

/// A step of a violation's life.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Appeal { reason: String },
    Decide { upheld: bool, note: String },
    Rectify { note: String },
    Recheck { passed: bool, note: String },
}

impl Step {
    pub fn code(&self) -> &'static str {
        match self {
            Step::Appeal { .. } => "appeal",
            Step::Decide { .. } => "decide",
            Step::Rectify { .. } => "rectify",
            Step::Recheck { .. } => "recheck",
        }
    }
}

/// What the rules need to know of the record and the one taking the step.
#[derive(Debug, Clone, Copy)]
pub struct Standing {
    pub is_agent: bool,
    pub is_recorder: bool,
    pub role: Role,
    pub appealed_before: bool,
    pub appeal_until: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

/// Why a step is refused: (field, English, Chinese).
pub type Refusal = (&'static str, String, String);

/// The state after `step`, or why not.
pub fn next(state: State, step: &Step, who: Standing) -> Result<State, Refusal> {
    let refuse = |field: &'static str, en: &str, zh: &str| Err((field, en.to_string(), zh.to_string()));
    let text = match step {
        Step::Appeal { reason } => reason,
        Step::Decide { note, .. } | Step::Rectify { note } | Step::Recheck { note, .. } => note,
    };
    if text.trim().is_empty() {
        let field = if matches!(step, Step::Appeal { .. }) { "reason" } else { "note" };
        return refuse(field, "say why (required)", "须填写说明");
    }
    match (state, step) {
        (State::Open, Step::Appeal { .. }) => {
            if !who.is_agent {
                refuse("action", "only the agent appeals their violation", "只有被记录的员工本人可以申诉")
            } else if who.appealed_before {
                refuse("action", "a violation is appealed once", "每条违规只能申诉一次")
            } else if who.now > who.appeal_until {
                refuse("action", "the appeal window has passed", "已超过申诉期限")
            } else {
                Ok(State::Appealed)
            }
        }
        (State::Appealed, Step::Decide { upheld, .. }) => {
            if who.is_agent || who.is_recorder {
                refuse(
                    "action",
                    "the decision is someone else's than the agent's or the recorder's",
                    "申诉须由记录人和当事人以外的人裁定",
                )
            } else if !matches!(who.role, Role::Supervisor | Role::Admin) {
                refuse("action", "a supervisor decides appeals", "申诉由主管裁定")
            } else {
                Ok(if *upheld { State::Open } else { State::Void })
            }
        }
        (State::Open, Step::Rectify { .. }) if who.is_agent => Ok(State::Rectified),
        (State::Open, Step::Rectify { .. }) => {
            refuse("action", "the agent reports their rectification", "整改由当事人提交")
        }
        (State::Rectified, Step::Recheck { passed, .. }) => {
            if who.is_agent {
                refuse("action", "nobody re-checks their own rectification", "不能复查本人的整改")
            } else if !matches!(who.role, Role::Inspector | Role::Supervisor) {
                refuse("action", "an inspector or supervisor re-checks", "复查由质检员或主管进行")
            } else {
                Ok(if *passed { State::Closed } else { State::Open })
            }
        }
        (s, step) => {
            let (zh, en) = s.label();
            Err((
                "action",
                format!("'{}' is not possible now ({en})", step.code()),
                format!("当前状态（{zh}）不能进行此操作"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn agent() -> Standing {
        Standing {
            is_agent: true,
            is_recorder: false,
            role: Role::Agent,
            appealed_before: false,
            appeal_until: t("2026-11-26T16:00:00Z"),
            now: t("2026-11-24T02:00:00Z"),
        }
    }

    fn other(role: Role) -> Standing {
        Standing { is_agent: false, role, ..agent() }
    }

    fn appeal() -> Step {
        Step::Appeal { reason: "客户先辱骂，录音可证".into() }
    }

    #[test]
    fn the_agent_appeals_once_within_the_window() {
        assert_eq!(next(State::Open, &appeal(), agent()), Ok(State::Appealed));
        assert!(next(State::Open, &appeal(), Standing { appealed_before: true, ..agent() }).is_err());
        let late = Standing { now: t("2026-11-26T16:00:01Z"), ..agent() };
        assert_eq!(next(State::Open, &appeal(), late).unwrap_err().0, "action");
        assert!(
            next(State::Open, &appeal(), Standing { now: t("2026-11-26T16:00:00Z"), ..agent() }).is_ok(),
            "the last instant counts"
        );
        assert!(next(State::Open, &appeal(), other(Role::Supervisor)).is_err(), "only the agent");
        assert_eq!(next(State::Open, &Step::Appeal { reason: "  ".into() }, agent()).unwrap_err().0, "reason");
        assert!(next(State::Rectified, &appeal(), agent()).is_err());
        assert!(next(State::Closed, &appeal(), agent()).is_err());
    }

    #[test]
    fn a_second_level_decides() {
        let up = Step::Decide { upheld: true, note: "录音显示用语不当".into() };
        let down = Step::Decide { upheld: false, note: "客户先辱骂，情有可原".into() };
        assert_eq!(next(State::Appealed, &up, other(Role::Supervisor)), Ok(State::Open));
        assert_eq!(next(State::Appealed, &down, other(Role::Supervisor)), Ok(State::Void));
        assert!(
            next(State::Appealed, &down, Standing { is_recorder: true, ..other(Role::Supervisor) }).is_err(),
            "not the recorder"
        );
        assert!(next(State::Appealed, &down, other(Role::Inspector)).is_err(), "a supervisor decides");
        assert!(next(State::Appealed, &down, agent()).is_err());
        assert!(next(State::Open, &down, other(Role::Supervisor)).is_err(), "nothing to decide");
        assert!(!State::Void.counts());
        assert!(State::Closed.counts());
    }

    #[test]
    fn rectification_is_rechecked() {
        let done = Step::Rectify { note: "已参加服务用语培训".into() };
        assert_eq!(next(State::Open, &done, agent()), Ok(State::Rectified));
        assert!(next(State::Open, &done, other(Role::Inspector)).is_err());
        assert!(next(State::Appealed, &done, agent()).is_err(), "not while appealed");
        let pass = Step::Recheck { passed: true, note: "抽查三通均规范".into() };
        let fail = Step::Recheck { passed: false, note: "仍有禁语".into() };
        assert_eq!(next(State::Rectified, &pass, other(Role::Inspector)), Ok(State::Closed));
        assert_eq!(next(State::Rectified, &fail, other(Role::Supervisor)), Ok(State::Open));
        assert!(next(State::Rectified, &pass, agent()).is_err());
        assert!(next(State::Rectified, &pass, other(Role::Agent)).is_err());
        assert!(next(State::Closed, &pass, other(Role::Inspector)).is_err());
        assert!(next(State::Void, &done, agent()).is_err());
    }

    #[test]
    fn shipped_kinds_are_valid() {
        let p = ViolationPolicy::default();
        p.check().unwrap();
        assert_eq!(p.kinds["poor_attitude"].points, 5.0);
        assert!(ViolationPolicy { max_points: 4.0, ..ViolationPolicy::default() }.check().is_err());
        for s in State::ALL {
            assert_eq!(State::parse(s.code()), Some(s));
        }
    }
}
