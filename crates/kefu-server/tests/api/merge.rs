//! Merging a repeat report into the customer's open ticket: recorded on
//! both in one change, refused as a whole otherwise.

use crate::common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn last_event(app: &TestApp, id: &Value) -> Value {
    let events = app.get("supervisor1", &format!("/api/v1/tickets/{id}/events")).await.1;
    events.as_array().unwrap().last().unwrap().clone()
}

async fn event_count(app: &TestApp, id: &Value) -> usize {
    app.get("supervisor1", &format!("/api/v1/tickets/{id}/events")).await.1.as_array().unwrap().len()
}

async fn a_repeat_call_is_merged_into_the_open_ticket(app: TestApp) {
    let open = app.create("agent1", ticket_body("fault")).await;
    let repeat = app.create("agent1", ticket_body("fault")).await;
    let (s, b) = app.act("agent1", &open["id"], json!({"action": "dispatch", "assignee": "engineer1"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let number = open["number"].as_str().unwrap();
    // Refused as a whole: into itself, into nothing, by a role the flow does not allow.
    let merge = |into: &str| json!({"action": "merge", "into": into, "reason": "客户重复来电"});
    let (s, b) = app.act("agent1", &repeat["id"], merge(repeat["number"].as_str().unwrap())).await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("into")), "{b}");
    let (s, b) = app.act("agent1", &repeat["id"], merge("GD20990101000001")).await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("into")), "{b}");
    let (s, _) = app.act("engineer1", &repeat["id"], merge(number)).await;
    assert!(s == StatusCode::FORBIDDEN || s == StatusCode::NOT_FOUND, "{s}");
    assert_eq!((event_count(&app, &open["id"]).await, event_count(&app, &repeat["id"]).await), (2, 1));
    // As people type it: lower case, spaces.
    let (s, b) = app.act("agent1", &repeat["id"], merge(&format!(" {} ", number.to_lowercase()))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!((b["status"].as_str(), b["status_zh"].as_str()), (Some("merged"), Some("已合并")));
    let here = last_event(&app, &repeat["id"]).await;
    assert_eq!((here["action"].as_str(), here["data"]["into"].as_str()), (Some("merge"), Some(number)), "{here}");
    let there = last_event(&app, &open["id"]).await;
    assert_eq!((there["action"].as_str(), &there["data"]["from"]), (Some("merged_in"), &repeat["number"]), "{there}");
    // The handler of the open ticket hears of it.
    let notices = app.get("engineer1", "/api/v1/notices").await.1;
    assert!(notices["items"].as_array().unwrap().iter().any(|n| n["kind"] == "merged"), "{notices}");
    // The repeat stops counting and is archived without a loop of its own.
    let t = app.get("supervisor1", &format!("/api/v1/tickets/{}", repeat["id"])).await.1;
    let states: Vec<&str> = t["deadlines"].as_array().unwrap().iter().map(|d| d["state"].as_str().unwrap()).collect();
    assert!(!states.is_empty() && states.iter().all(|s| matches!(*s, "cancelled" | "met")), "{states:?}");
    let (s, b) = app.act("supervisor1", &repeat["id"], json!({"action": "archive"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

async fn only_the_same_customers_open_ticket_takes_a_merge(app: TestApp) {
    let open = app.create("agent1", ticket_body("consultation")).await;
    let mut other_customer = ticket_body("consultation");
    other_customer["customer"] = json!({"name": "李四", "phone": "13900001111"});
    let other = app.create("agent1", other_customer).await;
    let merge = json!({"action": "merge", "into": open["number"]});
    let (s, b) = app.act("agent1", &other["id"], merge.clone()).await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("into")), "{b}");
    assert!(b["error"]["message_zh"].as_str().unwrap().contains("同一客户"), "{b}");
    assert_eq!((event_count(&app, &open["id"]).await, event_count(&app, &other["id"]).await), (1, 1));
    let (s, b) = app.act("agent1", &open["id"], json!({"action": "resolve", "result": "已解答"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let repeat = app.create("agent1", ticket_body("consultation")).await;
    let (s, b) = app.act("agent1", &repeat["id"], merge).await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("into")), "{b}");
    assert_eq!(app.get("agent1", &format!("/api/v1/tickets/{}", repeat["id"])).await.1["status"], "accepted");
}

both_stores!(policy = manual_dispatch();
    a_repeat_call_is_merged_into_the_open_ticket,
    only_the_same_customers_open_ticket_takes_a_merge);
