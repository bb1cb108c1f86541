//! The KPI rollups (KpiStore) in SQLite.

use crate::backend;
use crate::rows::{parse_ts, ts};
use chrono::NaiveDate;
use kefu_domain::kpi::Dim;
use kefu_domain::{CustomerId, TicketId, TicketType, UserId};
use kefu_store::{
    BacklogQuery, CellQuery, CellSum, DimFilter, KeptFacts, KpiBatch, KpiMark, StoreResult, basis_of, decode_facts,
    dim_column, encode_facts, facts_columns,
};
use rusqlite::{Connection, ToSql, params};

pub fn mark(c: &Connection) -> StoreResult<KpiMark> {
    let (settled, version) = c
        .query_row("SELECT settled, version FROM kpi_mark WHERE id = 1", [], |r| {
            Ok((r.get::<_, Option<String>>(0)?, r.get::<_, i64>(1)?))
        })
        .map_err(backend)?;
    let settled = settled.map(|s| parse_ts(&s)).transpose().map_err(backend)?;
    Ok(KpiMark { settled, version })
}

const FACTS_SELECT: &str = "SELECT ticket_id, rev, customer_id, repeated, doc FROM kpi_facts";

fn facts_row(r: &rusqlite::Row) -> rusqlite::Result<(i64, i64, i64, bool, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn decode((id, rev, customer, repeated, doc): (i64, i64, i64, bool, String)) -> StoreResult<KeptFacts> {
    let (facts, dims) = decode_facts(&doc)?;
    Ok(KeptFacts { ticket: TicketId(id), rev, customer: CustomerId(customer), facts, dims, repeated })
}

pub fn kept(c: &Connection, ids: &[TicketId]) -> StoreResult<Vec<KeptFacts>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!("{FACTS_SELECT} WHERE ticket_id IN ({})", vec!["?"; ids.len()].join(", "));
    let args: Vec<&dyn ToSql> = ids.iter().map(|i| &i.0 as &dyn ToSql).collect();
    let rows = c
        .prepare(&sql)
        .map_err(backend)?
        .query_map(args.as_slice(), facts_row)
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    rows.into_iter().map(decode).collect()
}

pub fn between(c: &Connection, from: NaiveDate, to: NaiveDate, agent: Option<UserId>) -> StoreResult<Vec<KeptFacts>> {
    let (from, to) = (from.to_string(), to.to_string());
    let rows = match agent {
        Some(a) => c
            .prepare_cached(&format!(
                "{FACTS_SELECT} WHERE first_owner = ?3 AND day_to >= ?1 AND day_from <= ?2
                 UNION {FACTS_SELECT} WHERE resolver = ?3 AND day_to >= ?1 AND day_from <= ?2"
            ))
            .map_err(backend)?
            .query_map(params![from, to, a.0], facts_row)
            .map_err(backend)?
            .collect::<Result<Vec<_>, _>>(),
        None => c
            .prepare_cached(&format!("{FACTS_SELECT} WHERE day_to >= ?1 AND day_from <= ?2"))
            .map_err(backend)?
            .query_map(params![from, to], facts_row)
            .map_err(backend)?
            .collect::<Result<Vec<_>, _>>(),
    }
    .map_err(backend)?;
    rows.into_iter().map(decode).collect()
}

pub fn of_customer(c: &Connection, customer: CustomerId, ticket_type: TicketType) -> StoreResult<Vec<KeptFacts>> {
    let rows = c
        .prepare_cached(&format!("{FACTS_SELECT} WHERE customer_id = ?1 AND ticket_type = ?2 ORDER BY ticket_id"))
        .map_err(backend)?
        .query_map(params![customer.0, ticket_type.as_str()], facts_row)
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    rows.into_iter().map(decode).collect()
}

