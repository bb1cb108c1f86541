//! The evidence-file capability of the store: the index of each
//! ticket's files. The bytes live encrypted in the data directory, named by
//! a keyed hash of their content (`server/src/blobs.rs`); a row here is
//! written with the ticket change that adds the file (`Mutation::attachments`),
//! so a file is on a ticket exactly when the ticket's audit chain says so.

use crate::StoreResult;
use chrono::{DateTime, Utc};
use kefu_domain::TicketId;
use serde::Serialize;
use std::future::Future;

/// One file on a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attachment {
    /// `att_` and 24 hex digits, chosen before the write.
    pub id: String,
    pub ticket: TicketId,
    /// The safe name it is offered under (`domain/attachment.rs::safe_name`).
    pub filename: String,
    /// From the content, never from the name.
    pub content_type: String,
    pub size: u64,
    /// SHA-256 of the content, hex.
    pub sha256: String,
    /// Where the encrypted bytes are (a keyed hash of the content).
    #[serde(skip)]
    pub blob: String,
    /// How it came: `upload`, `email`, `sms`, `wechat`, `portal`.
    pub source: String,
    /// Who added it (a username, or `customer`).
    pub added_by: String,
    pub created_at: DateTime<Utc>,
}

/// The index of evidence files (`attachments`).
pub trait AttachmentStore: Clone + Send + Sync + 'static {
    /// A ticket's files, oldest first.
    fn attachments(&self, ticket: TicketId) -> impl Future<Output = StoreResult<Vec<Attachment>>> + Send;
    /// One file by id.
    fn attachment(&self, id: &str) -> impl Future<Output = StoreResult<Option<Attachment>>> + Send;
    /// Whether any ticket still names the stored bytes `blob` (the sweep of
    /// orphaned files asks before it removes one).
    fn blob_in_use(&self, blob: &str) -> impl Future<Output = StoreResult<bool>> + Send;
}
