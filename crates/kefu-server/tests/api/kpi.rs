//! KPI reports over HTTP: every figure on a hand-built week of
//! tickets with known answers — pauses, a transfer to another hand, a
//! withdrawn ticket, a repeat contact, ratings — read from the rollups the
//! job keeps, grouped by person and by day; figures recorded before a
//! calendar edit stay as they were; who may read what.

use crate::common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn kpi(app: &TestApp, who: &str, query: &str) -> Value {
    let (s, b) = app.get(who, &format!("/api/v1/reports/kpi?from=2026-11-23&to=2026-11-30&{query}")).await;
    assert_eq!(s, StatusCode::OK, "{query}: {b}");
    b
}

async fn total(app: &TestApp, metric: &str) -> Value {
    kpi(app, "supervisor1", &format!("metric={metric}")).await
}

fn one<'a>(report: &'a Value, key: &str) -> &'a Value {
    report["items"].as_array().unwrap().iter().find(|i| i["key"] == key).unwrap_or_else(|| panic!("{key}: {report}"))
}

fn close(v: &Value, want: f64) -> bool {
    v.as_f64().is_some_and(|x| (x - want).abs() < 1e-6)
}

/// The week: T1 (customer A) resolved by agent1 alone; T2 given to the
/// engineer, suspended a day, resolved two days in; T3 withdrawn; T4
/// customer A again two days after T1 (so T1 was not resolved at first
/// contact), left open; T5 resolved by agent1 alone. T1 and T5 rated.
async fn the_week(app: &mut TestApp) -> Vec<Value> {
    let mut ids = Vec::new();
    go(app, 23, 9, 0).await;
    let t1 = app.create("agent1", fault_body("13800000001")).await["id"].clone();
    step(app, "agent1", &t1, json!({"action": "dispatch", "assignee": "agent1"})).await;
    go(app, 23, 9, 30).await;
    step(app, "agent1", &t1, json!({"action": "start"})).await;
    go(app, 23, 11, 0).await;
    step(app, "agent1", &t1, json!({"action": "resolve", "result": "已远程恢复"})).await;
    go(app, 23, 12, 0).await;
    let t2 = app.create("agent1", fault_body("13800000002")).await["id"].clone();
    step(app, "agent1", &t2, json!({"action": "dispatch", "assignee": "engineer1"})).await;
    go(app, 23, 14, 0).await;
    step(app, "engineer1", &t2, json!({"action": "start"})).await;
    go(app, 23, 15, 0).await;
    step(app, "engineer1", &t2, json!({"action": "suspend", "reason": "等待客户在家"})).await;
    go(app, 24, 15, 0).await;
    step(app, "engineer1", &t2, json!({"action": "resume"})).await;
    go(app, 25, 12, 0).await;
    step(app, "engineer1", &t2, json!({"action": "resolve", "result": "已更换光猫"})).await;
    go(app, 25, 13, 0).await;
    let t3 = app.create("agent1", fault_body("13800000003")).await["id"].clone();
    go(app, 25, 13, 10).await;
    step(app, "agent1", &t3, json!({"action": "withdraw", "reason": "客户已自行解决"})).await;
    go(app, 25, 14, 0).await;
    let t4 = app.create("agent1", fault_body("13800000001")).await["id"].clone();
    go(app, 25, 15, 0).await;
    let t5 = app.create("agent1", fault_body("13800000005")).await["id"].clone();
    step(app, "agent1", &t5, json!({"action": "dispatch", "assignee": "agent1"})).await;
    go(app, 25, 15, 10).await;
    step(app, "agent1", &t5, json!({"action": "start"})).await;
    go(app, 25, 15, 30).await;
    step(app, "agent1", &t5, json!({"action": "resolve", "result": "已解答"})).await;
    for (id, rating, nps) in [(&t1, 3, 5), (&t5, 5, 10)] {
        step(app, "agent1", id, json!({"action": "notify_result", "method": "phone"})).await;
        step(app, "agent1", id, json!({"action": "confirm"})).await;
        let visit =
            json!({"action": "return_visit", "method": "phone", "reached": true, "satisfaction": rating, "nps": nps});
        step(app, "agent1", id, visit).await;
    }
    ids.extend([t1, t2, t3, t4, t5]);
    ids
}

