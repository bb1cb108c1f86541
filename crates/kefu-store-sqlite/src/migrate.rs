//! Plain `.sql` migrations, applied in order and recorded in
//! `schema_migrations`. A database that has a migration this binary does not
//! know was written by a newer kefu: refuse it rather than guess.

use kefu_store::{StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension};

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

pub fn known_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

pub fn current_version(conn: &Connection) -> StoreResult<i64> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))",
    )
    .map_err(crate::backend)?;
    conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0)).map_err(crate::backend)
}

/// Applies what is missing; each migration in its own transaction.
pub fn migrate(conn: &mut Connection) -> StoreResult<i64> {
    let found = current_version(conn)?;
    if found > known_version() {
        return Err(StoreError::SchemaTooNew { found, known: known_version() });
    }
    // Table rebuilds (SQLite cannot drop a constraint in place) need foreign
    // keys off, which only takes effect outside a transaction; the keys are
    // checked as a whole afterwards.
    conn.execute_batch("PRAGMA foreign_keys = OFF").map_err(crate::backend)?;
    let applied = apply_missing(conn, found);
    conn.execute_batch("PRAGMA foreign_keys = ON").map_err(crate::backend)?;
    applied?;
    let broken: Option<String> = conn
        .query_row("SELECT \"table\" FROM pragma_foreign_key_check LIMIT 1", [], |r| r.get(0))
        .optional()
        .map_err(crate::backend)?;
    if let Some(table) = broken {
        return Err(StoreError::Backend(format!("migration left a broken foreign key in {table}")));
    }
    Ok(known_version())
}

fn apply_missing(conn: &mut Connection, found: i64) -> StoreResult<()> {
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > found) {
        let tx = conn.transaction().map_err(crate::backend)?;
        tx.execute_batch(sql).map_err(crate::backend)?;
        tx.execute("INSERT INTO schema_migrations (version, name) VALUES (?1, ?2)", rusqlite::params![version, name])
            .map_err(crate::backend)?;
        tx.commit().map_err(crate::backend)?;
        tracing::info!(version, name, "applied migration");
    }
    Ok(())
}
