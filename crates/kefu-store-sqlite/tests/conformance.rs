//! The shared store conformance suite, on a fresh SQLite file per test.

use kefu_store_sqlite::SqliteStore;

fn fresh() -> SqliteStore {
    let dir = tempfile::tempdir().expect("temp dir").keep();
    SqliteStore::open(dir.join("kefu.db")).expect("open store")
}

kefu_store::conformance_tests!(fresh());

#[test]
fn a_database_from_a_newer_kefu_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kefu.db");
    drop(SqliteStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "INSERT INTO schema_migrations (version, name) VALUES (99, 'future')",
        [],
    )
    .unwrap();
    drop(conn);
    match SqliteStore::open(&path) {
        Err(kefu_store::StoreError::SchemaTooNew { found: 99, known }) => {
            assert_eq!(known, kefu_store_sqlite::known_version())
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a newer schema was accepted"),
    }
}
