//! `kefu export` from SQLite, `kefu import` into PostgreSQL and back: no
//! row changes on the way, every audit chain verifies on the far side, and
//! each export is recorded in the access log.

use crate::common;

use common::{Target, login};
use serde_json::{Value, json};
use std::path::Path;

async fn run(target: &Target, args: &[&str]) -> String {
    let out = target.kefu().args(args).output().await.unwrap();
    assert!(out.status.success(), "kefu {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The export lines of every table but the access log, which grows with
/// each export.
fn rows(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["table"] != "access_log")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_postgres_and_back_is_lossless() {
    let sqlite = Target::sqlite().await;
    let (mut server, base) = sqlite.start().await;
    let client = common::client();
    let token = login(&client, &base).await;
    for i in 0..5 {
        let body = json!({
            "channel": "store", "type": "account", "title": format!("余额查询 {i}"), "description": "客户查询近三个月缴费记录",
            "customer": {"name": "孙七", "phone": format!("1360000000{i}"), "id_number": "11010519491231002X", "address": "上海市浦东新区世纪大道1号"},
        });
        let r = client.post(format!("{base}/api/v1/tickets")).bearer_auth(&token).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 201);
    }
    server.kill().await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let (first, second, third) = (dir.path().join("1.jsonl"), dir.path().join("2.jsonl"), dir.path().join("3.jsonl"));
    run(&sqlite, &["export", "--out", first.to_str().unwrap(), "--reason", "迁移测试"]).await;
    let postgres = Target::Postgres(kefu_store_postgres::testing::TestSchema::create().await);
    assert!(run(&postgres, &["import", "--in", first.to_str().unwrap()]).await.contains("imported"));
    assert!(run(&postgres, &["audit", "verify"]).await.contains("5 tickets, 10 events"));
    run(&postgres, &["export", "--out", second.to_str().unwrap(), "--reason", "回迁测试"]).await;
    assert_eq!(rows(&first), rows(&second), "SQLite → PostgreSQL changes nothing");

    let back = Target::Sqlite(tempfile::tempdir().unwrap());
    run(&back, &["import", "--in", second.to_str().unwrap()]).await;
    run(&back, &["export", "--out", third.to_str().unwrap(), "--reason", "核对"]).await;
    assert_eq!(rows(&first), rows(&third), "and back again");
    // The exports are in the access log; importing into a used database is refused.
    let log: Vec<Value> = rows_of(&third, "access_log");
    assert_eq!(log.iter().filter(|r| r["row"]["action"] == "export").count(), 3);
    let again = back.kefu().args(["import", "--in", first.to_str().unwrap()]).output().await.unwrap();
    assert!(!again.status.success());
}

fn rows_of(path: &Path, table: &str) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["table"] == table)
        .collect()
}
