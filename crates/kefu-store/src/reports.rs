//! The reports capability of the store.

use crate::StoreResult;
use kefu_domain::UserId;
use std::future::Future;

/// Figures over the record, computed by the database.
pub trait ReportStore: Clone + Send + Sync + 'static {
    /// Per person who resolved tickets in `[from, to)` (see
    /// `kefu_domain::figures` for what counts), by user id.
    fn handling(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = StoreResult<Vec<(Option<UserId>, kefu_domain::figures::Handling)>>> + Send;
}
