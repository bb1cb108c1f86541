//! The knowledge base capability of the store: articles with every
//! version kept, and a change feed (a revision number per write, deletions
//! as tombstones) the search indexes follow.

use crate::{Page, StoreResult};
use kefu_domain::kb::{Article, ArticleSpec, ArticleStatus};
use std::future::Future;

/// One write of the knowledge base, in the order they were made.
#[derive(Debug, Clone, PartialEq)]
pub struct KbChange {
    pub rev: i64,
    pub code: String,
    /// The article as written; None: deleted.
    pub article: Option<Article>,
}

/// A vote on an article.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Feedback {
    pub helpful: bool,
    pub reason: Option<String>,
    /// `staff` or `customer`.
    pub source: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// The votes on an article: counts and the latest ones.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeedbackSummary {
    pub helpful: i64,
    pub not_helpful: i64,
    pub latest: Vec<Feedback>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArticleFilter {
    pub category: Option<String>,
    pub status: Option<ArticleStatus>,
    pub page: u32,
    pub per_page: u32,
}

pub trait KbStore: Clone + Send + Sync + 'static {
    /// Version 1. `Conflict { kb_articles_pkey }` if the code exists (or existed).
    fn create_article(
        &self,
        spec: ArticleSpec,
        by: String,
        now: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = StoreResult<Article>> + Send;
    /// The next version; the one before stays in the history. `NotFound` if none.
    fn update_article(
        &self,
        spec: ArticleSpec,
        by: String,
        now: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = StoreResult<Article>> + Send;
    /// Removes the article (its history stays); `NotFound` if none.
    fn delete_article(&self, code: String) -> impl Future<Output = StoreResult<()>> + Send;
    fn article(&self, code: String) -> impl Future<Output = StoreResult<Option<Article>>> + Send;
    /// The articles of these codes that exist, in no particular order (one query).
    fn articles_by_code(&self, codes: Vec<String>) -> impl Future<Output = StoreResult<Vec<Article>>> + Send;
    /// By code.
    fn articles(&self, filter: ArticleFilter) -> impl Future<Output = StoreResult<Page<Article>>> + Send;
    /// Every version of an article, oldest first (a deleted one's too).
    fn article_versions(&self, code: String) -> impl Future<Output = StoreResult<Vec<Article>>> + Send;
    /// Records a vote; `NotFound` if the article does not exist.
    fn add_feedback(&self, code: String, vote: Feedback) -> impl Future<Output = StoreResult<()>> + Send;
    /// Counts and the `latest` most recent votes, newest first.
    fn feedback(&self, code: String, latest: u32) -> impl Future<Output = StoreResult<FeedbackSummary>> + Send;
    /// The administrators' lexicon entries and their revision (0: none yet).
    fn lexicon(&self) -> impl Future<Output = StoreResult<(kefu_domain::kb::LexiconEntries, i64)>> + Send;
    /// Replaces them; returns the new revision.
    fn set_lexicon(
        &self,
        entries: kefu_domain::kb::LexiconEntries,
        by: String,
        now: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = StoreResult<i64>> + Send;
    /// Writes after revision `after`, oldest first, at most `limit`.
    fn kb_changes(&self, after: i64, limit: u32) -> impl Future<Output = StoreResult<Vec<KbChange>>> + Send;
}
