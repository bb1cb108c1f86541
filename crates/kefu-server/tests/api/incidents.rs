//! Major incidents over HTTP on both stores: declared, linked
//! at intake and by hand, confirmed, customers told once (a second person
//! approving above the threshold), restored with every child resolved
//! together, a child still broken reopening and detaching; spike proposals
//! confirmed into an incident; who may do what.

use crate::common;

use common::*;
use kefu_domain::policy::Policy;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn policy() -> Policy {
    let mut p = manual_dispatch();
    p.incidents.approval_above = 3;
    p
}

both_stores!(policy = super::policy(); a_district_outage_from_declaration_to_closing, a_spike_is_proposed_and_confirmed, the_console_declares_counts_and_warns_at_intake, compensation_is_proposed_approved_and_exported, a_security_incident_is_reported_contained_told_and_closed);

fn in_district(phone: &str, district: &str) -> Value {
    let mut b = fault_body(phone);
    b["customer"]["address"] = json!(format!("北京市{district}建设路1号"));
    b
}

fn declaration(minutes_ago: i64) -> Value {
    let started = "2026-11-22T02:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap()
        - chrono::Duration::minutes(minutes_ago);
    json!({"type": "outage", "title": "朝阳区光缆中断", "started_at": started,
           "scope": {"regions": ["朝阳区"], "services": [], "elements": ["OLT-07"]}})
}

