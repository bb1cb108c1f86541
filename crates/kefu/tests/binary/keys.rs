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

    // Another key file cannot start a node on this database: it says why
    // instead of serving a 500 on every customer read.
    let good = std::fs::read(dir.join("keys.toml")).unwrap();
    std::fs::remove_file(dir.join("keys.toml")).unwrap();
    refused(target.kefu()).await;
    std::fs::write(dir.join("keys.toml"), &good).unwrap();
    let (mut server, base) = target.start().await;
    let token = login(&client, &base).await;
    assert_eq!(reveal_id(&base, &client, &token, &ticket).await, ID, "the right key file starts it again");
    server.kill().await.unwrap();
}

/// `kefu serve` with `cmd`'s keys exits at once with a message naming the mismatch.
async fn refused(mut cmd: tokio::process::Command) {
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        cmd.args(["serve", "--listen", "127.0.0.1:0"]).kill_on_drop(true).output(),
    )
    .await
    .expect("a refused node exits")
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started with the wrong keys: {err}");
    assert!(err.contains("does not match this database") && err.contains("密钥文件与数据库不符"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).is_empty(), "no URL printed");
}

/// The same on PostgreSQL: the schema keeps the fingerprints, a node with
/// other keys (`KEFU_KEYS`) is refused, the right keys still start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_other_keys_is_refused_on_postgres() {
    let target = Target::postgres().await;
    let mut other = target.kefu();
    let wrong = common::TEST_KEYS
        .replace("ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=", "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8=");
    other.env("KEFU_KEYS", wrong);
    refused(other).await;
    let (mut server, base) = target.start().await;
    login(&common::client(), &base).await;
    server.kill().await.unwrap();
}
