//! The outbox of customer messages and the return-visit projection.

use crate::backend;
use crate::rows::{opt_ts, parse_ts, ts};
use chrono::{DateTime, Duration, Utc};
use kefu_domain::TicketId;
use kefu_domain::ticket::Ticket;
use kefu_store::crypto::FieldCipher;
use kefu_store::seal::{open_text, seal_text};
use kefu_store::{Message, NewMessage, Page, SendOutcome, StoreResult, VisitCounts, VisitFilter, VisitRow};
use rusqlite::{Connection, OptionalExtension, Row, params};

pub fn insert_messages(
    c: &Connection,
    ticket: Option<TicketId>,
    messages: &[NewMessage],
    cipher: &FieldCipher,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let mut stmt = c
        .prepare_cached(
            "INSERT INTO outbox (ticket_id, kind, channel, recipient, subject, body, state, next_attempt_at, created_at, in_reply_to)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?7, ?8)",
        )
        .map_err(backend)?;
    for m in messages {
        let recipient = cipher.encrypt(&m.recipient);
        let (subject, body) = (seal_text(cipher, &m.subject), seal_text(cipher, &m.body));
        stmt.execute(params![ticket.map(|t| t.0), m.kind, m.channel, recipient, subject, body, ts(now), m.in_reply_to])
            .map_err(backend)?;
    }
    Ok(())
}

/// Keeps the `visits` row in step with the ticket's current visit task.
pub fn sync_visit(c: &Connection, before: &Ticket, after: &Ticket) -> StoreResult<()> {
    let (old, new) = (&before.customer_loop.visit, &after.customer_loop.visit);
    if old == new && before.team == after.team {
        return Ok(());
    }
    let Some(v) = new else {
        c.prepare_cached("DELETE FROM visits WHERE ticket_id = ?1")
            .map_err(backend)?
            .execute([after.id.0])
            .map_err(backend)?;
        return Ok(());
    };
    c.prepare_cached(
        "INSERT INTO visits (ticket_id, team_id, method, state, attempts, resolved_at, due_at, satisfaction, nps, visited_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (ticket_id) DO UPDATE SET team_id = excluded.team_id, method = excluded.method,
            state = excluded.state, attempts = excluded.attempts, resolved_at = excluded.resolved_at,
            due_at = excluded.due_at, satisfaction = excluded.satisfaction, nps = excluded.nps,
            visited_at = excluded.visited_at",
    )
    .map_err(backend)?
    .execute(params![
        after.id.0,
        after.team.map(|t| t.0),
        v.method,
        v.state.as_str(),
        v.attempts,
        ts(v.resolved_at),
        ts(v.due_at),
        v.satisfaction,
        v.nps,
        v.visited_at.map(ts)
    ])
    .map_err(backend)?;
    Ok(())
}

const MESSAGE_COLS: &str = "id, ticket_id, kind, channel, recipient, subject, body, state, attempts, next_attempt_at, \
                            last_error, provider_id, created_at, sent_at, delivered_at, in_reply_to";

fn message(r: &Row) -> rusqlite::Result<Message> {
    Ok(Message {
        id: r.get(0)?,
        ticket_id: r.get::<_, Option<i64>>(1)?.map(TicketId),
        kind: r.get(2)?,
        channel: r.get(3)?,
        recipient: r.get(4)?,
        subject: r.get(5)?,
        body: r.get(6)?,
        state: r.get(7)?,
        attempts: r.get(8)?,
        next_attempt_at: opt_ts(r.get(9)?)?,
        last_error: r.get(10)?,
        provider_id: r.get(11)?,
        created_at: parse_ts(&r.get::<_, String>(12)?)?,
        sent_at: opt_ts(r.get(13)?)?,
        delivered_at: opt_ts(r.get(14)?)?,
        in_reply_to: r.get(15)?,
    })
}

fn decrypted(mut m: Message, cipher: &FieldCipher) -> StoreResult<Message> {
    m.recipient = cipher.decrypt(&m.recipient)?;
    m.subject = open_text(cipher, &m.subject)?;
    m.body = open_text(cipher, &m.body)?;
    Ok(m)
}

