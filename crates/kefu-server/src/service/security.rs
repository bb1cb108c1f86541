//! The register of information-security incidents (信息安全事件, R-44):
//! anyone on the staff reports one; administrators (the security office)
//! read and handle them — containment steps, the regulator's and the
//! customers' notifications within the policy's hours, closing. Every read
//! of the register is itself in the access log, and access-log entries
//! named by an incident show its number. Rules: `kefu_domain::security`.

use super::quality::{invalid, only_fields, opt_str};
use super::*;
use crate::error::ApiError;
use kefu_domain::flow::Actor;
use kefu_domain::incident_record::{Note, Severity};
use kefu_domain::intake::parse_time;
use kefu_domain::security::{Kind, SecurityIncident, State, may_close};
use kefu_domain::{DomainError, FieldError, Role};
use kefu_store::*;
use serde_json::{Map, Value, json};

fn not_found() -> ApiError {
    ApiError::NotFound { what: "security incident", what_zh: "信息安全事件" }
}

fn label(zh_en: (&str, &str)) -> Value {
    json!({"zh": zh_en.0, "en": zh_en.1})
}

fn count(body: &Map<String, Value>, field: &str) -> Result<u32, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(0),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| invalid(field, format!("{field} is a whole number ≥ 0"), format!("{field} 须为非负整数"))),
    }
}

/// The record as the security office reads it, with what is overdue now.
pub fn security_json(i: &SecurityIncident, now: chrono::DateTime<chrono::Utc>) -> Value {
    let duty = |d: &kefu_domain::security::Duty| json!({"due_at": d.due_at, "done_at": d.done_at, "reference": d.reference, "overdue": d.overdue(now)});
    json!({
        "id": i.id, "number": i.number, "kind": i.kind, "kind_label": label(i.kind.label()),
        "severity": i.severity, "severity_label": label(i.severity.label()), "title": i.title,
        "description": i.description, "discovered_at": i.discovered_at, "affected_records": i.affected_records,
        "affected_customers": i.affected_customers, "tickets": i.tickets, "access_entries": i.access_entries,
        "containment": i.containment, "regulator": duty(&i.regulator), "customers": duty(&i.customers),
        "state": i.state, "state_label": label(i.state.label()), "created_by": i.created_by,
        "created_at": i.created_at, "updated_at": i.updated_at,
    })
}