/// Runs inside the writer's savepoint: all of it or none.
pub fn apply(c: &Connection, batch: &KpiBatch) -> StoreResult<bool> {
    if mark(c)? != batch.expected {
        return Ok(false);
    }
    let mut put = c
        .prepare_cached(
            "INSERT INTO kpi_facts (ticket_id, rev, customer_id, ticket_type, repeated, first_owner, resolver,
                 day_from, day_to, doc)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (ticket_id) DO UPDATE SET rev = excluded.rev, customer_id = excluded.customer_id,
                 ticket_type = excluded.ticket_type, repeated = excluded.repeated, first_owner = excluded.first_owner,
                 resolver = excluded.resolver, day_from = excluded.day_from, day_to = excluded.day_to,
                 doc = excluded.doc",
        )
        .map_err(backend)?;
    for f in &batch.facts {
        let doc = encode_facts(&f.facts, &f.dims)?;
        let (owner, resolver, from, to) = facts_columns(f);
        put.execute(params![
            f.ticket.0,
            f.rev,
            f.customer.0,
            f.dims.ticket_type.as_str(),
            f.repeated,
            owner,
            resolver,
            from.to_string(),
            to.to_string(),
            doc
        ])
        .map_err(backend)?;
    }
    let mut add = c
        .prepare_cached(
            "INSERT INTO kpi_cells (grain, basis, day, scope, team, agent, channel, ticket_type, priority, measure,
                 n, sum, sum_working) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
             ON CONFLICT (grain, basis, day, scope, team, agent, channel, ticket_type, priority, measure)
             DO UPDATE SET n = n + excluded.n, sum = sum + excluded.sum, sum_working = sum_working + excluded.sum_working",
        )
        .map_err(backend)?;
    for (grain, k, cell) in &batch.cells {
        add.execute(params![
            grain,
            k.basis.as_str(),
            k.day.to_string(),
            k.scope.as_str(),
            k.team.map_or(0, |t| t.0),
            k.agent.map_or(0, |a| a.0),
            k.channel.as_str(),
            k.ticket_type.as_str(),
            k.priority.as_str(),
            k.measure,
            cell.n,
            cell.sum,
            cell.sum_working
        ])
        .map_err(backend)?;
    }
    c.execute("UPDATE kpi_mark SET settled = ?1, version = version + 1 WHERE id = 1", params![batch.settled.map(ts)])
        .map_err(backend)?;
    Ok(true)
}

/// Conditions on the dimensions, from `first` on, with their arguments;
/// `columns` names each dimension's column.
fn where_dims(
    filter: &DimFilter,
    columns: impl Fn(Dim) -> &'static str,
    first: usize,
) -> (String, Vec<Box<dyn ToSql + Send>>) {
    let mut sql = String::new();
    let mut args: Vec<Box<dyn ToSql + Send>> = Vec::new();
    let mut push = |dim: Dim, v: Box<dyn ToSql + Send>| {
        sql.push_str(&format!(" AND {} = ?{}", columns(dim), first + args.len()));
        args.push(v);
    };
    if let Some(t) = filter.team {
        push(Dim::Team, Box::new(t.0));
    }
    if let Some(a) = filter.agent {
        push(Dim::Agent, Box::new(a.0));
    }
    if let Some(ch) = filter.channel {
        push(Dim::Channel, Box::new(ch.as_str()));
    }
    if let Some(t) = filter.ticket_type {
        push(Dim::Type, Box::new(t.as_str()));
    }
    if let Some(p) = filter.priority {
        push(Dim::Priority, Box::new(p.as_str()));
    }
    (sql, args)
}

pub fn cells(c: &Connection, q: &CellQuery) -> StoreResult<Vec<CellSum>> {
    let group = q.group.map_or("''", dim_column);
    let day = if q.by_day { "day" } else { "''" };
    let scopes: Vec<String> = q.scopes.iter().map(|s| format!("'{}'", s.as_str())).collect();
    if q.measures.is_empty() {
        return Ok(Vec::new());
    }
    let measures: Vec<String> = (0..q.measures.len()).map(|i| format!("?{}", i + 4)).collect();
    let (dims, dim_args) = where_dims(&q.filter, dim_column, 4 + q.measures.len());
    // The scopes are the domain's own words, never the caller's.
    let sql = format!(
        "SELECT CAST({group} AS TEXT), {day}, basis, measure, SUM(n), SUM(sum), SUM(sum_working) FROM kpi_cells
         WHERE grain = ?1 AND measure IN ({}) AND day >= ?2 AND day <= ?3 AND scope IN ({}){dims}
         GROUP BY 1, 2, 3, 4",
        measures.join(", "),
        scopes.join(", ")
    );
    let mut args: Vec<&dyn ToSql> = Vec::new();
    let (from, to) = (q.from.to_string(), q.to.to_string());
    args.push(&q.grain);
    args.push(&from);
    args.push(&to);
    args.extend(q.measures.iter().map(|m| m as &dyn ToSql));
    args.extend(dim_args.iter().map(|a| a.as_ref() as &dyn ToSql));
    let rows = c
        .prepare_cached(&sql)
        .map_err(backend)?
        .query_map(args.as_slice(), |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                kefu_domain::rollup::Cell { n: r.get(4)?, sum: r.get(5)?, sum_working: r.get(6)? },
            ))
        })
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    let mut out = Vec::with_capacity(rows.len());
    for (group, day, basis, measure, cell) in rows {
        let day = if day.is_empty() {
            None
        } else {
            Some(day.parse::<NaiveDate>().map_err(|e| kefu_store::StoreError::Backend(e.to_string()))?)
        };
        let group = if group == "0" && matches!(q.group, Some(Dim::Team | Dim::Agent)) { String::new() } else { group };
        out.push(CellSum { group, day, basis: basis_of(&basis), measure, cell });
    }
    Ok(out)
}

