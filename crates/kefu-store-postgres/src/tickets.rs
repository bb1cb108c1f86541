//! Ticket writes and queries on PostgreSQL.

use crate::pg;
use crate::rows::{self, json};
use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::{Client, GenericClient};
use kefu_domain::TicketId;
use kefu_domain::action::TransferChange;
use kefu_domain::audit::GENESIS;
use kefu_domain::sla::{next_due, next_warn};
use kefu_domain::ticket::{Customer, NewCustomer, Ticket, format_number};
use kefu_domain::time::shanghai_date;
use kefu_store::crypto::FieldCipher;
use kefu_store::doc::{
    customer_after_upsert, mutation_event, open_customer, phone_index, receiver_columns, seal_customer, sealed_doc,
    sealed_registration_event, ticket_doc, ticket_from_doc, transfer_key,
};
use kefu_store::filter::{Dialect, FilterValue, clauses};
use kefu_store::seal::{open_json, seal_event, seal_json, seal_text};
use kefu_store::*;
use serde_json::Value;
use tokio::sync::Mutex;
use tokio_postgres::types::ToSql;

const MAX_DAILY_SEQ: i64 = 999_999;

async fn stored_response(
    c: &impl GenericClient,
    k: &IdempotencyKey,
    cipher: &FieldCipher,
) -> StoreResult<Option<Written>> {
    let row = c
        .query_opt(
            "SELECT status, body, fingerprint FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND status > 0",
            &[&k.user.0, &k.stored()],
        )
        .await
        .map_err(pg)?;
    let Some(r) = row else { return Ok(None) };
    if r.get::<_, Option<String>>(2).is_some_and(|f| f != k.fingerprint) {
        return Err(StoreError::IdempotencyMismatch);
    }
    Ok(Some(Written::Replayed { status: r.get::<_, i64>(0) as u16, body: open_json(cipher, json(r.get(1))?)? }))
}

/// Claims the key inside the transaction. Another node holding the same key
/// makes this wait until it commits; then its answer is replayed.
async fn claim(
    c: &impl GenericClient,
    key: &Option<IdempotencyKey>,
    now: DateTime<Utc>,
    cipher: &FieldCipher,
) -> StoreResult<Option<Written>> {
    let Some(k) = key else { return Ok(None) };
    let inserted = c
        .execute(
            "INSERT INTO idempotency_keys (user_id, key, status, body, created_at, fingerprint) VALUES ($1, $2, 0, 'null', $3, $4) ON CONFLICT DO NOTHING",
            &[&k.user.0, &k.stored(), &now, &k.fingerprint],
        )
        .await
        .map_err(pg)?;
    if inserted == 1 {
        return Ok(None);
    }
    stored_response(c, k, cipher).await
}

async fn remember(
    c: &impl GenericClient,
    key: &Option<IdempotencyKey>,
    (status, body): (u16, &Value),
    cipher: &FieldCipher,
) -> StoreResult<()> {
    if let Some(k) = key {
        c.execute(
            "UPDATE idempotency_keys SET status = $3, body = $4 WHERE user_id = $1 AND key = $2",
            &[&k.user.0, &k.stored(), &i64::from(status), &seal_json(cipher, body).to_string()],
        )
        .await
        .map_err(pg)?;
    }
    Ok(())
}

/// Finds the customer by phone (its blind index), updating what the new
/// contact told us, or creates them. Sensitive fields are stored encrypted.
pub(crate) async fn upsert_customer(
    c: &impl GenericClient,
    n: &NewCustomer,
    now: DateTime<Utc>,
    cipher: &FieldCipher,
) -> StoreResult<Customer> {
    let s = seal_customer(n, cipher);
    let stmt = c
        .prepare_cached(
            "INSERT INTO customers AS c (name, phone, phone_idx, id_number, id_idx, address, level, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
             ON CONFLICT (phone_idx) DO UPDATE SET
               name = excluded.name,
               id_number = COALESCE(excluded.id_number, c.id_number),
               id_idx = COALESCE(excluded.id_idx, c.id_idx),
               address = COALESCE(excluded.address, c.address),
               level = COALESCE(excluded.level, c.level),
               updated_at = excluded.updated_at
             RETURNING c.id, c.id_number, c.address, c.level",
        )
        .await
        .map_err(pg)?;
    let row = c
        .query_one(&stmt, &[&s.name, &s.phone, &s.phone_idx, &s.id_number, &s.id_idx, &s.address, &s.level, &now])
        .await
        .map_err(pg)?;
    customer_after_upsert(row.get(0), n, row.get(1), row.get(2), row.get(3), cipher)
}

