//! The shared store conformance suite, on a fresh SQLite file per test.

use kefu_store_sqlite::SqliteStore;

/// The store and the directory that holds it (removed when dropped).
fn fresh() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("kefu.db"), kefu_store::crypto::test_cipher()).expect("open store");
    (store, dir)
}

kefu_store::conformance_tests!(fresh());

#[test]
fn a_database_from_a_newer_kefu_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kefu.db");
    drop(SqliteStore::open(&path, kefu_store::crypto::test_cipher()).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("INSERT INTO schema_migrations (version, name) VALUES (99, 'future')", []).unwrap();
    drop(conn);
    match SqliteStore::open(&path, kefu_store::crypto::test_cipher()) {
        Err(kefu_store::StoreError::SchemaTooNew { found: 99, known }) => {
            assert_eq!(known, kefu_store_sqlite::known_version())
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a newer schema was accepted"),
    }
}

#[tokio::test]
async fn an_older_database_is_upgraded_and_its_customers_encrypted() {
    use kefu_store::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kefu.db");
    // A database as kefu left it at schema version 4, with plaintext data.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT 'x')")
        .unwrap();
    for (v, sql) in [
        (1, include_str!("../migrations/0001_init.sql")),
        (2, include_str!("../migrations/0002_job_leases.sql")),
        (3, include_str!("../migrations/0003_access_log.sql")),
        (4, include_str!("../migrations/0004_login_lockout.sql")),
    ] {
        conn.execute_batch(sql).unwrap();
        conn.execute("INSERT INTO schema_migrations (version, name) VALUES (?1, 'old')", [v]).unwrap();
    }
    conn.execute_batch(
        "INSERT INTO users (id, username, display_name, role, password_hash, created_at) VALUES (1, 'agent1', 'A', 'agent', 'x', '2026-01-01T00:00:00.000000Z');
         INSERT INTO customers (id, name, phone, id_number, address, level, created_at, updated_at)
           VALUES (1, '张三', '13812345678', '11010519491231002X', '北京市朝阳区建设路1号', NULL, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');
         INSERT INTO tickets (id, number, channel, type, priority, status, customer_id, first_owner, created_at, updated_at, doc)
           VALUES (1, 'GD20260101000001', 'phone', 'fault', 'urgent', 'accepted', 1, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z',
           '{\"number\":\"GD20260101000001\",\"channel\":\"phone\",\"type\":\"fault\",\"priority\":\"urgent\",\"status\":\"accepted\",\"title\":\"断网\",\"description\":\"断网\",\"customer_id\":1,\"service_number\":null,\"occurred_at\":null,\"location\":null,\"consent\":null,\"submitted_by\":\"张三\",\"first_owner\":1,\"assignee\":null,\"tier\":1,\"transfer_to\":null,\"result\":null,\"satisfaction\":null,\"nps\":null,\"appeal_count\":0,\"created_at\":\"2026-01-01T00:00:00Z\",\"updated_at\":\"2026-01-01T00:00:00Z\",\"resolved_at\":null,\"archived_at\":null}');",
    )
    .unwrap();
    drop(conn);

    let store = SqliteStore::open(&path, kefu_store::crypto::test_cipher()).unwrap();
    assert_eq!(store.reencrypt_customers(100).await.unwrap(), 1);
    let t = store.ticket(kefu_store::TicketKey::Number("GD20260101000001".into())).await.unwrap().unwrap();
    assert_eq!(t.customer.id_number.unwrap().as_str(), "11010519491231002X");
    assert_eq!(store.customer_by_phone("13812345678").await.unwrap().unwrap().id.0, 1);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let (phone, fk_on): (String, i64) =
        conn.query_row("SELECT phone, 1 FROM customers", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert!(phone.starts_with("enc:") && fk_on == 1);
    let violations: i64 = conn.query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| r.get(0)).unwrap();
    assert_eq!(violations, 0);
}
