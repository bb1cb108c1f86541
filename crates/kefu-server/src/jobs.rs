//! Background jobs. Each job runs on whichever node holds its lease in the
//! database, so with several nodes it never runs twice at once, and when
//! that node dies its lease runs out and another node carries on. A job is
//! a small step (`tick`) that tests drive directly.

use crate::Kefu;
use crate::error::ApiError;
use chrono::Duration;
use kefu_store::Store;

/// How long a lease lasts without renewal; a dead node's jobs resume
/// elsewhere within this time.
const LEASE: i64 = 5 * 60;
/// How often a node tries to run its jobs.
const PERIOD: std::time::Duration = std::time::Duration::from_secs(60);

/// A name for this node in lease records: random per process.
pub fn node_name() -> String {
    let mut b = [0u8; 6];
    let _ = getrandom::fill(&mut b);
    format!("node-{}", crate::auth::hex(&b))
}

/// One round of every job this node holds the lease for. Returns how many
/// expired sessions were purged, or None when another node holds the lease.
pub async fn tick<S: Store>(kefu: &Kefu<S>, node: &str) -> Result<Option<u64>, ApiError> {
    let now = kefu.now();
    if !kefu.store.try_lease("session_purge", node, now, Duration::seconds(LEASE)).await? {
        return Ok(None);
    }
    let purged = kefu.store.purge_expired_sessions(now).await?;
    if purged > 0 {
        tracing::info!(purged, "purged expired sessions");
    }
    Ok(Some(purged))
}

/// Customers re-encrypted per batch (each batch is one short transaction).
const REENCRYPT_BATCH: u32 = 500;

/// Brings every customer under the active encryption key: rows written
/// before encryption, or under a key since rotated. Runs on one node at a
/// time; returns how many rows it re-encrypted, or None without the lease.
pub async fn reencrypt<S: Store>(kefu: &Kefu<S>, node: &str) -> Result<Option<u64>, ApiError> {
    let now = kefu.now();
    if !kefu.store.try_lease("reencrypt", node, now, Duration::seconds(LEASE)).await? {
        return Ok(None);
    }
    let mut total = 0;
    loop {
        let n = kefu.store.reencrypt_customers(REENCRYPT_BATCH).await?;
        total += n;
        if n < u64::from(REENCRYPT_BATCH) {
            break;
        }
        // Renew the lease between batches of a long run.
        kefu.store.try_lease("reencrypt", node, kefu.now(), Duration::seconds(LEASE)).await?;
    }
    if total > 0 {
        tracing::info!(total, "re-encrypted customer records under the active key");
    }
    Ok(Some(total))
}

/// Runs the jobs until the process ends.
pub async fn run<S: Store>(kefu: Kefu<S>) {
    let node = node_name();
    loop {
        if let Err(e) = tick(&kefu, &node).await {
            tracing::warn!(error = %e, "session purge failed; will retry");
        }
        if let Err(e) = reencrypt(&kefu, &node).await {
            tracing::warn!(error = %e, "re-encryption failed; will retry");
        }
        tokio::time::sleep(PERIOD).await;
    }
}
