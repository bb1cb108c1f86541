//! `kefu export` and `kefu import`: every table, row for row, as JSON lines
//! in the backend-neutral form of `kefu_store::dump`, so data moves between
//! SQLite and PostgreSQL losslessly and audit chains still verify after.

use anyhow::{Context, Result, bail};
use kefu_store::dump::{BATCH, DumpLine, TABLES, table};
use kefu_store::{JsonRow, Store};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

/// Writes every table to `out`, after recording the export in the access
/// log (who: the operating-system user running the command).
pub async fn export<S: Store>(kefu: &kefu_server::Kefu<S>, out: &Path, reason: &str) -> Result<()> {
    let store = &kefu.store;
    let reason =
        kefu_domain::validate::required_text(Some(reason), "reason", 500).map_err(|e| anyhow::anyhow!(e.message))?;
    let who = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    kefu.log_access((None, &format!("cli:{who}")), "export", format!("all data to {}", out.display()), None, reason)
        .await
        .map_err(|e| anyhow::anyhow!(e.to_string()))?;
    let file = std::fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut w = BufWriter::new(file);
    let mut total = 0u64;
    for t in TABLES {
        let mut offset = 0u64;
        loop {
            let rows = store.export_rows(t, offset, BATCH).await?;
            if rows.is_empty() {
                break;
            }
            offset += rows.len() as u64;
            for row in rows {
                serde_json::to_writer(&mut w, &DumpLine { table: t.name.to_string(), row })?;
                w.write_all(b"\n")?;
            }
        }
        total += offset;
    }
    w.flush()?;
    w.get_ref().sync_all()?;
    println!("exported {total} rows to {}", out.display());
    Ok(())
}

pub async fn import<S: Store>(store: &S, input: &Path) -> Result<()> {
    if store.ticket_count().await? > 0 || !store.list_users().await?.is_empty() {
        bail!("the target database is not empty; import only into a fresh database");
    }
    let file = std::fs::File::open(input).with_context(|| format!("cannot open {}", input.display()))?;
    let mut batch: Vec<JsonRow> = Vec::new();
    let mut current: Option<&'static kefu_store::dump::TableSpec> = None;
    let mut total = 0u64;
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line: DumpLine = serde_json::from_str(&line?)
            .with_context(|| format!("line {} of {} is not an export line", n + 1, input.display()))?;
        let t = table(&line.table).with_context(|| format!("line {}: unknown table {}", n + 1, line.table))?;
        if current.is_some_and(|c| c.name != t.name) || batch.len() >= BATCH as usize {
            flush(store, current, &mut batch).await?;
        }
        current = Some(t);
        batch.push(line.row);
        total += 1;
    }
    flush(store, current, &mut batch).await?;
    store.finish_import().await?;
    println!("imported {total} rows from {}", input.display());
    Ok(())
}

async fn flush<S: Store>(
    store: &S,
    table: Option<&'static kefu_store::dump::TableSpec>,
    batch: &mut Vec<JsonRow>,
) -> Result<()> {
    if let Some(t) = table
        && !batch.is_empty()
    {
        store.import_rows(t, std::mem::take(batch)).await.with_context(|| format!("importing into {}", t.name))?;
    }
    Ok(())
}
