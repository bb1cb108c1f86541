//! Hot issues of a period: the ticket types registered most and
//! the words customers' titles use most, against the period of the same
//! length before, rising ones first — what a supervisor looks at to see a
//! problem growing before it becomes an incident. Types come from the
//! rollups; words from the titles of up to `SAMPLE` tickets of each
//! period (the newest), cut by the search analysis with the telecom
//! lexicon, each word counted once per ticket.

use super::*;
use crate::error::ApiError;
use crate::service::kpi::KpiRequest;
use chrono::{Duration, NaiveDate};
use kefu_domain::flow::Actor;
use kefu_domain::kpi::GroupBy;
use kefu_domain::time::shanghai_at;
use kefu_store::*;
use std::collections::HashMap;

/// Tickets read per period for the words.
const SAMPLE: u32 = 2_000;

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct HotItem {
    pub key: String,
    pub label: String,
    /// Tickets in the period.
    pub n: i64,
    /// Tickets in the period before.
    pub previous: i64,
    /// `n - previous` (of the words: per the same sample size).
    pub change: i64,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct HotIssues {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub previous_from: NaiveDate,
    pub previous_to: NaiveDate,
    pub categories: Vec<HotItem>,
    pub keywords: Vec<HotItem>,
}

fn rising(mut items: Vec<HotItem>, limit: usize) -> Vec<HotItem> {
    items.sort_by(|a, b| b.change.cmp(&a.change).then(b.n.cmp(&a.n)).then(a.key.cmp(&b.key)));
    items.truncate(limit);
    items
}

impl<S: Store> Kefu<S> {
    /// Hot issues of `from..=to` for what `who` may see.
    pub async fn hot_issues(
        &self,
        who: &Actor,
        (from, to): (NaiveDate, NaiveDate),
        filter: DimFilter,
        limit: usize,
    ) -> Result<HotIssues, ApiError> {
        let days = (to - from).num_days() + 1;
        let (pfrom, pto) = (from - Duration::days(days), from - Duration::days(1));
        let filter = self.kpi_scope(who, filter).await?;
        // Registered tickets by type: the transfer rate counts them.
        let by_type = |from, to| KpiRequest {
            metric: "transfer_rate".into(),
            group_by: GroupBy::Type,
            from,
            to,
            filter: filter.clone(),
        };
        let now = self.kpi_report(by_type(from, to)).await?;
        let before = self.kpi_report(by_type(pfrom, pto)).await?;
        let mut categories: Vec<HotItem> = now
            .items
            .iter()
            .map(|i| {
                let previous = before.items.iter().find(|b| b.key == i.key).map_or(0, |b| b.n);
                HotItem { key: i.key.clone(), label: i.label.clone(), n: i.n, previous, change: i.n - previous }
            })
            .collect();
        for b in before.items.iter().filter(|b| !now.items.iter().any(|i| i.key == b.key)) {
            categories.push(HotItem { key: b.key.clone(), label: b.label.clone(), n: 0, previous: b.n, change: -b.n });
        }
        let (words_now, sample_now) = self.title_words(who, &filter, (from, to)).await?;
        let (words_before, sample_before) = self.title_words(who, &filter, (pfrom, pto)).await?;
        // The earlier period's counts scaled to the later sample's size.
        let scale = if sample_before > 0 { sample_now as f64 / sample_before as f64 } else { 0.0 };
        let keywords = words_now
            .iter()
            .filter(|(_, n)| **n >= 2)
            .map(|(w, n)| {
                let previous = (*words_before.get(w).unwrap_or(&0) as f64 * scale).round() as i64;
                HotItem { key: w.clone(), label: w.clone(), n: *n, previous, change: n - previous }
            })
            .collect();
        Ok(HotIssues {
            from,
            to,
            previous_from: pfrom,
            previous_to: pto,
            categories: rising(categories, limit),
            keywords: rising(keywords, limit),
        })
    }

    /// Words of the titles of the newest tickets of a period, each counted
    /// once per ticket, and how many tickets were read.
    async fn title_words(
        &self,
        who: &Actor,
        filter: &DimFilter,
        (from, to): (NaiveDate, NaiveDate),
    ) -> Result<(HashMap<String, i64>, usize), ApiError> {
        let f = TicketFilter {
            created_from: Some(shanghai_at(from, 0)),
            // The list's upper bound is inclusive.
            created_to: Some(shanghai_at(to + Duration::days(1), 0) - Duration::microseconds(1)),
            team: filter.team,
            first_owner: filter.agent,
            channel: filter.channel,
            ticket_type: filter.ticket_type,
            priority: filter.priority,
            visible: self.visibility(who),
            page: 1,
            per_page: SAMPLE,
            ..Default::default()
        };
        let page = self.store.list_tickets(f).await?;
        let lexicon = kefu_search::Lexicon::shipped();
        let mut counts: HashMap<String, i64> = HashMap::new();
        for t in &page.items {
            let text = kefu_search::lexicon::normalize(&t.title);
            let mut seen: Vec<&str> = lexicon.words(&text).into_iter().filter(|w| w.chars().count() >= 2).collect();
            seen.extend(lexicon.terms_in(&text));
            seen.sort_unstable();
            seen.dedup();
            for w in seen {
                *counts.entry(w.to_string()).or_default() += 1;
            }
        }
        Ok((counts, page.items.len()))
    }
}
