//! The smart first line's capability of the store: conversations
//! (kept encrypted: customers type their numbers and addresses into them)
//! and the editors' queue of questions the knowledge base did not answer.

use crate::StoreResult;
use chrono::{DateTime, Utc};
use kefu_domain::bot::Session;
use serde::Serialize;
use std::future::Future;

/// Why a question is in the editors' queue.
pub const MISS_KINDS: &[&str] = &["no_match", "unsure", "not_helpful"];

/// A question the knowledge base did not answer well, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewMiss {
    /// `no_match`, `unsure` or `not_helpful`.
    pub kind: String,
    /// What the customer asked (or, for a vote, the reason given).
    pub text: String,
    /// The article concerned: voted on, or the bot's best guess.
    pub code: Option<String>,
    /// The question's words, rarest first: what the queue clusters by.
    pub keywords: Vec<String>,
    pub session_id: Option<String>,
    pub at: DateTime<Utc>,
}

/// A recorded miss with its place in the queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Miss {
    pub id: i64,
    #[serde(flatten)]
    pub miss: NewMiss,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    /// What the editor did (`similar:KB-001`, `draft:KB-061`, `dismissed`).
    pub resolution: Option<String>,
}

pub trait BotStore: Clone + Send + Sync + 'static {
    /// `Conflict { bot_sessions_pkey }` if the id exists.
    fn create_bot_session(&self, session: Session) -> impl Future<Output = StoreResult<()>> + Send;
    fn bot_session(&self, id: String) -> impl Future<Output = StoreResult<Option<Session>>> + Send;
    /// Saves the session if its stored version still has `read_turns`
    /// turns (nobody added one since it was read); false if someone did.
    fn save_bot_session(&self, session: Session, read_turns: u32) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Deletes sessions last used before `before`; returns how many.
    fn purge_bot_sessions(&self, before: DateTime<Utc>) -> impl Future<Output = StoreResult<u64>> + Send;
    fn add_miss(&self, miss: NewMiss) -> impl Future<Output = StoreResult<i64>> + Send;
    /// Open misses (none resolved), newest first, at most `limit`.
    fn open_misses(&self, limit: u32) -> impl Future<Output = StoreResult<Vec<Miss>>> + Send;
    /// The misses of `ids` that are still open, newest first.
    fn open_misses_by_id(&self, ids: Vec<i64>) -> impl Future<Output = StoreResult<Vec<Miss>>> + Send;
    /// Marks the open ones of these misses resolved; returns how many.
    fn resolve_misses(
        &self,
        ids: Vec<i64>,
        by: String,
        resolution: String,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
}
