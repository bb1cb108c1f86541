//! The customer's side of the loop (R-25…R-28) as the service runs it:
//! confirmation by default after the policy's time, the return-visit
//! scheduler, delivery receipts, the ticket behind a signed link and the
//! portal's look-up, the customer's answers, and the return-visit coverage
//! report. What an action sends the customer is `messages`'.

use crate::Kefu;
use crate::error::ApiError;
use crate::links::LinkError;
use chrono::{DateTime, Duration, Utc};
use kefu_domain::action::{ActionKind, ActionRequest};
use kefu_domain::customer_loop::VisitState;
use kefu_domain::flow::Actor;
use kefu_domain::ticket::Ticket;
use kefu_domain::{Role, TicketId};

use super::messages::{AUTO_CONFIRM, LOOKUP, PORTAL, visit_invitation};
use kefu_store::*;
use serde_json::{Value, json};

const VISIT_SCHEDULER: &str = "system:visit-scheduler";

/// The customer, acting through a signed link: allowed what the flows let
/// an agent record on their behalf (confirm, appeal, rate).
pub fn customer_actor(kind: crate::links::LinkKind) -> Actor {
    let name = match kind {
        crate::links::LinkKind::Message => PORTAL,
        crate::links::LinkKind::Lookup => LOOKUP,
    };
    Actor::new(SYSTEM, name, Role::Agent)
}

