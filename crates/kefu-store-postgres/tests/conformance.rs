//! The shared store conformance suite, each test in a fresh PostgreSQL
//! schema that is dropped when the test ends.

use kefu_store_postgres::PgStore;
use kefu_store_postgres::testing::TestSchema;

async fn fresh() -> (PgStore, TestSchema) {
    let schema = TestSchema::create().await;
    let store =
        PgStore::connect(&schema.url, kefu_store::crypto::test_cipher()).await.expect("connect to the test schema");
    (store, schema)
}

kefu_store::conformance_tests!(fresh().await);

#[tokio::test]
async fn a_database_from_a_newer_kefu_is_refused() {
    let (_store, schema) = fresh().await;
    let (client, conn) = tokio_postgres::connect(&schema.url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client.execute("INSERT INTO schema_migrations (version, name) VALUES (99, 'future')", &[]).await.unwrap();
    match PgStore::connect(&schema.url, kefu_store::crypto::test_cipher()).await {
        Err(kefu_store::StoreError::SchemaTooNew { found: 99, known }) => {
            assert_eq!(known, kefu_store_postgres::known_version())
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a newer schema was accepted"),
    }
}
