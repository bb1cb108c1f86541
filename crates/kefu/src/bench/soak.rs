//! `kefu bench soak`: a bounded mixed load at a steady rate against a
//! server this command starts (SQLite, durable commits) with its real
//! background jobs: intake, actions (dispatch, start, resolve), work-queue lists,
//! ticket search, and the SLA watcher raising the breaches of the tickets
//! nobody dispatched. Reported per minute: requests, errors, p50/p99 per
//! operation, the process's RSS; at the end whether it drifted and whether
//! every response-deadline breach was raised on time.

use crate::sample::{self, Rng};
use anyhow::{Context, Result, bail};
use kefu_domain::Role;
use kefu_server::Kefu;
use kefu_store_sqlite::SqliteStore;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const OPS: [&str; 4] = ["intake", "action", "list", "search"];
/// The four work-queue lists, each also reported on its own (its drift
/// says which query grows with the tickets).
const LISTS: [(&str, &str); 4] = [
    ("list status", "status=accepted&per_page=20"),
    ("list mine", "queue=mine&per_page=20"),
    ("list overdue", "overdue=true&sort=due&per_page=20"),
    ("list page 3", "per_page=50&page=3"),
];
const PASSWORD: &str = "Soak-pass-1";
/// How late a breach may be raised: the watcher wakes when the earliest
/// alert falls due, and a round under this load takes a few seconds.
const ON_TIME_SECS: f64 = 5.0;
/// How long after its response deadline a ticket left to breach is taken
/// up (a supervisor catching up), so the overdue queue is a steady set as in
/// a working day, not one that grows for the whole run.
const LATE_PICKUP_SECS: u64 = 60;

/// Latencies and errors per minute and operation.
#[derive(Default)]
struct Tally {
    minutes: BTreeMap<u64, BTreeMap<&'static str, (Vec<Duration>, usize)>>,
    rss_mb: BTreeMap<u64, (f64, f64)>,
}

impl Tally {
    fn record(&mut self, minute: u64, op: &'static str, took: Option<Duration>) {
        let slot = self.minutes.entry(minute).or_default().entry(op).or_default();
        match took {
            Some(d) => slot.0.push(d),
            None => slot.1 += 1,
        }
    }
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)].as_secs_f64() * 1e3
}

/// This process's resident set size in MB (Linux): (all, anonymous).
/// The rest is file pages mapped in (the search indexes, SQLite's
/// shared memory), which the kernel drops first under pressure.
pub(crate) fn rss_mb() -> (f64, f64) {
    (super::status_mb("VmRSS:"), super::status_mb("RssAnon:"))
}

struct Ctx {
    base: String,
    client: reqwest::Client,
    agent: String,
    engineer: String,
    start: Instant,
    end: Instant,
    tally: Mutex<Tally>,
    /// Registered tickets not yet taken by the action worker: (id, when).
    fresh: Mutex<std::collections::VecDeque<(i64, Instant)>>,
    /// Tickets started and not yet resolved: (id, when started).
    started: Mutex<std::collections::VecDeque<(i64, Instant)>>,
    /// Tickets left undispatched on purpose: (id, created_at).
    left: Mutex<Vec<(i64, chrono::DateTime<chrono::Utc>)>>,
    /// The same tickets, to be taken up once overdue: (id, when registered).
    late: Mutex<std::collections::VecDeque<(i64, Instant)>>,
    /// Seconds after registration a left ticket is taken up.
    late_after: u64,
}

impl Ctx {
    fn minute(&self) -> u64 {
        self.start.elapsed().as_secs() / 60
    }

    fn note(&self, op: &'static str, t: Instant, ok: bool) {
        let took = ok.then(|| t.elapsed());
        self.tally.lock().unwrap_or_else(|e| e.into_inner()).record(self.minute(), op, took);
    }
}

