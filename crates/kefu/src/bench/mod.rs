//! `kefu bench intake`: ticket intake over HTTP against a server this
//! command starts (or one at `--url`), and, as the baseline in the same run,
//! the same count inserted straight into the store in-process. Figures are
//! meant to be read as ratios: these machines are noisy.

mod incidents;
mod nodes;
mod outbox;
mod queues;
mod reports;
mod search;
mod sla;
mod soak;

use crate::sample::{self, Rng};
use anyhow::{Context, Result, bail};
use kefu_domain::Role;
use kefu_domain::flow::Actor;
use kefu_server::Kefu;
use kefu_store::CreateTicket;
use kefu_store::prelude::*;
use kefu_store_sqlite::SqliteStore;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(clap::Subcommand)]
pub enum BenchCommand {
    /// Ticket intake throughput and latency.
    Intake {
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        #[arg(long, default_value_t = 20_000)]
        count: usize,
        /// Target a running server instead of starting one.
        #[arg(long)]
        url: Option<String>,
        /// Staff account to log in with when targeting --url.
        #[arg(long, default_value = "agent1")]
        username: String,
        #[arg(long)]
        password: Option<String>,
        /// Also measure PostgreSQL (one node, then two nodes on one
        /// database) next to SQLite, each node a `kefu serve` process. The
        /// bench works in a schema of its own and drops it afterwards.
        #[arg(long)]
        postgres: Option<String>,
    },
    /// SLA watcher tick time with many open tickets (SQLite, in-process).
    Sla {
        /// Open tickets whose alerts are not due.
        #[arg(long, default_value_t = 1_000_000)]
        open: usize,
        /// Tickets with an alert due in the second measurement.
        #[arg(long, default_value_t = 1_000)]
        due: usize,
    },
    /// The work queues of the list API (mine, team, unassigned, awaiting
    /// acceptance, overdue, warning) at many tickets (SQLite, in-process).
    Queues {
        #[arg(long, default_value_t = 1_000_000)]
        tickets: usize,
    },
    /// Ticket search through the index at many tickets, against the
    /// substring scan it replaced (SQLite, in-process).
    Search {
        #[arg(long, default_value_t = 1_000_000)]
        tickets: usize,
        /// Rounds of each baseline query (each scans every ticket).
        #[arg(long, default_value_t = 3)]
        like_runs: usize,
    },
    /// KPI reports from the rollup cells at a provincial operator's size,
    /// against a plain GROUP BY over a ticket table (SQLite, in-process).
    Reports {
        #[arg(long, default_value_t = 10_000_000)]
        tickets: usize,
        /// Rounds of each report (the median is shown).
        #[arg(long, default_value_t = 7)]
        runs: usize,
    },
    /// Customer messages through the outbox to a local SMS gateway, one
    /// and two workers, against plain POSTs (SQLite, in-process).
    Outbox {
        #[arg(long, default_value_t = 5_000)]
        count: usize,
        /// How long the gateway takes to answer.
        #[arg(long, default_value_t = 20)]
        gateway_ms: u64,
    },
    /// A steady mixed load for `minutes` (intake, actions, lists, search,
    /// the SLA watcher): errors, p50/p99 and RSS per minute, and whether
    /// every deadline alert fired on time (SQLite, in-process server).
    Soak {
        #[arg(long, default_value_t = 20)]
        minutes: u64,
        /// Tickets registered per second (actions: 80 % of that).
        #[arg(long, default_value_t = 40)]
        rate: u32,
        /// The response deadline for the run, so breaches fall due in it.
        #[arg(long, default_value_t = 2)]
        response_minutes: i64,
    },
    /// Major incidents: the spike warning on replayed months, and one
    /// notice to an incident's children's customers (SQLite; with
    /// --postgres also one and two nodes on one database).
    Incidents {
        #[arg(long, default_value_t = 5_000)]
        children: usize,
        /// Replayed months for the spike figures.
        #[arg(long, default_value_t = 20)]
        months: u64,
        #[arg(long)]
        postgres: Option<String>,
    },
}

