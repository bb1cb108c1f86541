//! The assessment scorecard: every agent's month or quarter, each
//! dimension scored from its source — a KPI report grouped by agent, the
//! agent's QA reviews, the innovation entries — weighed by the policy,
//! ranked, and explained: each component names its source figures and the
//! query that shows them.

use super::quality::reads_about;
use super::*;
use crate::error::ApiError;
use crate::service::kpi::KpiRequest;
use kefu_domain::assessment::{Source, weigh};
use kefu_domain::flow::Actor;
use kefu_domain::kpi::GroupBy;
use kefu_domain::quality::Cycle;
use kefu_domain::{Role, TicketType, UserId};
use kefu_store::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Whose work is assessed: the handling roles.
fn assessed(role: Role) -> bool {
    matches!(role, Role::Agent | Role::Engineer | Role::ComplaintSpecialist)
}

/// One dimension's figures per agent: (value, count, 0–100 score) and how
/// to see them.
struct Measured {
    per_agent: BTreeMap<UserId, (Option<f64>, i64, Option<f64>)>,
    /// For an agent the source says nothing of: not measured, except
    /// innovation, where no entry is 0 points (not a dimension to skip).
    absent: (Option<f64>, i64, Option<f64>),
    source: Value,
}

impl<S: Store> Kefu<S> {
    /// `GET /api/v1/quality/assessments?period=`: the ranked agents with
    /// each component; `who` sees everyone (supervisors, inspectors,
    /// admins), their teams (a lead) or themselves.
    pub async fn assessments(&self, who: &Actor, period: &str) -> Result<Value, ApiError> {
        let cycle = Cycle::parse(period, "period")?;
        let (from, to) = cycle.days();
        let policy = &self.core.policy.quality.assessment;
        let org = self.org().await?;
        let mut measured = Vec::with_capacity(policy.dimensions.len());
        for d in &policy.dimensions {
            measured.push(self.measure(&d.source, cycle).await?);
        }
        let deductions = self.violation_points(from, to).await?;
        let people: Vec<&kefu_store::User> = org.users.iter().filter(|u| u.active && assessed(u.role)).collect();
        // Someone with no work measured in the period (no tickets, no
        // reviews) is listed but not ranked.
        let rows: Vec<(UserId, kefu_domain::assessment::Total, bool)> = people
            .iter()
            .map(|u| {
                let m: Vec<_> = measured.iter().map(|x| x.per_agent.get(&u.id).copied().unwrap_or(x.absent)).collect();
                let worked = measured.iter().any(|x| x.absent.2.is_none() && x.per_agent.contains_key(&u.id));
                let (deduction, _) = deductions.get(&u.id).copied().unwrap_or_default();
                (u.id, weigh(policy, &m, 0.0, deduction), worked)
            })
            .collect();
        let totals: Vec<f64> = rows.iter().map(|r| if r.2 { r.1.total } else { -1.0 }).collect();
        let (order, ranks) = kefu_domain::assessment::ranks(&totals);
        let visible = |id: UserId| reads_about(who, &org, id);
        let items: Vec<Value> = order
            .iter()
            .filter(|&&i| visible(rows[i].0))
            .map(|&i| {
                let (id, t, worked) = &rows[i];
                let u = org.user(*id);
                let team = u.and_then(|u| u.profile.team).and_then(|t| org.team(t));
                let components: Vec<Value> = t
                    .components
                    .iter()
                    .zip(&policy.dimensions)
                    .zip(&measured)
                    .map(|((c, d), m)| {
                        let mut source = m.source.clone();
                        if let Some(link) = source.get("link").and_then(Value::as_str) {
                            let with_agent = format!("{link}&agent={}", u.map_or(String::new(), |u| u.username.clone()));
                            source["link"] = Value::String(with_agent);
                        }
                        json!({"key": c.key, "name_zh": d.name_zh, "name_en": d.name_en, "weight": c.weight,
                            "applied_weight": c.applied_weight, "value": c.value, "n": c.n, "score": c.score,
                            "points": c.points, "source": source})
                    })
                    .collect();
                json!({
                    "rank": worked.then_some(ranks[i]), "assessed": worked, "agent": u.map(|u| u.username.clone()), "name": u.map(|u| u.display_name.clone()),
                    "team": team.map(|t| t.name.clone()), "total": t.total, "weighted": t.weighted,
                    "bonus": t.bonus, "deduction": t.deduction,
                    "violations": deductions.get(id).map_or(0, |d| d.1),
                    "violations_link": format!("/api/v1/quality/violations?period={cycle}&agent={}", u.map_or(String::new(), |u| u.username.clone())),
                    "components": components,
                })
            })
            .collect();
        Ok(json!({
            "period": cycle.to_string(), "from": from, "to": to, "missing": policy.missing,
            "weights": policy.dimensions.iter().map(|d| json!({"key": d.key, "name_zh": d.name_zh, "name_en": d.name_en, "weight": d.weight})).collect::<Vec<_>>(),
            "items": items,
        }))
    }

