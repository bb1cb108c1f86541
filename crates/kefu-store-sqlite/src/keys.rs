//! The key check at open: the database keeps the fingerprints of the keys
//! it was written with, and a process with other keys is refused.

use crate::backend;
use kefu_store::StoreResult;
use kefu_store::crypto::{FieldCipher, compare_fingerprints, probe};
use rusqlite::{Connection, OptionalExtension};

pub fn check(conn: &Connection, cipher: &FieldCipher) -> StoreResult<()> {
    let stored = stored(conn)?;
    if stored.is_empty() {
        // A database from before fingerprints: its data must open first.
        let sample: Option<String> = conn
            .query_row("SELECT phone FROM customers WHERE phone LIKE 'enc:%' LIMIT 1", [], |r| r.get(0))
            .optional()
            .map_err(backend)?;
        if let Some(value) = sample {
            probe(cipher, &value)?;
        }
    }
    let new = compare_fingerprints(&stored, &cipher.fingerprints())?;
    if new.is_empty() {
        return Ok(());
    }
    for (name, fp) in &new {
        conn.execute("INSERT OR IGNORE INTO key_fingerprints (name, fingerprint) VALUES (?1, ?2)", (name, fp))
            .map_err(backend)?;
    }
    // Another process may have recorded different keys meanwhile.
    compare_fingerprints(&self::stored(conn)?, &cipher.fingerprints()).map(|_| ())
}

fn stored(conn: &Connection) -> StoreResult<Vec<(String, String)>> {
    let mut stmt = conn.prepare("SELECT name, fingerprint FROM key_fingerprints").map_err(backend)?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}
