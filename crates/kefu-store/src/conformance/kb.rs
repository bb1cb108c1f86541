//! Conformance: the knowledge base, its versions and its change feed.

use super::*;
use kefu_domain::kb::{ArticleSpec, ArticleStatus};

fn spec(code: &str, title: &str, category: &str) -> ArticleSpec {
    ArticleSpec {
        code: code.into(),
        title: title.into(),
        category: category.into(),
        tags: vec!["宽带".into()],
        similar: vec!["家里上不了网".into()],
        body: "先重启光猫。".into(),
        answers: Default::default(),
        status: ArticleStatus::Published,
        public: true,
        valid_from: None,
        valid_to: Some("2027-01-31".parse().unwrap()),
    }
}

pub async fn articles_keep_every_version_and_feed_every_change<S: Store>(s: S) {
    let later = t0() + Duration::hours(1);
    let a = s.create_article(spec("KB-001", "宽带无法上网", "故障报修"), "editor1".into(), t0()).await.unwrap();
    assert_eq!((a.version, a.updated_by.as_str(), a.created_at), (1, "editor1", t0()));
    let dup = s.create_article(spec("KB-001", "重复", "故障报修"), "x".into(), t0()).await.unwrap_err();
    assert!(matches!(dup, StoreError::Conflict { ref constraint } if constraint == "kb_articles_pkey"), "{dup:?}");
    s.create_article(spec("KB-002", "携号转网", "业务办理"), "editor1".into(), t0()).await.unwrap();
    let changed = s
        .update_article(
            ArticleSpec { title: "宽带上不了网怎么办".into(), ..spec("KB-001", "", "故障报修") },
            "editor2".into(),
            later,
        )
        .await
        .unwrap();
    assert_eq!((changed.version, changed.created_at, changed.updated_at), (2, t0(), later));
    assert_eq!(s.article("KB-001".into()).await.unwrap(), Some(changed.clone()));
    let history = s.article_versions("KB-001".into()).await.unwrap();
    assert_eq!(
        history.iter().map(|v| (v.version, v.title.as_str())).collect::<Vec<_>>(),
        [(1, "宽带无法上网"), (2, "宽带上不了网怎么办")]
    );
    assert_eq!(history[1].valid_to, changed.valid_to);
    // Lists by code, filtered.
    let all = s.articles(ArticleFilter { page: 1, per_page: 10, ..Default::default() }).await.unwrap();
    assert_eq!((all.total, all.items[0].code.as_str()), (2, "KB-001"));
    let faults = ArticleFilter { category: Some("故障报修".into()), page: 1, per_page: 10, ..Default::default() };
    assert_eq!(s.articles(faults).await.unwrap().total, 1);
    let drafts = ArticleFilter { status: Some(ArticleStatus::Draft), page: 1, per_page: 10, ..Default::default() };
    assert_eq!(s.articles(drafts).await.unwrap().total, 0);
    let mut both = s.articles_by_code(vec!["KB-002".into(), "KB-001".into(), "KB-404".into()]).await.unwrap();
    both.sort_by(|a, b| a.code.cmp(&b.code));
    assert_eq!(both.iter().map(|a| (a.code.as_str(), a.version)).collect::<Vec<_>>(), [("KB-001", 2), ("KB-002", 1)]);
    assert!(s.articles_by_code(Vec::new()).await.unwrap().is_empty());
    // The feed: each article once, at its latest revision, in order; a deletion as a tombstone.
    let feed = s.kb_changes(0, 100).await.unwrap();
    assert_eq!(feed.iter().map(|c| c.code.as_str()).collect::<Vec<_>>(), ["KB-002", "KB-001"]);
    let seen = feed.last().unwrap().rev;
    assert!(s.kb_changes(seen, 100).await.unwrap().is_empty());
    s.delete_article("KB-002".into()).await.unwrap();
    let after = s.kb_changes(seen, 100).await.unwrap();
    assert_eq!((after.len(), after[0].code.as_str(), after[0].article.is_none()), (1, "KB-002", true));
    assert!(matches!(s.delete_article("KB-002".into()).await, Err(StoreError::NotFound)));
    assert_eq!(s.article("KB-002".into()).await.unwrap(), None);
    assert!(matches!(s.update_article(spec("KB-002", "x", "y"), "e".into(), later).await, Err(StoreError::NotFound)));
    // A deleted code may be used again; its history goes on.
    let again = s.create_article(spec("KB-002", "携号转网条件", "业务办理"), "editor1".into(), later).await.unwrap();
    assert_eq!(again.version, 2);
    assert_eq!(s.article_versions("KB-002".into()).await.unwrap().len(), 2);
    // Votes: counted, the latest first; none on an article that does not exist.
    let vote = |helpful: bool, reason: Option<&str>, source: &str| Feedback {
        helpful,
        reason: reason.map(Into::into),
        source: source.into(),
        at: later,
    };
    s.add_feedback("KB-001".into(), vote(true, None, "customer")).await.unwrap();
    s.add_feedback("KB-001".into(), vote(false, Some("步骤看不懂"), "staff")).await.unwrap();
    assert!(matches!(s.add_feedback("KB-404".into(), vote(true, None, "staff")).await, Err(StoreError::NotFound)));
    let f = s.feedback("KB-001".into(), 10).await.unwrap();
    assert_eq!((f.helpful, f.not_helpful, f.latest[0].reason.as_deref()), (1, 1, Some("步骤看不懂")));
    assert_eq!(s.feedback("KB-002".into(), 10).await.unwrap(), FeedbackSummary::default());
    // The administrators' lexicon: one document, a revision per change.
    assert_eq!(s.lexicon().await.unwrap(), (Default::default(), 0));
    let entries = kefu_domain::kb::LexiconEntries {
        words: vec!["畅享套餐".into()],
        synonyms: vec![vec!["换运营商".into(), "携号转网".into()]],
    };
    assert_eq!(s.set_lexicon(entries.clone(), "admin".into(), later).await.unwrap(), 1);
    assert_eq!(s.set_lexicon(entries.clone(), "admin".into(), later).await.unwrap(), 2);
    assert_eq!(s.lexicon().await.unwrap(), (entries, 2));
}
