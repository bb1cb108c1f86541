//! Scheduled reports: every KPI of the dictionary for the day,
//! week or month before, for a team, a person or everyone, e-mailed to
//! staff through the outbox at the policy's hour. What a schedule covers
//! is what its owner may read; its recipients are staff with an e-mail in
//! their profile.

use super::*;
use crate::error::ApiError;
use crate::service::kpi::KpiRequest;
use kefu_domain::flow::Actor;
use kefu_domain::kpi::{Frequency, GroupBy};
use kefu_domain::{FieldError, UserId};
use kefu_store::*;
use serde_json::{Map, Value, json};

fn invalid(field: &str, en: &str, zh: &str) -> ApiError {
    FieldError::new(field, en, zh).into()
}

/// A schedule as the API shows it.
pub fn schedule_json(s: &Schedule, org: &crate::directory::OrgSnapshot) -> Value {
    let names: Vec<String> =
        s.recipients.iter().map(|u| org.user(*u).map_or_else(|| format!("#{u}"), |u| u.username.clone())).collect();
    json!({
        "id": s.id, "name": s.name, "frequency": s.frequency,
        "scope": serde_json::from_str::<Value>(&s.scope).unwrap_or(Value::Null),
        "recipients": names, "next_run_at": s.next_run_at, "last_run_at": s.last_run_at, "created_at": s.created_at,
    })
}

impl<S: Store> Kefu<S> {
    /// Checks and stores a schedule: `{name, frequency, team?, agent?, recipients: [username]}`.
    pub async fn create_schedule(&self, who: &Actor, body: &Map<String, Value>) -> Result<Schedule, ApiError> {
        let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::trim).unwrap_or("").to_string();
        let name = text("name");
        if name.is_empty() || name.chars().count() > 100 {
            return Err(invalid("name", "name is 1 to 100 characters", "名称（name）须为 1 到 100 个字符"));
        }
        let frequency = text("frequency");
        let freq = Frequency::parse(&frequency).ok_or_else(|| {
            invalid(
                "frequency",
                "frequency is daily, weekly or monthly",
                "频率（frequency）须为 daily、weekly 或 monthly",
            )
        })?;
        // The scope is what the owner may read, checked as a report would be.
        let q = crate::http::reports::KpiQuery {
            metric: Some("resolved_in_limit_rate".into()),
            team: Some(text("team")).filter(|s| !s.is_empty()),
            agent: Some(text("agent")).filter(|s| !s.is_empty()),
            ..Default::default()
        };
        let req = q.request(self).await?;
        let filter = self.kpi_scope(who, req.filter).await?;
        let scope = json!({"team": filter.team.map(|t| t.0), "agent": filter.agent.map(|a| a.0)}).to_string();
        let org = self.org().await?;
        let list = body.get("recipients").and_then(Value::as_array).filter(|l| !l.is_empty() && l.len() <= 50);
        let list = list.ok_or_else(|| {
            invalid(
                "recipients",
                "recipients is a list of 1 to 50 usernames",
                "收件人（recipients）须为 1 到 50 个用户名",
            )
        })?;
        let mut recipients = Vec::new();
        for r in list {
            let name = r.as_str().unwrap_or("");
            let u = org.users.iter().find(|u| u.username == name && u.active).ok_or_else(|| {
                ApiError::from(FieldError::new("recipients", format!("no staff '{name}'"), format!("没有员工“{name}”")))
            })?;
            if u.profile.email.is_none() {
                return Err(FieldError::new(
                    "recipients",
                    format!("{name} has no e-mail address in their profile"),
                    format!("{name} 的资料中没有电子邮件地址"),
                )
                .into());
            }
            recipients.push(u.id);
        }
        let now = self.now();
        let s = Schedule {
            id: 0,
            owner: who.id,
            name,
            frequency,
            scope,
            recipients,
            next_run_at: freq.next_run(now, self.core.policy.reports.schedule_hour),
            last_run_at: None,
            created_at: now,
        };
        Ok(self.store.create_schedule(s).await?)
    }

    /// Sends every schedule that is due; returns how many ran here.
    pub async fn run_schedules(&self) -> Result<usize, ApiError> {
        let now = self.now();
        let mut ran = 0;
        for s in self.store.due_schedules(now).await? {
            let freq = Frequency::parse(&s.frequency).unwrap_or(Frequency::Daily);
            let mail = self.scheduled_mail(&s, freq).await;
            let messages = match mail {
                Ok(m) => m,
                Err(e) => {
                    // A schedule whose owner or scope is gone is moved on, not retried forever.
                    tracing::warn!(schedule = s.id, error = %e, "scheduled report skipped");
                    Vec::new()
                }
            };
            let next = freq.next_run(s.next_run_at.max(now), self.core.policy.reports.schedule_hour);
            if self.store.complete_run(s.id, s.next_run_at, next, messages, now).await? {
                ran += 1;
            }
        }
        Ok(ran)
    }

    /// The report of one run, as one e-mail per recipient.
    async fn scheduled_mail(&self, s: &Schedule, freq: Frequency) -> Result<Vec<NewMessage>, ApiError> {
        let owner = self.store.user_by_id(s.owner).await?.filter(|u| u.active);
        let owner = owner.ok_or_else(|| ApiError::Internal("the schedule's owner is no longer active".into()))?;
        let org = self.org().await?;
        let actor =
            Actor { id: owner.id, username: owner.username.clone(), role: owner.role, org: org.membership(&owner) };
        let scope: Value = serde_json::from_str(&s.scope).unwrap_or(Value::Null);
        let filter = DimFilter {
            team: scope["team"].as_i64().map(kefu_domain::TeamId),
            agent: scope["agent"].as_i64().map(UserId),
            ..Default::default()
        };
        // Narrowed again: the owner's rights may have changed since.
        let filter = self.kpi_scope(&actor, filter).await?;
        let (from, to) = freq.period(s.next_run_at);
        let mut body = format!("{}\n统计期间 Period: {from} — {to}\n\n", s.name);
        for m in self.metric_dictionary().items.iter().filter(|m| !m.key.contains('.')) {
            let req = KpiRequest { metric: m.key.clone(), group_by: GroupBy::All, from, to, filter: filter.clone() };
            let r = self.kpi_report(req).await?;
            let Some(i) = r.items.first() else {
                body.push_str(&format!("{} {}: —\n", m.name_zh, m.name_en));
                continue;
            };
            let value = m.unit.worded(i.value, true);
            let met = match i.met {
                Some(true) => "（达标 met）",
                Some(false) => "（未达标 missed）",
                None => "",
            };
            body.push_str(&format!("{} {}: {value}  n={}{met}\n", m.name_zh, m.name_en, i.n));
        }
        let subject = format!("[kefu] {} {from} — {to}", s.name);
        Ok(s.recipients
            .iter()
            .filter_map(|u| org.user(*u).filter(|u| u.active).and_then(|u| u.profile.email.clone()))
            .map(|email| NewMessage {
                kind: "scheduled_report".into(),
                channel: "email".into(),
                recipient: email,
                subject: subject.clone(),
                body: body.clone(),
                in_reply_to: None,
            })
            .collect())
    }
}
