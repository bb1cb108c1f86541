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
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let server = tokio::spawn(kefu_server::serve(listener, kefu_server::router(kefu), async {
                let _ = stopped.await;
            }));
            let run = http_load(&format!("http://{addr}"), "bench", BENCH_PASSWORD, bodies, concurrency).await?;
            let _ = stop.send(());
            let _ = server.await;
            run
        }
    };
    let dir = tempfile::tempdir()?;
    let mut store = store_load(&dir.path().join("store.db"), count, concurrency).await?;
    let h = http.report("HTTP  POST /api/v1/tickets");
    let s = store.report("store create_ticket in-process (baseline)");
    println!("  ratio HTTP / store baseline: {:.2}", h / s);
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
    collect(tasks, start).await
}