async fn every_figure_of_a_known_week(mut app: TestApp) {
    let ids = the_week(&mut app).await;
    go(&mut app, 26, 9, 0).await;
    assert!((app.rollup)(None).await >= 5);
    let fig = |r: &Value| (r["items"][0]["value"].clone(), r["items"][0]["n"].as_i64().unwrap());

    // Registered: four (the withdrawn one is left out); nobody transferred.
    let (v, n) = fig(&total(&app, "transfer_rate").await);
    assert!(close(&v, 0.0) && n == 4, "{v} {n}");
    // Resolved: T1, T2, T5. First contact: T5 only (T1 repeated, T2 another hand).
    let (v, n) = fig(&total(&app, "first_contact_resolution").await);
    assert!(close(&v, 1.0 / 3.0) && n == 3, "{v} {n}");
    let (v, _) = fig(&total(&app, "one_touch_rate").await);
    assert!(close(&v, 2.0 / 3.0), "{v}");
    let (v, _) = fig(&total(&app, "resolved_in_limit_rate").await);
    assert!(close(&v, 2.0 / 3.0), "{v}");
    // Resolution time, natural, less the day suspended: 2 h, 24 h, 0.5 h.
    let r = total(&app, "resolution_time").await;
    let item = &r["items"][0];
    assert!(close(&item["value"], 26.5 / 3.0) && close(&item["natural"], 26.5 / 3.0), "{r}");
    // Working-day time: the same here (Monday to Wednesday are working days).
    assert!(close(&item["working"], 26.5 / 3.0), "{r}");
    // First response (registration day): 0.5 h, 2 h, 10 min; T4 has none yet.
    let (v, n) = fig(&total(&app, "first_response_time").await);
    assert!(close(&v, (0.5 + 2.0 + 1.0 / 6.0) / 3.0) && n == 3, "{v} {n}");
    // Handling: first response to resolution less the pause: 1.5 h, 22 h, 20 min.
    let (v, _) = fig(&total(&app, "handling_time").await);
    assert!(close(&v, (1.5 + 22.0 + 1.0 / 3.0) / 3.0), "{v}");
    // Ratings 3 and 5, NPS 5 (detractor) and 10 (promoter).
    assert!(close(&fig(&total(&app, "satisfaction_average").await).0, 4.0));
    assert!(close(&fig(&total(&app, "satisfaction_rate").await).0, 0.5));
    assert!(close(&fig(&total(&app, "nps").await).0, 0.0));
    assert!(close(&fig(&total(&app, "visit_coverage").await).0, 2.0 / 3.0));
    assert!(close(&fig(&total(&app, "complaint_rate").await).0, 0.0));
    // The backlog now: T4, under a day old.
    let b = total(&app, "backlog_age").await;
    assert_eq!(b["items"][0]["buckets"][0], 1, "{b}");
    assert_eq!(b["bucket_labels"][0], "≤1天", "{b}");

    // By person: who resolved it.
    let r = kpi(&app, "supervisor1", "metric=resolution_time&group_by=agent").await;
    let eng = one(&r, &user_id(&app, "engineer1").await);
    assert!(close(&eng["value"], 24.0) && eng["n"] == 1 && eng["label"].as_str().unwrap().contains("engineer1"), "{r}");
    // A person crossed with a category (no cell grain holds it) reads the
    // person's kept facts: the same figures.
    let crossed = kpi(&app, "supervisor1", "metric=resolution_time&group_by=agent&channel=phone").await;
    assert_eq!(crossed["items"], r["items"], "{crossed}");
    let r = kpi(&app, "supervisor1", "metric=first_contact_resolution&agent=agent1&type=fault&group_by=day").await;
    assert!(close(&one(&r, "2026-11-25")["value"], 1.0) && close(&one(&r, "2026-11-23")["value"], 0.0), "{r}");
    // By day, every day of the period listed, empty ones too.
    let r = kpi(&app, "supervisor1", "metric=transfer_rate&group_by=day").await;
    assert_eq!(r["items"].as_array().unwrap().len(), 8, "{r}");
    assert_eq!((one(&r, "2026-11-23")["n"].as_i64(), one(&r, "2026-11-25")["n"].as_i64()), (Some(2), Some(2)));
    assert!(one(&r, "2026-11-24")["value"].is_null());
    // By channel, labelled in words; the target beside each figure.
    let r = kpi(&app, "supervisor1", "metric=resolved_in_limit_rate&group_by=channel").await;
    assert_eq!((one(&r, "phone")["label"].as_str(), one(&r, "phone")["met"].as_bool()), (Some("电话"), Some(false)));
    assert!(close(&r["target"]["value"], 0.95));

    // The console draws the same figures as a chart and a table, worded.
    let cookie = console_login(&app, "supervisor1").await;
    let (s, html) =
        console_get(&app, &cookie, "/console/reports?metric=transfer_rate&group_by=day&from=2026-11-23&to=2026-11-30")
            .await;
    assert_eq!(s, StatusCode::OK, "{html}");
    for words in ["<svg class=\"chart columns\"", "id=\"kpi-table\"", "转派率", "2026-11-25", "0.0%"] {
        assert!(html.contains(words), "{words}: {html}");
    }
    let (_, html) = console_get(
        &app,
        &cookie,
        "/console/reports?metric=resolution_time&group_by=agent&from=2026-11-23&to=2026-11-30",
    )
    .await;
    assert!(html.contains("24.0 小时") && html.contains("/console/reports/scorecard?agent="), "{html}");
    // An agent's own page: every KPI against its target.
    let agent = console_login(&app, "agent1").await;
    let (s, html) = console_get(&app, &agent, "/console/reports/scorecard?from=2026-11-23&to=2026-11-30").await;
    assert_eq!(s, StatusCode::OK, "{html}");
    for words in ["首问解决率", "id=\"card-nps\"", "agent1", "未达标"] {
        assert!(html.contains(words), "{words}: {html}");
    }
    let (s, _) =
        console_get(&app, &agent, &format!("/console/reports/scorecard?agent={}", user_id(&app, "engineer1").await))
            .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // The calendar is edited after the fact (Tuesday declared a holiday)
    // and T2 changes again: the working time recorded stays.
    let mut cal = include_str!("../../../kefu-domain/calendar/2026.toml").to_string();
    cal.push_str("\n[[holidays]]\nname = \"临时调整\"\nfrom = \"2026-11-24\"\nto = \"2026-11-24\"\n");
    let edited = kefu_domain::calendar::Calendar::load(&[("2026.toml".into(), cal)]).unwrap();
    assert!(!edited.is_working_day("2026-11-24".parse().unwrap()).unwrap());
    step(&app, "agent1", &ids[1], json!({"action": "notify_result", "method": "phone"})).await;
    go(&mut app, 26, 10, 0).await;
    assert!((app.rollup)(Some(edited)).await >= 1);
    let r = total(&app, "resolution_time").await;
    assert!(close(&r["items"][0]["working"], 26.5 / 3.0), "{r}");
    // Nothing counted twice by the second pass.
    assert_eq!(fig(&total(&app, "transfer_rate").await).1, 4);
}

