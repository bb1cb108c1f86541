//! How a ticket is stored, shared by every backend: the ticket as a JSON
//! document without its id and customer (both are columns), plus the
//! indexed columns the list filters use.

use crate::{StoreError, StoreResult};
use kefu_domain::TicketId;
use kefu_domain::ticket::{Customer, Ticket};
use serde_json::{Value, json};

/// The document of a ticket, open (what the audit trail records).
fn doc_value(t: &Ticket) -> StoreResult<Value> {
    let mut v = serde_json::to_value(t).map_err(|e| StoreError::Backend(format!("ticket cannot be encoded: {e}")))?;
    if let Value::Object(m) = &mut v {
        m.remove("id");
        m.remove("customer");
        m.insert("customer_id".into(), json!(t.customer.id));
    }
    Ok(v)
}

/// The stored document of a ticket, its personal data sealed.
pub fn ticket_doc(t: &Ticket, cipher: &crate::crypto::FieldCipher) -> StoreResult<String> {
    Ok(sealed_doc(t, cipher)?.to_string())
}

/// The document of a new ticket, sealed, as a value: stored as the ticket's
/// document and, the same value, as its registration event's `after`, so
/// that registration seals the ticket's text once.
pub fn sealed_doc(t: &Ticket, cipher: &crate::crypto::FieldCipher) -> StoreResult<Value> {
    Ok(crate::seal::seal_json(cipher, &doc_value(t)?))
}

/// The registration event as stored: hashed over the open document, its
/// `after` the document as sealed for the ticket row.
pub fn sealed_registration_event(
    t: &Ticket,
    actor: &kefu_domain::flow::Actor,
    now: chrono::DateTime<chrono::Utc>,
    sealed: Value,
) -> StoreResult<kefu_domain::audit::AuditEvent> {
    Ok(kefu_domain::audit::AuditEvent { after: sealed, ..registration_event(t, actor, now)? })
}

/// The ticket back from its id, stored document and customer.
pub fn ticket_from_doc(
    id: i64,
    doc: &str,
    customer: Customer,
    cipher: &crate::crypto::FieldCipher,
) -> StoreResult<Ticket> {
    let decode = |e: serde_json::Error| StoreError::Backend(format!("stored ticket {id} cannot be decoded: {e}"));
    let mut v: Value = crate::seal::open_json(cipher, serde_json::from_str(doc).map_err(decode)?)?;
    if let Value::Object(m) = &mut v {
        m.insert("id".into(), json!(TicketId(id)));
        m.insert("customer".into(), serde_json::to_value(&customer).map_err(decode)?);
    }
    serde_json::from_value(v).map_err(decode)
}

/// The `after` of a registration event: the document, which names the
/// customer by id and so keeps personal data out of the audit trail.
pub fn registration_after(t: &Ticket) -> StoreResult<Value> {
    doc_value(t)
}

/// Customer columns as stored: phone, ID number and address encrypted.
#[derive(Debug, Clone)]
pub struct StoredCustomer {
    pub name: String,
    pub phone: String,
    /// Blind index of the phone: lookups and the uniqueness of customers.
    pub phone_idx: String,
    pub id_number: Option<String>,
    pub id_idx: Option<String>,
    pub address: Option<String>,
    pub level: Option<String>,
}

/// Encrypts what is sensitive in a customer and computes the blind indexes.
pub fn seal_customer(n: &kefu_domain::ticket::NewCustomer, cipher: &crate::crypto::FieldCipher) -> StoredCustomer {
    let id = n.id_number.as_ref().map(|i| i.as_str());
    StoredCustomer {
        name: n.name.clone(),
        phone: cipher.encrypt(n.phone.as_str()),
        phone_idx: phone_index(cipher, n.phone.as_str()),
        id_number: id.map(|i| cipher.encrypt(i)),
        id_idx: id.map(|i| cipher.blind_index("id_number", i)),
        address: n.address.as_deref().map(|a| cipher.encrypt(a)),
        level: n.level.clone(),
    }
}

pub fn phone_index(cipher: &crate::crypto::FieldCipher, phone: &str) -> String {
    cipher.blind_index("phone", phone)
}

/// Raw customer columns as read.
#[derive(Debug, Clone)]
pub struct RawCustomer {
    pub id: i64,
    pub name: String,
    pub phone: String,
    pub id_number: Option<String>,
    pub address: Option<String>,
    pub level: Option<String>,
}

