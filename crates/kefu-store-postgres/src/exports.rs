//! Report exports (ExportStore) in PostgreSQL.

use crate::pg;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use kefu_domain::UserId;
use kefu_store::{ExportRecord, ExportStep, NewExport, StoreResult};

const SELECT: &str = "SELECT id, owner, kind, format, request, state, done_rows, total_rows, parts, bytes, error,
    created_at, finished_at FROM report_exports";

fn row(r: &tokio_postgres::Row) -> ExportRecord {
    ExportRecord {
        id: r.get(0),
        owner: UserId(r.get(1)),
        kind: r.get(2),
        format: r.get(3),
        request: r.get(4),
        state: r.get(5),
        done_rows: r.get(6),
        total_rows: r.get(7),
        parts: r.get(8),
        bytes: r.get(9),
        error: r.get(10),
        created_at: r.get(11),
        finished_at: r.get(12),
    }
}

pub async fn create(c: &impl GenericClient, e: &NewExport) -> StoreResult<ExportRecord> {
    let id: i64 = c
        .query_one(
            "INSERT INTO report_exports (owner, kind, format, request, state, done_rows, parts, bytes, created_at)
             VALUES ($1, $2, $3, $4, 'queued', 0, 0, 0, $5) RETURNING id",
            &[&e.owner.0, &e.kind, &e.format, &e.request, &e.now],
        )
        .await
        .map_err(pg)?
        .get(0);
    get(c, id).await?.ok_or(kefu_store::StoreError::NotFound)
}

pub async fn get(c: &impl GenericClient, id: i64) -> StoreResult<Option<ExportRecord>> {
    Ok(c.query_opt(&format!("{SELECT} WHERE id = $1"), &[&id]).await.map_err(pg)?.as_ref().map(row))
}

/// One transaction: the row is locked, so two nodes never claim the same export.
pub async fn claim(
    client: &mut deadpool_postgres::Client,
    node: &str,
    now: DateTime<Utc>,
    lease: chrono::Duration,
) -> StoreResult<Option<ExportRecord>> {
    let tx = client.transaction().await.map_err(pg)?;
    let r = tx
        .query_opt(
            "SELECT id FROM report_exports WHERE state = 'queued'
                OR (state = 'running' AND claimed_until < $1) ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
            &[&now],
        )
        .await
        .map_err(pg)?;
    let Some(r) = r else { return Ok(None) };
    let id: i64 = r.get(0);
    tx.execute("DELETE FROM report_export_parts WHERE export_id = $1", &[&id]).await.map_err(pg)?;
    tx.execute(
        "UPDATE report_exports SET state = 'running', claimed_by = $2, claimed_until = $3, done_rows = 0,
             total_rows = NULL, parts = 0, bytes = 0 WHERE id = $1",
        &[&id, &node, &(now + lease)],
    )
    .await
    .map_err(pg)?;
    let out = get(&tx, id).await?;
    tx.commit().await.map_err(pg)?;
    Ok(out)
}

pub async fn step(client: &mut deadpool_postgres::Client, s: &ExportStep) -> StoreResult<bool> {
    let tx = client.transaction().await.map_err(pg)?;
    let r = tx
        .query_opt(
            "SELECT parts FROM report_exports WHERE id = $1 AND state = 'running' AND claimed_by = $2 FOR UPDATE",
            &[&s.id, &s.node],
        )
        .await
        .map_err(pg)?;
    let Some(r) = r else { return Ok(false) };
    let parts: i32 = r.get(0);
    let added: i32 = if s.part.is_empty() { 0 } else { 1 };
    if added == 1 {
        tx.execute(
            "INSERT INTO report_export_parts (export_id, seq, data) VALUES ($1, $2, $3)",
            &[&s.id, &parts, &s.part],
        )
        .await
        .map_err(pg)?;
    }
    tx.execute(
        "UPDATE report_exports SET done_rows = $2, total_rows = $3, parts = parts + $4, bytes = bytes + $5,
             claimed_until = $6 WHERE id = $1",
        &[&s.id, &s.done_rows, &s.total_rows, &added, &(s.part.len() as i64), &(s.now + s.lease)],
    )
    .await
    .map_err(pg)?;
    tx.commit().await.map_err(pg)?;
    Ok(true)
}

pub async fn finish(
    c: &impl GenericClient,
    id: i64,
    node: &str,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let state = if error.is_some() { "failed" } else { "done" };
    let n = c
        .execute(
            "UPDATE report_exports SET state = $3, error = $4, finished_at = $5, claimed_by = NULL, claimed_until = NULL
             WHERE id = $1 AND state = 'running' AND claimed_by = $2",
            &[&id, &node, &state, &error, &now],
        )
        .await
        .map_err(pg)?;
    Ok(n == 1)
}

pub async fn part(c: &impl GenericClient, id: i64, seq: i32) -> StoreResult<Option<Vec<u8>>> {
    let r = c
        .query_opt("SELECT data FROM report_export_parts WHERE export_id = $1 AND seq = $2", &[&id, &seq])
        .await
        .map_err(pg)?;
    Ok(r.map(|r| r.get(0)))
}

pub async fn list(c: &impl GenericClient, owner: Option<UserId>, limit: u32) -> StoreResult<Vec<ExportRecord>> {
    let sql = format!("{SELECT} WHERE ($1::BIGINT = 0 OR owner = $1) ORDER BY id DESC LIMIT $2");
    let rows = c.query(&sql, &[&owner.map_or(0, |o| o.0), &i64::from(limit)]).await.map_err(pg)?;
    Ok(rows.iter().map(row).collect())
}

/// The store capabilities kept in this file: ExportStore.
mod capability {
    use crate::*;
    use kefu_store::{ExportRecord, ExportStep, ExportStore, NewExport};

    impl ExportStore for PgStore {
        async fn create_export(&self, e: NewExport) -> StoreResult<ExportRecord> {
            exports::create(&self.client().await?, &e).await
        }
        async fn claim_export(
            &self,
            node: String,
            now: DateTime<Utc>,
            lease: chrono::Duration,
        ) -> StoreResult<Option<ExportRecord>> {
            exports::claim(&mut self.client().await?, &node, now, lease).await
        }
        async fn export_step(&self, step: ExportStep) -> StoreResult<bool> {
            exports::step(&mut self.client().await?, &step).await
        }
        async fn finish_export(
            &self,
            id: i64,
            node: String,
            error: Option<String>,
            now: DateTime<Utc>,
        ) -> StoreResult<bool> {
            exports::finish(&self.client().await?, id, &node, error.as_deref(), now).await
        }
        async fn export_record(&self, id: i64) -> StoreResult<Option<ExportRecord>> {
            exports::get(&self.client().await?, id).await
        }
        async fn export_part(&self, id: i64, seq: i32) -> StoreResult<Option<Vec<u8>>> {
            exports::part(&self.client().await?, id, seq).await
        }
        async fn list_exports(&self, owner: Option<UserId>, limit: u32) -> StoreResult<Vec<ExportRecord>> {
            exports::list(&self.client().await?, owner, limit).await
        }
    }
}
