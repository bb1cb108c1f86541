//! Background jobs run on one node at a time and move when it dies.

use kefu_domain::Role;
use kefu_domain::clock::FixedClock;
use kefu_domain::flow::FlowSet;
use kefu_domain::policy::Policy;
use kefu_server::auth::PasswordCost;
use kefu_server::{Kefu, Settings, jobs};
use kefu_store::Store;
use std::sync::Arc;

async fn session_purge_runs_on_one_node<S: Store>(store: S) {
    let clock = Arc::new(FixedClock::new("2026-11-22T02:00:00Z".parse().unwrap()));
    let settings = Settings { password_cost: PasswordCost { memory_kib: 1024, iterations: 1 }, ..Settings::default() };
    let node_a = Kefu::new(store.clone(), FlowSet::defaults(), Policy::defaults(), clock.clone(), settings.clone())
        .await
        .unwrap();
    let node_b = Kefu::new(store, FlowSet::defaults(), Policy::defaults(), clock.clone(), settings).await.unwrap();
    node_a.add_user("agent1", Role::Agent, None, "Test-pass-1").await.unwrap();
    node_a.login("agent1", "Test-pass-1", None).await.unwrap();
    node_b.login("agent1", "Test-pass-1", None).await.unwrap();
    assert_eq!(jobs::tick(&node_a, "a").await.unwrap(), Some(0), "nothing expired yet");
    clock.advance(chrono::Duration::minutes(3));
    assert_eq!(jobs::tick(&node_b, "b").await.unwrap(), None, "node a holds the lease");
    // Node a renews its lease while it lives, so node b still may not run.
    assert_eq!(jobs::tick(&node_a, "a").await.unwrap(), Some(0));
    clock.advance(chrono::Duration::minutes(3));
    assert_eq!(jobs::tick(&node_b, "b").await.unwrap(), None, "renewed lease still held");
    // Node a dies and renews no more: node b takes the job over and purges
    // the two sessions that expired meanwhile.
    clock.advance(chrono::Duration::hours(13));
    assert_eq!(jobs::tick(&node_b, "b").await.unwrap(), Some(2));
    assert_eq!(jobs::tick(&node_a, "a").await.unwrap(), None, "a returning node waits its turn");
}

#[tokio::test]
async fn sqlite() {
    let dir = tempfile::tempdir().unwrap();
    session_purge_runs_on_one_node(
        kefu_store_sqlite::SqliteStore::open(dir.path().join("k.db"), kefu_store::crypto::test_cipher()).unwrap(),
    )
    .await;
}

#[tokio::test]
async fn postgres() {
    let schema = kefu_store_postgres::testing::TestSchema::create().await;
    session_purge_runs_on_one_node(
        kefu_store_postgres::PgStore::connect(&schema.url, kefu_store::crypto::test_cipher()).await.unwrap(),
    )
    .await;
}
