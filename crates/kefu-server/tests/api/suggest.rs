//! Suggestions for a new ticket over HTTP: type, priority, where it
//! goes and similar tickets, learnt from the operator's history; the
//! held-out accuracy administrators read, with floors set just under what
//! the models measure so a change that makes them worse fails.

use crate::common;

use common::*;
use reqwest::StatusCode;
use serde_json::json;

async fn suggestions_follow_the_history_and_the_rules(app: TestApp) {
    let mut old = ticket_body("fault");
    old["title"] = json!("光猫LOS灯红，宽带无法上网");
    let old = app.create("agent1", old).await;
    let ask = |body: serde_json::Value| {
        let app = &app;
        async move { app.post("agent1", "/api/v1/tickets/suggest", body).await }
    };
    let (s, b) =
        ask(json!({"title": "家里宽带断网", "description": "从昨晚开始上不了网，光猫LOS灯一直红", "channel": "phone",
                            "customer": {"level": "normal"}}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["type"]["value"], "fault", "{b}");
    assert_eq!(b["type"]["label_zh"], "故障报修");
    assert!(b["type"]["confidence"].as_f64().unwrap() >= 0.5);
    assert_eq!(b["types"].as_array().unwrap().len(), 3);
    assert_eq!(b["priority"]["value"], "urgent", "faults are urgent in this operator's practice: {b}");
    assert_eq!(b["department"]["tier"], 2, "faults go to the engineers: {b}");
    assert_eq!(b["similar"][0]["number"], old["number"], "{b}");
    // Regulator words make anything urgent; a gold customer's question is important.
    let (_, b) = ask(json!({"title": "乱扣费", "description": "套餐每月被多扣20元，再不处理我就向工信部投诉"})).await;
    assert_eq!(b["priority"]["value"], "urgent", "{b}");
    let (_, b) =
        ask(json!({"title": "咨询流量包", "description": "想问一下有没有便宜的流量包", "customer": {"level": "gold"}}))
            .await;
    assert_eq!(
        (b["type"]["value"].as_str(), b["priority"]["value"].as_str()),
        (Some("consultation"), Some("important")),
        "{b}"
    );
    // Too little to go on: no type is suggested, the three likeliest still listed.
    let (_, b) = ask(json!({"title": "你好"})).await;
    assert_eq!(b["type"]["value"], serde_json::Value::Null, "{b}");
    assert!(b["type"]["confidence"].as_f64().unwrap() < 0.5);
    assert_eq!(b["types"].as_array().unwrap().len(), 3);
    // Bad input is named.
    for (body, field) in [
        (json!({}), "title"),
        (json!({"title": "断网", "channel": "pigeon"}), "channel"),
        (json!({"title": "断网", "color": "red"}), "color"),
        (json!({"title": 5}), "title"),
    ] {
        let (s, b) = ask(body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {b}");
        assert!(b.to_string().contains(field), "{body} names {field}: {b}");
    }
}

async fn administrators_read_the_held_out_accuracy(app: TestApp) {
    let (s, _) = app.get("agent1", "/api/v1/suggest/model").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, m) = app.get("supervisor1", "/api/v1/suggest/model").await;
    assert_eq!(s, StatusCode::OK, "{m}");
    println!("suggestion models: {m}");
    assert_eq!(m["from_history"], 700);
    assert_eq!(m["per_type"].as_object().unwrap().len(), 7, "{m}");
    let (t, t3, p) = (
        m["type_accuracy"].as_f64().unwrap(),
        m["type_top3_accuracy"].as_f64().unwrap(),
        m["priority_accuracy"].as_f64().unwrap(),
    );
    assert!(t >= 0.87, "type accuracy {t}");
    assert!(t3 >= 0.98, "type top-3 accuracy {t3}");
    assert!(p >= PRIORITY_FLOOR, "priority accuracy {p}");
    // Temperatures fitted on the held-out tickets soften naive Bayes' certainty.
    assert!(m["type_temperature"].as_f64().unwrap() > 1.0, "{m}");
}

const PRIORITY_FLOOR: f64 = 0.93;

both_stores!(suggestions_follow_the_history_and_the_rules, administrators_read_the_held_out_accuracy);

/// The training job on two nodes of one database: the node holding the
/// lease trains and publishes; the other loads what was published instead
/// of training; a new training is due only once the store has grown.
async fn one_node_trains_and_every_node_uses_the_model<S: kefu_store::Store>(store: S) {
    use kefu_domain::flow::{Actor, FlowSet};
    use kefu_domain::intake::IntakeRequest;
    let clock = std::sync::Arc::new(kefu_domain::clock::FixedClock::new("2026-11-22T02:00:00Z".parse().unwrap()));
    let node = || {
        let mut policy = kefu_domain::policy::Policy::defaults();
        policy.suggest.retrain_after = 2;
        let settings = kefu_server::Settings {
            password_cost: kefu_server::auth::PasswordCost { memory_kib: 1024, iterations: 1 },
            ..kefu_server::Settings::default()
        };
        kefu_server::Kefu::new(store.clone(), FlowSet::defaults(), policy, clock.clone(), settings)
    };
    let (a, b) = (node().await.unwrap(), node().await.unwrap());
    kefu_server::jobs::train_suggestions(&a, "node-a").await.unwrap();
    kefu_server::jobs::train_suggestions(&b, "node-b").await.unwrap();
    let (ma, mb) = (a.suggest_models().await.unwrap(), b.suggest_models().await.unwrap());
    assert_eq!((ma.report.revision, mb.report.revision), (1, 1), "b loaded what a published");
    assert_eq!(ma.report.trained_at, mb.report.trained_at);
    assert_eq!(mb.report.examples, 700);
    // Not due until the store has grown by retrain_after tickets.
    assert!(!a.train_if_due().await.unwrap());
    let u = a.add_user("agent1", kefu_domain::Role::Agent, None, PASSWORD).await.unwrap();
    let actor = Actor::new(u.id, "agent1", kefu_domain::Role::Agent);
    for _ in 0..2 {
        let req: IntakeRequest = serde_json::from_value(ticket_body("fault")).unwrap();
        a.create_ticket(&actor, &req, None).await.unwrap();
    }
    assert!(a.train_if_due().await.unwrap());
    assert_eq!(a.suggest_models().await.unwrap().report.revision, 2);
    assert_eq!(a.suggest_models().await.unwrap().report.from_store, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_one_node_trains_and_every_node_uses_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        kefu_store_sqlite::SqliteStore::open(dir.path().join("kefu.db"), kefu_store::crypto::test_cipher()).unwrap();
    one_node_trains_and_every_node_uses_the_model(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_one_node_trains_and_every_node_uses_the_model() {
    let schema = kefu_store_postgres::testing::TestSchema::create().await;
    let store = kefu_store_postgres::PgStore::connect(&schema.url, kefu_store::crypto::test_cipher()).await.unwrap();
    one_node_trains_and_every_node_uses_the_model(store).await;
}