pub async fn run(minutes: u64, rate: u32, response_minutes: i64) -> Result<()> {
    if minutes == 0 || rate == 0 || response_minutes <= 0 {
        bail!("--minutes, --rate and --response-minutes must be positive");
    }
    println!(
        "kefu bench soak: {minutes} min, {rate} tickets/s, {} action rounds/s (dispatch and start one, resolve one \
         started 20 s ago), 5 lists/s, 2 searches/s; response deadline {response_minutes} min (1 in 5 tickets left \
         to breach, taken up {LATE_PICKUP_SECS} s after); SQLite synchronous=FULL",
        rate * 8 / 10
    );
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("soak.db");
    let kefu = service(&db, response_minutes).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let jobs = tokio::spawn(kefu_server::jobs::run(kefu.clone()));
    let stopping = kefu.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(kefu_server::serve(listener, kefu_server::router(kefu.clone()), async move {
        let _ = stopped.await;
        stopping.begin_shutdown();
    }));
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    let ctx = Arc::new(Ctx {
        agent: login(&client, &base, "soak_agent").await?,
        engineer: login(&client, &base, "soak_engineer").await?,
        base,
        client,
        start: Instant::now(),
        end: Instant::now() + Duration::from_secs(minutes * 60),
        tally: Default::default(),
        fresh: Default::default(),
        started: Default::default(),
        left: Default::default(),
        late: Default::default(),
        late_after: response_minutes as u64 * 60 + LATE_PICKUP_SECS,
    });
    let mut workers = vec![
        tokio::spawn(steady(ctx.clone(), rate, intake)),
        tokio::spawn(steady(ctx.clone(), (rate * 8 / 10).max(1), action)),
        tokio::spawn(steady(ctx.clone(), 5, list)),
        tokio::spawn(steady(ctx.clone(), 2, search)),
    ];
    workers.push(tokio::spawn(sample_rss(ctx.clone())));
    for w in workers {
        w.await?;
    }
    // The last breaches fall due up to a watcher period after the end.
    tokio::time::sleep(Duration::from_secs(ON_TIME_SECS as u64)).await;
    let ended = <crate::SystemClock as kefu_domain::clock::Clock>::now(&crate::SystemClock);
    let _ = stop.send(());
    server.await??;
    jobs.await?;
    report(&ctx, minutes);
    on_time(&db, &ctx, ended, response_minutes)
}

async fn service(path: &std::path::Path, response_minutes: i64) -> Result<Kefu<SqliteStore>> {
    let store = SqliteStore::open(path, Arc::new(kefu_store::crypto::FieldCipher::random()))?;
    let mut policy = kefu_domain::policy::Policy::defaults();
    // People dispatch (the action worker), so undispatched tickets breach.
    policy.dispatch.on_create = false;
    for d in policy.sla.deadlines.iter_mut().filter(|d| d.kind == "response") {
        d.minutes = Some(response_minutes);
        d.hours = None;
        d.working_days = None;
    }
    let settings =
        kefu_server::Settings { search_dir: Some(path.with_extension("search")), ..kefu_server::Settings::default() };
    let kefu = Kefu::new(store, kefu_domain::flow::FlowSet::defaults(), policy, Arc::new(crate::SystemClock), settings)
        .await
        .map_err(|e| anyhow::anyhow!(e.to_string()))?;
    let err = |e: kefu_server::error::ApiError| anyhow::anyhow!(e.to_string());
    kefu.add_user("soak_agent", Role::Agent, Some("压测坐席"), PASSWORD).await.map_err(err)?;
    kefu.add_user("soak_engineer", Role::Engineer, Some("压测工程师"), PASSWORD).await.map_err(err)?;
    Ok(kefu)
}

async fn login(client: &reqwest::Client, base: &str, username: &str) -> Result<String> {
    let v: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await?
        .json()
        .await?;
    v["token"].as_str().map(str::to_string).with_context(|| format!("login failed: {v}"))
}

type Op = fn(Arc<Ctx>, u64) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Runs `op` `per_sec` times a second until the end, each call on its
/// own task (a slow answer does not slow the rate down).
async fn steady(ctx: Arc<Ctx>, per_sec: u32, op: Op) {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(per_sec)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut n = 0u64;
    let mut running = tokio::task::JoinSet::new();
    while Instant::now() < ctx.end {
        tick.tick().await;
        n += 1;
        running.spawn(op(ctx.clone(), n));
        while running.try_join_next().is_some() {}
    }
    while running.join_next().await.is_some() {}
}

