//! What customers send in (issue 21): how far each source (a mailbox) has
//! been read, and the e-mail addresses customers wrote from. A message's own
//! write (ticket, note) carries its idempotency key, so the cursor only
//! bounds the re-reading after a crash; it never decides whether a message
//! was taken.

use crate::StoreResult;
use chrono::{DateTime, Utc};
use kefu_domain::CustomerId;
use kefu_domain::ticket::Customer;
use std::future::Future;

/// Sources read and customers' addresses (`inbound_cursors`, `customer_emails`).
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
    /// The customer who wrote from `address` (compared case-insensitively).
    fn customer_by_email(&self, address: &str) -> impl Future<Output = StoreResult<Option<Customer>>> + Send;
    /// Remembers `address` as the customer's (the latest customer wins).
    fn link_email(
        &self,
        customer: CustomerId,
        address: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

/// The form of an address its blind index is taken of.
pub fn email_key(address: &str) -> String {
    address.trim().to_lowercase()
}
