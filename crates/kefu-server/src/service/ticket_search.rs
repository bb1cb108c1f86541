//! Ticket search (R-50, the `q` of the ticket list): this node's ticket
//! index, filled from the store's change feed — never written on a
//! request's path (a write only bumps a counter). A search first reads the
//! feed when this node wrote since it last did, or when its view is older
//! than the policy allows (writes of other nodes); `kefu serve` also
//! follows the feed in the background. The index ranks every match; the
//! list's other filters and the caller's access rules are then applied by
//! the store to the best `ticket_candidates` of them.

use super::kb::search_error;
use super::*;
use crate::error::ApiError;
use crate::search::{Kind, TicketFeed};
use chrono::{DateTime, Utc};
use kefu_domain::TicketId;
use kefu_domain::ticket::Ticket;
use kefu_search::{Doc, Mode, SearchIndex};
use kefu_store::*;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Changes read from the feed per round trip.
const BATCH: u32 = 2000;
/// How often a node compares its index's size with the store's (tickets
/// purged by retention on another node leave documents behind).
const RECONCILE: std::time::Duration = std::time::Duration::from_secs(600);

/// Where a ticket matched a search.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Found {
    pub score: f32,
    /// Around the first match; `highlights` are byte ranges of it.
    pub snippet: String,
    pub highlights: Vec<(usize, usize)>,
}

/// A page of the ticket list; with a text query, in rank order, with where
/// each ticket matched.
pub struct Listed {
    pub page: Page<Ticket>,
    pub found: HashMap<TicketId, Found>,
}

/// What the index takes of a ticket: title; description, result and the
/// customer-visible replies; the customer's name and the number (an agent
/// looks people up by name — phone and ID numbers are cut out by the index).
fn doc(t: &TicketText) -> Doc {
    let k = &t.ticket;
    let mut body = vec![k.description.as_str()];
    body.extend(k.result.as_deref());
    body.extend(t.replies.iter().map(String::as_str));
    Doc {
        key: k.id.0.to_string(),
        title: k.title.clone(),
        body: body.join("\n"),
        extra: format!("{} {}", k.customer.name, k.number),
    }
}

fn joined<T>(r: Result<T, tokio::task::JoinError>) -> Result<T, ApiError> {
    r.map_err(|e| ApiError::Internal(e.to_string()))
}

fn epoch() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH
}