fn intake(ctx: Arc<Ctx>, n: u64) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        let mut body = sample::intake_json(&mut Rng::new(n));
        body["type"] = json!("fault");
        let t = Instant::now();
        let r =
            ctx.client.post(format!("{}/api/v1/tickets", ctx.base)).bearer_auth(&ctx.agent).json(&body).send().await;
        let created: Option<Value> = match r {
            Ok(resp) if resp.status().as_u16() == 201 => resp.json().await.ok(),
            _ => None,
        };
        ctx.note("intake", t, created.is_some());
        let Some(v) = created else { return };
        let (Some(id), Some(at)) = (v["id"].as_i64(), v["created_at"].as_str().and_then(|s| s.parse().ok())) else {
            return;
        };
        // One in five is left for the watcher: its response deadline breaches.
        if n.is_multiple_of(5) {
            ctx.left.lock().unwrap_or_else(|e| e.into_inner()).push((id, at));
            ctx.late.lock().unwrap_or_else(|e| e.into_inner()).push_back((id, Instant::now()));
        } else {
            ctx.fresh.lock().unwrap_or_else(|e| e.into_inner()).push_back((id, Instant::now()));
        }
    })
}

/// Dispatches a ticket registered a few seconds ago and its engineer starts
/// it; likewise one left to breach, a minute after its deadline; resolves
/// one started 20 s ago, so the open tickets stay a steady set.
fn action(ctx: Arc<Ctx>, _n: u64) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        let due = |q: &Mutex<std::collections::VecDeque<(i64, Instant)>>, after: u64| {
            let mut q = q.lock().unwrap_or_else(|e| e.into_inner());
            match q.front() {
                Some((_, at)) if at.elapsed() >= Duration::from_secs(after) => q.pop_front().map(|(id, _)| id),
                _ => None,
            }
        };
        let mut steps = Vec::new();
        if let Some(id) = due(&ctx.fresh, 3) {
            steps.push((id, &ctx.agent, json!({"action": "dispatch", "assignee": "soak_engineer"})));
            steps.push((id, &ctx.engineer, json!({"action": "start"})));
        }
        if let Some(id) = due(&ctx.late, ctx.late_after) {
            steps.push((id, &ctx.agent, json!({"action": "dispatch", "assignee": "soak_engineer"})));
            steps.push((id, &ctx.engineer, json!({"action": "start"})));
        }
        if let Some(id) = due(&ctx.started, 20) {
            steps.push((id, &ctx.engineer, json!({"action": "resolve", "result": "已远程重置光猫，恢复上网"})));
        }
        for (id, token, body) in steps {
            let t = Instant::now();
            let url = format!("{}/api/v1/tickets/{id}/actions", ctx.base);
            let r = ctx.client.post(&url).bearer_auth(token).json(&body).send().await;
            let ok = matches!(&r, Ok(resp) if resp.status().is_success());
            if let Ok(resp) = r {
                let _ = resp.bytes().await;
            }
            ctx.note("action", t, ok);
            if ok && body["action"] == "start" {
                ctx.started.lock().unwrap_or_else(|e| e.into_inner()).push_back((id, Instant::now()));
            }
        }
    })
}

fn list(ctx: Arc<Ctx>, n: u64) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        let (name, query) = LISTS[(n % 4) as usize];
        let token = if n % 4 == 1 { &ctx.engineer } else { &ctx.agent };
        let t = Instant::now();
        let ok = get(&ctx, "list", &format!("/api/v1/tickets?{query}"), token).await;
        ctx.note(name, t, ok);
    })
}

fn search(ctx: Arc<Ctx>, n: u64) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        let words = ["宽带", "光猫", "无法上网", "网速慢", "话费", "信号"];
        let q = words[(n as usize) % words.len()];
        get(&ctx, "search", &format!("/api/v1/tickets?q={q}&per_page=20"), &ctx.agent).await;
    })
}

/// Whether the request succeeded; its latency is noted under `op`.
async fn get(ctx: &Ctx, op: &'static str, path: &str, token: &str) -> bool {
    let t = Instant::now();
    let r = ctx.client.get(format!("{}{path}", ctx.base)).bearer_auth(token).send().await;
    let ok = match r {
        Ok(resp) if resp.status().is_success() => resp.bytes().await.is_ok(),
        _ => false,
    };
    ctx.note(op, t, ok);
    ok
}

