//! How a ticket is stored, shared by every backend: the ticket as a JSON
//! document without its id and customer (both are columns), plus the
//! indexed columns the list filters use.

use crate::{StoreError, StoreResult};
use kefu_domain::TicketId;
use kefu_domain::ticket::{Customer, Ticket};
use serde_json::{Value, json};

/// The stored document of a ticket.
pub fn ticket_doc(t: &Ticket) -> StoreResult<String> {
    let mut v = serde_json::to_value(t).map_err(|e| StoreError::Backend(format!("ticket cannot be encoded: {e}")))?;
    if let Value::Object(m) = &mut v {
        m.remove("id");
        m.remove("customer");
        m.insert("customer_id".into(), json!(t.customer.id));
    }
    Ok(v.to_string())
}

/// The ticket back from its id, document and customer.
pub fn ticket_from_doc(id: i64, doc: &str, customer: Customer) -> StoreResult<Ticket> {
    let decode = |e: serde_json::Error| StoreError::Backend(format!("stored ticket {id} cannot be decoded: {e}"));
    let mut v: Value = serde_json::from_str(doc).map_err(decode)?;
    if let Value::Object(m) = &mut v {
        m.insert("id".into(), json!(TicketId(id)));
        m.insert("customer".into(), serde_json::to_value(&customer).map_err(decode)?);
    }
    serde_json::from_value(v).map_err(decode)
}

/// The `after` of a registration event: the document, which names the
/// customer by id and so keeps personal data out of the audit trail.
pub fn registration_after(t: &Ticket) -> StoreResult<Value> {
    serde_json::from_str(&ticket_doc(t)?).map_err(|e| StoreError::Backend(e.to_string()))
}
