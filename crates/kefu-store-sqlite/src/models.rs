//! Shared trained models (ModelStore) in SQLite.

use crate::backend;
use crate::rows::{parse_ts, ts};
use chrono::{DateTime, Utc};
use kefu_store::{StoreResult, StoredModel};
use rusqlite::{Connection, OptionalExtension, params};

pub fn put(c: &Connection, name: &str, doc: &str, store_count: i64, at: DateTime<Utc>) -> StoreResult<i64> {
    c.query_row(
        "INSERT INTO trained_models (name, rev, doc, store_count, trained_at) VALUES (?1, 1, ?2, ?3, ?4)
         ON CONFLICT (name) DO UPDATE SET rev = rev + 1, doc = excluded.doc,
             store_count = excluded.store_count, trained_at = excluded.trained_at
         RETURNING rev",
        params![name, doc, store_count, ts(at)],
        |r| r.get(0),
    )
    .map_err(backend)
}

pub fn rev(c: &Connection, name: &str) -> StoreResult<Option<(i64, i64)>> {
    c.query_row("SELECT rev, store_count FROM trained_models WHERE name = ?1", [name], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(backend)
}

pub fn get(c: &Connection, name: &str) -> StoreResult<Option<StoredModel>> {
    c.query_row("SELECT rev, doc, store_count, trained_at FROM trained_models WHERE name = ?1", [name], |r| {
        Ok(StoredModel {
            rev: r.get(0)?,
            doc: r.get(1)?,
            store_count: r.get(2)?,
            trained_at: parse_ts(&r.get::<_, String>(3)?)?,
        })
    })
    .optional()
    .map_err(backend)
}

/// The store capabilities kept in this file: ModelStore.
mod capability {
    use crate::*;
    use kefu_store::StoredModel;

    impl ModelStore for SqliteStore {
        async fn put_model(&self, name: String, doc: String, store_count: i64, at: DateTime<Utc>) -> StoreResult<i64> {
            self.writer.run(move |c| models::put(c, &name, &doc, store_count, at)).await
        }
        async fn model_rev(&self, name: String) -> StoreResult<Option<(i64, i64)>> {
            self.read(move |c| models::rev(c, &name)).await
        }
        async fn model(&self, name: String) -> StoreResult<Option<StoredModel>> {
            self.read(move |c| models::get(c, &name)).await
        }
    }
}
