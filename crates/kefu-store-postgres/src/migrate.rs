//! Plain `.sql` migrations for PostgreSQL, applied under an advisory lock so
//! that nodes starting together do not race, and refused when the database
//! already has a migration this binary does not know.

use crate::pg;
use kefu_store::{StoreError, StoreResult};

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/0001_init.sql")),
    (2, "job_leases", include_str!("../migrations/0002_job_leases.sql")),
    (3, "access_log", include_str!("../migrations/0003_access_log.sql")),
    (4, "login_lockout", include_str!("../migrations/0004_login_lockout.sql")),
    (5, "encrypted_customers", include_str!("../migrations/0005_encrypted_customers.sql")),
    (6, "sla_alerts", include_str!("../migrations/0006_sla_alerts.sql")),
    (7, "sla_breaches", include_str!("../migrations/0007_sla_breaches.sql")),
    (8, "dispatch", include_str!("../migrations/0008_dispatch.sql")),
    (9, "customer_loop", include_str!("../migrations/0009_customer_loop.sql")),
    (10, "trust", include_str!("../migrations/0010_trust.sql")),
    (11, "macros", include_str!("../migrations/0011_macros.sql")),
    (12, "reports", include_str!("../migrations/0012_reports.sql")),
    (13, "kb", include_str!("../migrations/0013_kb.sql")),
    (14, "search_feed", include_str!("../migrations/0014_search_feed.sql")),
    (15, "bot", include_str!("../migrations/0015_bot.sql")),
    (16, "models", include_str!("../migrations/0016_models.sql")),
    (17, "kpi", include_str!("../migrations/0017_kpi.sql")),
    (18, "exports", include_str!("../migrations/0018_exports.sql")),
    (19, "report_schedules", include_str!("../migrations/0019_report_schedules.sql")),
    (20, "quality", include_str!("../migrations/0020_quality.sql")),
    (21, "staff_history", include_str!("../migrations/0021_staff_history.sql")),
    (22, "store_links", include_str!("../migrations/0022_store_links.sql")),
    (23, "review_queue", include_str!("../migrations/0023_review_queue.sql")),
    (24, "incidents", include_str!("../migrations/0024_incidents.sql")),
    (25, "security_incidents", include_str!("../migrations/0025_security_incidents.sql")),
    (26, "spike_dismissals", include_str!("../migrations/0026_spike_dismissals.sql")),
    (27, "inventory", include_str!("../migrations/0027_inventory.sql")),
    (28, "attachments", include_str!("../migrations/0028_attachments.sql")),
    (29, "inbound", include_str!("../migrations/0029_inbound.sql")),
    (30, "events", include_str!("../migrations/0030_events.sql")),
    (31, "key_fingerprints", include_str!("../migrations/0031_key_fingerprints.sql")),
    (32, "index_diet", include_str!("../migrations/0032_index_diet.sql")),
];

/// Any constant shared by all kefu nodes.
const MIGRATION_LOCK: i64 = 0x6b65_6675;

pub fn known_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

/// Applies what is missing in one transaction. On any error the
/// transaction is rolled back explicitly: it holds the migration lock, and
/// a transaction left open would stall every other node's start.
pub async fn migrate(client: &mut tokio_postgres::Client) -> StoreResult<i64> {
    let tx = client.transaction().await.map_err(pg)?;
    match apply(&tx).await {
        Ok(v) => {
            tx.commit().await.map_err(pg)?;
            Ok(v)
        }
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

async fn apply(tx: &tokio_postgres::Transaction<'_>) -> StoreResult<i64> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(pg)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .await
    .map_err(pg)?;
    let found: i64 =
        tx.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[]).await.map_err(pg)?.get(0);
    if found > known_version() {
        return Err(StoreError::SchemaTooNew { found, known: known_version() });
    }
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > found) {
        tx.batch_execute(sql).await.map_err(pg)?;
        tx.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", &[version, name])
            .await
            .map_err(pg)?;
        tracing::info!(version, name, "applied migration");
    }
    Ok(known_version())
}
