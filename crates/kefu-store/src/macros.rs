//! The canned replies and macros capability of the store.

use crate::StoreResult;
use kefu_domain::UserId;
use std::future::Future;

/// Canned replies and macros (`macros`): shared ones and each person's own.
pub trait MacroStore: Clone + Send + Sync + 'static {
    /// `Conflict { macros_owner_name_key }` if the owner has one by that name.
    fn create_macro(
        &self,
        owner: UserId,
        spec: kefu_domain::macros::MacroSpec,
        now: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = StoreResult<kefu_domain::macros::Macro>> + Send;
    /// The macros `user` may apply: the shared ones and their own, by name.
    fn macros_for(&self, user: UserId) -> impl Future<Output = StoreResult<Vec<kefu_domain::macros::Macro>>> + Send;
    fn macro_by_id(
        &self,
        id: kefu_domain::MacroId,
    ) -> impl Future<Output = StoreResult<Option<kefu_domain::macros::Macro>>> + Send;
    /// `NotFound` if there is none; `Conflict` as `create_macro`.
    fn update_macro(
        &self,
        id: kefu_domain::MacroId,
        spec: kefu_domain::macros::MacroSpec,
        now: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = StoreResult<kefu_domain::macros::Macro>> + Send;
    /// `NotFound` if there is none.
    fn delete_macro(&self, id: kefu_domain::MacroId) -> impl Future<Output = StoreResult<()>> + Send;
}
