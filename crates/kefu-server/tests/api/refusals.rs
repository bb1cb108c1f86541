//! Bad input of every kind gets its status and a JSON error naming the
//! field, in English and Chinese, and changes nothing.

use crate::common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Breaks one field of a valid request body.
type Mutator = Box<dyn Fn(&mut Value)>;

fn assert_invalid(status: StatusCode, body: &Value, field: &str) {
    assert_error(status, body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(body["error"]["field"], field, "{body}");
}

fn assert_error(status: StatusCode, body: &Value, want: StatusCode, code: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(!body["error"]["message"].as_str().unwrap_or("").is_empty());
    assert!(!body["error"]["message_zh"].as_str().unwrap_or("").is_empty());
}

async fn invalid_intake_fields_are_named_and_nothing_is_stored(app: TestApp) {
    let cases: Vec<(&str, Mutator)> = vec![
        ("channel", Box::new(|b| b["channel"] = json!("fax"))),
        ("channel", Box::new(|b| b.as_object_mut().unwrap().remove("channel").map(|_| ()).unwrap_or(()))),
        ("type", Box::new(|b| b["type"] = json!("praise"))),
        ("title", Box::new(|b| b["title"] = json!("断".repeat(201)))),
        ("title", Box::new(|b| b["title"] = json!("   "))),
        ("description", Box::new(|b| b["description"] = json!("x".repeat(10_001)))),
        ("customer", Box::new(|b| b.as_object_mut().unwrap().remove("customer").map(|_| ()).unwrap_or(()))),
        ("customer.name", Box::new(|b| b["customer"]["name"] = json!(""))),
        ("customer.phone", Box::new(|b| b["customer"]["phone"] = json!("12345"))),
        ("customer.phone", Box::new(|b| b["customer"]["phone"] = json!("23812345678"))),
        ("customer.id_number", Box::new(|b| b["customer"]["id_number"] = json!("110105194912310021"))),
        ("customer.id_number", Box::new(|b| b["customer"]["id_number"] = json!("11010519491331002X"))),
        ("customer.address", Box::new(|b| b["customer"]["address"] = json!("路".repeat(201)))),
        ("priority", Box::new(|b| b["priority"] = json!("highest"))),
        ("occurred_at", Box::new(|b| b["occurred_at"] = json!("昨天晚上"))),
        ("title", Box::new(|b| b["title"] = json!(42))),
        ("customer.phone", Box::new(|b| b["customer"]["phone"] = json!(13812345678u64))),
        ("consent", Box::new(|b| b["type"] = json!("unsubscribe"))),
    ];
    for (field, mutate) in cases {
        let mut body = ticket_body("fault");
        mutate(&mut body);
        let (s, b) = app.post("agent1", "/api/v1/tickets", body).await;
        assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(b["error"]["field"], field, "{b}");
    }
    let mut bad_consent = ticket_body("unsubscribe");
    bad_consent["consent"]["method"] = json!("fax");
    let (s, b) = app.post("agent1", "/api/v1/tickets", bad_consent).await;
    assert_invalid(s, &b, "consent.method");
    assert_eq!(app.ticket_count().await, 0, "a rejected request leaves nothing behind");
    let (_, c) = app.get("agent1", "/api/v1/customers?phone=13812345678").await;
    assert_eq!(c["error"]["code"], "not_found", "no customer was half-created");
}

async fn malformed_bodies(app: TestApp) {
    let url = format!("{}/api/v1/tickets", app.base);
    let token = &app.tokens["agent1"];
    let send = |body: Vec<u8>, ct: &'static str| {
        let req = app.client.post(&url).bearer_auth(token).header("content-type", ct).body(body);
        async move {
            let r = req.send().await.unwrap();
            let s = r.status();
            (s, r.json::<Value>().await.unwrap())
        }
    };
    let (s, b) = send(b"{\"channel\": ".to_vec(), "application/json").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "malformed_request");
    let (s, b) = send(b"channel=phone".to_vec(), "application/x-www-form-urlencoded").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "malformed_request");
    let huge = serde_json::to_vec(&json!({"description": "x".repeat(300 * 1024)})).unwrap();
    let (s, b) = send(huge, "application/json").await;
    assert_error(s, &b, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    assert_eq!(app.ticket_count().await, 0);
}

