//! Background jobs run on one node at a time and move when it dies.

use kefu_domain::Role;
use kefu_domain::clock::FixedClock;
use kefu_domain::flow::FlowSet;
use kefu_domain::policy::Policy;
use kefu_server::auth::PasswordCost;
use kefu_server::{Kefu, Settings, jobs};
use kefu_store::prelude::*;
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

/// Retention removes what is due and nothing else, and says so.
async fn retention_removes_only_what_is_due<S: Store>(store: S) {
    use kefu_domain::intake::{ConsentInput, CustomerInput, IntakeRequest};
    let clock = Arc::new(FixedClock::new("2026-11-22T02:00:00Z".parse().unwrap()));
    let settings = Settings { password_cost: PasswordCost { memory_kib: 1024, iterations: 1 }, ..Settings::default() };
    let kefu =
        Kefu::new(store.clone(), FlowSet::defaults(), Policy::defaults(), clock.clone(), settings).await.unwrap();
    let agent = kefu.add_user("agent1", Role::Agent, None, "Test-pass-1").await.unwrap();
    let sup = kefu.add_user("supervisor1", Role::Supervisor, None, "Test-pass-1").await.unwrap();
    let actor =
        |u: &kefu_server::directory::UserSummary| kefu_domain::flow::Actor::new(u.id, u.username.clone(), u.role);
    let request = |phone: &str| IntakeRequest {
        channel: Some("phone".into()),
        ticket_type: Some("unsubscribe".into()),
        title: Some("退订彩铃".into()),
        description: Some("客户要求退订".into()),
        customer: Some(CustomerInput { name: Some("郑十".into()), phone: Some(phone.into()), ..Default::default() }),
        consent: Some(ConsentInput {
            method: Some("phone".into()),
            at: Some("2026-11-22T01:00:00Z".into()),
            evidence: Some("REC-9".into()),
        }),
        ..Default::default()
    };
    let mut archived = Vec::new();
    for phone in ["13700000001", "13700000002"] {
        let kefu_store::Written::New { ticket, .. } =
            kefu.create_ticket(&actor(&agent), &request(phone), None).await.unwrap()
        else {
            panic!()
        };
        for (who, body) in [
            (&agent, serde_json::json!({"action": "approve"})),
            (&agent, serde_json::json!({"action": "resolve", "result": "已退订"})),
            (&agent, serde_json::json!({"action": "notify_result", "method": "phone"})),
            (&sup, serde_json::json!({"action": "review", "passed": true})),
            (&sup, serde_json::json!({"action": "archive"})),
        ] {
            kefu.act(&actor(who), &ticket.id.to_string(), body.as_object().unwrap(), None).await.unwrap();
        }
        archived.push(ticket);
    }
    // The second customer also has a ticket that is still open.
    kefu.create_ticket(&actor(&agent), &request("13700000002"), None).await.unwrap();
    assert_eq!(jobs::retention(&kefu, "test").await.unwrap(), jobs::RetentionReport::default(), "nothing due yet");
    clock.advance(chrono::Duration::days(3 * 365 + 2));
    let report = jobs::retention(&kefu, "test").await.unwrap();
    assert_eq!(report, jobs::RetentionReport { tickets: 2, customers: 1 });
    for t in &archived {
        assert!(store.ticket(kefu_store::TicketKey::Id(t.id)).await.unwrap().is_none());
    }
    assert!(store.customer_by_phone("13700000001").await.unwrap().is_none(), "no ticket left: customer removed");
    assert!(store.customer_by_phone("13700000002").await.unwrap().is_some(), "an open ticket keeps the customer");
    assert_eq!(store.ticket_count().await.unwrap(), 1);
    let log = store.access_log(1, 10).await.unwrap();
    assert_eq!(log.items.iter().filter(|e| e.action == "retention_delete").count(), 3);
    assert_eq!(jobs::retention(&kefu, "test").await.unwrap(), jobs::RetentionReport::default(), "idempotent");
}

