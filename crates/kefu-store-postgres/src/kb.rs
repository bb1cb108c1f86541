//! The knowledge base (KbStore) in PostgreSQL. Writes take a transaction
//! lock first, so revisions commit in the order they are numbered and the
//! change feed never skips one that commits late.

use crate::pg;
use chrono::{DateTime, Utc};
use deadpool_postgres::{Client, GenericClient};
use kefu_domain::kb::{Article, ArticleSpec};
use kefu_store::{ArticleFilter, KbChange, Page, StoreError, StoreResult};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

const COLUMNS: &str = "code, doc, version, updated_by, created_at, updated_at, rev, deleted";
/// The advisory lock that serialises knowledge base writes.
const KB_LOCK: i64 = 0x6b62; // "kb"

fn article(r: &Row) -> StoreResult<Article> {
    let code: String = r.get(0);
    let spec: ArticleSpec = serde_json::from_str(r.get::<_, &str>(1))
        .map_err(|e| StoreError::Backend(format!("stored article {code} is invalid: {e}")))?;
    Ok(Article::from_spec(spec, r.get(2), r.get::<_, &str>(3), r.get(4), r.get(5)))
}

fn doc(spec: &ArticleSpec) -> StoreResult<String> {
    serde_json::to_string(spec).map_err(|e| StoreError::Backend(e.to_string()))
}

async fn begin(client: &mut Client) -> StoreResult<deadpool_postgres::Transaction<'_>> {
    let tx = client.transaction().await.map_err(pg)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&KB_LOCK]).await.map_err(pg)?;
    Ok(tx)
}

async fn next_rev(c: &impl GenericClient) -> StoreResult<i64> {
    Ok(c.query_one("SELECT COALESCE(MAX(rev), 0) + 1 FROM kb_articles", &[]).await.map_err(pg)?.get(0))
}