/// Numbers this node has reserved and not yet handed out, for one day.
#[derive(Debug, Default)]
pub struct NumberBlock {
    day: Option<NaiveDate>,
    next: i64,
    end: i64,
}

/// Numbers reserved per round trip to the counter row.
const BLOCK: i64 = 32;

/// The next ticket number of the Shanghai day. Each node reserves numbers
/// in blocks from the per-day counter row, in a short transaction of its
/// own, and hands them out from memory: a number is never issued twice,
/// across nodes and restarts, and never reused; what a node had reserved
/// and not used when it stops (or when the day turns) is skipped. The
/// reservation's commit need not wait for the disk: the ticket that uses the
/// number commits after it, and flushing that commit flushes this one.
pub async fn next_number(blocks: &Mutex<NumberBlock>, client: &mut Client, now: DateTime<Utc>) -> StoreResult<String> {
    let day = shanghai_date(now);
    let mut block = blocks.lock().await;
    if block.day != Some(day) || block.next > block.end {
        let tx = client.transaction().await.map_err(pg)?;
        tx.batch_execute("SET LOCAL synchronous_commit = off").await.map_err(pg)?;
        let stmt = tx
            .prepare_cached(
                "INSERT INTO ticket_numbers (day, last_seq) VALUES ($1, $2)
                 ON CONFLICT (day) DO UPDATE SET last_seq = ticket_numbers.last_seq + $2 RETURNING last_seq",
            )
            .await
            .map_err(pg)?;
        let end: i64 = tx.query_one(&stmt, &[&day.format("%Y%m%d").to_string(), &BLOCK]).await.map_err(pg)?.get(0);
        tx.commit().await.map_err(pg)?;
        *block = NumberBlock { day: Some(day), next: end - BLOCK + 1, end };
    }
    let seq = block.next;
    block.next += 1;
    if seq > MAX_DAILY_SEQ {
        return Err(StoreError::Backend(format!("the daily ticket sequence of {day} is exhausted")));
    }
    Ok(format_number(day, seq as u32))
}

pub async fn create(
    blocks: &Mutex<NumberBlock>,
    client: &mut Client,
    op: CreateTicket,
    cipher: &FieldCipher,
) -> StoreResult<Written> {
    if let Some(k) = &op.idempotency
        && let Some(w) = stored_response(&*client, k, cipher).await?
    {
        return Ok(w);
    }
    let number = next_number(blocks, client, op.now).await?;
    let tx = client.transaction().await.map_err(pg)?;
    if let Some(w) = claim(&tx, &op.idempotency, op.now, cipher).await? {
        return Ok(w);
    }
    let customer = upsert_customer(&tx, &op.ticket.customer, op.now, cipher).await?;
    let ticket = op.ticket.into_ticket(TicketId(0), number, customer, &op.initial_state, op.actor.id, op.now);
    let sealed = sealed_doc(&ticket, cipher)?;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO tickets (number, channel, type, priority, status, customer_id, first_owner, assignee, created_at, updated_at, doc, next_due_at, next_alert_at, next_warn_at, store_code, incident_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
        )
        .await
        .map_err(pg)?;
    let id: i64 = tx
        .query_one(
            &stmt,
            &[
                &ticket.number,
                &ticket.channel.as_str(),
                &ticket.ticket_type.as_str(),
                &ticket.priority.as_str(),
                &ticket.status,
                &ticket.customer.id.0,
                &ticket.first_owner.0,
                &ticket.created_at,
                &sealed.to_string(),
                &next_due(&ticket),
                &ticket.next_alert_at,
                &next_warn(&ticket),
                &ticket.store,
                &ticket.incident.as_ref().map(|i| i.id),
            ],
        )
        .await
        .map_err(pg)?
        .get(0);
    let ticket = Ticket { id: TicketId(id), ..ticket };
    rows::insert_event(&tx, &sealed_registration_event(&ticket, &op.actor, op.now, sealed)?).await?;
    let ticket = follow_up(&tx, ticket, op.follow_up, op.now, cipher).await?;
    if let Some(make) = op.messages {
        crate::outbox::insert_messages(&tx, Some(ticket.id), &make(&ticket), cipher, op.now).await?;
    }
    let body = (op.render)(&ticket);
    remember(&tx, &op.idempotency, (201, &body), cipher).await?;
    tx.commit().await.map_err(pg)?;
    Ok(Written::New { ticket: Box::new(ticket), body })
}

