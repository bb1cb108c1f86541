//! Dispatch, transfers, escalation, queues and notes over HTTP, on both
//! stores (issue 6): the organisation is set up through the API, tickets
//! reach skilled people by the rule table, transfers and escalations are
//! recorded and limited in time, and the first owner hears of everything.

use crate::common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The shipped policy with the handlers placed: consultations and other
/// routine requests to the hotline team, faults to the network team,
/// complaints to the complaints department.
fn placed_rules() -> kefu_domain::policy::Policy {
    let mut p = kefu_domain::policy::Policy::defaults();
    for rule in &mut p.dispatch.rules {
        match rule.tier {
            Some(3) => rule.department = Some("complaints".into()),
            Some(2) => rule.team = Some("network".into()),
            _ => rule.team = Some("hotline".into()),
        }
    }
    p
}

async fn setup_org(app: &TestApp) -> Value {
    for (code, name) in [("service", "客服部"), ("technical", "技术部"), ("complaints", "投诉处理中心")] {
        app.ok(
            "admin",
            Method::POST,
            "/api/v1/departments",
            Some(json!({"code": code, "name": name})),
            StatusCode::CREATED,
        )
        .await;
    }
    let mut teams = serde_json::Map::new();
    for (dept, code, name, lead) in [
        ("service", "hotline", "热线一组", "agent2"),
        ("technical", "network", "网络维护组", "engineer1"),
        ("complaints", "complaint", "投诉处理组", "specialist1"),
    ] {
        let t = app
            .ok(
                "supervisor1",
                Method::POST,
                "/api/v1/teams",
                Some(json!({"department": dept, "code": code, "name": name, "lead": lead})),
                StatusCode::CREATED,
            )
            .await;
        teams.insert(code.into(), t["id"].clone());
    }
    for (user, team) in
        [("agent1", "hotline"), ("agent2", "hotline"), ("engineer1", "network"), ("specialist1", "complaint")]
    {
        let p = app.put("supervisor1", &format!("/api/v1/users/{user}/profile"), json!({"team": team})).await;
        assert_eq!(p.0, StatusCode::OK, "{}", p.1);
    }
    Value::Object(teams)
}

fn consultation() -> Value {
    let mut b = ticket_body("consultation");
    b["customer"]["level"] = json!(null);
    b
}

async fn notices(app: &TestApp, user: &str) -> Vec<String> {
    let page = app.get(user, "/api/v1/notices?per_page=500").await.1;
    page["items"].as_array().unwrap().iter().map(|n| n["kind"].as_str().unwrap().to_string()).collect()
}

async fn duty(app: &TestApp, by: &str, user: &str, on: bool) {
    let (s, b) = app.put(by, &format!("/api/v1/users/{user}/duty"), json!({"on_duty": on})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["on_duty"], on);
}

