//! Service-interruption compensation (服务中断补偿, R-55): per customer and
//! service of an incident's linked tickets, what the policy's rule table
//! (`kefu_domain::compensation`) owes for the incident's outage; approved by
//! a supervisor into the incident's audit chain, and exported from there
//! (CSV or XLSX) for the billing system — exactly what was approved.

use super::incidents::incident_json;
use super::quality::{invalid, only_fields};
use super::report_exports::{Format, Sink};
use super::*;
use crate::error::ApiError;
use kefu_domain::compensation::{Area, Outage, area_of, month_share, propose};
use kefu_domain::flow::Actor;
use kefu_domain::incident::State;
use kefu_domain::incident_record::{Approval, Incident};
use kefu_domain::ticket::Ticket;
use kefu_domain::{DomainError, FieldError, Role};
use kefu_store::*;
use serde_json::{Map, Value, json};

/// One row of the proposals: a customer's service and what it is owed.
fn row(policy: &kefu_domain::compensation::CompensationPolicy, i: &Incident, t: &Ticket) -> Option<Value> {
    let (from, to) = (i.started_at, i.ended_at?);
    let service = t.business_line.clone().or_else(|| i.scope.services.first().cloned()).unwrap_or_else(|| "-".into());
    let area = area_of(t.customer.address.as_deref().unwrap_or(""));
    // The fee is the billing system's: kefu proposes the share of it.
    let outage = Outage { service: &service, area, started: from, restored: to, monthly_fee_fen: 0 };
    let p = propose(policy, &outage)?;
    let rule = &policy.rules[p.rule];
    let (method_zh, method_en) = rule.method.label();
    let pro_rata = matches!(rule.method, kefu_domain::compensation::Method::ProRata);
    Some(json!({
        "ticket": t.number, "customer_id": t.customer.id,
        "service_number": t.service_number.clone().unwrap_or_else(|| t.customer.phone.as_str().to_string()),
        "service": service, "area": area, "area_label": area.label().0,
        "from": from, "to": to, "hours": p.hours, "rule": p.rule + 1,
        "method": if pro_rata { "pro_rata" } else { "credit" }, "method_label": method_zh, "method_label_en": method_en,
        "amount_fen": if pro_rata { Value::Null } else { json!(p.amount_fen) },
        "month_share": if pro_rata { json!((month_share(from, to) * 1e6).round() / 1e6) } else { Value::Null },
    }))
}

fn not_restored() -> ApiError {
    invalid("incident", "compensation is proposed once the incident is restored", "重大故障恢复后才能生成补偿方案")
}