pub async fn mutate(client: &mut Client, op: MutateTicket, cipher: &FieldCipher) -> StoreResult<Written> {
    let tx = client.transaction().await.map_err(pg)?;
    if let Some(w) = claim(&tx, &op.idempotency, op.now, cipher).await? {
        return Ok(w);
    }
    // The row lock serialises every change of this ticket across nodes.
    let before = get(&tx, &TicketKey::Id(op.ticket), true, cipher).await?.ok_or(StoreError::NotFound)?;
    let m = (op.decide)(&before)?;
    write_mutation(&tx, &before, &m, &op.actor, op.now, cipher).await?;
    let body = (op.render)(&m.ticket);
    remember(&tx, &op.idempotency, (op.status, &body), cipher).await?;
    tx.commit().await.map_err(pg)?;
    Ok(Written::New { ticket: Box::new(m.ticket), body })
}

pub async fn mutate_pair(
    client: &mut Client,
    op: MutateTicket,
    linked: Linked,
    cipher: &FieldCipher,
) -> StoreResult<Written> {
    let tx = client.transaction().await.map_err(pg)?;
    if let Some(w) = claim(&tx, &op.idempotency, op.now, cipher).await? {
        return Ok(w);
    }
    // Row locks in id order: two merges of the same pair cannot deadlock.
    let (first, second) =
        if op.ticket <= linked.ticket { (op.ticket, linked.ticket) } else { (linked.ticket, op.ticket) };
    let a = get(&tx, &TicketKey::Id(first), true, cipher).await?.ok_or(StoreError::NotFound)?;
    let b = get(&tx, &TicketKey::Id(second), true, cipher).await?.ok_or(StoreError::NotFound)?;
    let (before, other) = if a.id == op.ticket { (a, b) } else { (b, a) };
    let m = (op.decide)(&before)?;
    let n = (linked.decide)(&other, &m.ticket)?;
    write_mutation(&tx, &before, &m, &op.actor, op.now, cipher).await?;
    write_mutation(&tx, &other, &n, &op.actor, op.now, cipher).await?;
    let body = (op.render)(&m.ticket);
    remember(&tx, &op.idempotency, (op.status, &body), cipher).await?;
    tx.commit().await.map_err(pg)?;
    Ok(Written::New { ticket: Box::new(m.ticket), body })
}

