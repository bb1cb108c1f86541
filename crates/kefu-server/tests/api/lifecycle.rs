//! Every ticket type walks from intake to archive over HTTP, with a complete
//! and intact audit trail; archived tickets are immutable.

use crate::common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn steps(ticket_type: &str) -> Vec<(&'static str, Value, &'static str)> {
    let close = vec![
        ("agent1", json!({"action": "notify_result", "method": "sms"}), "result_notified"),
        ("agent1", json!({"action": "confirm"}), "confirmed"),
        (
            "agent1",
            json!({"action": "return_visit", "method": "phone", "reached": true, "satisfaction": 5, "nps": 10}),
            "visited",
        ),
        ("supervisor1", json!({"action": "review", "passed": true, "comment": "合格"}), "reviewed"),
        ("supervisor1", json!({"action": "archive"}), "archived"),
    ];
    let handle = |assignee: &'static str| {
        vec![
            ("agent1", json!({"action": "dispatch", "assignee": assignee}), "dispatched"),
            (assignee, json!({"action": "start"}), "in_progress"),
            (assignee, json!({"action": "suspend", "reason": "等待客户补充资料"}), "suspended"),
            (assignee, json!({"action": "resume"}), "in_progress"),
            (assignee, json!({"action": "resolve", "result": "已处理完毕"}), "resolved"),
        ]
    };
    let mut v = match ticket_type {
        "unsubscribe" => {
            return vec![
                ("agent1", json!({"action": "approve"}), "operator_confirmed"),
                ("agent1", json!({"action": "resolve", "result": "已退订"}), "processed"),
                ("agent1", json!({"action": "notify_result", "method": "sms"}), "confirmation_sent"),
                ("supervisor1", json!({"action": "review", "passed": true}), "reviewed"),
                ("supervisor1", json!({"action": "archive"}), "archived"),
            ];
        }
        "business" => vec![
            ("agent1", json!({"action": "dispatch", "assignee": "engineer1"}), "dispatched"),
            ("supervisor1", json!({"action": "approve", "comment": "同意"}), "approved"),
            ("engineer1", json!({"action": "start"}), "in_progress"),
            ("engineer1", json!({"action": "resolve", "result": "套餐已变更"}), "resolved"),
        ],
        "complaint" => handle("specialist1"),
        _ => handle("engineer1"),
    };
    v.extend(close);
    v
}

async fn every_type_walks_to_archived_over_http(app: TestApp) {
    let types = ["complaint", "consultation", "business", "account", "service_request", "fault", "unsubscribe"];
    let channels = ["phone", "web", "app", "wechat", "sms", "email", "self_service", "store", "community", "onsite"];
    for (i, ticket_type) in types.iter().enumerate() {
        let mut body = ticket_body(ticket_type);
        body["channel"] = json!(channels[i % channels.len()]);
        let t = app.create("agent1", body).await;
        assert_eq!(t["status"], "accepted");
        assert_eq!(t["first_owner"]["username"], "agent1");
        assert!(t["number"].as_str().unwrap().starts_with("GD20261122"));
        let id = t["id"].clone();
        let path = steps(ticket_type);
        for (who, body, state) in &path {
            if body["action"] == "archive" {
                // The result notice must have gone out before the archive.
                (app.loop_jobs)().await;
            }
            let (s, b) = app.act(who, &id, body.clone()).await;
            assert_eq!(s, StatusCode::OK, "{ticket_type}: {body} by {who}: {b}");
            assert_eq!(b["status"], *state);
            assert_eq!(b["first_owner"]["username"], "agent1", "first owner stays");
        }
        let (_, events) = app.get("agent1", &format!("/api/v1/tickets/{id}/events")).await;
        let events = events.as_array().unwrap();
        assert_eq!(events.len(), path.len() + 1, "{ticket_type}");
        assert_eq!(events[0]["action"], "create");
        assert!(events.iter().all(|e| e["hash"].as_str().unwrap().len() == 64));
        // The chain links up as served; its content is masked per role, so
        // hashes are rechecked on the server (`kefu audit verify`).
        for pair in events.windows(2) {
            assert_eq!(pair[1]["prev_hash"], pair[0]["hash"]);
        }
        assert_eq!(events[0]["after"]["service_number"], "138****5678", "personal data masked in the audit view");
    }
    // Ten channels work; remaining channels on a consultation.
    for ch in &channels[7..] {
        let mut b = ticket_body("consultation");
        b["channel"] = json!(ch);
        assert_eq!(app.create("agent2", b).await["channel"], *ch);
    }
}