/// The tickets table's column for a dimension (agent: who holds it now).
fn ticket_column(dim: Dim) -> &'static str {
    match dim {
        Dim::Team => "team_id",
        Dim::Agent => "assignee",
        Dim::Channel => "channel",
        Dim::Type => "type",
        Dim::Priority => "priority",
    }
}

pub fn backlog(c: &Connection, q: &BacklogQuery) -> StoreResult<Vec<(String, usize, i64)>> {
    let group = q.group.map_or("''", ticket_column);
    let bucket = if q.buckets.is_empty() {
        "0".to_string()
    } else {
        (1..=q.buckets.len()).map(|i| format!("(created_at < ?{i})")).collect::<Vec<_>>().join(" + ")
    };
    let (dims, dim_args) = where_dims(&q.filter, ticket_column, q.buckets.len() + 1);
    let sql = format!(
        "SELECT COALESCE(CAST({group} AS TEXT), ''), {bucket}, COUNT(*) FROM tickets
         WHERE is_open = 1{dims} GROUP BY 1, 2"
    );
    let cutoffs: Vec<String> = q.buckets.iter().map(|t| ts(*t)).collect();
    let mut args: Vec<&dyn ToSql> = cutoffs.iter().map(|s| s as &dyn ToSql).collect();
    args.extend(dim_args.iter().map(|a| a.as_ref() as &dyn ToSql));
    c.prepare(&sql)
        .map_err(backend)?
        .query_map(args.as_slice(), |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as usize, r.get(2)?)))
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)
}

pub fn customer_count(c: &Connection) -> StoreResult<i64> {
    c.query_row("SELECT COUNT(*) FROM customers", [], |r| r.get(0)).map_err(backend)
}

pub fn reset(c: &Connection) -> StoreResult<()> {
    c.execute_batch(
        "DELETE FROM kpi_facts; DELETE FROM kpi_cells; UPDATE kpi_mark SET settled = NULL, version = version + 1",
    )
    .map_err(backend)
}

/// The store capabilities kept in this file: KpiStore.
mod capability {
    use crate::*;
    use kefu_store::{BacklogQuery, CellQuery, CellSum, KeptFacts, KpiBatch, KpiMark, KpiStore};

    impl KpiStore for SqliteStore {
        async fn kpi_mark(&self) -> StoreResult<KpiMark> {
            self.read(kpi::mark).await
        }
        async fn kept_facts(&self, ids: Vec<TicketId>) -> StoreResult<Vec<KeptFacts>> {
            self.read(move |c| kpi::kept(c, &ids)).await
        }
        async fn facts_between(
            &self,
            from: chrono::NaiveDate,
            to: chrono::NaiveDate,
            agent: Option<UserId>,
        ) -> StoreResult<Vec<KeptFacts>> {
            self.read(move |c| kpi::between(c, from, to, agent)).await
        }
        async fn customer_facts(
            &self,
            customer: CustomerId,
            ticket_type: kefu_domain::TicketType,
        ) -> StoreResult<Vec<KeptFacts>> {
            self.read(move |c| kpi::of_customer(c, customer, ticket_type)).await
        }
        async fn apply_kpi(&self, batch: KpiBatch) -> StoreResult<bool> {
            self.writer.run(move |c| kpi::apply(c, &batch)).await
        }
        async fn kpi_cells(&self, query: CellQuery) -> StoreResult<Vec<CellSum>> {
            self.read(move |c| kpi::cells(c, &query)).await
        }
        async fn backlog(&self, query: BacklogQuery) -> StoreResult<Vec<(String, usize, i64)>> {
            self.read(move |c| kpi::backlog(c, &query)).await
        }
        async fn customer_count(&self) -> StoreResult<i64> {
            self.read(kpi::customer_count).await
        }
        async fn reset_kpi(&self) -> StoreResult<()> {
            self.writer.run(kpi::reset).await
        }
    }
}
