//! Export and import in the neutral row form of `kefu_store::dump`.

use crate::backend;
use kefu_store::dump::{Kind, TableSpec};
use kefu_store::{StoreError, StoreResult};
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, params_from_iter};
use serde_json::{Map, Value};

fn to_json(kind: Kind, v: Sql) -> StoreResult<Value> {
    Ok(match (kind, v) {
        (_, Sql::Null) => Value::Null,
        (Kind::Int, Sql::Integer(i)) => Value::from(i),
        (Kind::Bool, Sql::Integer(i)) => Value::Bool(i != 0),
        (Kind::Text | Kind::Time | Kind::Date, Sql::Text(s)) => Value::String(s),
        (Kind::Real, Sql::Real(x)) => Value::from(x),
        (Kind::Real, Sql::Integer(i)) => Value::from(i as f64),
        (Kind::Json, Sql::Text(s)) => {
            serde_json::from_str(&s).map_err(|e| StoreError::Backend(format!("stored JSON is invalid: {e}")))?
        }
        (k, other) => {
            return Err(StoreError::Backend(format!("unexpected {other:?} in a {k:?} column")));
        }
    })
}

fn to_sql(kind: Kind, v: Option<&Value>) -> StoreResult<Sql> {
    let bad = |v: &Value| StoreError::Backend(format!("cannot import {v} as {kind:?}"));
    Ok(match (kind, v) {
        (_, None | Some(Value::Null)) => Sql::Null,
        (Kind::Int, Some(v)) => Sql::Integer(v.as_i64().ok_or_else(|| bad(v))?),
        (Kind::Bool, Some(v)) => Sql::Integer(i64::from(v.as_bool().ok_or_else(|| bad(v))?)),
        (Kind::Text | Kind::Time, Some(v)) => Sql::Text(v.as_str().ok_or_else(|| bad(v))?.to_string()),
        (Kind::Date, Some(v)) => {
            Sql::Text(v.as_str().filter(|s| s.parse::<chrono::NaiveDate>().is_ok()).ok_or_else(|| bad(v))?.to_string())
        }
        (Kind::Real, Some(v)) => Sql::Real(v.as_f64().ok_or_else(|| bad(v))?),
        (Kind::Json, Some(v)) => Sql::Text(v.to_string()),
    })
}

pub fn export(c: &Connection, t: &TableSpec, offset: u64, limit: u32) -> StoreResult<Vec<Map<String, Value>>> {
    let cols: Vec<&str> = t.columns.iter().map(|c| c.0).collect();
    let sql =
        format!("SELECT {} FROM {} ORDER BY {} LIMIT {limit} OFFSET {offset}", cols.join(", "), t.name, t.order_by);
    let mut stmt = c.prepare(&sql).map_err(backend)?;
    let mut rows = stmt.query([]).map_err(backend)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(backend)? {
        let mut m = Map::new();
        for (i, (name, kind)) in t.columns.iter().enumerate() {
            m.insert((*name).to_string(), to_json(*kind, r.get::<_, Sql>(i).map_err(backend)?)?);
        }
        out.push(m);
    }
    Ok(out)
}

pub fn import(c: &Connection, t: &TableSpec, rows: &[Map<String, Value>]) -> StoreResult<()> {
    let cols: Vec<&str> = t.columns.iter().map(|c| c.0).collect();
    let marks: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
    let sql = format!("INSERT INTO {} ({}) VALUES ({})", t.name, cols.join(", "), marks.join(", "));
    let mut stmt = c.prepare_cached(&sql).map_err(backend)?;
    for row in rows {
        let values =
            t.columns.iter().map(|(name, kind)| to_sql(*kind, row.get(*name))).collect::<StoreResult<Vec<_>>>()?;
        stmt.execute(params_from_iter(values)).map_err(backend)?;
    }
    Ok(())
}

/// The store capabilities kept in this file: DumpStore.
mod capability {
    use crate::*;

    impl DumpStore for SqliteStore {
        async fn export_rows(
            &self,
            table: &'static kefu_store::dump::TableSpec,
            offset: u64,
            limit: u32,
        ) -> StoreResult<Vec<serde_json::Map<String, serde_json::Value>>> {
            self.read(move |c| dump::export(c, table, offset, limit)).await
        }
        async fn import_rows(
            &self,
            table: &'static kefu_store::dump::TableSpec,
            rows: Vec<serde_json::Map<String, serde_json::Value>>,
        ) -> StoreResult<()> {
            self.writer.run(move |c| dump::import(c, table, &rows)).await
        }
        async fn finish_import(&self) -> StoreResult<()> {
            // INTEGER PRIMARY KEY columns continue after the largest id by themselves.
            Ok(())
        }
    }
}