async fn archived_tickets_are_immutable(app: TestApp) {
    let t = app.create("agent1", ticket_body("unsubscribe")).await;
    let id = t["id"].clone();
    for (who, body, _) in steps("unsubscribe") {
        if body["action"] == "archive" {
            (app.loop_jobs)().await;
        }
        assert_eq!(app.act(who, &id, body).await.0, StatusCode::OK);
    }
    let (s, b) =
        app.act("supervisor1", &id, json!({"action": "set_priority", "priority": "urgent", "reason": "x"})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(b["error"]["code"], "ticket_archived");
    assert_eq!(b["error"]["details"]["allowed_actions"], json!([]));
    let (s, _) = app
        .post("supervisor1", &format!("/api/v1/tickets/{id}/comments"), json!({"body": "补充说明", "internal": true}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (_, got) = app.get("agent1", &format!("/api/v1/tickets/{}", t["number"].as_str().unwrap())).await;
    assert_eq!(got["status"], "archived");
    assert_eq!(got["allowed_actions"], json!([]));
    assert_eq!(app.get("agent1", &format!("/api/v1/tickets/{id}/events")).await.1.as_array().unwrap().len(), 6);
}

async fn consultation_resolved_at_first_contact_and_appeal_reopens(app: TestApp) {
    let t = app.create("agent1", ticket_body("consultation")).await;
    let id = t["id"].clone();
    assert!(t["allowed_actions"].as_array().unwrap().contains(&json!("resolve")));
    // Not agent2's ticket: to them it does not exist (need to know).
    let (s, _) = app.act("agent2", &id, json!({"action": "resolve", "result": "已答复"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, b) = app.act("agent1", &id, json!({"action": "resolve", "result": "已告知资费标准"})).await;
    assert_eq!((s, b["status"].as_str()), (StatusCode::OK, Some("resolved")));
    app.act("agent1", &id, json!({"action": "notify_result", "method": "phone"})).await;
    let (s, b) = app.act("agent1", &id, json!({"action": "appeal", "reason": "答复不清楚"})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["status"], "in_progress");
    assert_eq!(b["appeal_count"], 1);
    assert_eq!(b["assignee"]["username"], "agent1");
}

async fn transfers_are_recorded_and_served(app: TestApp) {
    let t = app.create("agent1", ticket_body("fault")).await;
    let id = t["id"].clone();
    app.act("agent1", &id, json!({"action": "dispatch", "assignee": "agent1"})).await;
    app.act("agent1", &id, json!({"action": "start"})).await;
    let (s, b) = app
        .act(
            "agent1",
            &id,
            json!({"action": "transfer", "to": "engineer1", "reason": "需上门检测线路", "mode": "system"}),
        )
        .await;
    assert_eq!((s, b["status"].as_str()), (StatusCode::OK, Some("transfer_pending")));
    assert_eq!(b["transfer_to"]["username"], "engineer1");
    let (s, b) = app.act("engineer1", &id, json!({"action": "accept_transfer"})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["assignee"]["username"], "engineer1");
    assert_eq!(b["tier"], 2);
    let (_, tr) = app.get("agent1", &format!("/api/v1/tickets/{id}/transfers")).await;
    assert_eq!(tr[0]["state"], "accepted");
    assert_eq!(tr[0]["reason"], "需上门检测线路");
    assert_eq!(tr[0]["mode"], "system");
}

async fn comments_and_lookups(app: TestApp) {
    let t = app.create("agent1", ticket_body("fault")).await;
    let id = t["id"].clone();
    app.act("agent1", &id, json!({"action": "dispatch", "assignee": "engineer1"})).await;
    let (s, _) = app
        .post(
            "engineer1",
            &format!("/api/v1/tickets/{id}/comments"),
            json!({"body": "@agent1 已联系客户，约明天上门", "internal": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, c) = app.get("agent1", &format!("/api/v1/tickets/{id}/comments")).await;
    assert_eq!(c[0]["internal"], true);
    let (_, customer) = app.get("agent1", "/api/v1/customers?phone=13812345678").await;
    assert_eq!(customer["name"], "张三");
    let (s, _) = app.get("agent1", "/api/v1/customers?phone=13900000000").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, flows) = app.get("agent1", "/api/v1/flows").await;
    assert_eq!(flows["flows"].as_array().unwrap().len(), 7);
    let (_, policy) = app.get("agent1", "/api/v1/policy").await;
    assert_eq!(policy["policy"]["priority"]["default"], "normal");
    // Priority was derived: a fault is urgent by the default policy.
    assert_eq!(t["priority"], "urgent");
}

async fn list_filters_over_http(app: TestApp) {
    for ty in ["fault", "complaint", "consultation"] {
        app.create("agent1", ticket_body(ty)).await;
    }
    let mut other = ticket_body("account");
    other["customer"]["phone"] = json!("010-12345678");
    other["channel"] = json!("web");
    let acc = app.create("agent2", other).await;
    // A supervisor sees every ticket; agents see theirs (need to know).
    let total = |q: &'static str| {
        let app = &app;
        async move { app.get("supervisor1", &format!("/api/v1/tickets?{q}")).await.1["total"].as_i64().unwrap() }
    };
    assert_eq!(total("type=fault").await, 1);
    assert_eq!(total("channel=web").await, 1);
    assert_eq!(total("first_owner=agent2").await, 1);
    assert_eq!(total("first_owner=agent1").await, 3);
    let mine = app.get("agent1", "/api/v1/tickets").await.1;
    assert_eq!(mine["total"], 3, "agent1 sees the three they registered, not agent2's");
    assert_eq!(total("customer_phone=01012345678").await, 1);
    assert_eq!(total("priority=urgent").await, 2);
    assert_eq!(total("status=accepted").await, 4);
    assert_eq!(total("q=%E6%8E%89%E7%BA%BF").await, 4);
    assert_eq!(total("created_from=2026-11-22T00:00:00Z&created_to=2026-11-22T23:00:00Z").await, 4);
    assert_eq!(total("overdue=true").await, 0);
    let number = acc["number"].as_str().unwrap();
    assert_eq!(
        app.get("supervisor1", &format!("/api/v1/tickets?number={number}")).await.1["items"][0]["type"],
        "account"
    );
    assert_eq!(app.get("agent1", &format!("/api/v1/tickets?number={number}")).await.1["total"], 0);
    let (_, page) = app.get("supervisor1", "/api/v1/tickets?per_page=3&page=2").await;
    assert_eq!(
        (page["items"].as_array().unwrap().len(), page["page"].as_i64(), page["per_page"].as_i64()),
        (1, Some(2), Some(3))
    );
}

async fn openapi_health_and_metrics(mut app: TestApp) {
    let (s, doc) = app.call(None, reqwest::Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with('3'));
    for p in ["/api/v1/tickets", "/api/v1/tickets/{id}/actions", "/api/v1/auth/login", "/api/v1/flows"] {
        assert!(doc["paths"].get(p).is_some(), "{p} missing from OpenAPI");
    }
    assert_eq!(app.call(None, reqwest::Method::GET, "/healthz", None, None).await.1["status"], "ok");
    app.get("agent1", "/api/v1/tickets").await;
    let (s, _) = app.call(None, reqwest::Method::GET, "/metrics", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "metrics are not public");
    let (_, m) = app.get("admin", "/metrics").await;
    let m = m.as_str().unwrap().to_string();
    assert!(m.contains(r#"kefu_http_requests_total{method="GET",route="/api/v1/tickets",status="200"} 1"#), "{m}");
    assert!(m.contains("kefu_http_request_duration_seconds_bucket"));
    assert!(m.contains("kefu_ready 1"), "{m}");
    assert!(m.contains(r#"kefu_job_lag_seconds{job="sla_alerts"} 0.000"#), "nothing due yet: {m}");
    let (s, page) = app.call(None, reqwest::Method::GET, "/", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.as_str().unwrap().contains("客服工单系统"));

    // A ticket's first SLA alert falls due and no watcher runs: the lag shows.
    app.create("agent1", ticket_body("complaint")).await;
    app.clock.advance(chrono::Duration::days(2));
    app.relogin("admin").await;
    let (_, m) = app.get("admin", "/metrics").await;
    let lag: f64 = m
        .as_str()
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(r#"kefu_job_lag_seconds{job="sla_alerts"} "#))
        .expect("sla lag line")
        .parse()
        .unwrap();
    assert!(lag > 3_600.0, "an alert due for a day lags by {lag} s");

    let (s, r) = app.call(None, reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!((s, r["status"].as_str()), (StatusCode::OK, Some("ready")));
    (app.begin_shutdown)();
    let (s, r) = app.call(None, reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{r}");
    assert_eq!(r["problems"][0]["check"], "shutdown", "{r}");
    assert!(r["problems"][0]["message_zh"].as_str().unwrap().contains("停止"));
}

both_stores!(
    policy = manual_dispatch();
    every_type_walks_to_archived_over_http,
    archived_tickets_are_immutable,
    consultation_resolved_at_first_contact_and_appeal_reopens,
    transfers_are_recorded_and_served,
    comments_and_lookups,
    list_filters_over_http,
    openapi_health_and_metrics,
);