pub(crate) struct Run {
    elapsed: Duration,
    latencies: Vec<Duration>,
    errors: usize,
}

impl Run {
    pub(crate) fn report(&mut self, label: &str) -> f64 {
        self.latencies.sort();
        let pct = |p: f64| {
            self.latencies
                .get(((self.latencies.len() as f64 * p) as usize).min(self.latencies.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        let rate = self.latencies.len() as f64 / self.elapsed.as_secs_f64();
        println!(
            "  {label:<44} {rate:>9.0} tickets/s   p50 {:>7.2} ms   p99 {:>7.2} ms   errors {}",
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
            self.errors
        );
        rate
    }
}

pub async fn run(cmd: BenchCommand) -> Result<()> {
    let (concurrency, count, url, username, password, postgres) = match cmd {
        BenchCommand::Intake { concurrency, count, url, username, password, postgres } => {
            (concurrency, count, url, username, password, postgres)
        }
        BenchCommand::Sla { open, due } => return sla::run(open, due).await,
        BenchCommand::Queues { tickets } => return queues::run(tickets).await,
        BenchCommand::Search { tickets, like_runs } => return search::run(tickets, like_runs.max(1)).await,
        BenchCommand::Reports { tickets, runs } => return reports::run(tickets, runs.max(1)).await,
        BenchCommand::Outbox { count, gateway_ms } => return outbox::run(count, gateway_ms).await,
        BenchCommand::Soak { minutes, rate, response_minutes } => {
            return soak::run(minutes, rate, response_minutes).await;
        }
        BenchCommand::Incidents { children, months, postgres } => {
            return incidents::run(children, months, postgres).await;
        }
    };
    let concurrency = concurrency.max(1);
    if let Some(pg) = postgres {
        return nodes::compare(&pg, count, concurrency, Arc::new(bodies(count))).await;
    }
    println!(
        "kefu bench intake: {count} tickets, concurrency {concurrency}, SQLite synchronous=FULL (durable commits)"
    );
    let bodies = Arc::new(bodies(count));
    let mut http = match url {
        Some(u) => {
            let pw = password.context("--password is needed with --url")?;
            http_load(&u, &username, &pw, bodies, concurrency).await?
        }
        None => {
            let dir = tempfile::tempdir()?;
            let kefu = bench_service(&dir.path().join("http.db")).await?;
            let cpu = Cpu::now();
            // Kept until measured: the writer thread ends with the last clone.
            let keep = kefu.store.clone();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let server = tokio::spawn(kefu_server::serve(listener, kefu_server::router(kefu), async {
                let _ = stopped.await;
            }));
            let run = http_load(&format!("http://{addr}"), "bench", BENCH_PASSWORD, bodies, concurrency).await?;
            let _ = stop.send(());
            let _ = server.await;
            Cpu::now().since(&cpu).print("HTTP run (server and load generator)", count);
            drop(keep);
            run
        }
    };
    let dir = tempfile::tempdir()?;
    let written = io_write_bytes();
    let mut store = store_load(&dir.path().join("store.db"), count, concurrency).await?;
    let written = io_write_bytes().saturating_sub(written);
    let h = http.report("HTTP  POST /api/v1/tickets");
    let s = store.report("store create_ticket in-process (baseline)");
    println!("  ratio HTTP / store baseline: {:.2}", h / s);
    footprint(&dir.path().join("store.db"), count, written)?;
    println!("  peak RSS of this process: {:.0} MB", peak_rss_mb());
    Ok(())
}

/// CPU seconds of this process and of its SQLite writer threads (Linux
/// `/proc/self/task/*/stat`, in clock ticks of 10 ms).
#[derive(Default)]
pub(crate) struct Cpu {
    process: f64,
    writer: f64,
}

impl Cpu {
    pub(crate) fn now() -> Cpu {
        // "pid (comm) state ... utime stime": fields after the comm's ')'.
        let times = |stat: &str| -> Option<(bool, f64)> {
            let (head, rest) = stat.rsplit_once(") ")?;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
            Some((head.contains("kefu-sqlite-wri"), (ticks(11) + ticks(12)) / 100.0))
        };
        // The process's own line counts threads that have ended too.
        let process = std::fs::read_to_string("/proc/self/stat").ok().and_then(|s| times(&s)).map_or(0.0, |t| t.1);
        let mut writer = 0.0;
        if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
            for task in tasks.flatten() {
                if let Some((true, secs)) =
                    std::fs::read_to_string(task.path().join("stat")).ok().and_then(|s| times(&s))
                {
                    writer += secs;
                }
            }
        }
        Cpu { process, writer }
    }

    pub(crate) fn since(&self, before: &Cpu) -> Cpu {
        Cpu { process: self.process - before.process, writer: self.writer - before.writer }
    }

    /// CPU per ticket; the writer's share bounds SQLite intake (one thread).
    pub(crate) fn print(&self, label: &str, tickets: usize) {
        let per = |s: f64| s * 1e3 / tickets.max(1) as f64;
        println!(
            "  CPU per ticket, {label}: {:.3} ms in all, {:.3} ms in the SQLite writer thread (alone it allows {:.0} tickets/s)",
            per(self.process),
            per(self.writer),
            1e3 / per(self.writer).max(1e-6)
        );
    }
}

/// Bytes this process has caused to be written to storage (Linux
/// `/proc/self/io`: the WAL, checkpoints into the database, fsyncs' data).
pub(crate) fn io_write_bytes() -> u64 {
    let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    io.lines().find_map(|l| l.strip_prefix("write_bytes:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

/// The process's peak resident set size in MB (Linux `VmHWM`).
pub(crate) fn peak_rss_mb() -> f64 {
    status_mb("VmHWM:")
}

/// A size field of `/proc/self/status` (Linux, kB) in MB; 0 elsewhere.
pub(crate) fn status_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// What one ticket of the store run left: rows per table, index entries
/// (partial indexes counted by their condition), bytes written.
fn footprint(db: &std::path::Path, tickets: usize, written: u64) -> Result<()> {
    let conn = rusqlite::Connection::open(db)?;
    let count = |sql: &str| -> Result<u64> { Ok(conn.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64) };
    let mut tables: Vec<(String, u64)> = Vec::new();
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for name in names {
        let n = count(&format!("SELECT COUNT(*) FROM \"{name}\""))?;
        if n > 0 {
            tables.push((name, n));
        }
    }
    let indexes: Vec<(String, String, Option<String>)> = conn
        .prepare("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index'")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let mut entries = 0u64;
    let mut by_table: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    for (_, table, sql) in &indexes {
        let Some((_, rows)) = tables.iter().find(|(t, _)| t == table) else { continue };
        let n = match sql.as_deref().and_then(|s| s.split_once(" WHERE ")) {
            Some((_, cond)) => count(&format!("SELECT COUNT(*) FROM \"{table}\" WHERE {cond}"))?,
            None => *rows,
        };
        entries += n;
        let slot = by_table.entry(table.clone()).or_default();
        slot.0 += 1;
        slot.1 += n;
    }
    let per = |n: u64| n as f64 / tickets.max(1) as f64;
    let rows: u64 = tables.iter().map(|(_, n)| n).sum();
    println!(
        "  per ticket (store run): {:.2} rows, {:.2} index entries, {:.0} bytes written (WAL, checkpoints)",
        per(rows),
        per(entries),
        per(written)
    );
    for (t, n) in &tables {
        let (idx, e) = by_table.get(t).copied().unwrap_or_default();
        println!("    {t:<22} {:>6.2} rows  {idx:>2} indexes  {:>6.2} index entries", per(*n), per(e));
    }
    Ok(())
}

pub(crate) const BENCH_PASSWORD: &str = "Bench-pass-1";

async fn bench_service(path: &std::path::Path) -> Result<Kefu<SqliteStore>> {
    let store = SqliteStore::open(path, Arc::new(kefu_store::crypto::FieldCipher::random()))?;
    let kefu = Kefu::new(
        store,
        kefu_domain::flow::FlowSet::defaults(),
        kefu_domain::policy::Policy::defaults(),
        Arc::new(crate::SystemClock),
        kefu_server::Settings::default(),
    )
    .await
    .map_err(|e| anyhow::anyhow!(e.to_string()))?;
    kefu.add_user("bench", Role::Agent, Some("压测坐席"), BENCH_PASSWORD)
        .await
        .map_err(|e| anyhow::anyhow!(e.to_string()))?;
    Ok(kefu)
}

fn bodies(count: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(42);
    (0..count).map(|_| sample::intake_json(&mut rng).to_string().into_bytes()).collect()
}

async fn http_load(
    base: &str,
    username: &str,
    password: &str,
    bodies: Arc<Vec<Vec<u8>>>,
    concurrency: usize,
) -> Result<Run> {
    http_load_nodes(&[base.to_string()], username, password, bodies, concurrency).await
}

/// Sends the bodies to the nodes with `concurrency` requests in flight,
/// each worker bound to one node in turn.
pub(crate) async fn http_load_nodes(
    bases: &[String],
    username: &str,
    password: &str,
    bodies: Arc<Vec<Vec<u8>>>,
    concurrency: usize,
) -> Result<Run> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let mut targets = Vec::new();
    for base in bases {
        let login: serde_json::Value = client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&serde_json::json!({"username": username, "password": password}))
            .send()
            .await?
            .json()
            .await?;
        let Some(token) = login["token"].as_str().map(str::to_string) else { bail!("login failed: {login}") };
        targets.push((format!("{base}/api/v1/tickets"), token));
    }
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let (url, token) = targets[w % targets.len()].clone();
        let (client, next, bodies) = (client.clone(), next.clone(), bodies.clone());
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors) = (Vec::new(), 0usize);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let t = Instant::now();
                let r = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                match r {
                    Ok(resp) if resp.status().as_u16() == 201 => {
                        let _ = resp.bytes().await;
                        lat.push(t.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    collect(tasks, start).await
}

async fn collect(tasks: Vec<tokio::task::JoinHandle<(Vec<Duration>, usize)>>, start: Instant) -> Result<Run> {
    let mut run = Run { elapsed: Duration::ZERO, latencies: Vec::new(), errors: 0 };
    for t in tasks {
        let (lat, errors) = t.await?;
        run.latencies.extend(lat);
        run.errors += errors;
    }
    run.elapsed = start.elapsed();
    Ok(run)
}

async fn store_load(path: &std::path::Path, count: usize, concurrency: usize) -> Result<Run> {
    let store = SqliteStore::open(path, Arc::new(kefu_store::crypto::FieldCipher::random()))?;
    let user = store
        .create_user(kefu_store::NewUser {
            username: "bench".into(),
            display_name: "bench".into(),
            role: Role::Agent,
            password_hash: "-".into(),
            now: chrono::DateTime::UNIX_EPOCH,
        })
        .await?;
    let actor = Actor::new(user.id, user.username, Role::Agent);
    let policy = kefu_domain::policy::Policy::defaults();
    let mut rng = Rng::new(42);
    let tickets: Vec<_> = (0..count)
        .map(|_| sample::intake(&mut rng).parse(&policy.priority))
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!(e.message))?;
    let tickets = Arc::new(std::sync::Mutex::new(tickets));
    let now = <crate::SystemClock as kefu_domain::clock::Clock>::now(&crate::SystemClock);
    let cpu = Cpu::now();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (store, actor, tickets) = (store.clone(), actor.clone(), tickets.clone());
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors) = (Vec::new(), 0usize);
            loop {
                let Some(ticket) = tickets.lock().unwrap_or_else(|e| e.into_inner()).pop() else {
                    break;
                };
                let t = Instant::now();
                let op = CreateTicket {
                    ticket,
                    actor: actor.clone(),
                    initial_state: "accepted".into(),
                    now,
                    idempotency: None,
                    follow_up: None,
                    messages: None,
                    render: Box::new(|_| serde_json::Value::Null),
                };
                match store.create_ticket(op).await {
                    Ok(_) => lat.push(t.elapsed()),
                    Err(_) => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let run = collect(tasks, start).await?;
    Cpu::now().since(&cpu).print("store run", count);
    Ok(run)
}