/// Writes what a decision returned: the ticket row, the capacity re-check,
/// notices, the audit event and the transfer, breach and comment records.
async fn write_mutation(
    tx: &impl GenericClient,
    before: &Ticket,
    m: &Mutation,
    actor: &kefu_domain::flow::Actor,
    now: DateTime<Utc>,
    cipher: &FieldCipher,
) -> StoreResult<()> {
    let t = &m.ticket;
    tx.execute(
        "UPDATE tickets SET rev = rev + 1, priority = $2, status = $3, assignee = $4, updated_at = $5, doc = $6, next_due_at = $7,
                next_alert_at = $8, is_open = $9, team_id = $10, tier = $11, transfer_key = $12, next_warn_at = $13,
                incident_id = $14
         WHERE id = $1",
        &[
            &t.id.0,
            &t.priority.as_str(),
            &t.status,
            &t.assignee.map(|a| a.0),
            &t.updated_at,
            &ticket_doc(t, cipher)?,
            &next_due(t),
            &t.next_alert_at,
            &i64::from(t.open),
            &t.team.map(|x| x.0),
            &i64::from(t.tier),
            &transfer_key(t),
            &next_warn(t),
            &t.incident.as_ref().map(|i| i.id),
        ],
    )
    .await
    .map_err(pg)?;
    if let Some(cap) = &m.capacity {
        // Lock the person: concurrent dispatches to them on any node take turns.
        tx.execute("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE", &[&cap.user.0]).await.map_err(pg)?;
        let held: i64 = tx
            .query_one("SELECT COUNT(*) FROM tickets WHERE is_open = 1 AND assignee = $1", &[&cap.user.0])
            .await
            .map_err(pg)?
            .get(0);
        if held > i64::from(cap.max) {
            return Err(StoreError::Domain(kefu_domain::DomainError::CapacityFull { username: cap.username.clone() }));
        }
    }
    if let Some(new) = t.assignee.filter(|a| before.assignee != Some(*a)) {
        tx.execute("UPDATE users SET last_assigned_at = $2 WHERE id = $1", &[&new.0, &now]).await.map_err(pg)?;
    }
    crate::org::insert_notices(tx, t.id, &m.notices, now, cipher).await?;
    crate::outbox::insert_messages(tx, Some(t.id), &m.outbox, cipher, now).await?;
    crate::outbox::sync_visit(tx, before, t).await?;
    if let Some(w) = &m.inventory {
        crate::inventory::write(tx, t.id, w, now, cipher).await?;
    }
    if let Some(q) = &m.bss {
        crate::inventory::queue(tx, t.id, q).await?;
    }
    crate::attachments::insert(tx, &m.attachments, cipher).await?;
    let last = tx
        .query_opt("SELECT seq, hash FROM ticket_events WHERE ticket_id = $1 ORDER BY seq DESC LIMIT 1", &[&t.id.0])
        .await
        .map_err(pg)?;
    let (seq, prev): (i64, String) = last.map_or((0, GENESIS.to_string()), |r| (r.get(0), r.get(1)));
    let event = mutation_event(before, m, actor, now, (seq, &prev));
    rows::insert_event(tx, &seal_event(cipher, &event)).await?;
    if let Some(change) = &m.transfer {
        record_transfer(tx, t.id, change, now, cipher).await?;
    }
    for b in &m.breaches {
        tx.execute(
            "INSERT INTO sla_breaches (ticket_id, kind, due_at, breached_at) VALUES ($1, $2, $3, $4)",
            &[&t.id.0, &b.kind, &b.due_at, &b.breached_at],
        )
        .await
        .map_err(pg)?;
    }
    if let Some(cm) = &m.comment {
        tx.execute(
            "INSERT INTO comments (ticket_id, author, body, internal, created_at, mentions, channel) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &t.id.0,
                &actor.id.0,
                &seal_text(cipher, &cm.body),
                &cm.internal,
                &now,
                &serde_json::json!(cm.mentions).to_string(),
                &cm.channel,
            ],
        )
        .await
        .map_err(pg)?;
    }
    Ok(())
}

/// Applies the follow-up change of a registration (automatic dispatch) in
/// its own savepoint: if the decision or the store refuses it, the
/// registration stands alone.
async fn follow_up(
    tx: &impl GenericClient,
    ticket: Ticket,
    follow: Option<FollowUp>,
    now: DateTime<Utc>,
    cipher: &FieldCipher,
) -> StoreResult<Ticket> {
    let Some(f) = follow else { return Ok(ticket) };
    tx.execute("SAVEPOINT follow_up", &[]).await.map_err(pg)?;
    let applied = match (f.decide)(&ticket) {
        Ok(m) => write_mutation(tx, &ticket, &m, &f.actor, now, cipher).await.map(|()| m.ticket),
        Err(e) => Err(StoreError::from(e)),
    };
    match applied {
        Ok(t) => {
            tx.execute("RELEASE SAVEPOINT follow_up", &[]).await.map_err(pg)?;
            Ok(t)
        }
        Err(StoreError::Domain(_)) => {
            tx.execute("ROLLBACK TO SAVEPOINT follow_up", &[]).await.map_err(pg)?;
            Ok(ticket)
        }
        Err(e) => Err(e),
    }
}

async fn record_transfer(
    c: &impl GenericClient,
    id: TicketId,
    change: &TransferChange,
    now: DateTime<Utc>,
    cipher: &FieldCipher,
) -> StoreResult<()> {
    let seal = |t: &Option<String>| t.as_deref().map(|t| seal_text(cipher, t));
    match change {
        TransferChange::Open { from, to, reason, mode } => {
            let (user, team, dept) = receiver_columns(to);
            c.execute(
                "INSERT INTO transfers (ticket_id, from_user, to_user, to_team, to_department, reason, mode, state, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8)",
                &[&id.0, &from.map(|u| u.0), &user, &team, &dept, &seal_text(cipher, reason), mode, &now],
            )
            .await
        }
        TransferChange::Close { accepted, reason, by } => c
            .execute(
                "UPDATE transfers SET state = $2, result = $3, decided_at = $4, decided_by = $5
                 WHERE id = (SELECT MAX(id) FROM transfers WHERE ticket_id = $1 AND state = 'pending')",
                &[&id.0, &if *accepted { "accepted" } else { "rejected" }, &seal(reason), &now, &by.0],
            )
            .await,
        TransferChange::Outcome { result, customer_feedback } => c
            .execute(
                "UPDATE transfers SET result = COALESCE($2, result), customer_feedback = COALESCE($3, customer_feedback)
                 WHERE id = (SELECT MAX(id) FROM transfers WHERE ticket_id = $1 AND state = 'accepted')",
                &[&id.0, &seal(result), &seal(customer_feedback)],
            )
            .await,
    }
    .map_err(pg)?;
    Ok(())
}

