//! Personal data on every path: masked per the policy's role-to-field table,
//! revealed only with a reason and only to roles allowed to, every reveal in
//! the access log. The matrix is generated from the policy itself.

use crate::common;

use common::*;
use kefu_domain::policy::Policy;
use kefu_domain::privacy::{Access, PersonalField};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PHONE: &str = "13812345678";
const ID: &str = "11010519491231002X";
const ADDRESS: &str = "北京市朝阳区建设路1号";

fn field_value(ticket: &Value, field: PersonalField) -> &str {
    match field {
        PersonalField::ServiceNumber => ticket["service_number"].as_str().unwrap(),
        f => ticket["customer"][f.as_str().trim_start_matches("customer.")].as_str().unwrap(),
    }
}

fn full_value(field: PersonalField) -> &'static str {
    match field {
        PersonalField::Name => "张三",
        PersonalField::Phone | PersonalField::ServiceNumber => PHONE,
        PersonalField::IdNumber => ID,
        PersonalField::Address => ADDRESS,
    }
}

/// Every role × every personal field: the ticket view shows the value in
/// full or masked, and a reveal succeeds or is refused, as the policy says.
async fn matrix_follows_the_policy(app: TestApp) {
    let policy = Policy::defaults().privacy;
    // A fault goes to the engineer, a complaint to the specialist.
    let fault = app.create("agent1", ticket_body("fault")).await["id"].clone();
    let complaint = app.create("agent1", ticket_body("complaint")).await["id"].clone();
    for (user, role) in USERS {
        let id = if *user == "specialist1" { &complaint } else { &fault };
        if *user == "agent2" {
            // Not one of the ticket's people: nothing to see or reveal.
            assert_eq!(app.get(user, &format!("/api/v1/tickets/{id}")).await.0, StatusCode::NOT_FOUND);
            let body = json!({"field": "customer.phone", "reason": "核实客户身份"});
            assert_eq!(app.post(user, &format!("/api/v1/tickets/{id}/reveal"), body).await.0, StatusCode::NOT_FOUND);
            continue;
        }
        let (_, view) = app.get(user, &format!("/api/v1/tickets/{id}")).await;
        for &field in PersonalField::ALL {
            let full = full_value(field);
            let shown = field_value(&view, field);
            let access = policy.access(*role, field);
            if access == Access::Full {
                assert_eq!(shown, full, "{user} sees {} in full", field.as_str());
            } else {
                assert_eq!(shown, field.mask(full), "{user} sees {} masked", field.as_str());
                assert!(view["masked_fields"].as_array().unwrap().contains(&json!(field.as_str())));
            }
            let body = json!({"field": field.as_str(), "reason": "核实客户身份"});
            let (s, b) = app.post(user, &format!("/api/v1/tickets/{id}/reveal"), body).await;
            if access == Access::Masked {
                assert_eq!(s, StatusCode::FORBIDDEN, "{user} may not reveal {}: {b}", field.as_str());
            } else {
                assert_eq!((s, b["value"].as_str()), (StatusCode::OK, Some(full)), "{user} reveals {}", field.as_str());
            }
        }
    }
    // Every successful reveal is in the access log, nothing else.
    let allowed = USERS
        .iter()
        .filter(|(u, _)| *u != "agent2")
        .flat_map(|(_, r)| PersonalField::ALL.iter().map(move |f| (r, f)))
        .filter(|(r, f)| policy.access(**r, **f) != Access::Masked)
        .count();
    let (_, log) = app.get("admin", "/api/v1/access-log?per_page=500").await;
    assert_eq!(log["total"].as_u64().unwrap() as usize, allowed);
    let entry = &log["items"][0];
    assert_eq!((entry["action"].as_str(), entry["reason"].as_str()), (Some("reveal"), Some("核实客户身份")));
    assert!(entry["subject"].as_str().unwrap().starts_with("ticket:GD"));
}

async fn free_text_and_history_are_masked(app: TestApp) {
    let mut body = ticket_body("complaint");
    body["description"] = json!(format!("客户来电{PHONE}投诉，身份证{ID}，要求退费"));
    let t = app.create("agent1", body).await;
    let id = t["id"].clone();
    let desc = t["description"].as_str().unwrap();
    assert!(!desc.contains(PHONE) && !desc.contains(ID), "{desc}");
    assert!(desc.contains("138****5678") && desc.contains("110105********002X"));
    // A complaint specialist sees phone numbers in full (policy), ID numbers not.
    let (_, seen) = app.get("specialist1", &format!("/api/v1/tickets/{id}")).await;
    let desc = seen["description"].as_str().unwrap();
    assert!(desc.contains(PHONE) && !desc.contains(ID));
    app.post(
        "agent1",
        &format!("/api/v1/tickets/{id}/comments"),
        json!({"body": format!("已回拨{PHONE}"), "internal": true}),
    )
    .await;
    for path in ["events", "comments"] {
        let (_, v) = app.get("agent1", &format!("/api/v1/tickets/{id}/{path}")).await;
        let text = v.to_string();
        assert!(!text.contains(PHONE) && !text.contains(ID), "{path}: {text}");
    }
    let (_, list) = app.get("inspector1", "/api/v1/tickets").await;
    assert_eq!(list["items"][0]["customer"]["name"], "张*");
    let (_, c) = app.get("agent1", &format!("/api/v1/customers?phone={PHONE}")).await;
    assert_eq!((c["phone"].as_str(), c["address"].as_str()), (Some("138****5678"), Some("北京市朝阳区****")));
}

