//! The event stream across a crash (issue 22): the real `kefu serve`,
//! configured with NATS JetStream (the machine's server, a fresh stream per
//! test), takes 1,000 ticket changes from ten clients and is SIGKILLed while
//! it publishes; the clients retry what failed with their idempotency keys
//! after a restart. A durable consumer that stops half-way and comes back
//! then reads every event exactly once, each ticket's events in order — on
//! SQLite and on PostgreSQL.

use crate::common;

use common::{Target, login};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TICKETS: usize = 100;
const STEPS: usize = 10; // a registration and nine notes
const WORKERS: usize = 10;
const NATS: &str = "nats://127.0.0.1:4222";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_once_in_order_across_sigkill_sqlite() {
    every_event_once_in_order_across_sigkill(Target::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_once_in_order_across_sigkill_postgres() {
    every_event_once_in_order_across_sigkill(Target::postgres().await).await;
}

/// What the clients have had acknowledged: ticket ids by index, changes done.
#[derive(Default)]
struct Done {
    ids: HashMap<usize, i64>,
    steps: HashSet<(usize, usize)>,
}

/// One client's share of the changes, in order, skipping what was
/// acknowledged; stops at the first failure (the node died).
async fn client_run(base: String, token: String, worker: usize, run: u64, done: Arc<Mutex<Done>>) -> usize {
    let client = common::client();
    let mut made = 0;
    for i in (worker..TICKETS).step_by(WORKERS) {
        for step in 0..STEPS {
            if done.lock().unwrap().steps.contains(&(i, step)) {
                continue;
            }
            // The same key for the same change in every run: a retry replays.
            let key = format!("nats-{run}-{i}-{step}");
            let sent = if step == 0 {
                let body = json!({"channel": "phone", "type": "consultation", "title": format!("资费咨询 {i}"),
                    "description": "询问套餐资费", "customer": {"name": "王五", "phone": format!("137{i:08}")}});
                client
                    .post(format!("{base}/api/v1/tickets"))
                    .bearer_auth(&token)
                    .header("Idempotency-Key", &key)
                    .json(&body)
            } else {
                let id = done.lock().unwrap().ids[&i];
                client
                    .post(format!("{base}/api/v1/tickets/{id}/comments"))
                    .bearer_auth(&token)
                    .header("Idempotency-Key", &key)
                    .json(&json!({"body": format!("第{step}次跟进")}))
            };
            let Ok(r) = sent.send().await else { return made };
            if !r.status().is_success() {
                return made;
            }
            let Ok(v) = r.json::<Value>().await else { return made };
            let mut d = done.lock().unwrap();
            if step == 0 {
                d.ids.insert(i, v["id"].as_i64().unwrap());
            }
            d.steps.insert((i, step));
            made += 1;
        }
    }
    made
}

async fn stream_count(js: &async_nats::jetstream::Context, name: &str) -> u64 {
    match js.get_stream(name).await {
        Ok(s) => s.get_info().await.map(|i| i.state.messages).unwrap_or(0),
        Err(_) => 0,
    }
}

async fn every_event_once_in_order_across_sigkill(target: Target) {
    let mut tag = [0u8; 4];
    getrandom::fill(&mut tag).unwrap();
    let tag: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    let (stream, prefix) = (format!("KEFU_TEST_{tag}"), format!("kefutest{tag}"));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kefu.toml");
    std::fs::write(
        &config,
        format!("[nats]\nurl = \"{NATS}\"\nstream = \"{stream}\"\nsubject_prefix = \"{prefix}\"\n"),
    )
    .unwrap();
    let start = || {
        let mut cmd = target.kefu();
        cmd.env("KEFU_CONFIG", &config).env("KEFU_LOG", "warn").stderr(std::process::Stdio::null());
        common::start_with(cmd)
    };
    let nats = async_nats::connect(NATS).await.expect("the machine's NATS server");
    let js = async_nats::jetstream::new(nats);

    // Ten clients at once; the node is killed while it publishes.
    let done = Arc::new(Mutex::new(Done::default()));
    let (mut server, base) = start().await;
    let token = login(&common::client(), &base).await;
    let clients: Vec<_> =
        (0..WORKERS).map(|w| tokio::spawn(client_run(base.clone(), token.clone(), w, 1, done.clone()))).collect();
    let mut at_kill = 0;
    for _ in 0..1200 {
        at_kill = stream_count(&js, &stream).await;
        if at_kill >= 150 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    server.kill().await.unwrap(); // SIGKILL
    for c in clients {
        c.await.unwrap();
    }
    let acked = done.lock().unwrap().steps.len();
    assert!(at_kill >= 150 && (at_kill as usize) < TICKETS * STEPS, "killed mid-stream ({at_kill} published)");

    // Restarted: the clients finish, retrying with the same keys.
    let (_server, base) = start().await;
    let token = login(&common::client(), &base).await;
    let clients: Vec<_> =
        (0..WORKERS).map(|w| tokio::spawn(client_run(base.clone(), token.clone(), w, 1, done.clone()))).collect();
    for c in clients {
        c.await.unwrap();
    }
    assert_eq!(
        done.lock().unwrap().steps.len(),
        TICKETS * STEPS,
        "every change acknowledged ({acked} before the kill)"
    );
    // Every audit event is an event (registration may dispatch at once: its own event).
    let client = common::client();
    let ids: HashMap<usize, i64> = done.lock().unwrap().ids.clone();
    let mut expected: HashMap<i64, i64> = HashMap::new();
    for id in ids.values() {
        let v: Value = client
            .get(format!("{base}/api/v1/tickets/{id}/events"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let n = v.as_array().or(v["items"].as_array()).map_or(0, Vec::len) as i64;
        assert!(n >= STEPS as i64, "ticket {id}: {v}");
        expected.insert(*id, n);
    }
    let total: i64 = expected.values().sum();
    // The dead node's lease runs out (30 s), then the new one carries on.
    let mut published = 0;
    for _ in 0..1800 {
        published = stream_count(&js, &stream).await;
        if published >= total as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(stream_count(&js, &stream).await, total as u64, "every event stored once ({published})");

    // A durable consumer reads 400, stops, comes back and reads the rest.
    let s = js.get_stream(&stream).await.unwrap();
    let config = async_nats::jetstream::consumer::pull::Config {
        durable_name: Some("warehouse".into()),
        ack_policy: async_nats::jetstream::consumer::AckPolicy::Explicit,
        ..Default::default()
    };
    let mut got: Vec<(String, String, Value)> = Vec::new();
    for (round, want) in [(1, 400), (2, total as usize - 400)] {
        let consumer: async_nats::jetstream::consumer::PullConsumer =
            s.get_or_create_consumer("warehouse", config.clone()).await.unwrap();
        let mut read = 0;
        while read < want {
            let mut batch = consumer
                .fetch()
                .max_messages((want - read).min(200))
                .expires(Duration::from_secs(2))
                .messages()
                .await
                .unwrap();
            let mut n = 0;
            while let Some(m) = batch.next().await {
                let m = m.unwrap();
                let id =
                    m.headers.as_ref().and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID)).map(|v| v.to_string());
                let id = id.unwrap_or_else(|| panic!("{:?}", m.headers));
                got.push((id, m.subject.to_string(), serde_json::from_slice(&m.payload).unwrap()));
                m.ack().await.unwrap();
                n += 1;
            }
            assert!(n > 0, "round {round}: the consumer ran dry at {read} of {want}");
            read += n;
        }
        drop(consumer);
    }
    let _ = js.delete_stream(&stream).await;

    // Once each, each ticket's events in order, headers and bodies agree.
    let unique: HashSet<&str> = got.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(unique.len(), total as usize, "no event twice");
    let mut per_ticket: HashMap<i64, Vec<i64>> = HashMap::new();
    for (id, subject, e) in &got {
        assert_eq!(e["id"].as_str(), Some(id.as_str()));
        assert_eq!(subject, &format!("{prefix}.{}", e["type"].as_str().unwrap()));
        per_ticket
            .entry(e["data"]["ticket_id"].as_i64().unwrap())
            .or_default()
            .push(e["data"]["seq"].as_i64().unwrap());
    }
    assert_eq!(per_ticket.len(), TICKETS);
    for (t, seqs) in per_ticket {
        assert_eq!(seqs, (1..=expected[&t]).collect::<Vec<_>>(), "ticket {t}: each event once, in order");
    }
}
