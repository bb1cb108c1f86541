//! Staff records: one page per staff member — role, team, tier and
//! skills, training records (培训档案), assessment results per month,
//! reviews and violations — visible to the person, their team lead,
//! supervisors and inspectors only (not to administrators: they keep
//! accounts, not people's records).

use super::quality::{invalid, only_fields, opt_str};
use super::*;
use crate::error::ApiError;
use kefu_domain::flow::Actor;
use kefu_domain::quality::Cycle;
use kefu_domain::{Role, UserId};
use kefu_store::*;
use serde_json::{Map, Value, json};

/// How many months of assessment a record shows.
const MONTHS: usize = 6;

impl<S: Store> Kefu<S> {
    /// The staff member `key` names, if `who` may read their record.
    pub async fn record_subject(&self, who: &Actor, key: &str) -> Result<kefu_store::User, ApiError> {
        let none = || ApiError::NotFound { what: "staff member", what_zh: "员工" };
        let org = self.org().await?;
        let u = org.users.iter().find(|u| u.username == key.trim()).cloned().ok_or_else(none)?;
        let lead = u.profile.team.is_some_and(|t| who.org.leads.contains(&t));
        let allowed = u.id == who.id || lead || matches!(who.role, Role::Supervisor | Role::Inspector);
        if allowed { Ok(u) } else { Err(none()) }
    }

    /// `{course, day, hours, result, certificate?}` for a staff member.
    pub async fn record_training(
        &self,
        who: &Actor,
        key: &str,
        body: &Map<String, Value>,
    ) -> Result<Training, ApiError> {
        only_fields(body, &["course", "day", "hours", "result", "certificate"])?;
        let u = self.record_subject(who, key).await?;
        if u.id == who.id {
            return Err(ApiError::Forbidden {
                reason: "a training record is kept by someone else".into(),
                reason_zh: "培训记录须由他人录入".into(),
            });
        }
        let course = kefu_domain::validate::required_text(opt_str(body, "course")?, "course", 100)?;
        let day = opt_str(body, "day")?
            .and_then(|d| d.trim().parse().ok())
            .ok_or_else(|| invalid("day", "day is YYYY-MM-DD", "日期须为 YYYY-MM-DD"))?;
        let hours = body.get("hours").and_then(Value::as_f64).filter(|h| h.is_finite() && *h > 0.0 && *h <= 1000.0);
        let hours =
            hours.ok_or_else(|| invalid("hours", "hours is a number in (0, 1000]", "学时须大于0且不超过1000"))?;
        let result = kefu_domain::validate::required_text(opt_str(body, "result")?, "result", 20)?;
        let certificate = kefu_domain::validate::optional_text(opt_str(body, "certificate")?, "certificate", 100)?;
        let t = Training {
            id: 0,
            user: u.id,
            course,
            day,
            hours,
            result,
            certificate,
            recorded_by: who.id,
            created_at: self.now(),
        };
        Ok(self.store.add_training(t).await?)
    }

    /// The whole record of a staff member.
    pub async fn staff_record(&self, who: &Actor, key: &str) -> Result<Value, ApiError> {
        let u = self.record_subject(who, key).await?;
        let org = self.org().await?;
        let name = |id: UserId| org.user(id).map_or_else(String::new, |u| u.display_name.clone());
        let kept = self.store.trainings(u.id).await?;
        let training_hours: f64 = kept.iter().map(|t| t.hours).sum();
        let trainings: Vec<Value> = kept
            .iter()
            .map(|t| {
                json!({"id": t.id, "course": t.course, "day": t.day, "hours": t.hours, "result": t.result,
                    "certificate": t.certificate, "recorded_by": name(t.recorded_by)})
            })
            .collect();
        let mut months = Vec::new();
        let today = kefu_domain::time::shanghai_date(self.now());
        let mut cycle = Cycle::month_of(today);
        for _ in 0..MONTHS {
            let a = self.assessments(who, &cycle.to_string()).await?;
            let mine =
                a["items"].as_array().and_then(|l| l.iter().find(|i| i["agent"] == u.username.as_str())).cloned();
            if let Some(row) = mine {
                months.push(json!({"period": cycle.to_string(), "rank": row["rank"], "total": row["total"],
                    "deduction": row["deduction"], "assessed": row["assessed"], "of": a["items"].as_array().map_or(0, Vec::len)}));
            }
            let (first, _) = cycle.days();
            cycle = cycle.containing(first.pred_opt().unwrap_or(first));
        }
        let reviews = self
            .store
            .evaluations(EvaluationFilter {
                kind: Some(EvaluationKind::Review),
                agent: Some(u.id),
                ..Default::default()
            })
            .await?;
        let mean = (!reviews.is_empty()).then(|| reviews.iter().map(|e| e.score).sum::<f64>() / reviews.len() as f64);
        let policy = &self.core.policy.quality.violations;
        let violations: Vec<Value> = self
            .store
            .violations(ViolationFilter { agent: Some(u.id), ..Default::default() })
            .await?
            .iter()
            .map(|v| crate::service::violations::violation_json(v, None, &org, policy, self.now()))
            .collect();
        let team = u.profile.team.and_then(|t| org.team(t)).map(|t| t.name.clone());
        let history = self.staff_history(&org, u.id).await?;
        Ok(json!({
            "username": u.username, "name": u.display_name, "role": u.role.as_str(), "role_zh": u.role.label_zh(),
            "team": team, "tier": u.profile.tier, "skills": u.profile.skills, "active": u.active,
            "skills_zh": u.profile.skills.describe(true), "skills_en": u.profile.skills.describe(false),
            "history": history,
            "trainings": trainings, "training_hours": training_hours,
            "assessments": months,
            "reviews": {"count": reviews.len(), "mean": mean.map(|m| (m * 100.0).round() / 100.0)},
            "violations": violations,
        }))
    }

    /// Each change of team, tier or skills, newest first, one line per field
    /// changed, with who changed it.
    async fn staff_history(&self, org: &crate::directory::OrgSnapshot, user: UserId) -> Result<Vec<Value>, ApiError> {
        let team =
            |t: Option<kefu_domain::TeamId>| t.and_then(|t| org.team(t)).map_or("—".into(), |t| t.name.clone());
        let tier = |t: Option<u8>| t.map_or("—".into(), |t| format!("L{t}"));
        let mut lines = Vec::new();
        for c in self.store.staff_history(user).await?.iter().rev() {
            let by = c.by.and_then(|b| org.user(b)).map(|u| u.display_name.clone());
            let (b, a) = (&c.before, &c.after);
            let mut push = |field: &str, zh: &str, en: &str, from: [String; 2], to: [String; 2]| {
                if from != to {
                    lines.push(json!({"at": c.at, "by": by, "field": field, "field_zh": zh, "field_en": en,
                        "from": from[0], "to": to[0], "from_en": from[1], "to_en": to[1]}));
                }
            };
            push("team", "班组", "Team", [team(b.team), team(b.team)], [team(a.team), team(a.team)]);
            push("tier", "层级", "Tier", [tier(b.tier), tier(b.tier)], [tier(a.tier), tier(a.tier)]);
            let skills = |s: &kefu_domain::org::Skills| [s.describe(true), s.describe(false)];
            push("skills", "技能", "Skills", skills(&b.skills), skills(&a.skills));
        }
        Ok(lines)
    }
}
