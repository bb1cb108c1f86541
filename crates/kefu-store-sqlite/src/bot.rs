//! The first line's conversations and the editors' queue (BotStore) in SQLite.

use crate::backend;
use crate::rows::{parse_ts, ts};
use chrono::{DateTime, Utc};
use kefu_domain::bot::Session;
use kefu_store::crypto::FieldCipher;
use kefu_store::{Miss, NewMiss, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

fn sealed(k: &FieldCipher, s: &Session) -> StoreResult<String> {
    let json = serde_json::to_string(s).map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok(k.encrypt(&json))
}

pub fn create(c: &Connection, s: &Session, k: &FieldCipher) -> StoreResult<()> {
    c.prepare_cached("INSERT INTO bot_sessions (id, doc, turns, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)")
        .map_err(backend)?
        .execute(params![s.id, sealed(k, s)?, s.turns.len() as i64, ts(s.created_at), ts(s.updated_at)])
        .map_err(backend)?;
    Ok(())
}

pub fn get(c: &Connection, id: &str, k: &FieldCipher) -> StoreResult<Option<Session>> {
    let doc: Option<String> = c
        .prepare_cached("SELECT doc FROM bot_sessions WHERE id = ?1")
        .map_err(backend)?
        .query_row([id], |r| r.get(0))
        .optional()
        .map_err(backend)?;
    doc.map(|d| {
        serde_json::from_str(&k.decrypt(&d)?)
            .map_err(|e| StoreError::Backend(format!("stored bot session {id} is invalid: {e}")))
    })
    .transpose()
}

pub fn save(c: &Connection, s: &Session, read_turns: u32, k: &FieldCipher) -> StoreResult<bool> {
    let n = c
        .prepare_cached("UPDATE bot_sessions SET doc = ?2, turns = ?3, updated_at = ?4 WHERE id = ?1 AND turns = ?5")
        .map_err(backend)?
        .execute(params![s.id, sealed(k, s)?, s.turns.len() as i64, ts(s.updated_at), i64::from(read_turns)])
        .map_err(backend)?;
    Ok(n == 1)
}

pub fn purge(c: &Connection, before: DateTime<Utc>) -> StoreResult<u64> {
    let n = c.execute("DELETE FROM bot_sessions WHERE updated_at < ?1", [ts(before)]).map_err(backend)?;
    Ok(n as u64)
}

pub fn add_miss(c: &Connection, m: &NewMiss, k: &FieldCipher) -> StoreResult<i64> {
    let keywords = serde_json::to_string(&m.keywords).map_err(|e| StoreError::Backend(e.to_string()))?;
    c.prepare_cached(
        "INSERT INTO kb_misses (kind, text, code, keywords, session_id, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
    )
    .map_err(backend)?
    .query_row(params![m.kind, k.encrypt(&m.text), m.code, keywords, m.session_id, ts(m.at)], |r| r.get(0))
    .map_err(backend)
}

const MISS_COLUMNS: &str = "id, kind, text, code, keywords, session_id, at";

/// A queue row as read, before its text is decrypted.
struct RawMiss {
    id: i64,
    kind: String,
    text: String,
    code: Option<String>,
    keywords: String,
    session_id: Option<String>,
    at: String,
}

fn miss(r: &rusqlite::Row) -> rusqlite::Result<RawMiss> {
    Ok(RawMiss {
        id: r.get(0)?,
        kind: r.get(1)?,
        text: r.get(2)?,
        code: r.get(3)?,
        keywords: r.get(4)?,
        session_id: r.get(5)?,
        at: r.get(6)?,
    })
}

fn open_miss(r: RawMiss, k: &FieldCipher) -> StoreResult<Miss> {
    let keywords = serde_json::from_str(&r.keywords).map_err(|e| StoreError::Backend(e.to_string()))?;
    let at = parse_ts(&r.at).map_err(backend)?;
    let miss =
        NewMiss { kind: r.kind, text: k.decrypt(&r.text)?, code: r.code, keywords, session_id: r.session_id, at };
    Ok(Miss { id: r.id, miss, resolved_at: None, resolved_by: None, resolution: None })
}

pub fn open_misses(c: &Connection, limit: u32, k: &FieldCipher) -> StoreResult<Vec<Miss>> {
    let sql = format!("SELECT {MISS_COLUMNS} FROM kb_misses WHERE resolved_at IS NULL ORDER BY id DESC LIMIT ?1");
    let rows = c
        .prepare_cached(&sql)
        .map_err(backend)?
        .query_map([limit], miss)
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    rows.into_iter().map(|r| open_miss(r, k)).collect()
}

pub fn open_misses_by_id(c: &Connection, ids: &[i64], k: &FieldCipher) -> StoreResult<Vec<Miss>> {
    let ids = serde_json::to_string(ids).map_err(|e| StoreError::Backend(e.to_string()))?;
    let sql = format!(
        "SELECT {MISS_COLUMNS} FROM kb_misses WHERE id IN (SELECT value FROM json_each(?1)) AND resolved_at IS NULL
         ORDER BY id DESC"
    );
    let rows = c
        .prepare_cached(&sql)
        .map_err(backend)?
        .query_map([ids], miss)
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    rows.into_iter().map(|r| open_miss(r, k)).collect()
}

pub fn resolve(c: &Connection, ids: &[i64], by: &str, resolution: &str, now: DateTime<Utc>) -> StoreResult<u64> {
    // The writer runs each job in its own savepoint: all of these or none.
    let mut n = 0;
    for id in ids {
        n += c
            .prepare_cached(
                "UPDATE kb_misses SET resolved_at = ?2, resolved_by = ?3, resolution = ?4 WHERE id = ?1 AND resolved_at IS NULL",
            )
            .map_err(backend)?
            .execute(params![id, ts(now), by, resolution])
            .map_err(backend)? as u64;
    }
    Ok(n)
}

/// The store capabilities kept in this file: BotStore.
mod capability {
    use crate::*;
    use kefu_domain::bot::Session;
    use kefu_store::{Miss, NewMiss};

    impl BotStore for SqliteStore {
        async fn create_bot_session(&self, session: Session) -> StoreResult<()> {
            let k = self.cipher.clone();
            self.writer.run(move |c| bot::create(c, &session, &k)).await
        }
        async fn bot_session(&self, id: String) -> StoreResult<Option<Session>> {
            let k = self.cipher.clone();
            self.read(move |c| bot::get(c, &id, &k)).await
        }
        async fn save_bot_session(&self, session: Session, read_turns: u32) -> StoreResult<bool> {
            let k = self.cipher.clone();
            self.writer.run(move |c| bot::save(c, &session, read_turns, &k)).await
        }
        async fn purge_bot_sessions(&self, before: DateTime<Utc>) -> StoreResult<u64> {
            self.writer.run(move |c| bot::purge(c, before)).await
        }
        async fn add_miss(&self, miss: NewMiss) -> StoreResult<i64> {
            let k = self.cipher.clone();
            self.writer.run(move |c| bot::add_miss(c, &miss, &k)).await
        }
        async fn open_misses(&self, limit: u32) -> StoreResult<Vec<Miss>> {
            let k = self.cipher.clone();
            self.read(move |c| bot::open_misses(c, limit, &k)).await
        }
        async fn open_misses_by_id(&self, ids: Vec<i64>) -> StoreResult<Vec<Miss>> {
            let k = self.cipher.clone();
            self.read(move |c| bot::open_misses_by_id(c, &ids, &k)).await
        }
        async fn resolve_misses(
            &self,
            ids: Vec<i64>,
            by: String,
            resolution: String,
            now: DateTime<Utc>,
        ) -> StoreResult<u64> {
            self.writer.run(move |c| bot::resolve(c, &ids, &by, &resolution, now)).await
        }
    }
}
