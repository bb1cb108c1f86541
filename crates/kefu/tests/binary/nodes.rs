//! Two `kefu serve` processes on one PostgreSQL database, driven at once:
//! no ticket number twice, no event lost or doubled, idempotency keys
//! honoured across nodes, every audit chain intact.

use serde_json::{Value, json};
use std::collections::HashSet;

use crate::common;

use common::{Target, login};

fn ticket(i: usize) -> Value {
    json!({
        "channel": "web", "type": "consultation", "title": format!("咨询套餐 {i}"),
        "description": "客户咨询5G套餐资费", "customer": {"name": "赵六", "phone": format!("137{:08}", i % 97)},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_one_database_safely() {
    let target = Target::postgres().await;
    let (_a, url_a) = target.start().await;
    let (_b, url_b) = target.start().await;
    let client = common::client();
    let nodes = [(url_a.clone(), login(&client, &url_a).await), (url_b.clone(), login(&client, &url_b).await)];

    // Concurrent intake through both nodes.
    let mut tasks = Vec::new();
    for w in 0..16 {
        let (base, token) = nodes[w % 2].clone();
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for i in 0..25 {
                let r = client
                    .post(format!("{base}/api/v1/tickets"))
                    .bearer_auth(&token)
                    .json(&ticket(w * 100 + i))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
                let v: Value = r.json().await.unwrap();
                out.push((v["id"].as_i64().unwrap(), v["number"].as_str().unwrap().to_string()));
            }
            out
        }));
    }
    let mut created = Vec::new();
    for t in tasks {
        created.extend(t.await.unwrap());
    }
    let numbers: HashSet<&String> = created.iter().map(|(_, n)| n).collect();
    assert_eq!(numbers.len(), 400, "every number is unique across nodes");

    // Concurrent changes of the same tickets through both nodes.
    let targets: Vec<i64> = created.iter().take(20).map(|(id, _)| *id).collect();
    let mut tasks = Vec::new();
    for (k, id) in targets.iter().cycle().take(200).enumerate() {
        let (base, token) = nodes[k % 2].clone();
        let (client, id) = (client.clone(), *id);
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(format!("{base}/api/v1/tickets/{id}/comments"))
                .bearer_auth(&token)
                .json(&json!({"body": format!("跟进记录 {k}"), "internal": true}))
                .send()
                .await
                .unwrap();
            r.status().as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 201);
    }
    for id in &targets {
        let (base, token) = &nodes[0];
        let events: Vec<Value> = client
            .get(format!("{base}/api/v1/tickets/{id}/events"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert_eq!(
            seqs,
            (1..=12).collect::<Vec<_>>(),
            "ticket {id}: registration, dispatch (or queue) and ten comments, none lost or doubled"
        );
        assert!(matches!(events[1]["action"].as_str(), Some("dispatch" | "queue")), "{}", events[1]);
    }

    // The same idempotency key sent to both nodes at once creates one ticket.
    let sends = nodes.iter().map(|(base, token)| {
        client
            .post(format!("{base}/api/v1/tickets"))
            .bearer_auth(token)
            .header("Idempotency-Key", "same-key")
            .json(&ticket(999))
            .send()
    });
    let mut bodies = Vec::new();
    for r in futures_join(sends).await {
        let r = r.unwrap();
        assert_eq!(r.status(), 201);
        bodies.push(r.json::<Value>().await.unwrap());
    }
    assert_eq!(bodies[0]["number"], bodies[1]["number"]);
    let (base, token) = &nodes[1];
    let page: Value = client
        .get(format!("{base}/api/v1/tickets?per_page=1"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 401);

    let verify = target.kefu().args(["audit", "verify"]).output().await.unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
    // Each ticket: registration, automatic dispatch or queueing; 200 comments.
    assert!(
        String::from_utf8_lossy(&verify.stdout).contains("401 tickets, 1002 events"),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}

/// Awaits futures concurrently without an extra crate.
async fn futures_join<F: std::future::Future + Send + 'static>(fs: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F::Output: Send,
{
    let handles: Vec<_> = fs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}
