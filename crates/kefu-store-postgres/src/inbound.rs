//! Sources read and customers' e-mail addresses (InboundStore) in PostgreSQL.

use crate::pg;
use chrono::{DateTime, Utc};
use kefu_domain::CustomerId;
use kefu_domain::ticket::Customer;
use kefu_store::{StoreResult, contact_index, contact_key};

/// The store capabilities kept in this file: InboundStore.
mod capability {
    use super::*;
    use crate::*;
    use kefu_store::InboundStore;

    impl InboundStore for PgStore {
        async fn inbound_cursor(&self, source: &str) -> StoreResult<Option<(i64, i64)>> {
            let row = self
                .client()
                .await?
                .query_opt("SELECT validity, last_uid FROM inbound_cursors WHERE source = $1", &[&source])
                .await
                .map_err(pg)?;
            Ok(row.map(|r| (r.get(0), r.get(1))))
        }
        async fn set_inbound_cursor(
            &self,
            source: &str,
            (validity, last_uid): (i64, i64),
            answer: Option<kefu_store::NewMessage>,
            now: DateTime<Utc>,
        ) -> StoreResult<()> {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(pg)?;
            crate::outbox::insert_messages(&tx, None, answer.as_slice(), &self.cipher, now).await?;
            // A new UID validity starts over; within one, the cursor only moves on.
            tx.execute(
                    "INSERT INTO inbound_cursors (source, validity, last_uid, updated_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (source) DO UPDATE SET
                       last_uid = CASE WHEN inbound_cursors.validity = excluded.validity
                                       THEN GREATEST(inbound_cursors.last_uid, excluded.last_uid) ELSE excluded.last_uid END,
                       validity = excluded.validity, updated_at = excluded.updated_at",
                    &[&source, &validity, &last_uid, &now],
                )
                .await
                .map_err(pg)?;
            tx.commit().await.map_err(pg)
        }
        async fn customer_by_contact(&self, kind: &str, value: &str) -> StoreResult<Option<Customer>> {
            let idx = contact_index(&self.cipher, kind, value);
            let client = self.client().await?;
            let row = client
                .query_opt("SELECT customer_id FROM customer_contacts WHERE contact_idx = $1", &[&idx])
                .await
                .map_err(pg)?;
            match row {
                Some(r) => rows::customer_by_id(&client, CustomerId(r.get(0)), &self.cipher).await,
                None => Ok(None),
            }
        }
        async fn link_contact(
            &self,
            customer: CustomerId,
            kind: &str,
            value: &str,
            now: DateTime<Utc>,
        ) -> StoreResult<()> {
            let sealed = self.cipher.encrypt(&contact_key(kind, value));
            self.client()
                .await?
                .execute(
                    "INSERT INTO customer_contacts (contact_idx, kind, customer_id, value, updated_at) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (contact_idx) DO UPDATE SET customer_id = excluded.customer_id, updated_at = excluded.updated_at",
                    &[&contact_index(&self.cipher, kind, value), &kind, &customer.0, &sealed, &now],
                )
                .await
                .map_err(pg)?;
            Ok(())
        }
        async fn contact_of(&self, customer: CustomerId, kind: &str) -> StoreResult<Option<String>> {
            let row = self
                .client()
                .await?
                .query_opt(
                    "SELECT value FROM customer_contacts WHERE customer_id = $1 AND kind = $2 ORDER BY updated_at DESC LIMIT 1",
                    &[&customer.0, &kind],
                )
                .await
                .map_err(pg)?;
            row.map(|r| self.cipher.decrypt(r.get(0))).transpose()
        }
    }
}