pub(crate) const TICKET_SELECT: &str = "SELECT t.id, t.doc, c.id, c.name, c.phone, c.id_number, c.address, c.level FROM tickets t JOIN customers c ON c.id = t.customer_id";

pub(crate) fn ticket_row(r: &tokio_postgres::Row, cipher: &FieldCipher) -> StoreResult<Ticket> {
    ticket_from_doc(r.get(0), r.get(1), open_customer(rows::raw_customer(r, 2), cipher)?, cipher)
}

pub async fn get(
    c: &impl GenericClient,
    key: &TicketKey,
    for_update: bool,
    cipher: &FieldCipher,
) -> StoreResult<Option<Ticket>> {
    let lock = if for_update { " FOR UPDATE OF t" } else { "" };
    let row = match key {
        TicketKey::Id(id) => c.query_opt(&format!("{TICKET_SELECT} WHERE t.id = $1{lock}"), &[&id.0]).await,
        TicketKey::Number(n) => c.query_opt(&format!("{TICKET_SELECT} WHERE t.number = $1{lock}"), &[n]).await,
    }
    .map_err(pg)?;
    row.as_ref().map(|r| ticket_row(r, cipher)).transpose()
}

struct Postgres;

impl Dialect for Postgres {
    fn doc_field_contains(field: &str) -> String {
        format!("strpos(t.doc::json->>'{field}', ?) > 0")
    }
    fn column_contains(column: &str) -> String {
        format!("strpos({column}, ?) > 0")
    }
}

/// WHERE clause and its parameters; PostgreSQL numbers its placeholders.
pub(crate) fn conditions(f: &TicketFilter) -> (String, Vec<Box<dyn ToSql + Sync + Send>>) {
    render(clauses::<Postgres>(f))
}

/// The WHERE clause of one page, `depth` rows deep (`filter::page_clauses`).
pub(crate) fn page_conditions(f: &TicketFilter, depth: u64) -> (String, Vec<Box<dyn ToSql + Sync + Send>>) {
    render(kefu_store::filter::page_clauses::<Postgres>(f, depth))
}

fn render(parts: Vec<(String, Vec<FilterValue>)>) -> (String, Vec<Box<dyn ToSql + Sync + Send>>) {
    if parts.is_empty() {
        return (String::new(), Vec::new());
    }
    let mut n = 0;
    let sql: Vec<String> = parts
        .iter()
        .map(|(s, _)| {
            s.split('?').enumerate().fold(String::new(), |mut acc, (i, piece)| {
                if i > 0 {
                    n += 1;
                    acc.push_str(&format!("${n}"));
                }
                acc.push_str(piece);
                acc
            })
        })
        .collect();
    let args = parts
        .iter()
        .flat_map(|(_, v)| v.iter())
        .map(|v| -> Box<dyn ToSql + Sync + Send> {
            match v {
                FilterValue::Text(s) => Box::new(s.clone()),
                FilterValue::Int(i) => Box::new(*i),
                FilterValue::Time(t) => Box::new(*t),
            }
        })
        .collect();
    (format!(" WHERE {}", sql.join(" AND ")), args)
}

pub async fn list(c: &impl GenericClient, f: &TicketFilter, cipher: &FieldCipher) -> StoreResult<Page<Ticket>> {
    // Phone lookups go through the blind index.
    let f = &TicketFilter { customer_phone: f.customer_phone.as_deref().map(|p| phone_index(cipher, p)), ..f.clone() };
    // The total counts the whole list; a cursor only says where the page starts.
    let (all, all_args) = conditions(&TicketFilter { after: None, ..f.clone() });
    let all_params: Vec<&(dyn ToSql + Sync)> = all_args.iter().map(|b| b.as_ref() as &(dyn ToSql + Sync)).collect();
    let total: i64 =
        c.query_one(&format!("SELECT COUNT(*) FROM tickets t{all}"), &all_params).await.map_err(pg)?.get(0);
    let offset = i64::from(f.page.saturating_sub(1)) * i64::from(f.per_page);
    let (cond, args) = page_conditions(f, offset as u64 + u64::from(f.per_page));
    let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|b| b.as_ref() as &(dyn ToSql + Sync)).collect();
    let sql = format!(
        "{TICKET_SELECT}{cond} ORDER BY {} LIMIT {} OFFSET {offset}",
        kefu_store::filter::order_by(f),
        f.per_page
    );
    let items = c
        .query(&sql, &params)
        .await
        .map_err(pg)?
        .iter()
        .map(|r| ticket_row(r, cipher))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Page { items, total, page: f.page, per_page: f.per_page })
}

