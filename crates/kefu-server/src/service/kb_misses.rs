//! The editors' queue: questions the knowledge base did not
//! answer — the bot found nothing or was unsure — and "not helpful" votes,
//! clustered by their keywords with counts, so an editor mends the most
//! asked first: adds the customers' wording to an article as a similar
//! question, drafts a new article from them, or dismisses them.

use super::*;
use crate::error::ApiError;
use kefu_domain::FieldError;
use kefu_domain::flow::Actor;
use kefu_domain::kb::ArticleInput;
use kefu_store::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Open misses the queue reads at most (the newest).
const QUEUE_WINDOW: u32 = 5_000;
/// Questions shown per cluster.
const SHOWN: usize = 20;

/// A group of misses about one keyword.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Cluster {
    /// The word they share (`（无关键词）` when none).
    pub keyword: String,
    /// Other words frequent in the cluster.
    pub related: Vec<String>,
    pub count: usize,
    /// Per kind: no_match, unsure, not_helpful.
    pub kinds: BTreeMap<String, usize>,
    /// Articles concerned (voted on, or the bot's best guess), with counts.
    pub articles: BTreeMap<String, usize>,
    /// The newest questions of the cluster.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Miss>,
    /// Every miss of the cluster, to resolve them together.
    pub ids: Vec<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MissQueue {
    pub clusters: Vec<Cluster>,
    /// Open misses counted.
    pub total: usize,
}

/// The body of `POST /api/v1/kb/misses/resolve`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    pub ids: Option<Vec<i64>>,
    /// `similar` (add `question` to the article `code`), `draft` (a new
    /// draft article `code` titled `title`, the questions as its similar
    /// questions) or `dismiss`.
    pub action: Option<String>,
    pub code: Option<String>,
    pub question: Option<String>,
    pub title: Option<String>,
    pub category: Option<String>,
    pub body: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Resolved {
    pub resolved: u64,
    pub resolution: String,
}

/// Groups misses under the keyword most of them share: each miss goes to
/// its keyword that the most open misses use (rarer first on a tie).
pub fn cluster(misses: Vec<Miss>) -> Vec<Cluster> {
    let mut df: HashMap<&str, usize> = HashMap::new();
    for m in &misses {
        for k in &m.miss.keywords {
            *df.entry(k.as_str()).or_default() += 1;
        }
    }
    let mut groups: BTreeMap<String, Vec<&Miss>> = BTreeMap::new();
    for m in &misses {
        let key = m
            .miss
            .keywords
            .iter()
            .enumerate()
            .max_by(|(i, a), (j, b)| df[a.as_str()].cmp(&df[b.as_str()]).then(j.cmp(i)))
            .map_or_else(|| "（无关键词）".to_string(), |(_, k)| k.clone());
        groups.entry(key).or_default().push(m);
    }
    let mut out: Vec<Cluster> = groups
        .into_iter()
        .map(|(keyword, ms)| {
            let mut kinds = BTreeMap::new();
            let mut articles = BTreeMap::new();
            let mut words: HashMap<&str, usize> = HashMap::new();
            for m in &ms {
                *kinds.entry(m.miss.kind.clone()).or_default() += 1;
                if let Some(c) = &m.miss.code {
                    *articles.entry(c.clone()).or_default() += 1;
                }
                for k in m.miss.keywords.iter().filter(|k| **k != keyword) {
                    *words.entry(k.as_str()).or_default() += 1;
                }
            }
            let mut related: Vec<(&str, usize)> = words.into_iter().filter(|(_, n)| *n > 1).collect();
            related.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            Cluster {
                keyword,
                related: related.into_iter().take(5).map(|(w, _)| w.to_string()).collect(),
                count: ms.len(),
                kinds,
                articles,
                items: ms.iter().take(SHOWN).map(|m| (*m).clone()).collect(),
                ids: ms.iter().map(|m| m.id).collect(),
            }
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.keyword.cmp(&b.keyword)));
    out
}

impl<S: Store> Kefu<S> {
    pub async fn miss_queue(&self) -> Result<MissQueue, ApiError> {
        let misses = self.store.open_misses(QUEUE_WINDOW).await?;
        let total = misses.len();
        Ok(MissQueue { clusters: cluster(misses), total })
    }

    /// Records a "not helpful" vote in the queue; a failure only logs (the
    /// vote itself is stored).
    pub(super) async fn queue_not_helpful(&self, code: &str, reason: Option<&str>) {
        let text = match reason.map(str::trim).filter(|r| !r.is_empty()) {
            Some(r) => r.to_string(),
            None => match self.store.article(code.to_string()).await {
                Ok(Some(a)) => a.title,
                _ => code.to_string(),
            },
        };
        let keywords = match self.bot_matcher().await {
            Ok(m) => bot::keywords(&m.matcher, &text),
            Err(_) => Vec::new(),
        };
        let miss = NewMiss {
            kind: "not_helpful".into(),
            text,
            code: Some(code.to_string()),
            keywords,
            session_id: None,
            at: self.now(),
        };
        if let Err(e) = self.store.add_miss(miss).await {
            tracing::warn!(error = %e, "a not-helpful vote was not queued for the editors");
        }
    }

