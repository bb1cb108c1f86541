//! The knowledge base (KbStore) in SQLite. The single writer makes
//! `MAX(rev) + 1` a safe next revision.

use crate::backend;
use crate::rows::{parse_ts, ts};
use chrono::{DateTime, Utc};
use kefu_domain::kb::{Article, ArticleSpec};
use kefu_store::{ArticleFilter, KbChange, Page, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

const COLUMNS: &str = "code, doc, version, updated_by, created_at, updated_at, rev, deleted";

struct Row {
    doc: String,
    version: i64,
    updated_by: String,
    created_at: String,
    updated_at: String,
    rev: i64,
    deleted: bool,
    code: String,
}

fn row(r: &rusqlite::Row) -> rusqlite::Result<Row> {
    Ok(Row {
        code: r.get(0)?,
        doc: r.get(1)?,
        version: r.get(2)?,
        updated_by: r.get(3)?,
        created_at: r.get(4)?,
        updated_at: r.get(5)?,
        rev: r.get(6)?,
        deleted: r.get(7)?,
    })
}

fn article(r: &Row) -> StoreResult<Article> {
    let spec: ArticleSpec = serde_json::from_str(&r.doc)
        .map_err(|e| StoreError::Backend(format!("stored article {} is invalid: {e}", r.code)))?;
    let time = |s: &str| parse_ts(s).map_err(backend);
    Ok(Article::from_spec(spec, r.version, &r.updated_by, time(&r.created_at)?, time(&r.updated_at)?))
}

fn next_rev(c: &Connection) -> StoreResult<i64> {
    c.query_row("SELECT COALESCE(MAX(rev), 0) + 1 FROM kb_articles", [], |r| r.get(0)).map_err(backend)
}

fn stored(c: &Connection, code: &str) -> StoreResult<Option<Row>> {
    c.prepare_cached(&format!("SELECT {COLUMNS} FROM kb_articles WHERE code = ?1"))
        .map_err(backend)?
        .query_row([code], row)
        .optional()
        .map_err(backend)
}

fn doc(spec: &ArticleSpec) -> StoreResult<String> {
    serde_json::to_string(spec).map_err(|e| StoreError::Backend(e.to_string()))
}

fn version_row(c: &Connection, spec: &ArticleSpec, version: i64, by: &str, now: DateTime<Utc>) -> StoreResult<()> {
    c.prepare_cached("INSERT INTO kb_versions (code, version, doc, updated_by, at) VALUES (?1, ?2, ?3, ?4, ?5)")
        .map_err(backend)?
        .execute(params![spec.code, version, doc(spec)?, by, ts(now)])
        .map_err(backend)?;
    Ok(())
}

pub fn create(c: &Connection, spec: &ArticleSpec, by: &str, now: DateTime<Utc>) -> StoreResult<Article> {
    let rev = next_rev(c)?;
    match stored(c, &spec.code)? {
        Some(r) if !r.deleted => return Err(StoreError::Conflict { constraint: "kb_articles_pkey".into() }),
        // A deleted code may be used again; its history goes on.
        Some(r) => write(c, spec, r.version + 1, by, now, rev)?,
        None => {
            c.prepare_cached(&format!(
                "INSERT INTO kb_articles ({COLUMNS}, category, status) VALUES (?1, ?2, 1, ?3, ?4, ?4, ?5, 0, ?6, ?7)"
            ))
            .map_err(backend)?
            .execute(params![spec.code, doc(spec)?, by, ts(now), rev, spec.category, spec.status.as_str()])
            .map_err(backend)?;
            version_row(c, spec, 1, by, now)?;
        }
    }
    get(c, &spec.code)?.ok_or(StoreError::NotFound)
}

fn write(c: &Connection, spec: &ArticleSpec, version: i64, by: &str, now: DateTime<Utc>, rev: i64) -> StoreResult<()> {
    c.prepare_cached(
        "UPDATE kb_articles SET doc = ?2, version = ?3, updated_by = ?4, updated_at = ?5, rev = ?6, deleted = 0,
                category = ?7, status = ?8 WHERE code = ?1",
    )
    .map_err(backend)?
    .execute(params![spec.code, doc(spec)?, version, by, ts(now), rev, spec.category, spec.status.as_str()])
    .map_err(backend)?;
    version_row(c, spec, version, by, now)
}

pub fn update(c: &Connection, spec: &ArticleSpec, by: &str, now: DateTime<Utc>) -> StoreResult<Article> {
    let current = stored(c, &spec.code)?.filter(|r| !r.deleted).ok_or(StoreError::NotFound)?;
    let rev = next_rev(c)?;
    write(c, spec, current.version + 1, by, now, rev)?;
    get(c, &spec.code)?.ok_or(StoreError::NotFound)
}

pub fn delete(c: &Connection, code: &str) -> StoreResult<()> {
    let rev = next_rev(c)?;
    let n = c
        .execute("UPDATE kb_articles SET deleted = 1, rev = ?2 WHERE code = ?1 AND deleted = 0", params![code, rev])
        .map_err(backend)?;
    if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

pub fn get(c: &Connection, code: &str) -> StoreResult<Option<Article>> {
    stored(c, code)?.filter(|r| !r.deleted).map(|r| article(&r)).transpose()
}

pub fn by_codes(c: &Connection, codes: &[String]) -> StoreResult<Vec<Article>> {
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    let marks = vec!["?"; codes.len()].join(", ");
    let rows = c
        .prepare(&format!("SELECT {COLUMNS} FROM kb_articles WHERE deleted = 0 AND code IN ({marks})"))
        .map_err(backend)?
        .query_map(rusqlite::params_from_iter(codes), row)
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    rows.iter().map(article).collect()
}

pub fn list(c: &Connection, f: &ArticleFilter) -> StoreResult<Page<Article>> {
    let mut cond = String::from("deleted = 0");
    let mut args: Vec<String> = Vec::new();
    if let Some(cat) = &f.category {
        args.push(cat.clone());
        cond.push_str(&format!(" AND category = ?{}", args.len()));
    }
    if let Some(st) = f.status {
        args.push(st.as_str().to_string());
        cond.push_str(&format!(" AND status = ?{}", args.len()));
    }
    let total: i64 = c
        .prepare(&format!("SELECT COUNT(*) FROM kb_articles WHERE {cond}"))
        .map_err(backend)?
        .query_row(rusqlite::params_from_iter(&args), |r| r.get(0))
        .map_err(backend)?;
    let per_page = f.per_page.max(1);
    let offset = i64::from(f.page.max(1) - 1) * i64::from(per_page);
    let sql = format!("SELECT {COLUMNS} FROM kb_articles WHERE {cond} ORDER BY code LIMIT {per_page} OFFSET {offset}");
    let rows = c
        .prepare(&sql)
        .map_err(backend)?
        .query_map(rusqlite::params_from_iter(&args), row)
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    let items = rows.iter().map(article).collect::<StoreResult<Vec<_>>>()?;
    Ok(Page { items, total, page: f.page.max(1), per_page })
}

pub fn versions(c: &Connection, code: &str) -> StoreResult<Vec<Article>> {
    let rows = c
        .prepare_cached(
            "SELECT code, doc, version, updated_by, at, at, 0, 0 FROM kb_versions WHERE code = ?1 ORDER BY version",
        )
        .map_err(backend)?
        .query_map([code], row)
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    let created = rows.first().map(|r| r.created_at.clone()).unwrap_or_default();
    rows.into_iter().map(|r| article(&Row { created_at: created.clone(), ..r })).collect()
}

pub fn changes(c: &Connection, after: i64, limit: u32) -> StoreResult<Vec<KbChange>> {
    let rows = c
        .prepare_cached(&format!("SELECT {COLUMNS} FROM kb_articles WHERE rev > ?1 ORDER BY rev LIMIT ?2"))
        .map_err(backend)?
        .query_map(params![after, limit], row)
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    rows.iter()
        .map(|r| {
            let article = if r.deleted { None } else { Some(article(r)?) };
            Ok(KbChange { rev: r.rev, code: r.code.clone(), article })
        })
        .collect()
}

pub fn add_feedback(c: &Connection, code: &str, v: &kefu_store::Feedback) -> StoreResult<()> {
    if get(c, code)?.is_none() {
        return Err(StoreError::NotFound);
    }
    c.prepare_cached("INSERT INTO kb_feedback (code, helpful, reason, source, at) VALUES (?1, ?2, ?3, ?4, ?5)")
        .map_err(backend)?
        .execute(params![code, v.helpful, v.reason, v.source, ts(v.at)])
        .map_err(backend)?;
    Ok(())
}

pub fn feedback(c: &Connection, code: &str, latest: u32) -> StoreResult<kefu_store::FeedbackSummary> {
    let (helpful, not_helpful): (i64, i64) = c
        .query_row(
            "SELECT COALESCE(SUM(CASE WHEN helpful THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN helpful THEN 0 ELSE 1 END), 0)
             FROM kb_feedback WHERE code = ?1",
            [code],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(backend)?;
    let latest = c
        .prepare_cached("SELECT helpful, reason, source, at FROM kb_feedback WHERE code = ?1 ORDER BY id DESC LIMIT ?2")
        .map_err(backend)?
        .query_map(params![code, latest], |r| {
            Ok(kefu_store::Feedback {
                helpful: r.get(0)?,
                reason: r.get(1)?,
                source: r.get(2)?,
                at: parse_ts(&r.get::<_, String>(3)?)?,
            })
        })
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    Ok(kefu_store::FeedbackSummary { helpful, not_helpful, latest })
}

pub fn lexicon(c: &Connection) -> StoreResult<(kefu_domain::kb::LexiconEntries, i64)> {
    let row: Option<(String, i64)> = c
        .query_row("SELECT doc, rev FROM search_lexicon WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(backend)?;
    match row {
        None => Ok((Default::default(), 0)),
        Some((doc, rev)) => {
            let e = serde_json::from_str(&doc).map_err(|e| StoreError::Backend(format!("stored lexicon: {e}")))?;
            Ok((e, rev))
        }
    }
}

pub fn set_lexicon(
    c: &Connection,
    e: &kefu_domain::kb::LexiconEntries,
    by: &str,
    now: DateTime<Utc>,
) -> StoreResult<i64> {
    let doc = serde_json::to_string(e).map_err(|e| StoreError::Backend(e.to_string()))?;
    c.query_row(
        "INSERT INTO search_lexicon (id, doc, updated_by, updated_at, rev) VALUES (1, ?1, ?2, ?3, 1)
         ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, updated_by = excluded.updated_by,
             updated_at = excluded.updated_at, rev = search_lexicon.rev + 1
         RETURNING rev",
        params![doc, by, ts(now)],
        |r| r.get(0),
    )
    .map_err(backend)
}

/// The store capabilities kept in this file: KbStore.
mod capability {
    use crate::*;
    use kefu_domain::kb::{Article, ArticleSpec};

    impl KbStore for SqliteStore {
        async fn create_article(&self, spec: ArticleSpec, by: String, now: DateTime<Utc>) -> StoreResult<Article> {
            self.writer.run(move |c| kb::create(c, &spec, &by, now)).await
        }
        async fn update_article(&self, spec: ArticleSpec, by: String, now: DateTime<Utc>) -> StoreResult<Article> {
            self.writer.run(move |c| kb::update(c, &spec, &by, now)).await
        }
        async fn delete_article(&self, code: String) -> StoreResult<()> {
            self.writer.run(move |c| kb::delete(c, &code)).await
        }
        async fn article(&self, code: String) -> StoreResult<Option<Article>> {
            self.read(move |c| kb::get(c, &code)).await
        }
        async fn articles(&self, filter: ArticleFilter) -> StoreResult<Page<Article>> {
            self.read(move |c| kb::list(c, &filter)).await
        }
        async fn articles_by_code(&self, codes: Vec<String>) -> StoreResult<Vec<Article>> {
            self.read(move |c| kb::by_codes(c, &codes)).await
        }
        async fn article_versions(&self, code: String) -> StoreResult<Vec<Article>> {
            self.read(move |c| kb::versions(c, &code)).await
        }
        async fn kb_changes(&self, after: i64, limit: u32) -> StoreResult<Vec<KbChange>> {
            self.read(move |c| kb::changes(c, after, limit)).await
        }
        async fn lexicon(&self) -> StoreResult<(kefu_domain::kb::LexiconEntries, i64)> {
            self.read(kb::lexicon).await
        }
        async fn add_feedback(&self, code: String, vote: Feedback) -> StoreResult<()> {
            self.writer.run(move |c| kb::add_feedback(c, &code, &vote)).await
        }
        async fn feedback(&self, code: String, latest: u32) -> StoreResult<FeedbackSummary> {
            self.read(move |c| kb::feedback(c, &code, latest)).await
        }
        async fn set_lexicon(
            &self,
            entries: kefu_domain::kb::LexiconEntries,
            by: String,
            now: DateTime<Utc>,
        ) -> StoreResult<i64> {
            self.writer.run(move |c| kb::set_lexicon(c, &entries, &by, now)).await
        }
    }
}