async fn authentication_and_roles(app: TestApp) {
    let (s, b) = app.call(None, Method::GET, "/api/v1/tickets", None, None).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "unauthorized");
    let r = app.client.get(format!("{}/api/v1/tickets", app.base)).bearer_auth("not-a-token").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let (s, b) = app
        .call(
            None,
            Method::POST,
            "/api/v1/auth/login",
            Some(json!({"username": "agent1", "password": "wrong-Pass-1"})),
            None,
        )
        .await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "unauthorized");
    let (s, b) = app
        .call(None, Method::POST, "/api/v1/auth/login", Some(json!({"username": "ghost", "password": "x"})), None)
        .await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "unauthorized");
    let (s, b) = app.call(None, Method::POST, "/api/v1/auth/login", Some(json!({"username": "agent1"})), None).await;
    assert_invalid(s, &b, "password");
    // An inspector does not register tickets.
    let (s, b) = app.post("inspector1", "/api/v1/tickets", ticket_body("fault")).await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "forbidden");
    // Role checks on actions come from the flows.
    let t = app.create("agent1", ticket_body("fault")).await;
    let (s, b) = app.act("inspector1", &t["id"], json!({"action": "dispatch", "assignee": "engineer1"})).await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "forbidden");
    app.act("agent1", &t["id"], json!({"action": "dispatch", "assignee": "engineer1"})).await;
    // The first owner is one of its people, but only the handler starts it.
    let (s, b) = app.act("agent1", &t["id"], json!({"action": "start"})).await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "forbidden");
    assert!(b["error"]["message_zh"].as_str().unwrap().contains("处理人"));
    // To anyone else the ticket does not exist.
    let (s, b) = app.act("agent2", &t["id"], json!({"action": "start"})).await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");
    // Logout ends the session.
    let (s, _) = app.call(Some("agent2"), Method::POST, "/api/v1/auth/logout", None, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.get("agent2", "/api/v1/tickets").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

async fn actions_in_the_wrong_state_list_what_is_allowed(app: TestApp) {
    let t = app.create("agent1", ticket_body("complaint")).await;
    let id = &t["id"];
    let (s, b) = app.act("supervisor1", id, json!({"action": "archive"})).await;
    assert_error(s, &b, StatusCode::CONFLICT, "action_not_allowed");
    assert_eq!(b["error"]["details"]["state"], "accepted");
    let allowed = b["error"]["details"]["allowed_actions"].as_array().unwrap();
    assert!(allowed.contains(&json!("dispatch")) && !allowed.contains(&json!("archive")));
    let (s, b) = app.act("agent1", id, json!({"action": "teleport"})).await;
    assert_invalid(s, &b, "action");
    let (s, b) = app.act("agent1", id, json!({"action": "dispatch", "assignee": "nobody"})).await;
    assert_invalid(s, &b, "assignee");
    let (s, b) = app.act("agent1", id, json!({"action": "dispatch", "assignee": "inspector1"})).await;
    assert_invalid(s, &b, "assignee");
    let (s, _) = app.act("agent1", &json!(999999), json!({"action": "start"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app.get("agent1", "/api/v1/tickets/GD20991231000001").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, events) = app.get("agent1", &format!("/api/v1/tickets/{id}/events")).await;
    assert_eq!(events.as_array().unwrap().len(), 1, "refusals add no event");
}

async fn list_parameters_are_checked(app: TestApp) {
    for (q, field) in [
        ("per_page=501", "per_page"),
        ("page=0", "page"),
        ("type=praise", "type"),
        ("created_from=yesterday", "created_from"),
        ("overdue=maybe", "overdue"),
        ("assignee=ghost", "assignee"),
        ("customer_phone=123", "customer_phone"),
        ("resolved_by=ghost", "resolved_by"),
        ("resolved_team=nope", "resolved_team"),
        ("resolved_from=yesterday", "resolved_from"),
        ("resolved_to=2026-13-01", "resolved_to"),
        ("colour=red", "colour"),
    ] {
        let (s, b) = app.get("agent1", &format!("/api/v1/tickets?{q}")).await;
        assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(field)), "{q}: {b}");
    }
}

async fn idempotency_key_returns_the_first_result(app: TestApp) {
    let (s1, b1) =
        app.call(Some("agent1"), Method::POST, "/api/v1/tickets", Some(ticket_body("fault")), Some("intake-42")).await;
    let (s2, b2) =
        app.call(Some("agent1"), Method::POST, "/api/v1/tickets", Some(ticket_body("fault")), Some("intake-42")).await;
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(b1, b2);
    assert_eq!(app.ticket_count().await, 1);
    let id = b1["id"].clone();
    let path = format!("/api/v1/tickets/{id}/actions");
    let body = json!({"action": "dispatch", "assignee": "engineer1"});
    let (_, a1) = app.call(Some("agent1"), Method::POST, &path, Some(body.clone()), Some("d-1")).await;
    let (s, a2) = app.call(Some("agent1"), Method::POST, &path, Some(body), Some("d-1")).await;
    assert_eq!((s, a1 == a2), (StatusCode::OK, true));
    assert_eq!(app.get("agent1", &format!("/api/v1/tickets/{id}/events")).await.1.as_array().unwrap().len(), 2);
    let (s, b) = app
        .call(Some("agent1"), Method::POST, "/api/v1/tickets", Some(ticket_body("fault")), Some(&"k".repeat(201)))
        .await;
    assert_invalid(s, &b, "Idempotency-Key");
}

async fn concurrent_intake_gets_unique_numbers(app: TestApp) {
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let mut b = ticket_body("consultation");
            b["customer"]["phone"] = json!(format!("1391234{:04}", i));
            app.create(if i % 2 == 0 { "agent1" } else { "agent2" }, b).await["number"].as_str().unwrap().to_string()
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap());
    }
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 40);
}

async fn tokens_expire(app: TestApp) {
    assert_eq!(app.get("agent1", "/api/v1/auth/me").await.1["username"], "agent1");
    app.clock.advance(chrono::Duration::hours(12) + chrono::Duration::seconds(1));
    let (s, b) = app.get("agent1", "/api/v1/auth/me").await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "unauthorized");
}

both_stores!(
    policy = manual_dispatch();
    invalid_intake_fields_are_named_and_nothing_is_stored,
    malformed_bodies,
    authentication_and_roles,
    actions_in_the_wrong_state_list_what_is_allowed,
    list_parameters_are_checked,
    idempotency_key_returns_the_first_result,
    tokens_expire,
    concurrent_intake_gets_unique_numbers,
);
