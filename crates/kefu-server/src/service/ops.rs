//! Operations: readiness, an orderly shutdown, and how far the background
//! jobs lag behind (for `/readyz` and `/metrics`).

use super::Kefu;
use crate::error::ApiError;
use kefu_store::prelude::*;
use serde::Serialize;
use std::fmt::Write;
use std::time::{Duration, Instant};

/// This node's operational state, shared by every clone of the service.
pub struct OpsState {
    /// Set once a shutdown begins: readiness fails, jobs stop at their
    /// next pause.
    stopping: tokio::sync::watch::Sender<bool>,
    /// The schema version when this node started; a higher one later means
    /// a newer kefu migrated the database under it.
    schema_version: i64,
    /// When the ticket search index last caught up with the database.
    search_caught_up: std::sync::Mutex<Instant>,
}

impl OpsState {
    pub fn new(schema_version: i64) -> OpsState {
        OpsState {
            stopping: tokio::sync::watch::Sender::new(false),
            schema_version,
            search_caught_up: std::sync::Mutex::new(Instant::now()),
        }
    }
}

/// One reason a node is not ready.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub check: &'static str,
    pub message: String,
    pub message_zh: String,
}

/// How far behind each background job is, in seconds (0 when nothing waits).
#[derive(Debug, Clone, Default, Serialize)]
pub struct JobLag {
    /// Since the earliest SLA alert (warning, breach, escalation) fell due.
    pub sla_alerts: f64,
    /// Since the earliest waiting customer message fell due.
    pub messages: f64,
    /// Since the oldest event not yet handed to webhooks and the hub.
    pub events: f64,
    /// Since this node's ticket search index last caught up.
    pub search_index: f64,
}

impl<S: Store> Kefu<S> {
    /// Starts an orderly shutdown: readiness fails from now on and the
    /// jobs stop at their next pause.
    pub fn begin_shutdown(&self) {
        self.core.ops.stopping.send_replace(true);
    }

    pub fn is_stopping(&self) -> bool {
        *self.core.ops.stopping.borrow()
    }

    /// Waits `d` between rounds of a job; true when the node is stopping
    /// (the job should end), at once if it already is.
    pub async fn pause(&self, d: Duration) -> bool {
        let mut rx = self.core.ops.stopping.subscribe();
        if *rx.borrow_and_update() {
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => self.is_stopping(),
            _ = rx.wait_for(|s| *s) => true,
        }
    }

    pub(crate) fn note_search_caught_up(&self) {
        *self.core.ops.search_caught_up.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    /// Why this node should not take traffic; empty when it is ready: the
    /// database answers at the schema this node started on, the keys fit
    /// its fingerprints, the calendar covers today, and no shutdown began.
    pub async fn readiness(&self) -> Vec<Problem> {
        self.problems(&self.store.health().await)
    }

    /// Readiness from one read of the database's health.
    fn problems(&self, health: &Result<kefu_store::Health, kefu_store::StoreError>) -> Vec<Problem> {
        let mut out = Vec::new();
        let problem = |check, message: String, message_zh: String| Problem { check, message, message_zh };
        if self.is_stopping() {
            out.push(problem("shutdown", "shutting down".into(), "正在停止".into()));
        }
        match health {
            Err(e) => {
                out.push(problem("database", format!("the database does not answer: {e}"), "数据库无响应".into()))
            }
            Ok(h) => {
                if h.schema_version != self.core.ops.schema_version {
                    out.push(problem(
                        "migrations",
                        format!(
                            "the database schema moved from version {} to {} under this node; restart it with the kefu that migrated",
                            self.core.ops.schema_version, h.schema_version
                        ),
                        "数据库结构已被更新版本迁移，请以新版本重启本节点".into(),
                    ));
                }
                if let Some(why) = &h.key_problem {
                    out.push(problem("keys", why.clone(), "密钥文件与数据库不符".into()));
                }
            }
        }
        if let Err(e) = self.core.calendar.is_working_time(self.now()) {
            out.push(problem("calendar", e.to_string(), "工作日历未覆盖今天".into()));
        }
        out
    }

    /// How far behind the jobs are, from the database's own queues.
    pub async fn job_lag(&self) -> Result<JobLag, ApiError> {
        Ok(self.lag(&self.store.health().await?))
    }

    fn lag(&self, h: &kefu_store::Health) -> JobLag {
        let now = self.now();
        let behind = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map_or(0.0, |t| ((now - t).num_milliseconds().max(0) as f64) / 1000.0)
        };
        let search = self.core.ops.search_caught_up.lock().unwrap_or_else(|e| e.into_inner()).elapsed();
        JobLag {
            sla_alerts: behind(h.oldest_alert_due),
            messages: behind(h.oldest_message_due),
            events: behind(h.oldest_event),
            search_index: search.as_secs_f64(),
        }
    }

    /// The readiness and job-lag lines of `/metrics` (Prometheus text).
    pub async fn ops_metrics(&self) -> String {
        let mut out = String::new();
        // One read of the database for both.
        let health = self.store.health().await;
        let ready = self.problems(&health).is_empty();
        out.push_str("# HELP kefu_ready Whether this node takes traffic (see /readyz).\n# TYPE kefu_ready gauge\n");
        let _ = writeln!(out, "kefu_ready {}", u8::from(ready));
        if let Ok(lag) = health.as_ref().map(|h| self.lag(h)) {
            out.push_str(
                "# HELP kefu_job_lag_seconds How long the oldest work of a background job has waited past its time.\n# TYPE kefu_job_lag_seconds gauge\n",
            );
            for (job, secs) in [
                ("sla_alerts", lag.sla_alerts),
                ("messages", lag.messages),
                ("events", lag.events),
                ("search_index", lag.search_index),
            ] {
                let _ = writeln!(out, "kefu_job_lag_seconds{{job=\"{job}\"}} {secs:.3}");
            }
        }
        out
    }
}