async fn reveals_need_a_reason_and_a_known_field(app: TestApp) {
    let t = app.create("agent1", ticket_body("fault")).await;
    let path = format!("/api/v1/tickets/{}/reveal", t["id"]);
    let (s, b) = app.post("agent1", &path, json!({"field": "customer.phone"})).await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("reason")));
    let (s, b) = app.post("agent1", &path, json!({"field": "customer.salary", "reason": "x"})).await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("field")));
    let customer = t["customer"]["id"].as_i64().unwrap();
    let (s, b) = app
        .post(
            "supervisor1",
            &format!("/api/v1/customers/{customer}/reveal"),
            json!({"field": "customer.id_number", "reason": "投诉调查"}),
        )
        .await;
    assert_eq!((s, b["value"].as_str()), (StatusCode::OK, Some(ID)));
    let (s, _) = app.get("agent1", "/api/v1/access-log").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "agents do not read the access log");
    let (_, log) = app.get("inspector1", "/api/v1/access-log").await;
    assert_eq!(log["total"], 1, "refused reveals are not logged as views");
    assert_eq!(log["items"][0]["subject"], format!("customer:{customer}"));
}

async fn customers_can_have_their_data_and_erasure_where_retention_allows(mut app: TestApp) {
    let t = app.create("agent1", ticket_body("fault")).await;
    let customer = t["customer"]["id"].as_i64().unwrap();
    let export = format!("/api/v1/customers/{customer}/export");
    let (s, b) = app.post("supervisor1", &export, json!({})).await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("reason")));
    assert_eq!(app.post("agent1", &export, json!({"reason": "x"})).await.0, StatusCode::FORBIDDEN);
    let (s, data) = app.post("supervisor1", &export, json!({"reason": "客户申请查阅个人信息 SR-1"})).await;
    assert_eq!(s, StatusCode::OK, "{data}");
    assert_eq!(data["customer"]["id_number"], ID, "the customer gets their data in full");
    assert_eq!(data["tickets"].as_array().unwrap().len(), 1);
    assert_eq!(data["tickets"][0]["events"][0]["action"], "create");
    let (_, log) = app.get("admin", "/api/v1/access-log").await;
    assert_eq!(
        (log["items"][0]["action"].as_str(), log["items"][0]["subject"].as_str()),
        (Some("export"), Some(&*format!("customer:{customer}")))
    );

    // Erasure: refused while the ticket is open, then while it is retained.
    let erase = format!("/api/v1/customers/{customer}/erase");
    let (s, b) = app.post("supervisor1", &erase, json!({"reason": "客户申请删除"})).await;
    assert_eq!((s, b["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("retention_period")));
    assert!(b["error"]["details"]["kept_until"].is_null());
    let u = app
        .create("agent1", {
            let mut b = ticket_body("unsubscribe");
            b["customer"]["phone"] = json!("13900001111");
            b
        })
        .await;
    for (who, body) in [
        ("agent1", json!({"action": "approve"})),
        ("agent1", json!({"action": "resolve", "result": "已退订"})),
        ("agent1", json!({"action": "notify_result", "method": "phone"})),
        ("supervisor1", json!({"action": "review", "passed": true})),
        ("supervisor1", json!({"action": "archive"})),
    ] {
        assert_eq!(app.act(who, &u["id"], body).await.0, StatusCode::OK);
    }
    let other = u["customer"]["id"].as_i64().unwrap();
    let (s, b) =
        app.post("supervisor1", &format!("/api/v1/customers/{other}/erase"), json!({"reason": "客户申请删除"})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let until = b["error"]["details"]["kept_until"].as_str().unwrap();
    assert!(until.starts_with("2029-11-22"), "three years after archiving: {until}");
    app.clock.advance(chrono::Duration::days(3 * 366));
    app.relogin("supervisor1").await;
    let (_, b) =
        app.post("supervisor1", &format!("/api/v1/customers/{other}/erase"), json!({"reason": "客户申请删除"})).await;
    assert!(b["error"]["message"].as_str().unwrap().contains("past retention"), "{b}");
}

both_stores!(
    matrix_follows_the_policy,
    free_text_and_history_are_masked,
    reveals_need_a_reason_and_a_known_field,
    customers_can_have_their_data_and_erasure_where_retention_allows,
);
