//! The customer's services and the BSS queue (InventoryStore) in PostgreSQL.

use crate::pg;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use kefu_domain::inventory::{AccountFacts, InventoryChange, Pending, Service, ServiceState};
use kefu_domain::{CustomerId, TicketId};
use kefu_store::crypto::FieldCipher;
use kefu_store::seal::{open_text, seal_text};
use kefu_store::{
    BssJob, BssJobOutcome, BssQueue, ImportCounts, ImportedService, InventoryWrite, ServiceChange, StoreError,
    StoreResult,
};
use tokio_postgres::Row;

const SERVICE_COLS: &str = "id, customer_id, product_code, service_number, state, monthly_fee_fen, started_at, ended_at, contract_end, devices_out, pending";
const JOB_COLS: &str = "order_id, ticket_id, kind, attempts, next_at, last_error";

fn state(raw: &str) -> ServiceState {
    // Written by this module only; an unknown value reads as ended rather than failing the page.
    ServiceState::parse(raw).unwrap_or(ServiceState::Terminated)
}

fn service(r: &Row, cipher: &FieldCipher) -> StoreResult<Service> {
    let pending: Option<String> = r.get(10);
    let devices: i64 = r.get(9);
    Ok(Service {
        id: r.get(0),
        customer: CustomerId(r.get(1)),
        product_code: r.get(2),
        service_number: open_text(cipher, &r.get::<_, String>(3))?,
        state: state(&r.get::<_, String>(4)),
        monthly_fee_fen: r.get(5),
        started_at: r.get(6),
        ended_at: r.get(7),
        contract_end: r.get(8),
        devices_out: u32::try_from(devices).unwrap_or(0),
        pending: pending.and_then(|p| serde_json::from_str::<Pending>(&p).ok()),
    })
}

pub async fn services(c: &impl GenericClient, customer: CustomerId, cipher: &FieldCipher) -> StoreResult<Vec<Service>> {
    let rows = c
        .query(&format!("SELECT {SERVICE_COLS} FROM services WHERE customer_id = $1 ORDER BY id"), &[&customer.0])
        .await
        .map_err(pg)?;
    rows.iter().map(|r| service(r, cipher)).collect()
}

pub async fn history(c: &impl GenericClient, customer: CustomerId) -> StoreResult<Vec<ServiceChange>> {
    let rows = c
        .query(
            "SELECT id, service_id, ticket_id, order_id, change, state, product_code, at
             FROM service_history WHERE customer_id = $1 ORDER BY id",
            &[&customer.0],
        )
        .await
        .map_err(pg)?;
    Ok(rows
        .iter()
        .map(|r| ServiceChange {
            id: r.get(0),
            service: r.get(1),
            ticket: r.get::<_, Option<i64>>(2).map(TicketId),
            order_id: r.get(3),
            change: r.get(4),
            state: state(&r.get::<_, String>(5)),
            product_code: r.get(6),
            at: r.get(7),
        })
        .collect())
}

pub async fn account(c: &impl GenericClient, customer: CustomerId) -> StoreResult<AccountFacts> {
    let r = c
        .query_opt("SELECT balance_fen FROM customer_accounts WHERE customer_id = $1", &[&customer.0])
        .await
        .map_err(pg)?;
    Ok(AccountFacts { balance_fen: r.map_or(0, |r| r.get(0)) })
}

