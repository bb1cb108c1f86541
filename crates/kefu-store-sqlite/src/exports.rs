//! Report exports (ExportStore) in SQLite.

use crate::backend;
use crate::rows::{parse_ts, ts};
use chrono::{DateTime, Utc};
use kefu_domain::UserId;
use kefu_store::{ExportRecord, ExportStep, NewExport, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

const SELECT: &str = "SELECT id, owner, kind, format, request, state, done_rows, total_rows, parts, bytes, error,
    created_at, finished_at FROM report_exports";

fn row(r: &rusqlite::Row) -> rusqlite::Result<ExportRecord> {
    Ok(ExportRecord {
        id: r.get(0)?,
        owner: UserId(r.get(1)?),
        kind: r.get(2)?,
        format: r.get(3)?,
        request: r.get(4)?,
        state: r.get(5)?,
        done_rows: r.get(6)?,
        total_rows: r.get(7)?,
        parts: r.get(8)?,
        bytes: r.get(9)?,
        error: r.get(10)?,
        created_at: parse_ts(&r.get::<_, String>(11)?)?,
        finished_at: r.get::<_, Option<String>>(12)?.map(|s| parse_ts(&s)).transpose()?,
    })
}

pub fn create(c: &Connection, e: &NewExport) -> StoreResult<ExportRecord> {
    c.execute(
        "INSERT INTO report_exports (owner, kind, format, request, state, done_rows, parts, bytes, created_at)
         VALUES (?1, ?2, ?3, ?4, 'queued', 0, 0, 0, ?5)",
        params![e.owner.0, e.kind, e.format, e.request, ts(e.now)],
    )
    .map_err(backend)?;
    get(c, c.last_insert_rowid())?.ok_or(kefu_store::StoreError::NotFound)
}

pub fn get(c: &Connection, id: i64) -> StoreResult<Option<ExportRecord>> {
    c.query_row(&format!("{SELECT} WHERE id = ?1"), [id], row).optional().map_err(backend)
}

/// Runs inside the writer's savepoint: the claim and the dropped parts together.
pub fn claim(
    c: &Connection,
    node: &str,
    now: DateTime<Utc>,
    lease: chrono::Duration,
) -> StoreResult<Option<ExportRecord>> {
    let id: Option<i64> = c
        .query_row(
            "SELECT id FROM report_exports WHERE state = 'queued'
                OR (state = 'running' AND claimed_until < ?1) ORDER BY id LIMIT 1",
            [ts(now)],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend)?;
    let Some(id) = id else { return Ok(None) };
    c.execute("DELETE FROM report_export_parts WHERE export_id = ?1", [id]).map_err(backend)?;
    c.execute(
        "UPDATE report_exports SET state = 'running', claimed_by = ?2, claimed_until = ?3, done_rows = 0,
             total_rows = NULL, parts = 0, bytes = 0 WHERE id = ?1",
        params![id, node, ts(now + lease)],
    )
    .map_err(backend)?;
    get(c, id)
}

pub fn step(c: &Connection, s: &ExportStep) -> StoreResult<bool> {
    let parts: Option<i32> = c
        .query_row(
            "SELECT parts FROM report_exports WHERE id = ?1 AND state = 'running' AND claimed_by = ?2",
            params![s.id, s.node],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend)?;
    let Some(parts) = parts else { return Ok(false) };
    let added = if s.part.is_empty() {
        0
    } else {
        c.execute(
            "INSERT INTO report_export_parts (export_id, seq, data) VALUES (?1, ?2, ?3)",
            params![s.id, parts, s.part],
        )
        .map_err(backend)?;
        1
    };
    c.execute(
        "UPDATE report_exports SET done_rows = ?2, total_rows = ?3, parts = parts + ?4, bytes = bytes + ?5,
             claimed_until = ?6 WHERE id = ?1",
        params![s.id, s.done_rows, s.total_rows, added, s.part.len() as i64, ts(s.now + s.lease)],
    )
    .map_err(backend)?;
    Ok(true)
}

pub fn finish(c: &Connection, id: i64, node: &str, error: Option<&str>, now: DateTime<Utc>) -> StoreResult<bool> {
    let n = c
        .execute(
            "UPDATE report_exports SET state = ?3, error = ?4, finished_at = ?5, claimed_by = NULL, claimed_until = NULL
             WHERE id = ?1 AND state = 'running' AND claimed_by = ?2",
            params![id, node, if error.is_some() { "failed" } else { "done" }, error, ts(now)],
        )
        .map_err(backend)?;
    Ok(n == 1)
}

pub fn part(c: &Connection, id: i64, seq: i32) -> StoreResult<Option<Vec<u8>>> {
    c.query_row("SELECT data FROM report_export_parts WHERE export_id = ?1 AND seq = ?2", params![id, seq], |r| {
        r.get(0)
    })
    .optional()
    .map_err(backend)
}

pub fn list(c: &Connection, owner: Option<UserId>, limit: u32) -> StoreResult<Vec<ExportRecord>> {
    // Everyone's: owner 0 matches nobody's filter, so the condition is dropped.
    let sql = format!("{SELECT} WHERE (?1 = 0 OR owner = ?1) ORDER BY id DESC LIMIT ?2");
    c.prepare(&sql)
        .map_err(backend)?
        .query_map(params![owner.map_or(0, |o| o.0), limit], row)
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)
}

/// The store capabilities kept in this file: ExportStore.
mod capability {
    use crate::*;
    use kefu_store::{ExportRecord, ExportStep, ExportStore, NewExport};

    impl ExportStore for SqliteStore {
        async fn create_export(&self, e: NewExport) -> StoreResult<ExportRecord> {
            self.writer.run(move |c| exports::create(c, &e)).await
        }
        async fn claim_export(
            &self,
            node: String,
            now: DateTime<Utc>,
            lease: chrono::Duration,
        ) -> StoreResult<Option<ExportRecord>> {
            self.writer.run(move |c| exports::claim(c, &node, now, lease)).await
        }
        async fn export_step(&self, step: ExportStep) -> StoreResult<bool> {
            self.writer.run(move |c| exports::step(c, &step)).await
        }
        async fn finish_export(
            &self,
            id: i64,
            node: String,
            error: Option<String>,
            now: DateTime<Utc>,
        ) -> StoreResult<bool> {
            self.writer.run(move |c| exports::finish(c, id, &node, error.as_deref(), now)).await
        }
        async fn export_record(&self, id: i64) -> StoreResult<Option<ExportRecord>> {
            self.read(move |c| exports::get(c, id)).await
        }
        async fn export_part(&self, id: i64, seq: i32) -> StoreResult<Option<Vec<u8>>> {
            self.read(move |c| exports::part(c, id, seq)).await
        }
        async fn list_exports(&self, owner: Option<UserId>, limit: u32) -> StoreResult<Vec<ExportRecord>> {
            self.read(move |c| exports::list(c, owner, limit)).await
        }
    }
}
