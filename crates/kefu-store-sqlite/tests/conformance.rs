//! The shared store conformance suite, on a fresh SQLite file per test.

use kefu_store_sqlite::SqliteStore;

fn fresh() -> SqliteStore {
    let dir = tempfile::tempdir().expect("temp dir").keep();
    SqliteStore::open(dir.join("kefu.db")).expect("open store")
}

kefu_store::conformance_tests!(fresh());
