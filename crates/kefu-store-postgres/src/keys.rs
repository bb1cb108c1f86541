//! The key check at connect: the database keeps the fingerprints of the
//! keys it was written with, and a node with other keys is refused.

use crate::pg;
use deadpool_postgres::GenericClient;
use kefu_store::StoreResult;
use kefu_store::crypto::{FieldCipher, compare_fingerprints, probe};

pub async fn check(client: &impl GenericClient, cipher: &FieldCipher) -> StoreResult<()> {
    let stored = stored(client).await?;
    if stored.is_empty() {
        // A database from before fingerprints: its data must open first.
        let sample =
            client.query_opt("SELECT phone FROM customers WHERE phone LIKE 'enc:%' LIMIT 1", &[]).await.map_err(pg)?;
        if let Some(row) = sample {
            probe(cipher, row.get(0))?;
        }
    }
    let new = compare_fingerprints(&stored, &cipher.fingerprints())?;
    if new.is_empty() {
        return Ok(());
    }
    for (name, fp) in &new {
        client
            .execute(
                "INSERT INTO key_fingerprints (name, fingerprint) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                &[name, fp],
            )
            .await
            .map_err(pg)?;
    }
    // Another node may have recorded different keys meanwhile.
    compare_fingerprints(&self::stored(client).await?, &cipher.fingerprints()).map(|_| ())
}

async fn stored(client: &impl GenericClient) -> StoreResult<Vec<(String, String)>> {
    let rows = client.query("SELECT name, fingerprint FROM key_fingerprints", &[]).await.map_err(pg)?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}
