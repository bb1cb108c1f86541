//! Canned replies and macros over HTTP: who keeps and sees which, and that
//! applying one is one change (priority, reply, outbox) or none.

use crate::common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn consultation() -> Value {
    let mut b = ticket_body("consultation");
    b["priority"] = json!("normal");
    b
}

async fn comments(app: &TestApp, id: &Value) -> Vec<Value> {
    app.get("supervisor1", &format!("/api/v1/tickets/{id}/comments")).await.1.as_array().cloned().unwrap_or_default()
}

async fn macros_are_kept_by_their_owner_and_shared_by_supervisors(app: TestApp) {
    let reply = json!({"name": "致歉回访", "shared": true, "body": "{customer}您好，工单{number}已由{agent}跟进。", "priority": "urgent"});
    // An agent keeps their own only.
    let (s, b) = app.post("agent1", "/api/v1/macros", reply.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    let mine = app
        .ok(
            "agent1",
            Method::POST,
            "/api/v1/macros",
            Some(json!({"name": "稍后回电", "body": "稍后给您回电"})),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(mine["shared"], false);
    let shared = app.ok("supervisor1", Method::POST, "/api/v1/macros", Some(reply), StatusCode::CREATED).await;
    let names =
        |v: Value| v.as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(names(app.get("agent1", "/api/v1/macros").await.1), ["稍后回电", "致歉回访"]);
    assert_eq!(names(app.get("agent2", "/api/v1/macros").await.1), ["致歉回访"], "others' own macros are not shown");
    // Another's own macro does not exist for them; a shared one is the supervisors' to change.
    let path = format!("/api/v1/macros/{}", mine["id"]);
    let (s, _) = app.call(Some("agent2"), Method::DELETE, &path, None, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .call(
            Some("agent1"),
            Method::PATCH,
            &format!("/api/v1/macros/{}", shared["id"]),
            Some(json!({"name": "改"})),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Every problem named at once is the console's business; the API names the first, by field.
    let (s, b) = app.post("agent1", "/api/v1/macros", json!({"name": "坏", "body": "您好{nmuber}"})).await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("body")), "{b}");
    let (s, b) = app.post("agent1", "/api/v1/macros", json!({"name": "稍后回电", "body": "重名"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    let changed = app.ok("agent1", Method::PATCH, &path, Some(json!({"internal": true})), StatusCode::OK).await;
    assert_eq!((changed["internal"].as_bool(), changed["body"].as_str()), (Some(true), Some("稍后给您回电")));
    app.ok("agent1", Method::DELETE, &path, None, StatusCode::NO_CONTENT).await;
    assert_eq!(names(app.get("agent1", "/api/v1/macros").await.1), ["致歉回访"]);
}

async fn applying_a_macro_is_one_change(app: TestApp) {
    let t = app.create("agent1", consultation()).await;
    let (id, number) = (t["id"].clone(), t["number"].as_str().unwrap().to_string());
    let m = app
        .ok("supervisor1", Method::POST, "/api/v1/macros",
            Some(json!({"name": "提级致歉", "shared": true, "body": "{customer}您好，工单{number}已由{agent}跟进。", "priority": "urgent"})),
            StatusCode::CREATED)
        .await;
    let apply = format!("/api/v1/tickets/{id}/macros/{}", m["id"]);
    let (s, b) = app.call(Some("agent1"), Method::POST, &apply, Some(json!({})), Some("k-1")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["priority"], "urgent");
    // A repeat with the same key changes nothing more.
    let (s, again) = app.call(Some("agent1"), Method::POST, &apply, Some(json!({})), Some("k-1")).await;
    assert_eq!((s, again["priority"].as_str()), (StatusCode::OK, Some("urgent")));
    let notes = comments(&app, &id).await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0]["body"].as_str().unwrap().starts_with(&format!("张三您好，工单{number}已由")), "{notes:?}");
    assert_eq!(notes[0]["internal"], false);
    let events = app.get("supervisor1", &format!("/api/v1/tickets/{id}/events")).await.1;
    let last = events.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["action"].as_str(), last["data"]["macro"].as_str()),
        (Some("set_priority"), Some("提级致歉")),
        "{last}"
    );
    let messages = app.get("supervisor1", &format!("/api/v1/tickets/{id}/messages")).await.1;
    assert!(messages.as_array().unwrap().iter().any(|msg| msg["kind"] == "reply"), "the reply goes out: {messages}");
    // Now the priority is set: applying again only adds the reply.
    let (s, b) = app.post("agent1", &apply, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(comments(&app, &id).await.len(), 2);
}

async fn a_refused_part_refuses_the_whole_macro(app: TestApp) {
    let t = app.create("agent1", consultation()).await;
    let id = t["id"].clone();
    let (s, b) = app.act("agent1", &id, json!({"action": "resolve", "result": "已解答资费问题"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let m = app
        .ok(
            "agent1",
            Method::POST,
            "/api/v1/macros",
            Some(json!({"name": "加急", "body": "已为您加急", "priority": "urgent"})),
            StatusCode::CREATED,
        )
        .await;
    let before = comments(&app, &id).await.len();
    // A resolved ticket takes notes but not a new priority: nothing is written.
    let (s, b) = app.post("agent1", &format!("/api/v1/tickets/{id}/macros/{}", m["id"]), json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert_eq!(comments(&app, &id).await.len(), before);
    assert_eq!(app.get("agent1", &format!("/api/v1/tickets/{id}")).await.1["priority"], "normal");
    let (s, _) = app.post("agent1", &format!("/api/v1/tickets/{id}/macros/9999"), json!({})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app.post("agent1", &format!("/api/v1/tickets/{id}/macros/%E4%B8%80"), json!({"x": 1})).await;
    assert!(s.is_client_error());
}

both_stores!(policy = manual_dispatch();
    macros_are_kept_by_their_owner_and_shared_by_supervisors,
    applying_a_macro_is_one_change,
    a_refused_part_refuses_the_whole_macro);
