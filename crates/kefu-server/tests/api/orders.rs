//! Business handling and unsubscribe against the customer's real services
//! the inventory imported from the BSS, orders checked against
//! it and the customer's consent, carried out by the embedded inventory or
//! an HTTP BSS (a simulator this test runs: failures, timeouts, duplicate
//! callbacks), the outcome driving the ticket, and two nodes carrying one
//! order out once.

use crate::common;

use axum::extract::{Path, State};
use axum::http::StatusCode as AxStatus;
use axum::routing::{get, post};
use axum::{Json, Router};
use common::*;
use kefu_domain::policy::Policy;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const PHONE: &str = "13812345678";

fn policy() -> Policy {
    let mut p = Policy::defaults();
    p.dispatch.on_create = false;
    p.orders.bss_retries = 3;
    // A plan change of +70 yuan a month then needs a supervisor.
    p.orders.supervisor_above_fen = 5_000;
    p
}

both_stores!(policy = super::policy();
    an_agent_sees_the_services_and_changes_a_plan_effective_next_month,
    an_unsubscribe_needs_consent_and_ends_only_the_chosen_service,
    closing_an_account_waits_for_its_preconditions_and_a_supervisor,
);

/// The customer's inventory as the BSS exports it (balance and contract per call).
fn csv(balance: &str, contract_end: &str) -> String {
    format!(
        "phone,name,product_code,service_number,state,monthly_fee,started_at,contract_end,devices_out,balance\n\
         {PHONE},张三,PLAN-5G-129,{PHONE},在用,129,2025-01-05,{contract_end},0,{balance}\n\
         {PHONE},张三,VAS-CRBT,{PHONE},在用,,2025-06-01,,0,\n\
         {PHONE},张三,BB-300M,KD0101,在用,99,2025-03-01,,0,\n"
    )
}

async fn import(app: &TestApp, csv: &str) -> Value {
    let (s, b) = app.post("admin", "/api/v1/inventory/import", json!({ "csv": csv })).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b
}

/// The customer's id (registered by the import) and their services by product.
async fn services(app: &TestApp, customer: &Value) -> HashMap<String, Value> {
    let (s, b) = app.get("agent1", &format!("/api/v1/customers/{customer}/services")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["product_code"].as_str().unwrap().to_string(), s.clone()))
        .collect()
}

/// A ticket of `ticket_type` carrying `order`, with a consent from an hour ago.
fn order_body(ticket_type: &str, order: Value) -> Value {
    let mut b = ticket_body(ticket_type);
    b["order"] = order;
    b["consent"] = json!({"method": "phone", "at": "2026-11-22T01:00:00Z", "evidence": "录音编号 REC20261122001"});
    b
}

/// Runs the BSS queue until `done` holds for the ticket (the submission
/// also starts a round of its own): bounded, never a timed assertion.
async fn until(app: &TestApp, id: &Value, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        (app.bss)().await;
        let (_, t) = app.get("supervisor1", &format!("/api/v1/tickets/{id}")).await;
        if done(&t) {
            return t;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, t) = app.get("supervisor1", &format!("/api/v1/tickets/{id}")).await;
    panic!("the order did not get there: {}", t["order"]);
}

async fn order(app: &TestApp, who: &str, id: &Value, action: &str) -> (StatusCode, Value) {
    app.post(who, &format!("/api/v1/tickets/{id}/order"), json!({ "action": action })).await
}

/// Dispatch to engineer1, approval (business tickets) and start: the ticket is in handling.
async fn to_handling(app: &TestApp, id: &Value) {
    step(app, "agent1", id, json!({"action": "dispatch", "assignee": "engineer1"})).await;
    let (_, t) = app.get("agent1", &format!("/api/v1/tickets/{id}")).await;
    if t["type"] == "business" {
        step(app, "supervisor1", id, json!({"action": "approve", "comment": "同意"})).await;
    }
    step(app, "engineer1", id, json!({"action": "start"})).await;
}

