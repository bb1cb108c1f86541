//! Kills the real `kefu serve` with SIGKILL in the middle of a concurrent
//! intake and checks that every ticket answered 201 is there after a
//! restart, and that every audit chain still verifies — on SQLite and on
//! PostgreSQL.

use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common;

use common::{Target, login};

fn body(i: usize) -> Value {
    json!({
        "channel": "phone", "type": "fault", "title": format!("宽带故障 {i}"),
        "description": "客户反映宽带无法上网，光猫 LOS 灯闪红",
        "customer": {"name": "王五", "phone": format!("139{:08}", i % 500)},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_tickets_survive_sigkill_sqlite() {
    acknowledged_tickets_survive_sigkill(Target::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_tickets_survive_sigkill_postgres() {
    acknowledged_tickets_survive_sigkill(Target::postgres().await).await;
}

async fn acknowledged_tickets_survive_sigkill(target: Target) {
    let (mut server, base) = target.start().await;
    let client = common::client();
    let token = login(&client, &base).await;

    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut tasks = Vec::new();
    for w in 0..16 {
        let (client, base, token, acked) = (client.clone(), base.clone(), token.clone(), acknowledged.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..10_000 {
                let r = client
                    .post(format!("{base}/api/v1/tickets"))
                    .bearer_auth(&token)
                    .json(&body(w * 10_000 + i))
                    .send()
                    .await;
                let Ok(resp) = r else { return };
                if resp.status() != 201 {
                    continue;
                }
                let Ok(v) = resp.json::<Value>().await else {
                    return;
                };
                acked.lock().unwrap().push(v["number"].as_str().unwrap().to_string());
            }
        }));
    }
    // Kill once a good number of writes have been acknowledged.
    while acknowledged.lock().unwrap().len() < 300 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill().await.unwrap(); // SIGKILL
    for t in tasks {
        let _ = t.await;
    }
    let acked = acknowledged.lock().unwrap().clone();
    assert!(acked.len() >= 300);

    let (mut server, base) = target.start().await;
    let token = login(&client, &base).await;
    for number in &acked {
        let r = client.get(format!("{base}/api/v1/tickets/{number}")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200, "ticket {number} was acknowledged but is gone");
    }
    let total: Value = client
        .get(format!("{base}/api/v1/tickets?per_page=1"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(total["total"].as_u64().unwrap() >= acked.len() as u64);
    server.kill().await.unwrap();

    let verify = target.kefu().args(["audit", "verify"]).output().await.unwrap();
    let out = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "audit verify failed: {out} {}", String::from_utf8_lossy(&verify.stderr));
    assert!(out.contains("intact"), "{out}");
}

#[tokio::test]
async fn audit_verify_names_the_first_broken_link() {
    let target = Target::sqlite().await;
    let (mut server, base) = target.start().await;
    let client = common::client();
    let token = login(&client, &base).await;
    for i in 0..3 {
        let r = client.post(format!("{base}/api/v1/tickets")).bearer_auth(&token).json(&body(i)).send().await.unwrap();
        assert_eq!(r.status(), 201);
    }
    server.kill().await.unwrap();
    // Tamper with the second ticket's registration event behind kefu's back.
    assert_eq!(tamper(&target.sqlite_file()), 1);
    let verify = target.kefu().args(["audit", "verify"]).output().await.unwrap();
    assert!(!verify.status.success());
    let err = String::from_utf8_lossy(&verify.stderr);
    assert!(err.contains("BROKEN at ticket 2 event 1"), "{err}");
}

/// Edits an event directly in the database file, as an attacker with file
/// access could.
fn tamper(db: &std::path::Path) -> usize {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute("UPDATE ticket_events SET actor_name = 'mallory' WHERE ticket_id = 2 AND seq = 1", []).unwrap()
}