impl<S: Store> Kefu<S> {
    /// Confirms, as the policy's default, every result notice nobody
    /// answered within `auto_confirm_hours` (recorded as such). Returns
    /// how many were confirmed.
    pub async fn auto_confirm(&self) -> Result<usize, ApiError> {
        let wait = Duration::hours(i64::from(self.core.policy.customer_loop.auto_confirm_hours));
        let system = Actor::new(SYSTEM, AUTO_CONFIRM, Role::Supervisor);
        let body = json!({"action": "confirm"});
        let mut done = 0;
        for page in 1.. {
            let filter =
                TicketFilter { status: Some("result_notified".into()), page, per_page: 500, ..Default::default() };
            let got = self.store.list_tickets(filter).await?;
            for t in &got.items {
                let due = t.customer_loop.notified_at.is_some_and(|at| at + wait <= self.now());
                if !due
                    || !self.core.flows.get(t.ticket_type).allowed_actions(t, &system).contains(&ActionKind::Confirm)
                {
                    continue;
                }
                let request = ActionRequest::parse(body.as_object().expect("an object"))?;
                match self.act_as(&system, t, request).await {
                    Ok(_) => done += 1,
                    // Answered meanwhile (confirmed or appealed): nothing to do.
                    Err(ApiError::NotAllowed { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            if got.items.len() < 500 {
                break;
            }
        }
        Ok(done)
    }

    /// Sends the survey link of every due return visit made by SMS or
    /// online; visits by phone wait in the return-visit queue for an agent.
    pub async fn invite_visits(&self) -> Result<usize, ApiError> {
        let mut done = 0;
        for method in ["sms", "online"] {
            loop {
                let filter = VisitFilter {
                    state: Some("pending".into()),
                    method: Some(method.into()),
                    page: 1,
                    per_page: 200,
                    ..Default::default()
                };
                let due: Vec<VisitRow> = self.store.visits(filter).await?.items;
                for v in &due {
                    self.invite(v.ticket_id).await?;
                    done += 1;
                }
                if due.len() < 200 {
                    break;
                }
            }
        }
        Ok(done)
    }

    async fn invite(&self, id: TicketId) -> Result<(), ApiError> {
        let (core, now) = (self.core.clone(), self.now());
        let decide: Decide = Box::new(move |t: &Ticket| {
            let mut next = t.clone();
            let Some(v) = next.customer_loop.visit.as_mut().filter(|v| v.state == VisitState::Pending) else {
                // Taken care of meanwhile: record nothing new.
                return Ok(Mutation::new(t.clone(), "visit_check", json!({})));
            };
            v.state = VisitState::Invited;
            let method = v.method.clone();
            let invitation = visit_invitation(&core, t, now);
            next.updated_at = now;
            let data = json!({"method": method, "channel": "sms"});
            Ok(Mutation { outbox: vec![invitation], ..Mutation::new(next, "visit_invite", data) })
        });
        let system = Actor::new(SYSTEM, VISIT_SCHEDULER, Role::Admin);
        self.system_change(&system, id, decide).await
    }

    /// A delivery receipt from the SMS gateway.
    pub async fn sms_receipt(
        &self,
        provider_id: &str,
        delivered: bool,
        detail: Option<String>,
    ) -> Result<bool, ApiError> {
        Ok(self.store.message_receipt(provider_id, delivered, detail, self.now()).await?.is_some())
    }

    /// The ticket a signed link names, or why the link is refused.
    pub async fn ticket_by_link(&self, token: &str) -> Result<Ticket, LinkError> {
        Ok(self.ticket_and_link(token).await?.0)
    }

    async fn ticket_and_link(&self, token: &str) -> Result<(Ticket, crate::links::LinkKind), LinkError> {
        let (id, kind) = self.core.settings.link_key.verify(token, self.now())?;
        let t = self.store.ticket(TicketKey::Id(id)).await.ok().flatten().ok_or(LinkError::Malformed)?;
        Ok((t, kind))
    }

    /// A fresh link for a customer who proved the ticket is theirs by its
    /// number and their phone number.
    pub async fn lookup_link(&self, number: &str, phone: &str) -> Result<Option<String>, ApiError> {
        // As people type them: lower case, full-width, with spaces ("gd2026 1122 …", "138 1234 5678").
        let number: String = kefu_domain::validate::fold_width(number)
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_uppercase();
        let Ok(phone) = kefu_domain::validate::Phone::parse(phone, "phone") else { return Ok(None) };
        if !kefu_domain::ticket::looks_like_number(&number) {
            return Ok(None);
        }
        let t = match self.store.ticket(TicketKey::Number(number)).await? {
            Some(t) if t.customer.phone == phone => t,
            _ => return Ok(None),
        };
        let expires = self.now() + Duration::hours(1);
        Ok(Some(self.core.settings.link_key.sign_lookup(t.id, expires)))
    }

    /// The customer's answer through a signed link: confirm, appeal or the
    /// survey, checked by the flow like any other action.
    pub async fn customer_action(
        &self,
        token: &str,
        body: &serde_json::Map<String, Value>,
    ) -> Result<Ticket, ApiError> {
        let (t, kind) =
            self.ticket_and_link(token).await.map_err(|_| ApiError::NotFound { what: "link", what_zh: "链接" })?;
        let request = ActionRequest::parse(body)?;
        if !matches!(request.kind, ActionKind::Confirm | ActionKind::Appeal | ActionKind::ReturnVisit) {
            return Err(ApiError::Forbidden {
                reason: "customers may confirm, appeal or answer the survey only".into(),
                reason_zh: "客户只能确认、申诉或填写满意度调查".into(),
            });
        }
        self.act_as(&customer_actor(kind), &t, request).await
    }

    /// Return-visit figures per team and in total over resolutions in
    /// `[from, to)`, against the policy's coverage target.
    pub async fn visit_report(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Value, ApiError> {
        let policy = &self.core.policy.customer_loop;
        let rows = self.store.visit_counts(from, to, policy.satisfied_at).await?;
        let org = self.org().await?;
        let mut total = VisitCounts::default();
        let mut teams = Vec::new();
        for r in &rows {
            let team = r.team.and_then(|id| org.teams.iter().find(|t| t.id == id));
            let mut v = figures(r, policy.coverage_target);
            v["team"] = json!(team.map(|t| json!({"id": t.id, "code": t.code, "name": t.name})));
            teams.push(v);
            add(&mut total, r);
        }
        Ok(json!({
            "from": from, "to": to,
            "coverage_target": policy.coverage_target,
            "satisfied_at": policy.satisfied_at,
            "total": figures(&total, policy.coverage_target),
            "teams": teams,
        }))
    }
}

fn add(total: &mut VisitCounts, r: &VisitCounts) {
    total.resolved += r.resolved;
    total.visited += r.visited;
    total.unreachable += r.unreachable;
    total.rated += r.rated;
    total.rating_sum += r.rating_sum;
    total.satisfied += r.satisfied;
    total.nps_answers += r.nps_answers;
    total.promoters += r.promoters;
    total.detractors += r.detractors;
    total.late += r.late;
}

fn ratio(a: i64, b: i64) -> Option<f64> {
    (b > 0).then(|| (a as f64 / b as f64 * 10_000.0).round() / 10_000.0)
}

/// Coverage = visited / resolved; unreachable visits are counted apart and
/// do not cover. NPS = % promoters − % detractors.
fn figures(r: &VisitCounts, target: f64) -> Value {
    let coverage = ratio(r.visited, r.resolved);
    json!({
        "resolved": r.resolved,
        "visited": r.visited,
        "unreachable": r.unreachable,
        "coverage": coverage,
        "meets_target": coverage.map(|c| c >= target),
        "rated": r.rated,
        "satisfaction_avg": ratio(r.rating_sum, r.rated),
        "satisfied_rate": ratio(r.satisfied, r.rated),
        "late": r.late,
        "on_time_rate": ratio(r.resolved - r.late, r.resolved),
        "nps": (r.nps_answers > 0).then(|| ((r.promoters - r.detractors) as f64 * 100.0 / r.nps_answers as f64).round()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_and_nps_figures() {
        let r = VisitCounts {
            resolved: 10,
            visited: 8,
            unreachable: 1,
            rated: 8,
            rating_sum: 36,
            satisfied: 7,
            nps_answers: 4,
            promoters: 2,
            detractors: 1,
            ..Default::default()
        };
        let f = figures(&r, 0.8);
        assert_eq!(f["coverage"], json!(0.8));
        assert_eq!(f["meets_target"], json!(true));
        assert_eq!(f["satisfaction_avg"], json!(4.5));
        assert_eq!(f["satisfied_rate"], json!(0.875));
        assert_eq!(f["nps"], json!(25.0));
        let none = figures(&VisitCounts::default(), 0.8);
        assert!(none["coverage"].is_null() && none["meets_target"].is_null());
    }
}
