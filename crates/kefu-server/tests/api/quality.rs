//! Quality and assessment over HTTP: stores inspected
//! and graded under the quotas (19 stores, then 20); a month of QA reviews,
//! a calibration that does not count, an innovation entry and the KPIs
//! weighed into a ranking checked by hand; scorecard versions pinned by
//! the reviews that used them; who may do and read what.

use crate::common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;

async fn card(app: &TestApp, key: &str) -> Value {
    let (s, b) = app.get("agent1", &format!("/api/v1/quality/scorecards/{key}")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b
}

/// Full points on every standard and red-line item, except those given.
fn answers(card: &Value, given: &[(&str, Value, Option<&str>)]) -> Value {
    let mut out = Vec::new();
    let given: HashMap<&str, (&Value, Option<&str>)> = given.iter().map(|(k, v, r)| (*k, (v, *r))).collect();
    for s in card["sections"].as_array().unwrap() {
        let required = matches!(s["kind"].as_str(), Some("standard" | "red_line"));
        for i in s["items"].as_array().unwrap() {
            let key = i["key"].as_str().unwrap();
            match given.get(key) {
                Some((points, reason)) => out.push(json!({"item": key, "points": points, "reason": reason})),
                None if required => out.push(json!({"item": key, "points": i["points"]})),
                None => {}
            }
        }
    }
    Value::Array(out)
}

/// Items of the store checklist that need no reason, in order, with their points.
const NO_REASON: &[(&str, f64)] = &[
    ("signage", 5.0),
    ("cleanliness", 5.0),
    ("materials", 5.0),
    ("uniform", 5.0),
    ("greeting", 5.0),
    ("receipt", 5.0),
    ("waiting_time", 10.0),
    ("guidance", 5.0),
    ("screens", 10.0),
];

/// An inspection scoring `score` (≥ 45): points lost on items needing no reason.
fn scoring(card: &Value, score: f64) -> Value {
    let mut lose = 100.0 - score;
    let mut given = Vec::new();
    for (item, points) in NO_REASON {
        if lose <= 0.0 {
            break;
        }
        let take = lose.min(*points);
        given.push((*item, json!(((points - take) * 100.0).round() / 100.0), None));
        lose -= take;
    }
    answers(card, &given)
}

async fn inspect(app: &TestApp, store: &str, items: Value) -> (StatusCode, Value) {
    app.post(
        "inspector1",
        &format!("/api/v1/stores/{store}/inspections"),
        json!({"scorecard": "store_inspection", "period": "2026-11", "items": items}),
    )
    .await
}

async fn stores_are_inspected_and_graded_under_the_quotas(app: TestApp) {
    let c = card(&app, "store_inspection").await;
    assert_eq!(c["version"], 1);
    assert_eq!(c["standard_points"], 100.0);
    // 19 stores in two regions.
    for n in 1..=19 {
        let region = if n <= 10 { "广州" } else { "深圳" };
        let (s, b) = app
            .post(
                "inspector1",
                "/api/v1/stores",
                json!({"code": format!("S{n:02}"), "name": format!("第{n}营业厅"), "region": region}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let (s, b) =
        app.post("inspector1", "/api/v1/stores", json!({"code": "s01", "name": "重复", "region": "广州"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "codes are case-folded: {b}");
    let (s, b) =
        app.post("inspector1", "/api/v1/stores", json!({"code": "天河 1", "name": "x", "region": "广州"})).await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("code")), "{b}");
    let (s, _) = app.post("agent1", "/api/v1/stores", json!({"code": "A1", "name": "x", "region": "广州"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Each store's score gives its grade before quotas.
    let scores = [
        99.0, 98.0, 97.0, 96.0, 95.0, 93.0, 92.0, 91.0, 85.0, 85.0, 85.0, 85.0, 85.0, 85.0, 85.0, 85.0, 85.0, 70.0,
        60.0,
    ];
    for (n, score) in scores.iter().enumerate() {
        let (s, b) = inspect(&app, &format!("S{:02}", n + 1), scoring(&c, *score)).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        assert_eq!(b["score"], *score, "{b}");
        let want = match score {
            s if *s >= 95.0 => ("excellent", "优秀"),
            s if *s >= 90.0 => ("good", "良好"),
            s if *s >= 80.0 => ("compliant", "达标"),
            _ => ("failing", "不达标"),
        };
        assert_eq!((b["grade"].as_str().unwrap(), b["grade_label"].as_str().unwrap()), want, "{b}");
        assert_eq!(b["version"], 1);
        assert!(b["id"].as_i64().is_some());
    }

    // 19 stores: 5 % is no 优秀, 20 % is three 良好 — the best three by rank.
    let (s, g) = app.post("supervisor1", "/api/v1/stores/grading", json!({"period": "2026-11"})).await;
    assert_eq!(s, StatusCode::OK, "{g}");
    assert_eq!(g["stores"], 19);
    assert_eq!(g["quotas"], json!({"excellent": 0, "good": 3}));
    assert_eq!(g["counts"], json!({"excellent": 0, "good": 3, "compliant": 14, "failing": 2}), "{g}");
    let graded = g["graded"].as_array().unwrap();
    let row = |code: &str| graded.iter().find(|r| r["code"] == code).unwrap().clone();
    assert_eq!((row("S01")["rank"].clone(), row("S01")["grade"].clone()), (json!(1), json!("good")));
    assert_eq!(row("S03")["grade"], "good");
    assert_eq!(row("S04")["earned"], "excellent");
    assert_eq!(row("S04")["grade"], "compliant", "demoted by rank: {g}");
    assert_eq!(row("S04")["demoted"], true);
    assert_eq!(row("S04")["grade_label"], "达标");
    assert_eq!(row("S09")["rank"], row("S17")["rank"], "equal scores share a rank");
    assert_eq!(row("S19")["grade"], "failing");
    let (s, kept) = app.get("agent1", "/api/v1/stores/grading?period=2026-11").await;
    assert_eq!((s, &kept["counts"]), (StatusCode::OK, &g["counts"]));
    let (s, league) = app.get("supervisor1", "/api/v1/stores/league?period=2026-11").await;
    assert_eq!(s, StatusCode::OK);
    let regions: Vec<&str> =
        league["items"].as_array().unwrap().iter().map(|r| r["region"].as_str().unwrap()).collect();
    assert_eq!(regions, ["广州", "深圳"], "best mean first: {league}");

    // A 20th store: one 优秀 place and four 良好.
    app.post("inspector1", "/api/v1/stores", json!({"code": "S20", "name": "第20营业厅", "region": "深圳"})).await;
    inspect(&app, "S20", scoring(&c, 88.0)).await;
    let (_, g) = app.post("inspector1", "/api/v1/stores/grading", json!({"period": "2026-11"})).await;
    assert_eq!(g["quotas"], json!({"excellent": 1, "good": 4}));
    assert_eq!(g["counts"], json!({"excellent": 1, "good": 4, "compliant": 13, "failing": 2}), "{g}");
    // Two inspections of a store in the period: their mean.
    inspect(&app, "S20", scoring(&c, 92.0)).await;
    let (_, g) = app.post("inspector1", "/api/v1/stores/grading", json!({"period": "2026-11"})).await;
    let s20 = g["graded"].as_array().unwrap().iter().find(|r| r["code"] == "S20").unwrap().clone();
    assert_eq!((s20["score"].clone(), s20["inspections"].clone()), (json!(90.0), json!(2)));
    // A quarter covers its months.
    let (_, q) = app.post("inspector1", "/api/v1/stores/grading", json!({"period": "2026-Q4"})).await;
    assert_eq!(q["stores"], 20, "{q}");

    // A red line failed: 0, whatever else; it needs its reason.
    let failed = answers(&c, &[("without_consent", json!(0), None)]);
    let (s, b) = inspect(&app, "S05", failed).await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("items[15].reason")), "{b}");
    let failed = answers(&c, &[("without_consent", json!(0), Some("未经同意开通视频会员"))]);
    let (s, b) = inspect(&app, "S05", failed).await;
    assert_eq!((s, b["score"].clone(), b["grade"].clone()), (StatusCode::CREATED, json!(0.0), json!("failing")), "{b}");
    assert_eq!(b["red_lines_failed"], json!(["without_consent"]));
    // N/A drops out; bonus and deductions within their caps.
    let mixed = answers(
        &c,
        &[
            ("facilities", json!("na"), None),
            ("cleanliness", json!(0), None),
            ("innovation", json!(3), None),
            ("praise", json!(2), None),
            ("upheld_complaint", json!(-10), Some("11月投诉查实")),
        ],
    );
    let (s, b) = inspect(&app, "S06", mixed).await;
    // 90 of 95 rated points = 94.74, + 5 bonus, − 10 = 89.74.
    assert_eq!(
        (s, b["score"].clone(), b["grade"].clone()),
        (StatusCode::CREATED, json!(89.74), json!("compliant")),
        "{b}"
    );
    // Mystery shopping is a store card too; a review card is not.
    let m = card(&app, "mystery_shopping").await;
    let (s, b) = app
        .post(
            "inspector1",
            "/api/v1/stores/S07/inspections",
            json!({"scorecard": "mystery_shopping", "period": "2026-11", "items": answers(&m, &[])}),
        )
        .await;
    assert_eq!((s, b["score"].clone()), (StatusCode::CREATED, json!(100.0)), "{b}");
    let r = card(&app, "ticket_review").await;
    let (s, b) = app
        .post(
            "inspector1",
            "/api/v1/stores/S07/inspections",
            json!({"scorecard": "ticket_review", "period": "2026-11", "items": answers(&r, &[])}),
        )
        .await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("scorecard")), "{b}");

    // Refusals name the field; nothing is kept.
    let before = app.get("inspector1", "/api/v1/stores/S08/inspections").await.1["items"].as_array().unwrap().len();
    for (body, field) in [
        (json!({"period": "2026-11", "items": []}), "items"),
        (json!({"period": "2026-13", "items": answers(&c, &[])}), "period"),
        (json!({"period": "2026-11", "items": answers(&c, &[("signage", json!("五"), None)])}), "items[0].points"),
        (json!({"period": "2026-11", "items": answers(&c, &[("signage", json!(6), None)])}), "items[0].points"),
        (json!({"period": "2026-11", "items": [{"item": "signage", "points": 5}]}), "items"),
        (json!({"period": "2026-11", "items": answers(&c, &[]), "colour": "red"}), "colour"),
        (json!({"period": "2026-11", "items": [{"item": "nope", "points": 1}]}), "items[0].item"),
    ] {
        let (s, b) = app.post("inspector1", "/api/v1/stores/S08/inspections", body.clone()).await;
        assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(field)), "{body}: {b}");
        assert!(b["error"]["message_zh"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let after = app.get("inspector1", "/api/v1/stores/S08/inspections").await.1["items"].as_array().unwrap().len();
    assert_eq!(before, after);
    // A retried inspection (same Idempotency-Key) is kept once; the key
    // with another body is refused.
    let once = json!({"period": "2026-11", "items": answers(&c, &[])});
    let post = |b: Value| {
        app.call(Some("inspector1"), reqwest::Method::POST, "/api/v1/stores/S08/inspections", Some(b), Some("insp-1"))
    };
    let (s1, a) = post(once.clone()).await;
    let (s2, b) = post(once.clone()).await;
    assert_eq!((s1, s2, a["id"].clone()), (StatusCode::CREATED, StatusCode::CREATED, b["id"].clone()), "{a} {b}");
    let (s, _) = post(json!({"period": "2026-10", "items": answers(&c, &[])})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let after_retry =
        app.get("inspector1", "/api/v1/stores/S08/inspections").await.1["items"].as_array().unwrap().len();
    assert_eq!(after_retry, before + 1);
    let (s, _) = inspect(&app, "NOPE", answers(&c, &[])).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .post("agent1", "/api/v1/stores/S08/inspections", json!({"period": "2026-11", "items": answers(&c, &[])}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, b) = app.post("inspector1", "/api/v1/stores/grading", json!({"period": "十一月"})).await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("period")));
}

/// A store failing an inspection owes a rectification due in working days;
/// the store reports it, the next inspection re-checks it (passing closes
/// it, failing opens the next); tickets taken at a store are listed by it.
async fn failing_stores_rectify_and_list_their_tickets(mut app: TestApp) {
    let c = card(&app, "store_inspection").await;
    for code in ["S01", "S02"] {
        let (s, b) = app
            .post("inspector1", "/api/v1/stores", json!({"code": code, "name": "天河营业厅", "region": "广州"}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    // Monday 2 November, 10:00: S01 fails at 70.
    go(&mut app, 2, 10, 0).await;
    let (s, failed) = inspect(&app, "S01", scoring(&c, 70.0)).await;
    assert_eq!((s, failed["grade"].as_str()), (StatusCode::CREATED, Some("failing")), "{failed}");
    let (s, store) = app.get("agent1", "/api/v1/stores/S01").await;
    assert_eq!(s, StatusCode::OK, "{store}");
    let task = store["rectifications"][0].clone();
    assert_eq!((task["inspection"].clone(), task["state"].as_str()), (failed["id"].clone(), Some("open")), "{task}");
    assert_eq!(task["state_label"], "待整改");
    // Ten working days: 2 November + 10 = 16 November (no holiday between).
    assert_eq!(
        task["due_at"].as_str(),
        Some(at(16, 10, 0).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).as_deref(),
        "{task}"
    );
    let lost: Vec<&str> =
        task["failed_items"].as_array().unwrap().iter().map(|i| i["item"].as_str().unwrap()).collect();
    assert!(lost.starts_with(&["signage", "cleanliness"]), "{lost:?}");
    let (_, pending) = app.get("inspector1", "/api/v1/stores/rectifications").await;
    assert_eq!(pending["items"].as_array().unwrap().len(), 1, "{pending}");
    let (_, overdue) = app.get("inspector1", "/api/v1/stores/rectifications?state=overdue").await;
    assert_eq!(overdue["items"], json!([]));
    let (s, b) = app.get("inspector1", "/api/v1/stores/rectifications?state=late").await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("state")));
    go(&mut app, 17, 9, 0).await;
    let (_, overdue) = app.get("inspector1", "/api/v1/stores/rectifications?state=overdue").await;
    assert_eq!(overdue["items"].as_array().unwrap().len(), 1, "past its working-day deadline: {overdue}");

    // The store reports it, once, with a note; the inspector does not.
    let path = format!("/api/v1/stores/s01/rectifications/{}/report", failed["id"]);
    let (s, b) = app.post("agent1", &path, json!({"note": "  "})).await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("note")), "{b}");
    let (s, _) = app.post("inspector1", &path, json!({"note": "已整改"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, b) = app.post("agent1", &path, json!({"note": "已更换破损标识，清洁到位"})).await;
    assert_eq!(
        (s, b["state"].as_str(), b["overdue"].as_bool()),
        (StatusCode::OK, Some("reported"), Some(false)),
        "{b}"
    );
    assert_eq!(b["report"]["note"], "已更换破损标识，清洁到位");
    let (s, _) = app.post("agent1", &path, json!({"note": "again"})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = app.post("agent1", "/api/v1/stores/S01/rectifications/999999/report", json!({"note": "x"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The re-inspection passes: the task is closed by it.
    let (_, again) = inspect(&app, "S01", scoring(&c, 88.0)).await;
    let (_, store) = app.get("agent1", "/api/v1/stores/S01").await;
    let task = &store["rectifications"][0];
    assert_eq!(
        (task["state"].as_str(), task["rechecked_by"].clone()),
        (Some("passed"), again["id"].clone()),
        "{store}"
    );
    // S02 fails twice: the first task fails its re-check, the second is open.
    let (_, first) = inspect(&app, "S02", scoring(&c, 60.0)).await;
    go(&mut app, 18, 9, 0).await;
    let (_, second) = inspect(&app, "S02", scoring(&c, 75.0)).await;
    let (_, pending) = app.get("inspector1", "/api/v1/stores/rectifications").await;
    let states: Vec<(Value, &str)> = pending["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["inspection"].clone(), t["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states, [(second["id"].clone(), "open")]);
    let (_, all) = app.get("inspector1", "/api/v1/stores/rectifications?state=all").await;
    let failed_first =
        all["items"].as_array().unwrap().iter().find(|t| t["inspection"] == first["id"]).unwrap().clone();
    assert_eq!(failed_first["state_label"], "复查未通过");

    // Tickets taken at a store name it (any width or case) and are listed by it.
    let mut body = fault_body("13800138001");
    body["channel"] = json!("store");
    body["store"] = json!("ｓ01");
    let t = app.create("agent1", body.clone()).await;
    assert_eq!(t["store"], "S01");
    for bad in ["S99", "天河"] {
        body["store"] = json!(bad);
        let (s, b) = app.post("agent1", "/api/v1/tickets", body.clone()).await;
        assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("store")), "{bad}: {b}");
    }
    app.create("agent1", fault_body("13800138002")).await;
    let (s, list) = app.get("agent1", "/api/v1/tickets?store=s01").await;
    assert_eq!((s, list["total"].clone()), (StatusCode::OK, json!(1)), "{list}");
    let (_, store) = app.get("supervisor1", "/api/v1/stores/S01").await;
    assert_eq!(store["tickets"]["total"], 1);
    assert_eq!(store["tickets"]["complaints"], 0);
    assert_eq!(store["tickets"]["recent"][0]["number"], t["number"]);
    let cookie = console_login(&app, "supervisor1").await;
    let (s, page) = console_get(&app, &cookie, "/console/stores/S01").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("复查通过") && page.contains(t["number"].as_str().unwrap()), "{page}");
    let (_, page) = console_get(&app, &cookie, "/console/stores").await;
    assert!(page.contains("待整改") && page.contains("S02"), "{page}");
    let (_, page) = console_get(&app, &cookie, &format!("/console/tickets/{}", t["number"].as_str().unwrap())).await;
    assert!(page.contains("营业厅") && page.contains("S01"), "the ticket names its store: {page}");
}

/// A ticket of `who`'s registered and dispatched to them at (day, hour, minute).
async fn open(app: &mut TestApp, who: &str, phone: &str, when: (u32, u32, u32)) -> Value {
    go(app, when.0, when.1, when.2).await;
    let t = app.create(who, fault_body(phone)).await;
    step(app, who, &t["id"], json!({"action": "dispatch", "assignee": who})).await;
    t
}

async fn then(app: &mut TestApp, who: &str, t: &Value, action: &str, when: (u32, u32, u32)) {
    go(app, when.0, when.1, when.2).await;
    let body = match action {
        "resolve" => json!({"action": "resolve", "result": "已处理"}),
        a => json!({"action": a}),
    };
    step(app, who, &t["id"], body).await;
}

/// Registered, started and resolved by `who`, clock moving forward only.
async fn handled(app: &mut TestApp, who: &str, phone: &str, times: [(u32, u32, u32); 3]) -> Value {
    let t = open(app, who, phone, times[0]).await;
    then(app, who, &t, "start", times[1]).await;
    then(app, who, &t, "resolve", times[2]).await;
    t
}

async fn review(app: &TestApp, who: &str, ticket: &Value, items: Value) -> Value {
    let (s, b) = app.post(who, "/api/v1/quality/reviews", json!({"ticket": ticket["number"], "items": items})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b
}

fn component<'a>(row: &'a Value, key: &str) -> &'a Value {
    row["components"].as_array().unwrap().iter().find(|c| c["key"] == key).unwrap()
}

/// One whole month: four tickets, reviews, a calibration, an innovation
/// entry → the ranking, every figure worked by hand.
async fn a_month_of_reviews_ranks_the_agents(mut app: TestApp) {
    // Monday 23 November: agent1 starts each of T1 and T2 half an hour in and
    // resolves both that morning; agent2 starts T3 an hour in and resolves
    // it Wednesday (50 hours: over the 24-hour limit), T4 the same afternoon.
    let t1 = handled(&mut app, "agent1", "13800000001", [(23, 9, 0), (23, 9, 30), (23, 11, 0)]).await;
    let t2 = handled(&mut app, "agent1", "13800000002", [(23, 11, 0), (23, 11, 30), (23, 12, 0)]).await;
    let t3 = open(&mut app, "agent2", "13800000003", (23, 14, 0)).await;
    then(&mut app, "agent2", &t3, "start", (23, 15, 0)).await;
    let t4 = handled(&mut app, "agent2", "13800000004", [(23, 16, 0), (23, 16, 30), (23, 17, 0)]).await;
    then(&mut app, "agent2", &t3, "resolve", (25, 16, 0)).await;
    let c = card(&app, "ticket_review").await;
    // agent1: 90 and 100 (mean 95); agent2: 80.
    let r1 = review(&app, "inspector1", &t1, answers(&c, &[("accuracy", json!(15), Some("资费解释不完整"))])).await;
    assert_eq!((r1["score"].clone(), r1["version"].clone()), (json!(90.0), json!(1)));
    assert_eq!(r1["agent"]["username"], "agent1");
    review(&app, "inspector1", &t2, answers(&c, &[])).await;
    let r3 = review(&app, "supervisor1", &t3, answers(&c, &[("accuracy", json!(5), Some("处理方案错误"))])).await;
    assert_eq!(r3["score"], 80.0);
    // A calibration of agent2's T4 fails a red line, and counts for nobody.
    let (s, cal) = app
        .post(
            "inspector1",
            "/api/v1/quality/reviews",
            json!({"ticket": t4["number"], "calibration": "11月校准", "items": answers(&c, &[("abuse", json!(0), Some("语气冲突"))])}),
        )
        .await;
    assert_eq!(
        (s, cal["score"].clone(), cal["kind"].clone()),
        (StatusCode::CREATED, json!(0.0), json!("calibration")),
        "{cal}"
    );
    // A second reviewer scores the same ticket in the session: the spread
    // per item shows where the card is read differently.
    let (s, _) = app
        .post(
            "supervisor1",
            "/api/v1/quality/reviews",
            json!({"ticket": t4["number"], "calibration": "11月校准", "items": answers(&c, &[("accuracy", json!(10), Some("方案不完整"))])}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, cal) = app.get("inspector1", "/api/v1/quality/calibration?session=11月校准").await;
    assert_eq!(s, StatusCode::OK, "{cal}");
    assert_eq!(cal["items"][0]["item"], "accuracy", "the widest spread first: {cal}");
    assert_eq!(cal["items"][0]["spread"], 15.0);
    let abuse = cal["items"].as_array().unwrap().iter().find(|i| i["item"] == "abuse").unwrap().clone();
    assert_eq!(abuse["spread"], 1.0, "one failed the red line, one did not");
    assert_eq!(cal["tickets"][0]["spread"], 85.0, "0 against 85");
    let cookie = console_login(&app, "inspector1").await;
    let (s, page) =
        console_get(&app, &cookie, "/console/quality/calibration?session=11%E6%9C%88%E6%A0%A1%E5%87%86").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("业务解答与处理准确") && page.contains("id=\"calibration-items\""), "{page}");
    let (s, _) = app.get("inspector1", "/api/v1/quality/calibration?session=nope").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // An innovation entry for agent1.
    let (s, b) = app
        .post(
            "supervisor1",
            "/api/v1/quality/innovations",
            json!({"agent": "agent1", "title": "宽带自助排障话术", "points": 30, "day": "2026-11-25"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    (app.rollup)(None).await;

    // The queue: all four drawn (fewer than three each), T3 also for its
    // breach; three reviewed; the calibration is nobody's review.
    let (s, q) = app.get("inspector1", "/api/v1/quality/queue?period=2026-11").await;
    assert_eq!(s, StatusCode::OK, "{q}");
    assert_eq!(
        (q["sampled"].clone(), q["reviewed"].clone(), q["coverage"].clone()),
        (json!(4), json!(3), json!(0.75)),
        "{q}"
    );
    let item = |t: &Value| q["items"].as_array().unwrap().iter().find(|i| i["number"] == t["number"]).unwrap().clone();
    assert!(item(&t3)["reasons"].as_array().unwrap().contains(&json!("breached")), "{q}");
    assert_eq!(item(&t4)["review"], Value::Null);
    let load = |who: &str| {
        q["reviewers"].as_array().unwrap().iter().find(|r| r["reviewer"] == who).unwrap()["reviews"].clone()
    };
    assert_eq!((load("inspector1"), load("supervisor1")), (json!(2), json!(1)));
    let (s, _) = app.get("agent1", "/api/v1/quality/queue?period=2026-11").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Pre-checks flag a forbidden phrase and the result never told; they deduct nothing.
    let (s, b) = app
        .post(
            "agent2",
            &format!("/api/v1/tickets/{}/comments", t4["id"]),
            json!({"body": "这个不归我管，您找营业厅", "internal": false}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, flags) =
        app.get("inspector1", &format!("/api/v1/quality/prechecks/{}", t4["number"].as_str().unwrap())).await;
    assert_eq!(s, StatusCode::OK, "{flags}");
    let codes: Vec<&str> = flags["items"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
    assert!(codes.contains(&"forbidden_words") && codes.contains(&"no_result_notice"), "{flags}");

    let (s, a) = app.get("supervisor1", "/api/v1/quality/assessments?period=2026-11").await;
    assert_eq!(s, StatusCode::OK, "{a}");
    let items = a["items"].as_array().unwrap();
    let first = &items[0];
    assert_eq!((first["agent"].as_str(), first["rank"].as_i64()), (Some("agent1"), Some(1)), "{a}");
    // agent1: no complaint handled, so its 15 % is shared among the other
    // 85 %: (100×0.20 + 100×0.30 + 95×0.20 + 30×0.15) / 0.85 = 73.5 / 0.85.
    assert_eq!(first["total"], 86.47, "{first}");
    assert_eq!(component(first, "response_time")["score"], 100.0);
    assert_eq!(component(first, "response_time")["value"], 0.5, "half an hour to start");
    assert_eq!(component(first, "resolution_rate")["value"], 1.0);
    assert_eq!(
        (component(first, "service_quality")["value"].clone(), component(first, "service_quality")["n"].clone()),
        (json!(95.0), json!(2))
    );
    assert_eq!(component(first, "complaint_efficiency")["score"], Value::Null);
    assert_eq!(component(first, "complaint_efficiency")["applied_weight"], 0.0);
    assert_eq!(component(first, "innovation")["value"], 30.0);
    assert!(
        component(first, "resolution_rate")["source"]["link"]
            .as_str()
            .unwrap()
            .contains("metric=resolved_in_limit_rate")
    );
    // agent2: (100×0.20 + 50×0.30 + 80×0.20 + 0×0.15) / 0.85 = 51 / 0.85 = 60.
    let second = &items[1];
    assert_eq!(
        (second["agent"].as_str(), second["rank"].as_i64(), second["total"].as_f64()),
        (Some("agent2"), Some(2), Some(60.0)),
        "{a}"
    );
    assert_eq!(component(second, "resolution_rate")["value"], 0.5, "T3 took 50 hours");
    assert_eq!(component(second, "service_quality")["n"], 1, "the calibration does not count");
    // Nobody else worked: listed, not ranked.
    let eng = items.iter().find(|i| i["agent"] == "engineer1").unwrap();
    assert_eq!((eng["rank"].clone(), eng["assessed"].clone()), (Value::Null, json!(false)));
    // An agent sees their own row; a quarter holds the month.
    let (_, mine) = app.get("agent2", "/api/v1/quality/assessments?period=2026-11").await;
    let rows = mine["items"].as_array().unwrap();
    assert_eq!((rows.len(), rows[0]["agent"].as_str(), rows[0]["rank"].as_i64()), (1, Some("agent2"), Some(2)));
    let (_, q) = app.get("supervisor1", "/api/v1/quality/assessments?period=2026-Q4").await;
    assert_eq!(q["items"][0]["total"], 86.47);
    // Exported as CSV for the spreadsheet.
    let r = client()
        .get(format!("{}/api/v1/quality/assessments/export?period=2026-11", app.base))
        .bearer_auth(&app.tokens["supervisor1"])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("\u{feff}\"名次 rank\"") && lines[0].contains("响应时效 response_time"), "{csv}");
    assert!(lines[1].starts_with("1,\"agent1\"") && lines[1].ends_with(",86.47"), "{csv}");
    let (s, b) = app.get("supervisor1", "/api/v1/quality/assessments?period=2026").await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("period")));

    // Agents read their own reviews, never a calibration or another's.
    let (_, list) = app.get("agent1", "/api/v1/quality/reviews?period=2026-11").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2, "{list}");
    let (s, _) = app.get("agent2", &format!("/api/v1/quality/reviews/{}", r1["id"])).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, one) = app.get("agent1", &format!("/api/v1/quality/reviews/{}", r1["id"])).await;
    assert_eq!((s, one["items"].as_array().map(Vec::len)), (StatusCode::OK, Some(11)), "{one}");
    let (_, cals) = app.get("agent2", "/api/v1/quality/reviews?kind=calibration").await;
    assert!(cals["items"].as_array().unwrap().is_empty());
    let (_, cals) = app.get("inspector1", "/api/v1/quality/reviews?kind=calibration").await;
    assert_eq!(cals["items"].as_array().unwrap().len(), 2, "two reviewers in the session");
    let (s, _) =
        app.post("agent2", "/api/v1/quality/reviews", json!({"ticket": t1["number"], "items": answers(&c, &[])})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "agents do not review");
    let (s, b) = app
        .post(
            "inspector1",
            "/api/v1/quality/reviews",
            json!({"ticket": t1["number"], "agent": "inspector1", "items": answers(&c, &[])}),
        )
        .await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("agent")), "{b}");
    let mut partial = answers(&c, &[]);
    partial.as_array_mut().unwrap().remove(0);
    let (s, b) =
        app.post("inspector1", "/api/v1/quality/reviews", json!({"ticket": t1["number"], "items": partial})).await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("items")), "{b}");
    let (s, _) = app
        .post("inspector1", "/api/v1/quality/reviews", json!({"ticket": "20991231000001", "items": answers(&c, &[])}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// Inspectors edit a scorecard as a new version; a review keeps the version
/// it used and its score.
async fn scorecard_versions_are_pinned_by_their_reviews(mut app: TestApp) {
    let t = handled(&mut app, "agent1", "13800000009", [(23, 9, 0), (23, 9, 30), (23, 11, 0)]).await;
    let (_, list) = app.get("agent1", "/api/v1/quality/scorecards").await;
    let keys: Vec<&str> = list["items"].as_array().unwrap().iter().map(|c| c["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["mystery_shopping", "store_inspection", "ticket_review"]);
    assert_eq!(list["items"][2]["usage_zh"], "工单/通话质检");
    let c = card(&app, "ticket_review").await;
    let old = review(&app, "inspector1", &t, answers(&c, &[("accuracy", json!(15), Some("解释不完整"))])).await;
    assert_eq!(old["score"], 90.0);
    // Accuracy weighs 50 from now on.
    let mut edited = c.clone();
    for s in edited["sections"].as_array_mut().unwrap() {
        let o = s.as_object_mut().unwrap();
        for k in ["kind_zh", "kind_en"] {
            o.remove(k);
        }
        for i in o["items"].as_array_mut().unwrap() {
            if i["key"] == "accuracy" {
                i["points"] = json!(50);
            }
        }
    }
    let edited = json!({"name_zh": edited["name_zh"], "name_en": edited["name_en"], "usage": "review", "sections": edited["sections"]});
    let (s, _) = app.put("agent1", "/api/v1/quality/scorecards/ticket_review", edited.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v2) = app.put("inspector1", "/api/v1/quality/scorecards/ticket_review", edited.clone()).await;
    assert_eq!(
        (s, v2["version"].clone(), v2["standard_points"].clone()),
        (StatusCode::OK, json!(2), json!(125.0)),
        "{v2}"
    );
    let new = review(&app, "inspector1", &t, answers(&v2, &[("accuracy", json!(30), Some("解释不完整"))])).await;
    assert_eq!((new["version"].clone(), new["score"].clone()), (json!(2), json!(84.0)), "105 of 125");
    let (_, kept) = app.get("inspector1", &format!("/api/v1/quality/reviews/{}", old["id"])).await;
    assert_eq!((kept["version"].clone(), kept["score"].clone()), (json!(1), json!(90.0)));
    let (_, v1) = app.get("agent1", "/api/v1/quality/scorecards/ticket_review?version=1").await;
    assert_eq!(v1["standard_points"], 100.0);
    // A card that does not hold together is refused, and changes nothing.
    let mut bad = edited.clone();
    bad["sections"][0]["items"][1]["key"] = json!("greeting");
    let (s, b) = app.put("inspector1", "/api/v1/quality/scorecards/ticket_review", bad).await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("sections[0].items[1]")),
        "{b}"
    );
    let mut store_use = edited.clone();
    store_use["usage"] = json!("store");
    let (s, b) = app.put("inspector1", "/api/v1/quality/scorecards/ticket_review", store_use).await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("usage")), "{b}");
    assert_eq!(card(&app, "ticket_review").await["version"], 2);
    let (s, _) = app.get("agent1", "/api/v1/quality/scorecards/nope").await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // In the console: the card as TOML, saved as the next version; a
    // mistake named by its line; agents read it only.
    let cookie = console_login(&app, "inspector1").await;
    let (s, page) = console_get(&app, &cookie, "/console/quality/scorecards/ticket_review").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("id=\"scorecard-form\"") && page.contains("key = &#34;ticket_review&#34;"), "{page}");
    let (_, v) = app.get("inspector1", "/api/v1/quality/scorecards/ticket_review").await;
    let text = page.split("<textarea name=\"card\"").nth(1).unwrap().split('>').skip(1).collect::<Vec<_>>().join(">");
    let text = text
        .split("</textarea")
        .next()
        .unwrap()
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&");
    let renamed = text.replacen("工单与通话质检评分表", "工单质检评分表（2027版）", 1);
    let fields = vec![("card".to_string(), renamed), ("form_token".to_string(), "sc1".to_string())];
    let (s, to, body) = console_form(&app, &cookie, "/console/quality/scorecards/ticket_review", &fields).await;
    assert_eq!(
        (s, to.as_str()),
        (StatusCode::SEE_OTHER, "/console/quality/scorecards/ticket_review?saved=1"),
        "{body}"
    );
    let now = card(&app, "ticket_review").await;
    assert_eq!(
        (now["version"].clone(), now["name_zh"].clone()),
        (json!(v["version"].as_i64().unwrap() + 1), json!("工单质检评分表（2027版）"))
    );
    assert_eq!(now["sections"], v["sections"], "the items came back as they were");
    let broken = vec![
        ("card".to_string(), "key = \"ticket_review\"\nname_zh = [\n".to_string()),
        ("form_token".to_string(), "sc2".to_string()),
    ];
    let (s, _, page) = console_form(&app, &cookie, "/console/quality/scorecards/ticket_review", &broken).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("第 ") && page.contains("id=\"form-error\""), "{page}");
    let agent = console_login(&app, "agent1").await;
    let (_, page) = console_get(&app, &agent, "/console/quality/scorecards/ticket_review").await;
    assert!(page.contains("id=\"scorecard-text\"") && !page.contains("scorecard-form"), "{page}");
    let (s, _, _) = console_form(&app, &agent, "/console/quality/scorecards/ticket_review", &fields).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

/// A violation's life: recorded with its working-day deadlines,
/// appealed once in time, decided by a supervisor other than the recorder,
/// rectified and re-checked; every step kept; overturned ones not deducted.
async fn violations_are_appealed_decided_and_rechecked(mut app: TestApp) {
    go(&mut app, 23, 10, 0).await;
    let record = |kind: &str, description: &str| json!({"agent": "agent1", "kind": kind, "description": description});
    let (s, v) =
        app.post("inspector1", "/api/v1/quality/violations", record("poor_attitude", "通话中语气生硬，打断客户")).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(
        (v["points"].clone(), v["state"].clone(), v["state_label"].clone()),
        (json!(5.0), json!("open"), json!("待整改"))
    );
    assert_eq!(v["kind_label"], "服务态度差");
    // Monday 10:00 Shanghai + 3 working days: Thursday 10:00; + 5: next Monday.
    assert_eq!(v["appeal_until"], "2026-11-26T02:00:00Z", "{v}");
    assert_eq!(v["due_at"], "2026-11-30T02:00:00Z");
    let path = format!("/api/v1/quality/violations/{}", v["id"]);
    let steps = format!("{path}/steps");
    let (s, _) = app.get("agent2", &path).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "another agent's violation is not theirs to see");
    let (s, b) = app.post("agent1", &steps, json!({"action": "appeal"})).await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("reason")), "{b}");
    let (s, b) = app.post("agent1", &steps, json!({"action": "appeal", "reason": "客户先辱骂，录音可证"})).await;
    assert_eq!((s, b["state"].clone()), (StatusCode::OK, json!("appealed")), "{b}");
    let (s, _) = app.post("agent1", &steps, json!({"action": "appeal", "reason": "再次申诉"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "once");
    let (s, _) = app.post("inspector1", &steps, json!({"action": "decide", "upheld": false, "note": "撤销"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "not the recorder, and a supervisor");
    let (s, b) = app
        .post("supervisor1", &steps, json!({"action": "decide", "upheld": false, "note": "录音证实客户先辱骂"}))
        .await;
    assert_eq!((s, b["state"].clone(), b["counts"].clone()), (StatusCode::OK, json!("void"), json!(false)), "{b}");

    // Another, appealed too late; rectified, failed, rectified, passed.
    let (_, w) =
        app.post("inspector1", "/api/v1/quality/violations", record("wrong_wording", "使用禁语“这不归我管”")).await;
    let steps = format!("/api/v1/quality/violations/{}/steps", w["id"]);
    go(&mut app, 26, 10, 1).await;
    let (s, b) = app.post("agent1", &steps, json!({"action": "appeal", "reason": "我没说过"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "the window closed Thursday 10:00: {b}");
    let (s, b) = app.post("agent1", &steps, json!({"action": "rectify", "note": "已参加服务用语培训"})).await;
    assert_eq!((s, b["state"].clone()), (StatusCode::OK, json!("rectified")));
    let (s, _) = app.post("agent1", &steps, json!({"action": "recheck", "passed": true, "note": "自查"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, b) =
        app.post("inspector1", &steps, json!({"action": "recheck", "passed": false, "note": "抽查仍有禁语"})).await;
    assert_eq!((s, b["state"].clone()), (StatusCode::OK, json!("open")));
    assert_eq!(b["due_at"], "2026-12-03T02:01:00Z", "five working days from the failed re-check: {b}");
    app.post("agent1", &steps, json!({"action": "rectify", "note": "再次培训并考核通过"})).await;
    let (_, b) =
        app.post("inspector1", &steps, json!({"action": "recheck", "passed": true, "note": "抽查三通均规范"})).await;
    assert_eq!(b["state"], "closed");
    let actions: Vec<&str> = b["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["record", "rectify", "recheck", "rectify", "recheck"]);
    // A third, left undone past its due time.
    let (_, x) = app.post("supervisor1", "/api/v1/quality/violations", record("breach", "投诉工单超时未回复")).await;
    go(&mut app, 30, 9, 0).await;
    let (_, later) = app.get("agent1", &format!("/api/v1/quality/violations/{}", x["id"])).await;
    assert_eq!((later["overdue"].clone(), later["due_at"].clone()), (json!(false), json!("2026-12-03T02:01:00Z")));
    app.clock.set("2026-12-04T01:00:00Z".parse().unwrap());
    for (name, _) in USERS {
        app.relogin(name).await;
    }
    let (_, later) = app.get("agent1", &format!("/api/v1/quality/violations/{}", x["id"])).await;
    assert_eq!(later["overdue"], true, "{later}");

    // The month's assessment deducts the two that stand (2 + 3), not the overturned one.
    let (_, a) = app.get("supervisor1", "/api/v1/quality/assessments?period=2026-11").await;
    let row = a["items"].as_array().unwrap().iter().find(|i| i["agent"] == "agent1").unwrap().clone();
    assert_eq!((row["deduction"].clone(), row["violations"].clone()), (json!(5.0), json!(2)), "{row}");
    let (_, mine) = app.get("agent1", "/api/v1/quality/violations?period=2026-11").await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 3);
    let (_, theirs) = app.get("agent2", "/api/v1/quality/violations").await;
    assert!(theirs["items"].as_array().unwrap().is_empty());
    // Refusals.
    for (body, field) in [
        (json!({"agent": "agent1", "kind": "nope", "description": "x"}), "kind"),
        (json!({"agent": "nobody", "kind": "breach", "description": "x"}), "agent"),
        (json!({"agent": "agent1", "kind": "breach", "description": "x", "points": 50}), "points"),
        (json!({"agent": "agent1", "kind": "breach"}), "description"),
        (json!({"agent": "inspector1", "kind": "breach", "description": "x"}), "agent"),
    ] {
        let (s, b) = app.post("inspector1", "/api/v1/quality/violations", body.clone()).await;
        assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(field)), "{body}: {b}");
    }
    let (s, _) = app.post("agent2", "/api/v1/quality/violations", record("breach", "x")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // The staff record: trainings, violations, assessments; for the
    // person, their lead, supervisors and inspectors only.
    let training =
        json!({"course": "服务用语规范", "day": "2026-11-28", "hours": 4, "result": "合格", "certificate": "C-118"});
    let (s, b) = app.post("supervisor1", "/api/v1/staff/agent1/trainings", training.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, _) = app.post("agent1", "/api/v1/staff/agent1/trainings", training.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "nobody records their own training");
    let (s, b) = app
        .post(
            "supervisor1",
            "/api/v1/staff/agent1/trainings",
            json!({"course": "x", "day": "28/11", "hours": 1, "result": "合格"}),
        )
        .await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("day")));
    // Team, tier and skill changes are history on the record, with who made
    // them; going off duty is not.
    let skills = json!({"tier": 2, "skills": {"types": ["fault"], "business_lines": ["宽带"], "regions": []}});
    let (s, b) = app.put("admin", "/api/v1/users/agent1/profile", skills).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = app.put("agent1", "/api/v1/users/me/duty", json!({"on_duty": false})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, r) = app.get("agent1", "/api/v1/staff/agent1/record").await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let history: Vec<(String, String, String)> = r["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (h["field"].as_str().unwrap().into(), h["from"].as_str().unwrap().into(), h["to"].as_str().unwrap().into())
        })
        .collect();
    assert_eq!(
        history,
        [
            ("tier".into(), "—".into(), "L2".into()),
            ("skills".into(), "任意".into(), "类型：故障报修；业务线：宽带".into())
        ]
    );
    assert!(r["history"][0]["by"].is_string(), "{r}");
    assert_eq!(r["skills_zh"], "类型：故障报修；业务线：宽带");
    assert_eq!((r["trainings"].as_array().unwrap().len(), r["training_hours"].clone()), (1, json!(4.0)));
    assert_eq!(r["violations"].as_array().unwrap().len(), 3);
    assert_eq!(r["role_zh"], "客服专员");
    let (s, _) = app.get("agent2", "/api/v1/staff/agent1/record").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app.get("admin", "/api/v1/staff/agent1/record").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "administrators keep accounts, not records");
    let (s, _) = app.get("inspector1", "/api/v1/staff/agent1/record").await;
    assert_eq!(s, StatusCode::OK);
    let cookie = console_login(&app, "agent1").await;
    let (s, page) = console_get(&app, &cookie, "/console/staff/agent1").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        page.contains("服务用语规范")
            && page.contains("培训档案")
            && page.contains("类型：故障报修；业务线：宽带")
            && !page.contains("id=\"add-training\""),
        "{page}"
    );
}

both_stores!(
    stores_are_inspected_and_graded_under_the_quotas,
    violations_are_appealed_decided_and_rechecked,
    failing_stores_rectify_and_list_their_tickets
);

mod manual {
    use super::*;
    both_stores!(policy = manual_dispatch(); a_month_of_reviews_ranks_the_agents, scorecard_versions_are_pinned_by_their_reviews);
}

/// Full points on every standard and red-line item, as form fields.
fn full_form(card: &Value, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = extra.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    for s in card["sections"].as_array().unwrap() {
        if matches!(s["kind"].as_str(), Some("standard" | "red_line")) {
            for i in s["items"].as_array().unwrap() {
                let key = format!("p.{}", i["key"].as_str().unwrap());
                if !out.iter().any(|(k, _)| *k == key) {
                    out.push((key, i["points"].to_string()));
                }
            }
        }
    }
    out
}

/// An inspector runs the month in the console: a store added, inspected
/// (a double submit counts once), graded; a ticket reviewed beside its
/// timeline; the agent sees the review and appeals the violation it led
/// to; the supervisor decides and reads the ranking — all in Chinese words.
async fn the_console_runs_a_month_of_quality(mut app: TestApp) {
    let t = handled(&mut app, "agent1", "13800000011", [(23, 9, 0), (23, 9, 30), (23, 11, 0)]).await;
    let number = t["number"].as_str().unwrap().to_string();
    let inspector = console_login(&app, "inspector1").await;
    let (s, page) = console_get(&app, &inspector, "/console/stores?period=2026-11").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let add = [
        ("code", "GZ-01"),
        ("name", "天河<b>营业厅</b>"),
        ("region", "广州"),
        ("form_token", "a1"),
        ("period", "2026-11"),
    ];
    let add: Vec<(String, String)> = add.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let (s, to, _) = console_form(&app, &inspector, "/console/stores", &add).await;
    assert_eq!((s, to.as_str()), (StatusCode::SEE_OTHER, "/console/stores/GZ-01?period=2026-11"));
    let (s, page) = console_get(&app, &inspector, &to).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        !page.contains("<b>营业厅")
            && page.contains("天河&#60;b&#62;营业厅")
            && page.contains("营业环境")
            && page.contains("id=\"inspection-form\""),
        "{page}"
    );
    let c = card(&app, "store_inspection").await;
    let fields = full_form(
        &c,
        &[("scorecard", "store_inspection"), ("period", "2026-11"), ("form_token", "i1"), ("p.waiting_time", "5")],
    );
    let (s, to, body) = console_form(&app, &inspector, "/console/stores/GZ-01", &fields).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    let (s2, to2, _) = console_form(&app, &inspector, "/console/stores/GZ-01", &fields).await;
    assert_eq!((s2, &to2), (StatusCode::SEE_OTHER, &to), "the same form twice is one inspection");
    let (_, list) = app.get("inspector1", "/api/v1/stores/GZ-01/inspections").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["score"], 95.0);
    // A refusal names the item in Chinese and keeps what was typed.
    let bad = full_form(
        &c,
        &[("scorecard", "store_inspection"), ("period", "2026-11"), ("form_token", "i2"), ("p.identity_check", "3")],
    );
    let (s, _, page) = console_form(&app, &inspector, "/console/stores/GZ-01", &bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("须填写原因") && page.contains("value=\"3\""), "{page}");
    let grade = [("period".to_string(), "2026-11".to_string()), ("form_token".to_string(), "g1".to_string())];
    let (s, to, _) = console_form(&app, &inspector, "/console/stores/grading", &grade).await;
    assert_eq!((s, to.as_str()), (StatusCode::SEE_OTHER, "/console/stores?period=2026-11#graded"));
    let (_, page) = console_get(&app, &inspector, "/console/stores?period=2026-11").await;
    assert!(
        page.contains("id=\"grading\"") && page.contains("优秀") && page.contains("达标") && page.contains("<svg"),
        "{page}"
    );
    assert!(!page.contains(">excellent<") && !page.contains(">compliant<"), "words, not codes");

    // The review form beside the timeline and pre-checks.
    let (s, page) = console_get(&app, &inspector, &format!("/console/quality/review/{number}")).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(
        page.contains("自动预检") && page.contains("办结后未向客户发送处理结果") && page.contains("处理过程"),
        "{page}"
    );
    let r = card(&app, "ticket_review").await;
    let fields = full_form(
        &r,
        &[("form_token", "r1"), ("p.accuracy", "20"), ("r.accuracy", "资费解释不完整"), ("c.accuracy", "业务知识不足")],
    );
    let (s, to, body) = console_form(&app, &inspector, &format!("/console/quality/review/{number}"), &fields).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    assert!(to.starts_with("/console/quality/reviews/"));
    let review_id = to.trim_start_matches("/console/quality/reviews/").to_string();
    let (_, page) = console_get(&app, &inspector, &to).await;
    assert!(
        page.contains("<strong>95</strong>") && page.contains("业务解答与处理准确") && page.contains("业务知识不足"),
        "{page}"
    );
    // The inspector records a violation from the review.
    let v = [
        ("form_token", "v1"),
        ("agent", "agent1"),
        ("review", review_id.as_str()),
        ("ticket", number.as_str()),
        ("kind", "wrong_wording"),
        ("description", "资费解释有误"),
    ];
    let v: Vec<(String, String)> = v.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let (s, vto, body) = console_form(&app, &inspector, "/console/quality/violations", &v).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");

    // The agent sees the review and appeals.
    let agent = console_login(&app, "agent1").await;
    let (_, page) = console_get(&app, &agent, "/console/quality?period=2026-11").await;
    assert!(page.contains("我的质检记录") && page.contains(&number) && page.contains("服务用语不规范"), "{page}");
    assert!(!page.contains("待质检队列"), "the queue is the inspectors'");
    let (s, _) = console_get(&app, &agent, &to).await;
    assert_eq!(s, StatusCode::OK);
    let (_, page) = console_get(&app, &agent, &vto).await;
    assert!(page.contains("id=\"step-appeal\"") && page.contains("id=\"step-rectify\""), "{page}");
    let appeal = [("form_token", "ap1"), ("action", "appeal"), ("text", "已按资费手册解释")];
    let appeal: Vec<(String, String)> = appeal.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let (s, _, body) = console_form(&app, &agent, &vto, &appeal).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    let other = console_login(&app, "agent2").await;
    let (s, _) = console_get(&app, &other, &vto).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // The supervisor decides, then reads the ranking.
    let supervisor = console_login(&app, "supervisor1").await;
    let (_, page) = console_get(&app, &supervisor, &vto).await;
    assert!(page.contains("id=\"step-decide\"") && page.contains("申诉中"), "{page}");
    let decide = [("form_token", "d1"), ("action", "decide"), ("upheld", "true"), ("text", "录音显示解释有误")];
    let decide: Vec<(String, String)> = decide.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    console_form(&app, &supervisor, &vto, &decide).await;
    let (_, page) = console_get(&app, &supervisor, &vto).await;
    assert!(page.contains("待整改") && page.contains("申诉裁定"), "{page}");
    (app.rollup)(None).await;
    let (s, page) = console_get(&app, &supervisor, "/console/quality/assessments?period=2026-11").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("id=\"ranking\"") && page.contains("响应时效 20%") && page.contains("违规扣分"), "{page}");
    assert!(page.contains("/console/reports?metric=resolved_in_limit_rate"), "sources one click away");
}

mod console_month {
    use super::*;
    both_stores!(policy = manual_dispatch(); the_console_runs_a_month_of_quality);
}
