//! The customer's services and the BSS queue (InventoryStore) in SQLite.

use crate::backend;
use crate::rows::{opt_ts, parse_ts, ts};
use chrono::{DateTime, Utc};
use kefu_domain::inventory::{AccountFacts, InventoryChange, Pending, Service, ServiceState};
use kefu_domain::{CustomerId, TicketId};
use kefu_store::crypto::FieldCipher;
use kefu_store::seal::{open_text, seal_text};
use kefu_store::{
    BssJob, BssJobOutcome, BssQueue, ImportCounts, ImportedService, InventoryWrite, ServiceChange, StoreError,
    StoreResult,
};
use rusqlite::{Connection, OptionalExtension, params};

const SERVICE_COLS: &str = "id, customer_id, product_code, service_number, state, monthly_fee_fen, started_at, ended_at, contract_end, devices_out, pending";
const JOB_COLS: &str = "order_id, ticket_id, kind, attempts, next_at, last_error";

fn state(raw: &str) -> ServiceState {
    // Written by this module only; an unknown value reads as ended rather than failing the page.
    ServiceState::parse(raw).unwrap_or(ServiceState::Terminated)
}

fn service(r: &rusqlite::Row, cipher: &FieldCipher) -> rusqlite::Result<StoreResult<Service>> {
    let number: String = r.get(3)?;
    let pending: Option<String> = r.get(10)?;
    let s = Service {
        id: r.get(0)?,
        customer: CustomerId(r.get(1)?),
        product_code: r.get(2)?,
        service_number: String::new(),
        state: state(&r.get::<_, String>(4)?),
        monthly_fee_fen: r.get(5)?,
        started_at: parse_ts(&r.get::<_, String>(6)?)?,
        ended_at: opt_ts(r.get(7)?)?,
        contract_end: opt_ts(r.get(8)?)?,
        devices_out: r.get(9)?,
        pending: pending.and_then(|p| serde_json::from_str::<Pending>(&p).ok()),
    };
    Ok(open_text(cipher, &number).map(|service_number| Service { service_number, ..s }))
}

pub fn services(c: &Connection, customer: CustomerId, cipher: &FieldCipher) -> StoreResult<Vec<Service>> {
    c.prepare_cached(&format!("SELECT {SERVICE_COLS} FROM services WHERE customer_id = ?1 ORDER BY id"))
        .map_err(backend)?
        .query_map([customer.0], |r| service(r, cipher))
        .map_err(backend)?
        .map(|r| r.map_err(backend)?)
        .collect()
}

pub fn history(c: &Connection, customer: CustomerId) -> StoreResult<Vec<ServiceChange>> {
    c.prepare_cached(
        "SELECT id, service_id, ticket_id, order_id, change, state, product_code, at
         FROM service_history WHERE customer_id = ?1 ORDER BY id",
    )
    .map_err(backend)?
    .query_map([customer.0], |r| {
        Ok(ServiceChange {
            id: r.get(0)?,
            service: r.get(1)?,
            ticket: r.get::<_, Option<i64>>(2)?.map(TicketId),
            order_id: r.get(3)?,
            change: r.get(4)?,
            state: state(&r.get::<_, String>(5)?),
            product_code: r.get(6)?,
            at: parse_ts(&r.get::<_, String>(7)?)?,
        })
    })
    .map_err(backend)?
    .collect::<Result<_, _>>()
    .map_err(backend)
}

pub fn account(c: &Connection, customer: CustomerId) -> StoreResult<AccountFacts> {
    let balance: Option<i64> = c
        .prepare_cached("SELECT balance_fen FROM customer_accounts WHERE customer_id = ?1")
        .map_err(backend)?
        .query_row([customer.0], |r| r.get(0))
        .optional()
        .map_err(backend)?;
    Ok(AccountFacts { balance_fen: balance.unwrap_or(0) })
}