async fn automatic_dispatch_balances_load_and_respects_duty_capacity_and_skills(app: TestApp) {
    let teams = setup_org(&app).await;
    let mut got = Vec::new();
    for _ in 0..4 {
        let t = app.create("agent1", consultation()).await;
        assert_eq!((t["status"].as_str(), t["tier"].as_u64()), (Some("dispatched"), Some(1)), "{t}");
        assert_eq!(t["team"], teams["hotline"]);
        got.push(t["assignee"]["username"].as_str().unwrap().to_string());
    }
    assert_eq!(got, ["agent1", "agent2", "agent1", "agent2"], "least loaded, ties to who waited longest");
    let first = app.get("agent1", "/api/v1/tickets?queue=mine").await.1["items"][0]["id"].clone();
    let events = app.get("agent1", &format!("/api/v1/tickets/{first}/events")).await.1;
    assert_eq!(events[1]["action"], "dispatch");
    assert_eq!(events[1]["actor_name"], "system:dispatch");
    assert_eq!(events[1]["data"]["automatic"], true);
    assert!(events[1]["data"]["dispatch_rule"].as_str().is_some());
    // Types go to their tier.
    let fault = app.create("agent1", ticket_body("fault")).await;
    assert_eq!((fault["assignee"]["username"].as_str(), fault["tier"].as_u64()), (Some("engineer1"), Some(2)));
    let complaint = app.create("agent1", ticket_body("complaint")).await;
    assert_eq!(
        (complaint["assignee"]["username"].as_str(), complaint["tier"].as_u64()),
        (Some("specialist1"), Some(3))
    );
    assert!(notices(&app, "engineer1").await.contains(&"dispatch".to_string()));

    // Off duty: no more tickets.
    duty(&app, "agent2", "me", false).await;
    let t = app.create("agent1", consultation()).await;
    assert_eq!(t["assignee"]["username"], "agent1");
    // Only supervisors set others' duty.
    assert_eq!(app.put("agent1", "/api/v1/users/agent2/duty", json!({"on_duty": true})).await.0, StatusCode::FORBIDDEN);

    // Full: agent1 may hold 3; nobody else is free, so the ticket waits, flagged.
    let p = app.put("supervisor1", "/api/v1/users/agent1/profile", json!({"capacity": 3})).await;
    assert_eq!((p.0, p.1["capacity"].as_u64(), p.1["load"].as_u64()), (StatusCode::OK, Some(3), Some(3)), "{}", p.1);
    let waiting = app.create("agent1", consultation()).await;
    assert_eq!(waiting["status"], "accepted");
    assert_eq!((waiting["assignee"].clone(), waiting["unassignable"].clone()), (Value::Null, json!(true)));
    assert_eq!(waiting["team"], teams["hotline"], "in the rule's team queue");
    let unassigned = app.get("agent1", "/api/v1/tickets?queue=unassigned").await.1;
    assert_eq!(unassigned["total"], 1);
    assert_eq!(unassigned["items"][0]["id"], waiting["id"]);
    assert!(notices(&app, "agent2").await.contains(&"queued".to_string()), "the team lead hears of it");

    // Back on duty: the waiting ticket is offered again by the background job.
    duty(&app, "supervisor1", "agent2", true).await;
    assert_eq!((app.jobs)().await.1, 1);
    let now = app.get("agent1", &format!("/api/v1/tickets/{}", waiting["id"])).await.1;
    assert_eq!((now["assignee"]["username"].as_str(), now["unassignable"].as_bool()), (Some("agent2"), Some(false)));

    // The staff list shows loads, capacities and placement.
    let users = app.get("supervisor1", "/api/v1/users").await.1;
    let a1 = users.as_array().unwrap().iter().find(|u| u["username"] == "agent1").unwrap();
    assert_eq!((a1["load"].as_u64(), a1["capacity"].as_u64(), a1["tier"].as_u64()), (Some(3), Some(3), Some(1)));
    let a2 = users.as_array().unwrap().iter().find(|u| u["username"] == "agent2").unwrap();
    assert_eq!(a2["leads"], json!([teams["hotline"]]));

    // Skills: engineer1 handles faults only in 海淀区; the ticket is in 朝阳区.
    let p = app
        .put(
            "supervisor1",
            "/api/v1/users/engineer1/profile",
            json!({"skills": {"types": ["fault"], "regions": ["海淀区"]}}),
        )
        .await;
    assert_eq!(p.0, StatusCode::OK, "{}", p.1);
    let unskilled = app.create("agent1", ticket_body("fault")).await;
    assert_eq!(unskilled["assignee"], Value::Null);
    let p = app.put("supervisor1", "/api/v1/users/engineer1/profile", json!({"skills": {"regions": ["朝阳区"]}})).await;
    assert_eq!(p.1["skills"]["types"], json!([]), "a skills object replaces the skills");
    assert_eq!((app.jobs)().await.1, 1);

    // Bad profiles are refused by field, and change nothing.
    for (body, field) in [
        (json!({"tier": 5}), "tier"),
        (json!({"capacity": 0}), "capacity"),
        (json!({"team": "nowhere"}), "team"),
        (json!({"skills": {"types": ["fly"]}}), "skills.types"),
        (json!({"skills": {"colours": []}}), "skills.colours"),
        (json!({"on_duty": "yes"}), "on_duty"),
    ] {
        let (s, b) = app.put("supervisor1", "/api/v1/users/agent1/profile", body.clone()).await;
        assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(field)), "{body}: {b}");
    }
    assert_eq!(
        app.put("agent1", "/api/v1/users/agent1/profile", json!({"capacity": 99})).await.0,
        StatusCode::FORBIDDEN
    );
    let (s, b) = app.post("admin", "/api/v1/departments", json!({"code": "service", "name": "重复"})).await;
    assert_eq!((s, b["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("already_exists")));
    let (s, b) = app.post("admin", "/api/v1/departments", json!({"code": "Bad Code", "name": "x"})).await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("code")));
}