async fn version_row(
    c: &impl GenericClient,
    spec: &ArticleSpec,
    version: i64,
    by: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    c.execute(
        "INSERT INTO kb_versions (code, version, doc, updated_by, at) VALUES ($1, $2, $3, $4, $5)",
        &[&spec.code, &version, &doc(spec)?, &by, &now],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

async fn write(
    c: &impl GenericClient,
    spec: &ArticleSpec,
    version: i64,
    by: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let rev = next_rev(c).await?;
    c.execute(
        "UPDATE kb_articles SET doc = $2, version = $3, updated_by = $4, updated_at = $5, rev = $6, deleted = FALSE,
                category = $7, status = $8 WHERE code = $1",
        &[&spec.code, &doc(spec)?, &version, &by, &now, &rev, &spec.category, &spec.status.as_str()],
    )
    .await
    .map_err(pg)?;
    version_row(c, spec, version, by, now).await
}

/// (version, deleted) of a stored code.
async fn stored(c: &impl GenericClient, code: &str) -> StoreResult<Option<(i64, bool)>> {
    let r = c.query_opt("SELECT version, deleted FROM kb_articles WHERE code = $1", &[&code]).await.map_err(pg)?;
    Ok(r.map(|r| (r.get(0), r.get(1))))
}

pub async fn create(client: &mut Client, spec: &ArticleSpec, by: &str, now: DateTime<Utc>) -> StoreResult<Article> {
    let tx = begin(client).await?;
    match stored(&tx, &spec.code).await? {
        Some((_, false)) => return Err(StoreError::Conflict { constraint: "kb_articles_pkey".into() }),
        // A deleted code may be used again; its history goes on.
        Some((version, true)) => write(&tx, spec, version + 1, by, now).await?,
        None => {
            let rev = next_rev(&tx).await?;
            tx.execute(
                &format!("INSERT INTO kb_articles ({COLUMNS}, category, status) VALUES ($1, $2, 1, $3, $4, $4, $5, FALSE, $6, $7)"),
                &[&spec.code, &doc(spec)?, &by, &now, &rev, &spec.category, &spec.status.as_str()],
            )
            .await
            .map_err(pg)?;
            version_row(&tx, spec, 1, by, now).await?;
        }
    }
    let a = get(&tx, &spec.code).await?.ok_or(StoreError::NotFound)?;
    tx.commit().await.map_err(pg)?;
    Ok(a)
}

pub async fn update(client: &mut Client, spec: &ArticleSpec, by: &str, now: DateTime<Utc>) -> StoreResult<Article> {
    let tx = begin(client).await?;
    let (version, _) = stored(&tx, &spec.code).await?.filter(|(_, deleted)| !deleted).ok_or(StoreError::NotFound)?;
    write(&tx, spec, version + 1, by, now).await?;
    let a = get(&tx, &spec.code).await?.ok_or(StoreError::NotFound)?;
    tx.commit().await.map_err(pg)?;
    Ok(a)
}

pub async fn delete(client: &mut Client, code: &str) -> StoreResult<()> {
    let tx = begin(client).await?;
    let rev = next_rev(&tx).await?;
    let n = tx
        .execute("UPDATE kb_articles SET deleted = TRUE, rev = $2 WHERE code = $1 AND NOT deleted", &[&code, &rev])
        .await
        .map_err(pg)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    tx.commit().await.map_err(pg)
}

pub async fn get(c: &impl GenericClient, code: &str) -> StoreResult<Option<Article>> {
    let r = c
        .query_opt(&format!("SELECT {COLUMNS} FROM kb_articles WHERE code = $1 AND NOT deleted"), &[&code])
        .await
        .map_err(pg)?;
    r.as_ref().map(article).transpose()
}

pub async fn by_codes(c: &impl GenericClient, codes: &[String]) -> StoreResult<Vec<Article>> {
    let rows = c
        .query(&format!("SELECT {COLUMNS} FROM kb_articles WHERE NOT deleted AND code = ANY($1)"), &[&codes])
        .await
        .map_err(pg)?;
    rows.iter().map(article).collect()
}

pub async fn list(c: &impl GenericClient, f: &ArticleFilter) -> StoreResult<Page<Article>> {
    let mut cond = String::from("NOT deleted");
    let mut args: Vec<String> = Vec::new();
    if let Some(cat) = &f.category {
        args.push(cat.clone());
        cond.push_str(&format!(" AND category = ${}", args.len()));
    }
    if let Some(st) = f.status {
        args.push(st.as_str().to_string());
        cond.push_str(&format!(" AND status = ${}", args.len()));
    }
    let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a as &(dyn ToSql + Sync)).collect();
    let total: i64 =
        c.query_one(&format!("SELECT COUNT(*) FROM kb_articles WHERE {cond}"), &params).await.map_err(pg)?.get(0);
    let per_page = f.per_page.max(1);
    let offset = i64::from(f.page.max(1) - 1) * i64::from(per_page);
    let rows = c
        .query(
            &format!("SELECT {COLUMNS} FROM kb_articles WHERE {cond} ORDER BY code LIMIT {per_page} OFFSET {offset}"),
            &params,
        )
        .await
        .map_err(pg)?;
    let items = rows.iter().map(article).collect::<StoreResult<Vec<_>>>()?;
    Ok(Page { items, total, page: f.page.max(1), per_page })
}

pub async fn versions(c: &impl GenericClient, code: &str) -> StoreResult<Vec<Article>> {
    let rows = c
        .query(
            "SELECT code, doc, version, updated_by, MIN(at) OVER (), at, 0::BIGINT, FALSE FROM kb_versions
             WHERE code = $1 ORDER BY version",
            &[&code],
        )
        .await
        .map_err(pg)?;
    rows.iter().map(article).collect()
}

pub async fn changes(c: &impl GenericClient, after: i64, limit: u32) -> StoreResult<Vec<KbChange>> {
    let rows = c
        .query(
            &format!("SELECT {COLUMNS} FROM kb_articles WHERE rev > $1 ORDER BY rev LIMIT $2"),
            &[&after, &i64::from(limit)],
        )
        .await
        .map_err(pg)?;
    rows.iter()
        .map(|r| {
            let deleted: bool = r.get(7);
            let article = if deleted { None } else { Some(article(r)?) };
            Ok(KbChange { rev: r.get(6), code: r.get(0), article })
        })
        .collect()
}

pub async fn add_feedback(c: &impl GenericClient, code: &str, v: &kefu_store::Feedback) -> StoreResult<()> {
    let n = c
        .execute(
            "INSERT INTO kb_feedback (code, helpful, reason, source, at)
             SELECT code, $2, $3, $4, $5 FROM kb_articles WHERE code = $1 AND NOT deleted",
            &[&code, &v.helpful, &v.reason, &v.source, &v.at],
        )
        .await
        .map_err(pg)?;
    if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

pub async fn feedback(c: &impl GenericClient, code: &str, latest: u32) -> StoreResult<kefu_store::FeedbackSummary> {
    let r = c
        .query_one(
            "SELECT COUNT(*) FILTER (WHERE helpful), COUNT(*) FILTER (WHERE NOT helpful) FROM kb_feedback WHERE code = $1",
            &[&code],
        )
        .await
        .map_err(pg)?;
    let rows = c
        .query(
            "SELECT helpful, reason, source, at FROM kb_feedback WHERE code = $1 ORDER BY id DESC LIMIT $2",
            &[&code, &i64::from(latest)],
        )
        .await
        .map_err(pg)?;
    let latest = rows
        .iter()
        .map(|r| kefu_store::Feedback { helpful: r.get(0), reason: r.get(1), source: r.get(2), at: r.get(3) })
        .collect();
    Ok(kefu_store::FeedbackSummary { helpful: r.get(0), not_helpful: r.get(1), latest })
}

pub async fn lexicon(c: &impl GenericClient) -> StoreResult<(kefu_domain::kb::LexiconEntries, i64)> {
    let row = c.query_opt("SELECT doc, rev FROM search_lexicon WHERE id = 1", &[]).await.map_err(pg)?;
    match row {
        None => Ok((Default::default(), 0)),
        Some(r) => {
            let e = serde_json::from_str(r.get::<_, &str>(0))
                .map_err(|e| StoreError::Backend(format!("stored lexicon: {e}")))?;
            Ok((e, r.get(1)))
        }
    }
}

pub async fn set_lexicon(
    c: &impl GenericClient,
    e: &kefu_domain::kb::LexiconEntries,
    by: &str,
    now: DateTime<Utc>,
) -> StoreResult<i64> {
    let doc = serde_json::to_string(e).map_err(|e| StoreError::Backend(e.to_string()))?;
    let r = c
        .query_one(
            "INSERT INTO search_lexicon (id, doc, updated_by, updated_at, rev) VALUES (1, $1, $2, $3, 1)
             ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, updated_by = excluded.updated_by,
                 updated_at = excluded.updated_at, rev = search_lexicon.rev + 1
             RETURNING rev",
            &[&doc, &by, &now],
        )
        .await
        .map_err(pg)?;
    Ok(r.get(0))
}

/// The store capabilities kept in this file: KbStore.
mod capability {
    use crate::*;
    use kefu_domain::kb::{Article, ArticleSpec};

    impl KbStore for PgStore {
        async fn create_article(&self, spec: ArticleSpec, by: String, now: DateTime<Utc>) -> StoreResult<Article> {
            kb::create(&mut self.client().await?, &spec, &by, now).await
        }
        async fn update_article(&self, spec: ArticleSpec, by: String, now: DateTime<Utc>) -> StoreResult<Article> {
            kb::update(&mut self.client().await?, &spec, &by, now).await
        }
        async fn delete_article(&self, code: String) -> StoreResult<()> {
            kb::delete(&mut self.client().await?, &code).await
        }
        async fn article(&self, code: String) -> StoreResult<Option<Article>> {
            kb::get(&self.client().await?, &code).await
        }
        async fn articles(&self, filter: ArticleFilter) -> StoreResult<Page<Article>> {
            kb::list(&self.client().await?, &filter).await
        }
        async fn articles_by_code(&self, codes: Vec<String>) -> StoreResult<Vec<Article>> {
            kb::by_codes(&self.client().await?, &codes).await
        }
        async fn article_versions(&self, code: String) -> StoreResult<Vec<Article>> {
            kb::versions(&self.client().await?, &code).await
        }
        async fn kb_changes(&self, after: i64, limit: u32) -> StoreResult<Vec<KbChange>> {
            kb::changes(&self.client().await?, after, limit).await
        }
        async fn lexicon(&self) -> StoreResult<(kefu_domain::kb::LexiconEntries, i64)> {
            kb::lexicon(&self.client().await?).await
        }
        async fn add_feedback(&self, code: String, vote: Feedback) -> StoreResult<()> {
            kb::add_feedback(&self.client().await?, &code, &vote).await
        }
        async fn feedback(&self, code: String, latest: u32) -> StoreResult<FeedbackSummary> {
            kb::feedback(&self.client().await?, &code, latest).await
        }
        async fn set_lexicon(
            &self,
            entries: kefu_domain::kb::LexiconEntries,
            by: String,
            now: DateTime<Utc>,
        ) -> StoreResult<i64> {
            kb::set_lexicon(&self.client().await?, &entries, &by, now).await
        }
    }
}