/// The SLA watcher raises each alert once, names whom to notify, survives
/// a restart without doubling anything, and runs on one node at a time.
async fn sla_watcher_raises_each_alert_once<S: Store>(store: S) {
    use kefu_domain::intake::{CustomerInput, IntakeRequest};
    let clock = Arc::new(FixedClock::new("2026-11-23T02:00:00Z".parse().unwrap()));
    let settings = Settings { password_cost: PasswordCost { memory_kib: 1024, iterations: 1 }, ..Settings::default() };
    // Alerts only: no automatic dispatch, no tier limits (their escalation
    // is tested in dispatch.rs).
    let mut policy = Policy::defaults();
    policy.dispatch.on_create = false;
    policy.sla.deadlines.retain(|d| d.kind != "tier_limit");
    let node = |s: S| Kefu::new(s, FlowSet::defaults(), policy.clone(), clock.clone(), settings.clone());
    let a = node(store.clone()).await.unwrap();
    let agent = a.add_user("agent1", Role::Agent, None, "Test-pass-1").await.unwrap();
    a.add_user("supervisor1", Role::Supervisor, None, "Test-pass-1").await.unwrap();
    let actor = kefu_domain::flow::Actor::new(agent.id, agent.username.clone(), agent.role);
    let req = IntakeRequest {
        channel: Some("phone".into()),
        ticket_type: Some("fault".into()),
        title: Some("宽带断网".into()),
        description: Some("光猫LOS灯红".into()),
        customer: Some(CustomerInput {
            name: Some("钱一".into()),
            phone: Some("13600001111".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let kefu_store::Written::New { ticket, .. } = a.create_ticket(&actor, &req, None).await.unwrap() else { panic!() };
    let alerts = |events: Vec<kefu_domain::audit::AuditEvent>| -> Vec<String> {
        events
            .iter()
            .filter(|e| e.action == "sla_alert")
            .flat_map(|e| {
                e.data["alerts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| format!("{}:{}", x["kind"].as_str().unwrap(), x["level"].as_str().unwrap()))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    assert_eq!(jobs::watch_sla(&a, "a").await.unwrap(), Some(0), "nothing due at registration");
    // 25 minutes: the 30-minute response is in warning.
    clock.advance(chrono::Duration::minutes(25));
    assert_eq!(jobs::watch_sla(&a, "a").await.unwrap(), Some(1));
    assert_eq!(jobs::watch_sla(&a, "a").await.unwrap(), Some(0), "never twice");
    assert_eq!(jobs::watch_sla(&a, "b").await.unwrap(), None, "node a holds the watcher");
    // A restarted node (new service, same database) raises nothing again.
    let restarted = node(store.clone()).await.unwrap();
    assert_eq!(jobs::watch_sla(&restarted, "a").await.unwrap(), Some(0));
    // 2 h 05: the response breached at 30 min and went to the team lead at
    // 90 min; the resolution (2 h) was warned at 96 min and breached at 120.
    clock.advance(chrono::Duration::minutes(100));
    assert_eq!(jobs::watch_sla(&restarted, "a").await.unwrap(), Some(4));
    let events = store.events(ticket.id).await.unwrap();
    assert_eq!(
        alerts(events.clone()),
        vec!["response:warning", "response:breach", "response:escalation", "resolution:warning", "resolution:breach"]
    );
    let records: Vec<String> = store.breaches(ticket.id).await.unwrap().iter().map(|b| b.kind.clone()).collect();
    assert_eq!(records, vec!["response", "resolution"], "one breach record per breached deadline");
    let breach = events.iter().rev().find(|e| e.action == "sla_alert").unwrap();
    assert_eq!(breach.actor, None, "raised by kefu itself");
    assert_eq!(breach.actor_name, "system:sla-watcher");
    assert_eq!(breach.data["alerts"][0]["notify"], serde_json::json!(["agent1"]), "owner and first owner: both agent1");
    assert_eq!(
        breach.data["alerts"][1]["notify"],
        serde_json::json!(["supervisor1"]),
        "team lead: the supervisors for now"
    );
    // An hour after its breach the resolution goes to the team lead too.
    clock.advance(chrono::Duration::minutes(61));
    assert_eq!(jobs::watch_sla(&restarted, "a").await.unwrap(), Some(1));
    let last = store.events(ticket.id).await.unwrap().into_iter().rev().find(|e| e.action == "sla_alert").unwrap();
    assert_eq!(last.data["alerts"][0]["notify"], serde_json::json!(["supervisor1"]));
    kefu_domain::audit::verify_chain(ticket.id, &store.events(ticket.id).await.unwrap()).unwrap();
}

#[tokio::test]
async fn sla_watcher_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    sla_watcher_raises_each_alert_once(
        kefu_store_sqlite::SqliteStore::open(dir.path().join("k.db"), kefu_store::crypto::test_cipher()).unwrap(),
    )
    .await;
}

#[tokio::test]
async fn sla_watcher_postgres() {
    let schema = kefu_store_postgres::testing::TestSchema::create().await;
    sla_watcher_raises_each_alert_once(
        kefu_store_postgres::PgStore::connect(&schema.url, kefu_store::crypto::test_cipher()).await.unwrap(),
    )
    .await;
}

#[tokio::test]
async fn retention_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    retention_removes_only_what_is_due(
        kefu_store_sqlite::SqliteStore::open(dir.path().join("k.db"), kefu_store::crypto::test_cipher()).unwrap(),
    )
    .await;
}

#[tokio::test]
async fn retention_postgres() {
    let schema = kefu_store_postgres::testing::TestSchema::create().await;
    retention_removes_only_what_is_due(
        kefu_store_postgres::PgStore::connect(&schema.url, kefu_store::crypto::test_cipher()).await.unwrap(),
    )
    .await;
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
