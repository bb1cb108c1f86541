//! The single writer thread and its group commit.

use kefu_store::{StoreError, StoreResult};
use rusqlite::Connection;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Most writes committed together; bounds the latency one commit adds.
const MAX_BATCH: usize = 512;
/// How often the writer asks SQLite whether the planner's statistics are
/// stale (`PRAGMA optimize`: a no-op unless a table grew or shrank many
/// times over since it was last analysed).
const OPTIMIZE_EVERY: Duration = Duration::from_secs(300);

/// A write runs on the writer's connection inside a savepoint and reports
/// whether it succeeded; its reply is sent only after the commit.
type Job = Box<dyn FnOnce(&Connection) -> (bool, Reply) + Send>;
type Reply = Box<dyn FnOnce(Result<(), String>) + Send>;

#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
}

impl Writer {
    /// `stats` is bumped whenever the planner's statistics change, so the
    /// readers reopen their connections and plan with them.
    pub fn spawn(conn: Connection, stats: Arc<AtomicU64>) -> Writer {
        let (queue, jobs) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("kefu-sqlite-writer".into())
            .spawn(move || run_writer(conn, jobs, stats))
            .expect("spawn the SQLite writer thread");
        Writer { queue }
    }

    /// Runs `f` in the next group commit and returns its result once that
    /// commit is durable.
    pub async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = f(conn);
            let ok = result.is_ok();
            let reply: Reply = Box::new(move |commit| {
                let out = match commit {
                    Ok(()) => result,
                    Err(e) => Err(StoreError::Backend(format!("commit failed: {e}"))),
                };
                let _ = tx.send(out);
            });
            (ok, reply)
        });
        self.queue.send(job).map_err(|_| StoreError::Backend("the SQLite writer has stopped".into()))?;
        rx.await.map_err(|_| StoreError::Backend("the SQLite writer dropped a write".into()))?
    }
}

fn run_writer(conn: Connection, jobs: mpsc::Receiver<Job>, stats: Arc<AtomicU64>) {
    optimize(&conn, &stats);
    let mut optimized = Instant::now();
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        commit_batch(&conn, batch);
        if optimized.elapsed() >= OPTIMIZE_EVERY {
            optimize(&conn, &stats);
            optimized = Instant::now();
        }
    }
}

/// Brings the planner's statistics up to date where a table changed size
/// many times over. Without them SQLite guesses: a need-to-know count of
/// overdue tickets walked every ticket the caller may see (22 ms at 12,000
/// tickets, growing) instead of the short overdue range (2 ms).
/// `analysis_limit` samples each index, so a run stays in milliseconds at
/// any size.
fn optimize(conn: &Connection, stats: &AtomicU64) {
    let snapshot = |c: &Connection| -> rusqlite::Result<String> {
        c.query_row("SELECT COALESCE(group_concat(tbl || idx || stat, ';'), '') FROM sqlite_stat1", [], |r| r.get(0))
            .or_else(|_| Ok(String::new()))
    };
    let run = || -> rusqlite::Result<bool> {
        let before = snapshot(conn)?;
        conn.execute_batch("PRAGMA analysis_limit = 1000; PRAGMA optimize = 0x10002;")?;
        Ok(snapshot(conn)? != before)
    };
    match run() {
        Ok(true) => {
            stats.fetch_add(1, Ordering::Release);
        }
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "PRAGMA optimize failed; the planner keeps its statistics"),
    }
}

fn commit_batch(conn: &Connection, batch: Vec<Job>) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        // Nothing ran: dropping the jobs answers each caller with an error.
        tracing::error!(error = %e, "cannot begin a write transaction");
        return;
    }
    let mut replies = Vec::with_capacity(batch.len());
    for job in batch {
        replies.push(run_in_savepoint(conn, job));
    }
    let commit = conn.execute_batch("COMMIT").map_err(|e| e.to_string());
    if commit.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    for reply in replies {
        reply(commit.clone());
    }
}

fn run_in_savepoint(conn: &Connection, job: Job) -> Reply {
    if let Err(e) = conn.execute_batch("SAVEPOINT job") {
        // The job is dropped unrun, so its caller gets an error.
        tracing::error!(error = %e, "cannot open a savepoint");
        return Box::new(|_| {});
    }
    let (ok, reply) = job(conn);
    let end = if ok { "RELEASE job" } else { "ROLLBACK TO job; RELEASE job" };
    if let Err(e) = conn.execute_batch(end) {
        let msg = e.to_string();
        return Box::new(move |_| reply(Err(msg)));
    }
    reply
}
