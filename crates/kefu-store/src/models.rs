//! Trained models shared by the nodes: the node holding the
//! training job's lease trains and publishes here; every node loads the
//! newest revision instead of training its own.

use crate::StoreResult;
use chrono::{DateTime, Utc};
use std::future::Future;

/// A published model.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredModel {
    /// One more for every publication of this name.
    pub rev: i64,
    /// The model as its owner serialised it (JSON).
    pub doc: String,
    /// The store's ticket count it was trained at.
    pub store_count: i64,
    pub trained_at: DateTime<Utc>,
}

pub trait ModelStore: Clone + Send + Sync + 'static {
    /// Replaces the model `name`; returns its new revision.
    fn put_model(
        &self,
        name: String,
        doc: String,
        store_count: i64,
        trained_at: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<i64>> + Send;
    /// The revision and ticket count of the model (not its document: cheap
    /// enough to ask every minute); None if never published.
    fn model_rev(&self, name: String) -> impl Future<Output = StoreResult<Option<(i64, i64)>>> + Send;
    fn model(&self, name: String) -> impl Future<Output = StoreResult<Option<StoredModel>>> + Send;
}
