//! The index of evidence files (AttachmentStore) in SQLite.

use crate::backend;
use crate::rows::{parse_ts, ts};
use kefu_domain::TicketId;
use kefu_store::crypto::FieldCipher;
use kefu_store::seal::{open_text, seal_text};
use kefu_store::{Attachment, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

const COLS: &str = "id, ticket_id, filename, content_type, size, sha256, blob, source, added_by, created_at";

fn attachment(r: &rusqlite::Row, cipher: &FieldCipher) -> rusqlite::Result<StoreResult<Attachment>> {
    let name: String = r.get(2)?;
    let a = Attachment {
        id: r.get(0)?,
        ticket: TicketId(r.get(1)?),
        filename: String::new(),
        content_type: r.get(3)?,
        size: r.get::<_, i64>(4)?.max(0) as u64,
        sha256: r.get(5)?,
        blob: r.get(6)?,
        source: r.get(7)?,
        added_by: r.get(8)?,
        created_at: parse_ts(&r.get::<_, String>(9)?)?,
    };
    Ok(open_text(cipher, &name).map(|filename| Attachment { filename, ..a }))
}

/// Written by `write_mutation` with the change that adds the files.
pub fn insert(c: &Connection, items: &[Attachment], cipher: &FieldCipher) -> StoreResult<()> {
    for a in items {
        c.prepare_cached(&format!("INSERT INTO attachments ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"))
            .map_err(backend)?
            .execute(params![
                a.id,
                a.ticket.0,
                seal_text(cipher, &a.filename),
                a.content_type,
                a.size as i64,
                a.sha256,
                a.blob,
                a.source,
                a.added_by,
                ts(a.created_at)
            ])
            .map_err(backend)?;
    }
    Ok(())
}

pub fn of_ticket(c: &Connection, ticket: TicketId, cipher: &FieldCipher) -> StoreResult<Vec<Attachment>> {
    c.prepare_cached(&format!("SELECT {COLS} FROM attachments WHERE ticket_id = ?1 ORDER BY created_at, id"))
        .map_err(backend)?
        .query_map([ticket.0], |r| attachment(r, cipher))
        .map_err(backend)?
        .map(|r| r.map_err(backend)?)
        .collect()
}

pub fn one(c: &Connection, id: &str, cipher: &FieldCipher) -> StoreResult<Option<Attachment>> {
    c.prepare_cached(&format!("SELECT {COLS} FROM attachments WHERE id = ?1"))
        .map_err(backend)?
        .query_row([id], |r| attachment(r, cipher))
        .optional()
        .map_err(backend)?
        .transpose()
}

pub fn blob_in_use(c: &Connection, blob: &str) -> StoreResult<bool> {
    c.prepare_cached("SELECT EXISTS (SELECT 1 FROM attachments WHERE blob = ?1)")
        .map_err(backend)?
        .query_row([blob], |r| r.get(0))
        .map_err(backend)
}

/// The store capabilities kept in this file: AttachmentStore.
mod capability {
    use crate::*;
    use kefu_store::{Attachment, AttachmentStore};

    impl AttachmentStore for SqliteStore {
        async fn attachments(&self, ticket: TicketId) -> StoreResult<Vec<Attachment>> {
            let k = self.cipher.clone();
            self.read(move |c| super::of_ticket(c, ticket, &k)).await
        }
        async fn attachment(&self, id: &str) -> StoreResult<Option<Attachment>> {
            let (k, id) = (self.cipher.clone(), id.to_string());
            self.read(move |c| super::one(c, &id, &k)).await
        }
        async fn blob_in_use(&self, blob: &str) -> StoreResult<bool> {
            let blob = blob.to_string();
            self.read(move |c| super::blob_in_use(c, &blob)).await
        }
    }
}