impl<S: Store> Kefu<S> {
    /// The ticket list: through the index when the filter has a text query
    /// (ranked, snippets), straight from the store otherwise.
    pub async fn list_tickets(&self, f: TicketFilter) -> Result<Listed, ApiError> {
        let Some(q) = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()).map(String::from) else {
            let page = self.store.list_tickets(TicketFilter { q: None, ..f }).await?;
            return Ok(Listed { page, found: HashMap::new() });
        };
        let index = self.ticket_index_fresh().await?;
        let cap = self.core.policy.search.ticket_candidates.max(1) as usize;
        let (page, per_page) = (f.page.max(1), f.per_page.max(1));
        // Nothing but the text to match: the index alone answers, ranking
        // only as far as this page (and counting up to the cap); other
        // filters and need to know are applied to the best `cap`.
        let alone = self.text_only(&f);
        let k = if alone { (page * per_page) as usize } else { cap };
        let (idx, text) = (index.clone(), q.clone());
        let (hits, counted) =
            joined(tokio::task::spawn_blocking(move || idx.rank_counted(&text, Mode::AllWords, k, cap)).await)?
                .map_err(search_error)?;
        let (ranked, total) = match alone {
            true => (hits.into_iter().map(|(k, s)| (TicketId(k as i64), s)).collect::<Vec<_>>(), counted as i64),
            false => {
                let ranked = self.passing_hits(hits, &f).await?;
                let n = ranked.len() as i64;
                (ranked, n)
            }
        };
        let shown: Vec<(TicketId, f32)> =
            ranked.into_iter().skip(((page - 1) * per_page) as usize).take(per_page as usize).collect();
        let want: Vec<TicketId> = shown.iter().map(|(id, _)| *id).collect();
        let items = self.tickets_in_order(&want).await?;
        // Snippets for the page only: each reads one stored document.
        let found = joined(
            tokio::task::spawn_blocking(move || -> Result<HashMap<TicketId, Found>, kefu_search::SearchError> {
                let mut found = HashMap::new();
                for (id, score) in shown {
                    let (snippet, highlights) = index.snippet(&q, &id.0.to_string())?.unwrap_or_default();
                    found.insert(id, Found { score, snippet, highlights });
                }
                Ok(found)
            })
            .await,
        )?
        .map_err(search_error)?;
        Ok(Listed { page: Page { items, total, page, per_page }, found })
    }

    /// The hits (ticket id, score) that pass the filter's other conditions
    /// and need to know, in rank order.
    pub(super) async fn passing_hits(
        &self,
        hits: Vec<(u64, f32)>,
        f: &TicketFilter,
    ) -> Result<Vec<(TicketId, f32)>, ApiError> {
        let ids: Vec<TicketId> = hits.iter().map(|(k, _)| TicketId(*k as i64)).collect();
        let rest = TicketFilter { q: None, after: None, ids: Some(ids.clone()), ..f.clone() };
        let pass: HashSet<TicketId> = match self.text_only(f) {
            true => ids.into_iter().collect(),
            false => self.store.passing_ids(rest).await?.into_iter().collect(),
        };
        Ok(hits.into_iter().map(|(k, score)| (TicketId(k as i64), score)).filter(|(id, _)| pass.contains(id)).collect())
    }

    /// Whether the list asks for nothing but the text (a supervisor's
    /// search box): every hit is a ticket of the store (purged ones leave
    /// the index), so the store is asked only for the page.
    fn text_only(&self, f: &TicketFilter) -> bool {
        let rest =
            TicketFilter { q: None, after: None, ids: None, page: 0, per_page: 0, due_first: false, ..f.clone() };
        rest == TicketFilter::default()
    }

    /// The tickets of `ids` that exist, in that order.
    pub(super) async fn tickets_in_order(&self, ids: &[TicketId]) -> Result<Vec<Ticket>, ApiError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let only = TicketFilter { ids: Some(ids.to_vec()), page: 1, per_page: ids.len() as u32, ..Default::default() };
        let mut items = self.store.list_tickets(only).await?.items;
        items.sort_by_key(|t| ids.iter().position(|id| *id == t.id));
        Ok(items)
    }

    /// The ticket index, caught up first if this node wrote since it last
    /// read the feed or its view is older than the policy allows.
    pub async fn ticket_index_fresh(&self) -> Result<Arc<SearchIndex>, ApiError> {
        let every = std::time::Duration::from_secs(self.core.policy.search.catch_up_seconds);
        {
            let feed = self.core.search.ticket_feed.lock().await;
            let fresh = feed
                .checked
                .is_some_and(|(at, writes)| at.elapsed() < every && writes == self.core.search.ticket_writes());
            if fresh && let Some((index, _)) = self.core.search.get(Kind::Tickets) {
                return Ok(index);
            }
        }
        Ok(self.ticket_catch_up().await?.0)
    }

    /// Reads the store's ticket feed from the index's mark and indexes what
    /// changed, in batches, each committed with its mark (a crash resumes
    /// there; a lost index is rebuilt from the store). Returns the index
    /// and how many tickets were (re)indexed.
    pub async fn ticket_catch_up(&self) -> Result<(Arc<SearchIndex>, usize), ApiError> {
        let mut feed = self.core.search.ticket_feed.lock().await;
        let (entries, rev) = self.store.lexicon().await?;
        let index = self.core.search.open(Kind::Tickets, &entries, rev).map_err(search_error)?;
        if feed.rev != Some(rev) {
            let settled = index.mark().map_err(search_error)?.and_then(|m| m.parse().ok());
            *feed = TicketFeed { rev: Some(rev), settled, ..Default::default() };
        }
        let mut indexed = self.read_feed(&index, &mut feed).await?;
        if feed.reconciled.is_none_or(|t| t.elapsed() >= RECONCILE) {
            feed.reconciled = Some(std::time::Instant::now());
            let stored = self.store.ticket_count().await?;
            if index.len() > stored as u64 {
                // Tickets purged elsewhere left documents behind: rebuild.
                tracing::info!(indexed = index.len(), stored, "ticket index holds purged tickets; rebuilding it");
                let idx = index.clone();
                joined(tokio::task::spawn_blocking(move || idx.clear()).await)?.map_err(search_error)?;
                *feed = TicketFeed { rev: Some(rev), reconciled: feed.reconciled, ..Default::default() };
                indexed = self.read_feed(&index, &mut feed).await?;
            }
        }
        Ok((index, indexed))
    }

    async fn read_feed(&self, index: &Arc<SearchIndex>, feed: &mut TicketFeed) -> Result<usize, ApiError> {
        // Read before the feed: a write counted after this is read next time.
        let writes = self.core.search.ticket_writes();
        let settle = chrono::Duration::seconds(self.core.policy.search.feed_settle_seconds as i64);
        let mut settled = feed.settled.unwrap_or_else(epoch);
        let mut after = FeedMark { updated_at: settled, id: TicketId(0), rev: 0 };
        let mut indexed = 0;
        loop {
            let marks = self.store.ticket_changes(after, BATCH).await?;
            let Some(last) = marks.last().copied() else { break };
            after = last;
            let todo: Vec<TicketId> =
                marks.iter().filter(|m| feed.recent.get(&m.id) != Some(&(m.updated_at, m.rev))).map(|m| m.id).collect();
            let texts = self.store.ticket_texts(todo.clone()).await?;
            let present: HashSet<TicketId> = texts.iter().map(|t| t.ticket.id).collect();
            let gone: Vec<String> = todo.iter().filter(|id| !present.contains(id)).map(|id| id.0.to_string()).collect();
            let docs: Vec<Doc> = texts.iter().map(doc).collect();
            indexed += docs.len();
            // Everything changed before `settle` ago is in the index for good.
            settled = settled.max(last.updated_at - settle);
            let (idx, mark) = (index.clone(), settled.to_rfc3339());
            joined(tokio::task::spawn_blocking(move || idx.apply(&docs, &gone, Some(&mark))).await)?
                .map_err(search_error)?;
            feed.recent.extend(marks.iter().map(|m| (m.id, (m.updated_at, m.rev))));
            if marks.len() < BATCH as usize {
                break;
            }
        }
        feed.recent.retain(|_, (at, _)| *at >= settled);
        feed.settled = Some(settled);
        feed.checked = Some((std::time::Instant::now(), writes));
        Ok(indexed)
    }

    /// Drops purged tickets from this node's index (the retention job).
    pub async fn forget_tickets(&self, ids: &[TicketId]) -> Result<(), ApiError> {
        let Some((index, _)) = self.core.search.get(Kind::Tickets) else { return Ok(()) };
        let keys: Vec<String> = ids.iter().map(|id| id.0.to_string()).collect();
        // Committed with the mark it has, which a commit without one would drop.
        let forget = move || index.mark().and_then(|m| index.apply(&[], &keys, m.as_deref()));
        joined(tokio::task::spawn_blocking(forget).await)?.map_err(search_error)
    }
}
