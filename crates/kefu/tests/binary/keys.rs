//! Encryption at rest with the real binary: the SQLite file (and its WAL)
//! holds no ID number, phone or address in plain text; `kefu keys rotate`
//! adds a key, re-encrypts every customer with it, and the data still reads.

use crate::common;

use common::{Target, login};
use serde_json::{Value, json};
use std::path::Path;

const ID: &str = "11010519491231002X";
const PHONE: &str = "13566667777";

fn raw_database(dir: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(dir.join("kefu.db")).unwrap();
    if let Ok(wal) = std::fs::read(dir.join("kefu.db-wal")) {
        bytes.extend(wal);
    }
    bytes
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

async fn reveal_id(base: &str, client: &reqwest::Client, token: &str, ticket: &Value) -> String {
    let r: Value = client
        .post(format!("{base}/api/v1/tickets/{ticket}/reveal"))
        .bearer_auth(token)
        .json(&json!({"field": "customer.id_number", "reason": "核实客户身份"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["value"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_file_alone_reveals_nothing_and_keys_rotate() {
    let target = Target::sqlite_with_key_file().await;
    let dir = target.dir();
    assert!(dir.join("keys.toml").exists(), "first start creates the key file");
    let (mut server, base) = target.start().await;
    let client = common::client();
    let token = login(&client, &base).await;
    let body = json!({
        "channel": "store", "type": "account", "title": "销户", "description": format!("客户申请注销宽带账户，身份证号{ID}"),
        "customer": {"name": "吴九", "phone": PHONE, "id_number": ID, "address": "浙江省杭州市西湖区文三路99号"},
    });
    let t: Value = client
        .post(format!("{base}/api/v1/tickets"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ticket = t["id"].clone();
    server.kill().await.unwrap();

    let raw = raw_database(dir);
    for secret in [ID, PHONE, "文三路99号"] {
        assert!(!contains(&raw, secret), "the database file holds {secret} in plain text");
    }

    let out = target.kefu().args(["keys", "rotate"]).output().await.unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{printed} {}", String::from_utf8_lossy(&out.stderr));
    assert!(printed.contains("key 2") && printed.contains("re-encrypted 1 customer"), "{printed}");
    let conn = rusqlite::Connection::open(target.sqlite_file()).unwrap();
    let (phone, id): (String, String) =
        conn.query_row("SELECT phone, id_number FROM customers", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert!(phone.starts_with("enc:2:") && id.starts_with("enc:2:"), "{phone} {id}");
    drop(conn);

    let (mut server, base) = target.start().await;
    let token = login(&client, &base).await;
    assert_eq!(reveal_id(&base, &client, &token, &ticket).await, ID);
    let found: Value = client
        .get(format!("{base}/api/v1/tickets?customer_phone={PHONE}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["total"], 1, "phone lookups survive the rotation");
    server.kill().await.unwrap();

    // Without the key file the data cannot be read.
    std::fs::remove_file(dir.join("keys.toml")).unwrap();
    let (mut server, base) = target.start().await;
    let token = login(&client, &base).await;
    let r = client.get(format!("{base}/api/v1/tickets/{ticket}")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 500, "a fresh key cannot decrypt the old data");
    server.kill().await.unwrap();
}
