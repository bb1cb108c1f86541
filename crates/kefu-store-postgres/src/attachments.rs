//! The index of evidence files (AttachmentStore) in PostgreSQL.

use crate::pg;
use deadpool_postgres::GenericClient;
use kefu_domain::TicketId;
use kefu_store::crypto::FieldCipher;
use kefu_store::seal::{open_text, seal_text};
use kefu_store::{Attachment, StoreResult};
use tokio_postgres::Row;

const COLS: &str = "id, ticket_id, filename, content_type, size, sha256, blob, source, added_by, created_at";

fn attachment(r: &Row, cipher: &FieldCipher) -> StoreResult<Attachment> {
    Ok(Attachment {
        id: r.get(0),
        ticket: TicketId(r.get(1)),
        filename: open_text(cipher, &r.get::<_, String>(2))?,
        content_type: r.get(3),
        size: r.get::<_, i64>(4).max(0) as u64,
        sha256: r.get(5),
        blob: r.get(6),
        source: r.get(7),
        added_by: r.get(8),
        created_at: r.get(9),
    })
}

/// Written by `write_mutation` with the change that adds the files.
pub async fn insert(c: &impl GenericClient, items: &[Attachment], cipher: &FieldCipher) -> StoreResult<()> {
    for a in items {
        let size = a.size as i64;
        c.execute(
            &format!("INSERT INTO attachments ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"),
            &[
                &a.id,
                &a.ticket.0,
                &seal_text(cipher, &a.filename),
                &a.content_type,
                &size,
                &a.sha256,
                &a.blob,
                &a.source,
                &a.added_by,
                &a.created_at,
            ],
        )
        .await
        .map_err(pg)?;
    }
    Ok(())
}

/// The store capabilities kept in this file: AttachmentStore.
mod capability {
    use super::*;
    use crate::*;
    use kefu_store::AttachmentStore;

    impl AttachmentStore for PgStore {
        async fn attachments(&self, ticket: TicketId) -> StoreResult<Vec<Attachment>> {
            let rows = self
                .client()
                .await?
                .query(
                    &format!("SELECT {COLS} FROM attachments WHERE ticket_id = $1 ORDER BY created_at, id"),
                    &[&ticket.0],
                )
                .await
                .map_err(pg)?;
            rows.iter().map(|r| attachment(r, &self.cipher)).collect()
        }
        async fn attachment(&self, id: &str) -> StoreResult<Option<Attachment>> {
            let row = self
                .client()
                .await?
                .query_opt(&format!("SELECT {COLS} FROM attachments WHERE id = $1"), &[&id])
                .await
                .map_err(pg)?;
            row.map(|r| attachment(&r, &self.cipher)).transpose()
        }
        async fn blob_in_use(&self, blob: &str) -> StoreResult<bool> {
            let row = self
                .client()
                .await?
                .query_one("SELECT EXISTS (SELECT 1 FROM attachments WHERE blob = $1)", &[&blob])
                .await
                .map_err(pg)?;
            Ok(row.get(0))
        }
    }
}
