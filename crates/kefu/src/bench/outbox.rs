//! `kefu bench outbox`: customer messages through the outbox to a local
//! HTTP SMS gateway that answers after `gateway_ms` (cloud gateways take
//! tens of milliseconds), by one worker and by two workers (two "nodes")
//! at once, next to the same number of plain POSTs to the gateway with the
//! same number in flight (the baseline: what sending costs without the
//! outbox's claim and record). Also checks that every message reached the
//! gateway exactly once.

use crate::sample::Rng;
use anyhow::Result;
use kefu_domain::Role;
use kefu_domain::clock::FixedClock;
use kefu_domain::flow::{Actor, FlowSet};
use kefu_domain::policy::Policy;
use kefu_server::Kefu;
use kefu_store::prelude::*;
use kefu_store_sqlite::SqliteStore;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A gateway that counts what it gets per recipient.
async fn gateway(latency_ms: u64) -> Result<(String, Arc<Mutex<HashMap<String, usize>>>)> {
    let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let counts = seen.clone();
    let app = axum::Router::new().route(
        "/send",
        axum::routing::post(move |axum::Json(b): axum::Json<Value>| {
            let counts = counts.clone();
            async move {
                tokio::time::sleep(std::time::Duration::from_millis(latency_ms)).await;
                let key = format!("{}|{}", b["to"], b["text"]);
                let mut c = counts.lock().unwrap_or_else(|e| e.into_inner());
                *c.entry(key).or_default() += 1;
                axum::Json(json!({"message_id": format!("m{}", c.len())}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/send", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, seen))
}

async fn service(path: &std::path::Path, url: &str) -> Result<Kefu<SqliteStore>> {
    let store = SqliteStore::open(path, Arc::new(kefu_store::crypto::FieldCipher::random()))?;
    let delivery: kefu_server::delivery::DeliveryConfig = toml::from_str(&format!("[sms]\nurl = \"{url}\"\n"))?;
    let settings = kefu_server::Settings { delivery, ..Default::default() };
    let clock = Arc::new(FixedClock::new("2026-11-23T02:00:00Z".parse()?));
    Kefu::new(store, FlowSet::defaults(), Policy::defaults(), clock, settings)
        .await
        .map_err(|e| anyhow::anyhow!(e.to_string()))
}

/// Registers `n` tickets, each with its receipt SMS in the outbox.
async fn fill(kefu: &Kefu<SqliteStore>, n: usize) -> Result<()> {
    let u =
        kefu.add_user("bench", Role::Agent, None, "Bench-pass-1").await.map_err(|e| anyhow::anyhow!(e.to_string()))?;
    let actor = Actor::new(u.id, u.username, Role::Agent);
    let mut rng = Rng::new(11);
    let mut pending = Vec::new();
    for i in 0..n {
        let mut op = super::sla::registration(kefu, &mut rng, &actor)?;
        op.messages = kefu_server::service::messages::receipt(kefu.core.clone());
        let store = kefu.store.clone();
        pending.push(tokio::spawn(async move { store.create_ticket(op).await }));
        if pending.len() == 256 || i + 1 == n {
            for p in pending.drain(..) {
                p.await??;
            }
        }
    }
    Ok(())
}

/// Drains the outbox with `nodes` workers at once; seconds taken.
async fn drain(kefu: &Kefu<SqliteStore>, nodes: usize) -> Result<f64> {
    let start = Instant::now();
    let workers: Vec<_> = (0..nodes)
        .map(|i| {
            let kefu = kefu.clone();
            tokio::spawn(async move { kefu_server::delivery::deliver(&kefu, &format!("bench-{i}")).await })
        })
        .collect();
    for w in workers {
        w.await?.map_err(|e| anyhow::anyhow!(e.to_string()))?;
    }
    Ok(start.elapsed().as_secs_f64())
}

pub async fn run(count: usize, gateway_ms: u64) -> Result<()> {
    let parallel = kefu_server::delivery::DeliveryConfig::default().parallel;
    println!(
        "kefu bench outbox: {count} receipt SMS through the outbox to a local HTTP gateway answering in {gateway_ms} ms, \
         {parallel} in flight per worker (SQLite)"
    );
    kefu_server::delivery::install_tls_provider();
    let dir = tempfile::tempdir()?;
    let (url, seen) = gateway(gateway_ms).await?;

    // Baseline: the same number of plain POSTs, as many in flight.
    let client = reqwest::Client::new();
    let limit = Arc::new(tokio::sync::Semaphore::new(parallel));
    let start = Instant::now();
    let mut posts = tokio::task::JoinSet::new();
    for i in 0..count {
        let (client, url, limit) = (client.clone(), url.clone(), limit.clone());
        posts.spawn(async move {
            let _slot = limit.acquire_owned().await;
            client.post(&url).json(&json!({"to": format!("base{i}"), "text": "x"})).send().await?.error_for_status()
        });
    }
    while let Some(r) = posts.join_next().await {
        r??;
    }
    let base = start.elapsed().as_secs_f64();
    seen.lock().unwrap_or_else(|e| e.into_inner()).clear();

    let mut rows = Vec::new();
    for nodes in [1, 2] {
        let kefu = service(&dir.path().join(format!("outbox{nodes}.db")), &url).await?;
        fill(&kefu, count).await?;
        let secs = drain(&kefu, nodes).await?;
        let counts = std::mem::take(&mut *seen.lock().unwrap_or_else(|e| e.into_inner()));
        let dupes = counts.values().filter(|n| **n > 1).count();
        anyhow::ensure!(counts.len() == count, "{} of {count} messages reached the gateway", counts.len());
        anyhow::ensure!(dupes == 0, "{dupes} messages were sent twice");
        rows.push((nodes, secs));
    }
    println!("  plain POSTs (baseline)   {:>8.0} msg/s", count as f64 / base);
    for (nodes, secs) in rows {
        println!(
            "  outbox, {nodes} worker{}         {:>8.0} msg/s   time ratio to baseline {:.2}   every message once",
            if nodes == 1 { " " } else { "s" },
            count as f64 / secs,
            secs / base
        );
    }
    Ok(())
}
