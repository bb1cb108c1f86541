//! `kefu bench incidents`: the spike warning on replayed months (false
//! alarms per month, the outage ticket that fired it), and one incident's
//! notice to its children's customers — fanned out by one node, and with
//! `--postgres` by one and by two nodes on one database — against the
//! baseline of registering those children in the same run.

use anyhow::{Result, anyhow, ensure};
use kefu_domain::Role;
use kefu_domain::clock::FixedClock;
use kefu_domain::flow::{Actor, FlowSet};
use kefu_domain::incident_record::{BatchState, IncidentRef};
use kefu_domain::intake::IntakeRequest;
use kefu_domain::policy::Policy;
use kefu_server::Kefu;
use kefu_store::crypto::FieldCipher;
use kefu_store::prelude::*;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub async fn run(children: usize, seeds: u64, postgres: Option<String>) -> Result<()> {
    spike(seeds.max(1));
    let customers = (children * 4 / 5).max(1);
    println!("kefu bench incidents: one notice to {children} linked tickets of {customers} customers");
    let dir = tempfile::tempdir()?;
    let cipher = Arc::new(FieldCipher::random());
    let sqlite = kefu_store_sqlite::SqliteStore::open(dir.path().join("incidents.db"), cipher.clone())?;
    report("SQLite, 1 node", &notices(&[service(sqlite).await?], children, customers).await?);
    let Some(pg) = postgres else { return Ok(()) };
    for nodes in [1, 2] {
        let schema = super::nodes::Schema::create(&pg, &format!("incidents{nodes}")).await?;
        let mut running = Vec::new();
        for _ in 0..nodes {
            running.push(service(kefu_store_postgres::PgStore::connect(&schema.url, cipher.clone()).await?).await?);
        }
        let label = format!("PostgreSQL, {nodes} node{}", if nodes == 1 { "" } else { "s on one database" });
        report(&label, &notices(&running, children, customers).await?);
        schema.drop().await?;
    }
    Ok(())
}

/// Replays `seeds` synthetic months under the shipped policy.
fn spike(seeds: u64) {
    let policy = Policy::defaults().spike;
    let runs: Vec<_> = (1..=seeds).map(|s| kefu_domain::spike::replay(&policy, s * 0x9E37_79B9)).collect();
    let checks: u32 = runs.iter().map(|r| r.checks).sum();
    let alarms: u32 = runs.iter().map(|r| r.false_alarms).sum();
    let mut found: Vec<u32> = runs.iter().filter_map(|r| r.detected_at).collect();
    found.sort_unstable();
    let missed = runs.len() - found.len();
    println!(
        "kefu bench incidents: spike warning, {seeds} replayed months (3 buckets, daily rhythm, Poisson counts; test {:?}, p {}, floor {})",
        policy.test, policy.p_value, policy.min_count
    );
    println!(
        "  false alarms: {:.2} per month ({alarms} in {checks} bucket-hours; expected ≤ p × checks = {:.1})",
        f64::from(alarms) / seeds as f64,
        policy.p_value * f64::from(checks)
    );
    if let (Some(first), Some(last)) = (found.first(), found.last()) {
        println!(
            "  planted outage (a ticket every 2 min in a bucket of ~1.2/h): found at its ticket {} (median), {first}–{last}; missed {missed}",
            found[found.len() / 2]
        );
    }
}

async fn service<S: Store>(store: S) -> Result<Kefu<S>> {
    let mut policy = Policy::defaults();
    policy.dispatch.on_create = false;
    // The bench measures the fan-out, not a second person's approval.
    policy.incidents.approval_above = u32::MAX;
    let clock = Arc::new(FixedClock::new("2026-11-23T02:00:00Z".parse()?));
    let settings = kefu_server::Settings::default();
    Kefu::new(store, FlowSet::defaults(), policy, clock, settings).await.map_err(|e| anyhow!(e.to_string()))
}

struct Figures {
    intake: f64,
    notices: f64,
    customers: i64,
}

fn report(label: &str, f: &Figures) {
    println!(
        "  {label:<40} registering the children {:>7.0} tickets/s (baseline)   notice {:>7.0} customers/s   ratio {:.2}   {} customers told once",
        f.intake,
        f.notices,
        f.notices / f.intake,
        f.customers
    );
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn intake(phone: &str) -> Result<IntakeRequest> {
    Ok(serde_json::from_value(json!({
        "channel": "phone", "type": "fault", "title": "家里断网", "description": "光猫红灯，无法上网",
        "customer": {"name": "王五", "phone": phone, "address": "北京市朝阳区望京西路1号"},
    }))?)
}

/// Registers the children on the first node, then times one notice fanned
/// out by every node at once until the batch is sent.
async fn notices<S: Store>(nodes: &[Kefu<S>], children: usize, customers: usize) -> Result<Figures> {
    let a = &nodes[0];
    let err = |e: kefu_server::error::ApiError| anyhow!(e.to_string());
    let u = a.add_user("sup", Role::Supervisor, None, "Bench-pass-1").await.map_err(err)?;
    let sup = Actor::new(u.id, u.username, Role::Supervisor);
    let declared = json!({"type": "outage", "title": "望京光缆中断", "started_at": "2026-11-23T01:30:00Z",
                          "scope": {"regions": ["朝阳区"], "services": [], "elements": []}});
    let i = a.create_incident(&sup, &obj(declared)).await.map_err(err)?;
    let id = i["id"].as_i64().unwrap_or_default();
    let to = IncidentRef { id, number: i["number"].as_str().unwrap_or_default().to_string() };
    let start = Instant::now();
    let mut pending = Vec::new();
    for n in 0..children {
        let mut t = intake(&format!("139{:08}", n % customers))?
            .parse(&a.core.policy.priority)
            .map_err(|e| anyhow!(e.message))?;
        t.incident = Some(to.clone());
        let op = kefu_store::CreateTicket {
            ticket: t,
            actor: sup.clone(),
            initial_state: "accepted".into(),
            now: a.now(),
            idempotency: None,
            follow_up: None,
            messages: None,
            render: Box::new(|_| Value::Null),
        };
        let store = a.store.clone();
        pending.push(tokio::spawn(async move { store.create_ticket(op).await.map(drop) }));
        if pending.len() == 256 || n + 1 == children {
            for p in pending.drain(..) {
                p.await??;
            }
        }
    }
    let intake_rate = children as f64 / start.elapsed().as_secs_f64();
    a.incident_action(&sup, id, &obj(json!({"action": "confirm"}))).await.map_err(err)?;
    let start = Instant::now();
    let notify = obj(json!({"action": "notify", "text": "望京光缆中断，正在抢修，预计18时恢复。"}));
    // The first node fans out in the background as the action returns; the others as their job would.
    a.incident_action(&sup, id, &notify).await.map_err(err)?;
    let others: Vec<_> = nodes[1..]
        .iter()
        .map(|k| {
            let k = k.clone();
            tokio::spawn(async move { k.send_incident_notices(id).await })
        })
        .collect();
    for o in others {
        o.await?.map_err(err)?;
    }
    while a.incident(id).await.map_err(err)?.notices[0].state != BatchState::Sent {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    let told = a.store.notice_progress(id).await?.first().map_or(0, |p| p.customers);
    ensure!(told == customers as i64, "{told} of {customers} customers told");
    Ok(Figures { intake: intake_rate, notices: customers as f64 / secs, customers: told })
}
