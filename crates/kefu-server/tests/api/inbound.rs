//! Messages customers send in (R-1, R-20), against a local SMS gateway that
//! records what kefu sends: a text from an unknown number becomes a ticket
//! with its receipt by SMS; an agent's reply goes back by SMS; the
//! customer's answer threads onto the same ticket and tells its handler; a
//! digit 1–5 answers the survey invitation; a gateway's retry changes
//! nothing; a wrong token or a malformed callback is refused.

use crate::common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

const TOKEN: &str = "mo-secret";

async fn start(backend: Backend) -> (TestApp, SmsGateway) {
    let (sms, url) = SmsGateway::start(0).await;
    let delivery: DeliveryConfig = toml::from_str(&format!(
        r#"
        [sms]
        url = "{url}"
        headers = {{ "X-Api-Key" = "k-123" }}
        to_field = "mobile"
        text_field = "content"
        response_id = "data.sms_id"
        inbound_id_field = "msg_id"
        inbound_from_field = "mobile"
        inbound_text_field = "content"
        inbound_token = "{TOKEN}"
        "#
    ))
    .unwrap();
    let mut policy = manual_dispatch();
    policy.dispatch.on_create = false;
    (spawn_app_delivering(backend, policy, delivery).await, sms)
}

async fn mo(app: &TestApp, body: Value) -> (StatusCode, Value) {
    let r = app
        .client
        .post(format!("{}/api/v1/sms/inbound", app.base))
        .header("X-Inbound-Token", TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

async fn text(app: &TestApp, id: &str, from: &str, content: &str) -> Value {
    let (s, b) = mo(app, json!({"msg_id": id, "mobile": from, "content": content})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["items"][0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_threads_on_sqlite() {
    a_text_becomes_a_ticket_and_the_conversation_stays_on_it(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_threads_on_postgres() {
    a_text_becomes_a_ticket_and_the_conversation_stays_on_it(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_surveys_on_sqlite() {
    a_digit_answers_the_survey_and_bad_callbacks_are_refused(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_surveys_on_postgres() {
    a_digit_answers_the_survey_and_bad_callbacks_are_refused(Backend::Postgres).await;
}

async fn a_text_becomes_a_ticket_and_the_conversation_stays_on_it(backend: Backend) {
    let (app, sms) = start(backend).await;
    let phone = "13900001111";
    let first = text(&app, "mo-1", "8613900001111", "家里宽带无法上网，光猫LOS灯红色闪烁，麻烦尽快派人修").await;
    assert_eq!((first["route"].as_str(), first["repeated"].as_bool()), (Some("new"), Some(false)), "{first}");
    let number = first["ticket"].as_str().unwrap().to_string();
    let (_, t) = app.get("supervisor1", &format!("/api/v1/tickets/{number}")).await;
    assert_eq!((t["channel"].as_str(), t["channel_zh"].as_str()), (Some("sms"), Some("短信")), "{t}");
    assert!(t["title"].as_str().unwrap().starts_with("【短信】家里宽带无法上网"), "{t}");
    assert_eq!(t["first_owner"]["username"], "kefu-inbound");
    assert_eq!(t["customer"]["name"], "短信客户");

    // The gateway sends the same message again: the same ticket, nothing new.
    let again = text(&app, "mo-1", "8613900001111", "家里宽带无法上网，光猫LOS灯红色闪烁，麻烦尽快派人修").await;
    assert_eq!((again["ticket"].as_str(), again["repeated"].as_bool()), (Some(number.as_str()), Some(true)));
    let (_, list) = app.get("supervisor1", &format!("/api/v1/tickets?customer_phone={phone}")).await;
    assert_eq!(list["total"], 1, "{list}");

    // The receipt and the agent's reply go out by SMS.
    let (s, b) = app.act("supervisor1", &t["id"], json!({"action": "dispatch", "assignee": "engineer1"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = app
        .post(
            "engineer1",
            &format!("/api/v1/tickets/{number}/comments"),
            json!({"body": "明天上午九点上门检修", "internal": false}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    (app.loop_jobs)().await;
    let texts = sms.texts_to(phone);
    assert_eq!(texts.len(), 2, "{texts:?}");
    // (Sent in parallel: in either order.)
    assert!(texts.iter().any(|t| t.contains(&number) && t.contains("已受理")), "the receipt: {texts:?}");
    assert!(texts.iter().any(|t| t.contains("明天上午九点上门检修")), "the reply: {texts:?}");

    // The customer answers: on the same ticket, as theirs, the handler told.
    let answer = text(&app, "mo-2", phone, "好的，明天家里有人").await;
    assert_eq!((answer["route"].as_str(), answer["ticket"].as_str()), (Some("reply"), Some(number.as_str())));
    let (_, comments) = app.get("engineer1", &format!("/api/v1/tickets/{number}/comments")).await;
    let last = comments.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["body"].as_str(), last["channel"].as_str(), last["internal"].as_bool()),
        (Some("好的，明天家里有人"), Some("sms"), Some(false))
    );
    let (_, notices) = app.get("engineer1", "/api/v1/notices").await;
    assert!(notices.to_string().contains("收到客户通过短信发来的消息"), "{notices}");
    let (_, events) = app.get("engineer1", &format!("/api/v1/tickets/{number}/events")).await;
    assert_eq!(events.as_array().unwrap().last().unwrap()["action"], "customer_message");
    assert_eq!(sms.texts_to(phone).len(), 2, "a customer's message is not answered by itself");

    // The console shows it as the customer's.
    let cookie = console_login(&app, "engineer1").await;
    let (_, page) = console_get(&app, &cookie, &format!("/console/tickets/{number}")).await;
    assert!(page.contains("好的，明天家里有人") && page.contains("客户来信"), "{page}");
}

async fn a_digit_answers_the_survey_and_bad_callbacks_are_refused(backend: Backend) {
    let (app, sms) = start(backend).await;
    let t = app.create("agent1", ticket_body("fault")).await;
    let id = t["id"].clone();
    for (who, body) in [
        ("agent1", json!({"action": "dispatch", "assignee": "engineer1"})),
        ("engineer1", json!({"action": "start"})),
        ("engineer1", json!({"action": "resolve", "result": "已更换光猫，线路恢复正常"})),
        ("agent1", json!({"action": "notify_result", "method": "sms"})),
        ("agent1", json!({"action": "confirm"})),
    ] {
        let (s, b) = app.act(who, &id, body).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let (_, _, invited) = (app.loop_jobs)().await;
    assert_eq!(invited, 1);
    assert!(sms.texts_to("13812345678").last().unwrap().contains("可直接回复数字"));

    let answer = text(&app, "mo-9", "+86 138 1234 5678", "５分").await;
    assert_eq!(answer["route"], "survey", "{answer}");
    let (_, after) = app.get("supervisor1", &format!("/api/v1/tickets/{id}")).await;
    let visit = &after["customer_loop"]["visit"];
    assert_eq!(
        (visit["state"].as_str(), visit["satisfaction"].as_u64(), visit["method"].as_str()),
        (Some("visited"), Some(5), Some("sms")),
        "{after}"
    );
    let (_, events) = app.get("supervisor1", &format!("/api/v1/tickets/{id}/events")).await;
    let last = events.as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["action"].as_str(), last["actor_name"].as_str()), (Some("return_visit"), Some("customer:sms")));

    // Refusals: no token or a wrong one, a missing field, a sender that is no phone.
    let r = app.client.post(format!("{}/api/v1/sms/inbound", app.base)).json(&json!({})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app
        .client
        .post(format!("{}/api/v1/sms/inbound?token=wrong", app.base))
        .json(&json!({"msg_id": "x", "mobile": "13812345678", "content": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let (s, b) = mo(&app, json!({"msg_id": "x", "content": "hi"})).await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("mobile")), "{b}");
    let (s, b) = mo(&app, json!({"msg_id": "x", "mobile": "10086", "content": "hi"})).await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("from")), "{b}");
    let (s, b) = mo(&app, json!([{"msg_id": "y", "mobile": "13812345678"}])).await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("[0].content")), "{b}");

    // A form body, as some gateways post: a new question after the survey is a word on the ticket still open to it.
    let r = app
        .client
        .post(format!("{}/api/v1/sms/inbound?token={TOKEN}", app.base))
        .form(&[("msg_id", "mo-10"), ("mobile", "13812345678"), ("content", "请问宽带续费怎么办理")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["items"][0]["route"], "reply", "{b}");
}