    async fn measure(&self, source: &Source, cycle: Cycle) -> Result<Measured, ApiError> {
        let (from, to) = cycle.days();
        let mut per_agent = BTreeMap::new();
        match source {
            Source::Metric { metric, ticket_type, scoring } => {
                let filter = DimFilter {
                    ticket_type: ticket_type.as_deref().and_then(|t| TicketType::parse(t, "type").ok()),
                    ..Default::default()
                };
                let req = KpiRequest { metric: metric.clone(), group_by: GroupBy::Agent, from, to, filter };
                for item in self.kpi_report(req).await?.items {
                    if let Ok(id) = item.key.parse::<i64>() {
                        per_agent.insert(UserId(id), (item.value, item.n, item.value.map(|v| scoring.apply(v))));
                    }
                }
                let mut link = format!("/api/v1/reports/kpi?metric={metric}&from={from}&to={to}");
                if let Some(t) = ticket_type {
                    link.push_str(&format!("&type={t}"));
                }
                Ok(Measured {
                    per_agent,
                    absent: (None, 0, None),
                    source: json!({"kind": "metric", "metric": metric, "type": ticket_type, "link": link}),
                })
            }
            Source::Reviews => {
                let f = EvaluationFilter {
                    kind: Some(EvaluationKind::Review),
                    within: Some((from, to)),
                    ..Default::default()
                };
                let mut sums: BTreeMap<UserId, (f64, i64)> = BTreeMap::new();
                for e in self.store.evaluations(f).await? {
                    if let Some(a) = e.agent {
                        let s = sums.entry(a).or_default();
                        s.0 += e.score;
                        s.1 += 1;
                    }
                }
                for (a, (sum, n)) in sums {
                    let mean = sum / n as f64;
                    per_agent.insert(a, (Some((mean * 100.0).round() / 100.0), n, Some(mean)));
                }
                let link = format!("/api/v1/quality/reviews?period={cycle}");
                Ok(Measured { per_agent, absent: (None, 0, None), source: json!({"kind": "reviews", "link": link}) })
            }
            Source::Innovation { cap } => {
                let mut sums: BTreeMap<UserId, (f64, i64)> = BTreeMap::new();
                for i in self.store.innovations(from, to, None).await? {
                    let s = sums.entry(i.agent).or_default();
                    s.0 += i.points;
                    s.1 += 1;
                }
                for (a, (sum, n)) in sums {
                    per_agent.insert(a, (Some(sum), n, Some(sum.min(*cap) / cap * 100.0)));
                }
                let link = format!("/api/v1/quality/innovations?period={cycle}");
                Ok(Measured {
                    per_agent,
                    absent: (Some(0.0), 0, Some(0.0)),
                    source: json!({"kind": "innovation", "cap": cap, "link": link}),
                })
            }
        }
    }
}

impl<S: Store> Kefu<S> {
    /// The assessment as CSV (UTF-8 with a byte-order mark, so spreadsheet
    /// programs read the Chinese): rank, staff, team, each dimension's
    /// score, deductions, total — what `who` may read. (file name, text)
    pub async fn assessment_csv(&self, who: &Actor, period: &str) -> Result<(String, String), ApiError> {
        let a = self.assessments(who, period).await?;
        let field = |s: &str| {
            // A leading = + - @ would be a formula to a spreadsheet.
            let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_string() };
            format!("\"{}\"", s.replace('"', "\"\""))
        };
        let mut head = vec!["名次 rank".to_string(), "工号 username".into(), "姓名 name".into(), "班组 team".into()];
        for d in a["weights"].as_array().into_iter().flatten() {
            head.push(format!("{} {}", d["name_zh"].as_str().unwrap_or(""), d["key"].as_str().unwrap_or("")));
        }
        head.extend(["违规扣分 deduction".into(), "总分 total".into()]);
        let mut out = String::from("\u{feff}");
        out.push_str(&head.iter().map(|h| field(h)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
        let num = |v: &Value| v.as_f64().map_or(String::new(), |x| x.to_string());
        for r in a["items"].as_array().into_iter().flatten() {
            let mut row = vec![
                r["rank"].as_i64().map_or(String::new(), |n| n.to_string()),
                field(r["agent"].as_str().unwrap_or("")),
                field(r["name"].as_str().unwrap_or("")),
                field(r["team"].as_str().unwrap_or("")),
            ];
            row.extend(r["components"].as_array().into_iter().flatten().map(|c| num(&c["score"])));
            row.extend([num(&r["deduction"]), num(&r["total"])]);
            out.push_str(&row.join(","));
            out.push_str("\r\n");
        }
        Ok((format!("assessment-{}.csv", a["period"].as_str().unwrap_or("period")), out))
    }
}
