//! Report exports: asked for by staff, made by a background job on
//! whichever node claims one, kept in parts in the database so any node
//! serves the download and no file is ever held whole in memory.

use crate::StoreResult;
use chrono::{DateTime, Utc};
use kefu_domain::UserId;
use std::future::Future;

#[derive(Debug, Clone)]
pub struct NewExport {
    pub owner: UserId,
    /// `tickets` (one row per ticket) or `kpi` (one row per group).
    pub kind: String,
    /// `csv` or `xlsx`.
    pub format: String,
    /// What to export, as the request gave it (JSON).
    pub request: String,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExportRecord {
    pub id: i64,
    pub owner: UserId,
    pub kind: String,
    pub format: String,
    pub request: String,
    /// `queued`, `running`, `done` or `failed`.
    pub state: String,
    pub done_rows: i64,
    pub total_rows: Option<i64>,
    pub parts: i32,
    pub bytes: i64,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A step of a claimed export: rows done so far and the next part of the file.
#[derive(Debug, Clone)]
pub struct ExportStep {
    pub id: i64,
    pub node: String,
    pub done_rows: i64,
    pub total_rows: Option<i64>,
    pub part: Vec<u8>,
    pub now: DateTime<Utc>,
    /// How long the claim lasts from `now`.
    pub lease: chrono::Duration,
}

pub trait ExportStore: Clone + Send + Sync + 'static {
    fn create_export(&self, e: NewExport) -> impl Future<Output = StoreResult<ExportRecord>> + Send;
    /// Claims the oldest export waiting, or one whose node stopped renewing
    /// its claim (begun again from nothing: its parts are dropped).
    fn claim_export(
        &self,
        node: String,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> impl Future<Output = StoreResult<Option<ExportRecord>>> + Send;
    /// Appends a part (if not empty) and records progress; false if the
    /// claim was lost (the part is not written).
    fn export_step(&self, step: ExportStep) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Ends a claimed export: done, or failed with `error`.
    fn finish_export(
        &self,
        id: i64,
        node: String,
        error: Option<String>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    fn export_record(&self, id: i64) -> impl Future<Output = StoreResult<Option<ExportRecord>>> + Send;
    fn export_part(&self, id: i64, seq: i32) -> impl Future<Output = StoreResult<Option<Vec<u8>>>> + Send;
    /// The newest exports, of one owner or everyone's.
    fn list_exports(
        &self,
        owner: Option<UserId>,
        limit: u32,
    ) -> impl Future<Output = StoreResult<Vec<ExportRecord>>> + Send;
}
