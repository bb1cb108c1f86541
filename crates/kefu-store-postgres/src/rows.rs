//! Row ⇄ domain conversions and the simple reads.

use crate::pg;
use deadpool_postgres::GenericClient;
use kefu_domain::audit::AuditEvent;
use kefu_domain::ticket::{Comment, Customer, Transfer};
use kefu_domain::{CustomerId, TicketId, UserId};
use kefu_store::crypto::FieldCipher;
use kefu_store::doc::{RawCustomer, open_customer, phone_index, seal_customer};
use kefu_store::{AccessEntry, Page, StoreError, StoreResult};
use tokio_postgres::Row;

pub fn json(s: &str) -> StoreResult<serde_json::Value> {
    serde_json::from_str(s).map_err(|e| StoreError::Backend(format!("stored JSON is invalid: {e}")))
}

pub const CUSTOMER_COLS: &str = "c.id, c.name, c.phone, c.id_number, c.address, c.level";

/// Reads the customer columns starting at `at`, still encrypted.
pub fn raw_customer(r: &Row, at: usize) -> RawCustomer {
    RawCustomer {
        id: r.get(at),
        name: r.get(at + 1),
        phone: r.get(at + 2),
        id_number: r.get(at + 3),
        address: r.get(at + 4),
        level: r.get(at + 5),
    }
}

pub async fn customer_by_phone(
    c: &impl GenericClient,
    phone: &str,
    cipher: &FieldCipher,
) -> StoreResult<Option<Customer>> {
    let sql = format!("SELECT {CUSTOMER_COLS} FROM customers c WHERE c.phone_idx = $1");
    let row = c.query_opt(&sql, &[&phone_index(cipher, phone)]).await.map_err(pg)?;
    row.map(|r| open_customer(raw_customer(&r, 0), cipher)).transpose()
}

pub async fn customer_by_id(
    c: &impl GenericClient,
    id: CustomerId,
    cipher: &FieldCipher,
) -> StoreResult<Option<Customer>> {
    let sql = format!("SELECT {CUSTOMER_COLS} FROM customers c WHERE c.id = $1");
    let row = c.query_opt(&sql, &[&id.0]).await.map_err(pg)?;
    row.map(|r| open_customer(raw_customer(&r, 0), cipher)).transpose()
}

/// Re-encrypts up to `batch` customers whose sensitive fields are not yet
/// under the active key (or not encrypted at all), filling the indexes.
/// Rows are locked and skipped if another node holds them.
pub async fn reencrypt_customers(
    client: &mut deadpool_postgres::Client,
    batch: u32,
    cipher: &FieldCipher,
) -> StoreResult<u64> {
    let prefix = format!("enc:{}:%", cipher.active_key());
    let tx = client.transaction().await.map_err(pg)?;
    let due = tx
        .query(
            &format!(
                "SELECT {CUSTOMER_COLS} FROM customers c
                 WHERE c.phone_idx IS NULL OR c.phone NOT LIKE $1
                    OR (c.id_number IS NOT NULL AND c.id_number NOT LIKE $1)
                    OR (c.address IS NOT NULL AND c.address NOT LIKE $1)
                 ORDER BY c.id LIMIT $2 FOR UPDATE SKIP LOCKED"
            ),
            &[&prefix, &i64::from(batch)],
        )
        .await
        .map_err(pg)?;
    for row in &due {
        let raw = raw_customer(row, 0);
        let id = raw.id;
        let cu = open_customer(raw, cipher)?;
        let new = kefu_domain::ticket::NewCustomer {
            name: cu.name,
            phone: cu.phone,
            id_number: cu.id_number,
            address: cu.address,
            level: cu.level,
        };
        let s = seal_customer(&new, cipher);
        tx.execute(
            "UPDATE customers SET phone = $2, phone_idx = $3, id_number = $4, id_idx = $5, address = $6 WHERE id = $1",
            &[&id, &s.phone, &s.phone_idx, &s.id_number, &s.id_idx, &s.address],
        )
        .await
        .map_err(pg)?;
    }
    tx.commit().await.map_err(pg)?;
    Ok(due.len() as u64)
}

const EVENT_COLS: &str = "ticket_id, seq, at, actor, actor_name, action, data, before, after, prev_hash, hash";

fn event(r: &Row) -> StoreResult<AuditEvent> {
    Ok(AuditEvent {
        ticket_id: TicketId(r.get(0)),
        seq: r.get(1),
        at: r.get(2),
        actor: r.get::<_, Option<i64>>(3).map(UserId),
        actor_name: r.get(4),
        action: r.get(5),
        data: json(r.get(6))?,
        before: json(r.get(7))?,
        after: json(r.get(8))?,
        prev_hash: r.get(9),
        hash: r.get(10),
    })
}

