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