impl<S: Store> Kefu<S> {
    /// The proposals now: one row per customer and service number of the
    /// linked tickets (a customer with two tickets about one line is owed once).
    async fn compensation_rows(&self, i: &Incident) -> Result<Vec<Value>, ApiError> {
        if i.ended_at.is_none() {
            return Err(not_restored());
        }
        let policy = &self.core.policy.compensation;
        let mut seen = std::collections::HashSet::new();
        let mut rows = Vec::new();
        let mut after = None;
        loop {
            let page = self.children_page(i.id, after).await?;
            for t in &page {
                let key = (t.customer.id, t.service_number.clone());
                if seen.insert(key)
                    && let Some(r) = row(policy, i, t)
                {
                    rows.push(r);
                }
            }
            match Self::next_page(&page) {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        rows.sort_by(|a, b| a["ticket"].as_str().cmp(&b["ticket"].as_str()));
        Ok(rows)
    }

    /// `GET /api/v1/incidents/{id}/compensation`: the proposals (as
    /// approved, once they are) and the rule table they come from.
    pub async fn compensation_view(&self, id: i64) -> Result<Value, ApiError> {
        let i = self.incident(id).await?;
        let rows = match &i.compensation {
            Some(_) => self.approved_rows(&i).await?,
            None => self.compensation_rows(&i).await?,
        };
        let total: i64 = rows.iter().filter_map(|r| r["amount_fen"].as_i64()).sum();
        let rules: Vec<Value> = self
            .core
            .policy
            .compensation
            .rules
            .iter()
            .enumerate()
            .map(|(n, r)| {
                json!({"rule": n + 1, "services": r.services, "area": r.area.map(Area::label).map(|l| l.0),
                       "threshold_hours": r.threshold_hours, "method": r.method.label().0, "method_en": r.method.label().1})
            })
            .collect();
        Ok(json!({
            "incident": i.number, "state": if i.compensation.is_some() { "approved" } else { "proposed" },
            "approved": i.compensation, "customers": rows.len(), "total_fen": total, "rules": rules, "items": rows,
        }))
    }

    /// The rows of the approving event (one per incident).
    async fn approved_rows(&self, i: &Incident) -> Result<Vec<Value>, ApiError> {
        let events = self.store.incident_events(i.id).await?;
        let e = events
            .iter()
            .find(|e| e.action == "compensation_approved")
            .ok_or_else(|| ApiError::Internal("approval event missing".into()))?;
        Ok(e.data["rows"].as_array().cloned().unwrap_or_default())
    }

    /// `approve_compensation`: fixes the proposals as they are now into the
    /// incident's chain; once per incident.
    pub(super) async fn approve_compensation(
        &self,
        who: &Actor,
        id: i64,
        body: &Map<String, Value>,
    ) -> Result<Value, ApiError> {
        only_fields(body, &["action"])?;
        if !matches!(who.role, Role::Supervisor | Role::Admin) {
            return Err(ApiError::Forbidden {
                reason: "supervisors approve compensation".into(),
                reason_zh: "仅客服主管可审批补偿方案".into(),
            });
        }
        let i = self.incident(id).await?;
        if !matches!(i.state, State::Restored | State::Closed) {
            return Err(not_restored());
        }
        let rows = self.compensation_rows(&i).await?;
        let total: i64 = rows.iter().filter_map(|r| r["amount_fen"].as_i64()).sum();
        let (now, by, n) = (self.now(), who.id, rows.len() as u32);
        let decide = Box::new(move |i: &Incident| {
            if i.compensation.is_some() {
                return Err(DomainError::Invalid(FieldError::new("action", "already approved", "补偿方案已审批")));
            }
            let mut next = i.clone();
            next.compensation = Some(Approval { by, at: now, rows: n, total_fen: total });
            Ok((next, "compensation_approved".to_string(), json!({"rows": rows, "total_fen": total})))
        });
        let changed = self.change(who, id, decide).await?;
        let mut out = incident_json(&changed);
        out["compensation_rows"] = json!(n);
        Ok(out)
    }

    /// The approved proposals as a file for the billing system; logged as
    /// an access to personal data (service numbers).
    pub async fn compensation_export(&self, who: &Actor, id: i64, format: &str) -> Result<(String, Vec<u8>), ApiError> {
        let format = Format::parse(format)?;
        let i = self.incident(id).await?;
        if i.compensation.is_none() {
            return Err(invalid("incident", "approve the compensation first", "补偿方案尚未审批"));
        }
        let rows = self.approved_rows(&i).await?;
        let header = [
            "工单号",
            "客户编号",
            "业务号码",
            "业务",
            "区域类型",
            "中断开始",
            "恢复时间",
            "中断时长(小时)",
            "规则",
            "补偿方式",
            "补偿金额(元)",
            "月费折算比例",
        ];
        let mut sink = Sink::new(format, header.iter().map(|h| h.to_string()).collect(), vec![7, 10, 11])?;
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        let time = |v: &Value| {
            v.as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| kefu_domain::time::shanghai_minute(t.to_utc()))
                .unwrap_or_default()
        };
        for r in &rows {
            sink.row(&[
                text(&r["ticket"]),
                text(&r["customer_id"]),
                text(&r["service_number"]),
                text(&r["service"]),
                text(&r["area_label"]),
                time(&r["from"]),
                time(&r["to"]),
                text(&r["hours"]),
                text(&r["rule"]),
                text(&r["method_label"]),
                r["amount_fen"].as_i64().map(|f| format!("{:.2}", f as f64 / 100.0)).unwrap_or_default(),
                text(&r["month_share"]),
            ])?;
        }
        let reason = format!("补偿导出 {} 行 / compensation export, {} rows", rows.len(), rows.len());
        self.log_access(
            (Some(who.id), &who.username),
            "compensation_export",
            format!("incident:{}", i.number),
            None,
            reason,
        )
        .await?;
        let ext = if format == Format::Csv { "csv" } else { "xlsx" };
        Ok((format!("compensation-{}.{ext}", i.number), sink.finish()?))
    }
}
