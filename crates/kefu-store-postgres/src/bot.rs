//! The first line's conversations and the editors' queue (BotStore) in PostgreSQL.

use crate::pg;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use kefu_domain::bot::Session;
use kefu_store::crypto::FieldCipher;
use kefu_store::{Miss, NewMiss, StoreError, StoreResult};

fn sealed(k: &FieldCipher, s: &Session) -> StoreResult<String> {
    let json = serde_json::to_string(s).map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok(k.encrypt(&json))
}

pub async fn create(c: &impl GenericClient, s: &Session, k: &FieldCipher) -> StoreResult<()> {
    c.execute(
        "INSERT INTO bot_sessions (id, doc, turns, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
        &[&s.id, &sealed(k, s)?, &(s.turns.len() as i64), &s.created_at, &s.updated_at],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

pub async fn get(c: &impl GenericClient, id: &str, k: &FieldCipher) -> StoreResult<Option<Session>> {
    let row = c.query_opt("SELECT doc FROM bot_sessions WHERE id = $1", &[&id]).await.map_err(pg)?;
    row.map(|r| {
        serde_json::from_str(&k.decrypt(r.get::<_, &str>(0))?)
            .map_err(|e| StoreError::Backend(format!("stored bot session {id} is invalid: {e}")))
    })
    .transpose()
}

pub async fn save(c: &impl GenericClient, s: &Session, read_turns: u32, k: &FieldCipher) -> StoreResult<bool> {
    let n = c
        .execute(
            "UPDATE bot_sessions SET doc = $2, turns = $3, updated_at = $4 WHERE id = $1 AND turns = $5",
            &[&s.id, &sealed(k, s)?, &(s.turns.len() as i64), &s.updated_at, &i64::from(read_turns)],
        )
        .await
        .map_err(pg)?;
    Ok(n == 1)
}

pub async fn purge(c: &impl GenericClient, before: DateTime<Utc>) -> StoreResult<u64> {
    c.execute("DELETE FROM bot_sessions WHERE updated_at < $1", &[&before]).await.map_err(pg)
}

pub async fn add_miss(c: &impl GenericClient, m: &NewMiss, k: &FieldCipher) -> StoreResult<i64> {
    let keywords = serde_json::to_string(&m.keywords).map_err(|e| StoreError::Backend(e.to_string()))?;
    let r = c
        .query_one(
            "INSERT INTO kb_misses (kind, text, code, keywords, session_id, at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[&m.kind, &k.encrypt(&m.text), &m.code, &keywords, &m.session_id, &m.at],
        )
        .await
        .map_err(pg)?;
    Ok(r.get(0))
}

const MISS_COLUMNS: &str = "id, kind, text, code, keywords, session_id, at";

fn open_miss(r: &tokio_postgres::Row, k: &FieldCipher) -> StoreResult<Miss> {
    let keywords = serde_json::from_str(r.get::<_, &str>(4)).map_err(|e| StoreError::Backend(e.to_string()))?;
    let miss = NewMiss {
        kind: r.get(1),
        text: k.decrypt(r.get::<_, &str>(2))?,
        code: r.get(3),
        keywords,
        session_id: r.get(5),
        at: r.get(6),
    };
    Ok(Miss { id: r.get(0), miss, resolved_at: None, resolved_by: None, resolution: None })
}

pub async fn open_misses(c: &impl GenericClient, limit: u32, k: &FieldCipher) -> StoreResult<Vec<Miss>> {
    let sql = format!("SELECT {MISS_COLUMNS} FROM kb_misses WHERE resolved_at IS NULL ORDER BY id DESC LIMIT $1");
    let rows = c.query(&sql, &[&i64::from(limit)]).await.map_err(pg)?;
    rows.iter().map(|r| open_miss(r, k)).collect()
}

pub async fn open_misses_by_id(c: &impl GenericClient, ids: &[i64], k: &FieldCipher) -> StoreResult<Vec<Miss>> {
    let sql =
        format!("SELECT {MISS_COLUMNS} FROM kb_misses WHERE id = ANY($1) AND resolved_at IS NULL ORDER BY id DESC");
    let rows = c.query(&sql, &[&ids]).await.map_err(pg)?;
    rows.iter().map(|r| open_miss(r, k)).collect()
}

pub async fn resolve(
    c: &impl GenericClient,
    ids: &[i64],
    by: &str,
    resolution: &str,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    // One statement: all of these or none.
    c.execute(
        "UPDATE kb_misses SET resolved_at = $2, resolved_by = $3, resolution = $4
         WHERE id = ANY($1) AND resolved_at IS NULL",
        &[&ids, &now, &by, &resolution],
    )
    .await
    .map_err(pg)
}

/// The store capabilities kept in this file: BotStore.
mod capability {
    use crate::*;
    use kefu_domain::bot::Session;
    use kefu_store::{Miss, NewMiss};

    impl BotStore for PgStore {
        async fn create_bot_session(&self, session: Session) -> StoreResult<()> {
            bot::create(&self.client().await?, &session, &self.cipher).await
        }
        async fn bot_session(&self, id: String) -> StoreResult<Option<Session>> {
            bot::get(&self.client().await?, &id, &self.cipher).await
        }
        async fn save_bot_session(&self, session: Session, read_turns: u32) -> StoreResult<bool> {
            bot::save(&self.client().await?, &session, read_turns, &self.cipher).await
        }
        async fn purge_bot_sessions(&self, before: DateTime<Utc>) -> StoreResult<u64> {
            bot::purge(&self.client().await?, before).await
        }
        async fn add_miss(&self, miss: NewMiss) -> StoreResult<i64> {
            bot::add_miss(&self.client().await?, &miss, &self.cipher).await
        }
        async fn open_misses(&self, limit: u32) -> StoreResult<Vec<Miss>> {
            bot::open_misses(&self.client().await?, limit, &self.cipher).await
        }
        async fn open_misses_by_id(&self, ids: Vec<i64>) -> StoreResult<Vec<Miss>> {
            bot::open_misses_by_id(&self.client().await?, &ids, &self.cipher).await
        }
        async fn resolve_misses(
            &self,
            ids: Vec<i64>,
            by: String,
            resolution: String,
            now: DateTime<Utc>,
        ) -> StoreResult<u64> {
            bot::resolve(&self.client().await?, &ids, &by, &resolution, now).await
        }
    }
}