/// Decrypts and re-parses a stored customer.
pub fn open_customer(raw: RawCustomer, cipher: &crate::crypto::FieldCipher) -> StoreResult<Customer> {
    use kefu_domain::validate::{IdNumber, Phone};
    let bad = |e: kefu_domain::FieldError| {
        StoreError::Backend(format!("stored customer {} is invalid: {}", raw.id, e.message))
    };
    let phone = cipher.decrypt(&raw.phone)?;
    let id_number = raw.id_number.as_deref().map(|v| cipher.decrypt(v)).transpose()?;
    Ok(Customer {
        id: kefu_domain::CustomerId(raw.id),
        name: raw.name.clone(),
        phone: Phone::parse(&phone, "phone").map_err(bad)?,
        id_number: id_number.map(|n| IdNumber::parse(&n, "id_number")).transpose().map_err(bad)?,
        address: raw.address.as_deref().map(|v| cipher.decrypt(v)).transpose()?,
        level: raw.level.clone(),
    })
}

/// The customer after an upsert, from what the request carried; only the
/// stored fields the request left out (kept by the upsert) are decrypted.
pub fn customer_after_upsert(
    id: i64,
    n: &kefu_domain::ticket::NewCustomer,
    stored_id_number: Option<String>,
    stored_address: Option<String>,
    stored_level: Option<String>,
    cipher: &crate::crypto::FieldCipher,
) -> StoreResult<Customer> {
    use kefu_domain::validate::IdNumber;
    let id_number = match &n.id_number {
        Some(i) => Some(i.clone()),
        None => stored_id_number
            .map(|v| cipher.decrypt(&v))
            .transpose()?
            .map(|v| IdNumber::parse(&v, "id_number"))
            .transpose()
            .map_err(|e| StoreError::Backend(format!("stored customer {id} is invalid: {}", e.message)))?,
    };
    let address = match &n.address {
        Some(a) => Some(a.clone()),
        None => stored_address.map(|v| cipher.decrypt(&v)).transpose()?,
    };
    Ok(Customer {
        id: kefu_domain::CustomerId(id),
        name: n.name.clone(),
        phone: n.phone.clone(),
        id_number,
        address,
        level: n.level.clone().or(stored_level),
    })
}

/// The first audit event of a ticket's chain: its registration.
pub fn registration_event(
    t: &Ticket,
    actor: &kefu_domain::flow::Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> StoreResult<kefu_domain::audit::AuditEvent> {
    use kefu_domain::audit::{AuditEvent, GENESIS};
    Ok(AuditEvent::seal(
        t.id,
        1,
        now,
        Some(actor.id),
        &actor.username,
        "create",
        json!({}),
        json!({}),
        registration_after(t)?,
        GENESIS,
    ))
}

/// The audit event of a change, chained after the event `(seq, prev)`: the
/// fields that changed, the request data (with a note's body), and no user
/// for changes kefu makes by itself.
pub fn mutation_event(
    before: &Ticket,
    m: &crate::Mutation,
    actor: &kefu_domain::flow::Actor,
    now: chrono::DateTime<chrono::Utc>,
    (seq, prev): (i64, &str),
) -> kefu_domain::audit::AuditEvent {
    let (b, a) = kefu_domain::action::diff(before, &m.ticket);
    let mut data = m.data.clone();
    if let (Some(cm), Value::Object(d)) = (&m.comment, &mut data) {
        d.insert("body".into(), json!(cm.body));
    }
    let who = Some(actor.id).filter(|a| *a != crate::SYSTEM);
    kefu_domain::audit::AuditEvent::seal(m.ticket.id, seq + 1, now, who, &actor.username, &m.action, data, b, a, prev)
}

/// Who may accept a pending transfer, as one indexed column: `u:<user>`,
/// `t:<team>` or `d:<department>`; the "awaiting my acceptance" queue asks
/// for the caller's three keys.
pub fn transfer_key(t: &Ticket) -> Option<String> {
    t.transfer_to
        .map(|u| format!("u:{u}"))
        .or_else(|| t.transfer_team.map(|x| format!("t:{x}")))
        .or_else(|| t.transfer_department.map(|x| format!("d:{x}")))
}

/// The keys a staff member accepts transfers under.
pub fn transfer_keys_of(
    user: kefu_domain::UserId,
    team: Option<kefu_domain::TeamId>,
    department: Option<kefu_domain::DepartmentId>,
) -> Vec<String> {
    let mut keys = vec![format!("u:{user}")];
    keys.extend(team.map(|x| format!("t:{x}")));
    keys.extend(department.map(|x| format!("d:{x}")));
    keys
}

/// A transfer receiver as the (to_user, to_team, to_department) columns.
pub fn receiver_columns(to: &kefu_domain::action::Receiver<i64>) -> (Option<i64>, Option<i64>, Option<i64>) {
    use kefu_domain::action::Receiver;
    match to {
        Receiver::User(u) => (Some(*u), None, None),
        Receiver::Team(t) => (None, Some(*t), None),
        Receiver::Department(d) => (None, None, Some(*d)),
    }
}