/// The store capabilities kept in this file: TicketStore.
mod capability {
    use crate::*;

    impl TicketStore for PgStore {
        async fn create_ticket(&self, op: CreateTicket) -> StoreResult<Written> {
            tickets::create(&self.numbers, &mut self.client().await?, op, &self.cipher).await
        }
        async fn mutate_ticket(&self, op: MutateTicket) -> StoreResult<Written> {
            tickets::mutate(&mut self.client().await?, op, &self.cipher).await
        }
        async fn mutate_pair(&self, op: MutateTicket, linked: Linked) -> StoreResult<Written> {
            tickets::mutate_pair(&mut self.client().await?, op, linked, &self.cipher).await
        }
        async fn ticket(&self, key: TicketKey) -> StoreResult<Option<Ticket>> {
            tickets::get(&self.client().await?, &key, false, &self.cipher).await
        }
        async fn list_tickets(&self, filter: TicketFilter) -> StoreResult<Page<Ticket>> {
            tickets::list(&self.client().await?, &filter, &self.cipher).await
        }
        async fn events(&self, ticket: TicketId) -> StoreResult<Vec<AuditEvent>> {
            let events = rows::events(&self.client().await?, Some(ticket), None, i64::MAX).await?;
            events.into_iter().map(|e| seal::open_event(&self.cipher, e)).collect()
        }
        async fn transfers(&self, ticket: TicketId) -> StoreResult<Vec<Transfer>> {
            let transfers = rows::transfers(&self.client().await?, ticket).await?;
            transfers.into_iter().map(|t| seal::open_transfer(&self.cipher, t)).collect()
        }
        async fn comments(&self, ticket: TicketId) -> StoreResult<Vec<Comment>> {
            let comments = rows::comments(&self.client().await?, ticket).await?;
            comments.into_iter().map(|c| Ok(Comment { body: seal::open_text(&self.cipher, &c.body)?, ..c })).collect()
        }
        async fn customer_by_phone(&self, phone: &str) -> StoreResult<Option<Customer>> {
            rows::customer_by_phone(&self.client().await?, phone, &self.cipher).await
        }
        async fn ticket_count(&self) -> StoreResult<i64> {
            Ok(self.client().await?.query_one("SELECT COUNT(*) FROM tickets", &[]).await.map_err(pg)?.get(0))
        }
        async fn events_after(&self, after: Option<(TicketId, i64)>, limit: u32) -> StoreResult<Vec<AuditEvent>> {
            let events = rows::events(&self.client().await?, None, after, i64::from(limit)).await?;
            events.into_iter().map(|e| seal::open_event(&self.cipher, e)).collect()
        }
        async fn tickets_without_events(&self, limit: u32) -> StoreResult<Vec<TicketId>> {
            rows::tickets_without_events(&self.client().await?, i64::from(limit)).await
        }
        async fn alerts_due(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<TicketId>> {
            let rows = self
                .client()
                .await?
                .query(
                    "SELECT id FROM tickets WHERE next_alert_at IS NOT NULL AND next_alert_at <= $1 ORDER BY next_alert_at LIMIT $2",
                    &[&now, &i64::from(limit)],
                )
                .await
                .map_err(pg)?;
            Ok(rows.iter().map(|r| TicketId(r.get(0))).collect())
        }
        async fn breaches(&self, ticket: TicketId) -> StoreResult<Vec<Breach>> {
            let rows = self
                .client()
                .await?
                .query(
                    "SELECT kind, due_at, breached_at FROM sla_breaches WHERE ticket_id = $1 ORDER BY id",
                    &[&ticket.0],
                )
                .await
                .map_err(pg)?;
            Ok(rows.iter().map(|r| Breach { kind: r.get(0), due_at: r.get(1), breached_at: r.get(2) }).collect())
        }
    }
}
