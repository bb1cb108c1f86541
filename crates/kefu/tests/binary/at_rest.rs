//! Issue 13, hole 4: personal identifiers are sealed at rest wherever they
//! appear. A ticket's phone, ID number and street address go through every
//! place a person can write them — the customer, the service number, the
//! title, description and location, notes, a transfer reason, the result,
//! the result notice, a reveal's reason, an action's reason — and then the
//! raw database (the SQLite file with its WAL, or a `pg_dump` of the
//! PostgreSQL schema) is searched for them: zero hits. Everything still
//! reads back in full through the API.

use crate::common;

use common::{PASSWORD, Target, client, login, login_as};
use serde_json::{Value, json};

const PHONE: &str = "13566667777";
const OTHER_PHONES: &[&str] = &["139-8765-4321", "139 8765 4321", "+86 139 8765 4321", "8613987654321"];
const ID: &str = "11010519491231002X";
const STREET: &str = "文三路99号";
const LOCATION: &str = "上海市黄浦区延安东路100号2单元301室";

/// What a test registered, as it must never appear in the raw database.
fn secrets() -> Vec<String> {
    let mut s: Vec<String> = vec![PHONE.into(), ID.into(), STREET.into(), "延安东路100号".into(), "13987654321".into()];
    s.extend(OTHER_PHONES.iter().map(|p| p.to_string()));
    s
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

async fn call(c: &reqwest::Client, base: &str, token: &str, path: &str, body: Value) -> Value {
    let r = c.post(format!("{base}{path}")).bearer_auth(token).json(&body).send().await.unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {v}");
    v
}

/// Writes the personal data into every place it can go; returns the ticket.
async fn write_everywhere(base: &str) -> Value {
    let c = client();
    let token = login(&c, base).await;
    let others = OTHER_PHONES.join("、");
    let t = call(&c, base, &token, "/api/v1/tickets", json!({
        "channel": "phone", "type": "consultation",
        "title": format!("客户{PHONE}咨询宽带资费"),
        "description": format!("客户另留电话{others}；身份证号{ID}；住址浙江省杭州市西湖区{STREET}"),
        "location": LOCATION,
        "service_number": PHONE,
        "customer": {"name": "吴九", "phone": PHONE, "id_number": ID, "address": format!("浙江省杭州市西湖区{STREET}")},
    }))
    .await;
    let id = t["id"].clone();
    let path = format!("/api/v1/tickets/{id}");
    call(
        &c,
        base,
        &token,
        &format!("{path}/comments"),
        json!({"body": format!("已回拨{}，客户说住{STREET}", OTHER_PHONES[0]), "internal": true}),
    )
    .await;
    call(
        &c,
        base,
        &token,
        &format!("{path}/actions"),
        json!({"action": "set_priority", "priority": "important", "reason": format!("客户{PHONE}为老年人")}),
    )
    .await;
    let reveal = json!({"field": "customer.phone", "reason": format!("客户要求回拨另一号码{}核对", OTHER_PHONES[1])});
    call(&c, base, &token, &format!("{path}/reveal"), reveal).await;
    let transfer =
        json!({"action": "transfer", "to": "agent2", "reason": format!("客户{PHONE}要求转交"), "mode": "system"});
    call(&c, base, &token, &format!("{path}/actions"), transfer).await;
    let c2 = client();
    let token2 = login_as(&c2, base, "agent2").await;
    call(&c2, base, &token2, &format!("{path}/actions"), json!({"action": "accept_transfer"})).await;
    let result = format!("已向客户{PHONE}说明资费，并登记上门地址{LOCATION}");
    call(&c2, base, &token2, &format!("{path}/actions"), json!({"action": "resolve", "result": result})).await;
    call(&c2, base, &token2, &format!("{path}/actions"), json!({"action": "notify_result", "method": "sms"})).await;
    // Read back in full by those who may: nothing lost by sealing.
    let got = c2.get(format!("{base}{path}/events")).bearer_auth(&token2).send().await.unwrap().text().await.unwrap();
    assert!(got.contains("咨询宽带资费"), "{got}");
    let comments =
        c.get(format!("{base}{path}/comments")).bearer_auth(&token).send().await.unwrap().text().await.unwrap();
    assert!(comments.contains("已回拨") && comments.contains("客户说住"), "{comments}");
    t
}

fn assert_sealed(raw: &[u8], source: &str) {
    assert!(raw.len() > 10_000, "{source} is empty?");
    for secret in secrets() {
        assert!(!contains(raw, &secret), "{source} holds {secret} in plain text");
    }
}

/// The target with a second agent, to transfer to.
async fn with_agent2(target: Target) -> Target {
    let out = target.kefu().args(["user", "add", "agent2", "--role", "agent", "--password", PASSWORD]).output().await;
    assert!(out.unwrap().status.success());
    target
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_personal_in_the_sqlite_file() {
    let target = with_agent2(Target::sqlite().await).await;
    let (mut server, base) = target.start().await;
    write_everywhere(&base).await;
    // The outbox delivers the notice (into messages.log) within a few seconds.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    server.kill().await.unwrap();
    let mut raw = std::fs::read(target.sqlite_file()).unwrap();
    if let Ok(wal) = std::fs::read(target.dir().join("kefu.db-wal")) {
        raw.extend(wal);
    }
    assert_sealed(&raw, "the SQLite file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_personal_in_a_postgres_dump() {
    let target = with_agent2(Target::postgres().await).await;
    let (mut server, base) = target.start().await;
    write_everywhere(&base).await;
    server.kill().await.unwrap();
    let Target::Postgres(schema) = &target else { unreachable!() };
    let url =
        std::env::var("KEFU_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let dump = tokio::process::Command::new("pg_dump")
        .args(["--data-only", "--schema", &schema.name, &url])
        .output()
        .await
        .expect("pg_dump runs (PostgreSQL's client, installed with the server)");
    assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
    assert_sealed(&dump.stdout, "the PostgreSQL dump");
}
