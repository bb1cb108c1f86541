//! Deadlines on tickets over HTTP: computed at registration from the policy,
//! shown with their state against the clock, met by actions, paused while
//! suspended, and found by the `overdue` and `due_before` filters.

use crate::common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn deadline<'a>(t: &'a Value, kind: &str) -> &'a Value {
    t["deadlines"].as_array().unwrap().iter().find(|d| d["kind"] == kind).unwrap_or_else(|| panic!("no {kind} in {t}"))
}

async fn deadlines_follow_the_ticket(mut app: TestApp) {
    // 2026-11-22T02:00Z is a Sunday 10:00 in Shanghai; hours are natural time.
    let t = app.create("agent1", ticket_body("complaint")).await;
    let id = t["id"].clone();
    assert_eq!(t["priority"], "urgent");
    assert_eq!(deadline(&t, "response")["due_at"], "2026-11-22T02:30:00Z");
    assert_eq!(deadline(&t, "resolution")["due_at"], "2026-11-23T02:00:00Z");
    assert_eq!(deadline(&t, "resolution")["label_zh"], "办结");
    assert_eq!(deadline(&t, "response")["state"], "running");
    let total = |q: &'static str| {
        let app = &app;
        async move { app.get("agent1", &format!("/api/v1/tickets?{q}")).await.1["total"].as_i64().unwrap() }
    };
    assert_eq!(total("due_before=2026-11-22T02:31:00Z").await, 1);
    assert_eq!(total("due_before=2026-11-22T02:29:00Z").await, 0);

    app.clock.advance(chrono::Duration::minutes(25));
    let (_, now) = app.get("agent1", &format!("/api/v1/tickets/{id}")).await;
    assert_eq!(deadline(&now, "response")["state"], "warning", "past 80 % of 30 minutes");
    assert_eq!(total("overdue=true").await, 0);
    app.clock.advance(chrono::Duration::minutes(6));
    assert_eq!(total("overdue=true").await, 1);

    // Dispatch meets the response (late: it stays a breach); the resolution runs on.
    let (s, d) = app.act("agent1", &id, json!({"action": "dispatch", "assignee": "specialist1"})).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(deadline(&d, "response")["state"], "breached");
    assert_eq!(total("overdue=true").await, 0, "the next deadline is the resolution, not due yet");
    app.act("specialist1", &id, json!({"action": "start"})).await;
    let (_, p) = app.act("specialist1", &id, json!({"action": "suspend", "reason": "等待客户提供账单"})).await;
    assert_eq!(deadline(&p, "resolution")["state"], "paused");
    app.clock.advance(chrono::Duration::hours(3));
    app.relogin("specialist1").await;
    let (_, r) = app.act("specialist1", &id, json!({"action": "resume"})).await;
    assert_eq!(deadline(&r, "resolution")["due_at"], "2026-11-23T05:00:00Z", "moved by the 3 hours paused");
    let (_, done) = app.act("specialist1", &id, json!({"action": "resolve", "result": "已退还多扣费用"})).await;
    assert_eq!(deadline(&done, "resolution")["state"], "met");
    assert_eq!(deadline(&done, "result_notice")["state"], "running");
    // The audit trail records the deadline changes with the ticket's.
    let (_, events) = app.get("agent1", &format!("/api/v1/tickets/{id}/events")).await;
    let suspend = events.as_array().unwrap().iter().find(|e| e["action"] == "suspend").unwrap();
    assert!(suspend["after"]["deadlines"].is_array());
}

both_stores!(policy = manual_dispatch(); deadlines_follow_the_ticket);