pub async fn insert_event(c: &impl GenericClient, e: &AuditEvent) -> StoreResult<()> {
    let stmt = c
        .prepare_cached(&format!(
            // The events outbox (issue 22) in the same statement: written
            // with the change, never without it, and no extra round trip.
            "WITH e AS (INSERT INTO ticket_events ({EVENT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                        RETURNING ticket_id, seq, action, at)
             INSERT INTO event_outbox (ticket_id, seq, action, at) SELECT ticket_id, seq, action, at FROM e"
        ))
        .await
        .map_err(pg)?;
    c.execute(
        &stmt,
        &[
            &e.ticket_id.0,
            &e.seq,
            &e.at,
            &e.actor.map(|a| a.0),
            &e.actor_name,
            &e.action,
            &e.data.to_string(),
            &e.before.to_string(),
            &e.after.to_string(),
            &e.prev_hash,
            &e.hash,
        ],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

pub async fn events(
    c: &impl GenericClient,
    ticket: Option<TicketId>,
    after: Option<(TicketId, i64)>,
    limit: i64,
) -> StoreResult<Vec<AuditEvent>> {
    let rows = match ticket {
        Some(id) => {
            c.query(&format!("SELECT {EVENT_COLS} FROM ticket_events WHERE ticket_id = $1 ORDER BY seq"), &[&id.0])
                .await
        }
        None => {
            let (t, s) = after.map_or((-1, -1), |(t, s)| (t.0, s));
            c.query(
                &format!("SELECT {EVENT_COLS} FROM ticket_events WHERE (ticket_id, seq) > ($1, $2) ORDER BY ticket_id, seq LIMIT $3"),
                &[&t, &s, &limit],
            )
            .await
        }
    };
    rows.map_err(pg)?.iter().map(event).collect()
}

pub async fn tickets_without_events(c: &impl GenericClient, limit: i64) -> StoreResult<Vec<TicketId>> {
    let rows = c
        .query(
            "SELECT id FROM tickets t WHERE NOT EXISTS (SELECT 1 FROM ticket_events e WHERE e.ticket_id = t.id) ORDER BY id LIMIT $1",
            &[&limit],
        )
        .await
        .map_err(pg)?;
    Ok(rows.iter().map(|r| TicketId(r.get(0))).collect())
}

pub async fn transfers(c: &impl GenericClient, ticket: TicketId) -> StoreResult<Vec<Transfer>> {
    let rows = c
        .query(
            "SELECT id, ticket_id, from_user, to_user, to_team, to_department, decided_by, reason, mode, state, result,
                    customer_feedback, created_at, decided_at
             FROM transfers WHERE ticket_id = $1 ORDER BY id",
            &[&ticket.0],
        )
        .await
        .map_err(pg)?;
    Ok(rows
        .iter()
        .map(|r| Transfer {
            id: r.get(0),
            ticket_id: TicketId(r.get(1)),
            from_user: r.get::<_, Option<i64>>(2).map(UserId),
            to_user: r.get::<_, Option<i64>>(3).map(UserId),
            to_team: r.get::<_, Option<i64>>(4).map(kefu_domain::TeamId),
            to_department: r.get::<_, Option<i64>>(5).map(kefu_domain::DepartmentId),
            decided_by: r.get::<_, Option<i64>>(6).map(UserId),
            reason: r.get(7),
            mode: r.get(8),
            state: r.get(9),
            result: r.get(10),
            customer_feedback: r.get(11),
            created_at: r.get(12),
            decided_at: r.get(13),
        })
        .collect())
}

pub async fn comments(c: &impl GenericClient, ticket: TicketId) -> StoreResult<Vec<Comment>> {
    let rows = c
        .query(
            "SELECT id, ticket_id, author, body, internal, created_at, mentions, channel FROM comments WHERE ticket_id = $1 ORDER BY id",
            &[&ticket.0],
        )
        .await
        .map_err(pg)?;
    Ok(rows
        .iter()
        .map(|r| Comment {
            id: r.get(0),
            ticket_id: TicketId(r.get(1)),
            author: UserId(r.get(2)),
            body: r.get(3),
            internal: r.get(4),
            created_at: r.get(5),
            mentions: serde_json::from_str(r.get::<_, &str>(6)).unwrap_or_default(),
            channel: r.get(7),
        })
        .collect())
}

pub async fn append_access(c: &impl GenericClient, e: AccessEntry) -> StoreResult<AccessEntry> {
    let row = c
        .query_one(
            "INSERT INTO access_log (at, actor, actor_name, action, subject, field, reason) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            &[&e.at, &e.actor.map(|a| a.0), &e.actor_name, &e.action, &e.subject, &e.field, &e.reason],
        )
        .await
        .map_err(pg)?;
    Ok(AccessEntry { id: row.get(0), ..e })
}

pub async fn access_log(c: &impl GenericClient, page: u32, per_page: u32) -> StoreResult<Page<AccessEntry>> {
    let total: i64 = c.query_one("SELECT COUNT(*) FROM access_log", &[]).await.map_err(pg)?.get(0);
    let offset = i64::from(page.saturating_sub(1)) * i64::from(per_page);
    let rows = c
        .query(
            "SELECT id, at, actor, actor_name, action, subject, field, reason FROM access_log ORDER BY id DESC LIMIT $1 OFFSET $2",
            &[&i64::from(per_page), &offset],
        )
        .await
        .map_err(pg)?;
    let items = rows
        .iter()
        .map(|r| AccessEntry {
            id: r.get(0),
            at: r.get(1),
            actor: r.get::<_, Option<i64>>(2).map(UserId),
            actor_name: r.get(3),
            action: r.get(4),
            subject: r.get(5),
            field: r.get(6),
            reason: r.get(7),
        })
        .collect();
    Ok(Page { items, total, page, per_page })
}

/// The store capabilities kept in this file: PrivacyStore.
mod capability {
    use crate::*;

    impl PrivacyStore for PgStore {
        async fn append_access(&self, entry: AccessEntry) -> StoreResult<AccessEntry> {
            let reason = entry.reason.clone();
            let sealed = AccessEntry { reason: seal::seal_text(&self.cipher, &entry.reason), ..entry };
            let logged = rows::append_access(&self.client().await?, sealed).await?;
            Ok(AccessEntry { reason, ..logged })
        }
        async fn access_log(&self, page: u32, per_page: u32) -> StoreResult<Page<AccessEntry>> {
            let log = rows::access_log(&self.client().await?, page, per_page).await?;
            let items = log
                .items
                .into_iter()
                .map(|e| Ok(AccessEntry { reason: seal::open_text(&self.cipher, &e.reason)?, ..e }))
                .collect::<StoreResult<_>>()?;
            Ok(Page { items, ..log })
        }
        async fn customer_by_id(&self, id: CustomerId) -> StoreResult<Option<Customer>> {
            rows::customer_by_id(&self.client().await?, id, &self.cipher).await
        }
        async fn reencrypt_customers(&self, batch: u32) -> StoreResult<u64> {
            rows::reencrypt_customers(&mut self.client().await?, batch, &self.cipher).await
        }
        async fn delete_customer(&self, id: CustomerId) -> StoreResult<()> {
            let client = self.client().await?;
            let used: i64 = client
                .query_one("SELECT COUNT(*) FROM tickets WHERE customer_id = $1", &[&id.0])
                .await
                .map_err(pg)?
                .get(0);
            if used > 0 {
                return Err(StoreError::Conflict { constraint: "tickets_customer_id_fkey".into() });
            }
            // Erasure takes their services and account facts with them; a
            // ticket registered meanwhile makes the foreign key refuse it all.
            let mut client = client;
            let tx = client.transaction().await.map_err(pg)?;
            for table in ["service_history", "services", "customer_accounts", "customer_contacts"] {
                tx.execute(&format!("DELETE FROM {table} WHERE customer_id = $1"), &[&id.0]).await.map_err(pg)?;
            }
            let deleted = tx.execute("DELETE FROM customers WHERE id = $1", &[&id.0]).await;
            if let Ok(1) = deleted {
                tx.commit().await.map_err(pg)?;
            }
            match deleted {
                Ok(0) => Err(StoreError::NotFound),
                Ok(_) => Ok(()),
                Err(e) if e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) => {
                    Err(StoreError::Conflict { constraint: "tickets_customer_id_fkey".into() })
                }
                Err(e) => Err(pg(e)),
            }
        }
        async fn retention_due(&self, cutoff: DateTime<Utc>, limit: u32) -> StoreResult<Vec<RetentionDue>> {
            let rows = self
                .client()
                .await?
                .query(
                    "SELECT id, number, customer_id, (doc::json->>'archived_at')::timestamptz AS archived FROM tickets
                     WHERE status = 'archived' AND (doc::json->>'archived_at')::timestamptz <= $1
                     ORDER BY archived, id LIMIT $2",
                    &[&cutoff, &i64::from(limit)],
                )
                .await
                .map_err(pg)?;
            Ok(rows
                .iter()
                .map(|r| RetentionDue {
                    ticket: TicketId(r.get(0)),
                    number: r.get(1),
                    customer: CustomerId(r.get(2)),
                    archived_at: r.get(3),
                })
                .collect())
        }
        async fn purge_ticket(&self, id: TicketId) -> StoreResult<()> {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(pg)?;
            for table in [
                "comments",
                "transfers",
                "sla_breaches",
                "notices",
                "outbox",
                "visits",
                "ticket_events",
                "bss_jobs",
                "attachments",
                "webhook_deliveries",
            ] {
                tx.execute(&format!("DELETE FROM {table} WHERE ticket_id = $1"), &[&id.0]).await.map_err(pg)?;
            }
            // The customer's service history outlives the ticket, without its link.
            tx.execute("UPDATE service_history SET ticket_id = NULL WHERE ticket_id = $1", &[&id.0])
                .await
                .map_err(pg)?;
            let n = tx.execute("DELETE FROM tickets WHERE id = $1", &[&id.0]).await.map_err(pg)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            tx.commit().await.map_err(pg)
        }
        async fn purge_idempotency(&self, before: DateTime<Utc>) -> StoreResult<u64> {
            self.client()
                .await?
                .execute("DELETE FROM idempotency_keys WHERE created_at < $1", &[&before])
                .await
                .map_err(pg)
        }
    }
}
