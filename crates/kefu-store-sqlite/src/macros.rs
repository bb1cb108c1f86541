//! Canned replies and macros (MacroStore) in SQLite.

use crate::backend;
use crate::rows::{parse_ts, ts};
use chrono::{DateTime, Utc};
use kefu_domain::macros::{Macro, MacroSpec};
use kefu_domain::{MacroId, Priority, UserId};
use kefu_store::crypto::FieldCipher;
use kefu_store::seal::{open_text, seal_text};
use kefu_store::{StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

const SELECT: &str = "SELECT id, owner_id, name, shared, body, internal, priority, created_at, updated_at FROM macros";

fn row(r: &rusqlite::Row) -> rusqlite::Result<Macro> {
    let priority: Option<String> = r.get(6)?;
    Ok(Macro {
        id: MacroId(r.get(0)?),
        owner: UserId(r.get(1)?),
        name: r.get(2)?,
        shared: r.get(3)?,
        body: r.get(4)?,
        internal: r.get(5)?,
        priority: priority.and_then(|p| Priority::parse(&p, "priority").ok()),
        created_at: parse_ts(&r.get::<_, String>(7)?)?,
        updated_at: parse_ts(&r.get::<_, String>(8)?)?,
    })
}

fn opened(m: Macro, cipher: &FieldCipher) -> StoreResult<Macro> {
    let body = m.body.as_deref().map(|b| open_text(cipher, b)).transpose()?;
    Ok(Macro { body, ..m })
}

pub fn create(
    c: &Connection,
    owner: UserId,
    s: &MacroSpec,
    now: DateTime<Utc>,
    cipher: &FieldCipher,
) -> StoreResult<Macro> {
    let id: i64 = c
        .prepare_cached(
            "INSERT INTO macros (owner_id, name, shared, body, internal, priority, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) RETURNING id",
        )
        .map_err(backend)?
        .query_row(
            params![
                owner.0,
                s.name,
                s.shared,
                s.body.as_deref().map(|b| seal_text(cipher, b)),
                s.internal,
                s.priority.map(|p| p.as_str()),
                ts(now)
            ],
            |r| r.get(0),
        )
        .map_err(backend)?;
    by_id(c, MacroId(id), cipher)?.ok_or(StoreError::NotFound)
}

pub fn for_user(c: &Connection, user: UserId, cipher: &FieldCipher) -> StoreResult<Vec<Macro>> {
    c.prepare_cached(&format!("{SELECT} WHERE shared = 1 OR owner_id = ?1 ORDER BY name, id"))
        .map_err(backend)?
        .query_map([user.0], row)
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?
        .into_iter()
        .map(|m| opened(m, cipher))
        .collect()
}

pub fn by_id(c: &Connection, id: MacroId, cipher: &FieldCipher) -> StoreResult<Option<Macro>> {
    let m = c
        .prepare_cached(&format!("{SELECT} WHERE id = ?1"))
        .map_err(backend)?
        .query_row([id.0], row)
        .optional()
        .map_err(backend)?;
    m.map(|m| opened(m, cipher)).transpose()
}

pub fn update(
    c: &Connection,
    id: MacroId,
    s: &MacroSpec,
    now: DateTime<Utc>,
    cipher: &FieldCipher,
) -> StoreResult<Macro> {
    let n = c
        .prepare_cached(
            "UPDATE macros SET name = ?2, shared = ?3, body = ?4, internal = ?5, priority = ?6, updated_at = ?7
             WHERE id = ?1",
        )
        .map_err(backend)?
        .execute(params![
            id.0,
            s.name,
            s.shared,
            s.body.as_deref().map(|b| seal_text(cipher, b)),
            s.internal,
            s.priority.map(|p| p.as_str()),
            ts(now)
        ])
        .map_err(backend)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    by_id(c, id, cipher)?.ok_or(StoreError::NotFound)
}

pub fn delete(c: &Connection, id: MacroId) -> StoreResult<()> {
    match c.execute("DELETE FROM macros WHERE id = ?1", [id.0]).map_err(backend)? {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

/// The store capabilities kept in this file: MacroStore.
mod capability {
    use crate::*;
    use kefu_domain::MacroId;
    use kefu_domain::macros::{Macro, MacroSpec};

    impl MacroStore for SqliteStore {
        async fn create_macro(&self, owner: UserId, spec: MacroSpec, now: DateTime<Utc>) -> StoreResult<Macro> {
            let cipher = self.cipher.clone();
            self.writer.run(move |c| macros::create(c, owner, &spec, now, &cipher)).await
        }
        async fn macros_for(&self, user: UserId) -> StoreResult<Vec<Macro>> {
            let cipher = self.cipher.clone();
            self.read(move |c| macros::for_user(c, user, &cipher)).await
        }
        async fn macro_by_id(&self, id: MacroId) -> StoreResult<Option<Macro>> {
            let cipher = self.cipher.clone();
            self.read(move |c| macros::by_id(c, id, &cipher)).await
        }
        async fn update_macro(&self, id: MacroId, spec: MacroSpec, now: DateTime<Utc>) -> StoreResult<Macro> {
            let cipher = self.cipher.clone();
            self.writer.run(move |c| macros::update(c, id, &spec, now, &cipher)).await
        }
        async fn delete_macro(&self, id: MacroId) -> StoreResult<()> {
            self.writer.run(move |c| macros::delete(c, id)).await
        }
    }
}