pub fn claim(
    c: &Connection,
    node: &str,
    now: DateTime<Utc>,
    lease: Duration,
    limit: u32,
    cipher: &FieldCipher,
) -> StoreResult<Vec<Message>> {
    // One writer: selecting and marking in one statement cannot interleave.
    let claimed = c
        .prepare_cached(&format!(
            "UPDATE outbox SET claimed_by = ?1, claimed_until = ?2
             WHERE id IN (SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?3
                          AND (claimed_until IS NULL OR claimed_until < ?3) ORDER BY next_attempt_at, id LIMIT ?4)
             RETURNING {MESSAGE_COLS}"
        ))
        .map_err(backend)?
        .query_map(params![node, ts(now + lease), ts(now), limit], message)
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    claimed.into_iter().map(|m| decrypted(m, cipher)).collect()
}

pub fn finish(c: &Connection, id: i64, node: &str, outcome: &SendOutcome, now: DateTime<Utc>) -> StoreResult<bool> {
    let (state, next, error, provider, sent) = match outcome {
        SendOutcome::Sent { provider_id } => ("sent", None, None, provider_id.clone(), Some(ts(now))),
        SendOutcome::Retry { at, error } => ("pending", Some(ts(*at)), Some(error.clone()), None, None),
        SendOutcome::Failed { error } => ("failed", None, Some(error.clone()), None, None),
    };
    let n = c
        .prepare_cached(
            "UPDATE outbox SET state = ?3, attempts = attempts + 1, next_attempt_at = ?4,
                    last_error = COALESCE(?5, last_error), provider_id = COALESCE(?6, provider_id),
                    sent_at = COALESCE(?7, sent_at), claimed_by = NULL, claimed_until = NULL
             WHERE id = ?1 AND claimed_by = ?2 AND state = 'pending'",
        )
        .map_err(backend)?
        .execute(params![id, node, state, next, error, provider, sent])
        .map_err(backend)?;
    Ok(n == 1)
}

pub fn receipt(
    c: &Connection,
    provider_id: &str,
    delivered: bool,
    detail: Option<String>,
    now: DateTime<Utc>,
) -> StoreResult<Option<TicketId>> {
    let state = if delivered { "delivered" } else { "failed" };
    c.prepare_cached(
        "UPDATE outbox SET state = ?2, delivered_at = CASE WHEN ?2 = 'delivered' THEN ?3 ELSE delivered_at END,
                last_error = COALESCE(?4, last_error)
         WHERE provider_id = ?1 AND state IN ('sent', 'delivered', 'failed') RETURNING ticket_id",
    )
    .map_err(backend)?
    .query_row(params![provider_id, state, ts(now), detail], |r| r.get::<_, Option<i64>>(0))
    .optional()
    .map_err(backend)
    .map(|o| o.flatten().map(TicketId))
}

pub fn messages(c: &Connection, ticket: TicketId, cipher: &FieldCipher) -> StoreResult<Vec<Message>> {
    let got = c
        .prepare_cached(&format!("SELECT {MESSAGE_COLS} FROM outbox WHERE ticket_id = ?1 ORDER BY id"))
        .map_err(backend)?
        .query_map([ticket.0], message)
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    got.into_iter().map(|m| decrypted(m, cipher)).collect()
}

pub fn visits(c: &Connection, f: &VisitFilter) -> StoreResult<Page<VisitRow>> {
    let cond = "(?1 IS NULL OR v.state = ?1) AND (?2 IS NULL OR v.method = ?2) AND (?3 IS NULL OR v.team_id = ?3)";
    let args = params![f.state, f.method, f.team.map(|t| t.0)];
    let total: i64 = c
        .prepare_cached(&format!("SELECT COUNT(*) FROM visits v WHERE {cond}"))
        .map_err(backend)?
        .query_row(args, |r| r.get(0))
        .map_err(backend)?;
    let offset = i64::from(f.page.saturating_sub(1)) * i64::from(f.per_page);
    let items = c
        .prepare_cached(&format!(
            "SELECT v.ticket_id, t.number, t.type, v.team_id, v.method, v.state, v.attempts, v.resolved_at, v.due_at,
                    v.satisfaction, v.nps, v.visited_at
             FROM visits v JOIN tickets t ON t.id = v.ticket_id WHERE {cond}
             ORDER BY v.due_at, v.ticket_id LIMIT ?4 OFFSET ?5"
        ))
        .map_err(backend)?
        .query_map(params![f.state, f.method, f.team.map(|t| t.0), f.per_page, offset], |r| {
            Ok(VisitRow {
                ticket_id: TicketId(r.get(0)?),
                number: r.get(1)?,
                ticket_type: r.get(2)?,
                team: r.get::<_, Option<i64>>(3)?.map(kefu_domain::TeamId),
                method: r.get(4)?,
                state: r.get(5)?,
                attempts: r.get(6)?,
                resolved_at: parse_ts(&r.get::<_, String>(7)?)?,
                due_at: parse_ts(&r.get::<_, String>(8)?)?,
                satisfaction: r.get(9)?,
                nps: r.get(10)?,
                visited_at: opt_ts(r.get(11)?)?,
            })
        })
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    Ok(Page { items, total, page: f.page, per_page: f.per_page })
}

