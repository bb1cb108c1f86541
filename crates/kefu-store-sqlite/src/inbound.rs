//! Sources read and customers' e-mail addresses (InboundStore) in SQLite.

use crate::backend;
use crate::rows::ts;
use chrono::{DateTime, Utc};
use kefu_domain::CustomerId;
use kefu_domain::ticket::Customer;
use kefu_store::crypto::FieldCipher;
use kefu_store::{StoreResult, email_key};
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

pub fn customer_by_email(c: &Connection, address: &str, cipher: &FieldCipher) -> StoreResult<Option<Customer>> {
    let idx = cipher.blind_index("email", &email_key(address));
    let id: Option<i64> = c
        .prepare_cached("SELECT customer_id FROM customer_emails WHERE address_idx = ?1")
        .map_err(backend)?
        .query_row([idx], |r| r.get(0))
        .optional()
        .map_err(backend)?;
    match id {
        Some(id) => crate::rows::customer_by_id(c, CustomerId(id), cipher),
        None => Ok(None),
    }
}

pub fn link_email(
    c: &Connection,
    customer: CustomerId,
    address: &str,
    now: DateTime<Utc>,
    cipher: &FieldCipher,
) -> StoreResult<()> {
    let key = email_key(address);
    c.prepare_cached(
        "INSERT INTO customer_emails (address_idx, customer_id, address, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (address_idx) DO UPDATE SET customer_id = excluded.customer_id, updated_at = excluded.updated_at",
    )
    .map_err(backend)?
    .execute(params![cipher.blind_index("email", &key), customer.0, cipher.encrypt(&key), ts(now)])
    .map_err(backend)?;
    Ok(())
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
        async fn customer_by_email(&self, address: &str) -> StoreResult<Option<Customer>> {
            let (k, address) = (self.cipher.clone(), address.to_string());
            self.read(move |c| super::customer_by_email(c, &address, &k)).await
        }
        async fn link_email(&self, customer: CustomerId, address: &str, now: DateTime<Utc>) -> StoreResult<()> {
            let (k, address) = (self.cipher.clone(), address.to_string());
            self.writer.run(move |c| super::link_email(c, customer, &address, now, &k)).await
        }
    }
}
