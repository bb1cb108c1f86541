//! What customers send in (issue 21): how far each source (a mailbox) has
//! been read, and where customers wrote from (e-mail addresses, openids). A message's own
//! write (ticket, note) carries its idempotency key, so the cursor only
//! bounds the re-reading after a crash; it never decides whether a message
//! was taken.

use crate::StoreResult;
use chrono::{DateTime, Utc};
use kefu_domain::CustomerId;
use kefu_domain::ticket::Customer;
use std::future::Future;

/// Sources read and customers' addresses (`inbound_cursors`, `customer_contacts`).
pub trait InboundStore: Clone + Send + Sync + 'static {
    /// How far `source` has been read: (UID validity, last UID taken).
    fn inbound_cursor(&self, source: &str) -> impl Future<Output = StoreResult<Option<(i64, i64)>>> + Send;
    /// Moves the cursor of `source` to `at` (UID validity, last UID; never
    /// back within one validity),
    /// with the answer to a message that made no ticket (asking the sender
    /// who they are) in the same transaction: it goes out once.
    fn set_inbound_cursor(
        &self,
        source: &str,
        at: (i64, i64),
        answer: Option<crate::NewMessage>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// The customer who wrote from `value` (an e-mail address, compared
    /// case-insensitively; a WeChat openid), by `kind` (`email`, `wechat`).
    fn customer_by_contact(
        &self,
        kind: &str,
        value: &str,
    ) -> impl Future<Output = StoreResult<Option<Customer>>> + Send;
    /// Remembers `value` as the customer's (the latest customer wins).
    fn link_contact(
        &self,
        customer: CustomerId,
        kind: &str,
        value: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Where the customer last wrote from by `kind`, if anywhere.
    fn contact_of(&self, customer: CustomerId, kind: &str) -> impl Future<Output = StoreResult<Option<String>>> + Send;
}

/// The form of a contact its blind index is taken of: e-mail addresses
/// compare case-insensitively, openids exactly.
pub fn contact_key(kind: &str, value: &str) -> String {
    match kind {
        "email" => value.trim().to_lowercase(),
        _ => value.trim().to_string(),
    }
}

/// The blind index of a contact: kind and value.
pub fn contact_index(cipher: &crate::crypto::FieldCipher, kind: &str, value: &str) -> String {
    cipher.blind_index(&format!("contact:{kind}"), &contact_key(kind, value))
}
