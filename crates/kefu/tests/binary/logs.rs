//! No personal data in the logs: a full ticket lifecycle, with reveals,
//! refusals and errors, through the real server logging at debug level,
//! leaves no trace of the customer's phone or ID number in its log.

use crate::common;

use common::{Target, login};
use serde_json::{Value, json};
use std::process::Stdio;

const PHONE: &str = "13987654321";
const LANDLINE: &str = "075512345678";
const ID: &str = "44030419900101123X";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_log_holds_no_phone_or_id_number() {
    let target = Target::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("kefu.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let (mut server, base) = target.start_logging("debug", Stdio::from(log)).await;
    let c = common::client();
    let token = login(&c, &base).await;
    let post = |path: String, body: Value| c.post(format!("{base}{path}")).bearer_auth(&token).json(&body).send();
    let id_number = format!("{}{}", &ID[..17], kefu_domain::validate::id_check_char(&ID.as_bytes()[..17]) as char);
    let ticket: Value = post(
        "/api/v1/tickets".into(),
        json!({
            "channel": "phone", "type": "consultation", "title": format!("回拨{PHONE}"),
            "description": format!("客户{PHONE}，身份证{id_number}，座机{LANDLINE}"),
            "customer": {"name": "周八", "phone": PHONE, "id_number": id_number, "address": "广东省深圳市福田区深南大道1号"},
            "service_number": PHONE,
        }),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let id = ticket["id"].clone();
    for body in [
        json!({"action": "resolve", "result": format!("已致电{PHONE}答复")}),
        json!({"action": "notify_result", "method": "sms"}),
        json!({"action": "confirm"}),
        json!({"action": "archive"}),
    ] {
        post(format!("/api/v1/tickets/{id}/actions"), body).await.unwrap();
    }
    post(format!("/api/v1/tickets/{id}/reveal"), json!({"field": "customer.id_number", "reason": "核实身份"}))
        .await
        .unwrap();
    post(format!("/api/v1/tickets/{id}/comments"), json!({"body": format!("客户{PHONE}来电")})).await.unwrap();
    // Refused input carrying personal data.
    post("/api/v1/tickets".into(), json!({"channel": "phone", "customer": {"phone": format!("{PHONE}9")}}))
        .await
        .unwrap();
    c.get(format!("{base}/api/v1/tickets?customer_phone={PHONE}")).bearer_auth(&token).send().await.unwrap();
    c.get(format!("{base}/api/v1/customers?phone={PHONE}")).bearer_auth(&token).send().await.unwrap();
    server.kill().await.unwrap();

    let text = std::fs::read_to_string(&log_path).unwrap();
    let handled = text.lines().filter(|l| l.contains("\"handled\"")).count();
    assert!(handled >= 10, "every request is logged at debug level:\n{text}");
    for secret in [PHONE, LANDLINE, id_number.as_str(), &id_number[6..14]] {
        assert!(!text.contains(secret), "the log contains personal data {secret}");
    }
}
