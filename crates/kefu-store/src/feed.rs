//! The search feed of the store: what changed, in commit-independent
//! (updated_at, id) order, so each node's ticket index follows every write
//! without a second write on the request's path (the only cost to a write
//! is one entry in the `(updated_at, id)` index); and the ids among a set
//! of search hits that pass a list filter.

use crate::{StoreResult, TicketFilter};
use chrono::{DateTime, Utc};
use kefu_domain::TicketId;
use kefu_domain::ticket::Ticket;
use std::future::Future;

/// A place in the feed: a ticket as of its last change. The feed is
/// ordered by (updated_at, id); `rev` counts the ticket's changes, so two
/// changes within one tick of the clock are told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FeedMark {
    pub updated_at: DateTime<Utc>,
    pub id: TicketId,
    pub rev: i64,
}

/// What the search index takes of a ticket: the record and its
/// customer-visible replies (internal notes stay out).
#[derive(Debug, Clone)]
pub struct TicketText {
    pub ticket: Ticket,
    pub replies: Vec<String>,
}

pub trait FeedStore: Clone + Send + Sync + 'static {
    /// Tickets changed after `after` in (updated_at, id) order, oldest
    /// first, at most `limit` (read from the index alone).
    fn ticket_changes(&self, after: FeedMark, limit: u32) -> impl Future<Output = StoreResult<Vec<FeedMark>>> + Send;
    /// The texts of these tickets (those that still exist), in id order.
    fn ticket_texts(&self, ids: Vec<TicketId>) -> impl Future<Output = StoreResult<Vec<TicketText>>> + Send;
    /// The ids among `filter.ids` that pass the rest of the filter
    /// (paging and order ignored): search hits under the list's filters
    /// and the caller's access rules.
    fn passing_ids(&self, filter: TicketFilter) -> impl Future<Output = StoreResult<Vec<TicketId>>> + Send;
}
