//! The reviewer queue: the cycle's sample — mandatory kinds and a
//! random draw per agent (`kefu_domain::sampling`) over the resolved
//! tickets the KPI job has counted — with what is reviewed, coverage, each
//! reviewer against the goal; and the automatic pre-checks a reviewer sees
//! beside a ticket (flags for a human, never a deduction).

use super::*;
use crate::error::ApiError;
use kefu_domain::UserId;
use kefu_domain::quality::Cycle;
use kefu_domain::sampling::{Candidate, Reason, forbidden_in, sample};
use kefu_domain::ticket::Ticket;
use kefu_store::*;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct QueueItem {
    pub ticket: i64,
    pub number: String,
    pub title: String,
    pub agent: String,
    pub agent_name: String,
    pub reasons: Vec<Reason>,
    pub reasons_zh: Vec<&'static str>,
    /// The review made of it (id, score), if any.
    pub review: Option<(i64, f64)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReviewerLoad {
    pub reviewer: String,
    pub name: String,
    pub reviews: usize,
    pub goal: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Queue {
    pub period: String,
    pub sampled: usize,
    pub reviewed: usize,
    /// Reviewed among sampled (0–1); null with nothing sampled.
    pub coverage: Option<f64>,
    pub items: Vec<QueueItem>,
    pub reviewers: Vec<ReviewerLoad>,
}

/// A pre-check's finding.
#[derive(Debug, Clone, Serialize)]
pub struct Flag {
    pub code: &'static str,
    pub label_zh: String,
    pub label_en: String,
}

impl<S: Store> Kefu<S> {
    /// Marks the complaints that name a regulator: only complaints are read
    /// (the kept facts do not hold the text), in batches.
    async fn mark_regulator_complaints(&self, mut list: Vec<Candidate>) -> Result<Vec<Candidate>, ApiError> {
        let policy = &self.core.policy.quality.sampling;
        if policy.regulator_words.is_empty() || !policy.mandatory.contains(&kefu_domain::sampling::Reason::Regulator) {
            return Ok(list);
        }
        let complaints: Vec<kefu_domain::TicketId> = list.iter().filter(|c| c.complaint).map(|c| c.ticket).collect();
        let mut naming = std::collections::BTreeSet::new();
        for chunk in complaints.chunks(500) {
            for t in self.store.ticket_texts(chunk.to_vec()).await? {
                let text = format!("{}\n{}", t.ticket.title, t.ticket.description);
                if kefu_domain::sampling::names_regulator(policy, &text) {
                    naming.insert(t.ticket.id);
                }
            }
        }
        for c in &mut list {
            c.regulator = naming.contains(&c.ticket);
        }
        Ok(list)
    }

    /// The cycle's sample and how far its review has come.
    pub async fn review_queue(&self, cycle: Cycle) -> Result<Queue, ApiError> {
        let (from, to) = cycle.days();
        let policy = &self.core.policy.quality.sampling;
        let in_cycle = |at: chrono::DateTime<chrono::Utc>| {
            let d = kefu_domain::time::shanghai_date(at);
            from <= d && d <= to
        };
        let candidates: Vec<Candidate> = self
            .store
            .facts_between(from, to, None)
            .await?
            .into_iter()
            .filter(|k| !k.facts.withdrawn && !k.facts.merged && k.facts.resolved_at.is_some_and(in_cycle))
            .filter_map(|k| {
                Some(Candidate {
                    ticket: k.ticket,
                    agent: k.facts.resolver?,
                    team: k.dims.team,
                    complaint: k.facts.complaint,
                    regulator: false,
                    reopened: k.facts.reopened,
                    appealed: k.facts.appealed,
                    rating: k.facts.rating,
                    breached: k.facts.breached,
                })
            })
            .collect();
        let candidates = self.mark_regulator_complaints(candidates).await?;
        let org = self.org().await?;
        let drawn = sample(policy, &cycle.to_string(), &candidates, |t| org.team(t).map(|t| t.code.clone()));
        // Reviews of these tickets, whatever cycle they were filed under.
        let mut reviewed: BTreeMap<kefu_domain::TicketId, (i64, f64)> = BTreeMap::new();
        let mut per_reviewer: BTreeMap<UserId, usize> = BTreeMap::new();
        // A sampled ticket was resolved in the cycle, so its review was made
        // since the cycle began: older reviews need not be read.
        let f = EvaluationFilter {
            kind: Some(EvaluationKind::Review),
            created_from: Some(kefu_domain::time::shanghai_at(from, 0)),
            ..Default::default()
        };
        for e in self.store.evaluations(f).await? {
            if in_cycle(e.created_at) {
                *per_reviewer.entry(e.reviewer).or_default() += 1;
            }
            if let Some(t) = e.ticket {
                reviewed.insert(t, (e.id, e.score));
            }
        }
        let ids: Vec<kefu_domain::TicketId> = drawn.iter().map(|d| d.ticket).collect();
        let tickets = self.tickets_by_id(ids).await?;
        let items: Vec<QueueItem> = drawn
            .into_iter()
            .filter_map(|d| {
                let t = tickets.get(&d.ticket)?;
                let u = org.user(d.agent);
                Some(QueueItem {
                    ticket: t.id.0,
                    number: t.number.clone(),
                    title: t.title.clone(),
                    agent: u.map_or_else(String::new, |u| u.username.clone()),
                    agent_name: u.map_or_else(String::new, |u| u.display_name.clone()),
                    reasons_zh: d.reasons.iter().map(|r| r.label().0).collect(),
                    reasons: d.reasons,
                    review: reviewed.get(&d.ticket).copied(),
                })
            })
            .collect();
        let done = items.iter().filter(|i| i.review.is_some()).count();
        let reviewers = org
            .users
            .iter()
            .filter(|u| u.active && matches!(u.role, kefu_domain::Role::Inspector | kefu_domain::Role::Supervisor))
            .map(|u| ReviewerLoad {
                reviewer: u.username.clone(),
                name: u.display_name.clone(),
                reviews: per_reviewer.get(&u.id).copied().unwrap_or(0),
                goal: policy.goal_per_reviewer,
            })
            .collect();
        Ok(Queue {
            period: cycle.to_string(),
            sampled: items.len(),
            reviewed: done,
            coverage: (!items.is_empty()).then(|| done as f64 / items.len() as f64),
            items,
            reviewers,
        })
    }

    async fn tickets_by_id(
        &self,
        ids: Vec<kefu_domain::TicketId>,
    ) -> Result<BTreeMap<kefu_domain::TicketId, Ticket>, ApiError> {
        let mut out = BTreeMap::new();
        for chunk in ids.chunks(500) {
            let f = TicketFilter { ids: Some(chunk.to_vec()), page: 1, per_page: 500, ..Default::default() };
            for t in self.store.list_tickets(f).await?.items {
                out.insert(t.id, t);
            }
        }
        Ok(out)
    }

    /// What a reviewer should look at on a ticket: forbidden phrases in
    /// customer-visible replies or the result, missed deadlines, a result
    /// the customer was never told.
    pub async fn prechecks(&self, t: &Ticket) -> Result<Vec<Flag>, ApiError> {
        let policy = &self.core.policy.quality.sampling;
        let mut flags = Vec::new();
        let replies = self.store.comments(t.id).await?;
        let texts = replies.iter().filter(|c| !c.internal).map(|c| c.body.as_str()).chain(t.result.as_deref());
        // Each phrase once, however many replies hold it.
        let words: Vec<&str> = texts
            .flat_map(|x| forbidden_in(policy, x))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if !words.is_empty() {
            flags.push(Flag {
                code: "forbidden_words",
                label_zh: format!("答复中含服务禁语：{}", words.join("、")),
                label_en: format!("Forbidden phrases in replies: {}", words.join(", ")),
            });
        }
        let now = self.now();
        for d in &t.deadlines {
            let late = d.met_at.map_or(now > d.due_at && d.phase == kefu_domain::sla::Phase::Running, |m| m > d.due_at);
            if late {
                flags.push(Flag {
                    code: "late",
                    label_zh: format!("超时：{}", d.label_zh),
                    label_en: format!("Deadline missed: {}", d.kind),
                });
            }
        }
        if t.resolved_at.is_some() {
            let told = self
                .store
                .messages(t.id)
                .await?
                .iter()
                .any(|m| matches!(m.kind.as_str(), "result" | "unsubscribe_confirmation"));
            if !told {
                flags.push(Flag {
                    code: "no_result_notice",
                    label_zh: "办结后未向客户发送处理结果".into(),
                    label_en: "The customer was not told the result".into(),
                });
            }
        }
        Ok(flags)
    }
}