async fn two_leads_dispatching_at_once_exactly_one_wins(app: TestApp) {
    setup_org(&app).await;
    duty(&app, "supervisor1", "agent1", false).await;
    duty(&app, "supervisor1", "agent2", false).await;
    for round in 0..5 {
        let t = app.create("agent1", consultation()).await;
        assert_eq!(t["unassignable"], true);
        let id = t["id"].clone();
        let path = format!("/api/v1/tickets/{id}/actions");
        // agent2 leads the hotline team whose queue the ticket is in; supervisor1 steps in.
        let (a, b) = tokio::join!(
            app.post("agent2", &path, json!({"action": "dispatch", "assignee": "agent1", "reason": "组长派单"})),
            app.post("supervisor1", &path, json!({"action": "dispatch", "assignee": "agent2"})),
        );
        let mut statuses = [a.0.as_u16(), b.0.as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "round {round}: {} / {}", a.1, b.1);
        let loser = if a.0 == StatusCode::CONFLICT { &a.1 } else { &b.1 };
        assert_eq!(loser["error"]["code"], "action_not_allowed");
        assert!(loser["error"]["details"]["allowed_actions"].as_array().unwrap().contains(&json!("redispatch")));
        let events = app.get("agent1", &format!("/api/v1/tickets/{id}/events")).await.1;
        let dispatches = events.as_array().unwrap().iter().filter(|e| e["action"] == "dispatch").count();
        assert_eq!(dispatches, 1);
    }
    // Re-dispatch: the lead, with a reason; others may not.
    let t = app.get("agent1", "/api/v1/tickets?queue=team&per_page=1").await.1["items"][0].clone();
    let id = t["id"].clone();
    let to = if t["assignee"]["username"] == "agent1" { "agent2" } else { "agent1" };
    let (s, b) = app.act("agent2", &id, json!({"action": "redispatch", "assignee": to})).await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("reason")));
    // Not one of the ticket's people: as if it did not exist (need to know).
    let (s, _) = app.act("engineer1", &id, json!({"action": "redispatch", "assignee": to, "reason": "x"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, b) = app.act("agent2", &id, json!({"action": "redispatch", "assignee": to, "reason": "均衡工作量"})).await;
    assert_eq!((s, b["assignee"]["username"].as_str()), (StatusCode::OK, Some(to)), "{b}");
}

async fn transfers_to_teams_and_departments_are_recorded_limited_and_followed(app: TestApp) {
    let teams = setup_org(&app).await;
    let fault = app.create("agent1", ticket_body("fault")).await;
    let id = fault["id"].clone();
    assert_eq!(fault["assignee"]["username"], "engineer1");
    assert_eq!(app.act("engineer1", &id, json!({"action": "start"})).await.0, StatusCode::OK);
    let (s, t) = app
        .act(
            "engineer1",
            &id,
            json!({"action": "transfer", "to_team": "complaint", "reason": "客户转为投诉", "mode": "phone"}),
        )
        .await;
    assert_eq!((s, t["status"].as_str()), (StatusCode::OK, Some("transfer_pending")), "{t}");
    assert_eq!(t["transfer_team"], teams["complaint"]);
    let acceptance = t["deadlines"].as_array().unwrap().iter().find(|d| d["kind"] == "transfer_acceptance").unwrap();
    assert_eq!(acceptance["due_at"], "2026-11-22T03:00:00Z", "taken within the hour");
    // The receivers see it waiting for them; the first owner hears of it.
    let waiting = app.get("specialist1", "/api/v1/tickets?queue=awaiting_acceptance").await.1;
    assert_eq!(waiting["total"], 1);
    assert_eq!(app.get("agent2", "/api/v1/tickets?queue=awaiting_acceptance").await.1["total"], 0);
    assert!(notices(&app, "specialist1").await.contains(&"transfer".to_string()));
    assert!(notices(&app, "agent1").await.contains(&"transfer".to_string()));
    // Only a member of the team accepts; to anyone else it does not exist.
    assert_eq!(app.act("agent2", &id, json!({"action": "accept_transfer"})).await.0, StatusCode::NOT_FOUND);
    let (s, t) = app.act("specialist1", &id, json!({"action": "accept_transfer"})).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!((t["assignee"]["username"].as_str(), t["tier"].as_u64()), (Some("specialist1"), Some(3)));
    assert_eq!(t["team"], teams["complaint"]);
    assert!(
        t["deadlines"].as_array().unwrap().iter().any(|d| d["kind"] == "after_transfer" && d["state"] == "running")
    );
    assert!(notices(&app, "agent1").await.contains(&"transfer_accepted".to_string()));
    assert_eq!(
        app.act("specialist1", &id, json!({"action": "resolve", "result": "已更换光猫并致歉"})).await.0,
        StatusCode::OK
    );
    assert!(notices(&app, "agent1").await.contains(&"resolved".to_string()), "the first owner hears the result");
    assert_eq!(app.act("agent1", &id, json!({"action": "notify_result", "method": "sms"})).await.0, StatusCode::OK);
    assert_eq!(app.act("agent1", &id, json!({"action": "confirm"})).await.0, StatusCode::OK);
    let records = app.get("agent1", &format!("/api/v1/tickets/{id}/transfers")).await.1;
    let r = &records[0];
    assert_eq!(
        (r["state"].as_str(), r["mode"].as_str(), r["reason"].as_str()),
        (Some("accepted"), Some("phone"), Some("客户转为投诉"))
    );
    assert_eq!(r["to_team"], teams["complaint"]);
    assert_eq!(r["to_user"], Value::Null);
    assert!(r["from_user"].as_i64().is_some() && r["decided_by"].as_i64().is_some() && r["decided_at"].is_string());
    assert_eq!(r["result"], "已更换光猫并致歉", "the transfer's result");
    assert!(r["customer_feedback"].as_str().unwrap().contains("确认"), "{r}");

    // To a department; a member rejects with a reason: back to the sender.
    let other = app.create("agent1", ticket_body("fault")).await;
    let oid = other["id"].clone();
    app.act("engineer1", &oid, json!({"action": "start"})).await;
    let (s, _) = app
        .act("engineer1", &oid, json!({"action": "transfer", "to_department": "service", "reason": "非技术问题"}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        app.get("agent1", "/api/v1/tickets?queue=awaiting_acceptance").await.1["total"],
        1,
        "department members"
    );
    let (s, t) = app.act("agent1", &oid, json!({"action": "reject_transfer", "reason": "属于网络故障"})).await;
    assert_eq!(
        (s, t["status"].as_str(), t["assignee"]["username"].as_str()),
        (StatusCode::OK, Some("in_progress"), Some("engineer1"))
    );
    let r = &app.get("agent1", &format!("/api/v1/tickets/{oid}/transfers")).await.1[0];
    assert_eq!((r["state"].as_str(), r["result"].as_str()), (Some("rejected"), Some("属于网络故障")));
    assert!(notices(&app, "engineer1").await.contains(&"transfer_rejected".to_string()));
    // Unknown receivers are named.
    let (s, b) = app.act("engineer1", &oid, json!({"action": "transfer", "to_team": "nowhere", "reason": "x"})).await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("to_team")));
    // The first owner still follows both.
    assert_eq!(app.get("agent1", "/api/v1/tickets?first_owner=me").await.1["total"], 2);
}