#[allow(clippy::too_many_arguments)]
fn record(
    c: &Connection,
    service: i64,
    customer: CustomerId,
    ticket: Option<TicketId>,
    order: Option<&str>,
    change: &str,
    st: ServiceState,
    product: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    c.prepare_cached(
        "INSERT INTO service_history (service_id, customer_id, ticket_id, order_id, change, state, product_code, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .map_err(backend)?
    .execute(params![service, customer.0, ticket.map(|t| t.0), order, change, st.as_str(), product, ts(now)])
    .map_err(backend)?;
    Ok(())
}

/// Adds a service, or (same customer, number and product) brings it back.
#[allow(clippy::too_many_arguments)]
fn upsert_service(
    c: &Connection,
    customer: CustomerId,
    product: &str,
    number: &str,
    st: ServiceState,
    fee: i64,
    started: DateTime<Utc>,
    contract_end: Option<DateTime<Utc>>,
    devices: u32,
    now: DateTime<Utc>,
    cipher: &FieldCipher,
) -> StoreResult<(i64, bool)> {
    let idx = cipher.blind_index("service_number", number.trim());
    // Look first: the import counts additions and updates apart.
    let existing: Option<i64> = c
        .prepare_cached("SELECT id FROM services WHERE customer_id = ?1 AND number_idx = ?2 AND product_code = ?3")
        .map_err(backend)?
        .query_row(params![customer.0, idx, product], |r| r.get(0))
        .optional()
        .map_err(backend)?;
    let args = params![
        customer.0,
        product,
        seal_text(cipher, number.trim()),
        idx,
        st.as_str(),
        fee,
        ts(started),
        contract_end.map(ts),
        devices,
        ts(now)
    ];
    let id = match existing {
        Some(id) => {
            c.prepare_cached(
                "UPDATE services SET service_number = ?3, state = ?5, monthly_fee_fen = ?6, started_at = ?7, ended_at = NULL,
                        pending = NULL, contract_end = ?8, devices_out = ?9, updated_at = ?10
                 WHERE customer_id = ?1 AND product_code = ?2 AND number_idx = ?4",
            )
            .map_err(backend)?
            .execute(args)
            .map_err(backend)?;
            id
        }
        None => c
            .prepare_cached(
                "INSERT INTO services (customer_id, product_code, service_number, number_idx, state, monthly_fee_fen,
                                       started_at, contract_end, devices_out, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id",
            )
            .map_err(backend)?
            .query_row(args, |r| r.get(0))
            .map_err(backend)?,
    };
    Ok((id, existing.is_none()))
}

/// An order's changes, with the ticket change that completes it.
pub fn write(
    c: &Connection,
    ticket: TicketId,
    w: &InventoryWrite,
    now: DateTime<Utc>,
    cipher: &FieldCipher,
) -> StoreResult<()> {
    for change in &w.changes {
        match change {
            InventoryChange::Add { product_code, service_number, fee_fen, started_at } => {
                let (id, _) = upsert_service(
                    c,
                    w.customer,
                    product_code,
                    service_number,
                    ServiceState::Active,
                    *fee_fen,
                    *started_at,
                    None,
                    0,
                    now,
                    cipher,
                )?;
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
                )?;
            }
            InventoryChange::Set { service, state, product_code, fee_fen, ended_at, pending } => {
                let pending = pending.as_ref().map(|p| serde_json::to_string(p).unwrap_or_default());
                let n = c
                    .prepare_cached(
                        "UPDATE services SET state = ?3, product_code = ?4, monthly_fee_fen = ?5, ended_at = ?6,
                                pending = ?7, updated_at = ?8
                         WHERE id = ?1 AND customer_id = ?2",
                    )
                    .map_err(backend)?
                    .execute(params![
                        service,
                        w.customer.0,
                        state.as_str(),
                        product_code,
                        fee_fen,
                        ended_at.map(ts),
                        pending,
                        ts(now)
                    ])
                    .map_err(backend)?;
                if n == 0 {
                    return Err(StoreError::NotFound);
                }
                record(c, *service, w.customer, Some(ticket), Some(&w.order_id), "changed", *state, product_code, now)?;
            }
        }
    }
    Ok(())
}

/// The BSS queue's part of a ticket change.
pub fn queue(c: &Connection, ticket: TicketId, q: &BssQueue) -> StoreResult<()> {
    match q {
        BssQueue::Enqueue { order_id, at } => c
            .prepare_cached(
                "INSERT INTO bss_jobs (order_id, ticket_id, kind, next_at) VALUES (?1, ?2, 'submit', ?3)
                 ON CONFLICT (order_id) DO NOTHING",
            )
            .map_err(backend)?
            .execute(params![order_id, ticket.0, ts(*at)]),
        BssQueue::Done { order_id } => {
            c.prepare_cached("DELETE FROM bss_jobs WHERE order_id = ?1").map_err(backend)?.execute([order_id])
        }
    }
    .map_err(backend)?;
    Ok(())
}

pub fn import(
    c: &Connection,
    rows: &[ImportedService],
    now: DateTime<Utc>,
    cipher: &FieldCipher,
) -> StoreResult<ImportCounts> {
    let mut counts = ImportCounts::default();
    for row in rows {
        let customer = crate::tickets::upsert_customer(c, &row.customer, now, cipher)?.id;
        let (id, added) = upsert_service(
            c,
            customer,
            &row.product_code,
            &row.service_number,
            row.state,
            row.monthly_fee_fen,
            row.started_at,
            row.contract_end,
            row.devices_out,
            now,
            cipher,
        )?;
        if row.state == ServiceState::Terminated {
            c.prepare_cached("UPDATE services SET ended_at = COALESCE(ended_at, ?2) WHERE id = ?1")
                .map_err(backend)?
                .execute(params![id, ts(now)])
                .map_err(backend)?;
        }
        record(c, id, customer, None, None, "imported", row.state, &row.product_code, now)?;
        if let Some(balance) = row.balance_fen {
            c.prepare_cached(
                "INSERT INTO customer_accounts (customer_id, balance_fen, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (customer_id) DO UPDATE SET balance_fen = excluded.balance_fen, updated_at = excluded.updated_at",
            )
            .map_err(backend)?
            .execute(params![customer.0, balance, ts(now)])
            .map_err(backend)?;
        }
        if added {
            counts.added += 1;
        } else {
            counts.updated += 1;
        }
    }
    Ok(counts)
}