async fn an_agent_sees_the_services_and_changes_a_plan_effective_next_month(mut app: TestApp) {
    assert_eq!(import(&app, &csv("0", "")).await, json!({"added": 3, "updated": 0}));
    let (s, products) = app.get("agent1", "/api/v1/products").await;
    assert_eq!(s, StatusCode::OK);
    let plan199 = products["items"].as_array().unwrap().iter().find(|p| p["code"] == "PLAN-5G-199").unwrap();
    assert_eq!((plan199["category"].as_str(), plan199["monthly_fee"].as_f64()), (Some("basic"), Some(199.0)));
    // Registering the ticket finds the customer the import created.
    let probe = app.create("agent1", ticket_body("consultation")).await;
    let customer = probe["customer"]["id"].clone();
    let before = services(&app, &customer).await;
    let plan = &before["PLAN-5G-129"];
    assert_eq!((plan["state"].as_str(), plan["category"].as_str()), (Some("active"), Some("basic")));
    assert_eq!((plan["product_name"].as_str(), plan["monthly_fee"].as_f64()), (Some("5G畅享套餐129元"), Some(129.0)));
    assert_eq!(plan["started_at"], "2025-01-04T16:00:00Z");
    assert_eq!(plan["service_number"], "138****5678", "masked as the agent sees phone numbers");
    let (s, _) = app.get("agent1", "/api/v1/customers/999999/services").await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // An item naming a product that does not exist, or a service not the customer's: refused, nothing stored.
    let bad = json!({"kind": "plan_change", "items": [{"action": "modify", "service": plan["id"], "product_code": "PLAN-X"}]});
    let (s, b) = app.post("agent1", "/api/v1/tickets", order_body("business", bad)).await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("order.items[0]")), "{b}");
    let bad = json!({"kind": "plan_change", "items": [{"action": "modify", "service": 999999, "product_code": "PLAN-5G-199"}]});
    let (s, b) = app.post("agent1", "/api/v1/tickets", order_body("business", bad)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(b["error"]["message_zh"].as_str().unwrap().contains("不属于"), "{b}");
    let wrong_type = json!({"kind": "plan_change", "items": [{"action": "modify", "service": plan["id"], "product_code": "PLAN-5G-199"}]});
    let (s, b) = app.post("agent1", "/api/v1/tickets", order_body("complaint", wrong_type.clone())).await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("order.kind")));

    let t = app.create("agent1", order_body("business", wrong_type)).await;
    let id = t["id"].clone();
    assert_eq!(t["order"]["kind"], "plan_change");
    assert_eq!(
        (t["order"]["state"].as_str(), t["order"]["state_zh"].as_str()),
        (Some("awaiting_approval"), Some("待审批"))
    );
    assert_eq!(
        (t["order"]["fee_change_fen"].as_i64(), t["order"]["needs_approval"].as_bool()),
        (Some(7_000), Some(true))
    );
    assert_eq!(t["order"]["items"][0]["action"], "modify");
    to_handling(&app, &id).await;
    // The supervisor's approval of the application (审批) approved its order.
    let (_, t) = app.get("engineer1", &format!("/api/v1/tickets/{id}")).await;
    assert_eq!(
        (t["order"]["state"].as_str(), t["order"]["approved_by"].as_str()),
        (Some("ready"), Some("supervisor1"))
    );
    // Not resolved around the order, and only its handler (or a supervisor) carries it out.
    let (s, b) = app.act("engineer1", &id, json!({"action": "resolve", "result": "已变更"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert_eq!(
        order(&app, "agent1", &id, "submit").await.0,
        StatusCode::FORBIDDEN,
        "the first owner is not its handler"
    );
    assert_eq!(order(&app, "engineer1", &id, "approve").await.0, StatusCode::FORBIDDEN);
    let (s, b) = order(&app, "engineer1", &id, "submit").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b["order"]["id"].as_str().unwrap().ends_with("-1"));
    let (s, b) = order(&app, "engineer1", &id, "revoke").await;
    assert!(s == StatusCode::CONFLICT && b["order"].is_null(), "not once handed over: {b}");

    let done = until(&app, &id, |t| t["status"] == "resolved").await;
    assert_eq!(done["order"]["state"], "completed");
    assert_eq!(done["order"]["effective_at"], "2026-11-30T16:00:00Z", "1 December, Shanghai");
    let result = done["result"].as_str().unwrap();
    assert!(result.contains("5G畅享套餐199元") && result.contains("2026-12-01 00:00"), "{result}");
    let after = services(&app, &customer).await;
    assert_eq!(after["PLAN-5G-129"]["state"], "pending_change");
    assert_eq!(after["PLAN-5G-129"]["pending"]["product_code"], "PLAN-5G-199");
    assert_eq!(after["VAS-CRBT"]["state"], "active", "nothing else changed");
    // In the ticket's chain and the customer's history.
    let (_, events) = app.get("supervisor1", &format!("/api/v1/tickets/{id}/events")).await;
    let actions: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.ends_with(&["order_submit", "resolve"]), "{actions:?}");
    let (_, history) = app.get("agent1", &format!("/api/v1/customers/{customer}/service-history")).await;
    let last = history["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["change"].as_str(), last["ticket"].clone()), (Some("changed"), id.clone()));

    // Midnight of 1 December in Shanghai: the new plan is the one in use.
    app.clock.set("2026-11-30T16:00:00Z".parse().unwrap());
    app.relogin("agent1").await;
    let december = services(&app, &customer).await;
    let now = &december["PLAN-5G-199"];
    assert_eq!((now["state"].as_str(), now["monthly_fee"].as_f64()), (Some("active"), Some(199.0)), "{december:?}");
}

async fn an_unsubscribe_needs_consent_and_ends_only_the_chosen_service(app: TestApp) {
    import(&app, &csv("0", "")).await;
    let customer = app.create("agent1", ticket_body("consultation")).await["customer"]["id"].clone();
    let crbt = services(&app, &customer).await["VAS-CRBT"]["id"].clone();
    let unsubscribe = json!({"kind": "unsubscribe", "items": [{"action": "delete", "service": crbt}]});
    // Never forced: no consent, an old one, one without evidence.
    let mut b = order_body("unsubscribe", unsubscribe.clone());
    b.as_object_mut().unwrap().remove("consent");
    let (s, e) = app.post("agent1", "/api/v1/tickets", b).await;
    assert_eq!((s, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("consent")));
    let mut b = order_body("unsubscribe", unsubscribe.clone());
    b["consent"]["at"] = json!("2026-10-01T01:00:00Z");
    let (s, e) = app.post("agent1", "/api/v1/tickets", b).await;
    assert_eq!((s, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("consent.at")), "{e}");
    // Chosen from the inventory, never free text: with services on record, an unsubscribe names them.
    let (s, e) = app.post("agent1", "/api/v1/tickets", ticket_body("unsubscribe")).await;
    assert_eq!((s, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("order")), "{e}");
    let free = json!({"kind": "unsubscribe", "items": [{"action": "delete", "product_code": "VAS-CRBT"}]});
    let (s, _) = app.post("agent1", "/api/v1/tickets", order_body("unsubscribe", free)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // The same rule the other way: nothing value-added is added without consent.
    let mut add =
        order_body("business", json!({"kind": "vas_add", "items": [{"action": "add", "product_code": "VAS-MUSIC"}]}));
    add.as_object_mut().unwrap().remove("consent");
    let (s, e) = app.post("agent1", "/api/v1/tickets", add).await;
    assert_eq!((s, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("consent")));

    // The customer changes their mind before it is processed: revoked with the ticket.
    let t = app.create("agent1", order_body("unsubscribe", unsubscribe.clone())).await;
    let (s, b) = order(&app, "agent1", &t["id"], "revoke").await;
    assert_eq!((s, b["order"]["state"].as_str()), (StatusCode::OK, Some("revoked")));
    step(&app, "agent1", &t["id"], json!({"action": "withdraw", "reason": "客户撤回退订申请"})).await;

    let t = app.create("agent1", order_body("unsubscribe", unsubscribe)).await;
    let id = t["id"].clone();
    assert_eq!(
        order(&app, "agent1", &id, "submit").await.0,
        StatusCode::CONFLICT,
        "not before the operator's confirmation"
    );
    step(&app, "agent1", &id, json!({"action": "approve"})).await;
    assert_eq!(order(&app, "agent1", &id, "submit").await.0, StatusCode::OK);
    let done = until(&app, &id, |t| t["status"] == "processed").await;
    let result = done["result"].as_str().unwrap().to_string();
    assert!(result.contains("已终止视频彩铃") && result.contains("停止计费"), "{result}");
    let after = services(&app, &customer).await;
    assert_eq!(after["VAS-CRBT"]["state"], "terminated");
    assert_eq!(after["VAS-CRBT"]["ended_at"], "2026-11-22T02:00:00Z");
    assert_eq!(
        (after["PLAN-5G-129"]["state"].as_str(), after["BB-300M"]["state"].as_str()),
        (Some("active"), Some("active"))
    );
    // The confirmation notice says what ended and when billing stops.
    step(&app, "agent1", &id, json!({"action": "notify_result", "method": "sms"})).await;
    (app.loop_jobs)().await;
    let log = std::fs::read_to_string(&app.messages_log).unwrap();
    assert!(log.contains("退订确认") && log.contains(&result), "{log}");
    // Ending it again is refused: it is no longer running.
    let again = json!({"kind": "unsubscribe", "items": [{"action": "delete", "service": crbt}]});
    let (s, e) = app.post("agent1", "/api/v1/tickets", order_body("unsubscribe", again)).await;
    assert!(
        s == StatusCode::UNPROCESSABLE_ENTITY && e["error"]["message_zh"].as_str().unwrap().contains("已终止"),
        "{e}"
    );
}

async fn closing_an_account_waits_for_its_preconditions_and_a_supervisor(mut app: TestApp) {
    let close = || order_body("account", json!({"kind": "account_close"}));
    import(&app, &csv("-12.50", "")).await;
    let (s, e) = app.post("agent1", "/api/v1/tickets", close()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["error"]["message_zh"].as_str().unwrap().contains("尚欠费 12.50 元"), "{e}");
    assert_eq!(import(&app, &csv("0", "2027-06-30")).await["updated"], 3);
    let (_, e) = app.post("agent1", "/api/v1/tickets", close()).await;
    assert!(e["error"]["message_zh"].as_str().unwrap().contains("合约期未满"), "{e}");
    import(&app, &csv("0", "2026-01-01")).await;
    let t = app.create("agent1", close()).await;
    let id = t["id"].clone();
    assert_eq!(t["order"]["state"], "awaiting_approval", "closing needs a supervisor (policy)");
    assert_eq!(t["order"]["items"].as_array().unwrap().len(), 3, "every running service");
    to_handling(&app, &id).await;
    let (s, b) = order(&app, "engineer1", &id, "submit").await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert_eq!(b["error"]["details"]["allowed_actions"], json!(["approve", "revoke"]));
    let (s, b) = order(&app, "supervisor1", &id, "approve").await;
    assert_eq!((s, b["order"]["approved_by"].as_str()), (StatusCode::OK, Some("supervisor1")));
    assert_eq!(order(&app, "engineer1", &id, "submit").await.0, StatusCode::OK);
    let done = until(&app, &id, |t| t["status"] == "resolved").await;
    let customer = done["customer"]["id"].clone();
    let after = services(&app, &customer).await;
    assert_eq!(
        (after["VAS-CRBT"]["state"].as_str(), after["BB-300M"]["state"].as_str()),
        (Some("terminated"), Some("terminated"))
    );
    // The plan is billed to the end of the month (its changes take effect next month).
    assert_eq!(
        (after["PLAN-5G-129"]["state"].as_str(), after["PLAN-5G-129"]["ended_at"].as_str()),
        (Some("active"), Some("2026-11-30T16:00:00Z"))
    );
    assert!(done["result"].as_str().unwrap().contains("2026-12-01 00:00 起停止计费"), "{}", done["result"]);
    app.clock.set("2026-11-30T16:00:00Z".parse().unwrap());
    app.relogin("agent1").await;
    let december = services(&app, &customer).await;
    assert!(december.values().all(|s| s["state"] == "terminated"), "{december:?}");
}

// --- the HTTP BSS adapter against a simulator --------------------------------

/// What the simulated BSS does with the next submissions.
#[derive(Default)]
struct Sim {
    /// Answer 503 to this many submissions.
    fail: u32,
    /// Sleep past the client's timeout on this many.
    slow: u32,
    /// Refuse orders with this product code (422).
    refuse: Option<String>,
    /// POSTs received per externalId, and the orders it holds (id → (externalId, state)).
    posts: HashMap<String, u32>,
    orders: HashMap<String, (String, String)>,
    /// The state a new order starts in.
    start: String,
}

type SimState = Arc<Mutex<Sim>>;

async fn sim_post(State(sim): State<SimState>, Json(body): Json<Value>) -> (AxStatus, Json<Value>) {
    let external = body["externalId"].as_str().unwrap_or_default().to_string();
    let slow = {
        let mut s = sim.lock().unwrap();
        *s.posts.entry(external.clone()).or_default() += 1;
        let slow = s.slow > 0;
        s.slow = s.slow.saturating_sub(1);
        slow
    };
    if slow {
        tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    }
    let mut s = sim.lock().unwrap();
    if s.fail > 0 {
        s.fail -= 1;
        return (AxStatus::SERVICE_UNAVAILABLE, Json(json!({"reason": "maintenance"})));
    }
    let code = body["productOrderItem"][0]["product"]["productSpecification"]["id"].as_str().map(str::to_string);
    if code.is_some() && code == s.refuse {
        return (AxStatus::UNPROCESSABLE_ENTITY, Json(json!({"reason": "product not sold in this region"})));
    }
    // Idempotent by externalId: the same order again is the order it has.
    if let Some((id, (_, state))) = s.orders.iter().find(|(_, (e, _))| *e == external) {
        return (AxStatus::CREATED, Json(json!({"id": id, "externalId": external, "state": state})));
    }
    let id = format!("PO-{}", s.orders.len() + 1);
    let start = if s.start.is_empty() { "acknowledged".to_string() } else { s.start.clone() };
    s.orders.insert(id.clone(), (external.clone(), start.clone()));
    (AxStatus::CREATED, Json(json!({"id": id, "externalId": external, "state": start})))
}

async fn sim_get(State(sim): State<SimState>, Path(id): Path<String>) -> (AxStatus, Json<Value>) {
    let s = sim.lock().unwrap();
    match s.orders.get(&id) {
        Some((external, state)) => (AxStatus::OK, Json(json!({"id": id, "externalId": external, "state": state}))),
        None => (AxStatus::NOT_FOUND, Json(json!({"reason": "no such order"}))),
    }
}

async fn simulator() -> (String, SimState) {
    let sim: SimState = Default::default();
    let app = Router::new()
        .route("/tmf/productOrder", post(sim_post))
        .route("/tmf/productOrder/{id}", get(sim_get))
        .with_state(sim.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/tmf", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, sim)
}

fn bss_config(url: &str) -> kefu_server::bss::BssConfig {
    kefu_server::bss::BssConfig {
        url: Some(url.into()),
        token: Some("to-bss".into()),
        callback_token: Some("from-bss".into()),
        timeout_seconds: 1,
        claim_seconds: 120,
    }
}

async fn callback(app: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    let r = app
        .client
        .post(format!("{}/api/v1/bss/events", app.base))
        .header("X-Bss-Token", token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

fn event(external: &str, bss_id: &str, state: &str) -> Value {
    json!({"eventType": "ProductOrderStateChangeEvent",
           "event": {"productOrder": {"id": bss_id, "externalId": external, "state": state}}})
}

/// A suspension (or restoration) of the customer's plan in handling, handed over.
async fn submitted(app: &TestApp, kind: &str) -> (Value, Value, String) {
    let customer = app.create("agent1", ticket_body("consultation")).await["customer"]["id"].clone();
    let plan = services(app, &customer).await["PLAN-5G-129"]["id"].clone();
    let t = app
        .create(
            "agent1",
            order_body("business", json!({"kind": kind, "items": [{"action": "modify", "service": plan}]})),
        )
        .await;
    let id = t["id"].clone();
    to_handling(app, &id).await;
    let (s, b) = order(app, "engineer1", &id, "submit").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    (id, customer, b["order"]["id"].as_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_bss_is_retried_followed_and_told_once() {
    let (url, sim) = simulator().await;
    let mut app =
        spawn_app_bss(Backend::Sqlite, policy(), Default::default(), Default::default(), bss_config(&url)).await;
    import(&app, &csv("0", "")).await;

    // 1. Down once (503), then acknowledged; completed by the BSS's callback, told twice.
    sim.lock().unwrap().fail = 1;
    let (id, customer, oid) = submitted(&app, "suspend").await;
    posted(&sim, &oid, 1).await;
    let (_, t) = app.get("supervisor1", &format!("/api/v1/tickets/{id}")).await;
    assert_eq!((t["status"].as_str(), t["order"]["state"].as_str()), (Some("in_progress"), Some("submitted")));
    // The retry waits the policy's 30 seconds.
    app.clock.advance(chrono::Duration::seconds(31));
    let t = until(&app, &id, |t| t["order"]["state"] == "acknowledged").await;
    let bss_id = t["order"]["bss_ref"].as_str().unwrap().to_string();
    assert_eq!(sim.lock().unwrap().posts[&oid], 2, "one failed try, one taken");
    assert_eq!(callback(&app, "wrong", event(&oid, &bss_id, "completed")).await.0, StatusCode::UNAUTHORIZED);
    let (s, b) = callback(&app, "from-bss", event(&oid, &bss_id, "inProgress")).await;
    assert_eq!((s, b["applied"].as_bool()), (StatusCode::OK, Some(true)));
    assert_eq!(callback(&app, "from-bss", event(&oid, &bss_id, "completed")).await.1["applied"], true);
    assert_eq!(callback(&app, "from-bss", event(&oid, &bss_id, "completed")).await.1["applied"], false, "a duplicate");
    assert_eq!(callback(&app, "from-bss", event(&oid, &bss_id, "acknowledged")).await.1["applied"], false, "late");
    let (_, t) = app.get("supervisor1", &format!("/api/v1/tickets/{id}")).await;
    assert_eq!((t["status"].as_str(), t["order"]["state"].as_str()), (Some("resolved"), Some("completed")));
    assert_eq!(services(&app, &customer).await["PLAN-5G-129"]["state"], "suspended");
    let (_, events) = app.get("supervisor1", &format!("/api/v1/tickets/{id}/events")).await;
    let resolves = events.as_array().unwrap().iter().filter(|e| e["action"] == "resolve").count();
    assert_eq!(resolves, 1, "the duplicate changed nothing");

    // 2. Never answering in time: failed after the policy's attempts, back to its handler.
    sim.lock().unwrap().slow = 3;
    let (id, _, oid) = submitted(&app, "restore").await;
    posted(&sim, &oid, 1).await;
    // The first try (the submission's own) gives up after the 1 s timeout.
    tokio::time::sleep(std::time::Duration::from_millis(1_600)).await;
    for _ in 0..2 {
        app.clock.advance(chrono::Duration::seconds(300));
        (app.bss)().await;
    }
    assert_eq!(sim.lock().unwrap().posts[&oid], 3);
    let t = until(&app, &id, |t| t["order"]["state"] == "failed").await;
    assert_eq!(t["status"], "in_progress", "back to handling");
    assert!(t["order"]["reason"].as_str().unwrap().contains("did not answer in time"), "{}", t["order"]);
    app.relogin("engineer1").await;
    let (_, notices) = app.get("engineer1", "/api/v1/notices").await;
    assert!(notices.to_string().contains("order_failed"), "{notices}");
    // Tried again under the same id (the BSS never took it): the simulator
    // completes orders at once now; one order at the BSS.
    sim.lock().unwrap().start = "completed".into();
    let (s, b) = order(&app, "engineer1", &id, "retry").await;
    assert_eq!((s, b["order"]["id"].as_str()), (StatusCode::OK, Some(oid.as_str())));
    until(&app, &id, |t| t["status"] == "resolved").await;
    assert_eq!(sim.lock().unwrap().orders.values().filter(|(e, _)| *e == oid).count(), 1);

    // 3. Refused by the BSS (422): failed with its reason, at once.
    sim.lock().unwrap().refuse = Some("VAS-MUSIC".into());
    let t = app
        .create(
            "agent1",
            order_body(
                "business",
                json!({"kind": "vas_add", "items": [{"action": "add", "product_code": "VAS-MUSIC"}]}),
            ),
        )
        .await;
    let id = t["id"].clone();
    to_handling(&app, &id).await;
    assert_eq!(order(&app, "engineer1", &id, "submit").await.0, StatusCode::OK);
    let t = until(&app, &id, |t| t["order"]["state"] == "failed").await;
    assert!(t["order"]["reason"].as_str().unwrap().contains("product not sold"), "{}", t["order"]);
    assert_eq!(sim.lock().unwrap().posts.values().sum::<u32>(), 2 + 3 + 1 + 1);
}

/// Waits (bounded) until the simulator has had `n` submissions of `order`.
async fn posted(sim: &SimState, order: &str, n: u32) {
    for _ in 0..200 {
        if sim.lock().unwrap().posts.get(order).copied().unwrap_or(0) >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the BSS never got order {order}");
}

// --- every order kind, through either adapter ---------------------------------

/// Registers an order of `kind` and carries it out to the end: handling,
/// approval where the policy asks, handed over, completed.
async fn carry_out(app: &TestApp, kind: &str, items: Value) -> Value {
    let ticket_type = match kind {
        "unsubscribe" | "vas_cancel" => "unsubscribe",
        "account_close" => "account",
        _ => "business",
    };
    let t = app.create("agent1", order_body(ticket_type, json!({"kind": kind, "items": items}))).await;
    let id = t["id"].clone();
    let handler = if ticket_type == "unsubscribe" {
        step(app, "agent1", &id, json!({"action": "approve"})).await;
        "agent1"
    } else {
        to_handling(app, &id).await;
        "engineer1"
    };
    // A business ticket's 审批 approved its order already; others are approved on the order.
    let (_, now) = app.get("supervisor1", &format!("/api/v1/tickets/{id}")).await;
    if now["order"]["state"] == "awaiting_approval" {
        assert_eq!(order(app, "supervisor1", &id, "approve").await.0, StatusCode::OK);
    }
    let (s, b) = order(app, handler, &id, "submit").await;
    assert_eq!(s, StatusCode::OK, "{kind}: {b}");
    let done = until(app, &id, |t| t["order"]["state"] == "completed" || t["order"]["state"] == "failed").await;
    assert_eq!(done["order"]["state"], "completed", "{kind}: {}", done["order"]);
    assert!(["resolved", "processed"].contains(&done["status"].as_str().unwrap()), "{kind}: {}", done["status"]);
    done
}

async fn every_kind(app: TestApp) {
    import(&app, &csv("0", "")).await;
    let customer = app.create("agent1", ticket_body("consultation")).await["customer"]["id"].clone();
    let id_of = |s: &HashMap<String, Value>, code: &str| s[code]["id"].clone();
    let now = services(&app, &customer).await;
    let (plan, crbt, bb) = (id_of(&now, "PLAN-5G-129"), id_of(&now, "VAS-CRBT"), id_of(&now, "BB-300M"));
    carry_out(
        &app,
        "new_install",
        json!([{"action": "add", "product_code": "IPTV-STD", "service_number": "IPTV0001"}]),
    )
    .await;
    carry_out(&app, "plan_change", json!([{"action": "modify", "service": plan, "product_code": "PLAN-5G-199"}])).await;
    carry_out(&app, "suspend", json!([{"action": "modify", "service": bb}])).await;
    carry_out(&app, "restore", json!([{"action": "modify", "service": bb}])).await;
    carry_out(&app, "suspend", json!([{"action": "modify", "service": bb}])).await;
    carry_out(&app, "arrears_restore", json!([{"action": "modify", "service": bb}])).await;
    carry_out(&app, "vas_add", json!([{"action": "add", "product_code": "VAS-MUSIC"}])).await;
    let music = id_of(&services(&app, &customer).await, "VAS-MUSIC");
    carry_out(&app, "vas_cancel", json!([{"action": "delete", "service": music}])).await;
    carry_out(
        &app,
        "secondary_card",
        json!([{"action": "add", "product_code": "CARD-SEC", "service_number": "13900000002"}]),
    )
    .await;
    carry_out(&app, "unsubscribe", json!([{"action": "delete", "service": crbt}])).await;
    let s = services(&app, &customer).await;
    let states: HashMap<&str, &str> = s.iter().map(|(k, v)| (k.as_str(), v["state"].as_str().unwrap())).collect();
    assert_eq!(states["IPTV-STD"], "active");
    assert_eq!(states["PLAN-5G-129"], "pending_change");
    assert_eq!(states["BB-300M"], "active");
    assert_eq!((states["VAS-MUSIC"], states["VAS-CRBT"]), ("terminated", "terminated"));
    assert_eq!(s["CARD-SEC"]["service_number"], "139****0002");
    let closed = carry_out(&app, "account_close", json!([])).await;
    assert_eq!(
        closed["order"]["items"].as_array().unwrap().len(),
        4,
        "plan, broadband, IPTV and card: every running one"
    );
    let (_, history) = app.get("agent1", &format!("/api/v1/customers/{customer}/service-history")).await;
    let changes = history["items"].as_array().unwrap().iter().filter(|h| h["change"] != "imported").count();
    assert_eq!(changes, 10 + 4, "one line per service an order touched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_kind_through_the_embedded_inventory() {
    every_kind(spawn_app_with(Backend::Sqlite, policy()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_kind_through_the_http_bss() {
    let (url, sim) = simulator().await;
    sim.lock().unwrap().start = "completed".into();
    every_kind(
        spawn_app_bss(Backend::Sqlite, policy(), Default::default(), Default::default(), bss_config(&url)).await,
    )
    .await;
    assert_eq!(sim.lock().unwrap().posts.len(), 11, "one order each");
}

// --- the console and the portal -------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_and_the_portal_show_services_and_orders() {
    let app = spawn_app_with(Backend::Sqlite, policy()).await;
    import(&app, &csv("0", "")).await;
    let customer = app.create("agent1", ticket_body("consultation")).await["customer"]["id"].clone();
    let crbt = services(&app, &customer).await["VAS-CRBT"]["id"].to_string();
    let cookie = console_login(&app, "agent1").await;
    let (s, html) = console_get(&app, &cookie, &format!("/console/customers/{customer}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("id=\"services\"") && html.contains("视频彩铃") && html.contains("增值业务"), "{html}");
    assert!(!html.contains("value_added") && !html.contains(">active<"), "labels, not codes");
    // An unsubscribe without the customer's consent is refused from the console too.
    let path = format!("/console/customers/{customer}/orders");
    let (s, _, page) = console_form(&app, &cookie, &path, &[("kind", "vas_cancel"), ("service", crbt.as_str())]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("同意"), "{page}");
    let fields = [
        ("kind", "vas_cancel"),
        ("service", crbt.as_str()),
        ("consent_method", "phone"),
        ("consent_evidence", "录音编号 REC777"),
    ];
    let (s, to, _) = console_form(&app, &cookie, &path, &fields).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let number = to.trim_start_matches("/console/tickets/").split('?').next().unwrap().to_string();
    let (_, html) = console_get(&app, &cookie, &to).await;
    assert!(html.contains("id=\"order\"") && html.contains("增值业务退订") && html.contains("待执行"), "{html}");

    // The customer's portal page: their services, the order pending, and revoking it.
    (app.loop_jobs)().await;
    let log = std::fs::read_to_string(&app.messages_log).unwrap();
    let line =
        log.lines().rev().find(|l| l.contains(&number)).unwrap_or_else(|| panic!("no receipt for {number}: {log}"));
    let at = line.find("/portal/t/").unwrap();
    let link = line[at..].split(|c: char| c.is_whitespace() || c == '，' || c == '。' || c == '"').next().unwrap();
    let portal = app.client.get(format!("{}{link}", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(
        portal.contains("id=\"services\"") && portal.contains("5G畅享套餐129元") && portal.contains("138****5678"),
        "{portal}"
    );
    assert!(portal.contains("id=\"pending-orders\"") && portal.contains("id=\"revoke\""), "{portal}");
    let r = no_redirects().post(format!("{}{link}/revoke", app.base)).form(&[("x", "1")]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, t) = app.get("supervisor1", &format!("/api/v1/tickets/{number}")).await;
    assert_eq!((t["order"]["state"].as_str(), t["status"].as_str()), (Some("revoked"), Some("withdrawn")));
    assert_eq!(services(&app, &customer).await["VAS-CRBT"]["state"], "active", "nothing ended");
}
