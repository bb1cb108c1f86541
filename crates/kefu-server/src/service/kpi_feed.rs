//! The rollup job: follows the store's ticket change feed and keeps
//! each ticket's facts and the KPI cells current, one transaction per
//! batch. Nothing is added to intake or any other write: the feed is read
//! from the `(updated_at, id)` index the search already follows. A batch
//! is applied only if the job's mark did not move meanwhile, so a node
//! that lost the lease cannot count a change twice; a re-read change with
//! the revision already counted is skipped.

use super::*;
use crate::error::ApiError;
use chrono::{DateTime, Utc};
use kefu_domain::facts::{Rules, facts};
use kefu_domain::rollup::{Cell, Dims, Key, delta};
use kefu_domain::ticket::Ticket;
use kefu_domain::{CustomerId, TicketId, TicketType};
use kefu_store::*;
use std::collections::{BTreeMap, HashMap};

/// Tickets read per batch of the feed.
const BATCH: u32 = 500;

/// The batch being computed: every kept facts it changed (so a later
/// ticket of the batch sees them) and the cells' change so far.
#[derive(Default)]
struct Pending {
    changed: HashMap<TicketId, KeptFacts>,
    cells: BTreeMap<Key, Cell>,
}

impl Pending {
    /// Replaces `old` by `new` (the same ticket) in the batch.
    fn replace(&mut self, old: Option<&KeptFacts>, new: KeptFacts) {
        let d = delta(old.map(|o| (&o.facts, &o.dims)), Some((&new.facts, &new.dims)));
        for (k, c) in d {
            self.cells.entry(k).or_default().add(&c, 1);
        }
        self.changed.insert(new.ticket, new);
    }

    /// A customer's tickets of one type as stored, with this batch's
    /// changes (tickets first counted in this batch too).
    fn overlay(&self, stored: Vec<KeptFacts>, customer: CustomerId, ticket_type: TicketType) -> Vec<KeptFacts> {
        let mut out: Vec<KeptFacts> =
            stored.into_iter().map(|k| self.changed.get(&k.ticket).cloned().unwrap_or(k)).collect();
        for k in self.changed.values() {
            if k.customer == customer && k.dims.ticket_type == ticket_type && !out.iter().any(|o| o.ticket == k.ticket)
            {
                out.push(k.clone());
            }
        }
        out
    }
}

fn dims(t: &Ticket) -> Dims {
    Dims {
        channel: t.channel,
        ticket_type: t.ticket_type,
        priority: t.priority,
        team: t.team,
        first_owner: t.first_owner,
        created_at: t.created_at,
    }
}

impl<S: Store> Kefu<S> {
    /// Reads the feed from the job's mark to its end and counts what
    /// changed. Returns how many tickets were (re)counted, or None when
    /// another node moved the mark meanwhile (it is counting them).
    pub async fn kpi_catch_up(&self) -> Result<Option<usize>, ApiError> {
        let settle = chrono::Duration::seconds(self.core.policy.search.feed_settle_seconds as i64);
        let mut mark = self.store.kpi_mark().await?;
        let mut after = FeedMark { updated_at: mark.settled.unwrap_or(DateTime::UNIX_EPOCH), id: TicketId(0), rev: 0 };
        let mut counted = 0;
        loop {
            let changes = self.store.ticket_changes(after, BATCH).await?;
            let Some(last) = changes.last().copied() else { break };
            after = last;
            let kept: HashMap<TicketId, KeptFacts> = self
                .store
                .kept_facts(changes.iter().map(|m| m.id).collect())
                .await?
                .into_iter()
                .map(|k| (k.ticket, k))
                .collect();
            let mut pending = Pending::default();
            for m in &changes {
                if kept.get(&m.id).is_some_and(|k| k.rev == m.rev) {
                    continue;
                }
                counted += self.count_ticket(*m, &mut pending).await? as usize;
            }
            // Everything changed before `settle` ago has been read for good.
            let settled = mark.settled.unwrap_or(DateTime::UNIX_EPOCH).max(last.updated_at - settle);
            let cells = kefu_domain::kpi::at_every_grain(&pending.cells);
            let batch = KpiBatch {
                expected: mark,
                settled: Some(settled),
                facts: pending.changed.into_values().collect(),
                cells: cells.into_iter().map(|((g, k), c)| (g, k, c)).collect(),
            };
            if !self.store.apply_kpi(batch).await? {
                return Ok(None);
            }
            mark = KpiMark { settled: Some(settled), version: mark.version + 1 };
            if changes.len() < BATCH as usize {
                break;
            }
        }
        Ok(Some(counted))
    }

    /// Recomputes one ticket's facts into `pending`, with the repeat
    /// contacts it makes or meets. False if the ticket is gone. The facts
    /// keep the revision the feed showed: if the ticket changed since, the
    /// feed shows it again and it is counted again.
    async fn count_ticket(&self, mark: FeedMark, pending: &mut Pending) -> Result<bool, ApiError> {
        let (id, rev) = (mark.id, mark.rev);
        let Some(ticket) = self.store.ticket(TicketKey::Id(id)).await? else { return Ok(false) };
        let events = self.store.events(id).await?;
        let core = &self.core;
        let rules = Rules {
            dictionary: &core.settings.metrics,
            policy: &core.policy,
            calendar: &core.calendar,
            flows: &core.flows,
        };
        let mut new = facts(&ticket, &events, &rules, self.now());
        let (customer, ticket_type) = (ticket.customer.id, ticket.ticket_type);
        let siblings = pending.overlay(self.store.customer_facts(customer, ticket_type).await?, customer, ticket_type);
        let old = siblings.iter().find(|k| k.ticket == id).cloned();
        if let Some(o) = &old {
            // A duration once counted keeps its calendar.
            new.keep_durations(&o.facts.spans);
        }
        let window = chrono::Duration::days(i64::from(core.policy.reports.repeat_contact_days));
        let within = |resolved: Option<DateTime<Utc>>, created: DateTime<Utc>| {
            resolved.is_some_and(|r| created > r && created <= r + window)
        };
        let repeated = siblings.iter().any(|s| s.ticket != id && within(new.resolved_at, s.dims.created_at));
        new.first_contact &= !repeated;
        let dims = dims(&ticket);
        // Earlier tickets this one repeats lose their first-contact resolution.
        for s in &siblings {
            if s.ticket != id && !s.repeated && within(s.facts.resolved_at, dims.created_at) {
                let mut repeat = s.clone();
                repeat.repeated = true;
                repeat.facts.first_contact = false;
                pending.replace(Some(s), repeat);
            }
        }
        let kept = KeptFacts { ticket: id, rev, customer: ticket.customer.id, facts: new, dims, repeated };
        pending.replace(old.as_ref(), kept);
        Ok(true)
    }
}