async fn user_id(app: &TestApp, username: &str) -> String {
    let (_, users) = app.get("admin", "/api/v1/users").await;
    let list = users["items"].as_array().or(users.as_array()).unwrap().clone();
    list.iter().find(|u| u["username"] == username).unwrap()["id"].to_string()
}

async fn each_reads_what_their_role_allows(mut app: TestApp) {
    the_week(&mut app).await;
    (app.rollup)(None).await;
    // An agent reads their own figures, whatever they ask to group by.
    let r = kpi(&app, "agent1", "metric=resolution_time&group_by=agent").await;
    let keys: Vec<&Value> = r["items"].as_array().unwrap().iter().map(|i| &i["key"]).collect();
    assert_eq!(keys, vec![&json!(user_id(&app, "agent1").await)], "{r}");
    let (s, b) = app.get("agent2", "/api/v1/reports/kpi?metric=resolution_time&agent=agent1").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    // Supervisors and inspectors read everyone.
    for who in ["supervisor1", "inspector1"] {
        let r = kpi(&app, who, "metric=resolution_time&group_by=agent").await;
        assert_eq!(r["items"].as_array().unwrap().len(), 2, "{who}: {r}");
    }
    // Nobody without a login.
    let (s, _) = app.call(None, reqwest::Method::GET, "/api/v1/reports/kpi?metric=nps", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Bad questions are named, in both languages.
    for (query, field) in [
        ("metric=nope", "metric"),
        ("metric=nps&group_by=hour", "group_by"),
        ("metric=nps&from=2026-13-01", "from"),
        ("metric=nps&from=2026-11-30&to=2026-11-01", "to"),
        ("metric=nps&channel=pigeon", "channel"),
        ("metric=backlog&group_by=day", "group_by"),
        ("metric=on_time_rate.nope", "metric"),
    ] {
        let (s, b) = app.get("supervisor1", &format!("/api/v1/reports/kpi?{query}")).await;
        assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(field)), "{query}: {b}");
        assert!(b["error"]["message_zh"].as_str().is_some_and(|m| !m.is_empty()), "{b}");
    }
}

async fn every_figure_of_a_known_week_manual(backend: Backend) {
    every_figure_of_a_known_week(spawn_app_with(backend, manual_dispatch()).await).await;
}

async fn each_reads_what_their_role_allows_manual(backend: Backend) {
    each_reads_what_their_role_allows(spawn_app_with(backend, manual_dispatch()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_figure_of_a_known_week_sqlite() {
    every_figure_of_a_known_week_manual(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_figure_of_a_known_week_postgres() {
    every_figure_of_a_known_week_manual(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_reads_what_their_role_allows_sqlite() {
    each_reads_what_their_role_allows_manual(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_reads_what_their_role_allows_postgres() {
    each_reads_what_their_role_allows_manual(Backend::Postgres).await;
}