fn job(r: &rusqlite::Row) -> rusqlite::Result<BssJob> {
    Ok(BssJob {
        order_id: r.get(0)?,
        ticket: TicketId(r.get(1)?),
        kind: r.get(2)?,
        attempts: r.get(3)?,
        next_at: parse_ts(&r.get::<_, String>(4)?)?,
        last_error: r.get(5)?,
    })
}

pub fn claim(
    c: &Connection,
    node: &str,
    now: DateTime<Utc>,
    lease: chrono::Duration,
    limit: u32,
) -> StoreResult<Vec<BssJob>> {
    // The single writer holds the transaction: no other claim interleaves.
    c.prepare_cached(&format!(
        "UPDATE bss_jobs SET claimed_by = ?1, claimed_until = ?2
         WHERE order_id IN (SELECT order_id FROM bss_jobs WHERE next_at <= ?3
                            AND (claimed_until IS NULL OR claimed_until < ?3) ORDER BY next_at, order_id LIMIT ?4)
         RETURNING {JOB_COLS}"
    ))
    .map_err(backend)?
    .query_map(params![node, ts(now + lease), ts(now), limit], job)
    .map_err(backend)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(backend)
}

pub fn finish(c: &Connection, order_id: &str, node: &str, outcome: &BssJobOutcome) -> StoreResult<bool> {
    let n = match outcome {
        BssJobOutcome::Done => c
            .prepare_cached("DELETE FROM bss_jobs WHERE order_id = ?1 AND claimed_by = ?2")
            .map_err(backend)?
            .execute(params![order_id, node]),
        BssJobOutcome::Later { at, kind, error, attempt } => c
            .prepare_cached(
                "UPDATE bss_jobs SET next_at = ?3, kind = ?4, last_error = COALESCE(?5, last_error),
                        attempts = attempts + ?6, claimed_by = NULL, claimed_until = NULL
                 WHERE order_id = ?1 AND claimed_by = ?2",
            )
            .map_err(backend)?
            .execute(params![order_id, node, ts(*at), kind, error, u32::from(*attempt)]),
    }
    .map_err(backend)?;
    Ok(n == 1)
}

pub fn one_job(c: &Connection, order_id: &str) -> StoreResult<Option<BssJob>> {
    c.prepare_cached(&format!("SELECT {JOB_COLS} FROM bss_jobs WHERE order_id = ?1"))
        .map_err(backend)?
        .query_row([order_id], job)
        .optional()
        .map_err(backend)
}

/// The store capabilities kept in this file: InventoryStore.
mod capability {
    use super::*;
    use crate::*;

    impl InventoryStore for SqliteStore {
        async fn services(&self, customer: CustomerId) -> StoreResult<Vec<Service>> {
            let cipher = self.cipher.clone();
            self.read(move |c| services(c, customer, &cipher)).await
        }
        async fn service_history(&self, customer: CustomerId) -> StoreResult<Vec<ServiceChange>> {
            self.read(move |c| history(c, customer)).await
        }
        async fn account_facts(&self, customer: CustomerId) -> StoreResult<AccountFacts> {
            self.read(move |c| account(c, customer)).await
        }
        async fn import_services(&self, rows: Vec<ImportedService>, now: DateTime<Utc>) -> StoreResult<ImportCounts> {
            let cipher = self.cipher.clone();
            self.writer.run(move |c| import(c, &rows, now, &cipher)).await
        }
        async fn claim_bss_jobs(
            &self,
            node: &str,
            now: DateTime<Utc>,
            lease: chrono::Duration,
            limit: u32,
        ) -> StoreResult<Vec<BssJob>> {
            let node = node.to_string();
            self.writer.run(move |c| claim(c, &node, now, lease, limit)).await
        }
        async fn finish_bss_job(&self, order_id: &str, node: &str, outcome: BssJobOutcome) -> StoreResult<bool> {
            let (order_id, node) = (order_id.to_string(), node.to_string());
            self.writer.run(move |c| finish(c, &order_id, &node, &outcome)).await
        }
        async fn bss_job(&self, order_id: &str) -> StoreResult<Option<BssJob>> {
            let order_id = order_id.to_string();
            self.read(move |c| one_job(c, &order_id)).await
        }
    }
}
