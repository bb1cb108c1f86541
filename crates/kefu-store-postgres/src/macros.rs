//! Canned replies and macros (MacroStore) in PostgreSQL.

use crate::pg;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use kefu_domain::macros::{Macro, MacroSpec};
use kefu_domain::{MacroId, Priority, UserId};
use kefu_store::crypto::FieldCipher;
use kefu_store::seal::{open_text, seal_text};
use kefu_store::{StoreError, StoreResult};
use tokio_postgres::Row;

const SELECT: &str = "SELECT id, owner_id, name, shared, body, internal, priority, created_at, updated_at FROM macros";

fn row(r: &Row, cipher: &FieldCipher) -> StoreResult<Macro> {
    let priority: Option<String> = r.get(6);
    let body: Option<String> = r.get(4);
    Ok(Macro {
        id: MacroId(r.get(0)),
        owner: UserId(r.get(1)),
        name: r.get(2),
        shared: r.get(3),
        body: body.as_deref().map(|b| open_text(cipher, b)).transpose()?,
        internal: r.get(5),
        priority: priority.and_then(|p| Priority::parse(&p, "priority").ok()),
        created_at: r.get(7),
        updated_at: r.get(8),
    })
}

pub async fn create(
    c: &impl GenericClient,
    owner: UserId,
    s: &MacroSpec,
    now: DateTime<Utc>,
    cipher: &FieldCipher,
) -> StoreResult<Macro> {
    let body = s.body.as_deref().map(|b| seal_text(cipher, b));
    let r = c
        .query_one(
            &format!(
                "WITH m AS (INSERT INTO macros (owner_id, name, shared, body, internal, priority, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING *) {}",
                SELECT.replace("FROM macros", "FROM m")
            ),
            &[&owner.0, &s.name, &s.shared, &body, &s.internal, &s.priority.map(|p| p.as_str()), &now],
        )
        .await
        .map_err(pg)?;
    row(&r, cipher)
}

pub async fn for_user(c: &impl GenericClient, user: UserId, cipher: &FieldCipher) -> StoreResult<Vec<Macro>> {
    let rows =
        c.query(&format!("{SELECT} WHERE shared OR owner_id = $1 ORDER BY name, id"), &[&user.0]).await.map_err(pg)?;
    rows.iter().map(|r| row(r, cipher)).collect()
}

pub async fn by_id(c: &impl GenericClient, id: MacroId, cipher: &FieldCipher) -> StoreResult<Option<Macro>> {
    let r = c.query_opt(&format!("{SELECT} WHERE id = $1"), &[&id.0]).await.map_err(pg)?;
    r.map(|r| row(&r, cipher)).transpose()
}

pub async fn update(
    c: &impl GenericClient,
    id: MacroId,
    s: &MacroSpec,
    now: DateTime<Utc>,
    cipher: &FieldCipher,
) -> StoreResult<Macro> {
    let body = s.body.as_deref().map(|b| seal_text(cipher, b));
    let n = c
        .execute(
            "UPDATE macros SET name = $2, shared = $3, body = $4, internal = $5, priority = $6, updated_at = $7
             WHERE id = $1",
            &[&id.0, &s.name, &s.shared, &body, &s.internal, &s.priority.map(|p| p.as_str()), &now],
        )
        .await
        .map_err(pg)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    by_id(c, id, cipher).await?.ok_or(StoreError::NotFound)
}

pub async fn delete(c: &impl GenericClient, id: MacroId) -> StoreResult<()> {
    match c.execute("DELETE FROM macros WHERE id = $1", &[&id.0]).await.map_err(pg)? {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

/// The store capabilities kept in this file: MacroStore.
mod capability {
    use crate::*;
    use kefu_domain::MacroId;
    use kefu_domain::macros::{Macro, MacroSpec};

    impl MacroStore for PgStore {
        async fn create_macro(&self, owner: UserId, spec: MacroSpec, now: DateTime<Utc>) -> StoreResult<Macro> {
            macros::create(&self.client().await?, owner, &spec, now, &self.cipher).await
        }
        async fn macros_for(&self, user: UserId) -> StoreResult<Vec<Macro>> {
            macros::for_user(&self.client().await?, user, &self.cipher).await
        }
        async fn macro_by_id(&self, id: MacroId) -> StoreResult<Option<Macro>> {
            macros::by_id(&self.client().await?, id, &self.cipher).await
        }
        async fn update_macro(&self, id: MacroId, spec: MacroSpec, now: DateTime<Utc>) -> StoreResult<Macro> {
            macros::update(&self.client().await?, id, &spec, now, &self.cipher).await
        }
        async fn delete_macro(&self, id: MacroId) -> StoreResult<()> {
            macros::delete(&self.client().await?, id).await
        }
    }
}
