//! Emergency plans (应急预案, R-19): playbooks as data — which incidents they
//! are for, the steps, whose each step is, when it is late, and the script
//! agents read to customers — started from an incident, each step checked
//! off and timed. Pure rules; the service keeps a run's checks.

use crate::Role;
use crate::incident::Kind;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

const SHIPPED: [&str; 1] = [include_str!("../playbooks/outage.toml")];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub key: String,
    pub title_zh: String,
    pub title_en: String,
    /// Who checks it off (and anyone above: supervisors and admins).
    pub role: Role,
    /// Late this many minutes after the plan started.
    pub due_minutes: u32,
    /// What agents say to customers, if anything; `{eta}` is the estimated end.
    #[serde(default)]
    pub script_zh: Option<String>,
    #[serde(default)]
    pub script_en: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Playbook {
    pub key: String,
    pub name_zh: String,
    pub name_en: String,
    /// The incident kinds it is for.
    pub kinds: Vec<Kind>,
    pub steps: Vec<Step>,
}

impl Playbook {
    /// The shipped playbooks.
    pub fn shipped() -> Vec<Playbook> {
        SHIPPED.iter().map(|t| toml::from_str::<Playbook>(t).expect("a shipped playbook parses")).collect()
    }

    /// The shipped playbooks, parsed once (pages and the intake banner read them).
    pub fn all() -> &'static [Playbook] {
        static ALL: std::sync::OnceLock<Vec<Playbook>> = std::sync::OnceLock::new();
        ALL.get_or_init(Playbook::shipped)
    }

    /// Unique step keys and at least one step.
    pub fn check(&self) -> Result<(), String> {
        let mut keys: Vec<&str> = self.steps.iter().map(|s| s.key.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        if self.steps.is_empty() || keys.len() != self.steps.len() {
            return Err(format!("playbook {}: steps need unique keys, at least one", self.key));
        }
        Ok(())
    }

    pub fn step(&self, key: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.key == key)
    }
}

/// Who may check off a step: its role, or a supervisor or admin.
pub fn may_check(step: &Step, role: Role) -> bool {
    step.role == role || matches!(role, Role::Supervisor | Role::Admin)
}

/// A step of a running plan as it stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepState {
    pub key: String,
    pub due_at: DateTime<Utc>,
    /// When it was checked off.
    pub done_at: Option<DateTime<Utc>>,
    /// Minutes from the plan's start to the check.
    pub took_minutes: Option<i64>,
    /// Past due (done late, or not done and past due now).
    pub late: bool,
}

/// Each step's due time, check and lateness, for a plan started at `started`
/// with `done` (step key, when) checks.
pub fn progress(
    p: &Playbook,
    started: DateTime<Utc>,
    done: &[(String, DateTime<Utc>)],
    now: DateTime<Utc>,
) -> Vec<StepState> {
    p.steps
        .iter()
        .map(|s| {
            let due_at = started + Duration::minutes(i64::from(s.due_minutes));
            let done_at = done.iter().find(|(k, _)| *k == s.key).map(|(_, at)| *at);
            StepState {
                key: s.key.clone(),
                due_at,
                done_at,
                took_minutes: done_at.map(|d| (d - started).num_minutes()),
                late: done_at.map_or(now > due_at, |d| d > due_at),
            }
        })
        .collect()
}

/// The script with the estimated end put in: "18:00" / "by 18:00", or
/// "尽快" / "as soon as possible" when nobody knows yet.
pub fn script(text: &str, eta: Option<&str>, zh: bool) -> String {
    let eta = match (eta, zh) {
        (Some(t), true) => t.to_string(),
        (Some(t), false) => format!("by {t}"),
        (None, true) => "尽快".to_string(),
        (None, false) => "as soon as possible".to_string(),
    };
    text.replace("{eta}", &eta)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(min: i64) -> DateTime<Utc> {
        chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 20, 2, 0, 0).unwrap() + Duration::minutes(min)
    }

    #[test]
    fn the_shipped_outage_plan_is_valid_and_for_outages() {
        let all = Playbook::shipped();
        assert_eq!(all.len(), 1);
        let p = &all[0];
        p.check().unwrap();
        assert!(p.kinds.contains(&Kind::Outage) && !p.kinds.contains(&Kind::Maintenance));
        assert!(p.step("brief_agents").unwrap().script_zh.as_deref().unwrap().contains("{eta}"));
        let dup = Playbook { steps: vec![p.steps[0].clone(), p.steps[0].clone()], ..p.clone() };
        assert!(dup.check().is_err());
    }

    #[test]
    fn steps_are_timed_from_the_start_and_late_when_past_due() {
        let p = &Playbook::shipped()[0];
        let done = vec![("confirm_scope".to_string(), at(10)), ("brief_agents".to_string(), at(25))];
        let s = progress(p, at(0), &done, at(40));
        let by = |k: &str| s.iter().find(|x| x.key == k).unwrap().clone();
        assert_eq!((by("confirm_scope").took_minutes, by("confirm_scope").late), (Some(10), false));
        assert_eq!((by("brief_agents").took_minutes, by("brief_agents").late), (Some(25), true), "due at 20");
        assert_eq!((by("ivr_notice").done_at, by("ivr_notice").late), (None, true), "due at 30, open at 40");
        assert!(!by("notify_customers").late, "due at 60");
    }

    #[test]
    fn a_step_is_its_roles_or_a_supervisors() {
        let p = &Playbook::shipped()[0];
        let ivr = p.step("ivr_notice").unwrap();
        assert!(may_check(ivr, Role::Admin) && may_check(ivr, Role::Supervisor));
        assert!(!may_check(ivr, Role::Agent));
        assert_eq!(script("预计{eta}恢复", Some("18:00"), true), "预计18:00恢复");
        assert_eq!(script("预计{eta}恢复", None, true), "预计尽快恢复");
        assert_eq!(script("back {eta}.", Some("18:00"), false), "back by 18:00.");
        assert_eq!(script("back {eta}.", None, false), "back as soon as possible.");
    }
}
