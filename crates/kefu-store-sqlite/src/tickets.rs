//! Ticket writes (run on the writer thread) and ticket queries.

use crate::backend;
use crate::rows::{self, decode_err, ts};
use chrono::{DateTime, Utc};
use kefu_domain::action::TransferChange;
use kefu_domain::audit::GENESIS;
use kefu_domain::sla::{next_due, next_warn};
use kefu_domain::ticket::{Customer, NewCustomer, Ticket, format_number};
use kefu_domain::time::shanghai_date;
use kefu_domain::{TicketId, UserId};
use kefu_store::crypto::FieldCipher;
use kefu_store::doc::{
    RawCustomer, customer_after_upsert, mutation_event, open_customer, phone_index, receiver_columns, seal_customer,
    sealed_doc, sealed_registration_event, ticket_doc as doc, ticket_from_doc, transfer_key,
};
use kefu_store::filter::{Dialect, FilterValue, clauses};
use kefu_store::seal::{open_json, seal_event, seal_json, seal_text};
use kefu_store::*;
use rusqlite::types::ToSql;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

/// Daily sequences have six digits.
const MAX_DAILY_SEQ: i64 = 999_999;

fn replay(c: &Connection, key: &Option<IdempotencyKey>, cipher: &FieldCipher) -> StoreResult<Option<Written>> {
    let Some(k) = key else { return Ok(None) };
    let found: Option<(u16, String, Option<String>)> = c
        .prepare_cached("SELECT status, body, fingerprint FROM idempotency_keys WHERE user_id = ?1 AND key = ?2")
        .map_err(backend)?
        .query_row(params![k.user.0, k.stored()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()
        .map_err(backend)?;
    let Some((status, body, fingerprint)) = found else { return Ok(None) };
    if fingerprint.is_some_and(|f| f != k.fingerprint) {
        return Err(StoreError::IdempotencyMismatch);
    }
    let body = open_json(cipher, serde_json::from_str(&body).map_err(|e| decode_err("response", e))?)?;
    Ok(Some(Written::Replayed { status, body }))
}

fn remember(
    c: &Connection,
    key: &Option<IdempotencyKey>,
    (status, body): (u16, &Value),
    now: DateTime<Utc>,
    cipher: &FieldCipher,
) -> StoreResult<()> {
    if let Some(k) = key {
        c.prepare_cached(
            "INSERT INTO idempotency_keys (user_id, key, status, body, created_at, fingerprint) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .map_err(backend)?
        .execute(params![k.user.0, k.stored(), status, seal_json(cipher, body).to_string(), ts(now), k.fingerprint])
        .map_err(backend)?;
    }
    Ok(())
}

/// Finds the customer by phone (its blind index), updating what the new
/// contact told us, or creates them. Sensitive fields are stored encrypted.
pub(crate) fn upsert_customer(
    c: &Connection,
    n: &NewCustomer,
    now: DateTime<Utc>,
    cipher: &FieldCipher,
) -> StoreResult<Customer> {
    let s = seal_customer(n, cipher);
    let (id, stored_id, stored_address, stored_level): (i64, Option<String>, Option<String>, Option<String>) = c
        .prepare_cached(
            "INSERT INTO customers (name, phone, phone_idx, id_number, id_idx, address, level, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
             ON CONFLICT (phone_idx) DO UPDATE SET
               name = excluded.name,
               id_number = COALESCE(excluded.id_number, customers.id_number),
               id_idx = COALESCE(excluded.id_idx, customers.id_idx),
               address = COALESCE(excluded.address, customers.address),
               level = COALESCE(excluded.level, customers.level),
               updated_at = excluded.updated_at
             RETURNING id, id_number, address, level",
        )
        .map_err(backend)?
        .query_row(params![s.name, s.phone, s.phone_idx, s.id_number, s.id_idx, s.address, s.level, ts(now)], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .map_err(backend)?;
    customer_after_upsert(id, n, stored_id, stored_address, stored_level, cipher)
}

fn next_number(c: &Connection, now: DateTime<Utc>) -> StoreResult<String> {
    let day = shanghai_date(now);
    let seq: i64 = c
        .prepare_cached(
            "INSERT INTO ticket_numbers (day, last_seq) VALUES (?1, 1)
             ON CONFLICT (day) DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq",
        )
        .map_err(backend)?
        .query_row([day.format("%Y%m%d").to_string()], |r| r.get(0))
        .map_err(backend)?;
    if seq > MAX_DAILY_SEQ {
        return Err(StoreError::Backend(format!("the daily ticket sequence of {day} is exhausted")));
    }
    Ok(format_number(day, seq as u32))
}

pub fn create(c: &Connection, op: CreateTicket, cipher: &FieldCipher) -> StoreResult<Written> {
    if let Some(w) = replay(c, &op.idempotency, cipher)? {
        return Ok(w);
    }
    let customer = upsert_customer(c, &op.ticket.customer, op.now, cipher)?;
    let number = next_number(c, op.now)?;
    let ticket = op.ticket.into_ticket(TicketId(0), number, customer, &op.initial_state, op.actor.id, op.now);
    let sealed = sealed_doc(&ticket, cipher)?;
    let id: i64 = c
        .prepare_cached(
            "INSERT INTO tickets (number, channel, type, priority, status, customer_id, first_owner, assignee, created_at, updated_at, doc, next_due_at, next_alert_at, next_warn_at, store_code, incident_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, ?8, ?8, ?9, ?10, ?11, ?12, ?13, ?14) RETURNING id",
        )
        .map_err(backend)?
        .query_row(
            params![
                ticket.number,
                ticket.channel.as_str(),
                ticket.ticket_type.as_str(),
                ticket.priority.as_str(),
                ticket.status,
                ticket.customer.id.0,
                ticket.first_owner.0,
                ts(ticket.created_at),
                sealed.to_string(),
                next_due(&ticket).map(ts),
                ticket.next_alert_at.map(ts),
                next_warn(&ticket).map(ts),
                ticket.store,
                ticket.incident.as_ref().map(|i| i.id)
            ],
            |r| r.get(0),
        )
        .map_err(backend)?;
    let ticket = Ticket { id: TicketId(id), ..ticket };
    rows::insert_event(c, &sealed_registration_event(&ticket, &op.actor, op.now, sealed)?)?;
    let ticket = follow_up(c, ticket, op.follow_up, op.now, cipher)?;
    if let Some(make) = op.messages {
        crate::outbox::insert_messages(c, Some(ticket.id), &make(&ticket), cipher, op.now)?;
    }
    let body = (op.render)(&ticket);
    remember(c, &op.idempotency, (201, &body), op.now, cipher)?;
    Ok(Written::New { ticket: Box::new(ticket), body })
}

fn last_link(c: &Connection, id: TicketId) -> StoreResult<(i64, String)> {
    c.prepare_cached("SELECT seq, hash FROM ticket_events WHERE ticket_id = ?1 ORDER BY seq DESC LIMIT 1")
        .map_err(backend)?
        .query_row([id.0], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(backend)
        .map(|o| o.unwrap_or((0, GENESIS.to_string())))
}

pub fn mutate(c: &Connection, op: MutateTicket, cipher: &FieldCipher) -> StoreResult<Written> {
    if let Some(w) = replay(c, &op.idempotency, cipher)? {
        return Ok(w);
    }
    let before = get(c, &TicketKey::Id(op.ticket), cipher)?.ok_or(StoreError::NotFound)?;
    let m = (op.decide)(&before)?;
    write_mutation(c, &before, &m, &op.actor, op.now, cipher)?;
    let body = (op.render)(&m.ticket);
    remember(c, &op.idempotency, (op.status, &body), op.now, cipher)?;
    Ok(Written::New { ticket: Box::new(m.ticket), body })
}

pub fn mutate_pair(c: &Connection, op: MutateTicket, linked: Linked, cipher: &FieldCipher) -> StoreResult<Written> {
    if let Some(w) = replay(c, &op.idempotency, cipher)? {
        return Ok(w);
    }
    // The single writer holds the transaction: no other change interleaves.
    let before = get(c, &TicketKey::Id(op.ticket), cipher)?.ok_or(StoreError::NotFound)?;
    let other = get(c, &TicketKey::Id(linked.ticket), cipher)?.ok_or(StoreError::NotFound)?;
    let m = (op.decide)(&before)?;
    let n = (linked.decide)(&other, &m.ticket)?;
    write_mutation(c, &before, &m, &op.actor, op.now, cipher)?;
    write_mutation(c, &other, &n, &op.actor, op.now, cipher)?;
    let body = (op.render)(&m.ticket);
    remember(c, &op.idempotency, (op.status, &body), op.now, cipher)?;
    Ok(Written::New { ticket: Box::new(m.ticket), body })
}

/// Writes what a decision returned: the ticket row, the capacity re-check,
/// notices, the audit event and the transfer, breach and comment records.
fn write_mutation(
    c: &Connection,
    before: &Ticket,
    m: &Mutation,
    actor: &kefu_domain::flow::Actor,
    now: DateTime<Utc>,
    cipher: &FieldCipher,
) -> StoreResult<()> {
    let t = &m.ticket;
    c.prepare_cached(
        "UPDATE tickets SET rev = rev + 1, priority = ?2, status = ?3, assignee = ?4, updated_at = ?5, doc = ?6, next_due_at = ?7,
                next_alert_at = ?8, is_open = ?9, team_id = ?10, tier = ?11, transfer_key = ?12, next_warn_at = ?13,
                incident_id = ?14
         WHERE id = ?1",
    )
    .map_err(backend)?
    .execute(params![
        t.id.0,
        t.priority.as_str(),
        t.status,
        t.assignee.map(|a| a.0),
        ts(t.updated_at),
        doc(t, cipher)?,
        next_due(t).map(ts),
        t.next_alert_at.map(ts),
        t.open,
        t.team.map(|x| x.0),
        t.tier,
        transfer_key(t),
        next_warn(t).map(ts),
        t.incident.as_ref().map(|i| i.id)
    ])
    .map_err(backend)?;
    if let Some(cap) = &m.capacity {
        // The writer is single: no other dispatch can interleave here.
        if crate::org::load_of(c, cap.user)? > cap.max {
            return Err(StoreError::Domain(kefu_domain::DomainError::CapacityFull { username: cap.username.clone() }));
        }
    }
    if let Some(new) = t.assignee.filter(|a| before.assignee != Some(*a)) {
        c.prepare_cached("UPDATE users SET last_assigned_at = ?2 WHERE id = ?1")
            .map_err(backend)?
            .execute(params![new.0, ts(now)])
            .map_err(backend)?;
    }
    crate::org::insert_notices(c, t.id, &m.notices, now, cipher)?;
    crate::outbox::insert_messages(c, Some(t.id), &m.outbox, cipher, now)?;
    crate::outbox::sync_visit(c, before, t)?;
    if let Some(w) = &m.inventory {
        crate::inventory::write(c, t.id, w, now, cipher)?;
    }
    if let Some(q) = &m.bss {
        crate::inventory::queue(c, t.id, q)?;
    }
    crate::attachments::insert(c, &m.attachments, cipher)?;
    let (seq, prev) = last_link(c, t.id)?;
    let event = mutation_event(before, m, actor, now, (seq, &prev));
    rows::insert_event(c, &seal_event(cipher, &event))?;
    if let Some(change) = &m.transfer {
        record_transfer(c, t.id, change, now, cipher)?;
    }
    for b in &m.breaches {
        c.prepare_cached("INSERT INTO sla_breaches (ticket_id, kind, due_at, breached_at) VALUES (?1, ?2, ?3, ?4)")
            .map_err(backend)?
            .execute(params![t.id.0, b.kind, ts(b.due_at), ts(b.breached_at)])
            .map_err(backend)?;
    }
    if let Some(cm) = &m.comment {
        c.prepare_cached(
            "INSERT INTO comments (ticket_id, author, body, internal, created_at, mentions, channel) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(backend)?
        .execute(params![
            t.id.0,
            actor.id.0,
            seal_text(cipher, &cm.body),
            cm.internal,
            ts(now),
            serde_json::json!(cm.mentions).to_string(),
            cm.channel
        ])
        .map_err(backend)?;
    }
    Ok(())
}

/// Applies the follow-up change of a registration (automatic dispatch) in
/// its own savepoint: if the decision or the store refuses it, the
/// registration stands alone.
fn follow_up(
    c: &Connection,
    ticket: Ticket,
    follow: Option<FollowUp>,
    now: DateTime<Utc>,
    cipher: &FieldCipher,
) -> StoreResult<Ticket> {
    let Some(f) = follow else { return Ok(ticket) };
    c.execute_batch("SAVEPOINT follow_up").map_err(backend)?;
    let applied = (f.decide)(&ticket).map_err(StoreError::from).and_then(|m| {
        write_mutation(c, &ticket, &m, &f.actor, now, cipher)?;
        Ok(m.ticket)
    });
    match applied {
        Ok(t) => {
            c.execute_batch("RELEASE follow_up").map_err(backend)?;
            Ok(t)
        }
        Err(StoreError::Domain(_)) => {
            c.execute_batch("ROLLBACK TO follow_up; RELEASE follow_up").map_err(backend)?;
            Ok(ticket)
        }
        Err(e) => Err(e),
    }
}

fn record_transfer(
    c: &Connection,
    id: TicketId,
    change: &TransferChange,
    now: DateTime<Utc>,
    cipher: &FieldCipher,
) -> StoreResult<()> {
    let seal = |t: &Option<String>| t.as_deref().map(|t| seal_text(cipher, t));
    match change {
        TransferChange::Open { from, to, reason, mode } => {
            let (user, team, dept) = receiver_columns(to);
            c.prepare_cached(
                "INSERT INTO transfers (ticket_id, from_user, to_user, to_team, to_department, reason, mode, state, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8)",
            )
            .map_err(backend)?
            .execute(params![id.0, from.map(|u: UserId| u.0), user, team, dept, seal_text(cipher, reason), mode, ts(now)])
        }
        TransferChange::Close { accepted, reason, by } => c
            .prepare_cached(
                "UPDATE transfers SET state = ?2, result = ?3, decided_at = ?4, decided_by = ?5
                 WHERE id = (SELECT MAX(id) FROM transfers WHERE ticket_id = ?1 AND state = 'pending')",
            )
            .map_err(backend)?
            .execute(params![id.0, if *accepted { "accepted" } else { "rejected" }, seal(reason), ts(now), by.0]),
        TransferChange::Outcome { result, customer_feedback } => c
            .prepare_cached(
                "UPDATE transfers SET result = COALESCE(?2, result), customer_feedback = COALESCE(?3, customer_feedback)
                 WHERE id = (SELECT MAX(id) FROM transfers WHERE ticket_id = ?1 AND state = 'accepted')",
            )
            .map_err(backend)?
            .execute(params![id.0, seal(result), seal(customer_feedback)]),
    }
    .map_err(backend)?;
    Ok(())
}

pub(crate) const TICKET_SELECT: &str = "SELECT t.id, t.doc, c.id, c.name, c.phone, c.id_number, c.address, c.level FROM tickets t JOIN customers c ON c.id = t.customer_id";

/// Ticket columns as read; decoded outside the row callback so a decoding
/// error keeps its message.
pub(crate) fn ticket_row(r: &rusqlite::Row) -> rusqlite::Result<(i64, String, RawCustomer)> {
    Ok((r.get(0)?, r.get(1)?, rows::raw_customer(r, 2)?))
}

pub(crate) fn decode((id, doc, customer): (i64, String, RawCustomer), cipher: &FieldCipher) -> StoreResult<Ticket> {
    ticket_from_doc(id, &doc, open_customer(customer, cipher)?, cipher)
}

pub fn get(c: &Connection, key: &TicketKey, cipher: &FieldCipher) -> StoreResult<Option<Ticket>> {
    let (sql, arg): (String, Box<dyn ToSql>) = match key {
        TicketKey::Id(id) => (format!("{TICKET_SELECT} WHERE t.id = ?1"), Box::new(id.0)),
        TicketKey::Number(n) => (format!("{TICKET_SELECT} WHERE t.number = ?1"), Box::new(n.clone())),
    };
    let row = c.prepare_cached(&sql).map_err(backend)?.query_row([arg], ticket_row).optional().map_err(backend)?;
    row.map(|r| decode(r, cipher)).transpose()
}

struct Sqlite;

impl Dialect for Sqlite {
    fn doc_field_contains(field: &str) -> String {
        format!("instr(json_extract(t.doc, '$.{field}'), ?) > 0")
    }
    fn column_contains(column: &str) -> String {
        format!("instr({column}, ?) > 0")
    }
    fn unindexed(column: &str) -> String {
        format!("+{column}")
    }
}

/// WHERE clause and its parameters; SQLite binds bare `?` in order.
pub(crate) fn conditions(f: &TicketFilter) -> (String, Vec<Box<dyn ToSql>>) {
    render(clauses::<Sqlite>(f))
}

/// The WHERE clause of one page, `depth` rows deep (`filter::page_clauses`).
pub(crate) fn page_conditions(f: &TicketFilter, depth: u64) -> (String, Vec<Box<dyn ToSql>>) {
    render(kefu_store::filter::page_clauses::<Sqlite>(f, depth))
}

fn render(parts: Vec<(String, Vec<FilterValue>)>) -> (String, Vec<Box<dyn ToSql>>) {
    if parts.is_empty() {
        return (String::new(), Vec::new());
    }
    let sql: Vec<&str> = parts.iter().map(|(s, _)| s.as_str()).collect();
    let args = parts
        .iter()
        .flat_map(|(_, v)| v.iter())
        .map(|v| -> Box<dyn ToSql> {
            match v {
                FilterValue::Text(s) => Box::new(s.clone()),
                FilterValue::Int(i) => Box::new(*i),
                FilterValue::Time(t) => Box::new(ts(*t)),
            }
        })
        .collect();
    (format!(" WHERE {}", sql.join(" AND ")), args)
}

pub fn list(c: &Connection, f: &TicketFilter, cipher: &FieldCipher) -> StoreResult<Page<Ticket>> {
    // Phone lookups go through the blind index.
    let f = &TicketFilter { customer_phone: f.customer_phone.as_deref().map(|p| phone_index(cipher, p)), ..f.clone() };
    // The total counts the whole list; a cursor only says where the page starts.
    let (all, all_args) = conditions(&TicketFilter { after: None, ..f.clone() });
    let all_params: Vec<&dyn ToSql> = all_args.iter().map(|b| b.as_ref()).collect();
    let total: i64 = c
        .prepare_cached(&format!("SELECT COUNT(*) FROM tickets t{all}"))
        .map_err(backend)?
        .query_row(all_params.as_slice(), |r| r.get(0))
        .map_err(backend)?;
    let offset = i64::from(f.page.saturating_sub(1)) * i64::from(f.per_page);
    let (cond, args) = page_conditions(f, offset as u64 + u64::from(f.per_page));
    let params: Vec<&dyn ToSql> = args.iter().map(|b| b.as_ref()).collect();
    let items = c
        .prepare_cached(&format!(
            "{TICKET_SELECT}{cond} ORDER BY {} LIMIT {} OFFSET {offset}",
            kefu_store::filter::order_by(f),
            f.per_page
        ))
        .map_err(backend)?
        .query_map(params.as_slice(), ticket_row)
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?
        .into_iter()
        .map(|r| decode(r, cipher))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Page { items, total, page: f.page, per_page: f.per_page })
}

/// The store capabilities kept in this file: TicketStore.
mod capability {
    use crate::*;

    impl TicketStore for SqliteStore {
        async fn create_ticket(&self, op: CreateTicket) -> StoreResult<Written> {
            let k = self.cipher.clone();
            self.writer.run(move |c| tickets::create(c, op, &k)).await
        }
        async fn mutate_ticket(&self, op: MutateTicket) -> StoreResult<Written> {
            let k = self.cipher.clone();
            self.writer.run(move |c| tickets::mutate(c, op, &k)).await
        }
        async fn mutate_pair(&self, op: MutateTicket, linked: Linked) -> StoreResult<Written> {
            let k = self.cipher.clone();
            self.writer.run(move |c| tickets::mutate_pair(c, op, linked, &k)).await
        }
        async fn ticket(&self, key: TicketKey) -> StoreResult<Option<Ticket>> {
            let k = self.cipher.clone();
            self.read(move |c| tickets::get(c, &key, &k)).await
        }
        async fn list_tickets(&self, filter: TicketFilter) -> StoreResult<Page<Ticket>> {
            let k = self.cipher.clone();
            self.read(move |c| tickets::list(c, &filter, &k)).await
        }
        async fn events(&self, ticket: TicketId) -> StoreResult<Vec<AuditEvent>> {
            let k = self.cipher.clone();
            self.read(move |c| rows::events(c, Some(ticket), None, u32::MAX, &k)).await
        }
        async fn transfers(&self, ticket: TicketId) -> StoreResult<Vec<Transfer>> {
            let k = self.cipher.clone();
            self.read(move |c| rows::transfers(c, ticket, &k)).await
        }
        async fn comments(&self, ticket: TicketId) -> StoreResult<Vec<Comment>> {
            let k = self.cipher.clone();
            self.read(move |c| rows::comments(c, ticket, &k)).await
        }
        async fn customer_by_phone(&self, phone: &str) -> StoreResult<Option<Customer>> {
            let p = phone.to_string();
            let k = self.cipher.clone();
            self.read(move |c| rows::customer_by_phone(c, &p, &k)).await
        }
        async fn ticket_count(&self) -> StoreResult<i64> {
            self.read(|c| c.query_row("SELECT COUNT(*) FROM tickets", [], |r| r.get(0)).map_err(backend)).await
        }
        async fn events_after(&self, after: Option<(TicketId, i64)>, limit: u32) -> StoreResult<Vec<AuditEvent>> {
            let k = self.cipher.clone();
            self.read(move |c| rows::events(c, None, after, limit, &k)).await
        }
        async fn tickets_without_events(&self, limit: u32) -> StoreResult<Vec<TicketId>> {
            self.read(move |c| rows::tickets_without_events(c, limit)).await
        }
        async fn alerts_due(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<TicketId>> {
            self.read(move |c| {
                c.prepare_cached(
                    "SELECT id FROM tickets WHERE next_alert_at IS NOT NULL AND next_alert_at <= ?1 ORDER BY next_alert_at LIMIT ?2",
                )
                .map_err(backend)?
                .query_map(rusqlite::params![rows::ts(now), limit], |r| Ok(TicketId(r.get(0)?)))
                .map_err(backend)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)
            })
            .await
        }
        async fn breaches(&self, ticket: TicketId) -> StoreResult<Vec<Breach>> {
            self.read(move |c| {
                c.prepare_cached("SELECT kind, due_at, breached_at FROM sla_breaches WHERE ticket_id = ?1 ORDER BY id")
                    .map_err(backend)?
                    .query_map([ticket.0], |r| {
                        Ok(Breach {
                            kind: r.get(0)?,
                            due_at: rows::parse_ts(&r.get::<_, String>(1)?)?,
                            breached_at: rows::parse_ts(&r.get::<_, String>(2)?)?,
                        })
                    })
                    .map_err(backend)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(backend)
            })
            .await
        }
    }
}
