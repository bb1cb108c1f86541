//! Store rectification (整改, R-32): the tasks a failing inspection opens
//! (`kefu_domain::rectification`, derived from the store's inspections), the
//! store's report that it rectified, and the tickets taken at or about a store.

use super::quality::{only_fields, opt_str};
use super::*;
use crate::error::ApiError;
use kefu_domain::flow::Actor;
use kefu_domain::rectification::{Inspected, Task, TaskState, tasks};
use kefu_domain::{TicketType, UserId};
use kefu_store::*;
use serde_json::{Map, Value, json};

impl<S: Store> Kefu<S> {
    /// The rectification tasks of one store (or of every store), newest
    /// first, with what failed and the report if any.
    pub async fn rectifications(&self, store: Option<&str>) -> Result<Vec<Value>, ApiError> {
        let store = match store {
            Some(code) => Some(self.outlet(code).await?.code),
            None => None,
        };
        let f =
            EvaluationFilter { kind: Some(EvaluationKind::Inspection), subject: store.clone(), ..Default::default() };
        let inspections = self.store.evaluations(f).await?;
        let reports = self.store.rectification_reports(store).await?;
        let outlets = self.store.outlets().await?;
        let org = self.org().await?;
        let grades = &self.core.policy.quality.grades;
        let (cal, days, now) = (&self.core.calendar, grades.rectification_days, self.now());
        let mut out = Vec::new();
        for o in &outlets {
            let mine: Vec<&Evaluation> = inspections.iter().filter(|e| e.subject == o.code).collect();
            let seen: Vec<Inspected> = mine
                .iter()
                .map(|e| Inspected { id: e.id, at: e.created_at, failing: grades.grade(e.score).code() == "failing" })
                .collect();
            let reported: Vec<i64> = reports.iter().map(|r| r.inspection).collect();
            let due = |at| cal.add_working_days(at, days);
            for t in tasks(&seen, &reported, due).map_err(kefu_domain::DomainError::from)? {
                let e = mine.iter().find(|e| e.id == t.inspection).copied();
                let report = reports.iter().find(|r| r.inspection == t.inspection);
                out.push(task_json(&t, o, e, report, &org, now));
            }
        }
        out.sort_by(|a, b| b["opened_at"].as_str().cmp(&a["opened_at"].as_str()));
        Ok(out)
    }

    /// `POST /api/v1/stores/{code}/rectifications/{inspection}/report {note}`:
    /// the store says it rectified; the next inspection re-checks.
    pub async fn report_rectification(
        &self,
        who: &Actor,
        code: &str,
        inspection: &str,
        body: &Map<String, Value>,
    ) -> Result<Value, ApiError> {
        only_fields(body, &["note"])?;
        let note = kefu_domain::validate::required_text(opt_str(body, "note")?, "note", 2000)?;
        let o = self.outlet(code).await?;
        let none = || ApiError::NotFound { what: "rectification", what_zh: "整改任务" };
        let id: i64 = inspection.trim().parse().map_err(|_| none())?;
        let list = self.rectifications(Some(&o.code)).await?;
        let task = list.iter().find(|t| t["inspection"] == id).ok_or_else(none)?;
        let refused = |state: &str| ApiError::NotAllowed {
            action: "report".into(),
            state: state.to_string(),
            allowed: Vec::new(),
        };
        if task["state"] != TaskState::Open.code() {
            return Err(refused(task["state"].as_str().unwrap_or("")));
        }
        let r = RectificationReport {
            inspection: id,
            store: o.code.clone(),
            note,
            reported_by: who.id,
            reported_at: self.now(),
        };
        match self.store.report_rectification(r).await {
            Ok(()) => {}
            // Reported meanwhile by someone else: the same answer as above.
            Err(StoreError::Conflict { .. }) => return Err(refused(TaskState::Reported.code())),
            Err(e) => return Err(e.into()),
        }
        let list = self.rectifications(Some(&o.code)).await?;
        list.into_iter().find(|t| t["inspection"] == id).ok_or_else(none)
    }

    /// The tickets taken at or about a store, as the caller may see them:
    /// `{total, complaints, recent: [...]}` (the newest `n`).
    pub async fn store_tickets(&self, who: &Actor, code: &str, n: u32) -> Result<Value, ApiError> {
        let o = self.outlet(code).await?;
        let f = TicketFilter {
            store: Some(o.code),
            visible: self.visibility(who),
            page: 1,
            per_page: n.max(1),
            ..Default::default()
        };
        let all = self.store.list_tickets(f.clone()).await?;
        let complaints = self
            .store
            .list_tickets(TicketFilter { ticket_type: Some(TicketType::Complaint), per_page: 1, ..f })
            .await?;
        let recent: Vec<Value> = all
            .items
            .iter()
            .take(n as usize)
            .map(|t| {
                let v = self.view(t, who);
                json!({"id": v["id"], "number": v["number"], "title": v["title"], "type": v["type"],
                    "type_zh": v["type_zh"], "status": v["status"], "status_zh": v["status_zh"],
                    "channel_zh": v["channel_zh"], "created_at": v["created_at"]})
            })
            .collect();
        Ok(json!({"total": all.total, "complaints": complaints.total, "recent": recent}))
    }
}

fn task_json(
    t: &Task,
    o: &Outlet,
    e: Option<&Evaluation>,
    report: Option<&RectificationReport>,
    org: &crate::directory::OrgSnapshot,
    now: chrono::DateTime<chrono::Utc>,
) -> Value {
    let (zh, en) = t.state.label();
    let name = |u: UserId| org.user(u).map(|u| u.display_name.clone());
    // What failed: the items that lost points, with the inspector's reasons.
    let body: Value = e.and_then(|e| serde_json::from_str(&e.body).ok()).unwrap_or(Value::Null);
    let failed: Vec<Value> = body["scored"]["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["lost"] == true)
        .map(|i| json!({"item": i["item"], "section": i["section"], "points": i["points"], "max": i["max"], "reason": i["reason"]}))
        .collect();
    json!({
        "inspection": t.inspection, "store": o.code, "store_name": o.name, "region": o.region,
        "period": e.map(|e| e.period.clone()), "score": e.map(|e| e.score),
        "scorecard": e.map(|e| e.scorecard.clone()), "version": e.map(|e| e.version),
        "opened_at": t.opened_at, "due_at": t.due_at, "state": t.state.code(), "state_label": zh, "state_label_en": en,
        "overdue": t.overdue(now), "pending": t.state.pending(), "rechecked_by": t.rechecked_by, "failed_items": failed,
        "report": report.map(|r| json!({"note": r.note, "by": name(r.reported_by), "at": r.reported_at})),
    })
}