async fn escalation_by_hand_and_on_a_tier_breach(app: TestApp) {
    setup_org(&app).await;
    let t = app.create("agent1", consultation()).await;
    let id = t["id"].clone();
    let holder = t["assignee"]["username"].as_str().unwrap().to_string();
    let (s, up) =
        app.act(&holder, &id, json!({"action": "escalate", "to_tier": 2, "reason": "涉及网络技术问题"})).await;
    assert_eq!(s, StatusCode::OK, "{up}");
    assert_eq!((up["tier"].as_u64(), up["status"].as_str()), (Some(2), Some("dispatched")));
    assert_eq!(up["assignee"]["username"], "engineer1", "the tier's candidate by the rules");
    assert!(notices(&app, "engineer1").await.contains(&"escalation".to_string()));
    let events = app.get("agent1", &format!("/api/v1/tickets/{id}/events")).await.1;
    let e = events.as_array().unwrap().last().unwrap();
    assert_eq!((e["action"].as_str(), e["after"]["tier"].as_u64()), (Some("escalate"), Some(2)));
    let (s, b) = app.act("engineer1", &id, json!({"action": "escalate", "to_tier": 1, "reason": "x"})).await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("to_tier")), "only upwards");
    // To the supervisor (主管督办): the state stays, the supervisors hear.
    let (s, sup) =
        app.act("engineer1", &id, json!({"action": "escalate", "to_supervisor": true, "reason": "客户多次来电"})).await;
    assert_eq!(
        (s, sup["supervised"].as_bool(), sup["status"].as_str()),
        (StatusCode::OK, Some(true), Some("dispatched"))
    );
    assert!(notices(&app, "supervisor1").await.contains(&"supervised".to_string()));

    // On breach: a fault handled at L1 for more than 2 hours goes to L2 by itself.
    duty(&app, "supervisor1", "engineer1", false).await;
    let fault = app.create("agent1", ticket_body("fault")).await;
    let fid = fault["id"].clone();
    assert_eq!(fault["unassignable"], true, "no engineer on duty");
    // It waits in the network team's queue: the hotline lead may not dispatch it, its own lead may.
    let (s, e) = app.act("agent2", &fid, json!({"action": "dispatch", "assignee": "agent1"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "not the hotline lead's ticket: {e}");
    let (s, d) =
        app.act("engineer1", &fid, json!({"action": "dispatch", "assignee": "agent1", "reason": "先由一线排查"})).await;
    assert_eq!((s, d["tier"].as_u64()), (StatusCode::OK, Some(1)), "{d}");
    duty(&app, "supervisor1", "engineer1", true).await;
    app.clock.advance(chrono::Duration::minutes(121));
    (app.jobs)().await;
    let now = app.get("agent1", &format!("/api/v1/tickets/{fid}")).await.1;
    assert_eq!((now["tier"].as_u64(), now["assignee"]["username"].as_str()), (Some(2), Some("engineer1")), "{now}");
    let events = app.get("agent1", &format!("/api/v1/tickets/{fid}/events")).await.1;
    let auto = events.as_array().unwrap().iter().find(|e| e["action"] == "escalate").expect("an escalation event");
    assert_eq!(auto["actor_name"], "system:sla-watcher");
    assert_eq!(auto["data"]["escalation"]["to_tier"], 2);
    let limit = now["deadlines"].as_array().unwrap().iter().find(|d| d["kind"] == "tier_limit").unwrap();
    assert_eq!(limit["state"], "breached", "met late, when the ticket left L1");
    // The watcher does not escalate twice.
    (app.jobs)().await;
    let again = app.get("agent1", &format!("/api/v1/tickets/{fid}/events")).await.1;
    assert_eq!(again.as_array().unwrap().iter().filter(|e| e["action"] == "escalate").count(), 1);
}

async fn queues_notes_and_mentions(app: TestApp) {
    let teams = setup_org(&app).await;
    let a = app.create("agent1", consultation()).await;
    let b = app.create("agent1", consultation()).await;
    let fault = app.create("agent1", ticket_body("fault")).await;
    let count = |v: Value| v["total"].as_i64().unwrap();
    assert_eq!(count(app.get("agent1", "/api/v1/tickets?queue=mine").await.1), 1);
    assert_eq!(count(app.get("agent2", "/api/v1/tickets?queue=team").await.1), 2);
    assert_eq!(count(app.get("engineer1", "/api/v1/tickets?queue=team").await.1), 1);
    assert_eq!(count(app.get("agent1", &format!("/api/v1/tickets?team={}", teams["network"])).await.1), 1);
    assert_eq!(count(app.get("agent1", "/api/v1/tickets?tier=2").await.1), 1);
    assert_eq!(count(app.get("agent1", "/api/v1/tickets?unassigned=true").await.1), 0);
    let (s, e) = app.get("agent1", "/api/v1/tickets?queue=someday").await;
    assert_eq!((s, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("queue")));
    assert_eq!(
        app.get("inspector1", "/api/v1/tickets?queue=team").await.0,
        StatusCode::UNPROCESSABLE_ENTITY,
        "no team"
    );
    // 25 minutes: the 30-minute responses are in warning; 31: overdue.
    app.clock.advance(chrono::Duration::minutes(25));
    assert_eq!(count(app.get("agent1", "/api/v1/tickets?queue=warning").await.1), 0, "dispatch met the response");
    assert_eq!(app.act("engineer1", &fault["id"], json!({"action": "start"})).await.0, StatusCode::OK);
    app.clock.advance(chrono::Duration::minutes(75));
    // 100 min: the fault's 2-hour resolution is past 80 %.
    let warning = app.get("agent1", "/api/v1/tickets?queue=warning").await.1;
    assert_eq!(
        warning["items"].as_array().unwrap().iter().map(|t| t["id"].clone()).collect::<Vec<_>>(),
        vec![fault["id"].clone()]
    );
    app.clock.advance(chrono::Duration::minutes(30));
    let overdue = app.get("agent1", "/api/v1/tickets?queue=overdue").await.1;
    assert_eq!(overdue["items"][0]["id"], fault["id"]);
    assert_eq!(count(app.get("agent1", "/api/v1/tickets?queue=warning").await.1), 0, "overdue is not warning");

    // Internal notes and replies; mentions notify colleagues.
    let (s, c) = app
        .post(
            "agent1",
            &format!("/api/v1/tickets/{}/comments", a["id"]),
            json!({"body": "请 @engineer1 协助查看光猫日志，@nobody 不存在", "internal": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let page = app.get("engineer1", "/api/v1/notices?unread=true").await.1;
    let mention = page["items"].as_array().unwrap().iter().find(|n| n["kind"] == "mention").unwrap().clone();
    assert_eq!(mention["ticket_number"], a["number"]);
    assert!(mention["message_zh"].as_str().unwrap().contains("内部备注"));
    app.post(
        "agent1",
        &format!("/api/v1/tickets/{}/comments", b["id"]),
        json!({"body": "已电话回复客户", "internal": false}),
    )
    .await;
    let comments = app.get("agent2", &format!("/api/v1/tickets/{}/comments", a["id"])).await.1;
    assert_eq!(comments[0]["internal"], true);
    assert_eq!(comments[0]["mentions"].as_array().unwrap().len(), 1);
    let events = app.get("agent1", &format!("/api/v1/tickets/{}/events", a["id"])).await.1;
    assert_eq!(events.as_array().unwrap().last().unwrap()["action"], "comment", "every communication is on the ticket");
    // Read: one, then all.
    let unread = page["total"].as_i64().unwrap();
    let (_, r) = app.post("engineer1", "/api/v1/notices/read", json!({"id": mention["id"]})).await;
    assert_eq!(r["marked_read"], 1);
    assert_eq!(count(app.get("engineer1", "/api/v1/notices?unread=true").await.1), unread - 1);
    app.post("engineer1", "/api/v1/notices/read", json!({})).await;
    assert_eq!(count(app.get("engineer1", "/api/v1/notices?unread=true").await.1), 0);
    assert!(count(app.get("agent2", "/api/v1/notices?unread=true").await.1) > 0, "others' notices untouched");
}

async fn an_appeal_brings_in_the_supervisor(app: TestApp) {
    setup_org(&app).await;
    let t = app.create("agent1", consultation()).await;
    let (id, holder) = (t["id"].clone(), t["assignee"]["username"].as_str().unwrap().to_string());
    for (who, body) in [
        (holder.as_str(), json!({"action": "start"})),
        (holder.as_str(), json!({"action": "resolve", "result": "已告知资费"})),
        ("agent1", json!({"action": "notify_result", "method": "sms"})),
    ] {
        let (s, b) = app.act(who, &id, body).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    assert_eq!(app.get("supervisor1", "/api/v1/notices").await.1["total"], 0);
    let (s, t) = app.act("agent1", &id, json!({"action": "appeal", "reason": "客户不认可答复"})).await;
    assert_eq!((s, t["supervised"].as_bool(), t["status"].as_str()), (StatusCode::OK, Some(true), Some("in_progress")));
    assert!(notices(&app, "supervisor1").await.contains(&"supervised".to_string()));
}

both_stores!(
    policy = super::placed_rules();
    automatic_dispatch_balances_load_and_respects_duty_capacity_and_skills,
    two_leads_dispatching_at_once_exactly_one_wins,
    transfers_to_teams_and_departments_are_recorded_limited_and_followed,
    escalation_by_hand_and_on_a_tier_breach,
    queues_notes_and_mentions,
    an_appeal_brings_in_the_supervisor,
);