async fn sample_rss(ctx: Arc<Ctx>) {
    while Instant::now() < ctx.end {
        let (m, rss) = (ctx.minute(), rss_mb());
        {
            let mut tally = ctx.tally.lock().unwrap_or_else(|e| e.into_inner());
            let slot = tally.rss_mb.entry(m).or_default();
            *slot = (slot.0.max(rss.0), slot.1.max(rss.1));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn report(ctx: &Ctx, minutes: u64) {
    let mut tally = ctx.tally.lock().unwrap_or_else(|e| e.into_inner());
    println!("  min   {}   RSS/anon MB", OPS.map(|o| format!("{o:>8} n/err  p50/p99 ms")).join("  "));
    let mut errors = 0;
    // Per operation and list query: (p50, p99) of each minute.
    let mut figures: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    let rss = tally.rss_mb.clone();
    for (m, ops) in tally.minutes.iter_mut().filter(|(m, _)| **m < minutes) {
        let mut line = format!("  {:>3}", m + 1);
        for op in OPS.into_iter().chain(LISTS.map(|l| l.0)) {
            let (lat, err) = ops.entry(op).or_default();
            lat.sort();
            let (p50, p99) = (pct(lat, 0.5), pct(lat, 0.99));
            figures.entry(op).or_default().push((p50, p99));
            if OPS.contains(&op) {
                errors += *err;
                line.push_str(&format!("   {:>6}/{:<3} {:>6.1}/{:<7.1}", lat.len(), err, p50, p99));
            }
        }
        let (all, anon) = rss.get(m).copied().unwrap_or_default();
        line.push_str(&format!("   {all:>5.0}/{anon:<5.0}"));
        println!("{line}");
    }
    println!("  errors: {errors}");
    for op in OPS.into_iter().chain(LISTS.map(|l| l.0)) {
        let Some(v) = figures.get(op) else { continue };
        // Drift: the last minutes against the first (after a warm-up minute).
        if v.len() >= 4 {
            let mean = |s: &[(f64, f64)], f: fn(&(f64, f64)) -> f64| s.iter().map(f).sum::<f64>() / s.len() as f64;
            let (early, late) = (&v[1..v.len().min(4)], &v[v.len() - 3..]);
            let (e50, l50, e99, l99) =
                (mean(early, |x| x.0), mean(late, |x| x.0), mean(early, |x| x.1), mean(late, |x| x.1));
            println!(
                "  {op:<12} p50 {e50:>6.1} → {l50:>6.1} ms (×{:.2}), p99 {e99:>6.1} → {l99:>6.1} ms (×{:.2}) first minutes → last three",
                l50 / e50.max(0.001),
                l99 / e99.max(0.001)
            );
        }
    }
    let r: Vec<(f64, f64)> = rss.values().copied().collect();
    if r.len() >= 3 {
        let (second, last) = (r[1], r[r.len() - 1]);
        println!(
            "  RSS minute 2 {:.0} MB (anonymous {:.0}), last {:.0} MB (anonymous {:.0}, ×{:.2}), peak {:.0} MB",
            second.0,
            second.1,
            last.0,
            last.1,
            last.1 / second.1.max(1.0),
            r.iter().map(|x| x.0).fold(0.0, f64::max)
        );
    }
}

/// Every ticket left undispatched whose response deadline fell due before
/// the end must have its breach recorded, within a watcher period.
fn on_time(db: &std::path::Path, ctx: &Ctx, ended: chrono::DateTime<chrono::Utc>, response_minutes: i64) -> Result<()> {
    let conn = rusqlite::Connection::open(db)?;
    let left = ctx.left.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let cutoff = ended - chrono::Duration::seconds(ON_TIME_SECS as i64);
    let due: Vec<i64> = left
        .iter()
        .filter(|(_, at)| *at + chrono::Duration::minutes(response_minutes) <= cutoff)
        .map(|(id, _)| *id)
        .collect();
    let mut late = Vec::new();
    let mut missing = 0;
    let mut worst = 0.0f64;
    let mut stmt = conn.prepare(
        "SELECT (julianday(breached_at) - julianday(due_at)) * 86400.0 FROM sla_breaches WHERE ticket_id = ?1 AND kind = 'response'",
    )?;
    for id in &due {
        match stmt.query_row([id], |r| r.get::<_, f64>(0)) {
            Ok(secs) => {
                worst = worst.max(secs);
                if secs > ON_TIME_SECS {
                    late.push((*id, secs));
                }
            }
            Err(_) => missing += 1,
        }
    }
    println!(
        "  deadline alerts: {} response breaches due, {} raised on time (≤ {ON_TIME_SECS:.0} s after due), {} late, {missing} missing; latest {worst:.1} s after due",
        due.len(),
        due.len() - late.len() - missing,
        late.len()
    );
    if missing > 0 || !late.is_empty() {
        bail!("deadline alerts did not all fire on time");
    }
    Ok(())
}
