//! Two nodes on one PostgreSQL database tell one incident's 5,000 children
//! (4,000 customers): every customer exactly once, though both nodes fan
//! the same batch out at the same time; children linked afterwards, on the
//! other node, get it at intake.

use kefu_domain::Role;
use kefu_domain::clock::FixedClock;
use kefu_domain::flow::{Actor, FlowSet};
use kefu_domain::incident_record::IncidentRef;
use kefu_domain::intake::IntakeRequest;
use kefu_domain::policy::Policy;
use kefu_server::auth::PasswordCost;
use kefu_server::{Kefu, Settings};
use kefu_store::prelude::*;
use kefu_store_postgres::PgStore;
use kefu_store_postgres::testing::TestSchema;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;

const CHILDREN: usize = 5_000;
const CUSTOMERS: usize = 4_000;

fn body(phone: &str) -> IntakeRequest {
    serde_json::from_value(json!({
        "channel": "phone", "type": "fault", "title": "家里断网", "description": "光猫红灯，无法上网",
        "customer": {"name": "王五", "phone": phone, "address": "北京市朝阳区望京西路1号"},
    }))
    .unwrap()
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

async fn node(url: &str, clock: Arc<FixedClock>) -> Kefu<PgStore> {
    let store = PgStore::connect(url, kefu_store::crypto::test_cipher()).await.unwrap();
    let settings = Settings { password_cost: PasswordCost { memory_kib: 1024, iterations: 1 }, ..Default::default() };
    let mut policy = Policy::defaults();
    policy.dispatch.on_create = false;
    Kefu::new(store, FlowSet::defaults(), policy, clock, settings).await.unwrap()
}

/// Registers the children straight through the store, linked as intake links them.
async fn children(k: &Kefu<PgStore>, actor: &Actor, to: IncidentRef) {
    let mut pending = Vec::new();
    for i in 0..CHILDREN {
        let mut t = body(&format!("139{:08}", i % CUSTOMERS)).parse(&k.core.policy.priority).unwrap();
        t.incident = Some(to.clone());
        let op = kefu_store::CreateTicket {
            ticket: t,
            actor: actor.clone(),
            initial_state: "accepted".into(),
            now: k.now(),
            idempotency: None,
            follow_up: None,
            messages: None,
            render: Box::new(|_| Value::Null),
        };
        let store = k.store.clone();
        pending.push(tokio::spawn(async move { store.create_ticket(op).await.map(drop) }));
        if pending.len() == 256 || i + 1 == CHILDREN {
            for p in pending.drain(..) {
                p.await.unwrap().unwrap();
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_tell_every_customer_once() {
    let schema = TestSchema::create().await;
    let clock = Arc::new(FixedClock::new("2026-11-22T02:00:00Z".parse().unwrap()));
    let (a, b) = (node(&schema.url, clock.clone()).await, node(&schema.url, clock.clone()).await);
    let sup = a.add_user("sup", Role::Supervisor, None, "Test-pass-1").await.unwrap();
    let sup = Actor::new(sup.id, sup.username, Role::Supervisor);
    let admin = a.add_user("boss", Role::Admin, None, "Test-pass-1").await.unwrap();
    let admin = Actor::new(admin.id, admin.username, Role::Admin);
    let declared = json!({"type": "outage", "title": "望京光缆中断", "started_at": "2026-11-22T01:30:00Z",
                          "scope": {"regions": ["朝阳区"], "services": [], "elements": []}});
    let i = a.create_incident(&sup, &obj(declared)).await.unwrap();
    let id = i["id"].as_i64().unwrap();
    children(&a, &sup, IncidentRef { id, number: i["number"].as_str().unwrap().into() }).await;
    // Node B learns of the incident from the database and links at intake.
    for n in 0..10 {
        let w = b.create_ticket(&sup, &body(&format!("1370000{n:04}")), None).await.unwrap();
        let kefu_store::Written::New { ticket, .. } = w else { panic!("new") };
        assert_eq!(ticket.incident.as_ref().map(|r| r.id), Some(id));
    }
    a.incident_action(&sup, id, &obj(json!({"action": "confirm"}))).await.unwrap();

    // Above the threshold: one asks, another approves; then both nodes fan out at once.
    let notify = json!({"action": "notify", "text": "望京光缆中断，正在抢修，预计18时恢复。"});
    let asked = a.incident_action(&sup, id, &obj(notify)).await.unwrap();
    assert_eq!(asked["notices"][0]["state"], "awaiting_approval", "{}", asked["notices"]);
    assert_eq!(asked["notices"][0]["planned"], (CUSTOMERS + 10) as i64);
    let started = std::time::Instant::now();
    // The approval starts A's own fan-out in the background; A's job and B's
    // job run the same batch meanwhile.
    a.incident_action(&admin, id, &obj(json!({"action": "approve", "notice": "n1"}))).await.unwrap();
    let (y, z) = tokio::join!(a.send_incident_notices(id), b.send_incident_notices(id));
    eprintln!("the jobs queued {} notices; {:?}", y.unwrap() + z.unwrap(), started.elapsed());
    for _ in 0..600 {
        let now = a.incident(id).await.unwrap();
        if now.notices[0].state == kefu_domain::incident_record::BatchState::Sent {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(a.incident_view(id).await.unwrap()["notices"][0]["state"], "sent");

    // Registered after the notice, on the other node: told at intake.
    for n in 0..5 {
        b.create_ticket(&sup, &body(&format!("1360000{n:04}")), None).await.unwrap();
    }
    // Retries change nothing.
    assert_eq!(b.send_incident_notices(id).await.unwrap() + a.resume_incident_notices().await.unwrap(), 0);

    let out = a.store.claim_messages("check", a.now(), chrono::Duration::hours(1), 100_000).await.unwrap();
    let mut per: HashMap<String, usize> = HashMap::new();
    for m in out.iter().filter(|m| m.kind == "incident_notice") {
        *per.entry(m.recipient.clone()).or_default() += 1;
    }
    assert_eq!(per.len(), CUSTOMERS + 15, "every customer");
    assert!(per.values().all(|&n| n == 1), "once each");
    let view = a.incident_view(id).await.unwrap();
    assert_eq!(view["children"]["total"], (CHILDREN + 15) as i64);
    assert_eq!(view["notices"][0]["customers"], (CUSTOMERS + 15) as i64);
}