#[allow(clippy::too_many_arguments)]
async fn record(
    c: &impl GenericClient,
    service: i64,
    customer: CustomerId,
    ticket: Option<TicketId>,
    order: Option<&str>,
    change: &str,
    st: ServiceState,
    product: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    c.execute(
        "INSERT INTO service_history (service_id, customer_id, ticket_id, order_id, change, state, product_code, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[&service, &customer.0, &ticket.map(|t| t.0), &order, &change, &st.as_str(), &product, &now],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

/// A service as the import or an order adds it.
struct NewRow<'a> {
    customer: CustomerId,
    product: &'a str,
    number: &'a str,
    state: ServiceState,
    fee: i64,
    started: DateTime<Utc>,
    contract_end: Option<DateTime<Utc>>,
    devices: u32,
}

/// Adds a service, or (same customer, number and product) brings it back.
/// Returns its id and whether it is new.
async fn upsert_service(
    c: &impl GenericClient,
    n: NewRow<'_>,
    now: DateTime<Utc>,
    cipher: &FieldCipher,
) -> StoreResult<(i64, bool)> {
    let idx = cipher.blind_index("service_number", n.number.trim());
    let devices = i64::from(n.devices);
    let r = c
        .query_one(
            "INSERT INTO services (customer_id, product_code, service_number, number_idx, state, monthly_fee_fen,
                                   started_at, contract_end, devices_out, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (customer_id, number_idx, product_code) DO UPDATE SET
               service_number = excluded.service_number, state = excluded.state,
               monthly_fee_fen = excluded.monthly_fee_fen, started_at = excluded.started_at, ended_at = NULL,
               pending = NULL, contract_end = excluded.contract_end, devices_out = excluded.devices_out,
               updated_at = excluded.updated_at
             RETURNING id, (xmax = 0)",
            &[
                &n.customer.0,
                &n.product,
                &seal_text(cipher, n.number.trim()),
                &idx,
                &n.state.as_str(),
                &n.fee,
                &n.started,
                &n.contract_end,
                &devices,
                &now,
            ],
        )
        .await
        .map_err(pg)?;
    Ok((r.get(0), r.get(1)))
}

/// An order's changes, with the ticket change that completes it.
pub async fn write(
    c: &impl GenericClient,
    ticket: TicketId,
    w: &InventoryWrite,
    now: DateTime<Utc>,
    cipher: &FieldCipher,
) -> StoreResult<()> {
    for change in &w.changes {
        match change {
            InventoryChange::Add { product_code, service_number, fee_fen, started_at } => {
                let row = NewRow {
                    customer: w.customer,
                    product: product_code,
                    number: service_number,
                    state: ServiceState::Active,
                    fee: *fee_fen,
                    started: *started_at,
                    contract_end: None,
                    devices: 0,
                };
                let (id, _) = upsert_service(c, row, now, cipher).await?;
                record(
                    c,
                    id,
                    w.customer,
                    Some(ticket),
                    Some(&w.order_id),
                    "added",
                    ServiceState::Active,
                    product_code,
                    now,
                )
                .await?;
            }
            InventoryChange::Set { service, state, product_code, fee_fen, ended_at, pending } => {
                let pending = pending.as_ref().map(|p| serde_json::to_string(p).unwrap_or_default());
                let n = c
                    .execute(
                        "UPDATE services SET state = $3, product_code = $4, monthly_fee_fen = $5, ended_at = $6,
                                pending = $7, updated_at = $8
                         WHERE id = $1 AND customer_id = $2",
                        &[service, &w.customer.0, &state.as_str(), product_code, fee_fen, ended_at, &pending, &now],
                    )
                    .await
                    .map_err(pg)?;
                if n == 0 {
                    return Err(StoreError::NotFound);
                }
                record(c, *service, w.customer, Some(ticket), Some(&w.order_id), "changed", *state, product_code, now)
                    .await?;
            }
        }
    }
    Ok(())
}

/// The BSS queue's part of a ticket change.
pub async fn queue(c: &impl GenericClient, ticket: TicketId, q: &BssQueue) -> StoreResult<()> {
    match q {
        BssQueue::Enqueue { order_id, at } => c
            .execute(
                "INSERT INTO bss_jobs (order_id, ticket_id, kind, next_at) VALUES ($1, $2, 'submit', $3)
                 ON CONFLICT (order_id) DO NOTHING",
                &[order_id, &ticket.0, at],
            )
            .await
            .map_err(pg)?,
        BssQueue::Done { order_id } => {
            c.execute("DELETE FROM bss_jobs WHERE order_id = $1", &[order_id]).await.map_err(pg)?
        }
    };
    Ok(())
}

pub async fn import(
    c: &impl GenericClient,
    rows: &[ImportedService],
    now: DateTime<Utc>,
    cipher: &FieldCipher,
) -> StoreResult<ImportCounts> {
    let mut counts = ImportCounts::default();
    for row in rows {
        let customer = crate::tickets::upsert_customer(c, &row.customer, now, cipher).await?.id;
        let new = NewRow {
            customer,
            product: &row.product_code,
            number: &row.service_number,
            state: row.state,
            fee: row.monthly_fee_fen,
            started: row.started_at,
            contract_end: row.contract_end,
            devices: row.devices_out,
        };
        let (id, added) = upsert_service(c, new, now, cipher).await?;
        if row.state == ServiceState::Terminated {
            c.execute("UPDATE services SET ended_at = COALESCE(ended_at, $2) WHERE id = $1", &[&id, &now])
                .await
                .map_err(pg)?;
        }
        record(c, id, customer, None, None, "imported", row.state, &row.product_code, now).await?;
        if let Some(balance) = row.balance_fen {
            c.execute(
                "INSERT INTO customer_accounts (customer_id, balance_fen, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (customer_id) DO UPDATE SET balance_fen = excluded.balance_fen, updated_at = excluded.updated_at",
                &[&customer.0, &balance, &now],
            )
            .await
            .map_err(pg)?;
        }
        if added {
            counts.added += 1;
        } else {
            counts.updated += 1;
        }
    }
    Ok(counts)
}

fn job(r: &Row) -> BssJob {
    let attempts: i64 = r.get(3);
    BssJob {
        order_id: r.get(0),
        ticket: TicketId(r.get(1)),
        kind: r.get(2),
        attempts: u32::try_from(attempts).unwrap_or(0),
        next_at: r.get(4),
        last_error: r.get(5),
    }
}

pub async fn claim(
    c: &impl GenericClient,
    node: &str,
    now: DateTime<Utc>,
    lease: chrono::Duration,
    limit: u32,
) -> StoreResult<Vec<BssJob>> {
    let rows = c
        .query(
            &format!(
                "UPDATE bss_jobs SET claimed_by = $1, claimed_until = $2
                 WHERE order_id IN (SELECT order_id FROM bss_jobs WHERE next_at <= $3
                                    AND (claimed_until IS NULL OR claimed_until < $3)
                                    ORDER BY next_at, order_id LIMIT $4 FOR UPDATE SKIP LOCKED)
                 RETURNING {JOB_COLS}"
            ),
            &[&node, &(now + lease), &now, &i64::from(limit)],
        )
        .await
        .map_err(pg)?;
    let mut out: Vec<BssJob> = rows.iter().map(job).collect();
    out.sort_by(|a, b| (a.next_at, &a.order_id).cmp(&(b.next_at, &b.order_id)));
    Ok(out)
}

pub async fn finish(c: &impl GenericClient, order_id: &str, node: &str, outcome: &BssJobOutcome) -> StoreResult<bool> {
    let n = match outcome {
        BssJobOutcome::Done => c
            .execute("DELETE FROM bss_jobs WHERE order_id = $1 AND claimed_by = $2", &[&order_id, &node])
            .await
            .map_err(pg)?,
        BssJobOutcome::Later { at, kind, error, attempt } => c
            .execute(
                "UPDATE bss_jobs SET next_at = $3, kind = $4, last_error = COALESCE($5, last_error),
                        attempts = attempts + $6, claimed_by = NULL, claimed_until = NULL
                 WHERE order_id = $1 AND claimed_by = $2",
                &[&order_id, &node, at, kind, error, &i64::from(*attempt)],
            )
            .await
            .map_err(pg)?,
    };
    Ok(n == 1)
}

/// The store capabilities kept in this file: InventoryStore.
mod capability {
    use super::*;
    use crate::*;

    impl InventoryStore for PgStore {
        async fn services(&self, customer: CustomerId) -> StoreResult<Vec<Service>> {
            services(&self.client().await?, customer, &self.cipher).await
        }
        async fn service_history(&self, customer: CustomerId) -> StoreResult<Vec<ServiceChange>> {
            history(&self.client().await?, customer).await
        }
        async fn account_facts(&self, customer: CustomerId) -> StoreResult<AccountFacts> {
            account(&self.client().await?, customer).await
        }
        async fn import_services(&self, rows: Vec<ImportedService>, now: DateTime<Utc>) -> StoreResult<ImportCounts> {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(pg)?;
            let counts = import(&tx, &rows, now, &self.cipher).await?;
            tx.commit().await.map_err(pg)?;
            Ok(counts)
        }
        async fn claim_bss_jobs(
            &self,
            node: &str,
            now: DateTime<Utc>,
            lease: chrono::Duration,
            limit: u32,
        ) -> StoreResult<Vec<BssJob>> {
            claim(&self.client().await?, node, now, lease, limit).await
        }
        async fn finish_bss_job(&self, order_id: &str, node: &str, outcome: BssJobOutcome) -> StoreResult<bool> {
            finish(&self.client().await?, order_id, node, &outcome).await
        }
        async fn bss_job(&self, order_id: &str) -> StoreResult<Option<BssJob>> {
            let r = self
                .client()
                .await?
                .query_opt(&format!("SELECT {JOB_COLS} FROM bss_jobs WHERE order_id = $1"), &[&order_id])
                .await
                .map_err(pg)?;
            Ok(r.as_ref().map(job))
        }
    }
}
