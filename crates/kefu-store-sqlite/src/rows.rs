//! Row ⇄ domain conversions and the simple reads.

use crate::backend;
use chrono::{DateTime, Utc};
use kefu_domain::audit::{AuditEvent, canonical_time};
use kefu_domain::ticket::{Comment, Customer, Transfer};
use kefu_domain::{CustomerId, TicketId, UserId};
use kefu_store::crypto::FieldCipher;
use kefu_store::doc::{RawCustomer, open_customer, phone_index, seal_customer};
use kefu_store::seal::{open_event, open_text, open_transfer, seal_text};
use kefu_store::{AccessEntry, Page, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, Row, params};

pub fn ts(t: DateTime<Utc>) -> String {
    canonical_time(t)
}

pub fn parse_ts(s: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

pub fn opt_ts(s: Option<String>) -> rusqlite::Result<Option<DateTime<Utc>>> {
    s.as_deref().map(parse_ts).transpose()
}

pub fn json(s: &str) -> rusqlite::Result<serde_json::Value> {
    serde_json::from_str(s)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

pub fn decode_err(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("stored {what} cannot be decoded: {e}"))
}

pub const CUSTOMER_COLS: &str = "c.id, c.name, c.phone, c.id_number, c.address, c.level";

/// Reads the customer columns starting at `at`, still encrypted.
pub fn raw_customer(r: &Row, at: usize) -> rusqlite::Result<RawCustomer> {
    Ok(RawCustomer {
        id: r.get(at)?,
        name: r.get(at + 1)?,
        phone: r.get(at + 2)?,
        id_number: r.get(at + 3)?,
        address: r.get(at + 4)?,
        level: r.get(at + 5)?,
    })
}

fn customer_where(
    c: &Connection,
    clause: &str,
    arg: &dyn rusqlite::ToSql,
    cipher: &FieldCipher,
) -> StoreResult<Option<Customer>> {
    let raw = c
        .prepare_cached(&format!("SELECT {CUSTOMER_COLS} FROM customers c WHERE {clause}"))
        .map_err(backend)?
        .query_row([arg], |r| raw_customer(r, 0))
        .optional()
        .map_err(backend)?;
    raw.map(|r| open_customer(r, cipher)).transpose()
}

pub fn customer_by_phone(c: &Connection, phone: &str, cipher: &FieldCipher) -> StoreResult<Option<Customer>> {
    customer_where(c, "c.phone_idx = ?1", &phone_index(cipher, phone), cipher)
}

pub fn customer_by_id(c: &Connection, id: CustomerId, cipher: &FieldCipher) -> StoreResult<Option<Customer>> {
    customer_where(c, "c.id = ?1", &id.0, cipher)
}

/// Re-encrypts up to `batch` customers whose sensitive fields are not yet
/// under the active key (or not encrypted at all), filling the indexes.
pub fn reencrypt_customers(c: &Connection, batch: u32, cipher: &FieldCipher) -> StoreResult<u64> {
    let prefix = format!("enc:{}:%", cipher.active_key());
    let due = c
        .prepare_cached(&format!(
            "SELECT {CUSTOMER_COLS} FROM customers c
             WHERE c.phone_idx IS NULL OR c.phone NOT LIKE ?1
                OR (c.id_number IS NOT NULL AND c.id_number NOT LIKE ?1)
                OR (c.address IS NOT NULL AND c.address NOT LIKE ?1)
             ORDER BY c.id LIMIT ?2"
        ))
        .map_err(backend)?
        .query_map(params![prefix, batch], |r| raw_customer(r, 0))
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    for raw in &due {
        let cu = open_customer(raw.clone(), cipher)?;
        let s = seal_customer(
            &kefu_domain::ticket::NewCustomer {
                name: cu.name,
                phone: cu.phone,
                id_number: cu.id_number,
                address: cu.address,
                level: cu.level,
            },
            cipher,
        );
        c.prepare_cached(
            "UPDATE customers SET phone = ?2, phone_idx = ?3, id_number = ?4, id_idx = ?5, address = ?6 WHERE id = ?1",
        )
        .map_err(backend)?
        .execute(params![raw.id, s.phone, s.phone_idx, s.id_number, s.id_idx, s.address])
        .map_err(backend)?;
    }
    Ok(due.len() as u64)
}

const EVENT_COLS: &str = "ticket_id, seq, at, actor, actor_name, action, data, before, after, prev_hash, hash";

fn event(r: &Row) -> rusqlite::Result<AuditEvent> {
    Ok(AuditEvent {
        ticket_id: TicketId(r.get(0)?),
        seq: r.get(1)?,
        at: parse_ts(&r.get::<_, String>(2)?)?,
        actor: r.get::<_, Option<i64>>(3)?.map(UserId),
        actor_name: r.get(4)?,
        action: r.get(5)?,
        data: json(&r.get::<_, String>(6)?)?,
        before: json(&r.get::<_, String>(7)?)?,
        after: json(&r.get::<_, String>(8)?)?,
        prev_hash: r.get(9)?,
        hash: r.get(10)?,
    })
}

pub fn insert_event(c: &Connection, e: &AuditEvent) -> StoreResult<()> {
    c.prepare_cached(&format!(
        "INSERT INTO ticket_events ({EVENT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))
    .map_err(backend)?
    .execute(params![
        e.ticket_id.0,
        e.seq,
        ts(e.at),
        e.actor.map(|a| a.0),
        e.actor_name,
        e.action,
        e.data.to_string(),
        e.before.to_string(),
        e.after.to_string(),
        e.prev_hash,
        e.hash
    ])
    .map_err(backend)?;
    // The events outbox (issue 22): written with the change, never without it.
    crate::events::enqueue(c, e.ticket_id, e.seq, &e.action, e.at)
}

/// The events of one ticket, or of all tickets after a (ticket, seq) cursor.
pub fn events(
    c: &Connection,
    ticket: Option<TicketId>,
    after: Option<(TicketId, i64)>,
    limit: u32,
    cipher: &FieldCipher,
) -> StoreResult<Vec<AuditEvent>> {
    let (t, s) = after.map_or((-1, -1), |(t, s)| (t.0, s));
    let rows = match ticket {
        Some(id) => c
            .prepare_cached(&format!("SELECT {EVENT_COLS} FROM ticket_events WHERE ticket_id = ?1 ORDER BY seq"))
            .map_err(backend)?
            .query_map([id.0], event)
            .map_err(backend)?
            .collect::<Result<Vec<_>, _>>(),
        None => c
            .prepare_cached(&format!(
                "SELECT {EVENT_COLS} FROM ticket_events WHERE (ticket_id, seq) > (?1, ?2) ORDER BY ticket_id, seq LIMIT ?3"
            ))
            .map_err(backend)?
            .query_map(params![t, s, limit], event)
            .map_err(backend)?
            .collect::<Result<Vec<_>, _>>(),
    };
    rows.map_err(backend)?.into_iter().map(|e| open_event(cipher, e)).collect()
}

pub fn tickets_without_events(c: &Connection, limit: u32) -> StoreResult<Vec<TicketId>> {
    c.prepare_cached("SELECT id FROM tickets t WHERE NOT EXISTS (SELECT 1 FROM ticket_events e WHERE e.ticket_id = t.id) ORDER BY id LIMIT ?1")
        .map_err(backend)?
        .query_map([limit], |r| Ok(TicketId(r.get(0)?)))
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)
}

pub fn transfers(c: &Connection, ticket: TicketId, cipher: &FieldCipher) -> StoreResult<Vec<Transfer>> {
    c.prepare_cached(
        "SELECT id, ticket_id, from_user, to_user, to_team, to_department, decided_by, reason, mode, state, result,
                customer_feedback, created_at, decided_at
         FROM transfers WHERE ticket_id = ?1 ORDER BY id",
    )
    .map_err(backend)?
    .query_map([ticket.0], |r| {
        Ok(Transfer {
            id: r.get(0)?,
            ticket_id: TicketId(r.get(1)?),
            from_user: r.get::<_, Option<i64>>(2)?.map(UserId),
            to_user: r.get::<_, Option<i64>>(3)?.map(UserId),
            to_team: r.get::<_, Option<i64>>(4)?.map(kefu_domain::TeamId),
            to_department: r.get::<_, Option<i64>>(5)?.map(kefu_domain::DepartmentId),
            decided_by: r.get::<_, Option<i64>>(6)?.map(UserId),
            reason: r.get(7)?,
            mode: r.get(8)?,
            state: r.get(9)?,
            result: r.get(10)?,
            customer_feedback: r.get(11)?,
            created_at: parse_ts(&r.get::<_, String>(12)?)?,
            decided_at: opt_ts(r.get(13)?)?,
        })
    })
    .map_err(backend)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(backend)?
    .into_iter()
    .map(|t| open_transfer(cipher, t))
    .collect()
}

pub fn comments(c: &Connection, ticket: TicketId, cipher: &FieldCipher) -> StoreResult<Vec<Comment>> {
    c.prepare_cached(
        "SELECT id, ticket_id, author, body, internal, created_at, mentions, channel FROM comments WHERE ticket_id = ?1 ORDER BY id",
    )
    .map_err(backend)?
    .query_map([ticket.0], |r| {
        Ok(Comment {
            id: r.get(0)?,
            ticket_id: TicketId(r.get(1)?),
            author: UserId(r.get(2)?),
            body: r.get(3)?,
            internal: r.get(4)?,
            created_at: parse_ts(&r.get::<_, String>(5)?)?,
            mentions: serde_json::from_value(json(&r.get::<_, String>(6)?)?).unwrap_or_default(),
            channel: r.get(7)?,
        })
    })
    .map_err(backend)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(backend)?
    .into_iter()
    .map(|c| Ok(Comment { body: open_text(cipher, &c.body)?, ..c }))
    .collect()
}

pub fn append_access(c: &Connection, e: AccessEntry, cipher: &FieldCipher) -> StoreResult<AccessEntry> {
    let id: i64 = c
        .prepare_cached(
            "INSERT INTO access_log (at, actor, actor_name, action, subject, field, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
        )
        .map_err(backend)?
        .query_row(
            params![ts(e.at), e.actor.map(|a| a.0), e.actor_name, e.action, e.subject, e.field, seal_text(cipher, &e.reason)],
            |r| r.get(0),
        )
        .map_err(backend)?;
    Ok(AccessEntry { id, ..e })
}

pub fn access_log(c: &Connection, page: u32, per_page: u32, cipher: &FieldCipher) -> StoreResult<Page<AccessEntry>> {
    let total: i64 = c.query_row("SELECT COUNT(*) FROM access_log", [], |r| r.get(0)).map_err(backend)?;
    let offset = i64::from(page.saturating_sub(1)) * i64::from(per_page);
    let items = c
        .prepare_cached(
            "SELECT id, at, actor, actor_name, action, subject, field, reason FROM access_log ORDER BY id DESC LIMIT ?1 OFFSET ?2",
        )
        .map_err(backend)?
        .query_map(params![per_page, offset], |r| {
            Ok(AccessEntry {
                id: r.get(0)?,
                at: parse_ts(&r.get::<_, String>(1)?)?,
                actor: r.get::<_, Option<i64>>(2)?.map(UserId),
                actor_name: r.get(3)?,
                action: r.get(4)?,
                subject: r.get(5)?,
                field: r.get(6)?,
                reason: r.get(7)?,
            })
        })
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?
        .into_iter()
        .map(|e| Ok(AccessEntry { reason: open_text(cipher, &e.reason)?, ..e }))
        .collect::<StoreResult<_>>()?;
    Ok(Page { items, total, page, per_page })
}

pub fn retention_due(c: &Connection, cutoff: DateTime<Utc>, limit: u32) -> StoreResult<Vec<kefu_store::RetentionDue>> {
    c.prepare_cached(
        "SELECT id, number, customer_id, json_extract(doc, '$.archived_at') FROM tickets
         WHERE status = 'archived' AND julianday(json_extract(doc, '$.archived_at')) <= julianday(?1)
         ORDER BY julianday(json_extract(doc, '$.archived_at')), id LIMIT ?2",
    )
    .map_err(backend)?
    .query_map(params![ts(cutoff), limit], |r| {
        Ok(kefu_store::RetentionDue {
            ticket: TicketId(r.get(0)?),
            number: r.get(1)?,
            customer: CustomerId(r.get(2)?),
            archived_at: parse_ts(&r.get::<_, String>(3)?)?,
        })
    })
    .map_err(backend)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(backend)
}

pub fn purge_ticket(c: &Connection, id: TicketId) -> StoreResult<()> {
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
        c.execute(&format!("DELETE FROM {table} WHERE ticket_id = ?1"), [id.0]).map_err(backend)?;
    }
    // The customer's service history outlives the ticket, without its link.
    c.execute("UPDATE service_history SET ticket_id = NULL WHERE ticket_id = ?1", [id.0]).map_err(backend)?;
    match c.execute("DELETE FROM tickets WHERE id = ?1", [id.0]).map_err(backend)? {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

/// The store capabilities kept in this file: PrivacyStore.
mod capability {
    use crate::*;

    impl PrivacyStore for SqliteStore {
        async fn append_access(&self, entry: AccessEntry) -> StoreResult<AccessEntry> {
            let k = self.cipher.clone();
            self.writer.run(move |c| rows::append_access(c, entry, &k)).await
        }
        async fn access_log(&self, page: u32, per_page: u32) -> StoreResult<Page<AccessEntry>> {
            let k = self.cipher.clone();
            self.read(move |c| rows::access_log(c, page, per_page, &k)).await
        }
        async fn customer_by_id(&self, id: CustomerId) -> StoreResult<Option<Customer>> {
            let k = self.cipher.clone();
            self.read(move |c| rows::customer_by_id(c, id, &k)).await
        }
        async fn reencrypt_customers(&self, batch: u32) -> StoreResult<u64> {
            let k = self.cipher.clone();
            self.writer.run(move |c| rows::reencrypt_customers(c, batch, &k)).await
        }
        async fn delete_customer(&self, id: CustomerId) -> StoreResult<()> {
            self.writer
                .run(move |c| {
                    let used: i64 = c
                        .query_row("SELECT COUNT(*) FROM tickets WHERE customer_id = ?1", [id.0], |r| r.get(0))
                        .map_err(backend)?;
                    if used > 0 {
                        return Err(StoreError::Conflict { constraint: "tickets_customer_id_fkey".into() });
                    }
                    // Erasure takes their services and account facts with them.
                    for table in ["service_history", "services", "customer_accounts", "customer_contacts"] {
                        c.execute(&format!("DELETE FROM {table} WHERE customer_id = ?1"), [id.0]).map_err(backend)?;
                    }
                    match c.execute("DELETE FROM customers WHERE id = ?1", [id.0]).map_err(backend)? {
                        0 => Err(StoreError::NotFound),
                        _ => Ok(()),
                    }
                })
                .await
        }
        async fn retention_due(&self, cutoff: DateTime<Utc>, limit: u32) -> StoreResult<Vec<RetentionDue>> {
            self.read(move |c| rows::retention_due(c, cutoff, limit)).await
        }
        async fn purge_ticket(&self, id: TicketId) -> StoreResult<()> {
            self.writer.run(move |c| rows::purge_ticket(c, id)).await
        }
        async fn purge_idempotency(&self, before: DateTime<Utc>) -> StoreResult<u64> {
            self.writer
                .run(move |c| {
                    let n = c
                        .execute("DELETE FROM idempotency_keys WHERE created_at < ?1", [rows::ts(before)])
                        .map_err(backend)?;
                    Ok(n as u64)
                })
                .await
        }
    }
}
