//! The shared store conformance suite, each test in a fresh PostgreSQL
//! schema that is dropped when the test ends.

use kefu_store_postgres::PgStore;
use kefu_store_postgres::testing::TestSchema;

async fn fresh() -> (PgStore, TestSchema) {
    let schema = TestSchema::create().await;
    let store = PgStore::connect(&schema.url).await.expect("connect to the test schema");
    (store, schema)
}

kefu_store::conformance_tests!(fresh().await);
