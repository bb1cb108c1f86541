//! Two nodes on one PostgreSQL database work the BSS queue at the same time:
//! every order reaches the BSS (an HTTP simulator this test runs) exactly
//! once, every ticket is resolved once, every service changed once.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use kefu_domain::Role;
use kefu_domain::clock::FixedClock;
use kefu_domain::flow::{Actor, FlowSet};
use kefu_domain::intake::IntakeRequest;
use kefu_domain::policy::Policy;
use kefu_server::auth::PasswordCost;
use kefu_server::{Kefu, Settings};
use kefu_store::prelude::*;
use kefu_store_postgres::PgStore;
use kefu_store_postgres::testing::TestSchema;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const ORDERS: usize = 24;

type Posts = Arc<Mutex<HashMap<String, u32>>>;

/// A BSS that completes every order at once and counts what it was sent.
async fn bss(State(posts): State<Posts>, Json(body): Json<Value>) -> (axum::http::StatusCode, Json<Value>) {
    let external = body["externalId"].as_str().unwrap_or_default().to_string();
    *posts.lock().unwrap().entry(external.clone()).or_default() += 1;
    // A little latency, so that the two nodes' rounds overlap.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    (
        axum::http::StatusCode::CREATED,
        Json(json!({"id": format!("PO-{external}"), "externalId": external, "state": "completed"})),
    )
}

async fn node(url: &str, bss_url: &str, clock: Arc<FixedClock>) -> Kefu<PgStore> {
    let store = PgStore::connect(url, kefu_store::crypto::test_cipher()).await.unwrap();
    let settings = Settings {
        password_cost: PasswordCost { memory_kib: 1024, iterations: 1 },
        bss: kefu_server::bss::BssConfig { url: Some(bss_url.into()), timeout_seconds: 5, ..Default::default() },
        ..Default::default()
    };
    let mut policy = Policy::defaults();
    policy.dispatch.on_create = false;
    Kefu::new(store, FlowSet::defaults(), policy, clock, settings).await.unwrap()
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn phone(i: usize) -> String {
    format!("139{:08}", i)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_carry_each_order_out_once() {
    let posts: Posts = Default::default();
    let app = Router::new().route("/tmf/productOrder", post(bss)).with_state(posts.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bss_url = format!("http://{}/tmf", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let schema = TestSchema::create().await;
    let clock = Arc::new(FixedClock::new("2026-11-22T02:00:00Z".parse().unwrap()));
    let (a, b) = (node(&schema.url, &bss_url, clock.clone()).await, node(&schema.url, &bss_url, clock.clone()).await);
    let agent = a.add_user("agent", Role::Agent, None, "Test-pass-1").await.unwrap();
    let agent = Actor::new(agent.id, agent.username, Role::Agent);
    let mut csv = String::from("phone,product_code,started_at\n");
    for i in 0..ORDERS {
        csv.push_str(&format!("{},PLAN-5G-129,2025-01-01\n", phone(i)));
    }
    assert_eq!(a.import_inventory(&csv).await.unwrap().added, ORDERS as u64);

    let mut numbers = Vec::new();
    for i in 0..ORDERS {
        let customer = a.store.customer_by_phone(&phone(i)).await.unwrap().unwrap();
        let service = a.store.services(customer.id).await.unwrap()[0].id;
        let req: IntakeRequest = serde_json::from_value(json!({
            "channel": "phone", "type": "unsubscribe", "title": "退订套餐", "description": "客户要求退订",
            "customer": {"name": "王五", "phone": phone(i)},
            "consent": {"method": "phone", "at": "2026-11-22T01:00:00Z", "evidence": format!("REC{i}")},
            "order": {"kind": "unsubscribe", "items": [{"action": "delete", "service": service}]},
        }))
        .unwrap();
        let w = a.create_ticket(&agent, &req, None).await.unwrap();
        let number = w.body()["number"].as_str().unwrap().to_string();
        a.act(&agent, &number, &obj(json!({"action": "approve"})), None).await.unwrap();
        // Half handed over on each node; each node's own round starts at once.
        let on = if i % 2 == 0 { &a } else { &b };
        on.order_action(&agent, &number, &obj(json!({"action": "submit"})), None).await.unwrap();
        numbers.push(number);
    }
    // Both nodes work the queue together until every order is settled.
    for _ in 0..200 {
        let (x, y) = tokio::join!(a.process_bss("node-a"), b.process_bss("node-b"));
        x.unwrap();
        y.unwrap();
        let mut open = 0;
        for n in &numbers {
            let t = a.ticket(n).await.unwrap();
            open += usize::from(t.status != "processed");
        }
        if open == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let posts = posts.lock().unwrap().clone();
    assert_eq!(posts.len(), ORDERS, "every order reached the BSS");
    assert!(posts.values().all(|n| *n == 1), "each exactly once: {posts:?}");
    for (i, n) in numbers.iter().enumerate() {
        let t = a.ticket(n).await.unwrap();
        assert_eq!(t.status, "processed", "{n}");
        let events = a.store.events(t.id).await.unwrap();
        assert_eq!(events.iter().filter(|e| e.action == "resolve").count(), 1, "{n} resolved once");
        let customer = a.store.customer_by_phone(&phone(i)).await.unwrap().unwrap();
        let history = a.store.service_history(customer.id).await.unwrap();
        assert_eq!(history.iter().filter(|h| h.change == "changed").count(), 1, "{n}: its service changed once");
    }
}
