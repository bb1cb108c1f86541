//! Export and import in the neutral row form of `kefu_store::dump`.

use crate::pg;
use chrono::{DateTime, Utc};
use deadpool_postgres::{Client, GenericClient};
use kefu_domain::audit::canonical_time;
use kefu_store::dump::{Kind, TABLES, TableSpec};
use kefu_store::{JsonRow, StoreError, StoreResult};
use serde_json::Value;
use tokio_postgres::types::ToSql;

fn cell(r: &tokio_postgres::Row, i: usize, kind: Kind) -> StoreResult<Value> {
    Ok(match kind {
        Kind::Int => r.get::<_, Option<i64>>(i).map_or(Value::Null, Value::from),
        Kind::Bool => r.get::<_, Option<bool>>(i).map_or(Value::Null, Value::Bool),
        Kind::Text => r.get::<_, Option<String>>(i).map_or(Value::Null, Value::String),
        Kind::Time => r.get::<_, Option<DateTime<Utc>>>(i).map_or(Value::Null, |t| Value::String(canonical_time(t))),
        Kind::Real => r.get::<_, Option<f64>>(i).map_or(Value::Null, Value::from),
        Kind::Date => r.get::<_, Option<chrono::NaiveDate>>(i).map_or(Value::Null, |d| Value::String(d.to_string())),
        Kind::Json => match r.get::<_, Option<String>>(i) {
            None => Value::Null,
            Some(s) => {
                serde_json::from_str(&s).map_err(|e| StoreError::Backend(format!("stored JSON is invalid: {e}")))?
            }
        },
    })
}

fn param(kind: Kind, v: Option<&Value>) -> StoreResult<Box<dyn ToSql + Sync + Send>> {
    let bad = |v: &Value| StoreError::Backend(format!("cannot import {v} as {kind:?}"));
    let v = v.filter(|v| !v.is_null());
    Ok(match kind {
        Kind::Int => Box::new(v.map(|v| v.as_i64().ok_or_else(|| bad(v))).transpose()?),
        Kind::Bool => Box::new(v.map(|v| v.as_bool().ok_or_else(|| bad(v))).transpose()?),
        Kind::Text => Box::new(v.map(|v| v.as_str().map(str::to_string).ok_or_else(|| bad(v))).transpose()?),
        Kind::Time => Box::new(
            v.map(|v| {
                v.as_str()
                    .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                    .map(|t| t.with_timezone(&Utc))
                    .ok_or_else(|| bad(v))
            })
            .transpose()?,
        ),
        Kind::Json => Box::new(v.map(Value::to_string)),
        Kind::Real => Box::new(v.map(|v| v.as_f64().ok_or_else(|| bad(v))).transpose()?),
        Kind::Date => Box::new(
            v.map(|v| v.as_str().and_then(|s| s.parse::<chrono::NaiveDate>().ok()).ok_or_else(|| bad(v)))
                .transpose()?,
        ),
    })
}

pub async fn export(c: &impl GenericClient, t: &TableSpec, offset: u64, limit: u32) -> StoreResult<Vec<JsonRow>> {
    let cols: Vec<&str> = t.columns.iter().map(|c| c.0).collect();
    let sql =
        format!("SELECT {} FROM {} ORDER BY {} LIMIT {limit} OFFSET {offset}", cols.join(", "), t.name, t.order_by);
    let rows = c.query(&sql, &[]).await.map_err(pg)?;
    rows.iter()
        .map(|r| {
            t.columns
                .iter()
                .enumerate()
                .map(|(i, (name, kind))| Ok(((*name).to_string(), cell(r, i, *kind)?)))
                .collect()
        })
        .collect()
}

pub async fn import(client: &mut Client, t: &TableSpec, rows: &[JsonRow]) -> StoreResult<()> {
    let cols: Vec<&str> = t.columns.iter().map(|c| c.0).collect();
    let marks: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
    let sql = format!("INSERT INTO {} ({}) VALUES ({})", t.name, cols.join(", "), marks.join(", "));
    let tx = client.transaction().await.map_err(pg)?;
    let stmt = tx.prepare(&sql).await.map_err(pg)?;
    for row in rows {
        let values =
            t.columns.iter().map(|(name, kind)| param(*kind, row.get(*name))).collect::<StoreResult<Vec<_>>>()?;
        let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|b| b.as_ref() as &(dyn ToSql + Sync)).collect();
        tx.execute(&stmt, &refs).await.map_err(pg)?;
    }
    tx.commit().await.map_err(pg)
}

/// Moves each identity sequence past the largest imported id.
pub async fn finish(c: &impl GenericClient) -> StoreResult<()> {
    for t in TABLES {
        if let Some(col) = t.identity {
            let sql = format!(
                "SELECT setval(pg_get_serial_sequence('{0}', '{col}'), COALESCE(MAX({col}), 1), MAX({col}) IS NOT NULL) FROM {0}",
                t.name
            );
            c.query_one(&sql, &[]).await.map_err(pg)?;
        }
    }
    Ok(())
}

/// The store capabilities kept in this file: DumpStore.
mod capability {
    use crate::*;

    impl DumpStore for PgStore {
        async fn export_rows(
            &self,
            table: &'static kefu_store::dump::TableSpec,
            offset: u64,
            limit: u32,
        ) -> StoreResult<Vec<JsonRow>> {
            dump::export(&self.client().await?, table, offset, limit).await
        }
        async fn import_rows(
            &self,
            table: &'static kefu_store::dump::TableSpec,
            rows: Vec<JsonRow>,
        ) -> StoreResult<()> {
            dump::import(&mut self.client().await?, table, &rows).await
        }
        async fn finish_import(&self) -> StoreResult<()> {
            dump::finish(&self.client().await?).await
        }
    }
}
