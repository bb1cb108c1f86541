//! `kefu bench intake --postgres URL`: the same intake load against SQLite,
//! against PostgreSQL with one node, and against PostgreSQL with two nodes
//! on one database — every node a real `kefu serve` process — so the three
//! figures come from one run on one machine and compare as ratios.

use super::{BENCH_PASSWORD, http_load_nodes};
use anyhow::{Context, Result, bail};
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Environment that points a kefu process at one database.
type Env = Vec<(&'static str, String)>;

fn kefu(env: &Env) -> Result<Command> {
    let mut c = Command::new(std::env::current_exe()?);
    for (k, v) in env {
        c.env(k, v);
    }
    Ok(c)
}

async fn add_bench_user(env: &Env) -> Result<()> {
    let status = kefu(env)?
        .args(["user", "add", "bench", "--role", "agent", "--password", BENCH_PASSWORD])
        .stdout(Stdio::null())
        .status()
        .await?;
    if !status.success() {
        bail!("cannot create the bench user");
    }
    Ok(())
}

async fn start_node(env: &Env) -> Result<(Child, String)> {
    let mut child = kefu(env)?
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("KEFU_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().context("node stdout")?).lines();
    let line = lines.next_line().await?.context("the node exited before serving")?;
    let addr = line.split("http://").nth(1).context("the node printed no URL")?.split(['/', ' ']).next().unwrap_or("");
    Ok((child, format!("http://{addr}")))
}

async fn measure(label: &str, env: &Env, nodes: usize, bodies: Arc<Vec<Vec<u8>>>, concurrency: usize) -> Result<f64> {
    add_bench_user(env).await?;
    let mut running = Vec::new();
    for _ in 0..nodes {
        running.push(start_node(env).await?);
    }
    let urls: Vec<String> = running.iter().map(|(_, u)| u.clone()).collect();
    let mut run = http_load_nodes(&urls, "bench", BENCH_PASSWORD, bodies, concurrency).await?;
    for (mut child, _) in running {
        let _ = child.kill().await;
    }
    Ok(run.report(label))
}

/// A schema of the bench's own in the given database, dropped at the end.
pub(super) struct Schema {
    admin: tokio_postgres::Client,
    name: String,
    pub(super) url: String,
}

impl Schema {
    pub(super) async fn create(base: &str, tag: &str) -> Result<Schema> {
        let (admin, conn) =
            tokio_postgres::connect(base, tokio_postgres::NoTls).await.context("cannot reach PostgreSQL")?;
        tokio::spawn(conn);
        let name = format!("kefu_bench_{}_{tag}", std::process::id());
        admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}")).await?;
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{name}");
        Ok(Schema { admin, name, url })
    }

    pub(super) async fn drop(self) -> Result<()> {
        self.admin.batch_execute(&format!("DROP SCHEMA {} CASCADE", self.name)).await?;
        Ok(())
    }
}

pub async fn compare(pg: &str, count: usize, concurrency: usize, bodies: Arc<Vec<Vec<u8>>>) -> Result<()> {
    println!("kefu bench intake: {count} tickets, concurrency {concurrency}, every node a `kefu serve` process");
    let dir = tempfile::tempdir()?;
    let sqlite_env: Env =
        vec![("KEFU_DATA_DIR", dir.path().display().to_string()), ("KEFU_DATABASE_URL", String::new())];
    // The PostgreSQL nodes share one key file, made by the first process.
    let keys = dir.path().join("pg-keys.toml").display().to_string();
    let sqlite = measure("SQLite, 1 node", &sqlite_env, 1, bodies.clone(), concurrency).await?;
    let one = Schema::create(pg, "one").await?;
    let pg1 = measure(
        "PostgreSQL, 1 node",
        &vec![("KEFU_DATABASE_URL", one.url.clone()), ("KEFU_KEYS_FILE", keys.clone())],
        1,
        bodies.clone(),
        concurrency,
    )
    .await?;
    one.drop().await?;
    let two = Schema::create(pg, "two").await?;
    let pg2 = measure(
        "PostgreSQL, 2 nodes on one database",
        &vec![("KEFU_DATABASE_URL", two.url.clone()), ("KEFU_KEYS_FILE", keys.clone())],
        2,
        bodies,
        concurrency,
    )
    .await?;
    two.drop().await?;
    println!(
        "  ratios to SQLite: PostgreSQL 1 node {:.2}, 2 nodes {:.2}; 2 nodes / 1 node {:.2}",
        pg1 / sqlite,
        pg2 / sqlite,
        pg2 / pg1
    );
    Ok(())
}
