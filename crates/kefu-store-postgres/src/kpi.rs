//! The KPI rollups (KpiStore) in PostgreSQL.

use crate::pg;
use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::GenericClient;
use kefu_domain::kpi::Dim;
use kefu_domain::rollup::Cell;
use kefu_domain::{CustomerId, TicketId, TicketType, UserId};
use kefu_store::{
    BacklogQuery, CellQuery, CellSum, DimFilter, KeptFacts, KpiBatch, KpiMark, StoreResult, basis_of, decode_facts,
    dim_column, encode_facts, facts_columns,
};
use tokio_postgres::types::ToSql;

type Arg = Box<dyn ToSql + Sync + Send>;

pub async fn mark(c: &impl GenericClient) -> StoreResult<KpiMark> {
    let r = c.query_one("SELECT settled, version FROM kpi_mark WHERE id = 1", &[]).await.map_err(pg)?;
    Ok(KpiMark { settled: r.get::<_, Option<DateTime<Utc>>>(0), version: r.get(1) })
}

const FACTS_SELECT: &str = "SELECT ticket_id, rev, customer_id, repeated, doc FROM kpi_facts";

fn decode(r: &tokio_postgres::Row) -> StoreResult<KeptFacts> {
    let (facts, dims) = decode_facts(r.get::<_, &str>(4))?;
    Ok(KeptFacts {
        ticket: TicketId(r.get(0)),
        rev: r.get(1),
        customer: CustomerId(r.get(2)),
        repeated: r.get(3),
        facts,
        dims,
    })
}

pub async fn kept(c: &impl GenericClient, ids: &[TicketId]) -> StoreResult<Vec<KeptFacts>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = ids.iter().map(|i| i.0).collect();
    let rows = c.query(&format!("{FACTS_SELECT} WHERE ticket_id = ANY($1)"), &[&ids]).await.map_err(pg)?;
    rows.iter().map(decode).collect()
}

pub async fn between(
    c: &impl GenericClient,
    from: NaiveDate,
    to: NaiveDate,
    agent: Option<UserId>,
) -> StoreResult<Vec<KeptFacts>> {
    let rows = match agent {
        Some(a) => {
            let sql = format!(
                "{FACTS_SELECT} WHERE first_owner = $3 AND day_to >= $1 AND day_from <= $2
                 UNION {FACTS_SELECT} WHERE resolver = $3 AND day_to >= $1 AND day_from <= $2"
            );
            c.query(&sql, &[&from, &to, &a.0]).await
        }
        None => c.query(&format!("{FACTS_SELECT} WHERE day_to >= $1 AND day_from <= $2"), &[&from, &to]).await,
    }
    .map_err(pg)?;
    rows.iter().map(decode).collect()
}

pub async fn of_customer(
    c: &impl GenericClient,
    customer: CustomerId,
    ticket_type: TicketType,
) -> StoreResult<Vec<KeptFacts>> {
    let rows = c
        .query(
            &format!("{FACTS_SELECT} WHERE customer_id = $1 AND ticket_type = $2 ORDER BY ticket_id"),
            &[&customer.0, &ticket_type.as_str()],
        )
        .await
        .map_err(pg)?;
    rows.iter().map(decode).collect()
}

