//! Sources read and customers' e-mail addresses (InboundStore) in SQLite.

use crate::backend;
use crate::rows::ts;
use chrono::{DateTime, Utc};
use kefu_domain::CustomerId;
use kefu_domain::ticket::Customer;
use kefu_store::crypto::FieldCipher;
use kefu_store::{StoreResult, contact_index, contact_key};
use rusqlite::{Connection, OptionalExtension, params};

pub fn cursor(c: &Connection, source: &str) -> StoreResult<Option<(i64, i64)>> {
    c.prepare_cached("SELECT validity, last_uid FROM inbound_cursors WHERE source = ?1")
        .map_err(backend)?
        .query_row([source], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(backend)
}

pub fn set_cursor(c: &Connection, source: &str, validity: i64, uid: i64, now: DateTime<Utc>) -> StoreResult<()> {
    // A new UID validity starts over; within one, the cursor only moves on.
    c.prepare_cached(
        "INSERT INTO inbound_cursors (source, validity, last_uid, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (source) DO UPDATE SET
           last_uid = CASE WHEN inbound_cursors.validity = excluded.validity
                           THEN MAX(inbound_cursors.last_uid, excluded.last_uid) ELSE excluded.last_uid END,
           validity = excluded.validity, updated_at = excluded.updated_at",
    )
    .map_err(backend)?
    .execute(params![source, validity, uid, ts(now)])
    .map_err(backend)?;
    Ok(())
}

pub fn customer_by_contact(
    c: &Connection,
    kind: &str,
    value: &str,
    cipher: &FieldCipher,
) -> StoreResult<Option<Customer>> {
    let id: Option<i64> = c
        .prepare_cached("SELECT customer_id FROM customer_contacts WHERE contact_idx = ?1")
        .map_err(backend)?
        .query_row([contact_index(cipher, kind, value)], |r| r.get(0))
        .optional()
        .map_err(backend)?;
    match id {
        Some(id) => crate::rows::customer_by_id(c, CustomerId(id), cipher),
        None => Ok(None),
    }
}

pub fn link_contact(
    c: &Connection,
    customer: CustomerId,
    (kind, value): (&str, &str),
    now: DateTime<Utc>,
    cipher: &FieldCipher,
) -> StoreResult<()> {
    c.prepare_cached(
        "INSERT INTO customer_contacts (contact_idx, kind, customer_id, value, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (contact_idx) DO UPDATE SET customer_id = excluded.customer_id, updated_at = excluded.updated_at",
    )
    .map_err(backend)?
    .execute(params![
        contact_index(cipher, kind, value),
        kind,
        customer.0,
        cipher.encrypt(&contact_key(kind, value)),
        ts(now)
    ])
    .map_err(backend)?;
    Ok(())
}

pub fn contact_of(
    c: &Connection,
    customer: CustomerId,
    kind: &str,
    cipher: &FieldCipher,
) -> StoreResult<Option<String>> {
    let sealed: Option<String> = c
        .prepare_cached(
            "SELECT value FROM customer_contacts WHERE customer_id = ?1 AND kind = ?2 ORDER BY updated_at DESC LIMIT 1",
        )
        .map_err(backend)?
        .query_row(params![customer.0, kind], |r| r.get(0))
        .optional()
        .map_err(backend)?;
    sealed.map(|v| cipher.decrypt(&v)).transpose()
}

/// The store capabilities kept in this file: InboundStore.
mod capability {
    use crate::*;
    use kefu_store::InboundStore;

    impl InboundStore for SqliteStore {
        async fn inbound_cursor(&self, source: &str) -> StoreResult<Option<(i64, i64)>> {
            let source = source.to_string();
            self.read(move |c| super::cursor(c, &source)).await
        }
        async fn set_inbound_cursor(
            &self,
            source: &str,
            (validity, last_uid): (i64, i64),
            answer: Option<kefu_store::NewMessage>,
            now: DateTime<Utc>,
        ) -> StoreResult<()> {
            let (source, k) = (source.to_string(), self.cipher.clone());
            self.writer
                .run(move |c| {
                    crate::outbox::insert_messages(c, None, answer.as_slice(), &k, now)?;
                    super::set_cursor(c, &source, validity, last_uid, now)
                })
                .await
        }
        async fn customer_by_contact(&self, kind: &str, value: &str) -> StoreResult<Option<Customer>> {
            let (k, kind, value) = (self.cipher.clone(), kind.to_string(), value.to_string());
            self.read(move |c| super::customer_by_contact(c, &kind, &value, &k)).await
        }
        async fn link_contact(
            &self,
            customer: CustomerId,
            kind: &str,
            value: &str,
            now: DateTime<Utc>,
        ) -> StoreResult<()> {
            let (k, kind, value) = (self.cipher.clone(), kind.to_string(), value.to_string());
            self.writer.run(move |c| super::link_contact(c, customer, (&kind, &value), now, &k)).await
        }
        async fn contact_of(&self, customer: CustomerId, kind: &str) -> StoreResult<Option<String>> {
            let (k, kind) = (self.cipher.clone(), kind.to_string());
            self.read(move |c| super::contact_of(c, customer, &kind, &k)).await
        }
    }
}