/// The aggregate of `visit_counts`, shared in text by both backends.
pub const COUNTS_SELECT: &str = "SELECT team_id,
        COUNT(*),
        SUM(CASE WHEN state = 'visited' THEN 1 ELSE 0 END),
        SUM(CASE WHEN state = 'unreachable' THEN 1 ELSE 0 END),
        COUNT(satisfaction),
        COALESCE(SUM(satisfaction), 0),
        SUM(CASE WHEN satisfaction >= ?3 THEN 1 ELSE 0 END),
        COUNT(nps),
        SUM(CASE WHEN nps >= 9 THEN 1 ELSE 0 END),
        SUM(CASE WHEN nps <= 6 THEN 1 ELSE 0 END),
        SUM(CASE WHEN EXISTS (SELECT 1 FROM sla_breaches b WHERE b.ticket_id = visits.ticket_id
                              AND b.kind = 'resolution' AND b.breached_at <= visits.resolved_at) THEN 1 ELSE 0 END)
     FROM visits WHERE resolved_at >= ?1 AND resolved_at < ?2 AND state <> 'cancelled'
     GROUP BY team_id ORDER BY team_id";

pub fn counts(
    c: &Connection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    satisfied_at: u8,
) -> StoreResult<Vec<VisitCounts>> {
    c.prepare_cached(COUNTS_SELECT)
        .map_err(backend)?
        .query_map(params![ts(from), ts(to), satisfied_at], |r| {
            Ok(VisitCounts {
                team: r.get::<_, Option<i64>>(0)?.map(kefu_domain::TeamId),
                resolved: r.get(1)?,
                visited: r.get(2)?,
                unreachable: r.get(3)?,
                rated: r.get(4)?,
                rating_sum: r.get(5)?,
                satisfied: r.get::<_, Option<i64>>(6)?.unwrap_or(0),
                nps_answers: r.get(7)?,
                promoters: r.get::<_, Option<i64>>(8)?.unwrap_or(0),
                detractors: r.get::<_, Option<i64>>(9)?.unwrap_or(0),
                late: r.get::<_, Option<i64>>(10)?.unwrap_or(0),
            })
        })
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)
}

/// The store capabilities kept in this file: OutboxStore.
mod capability {
    use crate::*;

    impl OutboxStore for SqliteStore {
        async fn claim_messages(
            &self,
            node: &str,
            now: DateTime<Utc>,
            lease: chrono::Duration,
            limit: u32,
        ) -> StoreResult<Vec<Message>> {
            let (k, node) = (self.cipher.clone(), node.to_string());
            self.writer.run(move |c| outbox::claim(c, &node, now, lease, limit, &k)).await
        }
        async fn finish_message(
            &self,
            id: i64,
            node: &str,
            outcome: SendOutcome,
            now: DateTime<Utc>,
        ) -> StoreResult<bool> {
            let node = node.to_string();
            self.writer.run(move |c| outbox::finish(c, id, &node, &outcome, now)).await
        }
        async fn message_receipt(
            &self,
            provider_id: &str,
            delivered: bool,
            detail: Option<String>,
            now: DateTime<Utc>,
        ) -> StoreResult<Option<TicketId>> {
            let id = provider_id.to_string();
            self.writer.run(move |c| outbox::receipt(c, &id, delivered, detail, now)).await
        }
        async fn messages(&self, ticket: TicketId) -> StoreResult<Vec<Message>> {
            let k = self.cipher.clone();
            self.read(move |c| outbox::messages(c, ticket, &k)).await
        }
        async fn visits(&self, filter: VisitFilter) -> StoreResult<Page<VisitRow>> {
            self.read(move |c| outbox::visits(c, &filter)).await
        }
        async fn visit_counts(
            &self,
            from: DateTime<Utc>,
            to: DateTime<Utc>,
            satisfied_at: u8,
        ) -> StoreResult<Vec<VisitCounts>> {
            self.read(move |c| outbox::counts(c, from, to, satisfied_at)).await
        }
    }
}