/// One transaction; the mark row is locked first, so two nodes' batches
/// are applied one after the other and the second sees the mark moved.
pub async fn apply(client: &mut deadpool_postgres::Client, batch: &KpiBatch) -> StoreResult<bool> {
    let tx = client.transaction().await.map_err(pg)?;
    let r = tx.query_one("SELECT settled, version FROM kpi_mark WHERE id = 1 FOR UPDATE", &[]).await.map_err(pg)?;
    if (KpiMark { settled: r.get(0), version: r.get(1) }) != batch.expected {
        return Ok(false);
    }
    let put = tx
        .prepare(
            "INSERT INTO kpi_facts (ticket_id, rev, customer_id, ticket_type, repeated, first_owner, resolver,
                 day_from, day_to, doc)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (ticket_id) DO UPDATE SET rev = excluded.rev, customer_id = excluded.customer_id,
                 ticket_type = excluded.ticket_type, repeated = excluded.repeated, first_owner = excluded.first_owner,
                 resolver = excluded.resolver, day_from = excluded.day_from, day_to = excluded.day_to,
                 doc = excluded.doc",
        )
        .await
        .map_err(pg)?;
    for f in &batch.facts {
        let doc = encode_facts(&f.facts, &f.dims)?;
        let (owner, resolver, from, to) = facts_columns(f);
        let args: [&(dyn ToSql + Sync); 10] = [
            &f.ticket.0,
            &f.rev,
            &f.customer.0,
            &f.dims.ticket_type.as_str(),
            &f.repeated,
            &owner,
            &resolver,
            &from,
            &to,
            &doc,
        ];
        tx.execute(&put, &args).await.map_err(pg)?;
    }
    let add = tx
        .prepare(
            "INSERT INTO kpi_cells (grain, basis, day, scope, team, agent, channel, ticket_type, priority, measure,
                 n, sum, sum_working) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
             ON CONFLICT (grain, basis, day, scope, team, agent, channel, ticket_type, priority, measure)
             DO UPDATE SET n = kpi_cells.n + excluded.n, sum = kpi_cells.sum + excluded.sum,
                 sum_working = kpi_cells.sum_working + excluded.sum_working",
        )
        .await
        .map_err(pg)?;
    for (grain, k, cell) in &batch.cells {
        tx.execute(
            &add,
            &[
                grain,
                &k.basis.as_str(),
                &k.day,
                &k.scope.as_str(),
                &k.team.map_or(0, |t| t.0),
                &k.agent.map_or(0, |a| a.0),
                &k.channel.as_str(),
                &k.ticket_type.as_str(),
                &k.priority.as_str(),
                &k.measure,
                &cell.n,
                &cell.sum,
                &cell.sum_working,
            ],
        )
        .await
        .map_err(pg)?;
    }
    tx.execute("UPDATE kpi_mark SET settled = $1, version = version + 1 WHERE id = 1", &[&batch.settled])
        .await
        .map_err(pg)?;
    tx.commit().await.map_err(pg)?;
    Ok(true)
}