    /// An editor's decision on misses: the article change first, then the
    /// misses marked (a failed change leaves them open).
    pub async fn resolve_misses(&self, actor: &Actor, req: ResolveRequest) -> Result<Resolved, ApiError> {
        let ids = req.ids.clone().unwrap_or_default();
        if ids.is_empty() || ids.len() > QUEUE_WINDOW as usize {
            return Err(FieldError::new("ids", "name the misses to resolve", "请指定要处理的问题").into());
        }
        let open: Vec<Miss> = self.store.open_misses_by_id(ids).await?;
        if open.is_empty() {
            return Err(FieldError::new("ids", "none of these misses is open", "这些问题都已处理或不存在").into());
        }
        let resolution = match req.action.as_deref() {
            Some("dismiss") => "dismissed".to_string(),
            Some("similar") => self.add_similar(actor, &req, &open).await?,
            Some("draft") => self.draft_from(actor, &req, &open).await?,
            _ => {
                return Err(FieldError::new(
                    "action",
                    "action is similar, draft or dismiss",
                    "处理方式须为 similar（加为相似问法）、draft（起草新文章）或 dismiss（忽略）",
                )
                .into());
            }
        };
        let ids: Vec<i64> = open.iter().map(|m| m.id).collect();
        let n = self.store.resolve_misses(ids, actor.username.clone(), resolution.clone(), self.now()).await?;
        Ok(Resolved { resolved: n, resolution })
    }

    async fn add_similar(&self, actor: &Actor, req: &ResolveRequest, open: &[Miss]) -> Result<String, ApiError> {
        let code = req.code.as_deref().ok_or_else(|| FieldError::required("code"))?;
        let article = self.article(code).await?;
        let question = req.question.clone().unwrap_or_else(|| open[0].miss.text.clone());
        let question = kefu_domain::validate::required_free_text(Some(&question), "question", 200)?;
        let mut similar = article.similar.clone();
        if !similar.contains(&question) && article.title != question {
            similar.push(question);
        }
        let input = ArticleInput { similar: Some(similar), ..Default::default() };
        let a = self.update_article(actor, &article.code, input).await?;
        Ok(format!("similar:{}", a.code))
    }

    async fn draft_from(&self, actor: &Actor, req: &ResolveRequest, open: &[Miss]) -> Result<String, ApiError> {
        let mut questions: Vec<String> = Vec::new();
        for m in open.iter().filter(|m| m.miss.kind != "not_helpful") {
            let q: String = m.miss.text.chars().take(kefu_domain::kb::limits::SIMILAR).collect();
            if !questions.contains(&q) && questions.len() < kefu_domain::kb::limits::SIMILARS {
                questions.push(q);
            }
        }
        let body = req.body.clone().unwrap_or_else(|| {
            let asked: Vec<String> = questions.iter().map(|q| format!("- {q}")).collect();
            format!("（草稿：请编写答案。）\n\n客户的问法：\n{}", asked.join("\n"))
        });
        let input = ArticleInput {
            code: req.code.clone(),
            title: req.title.clone(),
            category: req.category.clone(),
            similar: Some(questions),
            body: Some(body),
            status: Some("draft".into()),
            ..Default::default()
        };
        let a = self.create_article(actor, input).await?;
        Ok(format!("draft:{}", a.code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn miss(id: i64, kind: &str, keywords: &[&str]) -> Miss {
        Miss {
            id,
            miss: NewMiss {
                kind: kind.into(),
                text: format!("q{id}"),
                code: None,
                keywords: keywords.iter().map(|k| k.to_string()).collect(),
                session_id: None,
                at: chrono::DateTime::UNIX_EPOCH,
            },
            resolved_at: None,
            resolved_by: None,
            resolution: None,
        }
    }

    #[test]
    fn misses_cluster_under_the_word_most_of_them_share() {
        let c = cluster(vec![
            miss(1, "no_match", &["光猫", "冒烟"]),
            miss(2, "unsure", &["冒烟", "路由器"]),
            miss(3, "no_match", &["冒烟"]),
            miss(4, "no_match", &["积分", "过期"]),
            miss(5, "not_helpful", &[]),
        ]);
        assert_eq!(c[0].keyword, "冒烟");
        assert_eq!((c[0].count, c[0].ids.clone()), (3, vec![1, 2, 3]));
        assert_eq!(c[0].kinds.get("no_match"), Some(&2));
        assert_eq!(c.iter().map(|c| c.count).sum::<usize>(), 5);
        assert!(c.iter().any(|c| c.keyword == "（无关键词）"));
    }
}
