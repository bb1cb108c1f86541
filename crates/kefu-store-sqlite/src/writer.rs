//! The single writer thread and its group commit.

use kefu_store::{StoreError, StoreResult};
use rusqlite::Connection;
use std::sync::mpsc;
use tokio::sync::oneshot;

/// Most writes committed together; bounds the latency one commit adds.
const MAX_BATCH: usize = 512;

/// A write runs on the writer's connection inside a savepoint and reports
/// whether it succeeded; its reply is sent only after the commit.
type Job = Box<dyn FnOnce(&Connection) -> (bool, Reply) + Send>;
type Reply = Box<dyn FnOnce(Result<(), String>) + Send>;

#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
}

impl Writer {
    pub fn spawn(conn: Connection) -> Writer {
        let (queue, jobs) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("kefu-sqlite-writer".into())
            .spawn(move || run_writer(conn, jobs))
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

fn run_writer(conn: Connection, jobs: mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        commit_batch(&conn, batch);
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
