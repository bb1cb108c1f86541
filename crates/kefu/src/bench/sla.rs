//! `kefu bench sla`: the time of one SLA watcher tick with many open
//! tickets, first with no alert due, then with `due` alerts due, next to the
//! same no-alert tick on an empty database (the baseline: a tick's cost must
//! not grow with tickets that are not due — the `next_alert_at` index).

use crate::sample::{self, Rng};
use anyhow::Result;
use chrono::Duration;
use kefu_domain::Role;
use kefu_domain::clock::FixedClock;
use kefu_domain::flow::{Actor, FlowSet};
use kefu_domain::policy::Policy;
use kefu_server::{Kefu, jobs};
use kefu_store::CreateTicket;
use kefu_store::prelude::*;
use kefu_store_sqlite::SqliteStore;
use std::sync::Arc;
use std::time::Instant;

async fn service(path: &std::path::Path, clock: Arc<FixedClock>) -> Result<Kefu<SqliteStore>> {
    let store = SqliteStore::open(path, Arc::new(kefu_store::crypto::FieldCipher::random()))?;
    let kefu = Kefu::new(store, FlowSet::defaults(), Policy::defaults(), clock, kefu_server::Settings::default())
        .await
        .map_err(|e| anyhow::anyhow!(e.to_string()))?;
    Ok(kefu)
}

/// Registers `n` tickets at the clock's time straight into the store, with
/// their deadlines, 64 at a time (the writer commits them in groups).
async fn fill(kefu: &Kefu<SqliteStore>, actor: &Actor, n: usize, seed: u64) -> Result<()> {
    let mut rng = Rng::new(seed);
    let mut pending = Vec::new();
    for i in 0..n {
        let op = registration(kefu, &mut rng, actor)?;
        let store = kefu.store.clone();
        pending.push(tokio::spawn(async move { store.create_ticket(op).await }));
        if pending.len() == 256 || i + 1 == n {
            for p in pending.drain(..) {
                p.await??;
            }
        }
        if (i + 1) % 100_000 == 0 {
            eprintln!("  … {} tickets registered", i + 1);
        }
    }
    Ok(())
}

/// Median of `runs` ticks, in milliseconds.
async fn tick_ms(kefu: &Kefu<SqliteStore>, runs: usize) -> Result<(f64, usize)> {
    let mut times = Vec::new();
    let mut raised = 0;
    for _ in 0..runs {
        let t = Instant::now();
        raised += jobs::watch_sla(kefu, "bench").await.map_err(|e| anyhow::anyhow!(e.to_string()))?.unwrap_or(0);
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], raised))
}

pub async fn run(open: usize, due: usize) -> Result<()> {
    println!("kefu bench sla: one watcher tick, {open} open tickets not due, then {due} with an alert due (SQLite)");
    let dir = tempfile::tempdir()?;
    let t0 = "2026-11-23T02:00:00Z".parse()?;

    let empty = service(&dir.path().join("empty.db"), Arc::new(FixedClock::new(t0))).await?;
    let (base, _) = tick_ms(&empty, 9).await?;

    // The open tickets are registered "now": nothing of theirs is due yet.
    let clock = Arc::new(FixedClock::new(t0 - Duration::minutes(60)));
    let kefu = service(&dir.path().join("full.db"), clock.clone()).await?;
    let u =
        kefu.add_user("bench", Role::Agent, None, "Bench-pass-1").await.map_err(|e| anyhow::anyhow!(e.to_string()))?;
    let actor = Actor::new(u.id, u.username, Role::Agent);
    // The due ones are registered an hour earlier: their 30-minute response deadlines have passed.
    fill(&kefu, &actor, due, 7).await?;
    // Numbers have six digits per Shanghai day, so the open tickets are
    // registered over consecutive days (after the tick's instant: not due).
    let start = Instant::now();
    let mut left = open;
    for day in 0.. {
        if left == 0 {
            break;
        }
        clock.set(t0 + Duration::days(day));
        let n = left.min(500_000);
        fill(&kefu, &actor, n, 8 + day as u64).await?;
        left -= n;
    }
    let fill_secs = start.elapsed().as_secs_f64();
    clock.set(t0);

    let (with_due, raised) = tick_ms(&kefu, 1).await?;
    let (idle, _) = tick_ms(&kefu, 9).await?;
    println!("  registered {open} tickets in {fill_secs:.0} s ({:.0}/s)", open as f64 / fill_secs);
    println!("  tick, empty database (baseline)           {base:>9.3} ms");
    println!("  tick, {open} open, none due          {idle:>9.3} ms   ratio to baseline {:.2}", idle / base);
    println!(
        "  tick, {open} open, {due} due ({raised} alerts) {with_due:>9.3} ms   {:.3} ms per ticket",
        with_due / due.max(1) as f64
    );
    println!("  peak RSS of this process: {:.0} MB", super::peak_rss_mb());
    Ok(())
}

/// A sample registration at the service's time, with its deadlines, for
/// the store directly (no HTTP, no automatic dispatch).
pub(super) fn registration(kefu: &Kefu<SqliteStore>, rng: &mut Rng, actor: &Actor) -> Result<CreateTicket> {
    let policy = &kefu.core.policy;
    let now = kefu.now();
    let mut t = sample::intake(rng).parse(&policy.priority).map_err(|e| anyhow::anyhow!(e.message))?;
    t.deadlines = kefu_domain::sla::on_create(&policy.sla, &kefu.core.calendar, t.ticket_type, t.priority, now)?;
    t.next_alert_at = kefu_domain::sla::next_alert(&policy.sla, &t.deadlines);
    Ok(CreateTicket {
        ticket: t,
        actor: actor.clone(),
        initial_state: "accepted".into(),
        now,
        idempotency: None,
        follow_up: None,
        messages: None,
        render: Box::new(|_| serde_json::Value::Null),
    })
}