async fn incident(app: &TestApp, id: &Value) -> Value {
    let (s, b) = app.get("agent1", &format!("/api/v1/incidents/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b
}

async fn incident_act(app: &TestApp, who: &str, id: &Value, body: Value) -> (StatusCode, Value) {
    app.post(who, &format!("/api/v1/incidents/{id}/actions"), body).await
}

/// Waits for the background fan-out of notice `key` (bounded; no timing asserted).
async fn sent(app: &TestApp, id: &Value, key: &str) -> Value {
    for _ in 0..200 {
        let i = incident(app, id).await;
        let batch = i["notices"].as_array().unwrap().iter().find(|b| b["key"] == key).cloned().unwrap();
        if batch["state"] == "sent" {
            return batch;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("notice {key} was never sent");
}

async fn incident_messages(app: &TestApp, ticket: &Value) -> Vec<Value> {
    let (s, b) = app.get("supervisor1", &format!("/api/v1/tickets/{ticket}/messages")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b.as_array().unwrap().iter().filter(|m| m["kind"] == "incident_notice").cloned().collect()
}

async fn a_district_outage_from_declaration_to_closing(app: TestApp) {
    // Called in before it is declared: two tickets of one customer, two others, one elsewhere, one question.
    let a1 = app.create("agent1", in_district("13800000001", "朝阳区")).await;
    let a2 = app.create("agent1", in_district("13800000001", "朝阳区")).await;
    let b = app.create("agent1", in_district("13800000002", "朝阳区")).await;
    let c = app.create("agent1", in_district("13800000003", "朝阳区")).await;
    let far = app.create("agent1", in_district("13800000009", "海淀区")).await;
    let mut question = ticket_body("consultation");
    question["customer"]["phone"] = json!("13800000005");
    let question = app.create("agent1", question).await;

    // Who may declare, and what a declaration needs.
    assert_eq!(app.post("agent1", "/api/v1/incidents", declaration(30)).await.0, StatusCode::FORBIDDEN);
    let mut bad = declaration(30);
    bad["type"] = json!("fire");
    let (s, e) = app.post("supervisor1", "/api/v1/incidents", bad).await;
    assert_eq!((s, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("type")), "{e}");
    let mut bad = declaration(30);
    bad["scope"] = json!({"regions": []});
    let (s, e) = app.post("supervisor1", "/api/v1/incidents", bad).await;
    assert_eq!((s, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("scope")), "{e}");

    let (s, i) = app.post("supervisor1", "/api/v1/incidents", declaration(30)).await;
    assert_eq!(s, StatusCode::CREATED, "{i}");
    let id = i["id"].clone();
    assert!(i["number"].as_str().unwrap().starts_with("ZD20261122"), "{i}");
    assert_eq!((i["state"].as_str(), i["state_label"]["zh"].as_str()), (Some("detected"), Some("已发现")));
    assert_eq!(i["children"]["total"], 4, "the open faults of the district, not the question nor 海淀: {i}");
    assert_eq!(i["children"]["by_status"]["accepted"], 4);
    for t in [&far, &question] {
        assert!(app.get("agent1", &format!("/api/v1/tickets/{}", t["id"])).await.1["incident"].is_null());
    }

    // Registered while it lasts: linked at intake, the number in the answer.
    let d = app.create("agent1", in_district("13800000004", "朝阳区")).await;
    assert_eq!(d["incident"]["number"], i["number"], "{d}");
    let phase = |t: &Value, kind: &str| {
        t["deadlines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["kind"] == kind)
            .map(|x| x["state"].as_str().unwrap().to_string())
    };
    assert_eq!(phase(&d, "resolution").as_deref(), Some("paused"), "the repair clock waits for the network: {d}");
    assert_eq!(phase(&d, "response").as_deref(), Some("running"), "answering the customer does not");
    let linked_later = app.get("agent1", &format!("/api/v1/tickets/{}", a1["id"])).await.1;
    assert_eq!(phase(&linked_later, "resolution").as_deref(), Some("paused"), "{linked_later}");
    let banner = app.get("agent1", "/api/v1/incidents?active=true").await.1;
    assert_eq!(banner["items"][0]["number"], i["number"]);

    // One child is settled with its customer before the repair.
    for (who, body) in [
        ("agent1", json!({"action": "dispatch", "assignee": "engineer1"})),
        ("engineer1", json!({"action": "start"})),
        ("engineer1", json!({"action": "resolve", "result": "上门更换光猫"})),
        ("agent1", json!({"action": "notify_result", "method": "phone"})),
        ("agent1", json!({"action": "confirm"})),
    ] {
        step(&app, who, &c["id"], body).await;
    }

    // Steering is for supervisors; the flow is checked.
    assert_eq!(incident_act(&app, "engineer1", &id, json!({"action": "confirm"})).await.0, StatusCode::FORBIDDEN);
    let (s, e) = incident_act(&app, "supervisor1", &id, json!({"action": "close"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    let (s, i) = incident_act(&app, "supervisor1", &id, json!({"action": "confirm"})).await;
    assert_eq!((s, i["state"].as_str()), (StatusCode::OK, Some("confirmed")), "{i}");
    let note = json!({"action": "note", "text": "抢修队已到达现场，预计18时恢复", "eta": "2026-11-22T10:00:00Z"});
    let (s, i) = incident_act(&app, "engineer1", &id, note).await;
    assert_eq!((s, i["notes"][0]["text"].as_str()), (StatusCode::OK, Some("抢修队已到达现场，预计18时恢复")), "{i}");

    // The dry run counts customers (one per customer, open children only) and writes nothing.
    let text = "朝阳区光缆中断，抢修中，预计今晚18时前恢复，给您带来不便敬请谅解。";
    let (s, dry) =
        incident_act(&app, "supervisor1", &id, json!({"action": "notify", "text": text, "dry_run": true})).await;
    assert_eq!((s, dry["customers"].as_i64()), (StatusCode::OK, Some(3)), "{dry}");
    assert_eq!(dry["message_zh"], "将通过短信通知 3 位客户");
    assert_eq!(incident(&app, &id).await["notices"], json!([]));
    let (s, i) = incident_act(&app, "supervisor1", &id, json!({"action": "notify", "text": text})).await;
    assert_eq!(s, StatusCode::OK, "{i}");
    let batch = sent(&app, &id, "n1").await;
    assert_eq!((batch["customers"].as_i64(), batch["planned"].as_i64()), (Some(3), Some(3)), "{batch}");
    assert_eq!(incident(&app, &id).await["state"], "repairing");
    let once = incident_messages(&app, &a1["id"]).await.len() + incident_messages(&app, &a2["id"]).await.len();
    assert_eq!(once, 1, "one customer, two tickets: told once");
    assert_eq!(incident_messages(&app, &b["id"]).await.len(), 1);
    assert!(incident_messages(&app, &c["id"]).await.is_empty(), "settled before: not told");

    // A child linked late gets what the others were told; unlinking needs a reason.
    let (s, e) = app.post("agent1", &format!("/api/v1/incidents/{id}/links"), json!({"ticket": far["number"]})).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(e["linked"]["new"], true);
    assert_eq!(incident_messages(&app, &far["id"]).await.len(), 1, "the late child is told too");
    let (s, e) = app.post("agent1", &format!("/api/v1/incidents/{id}/links"), json!({"ticket": far["number"]})).await;
    assert_eq!((s, e["linked"]["new"].as_bool()), (StatusCode::OK, Some(false)), "{e}");
    let unlink = json!({"ticket": question["number"], "reason": "  "});
    assert_eq!(
        app.post("agent1", &format!("/api/v1/incidents/{id}/unlinks"), unlink).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // Above the threshold (3) a second person approves.
    let (s, i) =
        incident_act(&app, "supervisor1", &id, json!({"action": "notify", "text": "进展：光缆已熔接一半"})).await;
    assert_eq!((s, i["notices"][1]["state"].as_str()), (StatusCode::OK, Some("awaiting_approval")), "{i}");
    assert_eq!(i["notices"][1]["planned"], 4);
    let (s, e) = incident_act(&app, "supervisor1", &id, json!({"action": "approve", "notice": "n2"})).await;
    assert_eq!((s, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("notice")), "{e}");
    assert_eq!(incident_act(&app, "admin", &id, json!({"action": "approve", "notice": "n2"})).await.0, StatusCode::OK);
    assert_eq!(sent(&app, &id, "n2").await["customers"], 4);

    // The repair closes every open child with one action; the settled one is left as it was.
    let (s, i) =
        incident_act(&app, "supervisor1", &id, json!({"action": "restore", "resolution": "光缆已熔接，业务恢复"}))
            .await;
    assert_eq!(s, StatusCode::OK, "{i}");
    assert_eq!((i["state"].as_str(), i["restored"]["resolved"].as_i64()), (Some("restored"), Some(5)), "{i}");
    assert_eq!(i["children"]["by_status"], json!({"resolved": 5, "confirmed": 1}));
    let settled = app.get("agent1", &format!("/api/v1/tickets/{}", c["id"])).await.1;
    assert_eq!((settled["status"].as_str(), settled["result"].as_str()), (Some("confirmed"), Some("上门更换光猫")));
    let child = app.get("agent1", &format!("/api/v1/tickets/{}", b["id"])).await.1;
    assert!(child["result"].as_str().unwrap().contains("光缆已熔接"), "{child}");

    // Still broken for one customer: the appeal reopens it and it leaves the incident.
    step(&app, "agent1", &b["id"], json!({"action": "notify_result", "method": "phone"})).await;
    step(&app, "agent1", &b["id"], json!({"action": "appeal", "reason": "修复后仍然无法上网"})).await;
    let reopened = app.get("agent1", &format!("/api/v1/tickets/{}", b["id"])).await.1;
    assert!(reopened["incident"].is_null() && reopened["status"] == "in_progress", "{reopened}");
    assert_eq!(incident(&app, &id).await["children"]["total"], 5);

    let (s, i) = incident_act(&app, "supervisor1", &id, json!({"action": "close"})).await;
    assert_eq!((s, i["state"].as_str()), (StatusCode::OK, Some("closed")));
    let (s, _) =
        app.post("agent1", &format!("/api/v1/incidents/{id}/links"), json!({"ticket": question["number"]})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a closed incident takes no children");
    let (s, events) = app.get("supervisor1", &format!("/api/v1/incidents/{id}/events")).await;
    assert_eq!((s, events["verified"].as_bool()), (StatusCode::OK, Some(true)));
    let actions: Vec<&str> =
        events["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["create", "confirm", "note", "notify", "notified", "notify", "approve", "notified", "restore", "close"]
    );
    assert_eq!(app.get("agent1", &format!("/api/v1/incidents/{id}/events")).await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.get("agent1", "/api/v1/incidents/999999").await.0, StatusCode::NOT_FOUND);
}

async fn a_spike_is_proposed_and_confirmed(app: TestApp) {
    // A quiet baseline, then nine faults from one district within the hour.
    for n in 0..9 {
        app.create("agent1", in_district(&format!("1390000000{n}"), "望京区")).await;
    }
    app.create("agent1", in_district("13900000019", "海淀区")).await;
    assert_eq!(app.get("agent1", "/api/v1/incidents/candidates").await.0, StatusCode::FORBIDDEN);
    let (s, c) = app.get("supervisor1", "/api/v1/incidents/candidates").await;
    assert_eq!(s, StatusCode::OK, "{c}");
    let items = c["items"].as_array().unwrap();
    let spike = items.iter().find(|a| a["region"] == "望京区" && a["cluster"].is_null()).expect("the district's spike");
    assert_eq!((spike["count"].as_i64(), spike["tickets"].as_array().unwrap().len()), (Some(9), 9), "{spike}");
    assert!(spike["why_zh"].as_str().unwrap().contains("9 张工单"), "{spike}");
    assert!(items.iter().all(|a| a["region"] != "海淀区"), "one ticket is no spike: {c}");
    // A cluster alarm from the same tickets is dismissed: not proposed again this window.
    let cluster = items.iter().find(|a| a["cluster"] == "断网").expect("掉线 is in the 断网 cluster");
    assert_eq!(cluster["bucket"], "断网|望京区");
    let body = json!({"bucket": cluster["bucket"], "reason": "同一故障，已按区域预警处理"});
    let (s, d) = app.post("supervisor1", "/api/v1/incidents/candidates/dismiss", body).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    let after = app.get("supervisor1", "/api/v1/incidents/candidates").await.1;
    assert!(after["items"].as_array().unwrap().iter().all(|a| a["bucket"] != cluster["bucket"]), "{after}");
    let (s, e) = app.post("supervisor1", "/api/v1/incidents/candidates/dismiss", json!({"bucket": "x"})).await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("reason")),
        "a reason is required"
    );

    // Confirming the proposal declares the incident with those tickets.
    let (s, i) = app.post("supervisor1", "/api/v1/incidents", spike["proposal"].clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{i}");
    assert_eq!((i["children"]["total"].as_i64(), i["from_alarm"].as_str()), (Some(9), spike["bucket"].as_str()));
    let again = app.get("supervisor1", "/api/v1/incidents/candidates").await.1;
    assert!(
        again["items"].as_array().unwrap().iter().all(|a| a["region"] != "望京区"),
        "answered alarms are not proposed again: {again}"
    );
}

async fn the_console_declares_counts_and_warns_at_intake(app: TestApp) {
    let first = app.create("agent1", in_district("13800000001", "朝阳区")).await;
    app.create("agent1", in_district("13800000002", "朝阳区")).await;
    let sup = console_login(&app, "supervisor1").await;
    let declare = [
        ("type", "outage"),
        ("severity", "major"),
        ("title", "朝阳区光缆中断"),
        ("regions", "朝阳区"),
        ("elements", "OLT-07，OLT-08"),
        ("note", "抢修队已出发"),
    ];
    let (s, to, body) = console_form(&app, &sup, "/console/incidents", &declare).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    let (s, html) = console_get(&app, &sup, &to).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("朝阳区光缆中断") && html.contains("已发现") && html.contains("OLT-08"), "{html}");
    assert!(html.contains("关联工单") && html.contains("(2)") && html.contains("哈希链校验通过"), "{html}");
    let (s, back, _) = console_form(&app, &sup, &to, &[("op", "confirm")]).await;
    assert_eq!((s, back.as_str()), (StatusCode::SEE_OTHER, to.as_str()));
    let (s, _, html) =
        console_form(&app, &sup, &to, &[("op", "notify"), ("text", "抢修中"), ("dry_run", "true")]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("将通过短信通知 2 位客户"), "{html}");
    let (s, _, html) = console_form(&app, &sup, &to, &[("op", "close")]).await;
    assert_eq!(s, StatusCode::CONFLICT, "the flow refuses, the page says why");
    assert!(html.contains("form-error"), "{html}");

    // The emergency plan: started, a step checked off by its role, timed.
    let (s, back, _) = console_form(&app, &sup, &to, &[("op", "start_playbook")]).await;
    assert_eq!((s, back.as_str()), (StatusCode::SEE_OTHER, to.as_str()));
    let id: i64 = to.rsplit('/').next().unwrap().parse().unwrap();
    let (s, e) =
        incident_act(&app, "engineer1", &json!(id), json!({"action": "check_step", "step": "confirm_scope"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    let check = json!({"action": "check_step", "step": "confirm_scope", "note": "网管确认 OLT-07 下挂 1,832 户"});
    let (s, v) = incident_act(&app, "supervisor1", &json!(id), check.clone()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let step = &v["playbook"]["steps"][0];
    assert_eq!(
        (step["key"].as_str(), step["took_minutes"].as_i64(), step["late"].as_bool()),
        (Some("confirm_scope"), Some(0), Some(false)),
        "{step}"
    );
    assert_eq!(incident_act(&app, "supervisor1", &json!(id), check).await.0, StatusCode::UNPROCESSABLE_ENTITY, "once");
    let (_, html) = console_get(&app, &sup, &to).await;
    assert!(html.contains("大面积网络故障应急预案") && html.contains("与网管中心核实故障范围"), "{html}");

    // The customer following the ticket sees the outage's progress.
    let number = first["number"].as_str().unwrap();
    let (s, to_page, _) =
        console_form(&app, "", "/portal/lookup", &[("number", number), ("phone", "13800000001")]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let html = no_redirects().get(format!("{}{to_page}", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(
        html.contains("incident-news") && html.contains("朝阳区光缆中断") && html.contains("抢修队已出发"),
        "{html}"
    );

    // The agent taking the next call sees the incident, its note and what to say first.
    let agent = console_login(&app, "agent1").await;
    let (_, html) = console_get(&app, &agent, "/console/new").await;
    assert!(
        html.contains("incident-banner") && html.contains("朝阳区光缆中断") && html.contains("抢修队已出发"),
        "{html}"
    );
    let (_, html) = console_get(&app, &agent, "/console/incidents").await;
    assert!(html.contains("朝阳区光缆中断") && !html.contains("id=\"declare\""), "agents read, do not declare: {html}");
    let (s, _, _) = console_form(&app, &agent, &to, &[("op", "confirm")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

async fn compensation_is_proposed_approved_and_exported(mut app: TestApp) {
    app.create("agent1", in_district("13800000001", "朝阳区")).await;
    app.create("agent1", in_district("13800000002", "朝阳区")).await;
    let mut far = fault_body("13800000003");
    far["customer"]["address"] = json!("北京市密云区太师屯镇马场村8号");
    app.create("agent1", far).await;
    let mut d = declaration(60);
    d["scope"] = json!({"regions": ["朝阳区", "密云区"], "services": ["宽带"], "elements": []});
    let (s, i) = app.post("supervisor1", "/api/v1/incidents", d).await;
    assert_eq!((s, i["children"]["total"].as_i64()), (StatusCode::CREATED, Some(3)), "{i}");
    let id = i["id"].clone();
    let path = format!("/api/v1/incidents/{id}/compensation");
    let (s, e) = app.get("supervisor1", &path).await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("incident")),
        "not before the repair"
    );
    incident_act(&app, "supervisor1", &id, json!({"action": "confirm"})).await;
    let future = json!({"action": "restore", "resolution": "x", "ended_at": "2026-11-30T00:00:00Z"});
    assert_eq!(incident_act(&app, "supervisor1", &id, future).await.0, StatusCode::UNPROCESSABLE_ENTITY);

    // 49 hours later (Tuesday 10:00): past the towns' 48, short of the countryside's 72.
    go(&mut app, 24, 10, 0).await;
    let (s, r) = incident_act(&app, "supervisor1", &id, json!({"action": "restore", "resolution": "光缆已熔接"})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (s, c) = app.get("supervisor1", &path).await;
    assert_eq!((s, c["state"].as_str(), c["customers"].as_i64()), (StatusCode::OK, Some("proposed"), Some(2)), "{c}");
    let row = &c["items"][0];
    assert_eq!(
        (row["hours"].as_f64(), row["area"].as_str(), row["method"].as_str()),
        (Some(49.0), Some("town"), Some("pro_rata"))
    );
    assert!(row["amount_fen"].is_null(), "the fee is the billing system's: {row}");
    // 49 hours of a 30-day November.
    assert!((row["month_share"].as_f64().unwrap() - 49.0 / 720.0).abs() < 1e-6, "{row}");
    assert_eq!(app.get("agent1", &path).await.0, StatusCode::FORBIDDEN);

    let export = format!("{path}/export?format=csv");
    assert_eq!(app.get("supervisor1", &export).await.0, StatusCode::UNPROCESSABLE_ENTITY, "approve first");
    let approve = json!({"action": "approve_compensation"});
    assert_eq!(incident_act(&app, "engineer1", &id, approve.clone()).await.0, StatusCode::FORBIDDEN);
    let (s, a) = incident_act(&app, "supervisor1", &id, approve.clone()).await;
    assert_eq!((s, a["compensation"]["rows"].as_i64()), (StatusCode::OK, Some(2)), "{a}");
    assert_eq!(incident_act(&app, "supervisor1", &id, approve).await.0, StatusCode::UNPROCESSABLE_ENTITY, "once");

    let r =
        app.client.get(format!("{}{export}", app.base)).bearer_auth(&app.tokens["supervisor1"]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-disposition"].to_str().unwrap().contains("compensation-ZD"));
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("\u{feff}工单号,客户编号,业务号码"), "{csv}");
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[1].contains("城镇") && lines[1].contains("按月费折算减免") && lines[1].contains("2026-11-22 09:00"),
        "{csv}"
    );
    let x = app
        .client
        .get(format!("{}{path}/export?format=xlsx", app.base))
        .bearer_auth(&app.tokens["supervisor1"])
        .send()
        .await
        .unwrap();
    assert_eq!(x.status(), StatusCode::OK);
    assert!(x.bytes().await.unwrap().starts_with(b"PK"), "an XLSX is a zip");
    let (_, log) = app.get("admin", "/api/v1/access-log?per_page=50").await;
    assert!(log["items"].as_array().unwrap().iter().any(|e| e["action"] == "compensation_export"), "{log}");
}

async fn a_security_incident_is_reported_contained_told_and_closed(app: TestApp) {
    let t = app.create("agent1", in_district("13800000001", "朝阳区")).await;
    // An access-log entry to name: a supervisor reveals the customer's phone.
    let reveal = json!({"field": "customer.id_number", "reason": "核实客户身份"});
    let (s, b) = app.post("supervisor1", &format!("/api/v1/tickets/{}/reveal", t["id"]), reveal).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, log) = app.get("admin", "/api/v1/access-log").await;
    let entry = log["items"][0]["id"].as_i64().unwrap();

    // Anyone reports; the answer is the number and what is owed when.
    let report = json!({"kind": "wrong_disclosure", "severity": "major", "title": "结果短信发给了错误客户",
        "affected_records": 1, "affected_customers": 1, "tickets": [t["number"]], "access_entries": [entry]});
    let (s, r) = app.post("agent1", "/api/v1/security-incidents", report.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert!(r["number"].as_str().unwrap().starts_with("AQ20261122"), "{r}");
    assert_eq!(r["regulator_due_at"], "2026-11-22T06:00:00Z", "major: four hours");
    assert_eq!(r["customers_due_at"], "2026-11-25T02:00:00Z", "customers: 72 hours");
    let mut bad = report.clone();
    bad["kind"] = json!("fire");
    assert_eq!(app.post("agent1", "/api/v1/security-incidents", bad).await.1["error"]["field"], "kind");
    let mut bad = report;
    bad["tickets"] = json!(["GD20990101000001"]);
    assert_eq!(app.post("agent1", "/api/v1/security-incidents", bad).await.1["error"]["field"], "tickets");

    // Restricted: the register is the security office's.
    let path = format!("/api/v1/security-incidents/{}", r["id"]);
    for who in ["agent1", "supervisor1", "inspector1"] {
        assert_eq!(app.get(who, &path).await.0, StatusCode::FORBIDDEN, "{who}");
        assert_eq!(app.get(who, "/api/v1/security-incidents").await.0, StatusCode::FORBIDDEN, "{who}");
    }
    let (s, v) = app.get("admin", &path).await;
    assert_eq!(
        (s, v["verified"].as_bool(), v["kind_label"]["zh"].as_str()),
        (StatusCode::OK, Some(true), Some("错误披露"))
    );
    let (_, log) = app.get("admin", "/api/v1/access-log").await;
    assert_eq!(log["items"][0]["action"], "security_read", "reading the register is logged: {log}");
    let named = log["items"].as_array().unwrap().iter().find(|e| e["id"] == entry).unwrap();
    assert_eq!(named["security_incidents"], json!([r["number"]]), "the access log links to it");

    let actions_path = format!("{path}/actions");
    let act = |body: Value| app.post("admin", &actions_path, body);
    let (s, e) = act(json!({"action": "close"})).await;
    assert!(
        s == StatusCode::UNPROCESSABLE_ENTITY && e["error"]["message_zh"].as_str().unwrap().contains("控制"),
        "{e}"
    );
    assert_eq!(act(json!({"action": "contain", "text": "已撤回短信并致电客户说明"})).await.0, StatusCode::OK);
    let (s, e) = act(json!({"action": "close"})).await;
    assert!(
        s == StatusCode::UNPROCESSABLE_ENTITY && e["error"]["message_zh"].as_str().unwrap().contains("监管"),
        "{e}"
    );
    assert_eq!(
        act(json!({"action": "notify_regulator", "reference": "通管局受理号 2026-118"})).await.0,
        StatusCode::OK
    );
    assert_eq!(act(json!({"action": "notify_customers", "reference": "电话告知并致歉"})).await.0, StatusCode::OK);
    let (s, v) = act(json!({"action": "close"})).await;
    assert_eq!((s, v["state"].as_str()), (StatusCode::OK, Some("closed")), "{v}");
    assert_eq!(app.post("supervisor1", &actions_path, json!({"action": "close"})).await.0, StatusCode::FORBIDDEN);
    let (_, v) = app.get("admin", &path).await;
    let actions: Vec<&str> = v["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["create", "contain", "notify_regulator", "notify_customers", "close"]);

    // In the console: anyone reports; only the security office sees the register.
    let agent = console_login(&app, "agent1").await;
    let fields =
        [("kind", "lost_device"), ("severity", "minor"), ("title", "营业厅平板遗失"), ("affected_records", "0")];
    let (s, to, body) = console_form(&app, &agent, "/console/security/new", &fields).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    let (_, html) = console_get(&app, &agent, &to).await;
    assert!(html.contains("已登记，编号 AQ20261122002"), "{html}");
    assert_eq!(console_get(&app, &agent, "/console/security").await.0, StatusCode::FORBIDDEN);
    let admin = console_login(&app, "admin").await;
    let (s, html) = console_get(&app, &admin, "/console/security").await;
    assert!(
        s == StatusCode::OK && html.contains("营业厅平板遗失") && html.contains("结果短信发给了错误客户"),
        "{html}"
    );
    let (s, html) = console_get(&app, &admin, &format!("/console/security/{}", r["id"])).await;
    assert!(s == StatusCode::OK && html.contains("通管局受理号 2026-118") && html.contains("校验通过"), "{html}");
}
