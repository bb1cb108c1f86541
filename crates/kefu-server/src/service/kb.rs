//! The knowledge base: articles kept in the store, searched through
//! this node's index, which follows the store's change feed — after each
//! write here, and before a search when its view is older than the policy
//! allows (writes made on other nodes).

use super::*;
use crate::error::ApiError;
use kefu_domain::flow::Actor;
use kefu_domain::kb::{Article, ArticleInput, ArticleStatus};
use kefu_search::{Doc, Hit, Mode};
use kefu_store::*;
use serde::Serialize;

const NOT_FOUND: ApiError = ApiError::NotFound { what: "article", what_zh: "知识库文章" };

/// A found article: its record and where the query matched.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ArticleHit {
    pub code: String,
    pub title: String,
    pub category: String,
    pub status: ArticleStatus,
    pub public: bool,
    /// Around the first match; `highlights` are byte ranges of it.
    pub snippet: String,
    pub highlights: Vec<(usize, usize)>,
    pub score: f32,
    pub version: u32,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// Who is looking: staff see every article (internal, drafts), customers
/// and the bot only public ones in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Staff,
    Customers,
}

#[derive(Debug, Clone, Default)]
pub struct ArticleQuery {
    pub q: Option<String>,
    /// `q` is a sentence someone wrote (a ticket, a customer's question):
    /// any of its words may match, the more the better.
    pub sentence: bool,
    pub category: Option<String>,
    pub status: Option<ArticleStatus>,
    pub page: u32,
    pub per_page: u32,
}

pub(super) fn search_error(e: kefu_search::SearchError) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// An article as the index takes it: similar questions and tags rank like the title.
fn doc(a: &Article) -> Doc {
    Doc {
        key: a.code.clone(),
        title: a.title.clone(),
        body: a.body.clone(),
        extra: [a.similar.join("\n"), a.tags.join(" "), a.category.clone()].join("\n"),
    }
}

impl<S: Store> Kefu<S> {
    pub async fn create_article(&self, actor: &Actor, input: ArticleInput) -> Result<Article, ApiError> {
        let spec = input.parse()?;
        let a = self.store.create_article(spec, actor.username.clone(), self.now()).await?;
        self.kb_catch_up().await?;
        Ok(a)
    }

    /// A change of the article `code` names; what the input leaves out stays.
    pub async fn update_article(
        &self,
        actor: &Actor,
        code: &str,
        mut input: ArticleInput,
    ) -> Result<Article, ApiError> {
        let current = self.article(code).await?;
        if let Some(c) = &input.code
            && kefu_domain::kb::parse_code(c).ok().as_deref() != Some(current.code.as_str())
        {
            return Err(kefu_domain::FieldError::new(
                "code",
                "the code is the article's name in the path; it cannot change",
                "文章编号由路径指定，不能修改",
            )
            .into());
        }
        input.code = None;
        let spec = input.over(&current.spec()).parse()?;
        let a = self.store.update_article(spec, actor.username.clone(), self.now()).await?;
        self.kb_catch_up().await?;
        Ok(a)
    }

    pub async fn delete_article(&self, code: &str) -> Result<(), ApiError> {
        let code = kefu_domain::kb::parse_code(code).map_err(|_| NOT_FOUND)?;
        self.store.delete_article(code).await.map_err(|e| match e {
            StoreError::NotFound => NOT_FOUND,
            other => other.into(),
        })?;
        self.kb_catch_up().await.map(drop)
    }

    pub async fn article(&self, code: &str) -> Result<Article, ApiError> {
        let code = kefu_domain::kb::parse_code(code).map_err(|_| NOT_FOUND)?;
        self.store.article(code).await?.ok_or(NOT_FOUND)
    }

    pub async fn article_versions(&self, code: &str) -> Result<Vec<Article>, ApiError> {
        let code = kefu_domain::kb::parse_code(code).map_err(|_| NOT_FOUND)?;
        let v = self.store.article_versions(code).await?;
        if v.is_empty() { Err(NOT_FOUND) } else { Ok(v) }
    }

