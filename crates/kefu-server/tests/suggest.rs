//! Suggestions for a new ticket over HTTP: type, priority, where it
//! goes and similar tickets, learnt from the operator's history; the
//! held-out accuracy administrators read, with floors set just under what
//! the models measure so a change that makes them worse fails.

mod common;

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
