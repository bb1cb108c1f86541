//! The calendar endpoints agents use to tell customers when things are due.

use crate::common;

use common::*;
use reqwest::StatusCode;

async fn calendar_answers_agents(app: TestApp) {
    let (s, b) = app.get("agent1", "/api/v1/calendar/add?from=2026-02-17T07:00:00Z&working_days=1").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["due_at"], "2026-02-24T16:00:00Z", "received in the Spring Festival: due at the end of 2-24");
    assert_eq!(b["due_at_local"], "2026-02-25T00:00:00+08:00");
    let (_, b) = app.get("agent1", "/api/v1/calendar/add?from=2026-11-27T02:00:00Z&working_days=1").await;
    assert_eq!(b["due_at"], "2026-11-30T02:00:00Z", "Friday + 1 working day = Monday");
    let (_, b) = app.get("agent1", "/api/v1/calendar/add?from=2026-11-27T02:00:00Z&hours=48").await;
    assert_eq!(b["due_at"], "2026-11-29T02:00:00Z");
    for (q, field) in [
        ("working_days=1", "from"),
        ("from=tomorrow&working_days=1", "from"),
        ("from=2026-11-27T02:00:00Z", "working_days"),
        ("from=2026-11-27T02:00:00Z&working_days=1&hours=2", "working_days"),
        ("from=2026-12-31T02:00:00Z&working_days=1", "working_days"),
    ] {
        let (s, b) = app.get("agent1", &format!("/api/v1/calendar/add?{q}")).await;
        assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(field)), "{q}: {b}");
    }
    let (_, d) = app.get("agent1", "/api/v1/calendar/day/2026-02-14").await;
    assert_eq!(
        (d["working"].as_bool(), d["kind"].as_str(), d["name"].as_str()),
        (Some(true), Some("adjusted_workday"), Some("春节"))
    );
    let (_, d) = app.get("agent1", "/api/v1/calendar/day/2026-10-05").await;
    assert_eq!((d["working"].as_bool(), d["reason_zh"].as_str()), (Some(false), Some("国庆节放假")));
    let (s, _) = app.get("agent1", "/api/v1/calendar/day/2026-13-01").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = app.get("agent1", "/api/v1/calendar/day/2027-01-04").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, p) = app.get("agent1", "/api/v1/policy").await;
    assert_eq!(p["calendar_years"], serde_json::json!([2025, 2026]));
}

both_stores!(calendar_answers_agents);
