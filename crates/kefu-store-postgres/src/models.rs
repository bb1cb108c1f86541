//! Shared trained models (ModelStore) in PostgreSQL.

use crate::pg;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use kefu_store::{StoreResult, StoredModel};

pub async fn put(
    c: &impl GenericClient,
    name: &str,
    doc: &str,
    store_count: i64,
    at: DateTime<Utc>,
) -> StoreResult<i64> {
    let r = c
        .query_one(
            "INSERT INTO trained_models (name, rev, doc, store_count, trained_at) VALUES ($1, 1, $2, $3, $4)
             ON CONFLICT (name) DO UPDATE SET rev = trained_models.rev + 1, doc = excluded.doc,
                 store_count = excluded.store_count, trained_at = excluded.trained_at
             RETURNING rev",
            &[&name, &doc, &store_count, &at],
        )
        .await
        .map_err(pg)?;
    Ok(r.get(0))
}

pub async fn rev(c: &impl GenericClient, name: &str) -> StoreResult<Option<(i64, i64)>> {
    let r = c.query_opt("SELECT rev, store_count FROM trained_models WHERE name = $1", &[&name]).await.map_err(pg)?;
    Ok(r.map(|r| (r.get(0), r.get(1))))
}

pub async fn get(c: &impl GenericClient, name: &str) -> StoreResult<Option<StoredModel>> {
    let r = c
        .query_opt("SELECT rev, doc, store_count, trained_at FROM trained_models WHERE name = $1", &[&name])
        .await
        .map_err(pg)?;
    Ok(r.map(|r| StoredModel { rev: r.get(0), doc: r.get(1), store_count: r.get(2), trained_at: r.get(3) }))
}

/// The store capabilities kept in this file: ModelStore.
mod capability {
    use crate::*;
    use kefu_store::StoredModel;

    impl ModelStore for PgStore {
        async fn put_model(&self, name: String, doc: String, store_count: i64, at: DateTime<Utc>) -> StoreResult<i64> {
            models::put(&self.client().await?, &name, &doc, store_count, at).await
        }
        async fn model_rev(&self, name: String) -> StoreResult<Option<(i64, i64)>> {
            models::rev(&self.client().await?, &name).await
        }
        async fn model(&self, name: String) -> StoreResult<Option<StoredModel>> {
            models::get(&self.client().await?, &name).await
        }
    }
}