/// Conditions on the dimensions, numbered from `first`, with their arguments.
fn where_dims(filter: &DimFilter, columns: impl Fn(Dim) -> &'static str, first: usize) -> (String, Vec<Arg>) {
    let mut sql = String::new();
    let mut args: Vec<Arg> = Vec::new();
    let mut push = |dim: Dim, v: Arg| {
        sql.push_str(&format!(" AND {} = ${}", columns(dim), first + args.len()));
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

pub async fn cells(c: &impl GenericClient, q: &CellQuery) -> StoreResult<Vec<CellSum>> {
    let group = q.group.map_or("''", dim_column);
    let day = if q.by_day { "day" } else { "NULL::date" };
    let scopes: Vec<String> = q.scopes.iter().map(|s| format!("'{}'", s.as_str())).collect();
    let (dims, dim_args) = where_dims(&q.filter, dim_column, 5);
    // The scopes are the domain's own words, never the caller's.
    let sql = format!(
        "SELECT CAST({group} AS TEXT), {day}, basis, measure, SUM(n)::BIGINT, SUM(sum), SUM(sum_working)
         FROM kpi_cells
         WHERE grain = $1 AND measure = ANY($4) AND day >= $2 AND day <= $3 AND scope IN ({}){dims}
         GROUP BY 1, 2, 3, 4",
        scopes.join(", ")
    );
    let mut args: Vec<&(dyn ToSql + Sync)> = vec![&q.grain, &q.from, &q.to, &q.measures];
    args.extend(dim_args.iter().map(|a| a.as_ref() as &(dyn ToSql + Sync)));
    let rows = c.query(&sql, &args).await.map_err(pg)?;
    Ok(rows
        .iter()
        .map(|r| {
            let group: String = r.get(0);
            let group =
                if group == "0" && matches!(q.group, Some(Dim::Team | Dim::Agent)) { String::new() } else { group };
            CellSum {
                group,
                day: r.get::<_, Option<NaiveDate>>(1),
                basis: basis_of(r.get(2)),
                measure: r.get(3),
                cell: Cell { n: r.get(4), sum: r.get(5), sum_working: r.get(6) },
            }
        })
        .collect())
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

pub async fn backlog(c: &impl GenericClient, q: &BacklogQuery) -> StoreResult<Vec<(String, usize, i64)>> {
    let group = q.group.map_or("''", ticket_column);
    let bucket = if q.buckets.is_empty() {
        "0".to_string()
    } else {
        (1..=q.buckets.len()).map(|i| format!("(created_at < ${i})::int")).collect::<Vec<_>>().join(" + ")
    };
    let (dims, dim_args) = where_dims(&q.filter, ticket_column, q.buckets.len() + 1);
    let sql = format!(
        "SELECT COALESCE(CAST({group} AS TEXT), ''), ({bucket})::BIGINT, COUNT(*) FROM tickets
         WHERE is_open = 1{dims} GROUP BY 1, 2"
    );
    let mut args: Vec<&(dyn ToSql + Sync)> = q.buckets.iter().map(|t| t as &(dyn ToSql + Sync)).collect();
    args.extend(dim_args.iter().map(|a| a.as_ref() as &(dyn ToSql + Sync)));
    let rows = c.query(&sql, &args).await.map_err(pg)?;
    Ok(rows.iter().map(|r| (r.get(0), r.get::<_, i64>(1) as usize, r.get(2))).collect())
}

pub async fn customer_count(c: &impl GenericClient) -> StoreResult<i64> {
    Ok(c.query_one("SELECT COUNT(*) FROM customers", &[]).await.map_err(pg)?.get(0))
}

pub async fn reset(c: &impl GenericClient) -> StoreResult<()> {
    c.batch_execute(
        "BEGIN; DELETE FROM kpi_facts; DELETE FROM kpi_cells;
         UPDATE kpi_mark SET settled = NULL, version = version + 1 WHERE id = 1; COMMIT",
    )
    .await
    .map_err(pg)
}

/// The store capabilities kept in this file: KpiStore.
mod capability {
    use crate::*;
    use kefu_store::{BacklogQuery, CellQuery, CellSum, KeptFacts, KpiBatch, KpiMark, KpiStore};

    impl KpiStore for PgStore {
        async fn kpi_mark(&self) -> StoreResult<KpiMark> {
            kpi::mark(&self.client().await?).await
        }
        async fn kept_facts(&self, ids: Vec<TicketId>) -> StoreResult<Vec<KeptFacts>> {
            kpi::kept(&self.client().await?, &ids).await
        }
        async fn facts_between(
            &self,
            from: chrono::NaiveDate,
            to: chrono::NaiveDate,
            agent: Option<UserId>,
        ) -> StoreResult<Vec<KeptFacts>> {
            kpi::between(&self.client().await?, from, to, agent).await
        }
        async fn customer_facts(
            &self,
            customer: CustomerId,
            ticket_type: kefu_domain::TicketType,
        ) -> StoreResult<Vec<KeptFacts>> {
            kpi::of_customer(&self.client().await?, customer, ticket_type).await
        }
        async fn apply_kpi(&self, batch: KpiBatch) -> StoreResult<bool> {
            kpi::apply(&mut self.client().await?, &batch).await
        }
        async fn kpi_cells(&self, query: CellQuery) -> StoreResult<Vec<CellSum>> {
            kpi::cells(&self.client().await?, &query).await
        }
        async fn backlog(&self, query: BacklogQuery) -> StoreResult<Vec<(String, usize, i64)>> {
            kpi::backlog(&self.client().await?, &query).await
        }
        async fn customer_count(&self) -> StoreResult<i64> {
            kpi::customer_count(&self.client().await?).await
        }
        async fn reset_kpi(&self) -> StoreResult<()> {
            kpi::reset(&self.client().await?).await
        }
    }
}