    /// Articles for a query, best first (by code without one), as the
    /// audience may see them; the total counts what matched.
    pub async fn search_articles(&self, who: Audience, q: &ArticleQuery) -> Result<Page<ArticleHit>, ApiError> {
        let per_page = q.per_page.clamp(1, self.core.policy.search.max_hits.max(1));
        let page = q.page.max(1);
        let Some(text) = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) else {
            return self.list_articles(who, q, page, per_page).await;
        };
        let index = self.kb_fresh().await?;
        let (text, limit) = (text.to_string(), self.core.policy.search.max_hits as usize * 4);
        let mode = if q.sentence { Mode::Similar } else { Mode::AllWords };
        let hits: Vec<Hit> = tokio::task::spawn_blocking(move || index.search(&text, mode, limit))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(search_error)?;
        let today = kefu_domain::time::shanghai_date(self.now());
        // One query for the articles of every hit, then the hits in rank order.
        let codes: Vec<String> = hits.iter().map(|h| h.key.clone()).collect();
        let articles: std::collections::HashMap<String, Article> =
            self.store.articles_by_code(codes).await?.into_iter().map(|a| (a.code.clone(), a)).collect();
        let mut found = Vec::new();
        for h in hits {
            let Some(a) = articles.get(&h.key) else { continue };
            let shown = match who {
                Audience::Staff => true,
                Audience::Customers => a.answers_customers(today),
            };
            if shown && q.category.as_ref().is_none_or(|c| *c == a.category) && q.status.is_none_or(|s| s == a.status) {
                found.push(hit(a, h));
            }
        }
        let total = found.len() as i64;
        let items = found.into_iter().skip(((page - 1) * per_page) as usize).take(per_page as usize).collect();
        Ok(Page { items, total, page, per_page })
    }

    async fn list_articles(
        &self,
        who: Audience,
        q: &ArticleQuery,
        page: u32,
        per_page: u32,
    ) -> Result<Page<ArticleHit>, ApiError> {
        let status = match who {
            Audience::Staff => q.status,
            Audience::Customers => Some(ArticleStatus::Published),
        };
        let filter = ArticleFilter { category: q.category.clone(), status, page, per_page };
        let listed = self.store.articles(filter).await?;
        let today = kefu_domain::time::shanghai_date(self.now());
        let items = listed
            .items
            .iter()
            .filter(|a| who == Audience::Staff || a.answers_customers(today))
            .map(|a| {
                let snippet: String = a.body.chars().take(60).collect();
                hit(a, Hit { key: a.code.clone(), score: 0.0, snippet, highlights: Vec::new() })
            })
            .collect();
        Ok(Page { items, total: listed.total, page: listed.page, per_page: listed.per_page })
    }

    /// Published articles that may answer what a ticket describes, best first.
    pub async fn related_articles(&self, text: &str, limit: u32) -> Vec<ArticleHit> {
        let q = ArticleQuery {
            q: Some(text.chars().take(200).collect()),
            sentence: true,
            status: Some(ArticleStatus::Published),
            page: 1,
            per_page: limit,
            ..Default::default()
        };
        match self.search_articles(Audience::Staff, &q).await {
            Ok(p) => p.items,
            Err(e) => {
                // Suggestions are a help, not the page: a failure shows none.
                tracing::warn!(error = %e, "related articles failed");
                Vec::new()
            }
        }
    }

    /// The index, caught up if its view is older than the policy allows.
    pub(super) async fn kb_fresh(&self) -> Result<std::sync::Arc<kefu_search::SearchIndex>, ApiError> {
        let every = std::time::Duration::from_secs(self.core.policy.search.catch_up_seconds);
        let checked = *self.core.search.kb_checked.lock().await;
        match self.core.search.get(crate::search::Kind::Kb) {
            Some((index, _)) if checked.is_some_and(|t| t.elapsed() < every) => Ok(index),
            _ => self.kb_catch_up().await,
        }
    }

    /// The index for the lexicon as the store has it now (a fresh, empty
    /// one when administrators changed the lexicon since it was opened).
    async fn kb_index(&self) -> Result<std::sync::Arc<kefu_search::SearchIndex>, ApiError> {
        let (entries, rev) = self.store.lexicon().await?;
        self.core.search.open(crate::search::Kind::Kb, &entries, rev).map_err(search_error)
    }

    /// A vote on an article ("was this helpful?"), from staff or a customer.
    pub async fn article_feedback(
        &self,
        code: &str,
        helpful: bool,
        reason: Option<&str>,
        source: &str,
    ) -> Result<(), ApiError> {
        let code = kefu_domain::kb::parse_code(code).map_err(|_| NOT_FOUND)?;
        let reason = kefu_domain::validate::optional_free_text(reason, "reason", 500)?;
        let vote = Feedback { helpful, reason: reason.clone(), source: source.into(), at: self.now() };
        self.store.add_feedback(code.clone(), vote).await.map_err(|e| match e {
            StoreError::NotFound => NOT_FOUND,
            other => other.into(),
        })?;
        if !helpful {
            // The editors' queue hears of it, under the reason's words (or the article's).
            self.queue_not_helpful(&code, reason.as_deref()).await;
        }
        Ok(())
    }

    pub async fn article_feedback_summary(&self, code: &str) -> Result<FeedbackSummary, ApiError> {
        let a = self.article(code).await?;
        Ok(self.store.feedback(a.code, 20).await?)
    }

    /// The administrators' additions to the search lexicon.
    pub async fn lexicon(&self) -> Result<kefu_domain::kb::LexiconEntries, ApiError> {
        Ok(self.store.lexicon().await?.0)
    }

    /// Replaces them; this node's index is rebuilt with them at once, the
    /// other nodes' at their next look at the store.
    pub async fn set_lexicon(
        &self,
        actor: &Actor,
        entries: kefu_domain::kb::LexiconEntries,
    ) -> Result<kefu_domain::kb::LexiconEntries, ApiError> {
        let entries = entries.parse()?;
        self.store.set_lexicon(entries.clone(), actor.username.clone(), self.now()).await?;
        self.kb_catch_up().await?;
        Ok(entries)
    }

    /// Applies the store's knowledge base changes after the index's mark,
    /// in batches, each committed with its mark (so a crash resumes there).
    pub async fn kb_catch_up(&self) -> Result<std::sync::Arc<kefu_search::SearchIndex>, ApiError> {
        let mut checked = self.core.search.kb_checked.lock().await;
        let index = self.kb_index().await?;
        let mut mark: i64 = index.mark().map_err(search_error)?.and_then(|m| m.parse().ok()).unwrap_or(0);
        loop {
            let changes = self.store.kb_changes(mark, 500).await?;
            let Some(last) = changes.last().map(|c| c.rev) else { break };
            let docs: Vec<Doc> = changes.iter().filter_map(|c| c.article.as_ref().map(doc)).collect();
            let gone: Vec<String> = changes.iter().filter(|c| c.article.is_none()).map(|c| c.code.clone()).collect();
            let idx = index.clone();
            tokio::task::spawn_blocking(move || idx.apply(&docs, &gone, Some(&last.to_string())))
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))?
                .map_err(search_error)?;
            mark = last;
        }
        *checked = Some(std::time::Instant::now());
        Ok(index)
    }
}

fn hit(a: &Article, h: Hit) -> ArticleHit {
    ArticleHit {
        code: a.code.clone(),
        title: a.title.clone(),
        category: a.category.clone(),
        status: a.status,
        public: a.public,
        snippet: h.snippet,
        highlights: h.highlights,
        score: h.score,
        version: a.version,
        updated_at: a.updated_at,
    }
}