impl<S: Store> Kefu<S> {
    /// `POST /api/v1/security-incidents`: any staff member reports; the
    /// answer is the number only — the register is the security office's.
    pub async fn report_security_incident(&self, who: &Actor, body: &Map<String, Value>) -> Result<Value, ApiError> {
        only_fields(
            body,
            &[
                "kind",
                "severity",
                "title",
                "description",
                "discovered_at",
                "affected_records",
                "affected_customers",
                "tickets",
                "access_entries",
            ],
        )?;
        let kind = Kind::parse(opt_str(body, "kind")?.unwrap_or(""), "kind")?;
        let severity = Severity::parse(opt_str(body, "severity")?.unwrap_or("major"), "severity")?;
        let title = kefu_domain::validate::required_text(opt_str(body, "title")?, "title", 200)?;
        let description =
            kefu_domain::validate::optional_free_text(opt_str(body, "description")?, "description", 4000)?
                .unwrap_or_default();
        let now = self.now();
        let discovered_at =
            opt_str(body, "discovered_at")?.map(|t| parse_time(t, "discovered_at")).transpose()?.unwrap_or(now);
        if discovered_at > now + chrono::Duration::minutes(5) {
            return Err(invalid("discovered_at", "discovered_at is not in the future", "发现时间不能晚于当前时间"));
        }
        let (affected_records, affected_customers) =
            (count(body, "affected_records")?, count(body, "affected_customers")?);
        let mut tickets = Vec::new();
        for v in body.get("tickets").and_then(Value::as_array).into_iter().flatten().take(200) {
            let key =
                v.as_str().ok_or_else(|| invalid("tickets", "tickets are ticket numbers", "tickets 须为工单号"))?;
            let t = self.ticket(key).await.map_err(|_| {
                ApiError::from(FieldError::new("tickets", format!("no ticket '{key}'"), format!("工单“{key}”不存在")))
            })?;
            tickets.push(t.number);
        }
        if body.get("tickets").is_some_and(|v| !v.is_array() && !v.is_null()) {
            return Err(invalid("tickets", "tickets is a list of ticket numbers", "tickets 须为工单号列表"));
        }
        let access_entries: Vec<i64> = match body.get("access_entries") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(l)) if l.len() <= 200 => {
                l.iter().map(|v| v.as_i64().filter(|n| *n > 0)).collect::<Option<_>>().ok_or_else(|| {
                    invalid("access_entries", "access_entries are entry ids", "access_entries 须为访问日志编号")
                })?
            }
            Some(_) => {
                return Err(invalid(
                    "access_entries",
                    "access_entries is a list of entry ids",
                    "access_entries 须为访问日志编号列表",
                ));
            }
        };
        let (regulator, customers) =
            self.core.policy.security_incidents.duties(severity, discovered_at, affected_customers);
        let record = SecurityIncident {
            id: 0,
            number: String::new(),
            kind,
            severity,
            title,
            description,
            discovered_at,
            affected_records,
            affected_customers,
            tickets,
            access_entries,
            containment: vec![],
            regulator,
            customers,
            state: State::Reported,
            created_by: who.id,
            created_at: now,
            updated_at: now,
        };
        let data = json!({"kind": kind, "severity": severity, "title": record.title});
        let r = self.store.create_security_incident(record, who.username.clone(), data).await?;
        Ok(json!({"id": r.id, "number": r.number, "state": r.state, "regulator_due_at": r.regulator.due_at,
                  "customers_due_at": r.customers.due_at}))
    }

    /// One record for the security office; the read is logged.
    pub async fn security_incident_view(&self, who: &Actor, id: i64) -> Result<Value, ApiError> {
        let r = self.store.security_incident(id).await?.ok_or_else(not_found)?;
        self.log_access(
            (Some(who.id), &who.username),
            "security_read",
            format!("security:{}", r.number),
            None,
            String::new(),
        )
        .await?;
        let mut out = security_json(&r, self.now());
        let events = self.store.security_events(id).await?;
        out["verified"] = json!(kefu_domain::incident_record::verify_events(&events).is_ok());
        out["events"] = json!(events);
        Ok(out)
    }

    pub async fn security_incidents(&self) -> Result<Vec<Value>, ApiError> {
        let now = self.now();
        Ok(self.store.security_incidents(500).await?.iter().map(|r| security_json(r, now)).collect())
    }

    /// `{action: contain {text} | notify_regulator {reference} | notify_customers {reference} | close}`.
    pub async fn security_action(&self, who: &Actor, id: i64, body: &Map<String, Value>) -> Result<Value, ApiError> {
        if who.role != Role::Admin {
            return Err(ApiError::Forbidden {
                reason: "the security office (administrators) handles security incidents".into(),
                reason_zh: "信息安全事件由安全管理员处置".into(),
            });
        }
        let action = opt_str(body, "action")?.unwrap_or("").to_string();
        let allowed: &[&str] = match action.as_str() {
            "contain" => &["action", "text"],
            "notify_regulator" | "notify_customers" => &["action", "reference"],
            "close" => &["action"],
            other => {
                return Err(invalid(
                    "action",
                    format!("unknown action '{other}' (contain, notify_regulator, notify_customers, close)"),
                    format!("未知操作“{other}”（可用：contain、notify_regulator、notify_customers、close）"),
                ));
            }
        };
        only_fields(body, allowed)?;
        let text = match action.as_str() {
            "contain" => Some(kefu_domain::validate::required_free_text(opt_str(body, "text")?, "text", 1000)?),
            "notify_regulator" | "notify_customers" => {
                Some(kefu_domain::validate::required_text(opt_str(body, "reference")?, "reference", 200)?)
            }
            _ => None,
        };
        let (now, by, by_name) = (self.now(), who.id, who.username.clone());
        let act = action.clone();
        let decide = Box::new(move |r: &SecurityIncident| {
            let refuse = |en: &str, zh: &str| DomainError::Invalid(FieldError::new("action", en, zh));
            if r.state == State::Closed {
                return Err(refuse("the record is closed", "该事件已关闭"));
            }
            let mut n = r.clone();
            match act.as_str() {
                "contain" => {
                    n.containment.push(Note { at: now, by, by_name, text: text.clone().unwrap_or_default() });
                    n.state = State::Contained;
                }
                "notify_regulator" | "notify_customers" => {
                    let duty = if act == "notify_regulator" { &mut n.regulator } else { &mut n.customers };
                    if duty.done_at.is_some() {
                        return Err(refuse("already recorded", "已登记"));
                    }
                    duty.done_at = Some(now);
                    duty.reference = text.clone();
                }
                _ => {
                    may_close(r).map_err(|(en, zh)| refuse(&en, &zh))?;
                    n.state = State::Closed;
                }
            }
            Ok((n, act.clone(), json!({"text": text})))
        });
        let op = ChangeRecord { id, actor: Some(who.id), actor_name: who.username.clone(), now, decide };
        let r = self.store.change_security_incident(op).await.map_err(|e| match e {
            StoreError::NotFound => not_found(),
            e => e.into(),
        })?;
        Ok(security_json(&r, self.now()))
    }

    /// Access-log entries with the numbers of the security incidents that name them.
    pub async fn access_log_linked(&self, page: Page<AccessEntry>) -> Result<Value, ApiError> {
        let records = self.store.security_incidents(500).await?;
        let mut out = serde_json::to_value(&page).map_err(|e| ApiError::Internal(e.to_string()))?;
        for item in out["items"].as_array_mut().into_iter().flatten() {
            let id = item["id"].as_i64().unwrap_or(0);
            let named: Vec<&str> =
                records.iter().filter(|r| r.access_entries.contains(&id)).map(|r| r.number.as_str()).collect();
            if !named.is_empty() {
                item["security_incidents"] = json!(named);
            }
        }
        Ok(out)
    }
}
