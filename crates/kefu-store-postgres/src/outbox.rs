//! The outbox of customer messages and the return-visit projection.

use crate::pg;
use chrono::{DateTime, Duration, Utc};
use deadpool_postgres::GenericClient;
use kefu_domain::ticket::Ticket;
use kefu_domain::{TeamId, TicketId};
use kefu_store::crypto::FieldCipher;
use kefu_store::seal::{open_text, seal_text};
use kefu_store::{Message, NewMessage, Page, SendOutcome, StoreResult, VisitCounts, VisitFilter, VisitRow};
use tokio_postgres::Row;

pub async fn insert_messages(
    c: &impl GenericClient,
    ticket: Option<TicketId>,
    messages: &[NewMessage],
    cipher: &FieldCipher,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    for m in messages {
        let recipient = cipher.encrypt(&m.recipient);
        let (subject, body) = (seal_text(cipher, &m.subject), seal_text(cipher, &m.body));
        c.execute(
            "INSERT INTO outbox (ticket_id, kind, channel, recipient, subject, body, state, next_attempt_at, created_at, in_reply_to)
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7, $8)",
            &[&ticket.map(|t| t.0), &m.kind, &m.channel, &recipient, &subject, &body, &now, &m.in_reply_to],
        )
        .await
        .map_err(pg)?;
    }
    Ok(())
}

/// Keeps the `visits` row in step with the ticket's current visit task.
pub async fn sync_visit(c: &impl GenericClient, before: &Ticket, after: &Ticket) -> StoreResult<()> {
    let (old, new) = (&before.customer_loop.visit, &after.customer_loop.visit);
    if old == new && before.team == after.team {
        return Ok(());
    }
    let Some(v) = new else {
        c.execute("DELETE FROM visits WHERE ticket_id = $1", &[&after.id.0]).await.map_err(pg)?;
        return Ok(());
    };
    c.execute(
        "INSERT INTO visits (ticket_id, team_id, method, state, attempts, resolved_at, due_at, satisfaction, nps, visited_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (ticket_id) DO UPDATE SET team_id = excluded.team_id, method = excluded.method,
            state = excluded.state, attempts = excluded.attempts, resolved_at = excluded.resolved_at,
            due_at = excluded.due_at, satisfaction = excluded.satisfaction, nps = excluded.nps,
            visited_at = excluded.visited_at",
        &[
            &after.id.0,
            &after.team.map(|t| t.0),
            &v.method,
            &v.state.as_str(),
            &i64::from(v.attempts),
            &v.resolved_at,
            &v.due_at,
            &v.satisfaction.map(i64::from),
            &v.nps.map(i64::from),
            &v.visited_at,
        ],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

const MESSAGE_COLS: &str = "id, ticket_id, kind, channel, recipient, subject, body, state, attempts, next_attempt_at, \
                            last_error, provider_id, created_at, sent_at, delivered_at, in_reply_to";

fn message(r: &Row, cipher: &FieldCipher) -> StoreResult<Message> {
    Ok(Message {
        id: r.get(0),
        ticket_id: r.get::<_, Option<i64>>(1).map(TicketId),
        kind: r.get(2),
        channel: r.get(3),
        recipient: cipher.decrypt(r.get(4))?,
        subject: open_text(cipher, r.get(5))?,
        body: open_text(cipher, r.get(6))?,
        state: r.get(7),
        attempts: r.get::<_, i64>(8) as u32,
        next_attempt_at: r.get(9),
        last_error: r.get(10),
        provider_id: r.get(11),
        created_at: r.get(12),
        sent_at: r.get(13),
        delivered_at: r.get(14),
        in_reply_to: r.get(15),
    })
}

/// Claims due messages; rows another node is claiming right now are
/// skipped, not waited for.
pub async fn claim(
    c: &impl GenericClient,
    node: &str,
    now: DateTime<Utc>,
    lease: Duration,
    limit: u32,
    cipher: &FieldCipher,
) -> StoreResult<Vec<Message>> {
    let rows = c
        .query(
            &format!(
                "UPDATE outbox SET claimed_by = $1, claimed_until = $2
                 WHERE id IN (SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= $3
                              AND (claimed_until IS NULL OR claimed_until < $3)
                              ORDER BY next_attempt_at, id LIMIT $4 FOR UPDATE SKIP LOCKED)
                 RETURNING {MESSAGE_COLS}"
            ),
            &[&node, &(now + lease), &now, &i64::from(limit)],
        )
        .await
        .map_err(pg)?;
    let mut out: Vec<Message> = rows.iter().map(|r| message(r, cipher)).collect::<StoreResult<_>>()?;
    out.sort_by_key(|m| m.id);
    Ok(out)
}

pub async fn finish(
    c: &impl GenericClient,
    id: i64,
    node: &str,
    outcome: &SendOutcome,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let (state, next, error, provider, sent) = match outcome {
        SendOutcome::Sent { provider_id } => ("sent", None, None, provider_id.clone(), Some(now)),
        SendOutcome::Retry { at, error } => ("pending", Some(*at), Some(error.clone()), None, None),
        SendOutcome::Failed { error } => ("failed", None, Some(error.clone()), None, None),
    };
    let n = c
        .execute(
            "UPDATE outbox SET state = $3, attempts = attempts + 1, next_attempt_at = $4,
                    last_error = COALESCE($5, last_error), provider_id = COALESCE($6, provider_id),
                    sent_at = COALESCE($7, sent_at), claimed_by = NULL, claimed_until = NULL
             WHERE id = $1 AND claimed_by = $2 AND state = 'pending'",
            &[&id, &node, &state, &next, &error, &provider, &sent],
        )
        .await
        .map_err(pg)?;
    Ok(n == 1)
}

pub async fn receipt(
    c: &impl GenericClient,
    provider_id: &str,
    delivered: bool,
    detail: Option<String>,
    now: DateTime<Utc>,
) -> StoreResult<Option<TicketId>> {
    let state = if delivered { "delivered" } else { "failed" };
    let row = c
        .query_opt(
            "UPDATE outbox SET state = $2, delivered_at = CASE WHEN $2 = 'delivered' THEN $3 ELSE delivered_at END,
                    last_error = COALESCE($4, last_error)
             WHERE provider_id = $1 AND state IN ('sent', 'delivered', 'failed') RETURNING ticket_id",
            &[&provider_id, &state, &now, &detail],
        )
        .await
        .map_err(pg)?;
    Ok(row.and_then(|r| r.get::<_, Option<i64>>(0)).map(TicketId))
}

pub async fn messages(c: &impl GenericClient, ticket: TicketId, cipher: &FieldCipher) -> StoreResult<Vec<Message>> {
    let rows = c
        .query(&format!("SELECT {MESSAGE_COLS} FROM outbox WHERE ticket_id = $1 ORDER BY id"), &[&ticket.0])
        .await
        .map_err(pg)?;
    rows.iter().map(|r| message(r, cipher)).collect()
}

pub async fn visits(c: &impl GenericClient, f: &VisitFilter) -> StoreResult<Page<VisitRow>> {
    let cond = "($1::TEXT IS NULL OR v.state = $1) AND ($2::TEXT IS NULL OR v.method = $2) \
                AND ($3::BIGINT IS NULL OR v.team_id = $3)";
    let team = f.team.map(|t| t.0);
    let total: i64 = c
        .query_one(&format!("SELECT COUNT(*) FROM visits v WHERE {cond}"), &[&f.state, &f.method, &team])
        .await
        .map_err(pg)?
        .get(0);
    let offset = i64::from(f.page.saturating_sub(1)) * i64::from(f.per_page);
    let rows = c
        .query(
            &format!(
                "SELECT v.ticket_id, t.number, t.type, v.team_id, v.method, v.state, v.attempts, v.resolved_at,
                        v.due_at, v.satisfaction, v.nps, v.visited_at
                 FROM visits v JOIN tickets t ON t.id = v.ticket_id WHERE {cond}
                 ORDER BY v.due_at, v.ticket_id LIMIT $4 OFFSET $5"
            ),
            &[&f.state, &f.method, &team, &i64::from(f.per_page), &offset],
        )
        .await
        .map_err(pg)?;
    let items = rows
        .iter()
        .map(|r| VisitRow {
            ticket_id: TicketId(r.get(0)),
            number: r.get(1),
            ticket_type: r.get(2),
            team: r.get::<_, Option<i64>>(3).map(TeamId),
            method: r.get(4),
            state: r.get(5),
            attempts: r.get::<_, i64>(6) as u32,
            resolved_at: r.get(7),
            due_at: r.get(8),
            satisfaction: r.get::<_, Option<i64>>(9).map(|v| v as u8),
            nps: r.get::<_, Option<i64>>(10).map(|v| v as u8),
            visited_at: r.get(11),
        })
        .collect();
    Ok(Page { items, total, page: f.page, per_page: f.per_page })
}

pub async fn counts(
    c: &impl GenericClient,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    satisfied_at: u8,
) -> StoreResult<Vec<VisitCounts>> {
    let sql = "SELECT team_id, COUNT(*),
            COUNT(*) FILTER (WHERE state = 'visited'),
            COUNT(*) FILTER (WHERE state = 'unreachable'),
            COUNT(satisfaction), COALESCE(SUM(satisfaction), 0)::BIGINT,
            COUNT(*) FILTER (WHERE satisfaction >= $3),
            COUNT(nps),
            COUNT(*) FILTER (WHERE nps >= 9),
            COUNT(*) FILTER (WHERE nps <= 6),
            COUNT(*) FILTER (WHERE EXISTS (SELECT 1 FROM sla_breaches b WHERE b.ticket_id = visits.ticket_id
                                           AND b.kind = 'resolution' AND b.breached_at <= visits.resolved_at))
         FROM visits WHERE resolved_at >= $1 AND resolved_at < $2 AND state <> 'cancelled'
         GROUP BY team_id ORDER BY team_id NULLS FIRST";
    let rows = c.query(sql, &[&from, &to, &i64::from(satisfied_at)]).await.map_err(pg)?;
    Ok(rows
        .iter()
        .map(|r| VisitCounts {
            team: r.get::<_, Option<i64>>(0).map(TeamId),
            resolved: r.get(1),
            visited: r.get(2),
            unreachable: r.get(3),
            rated: r.get(4),
            rating_sum: r.get(5),
            satisfied: r.get(6),
            nps_answers: r.get(7),
            promoters: r.get(8),
            detractors: r.get(9),
            late: r.get(10),
        })
        .collect())
}

/// The store capabilities kept in this file: OutboxStore.
mod capability {
    use crate::*;

    impl OutboxStore for PgStore {
        async fn claim_messages(
            &self,
            node: &str,
            now: DateTime<Utc>,
            lease: chrono::Duration,
            limit: u32,
        ) -> StoreResult<Vec<Message>> {
            outbox::claim(&self.client().await?, node, now, lease, limit, &self.cipher).await
        }
        async fn finish_message(
            &self,
            id: i64,
            node: &str,
            outcome: SendOutcome,
            now: DateTime<Utc>,
        ) -> StoreResult<bool> {
            outbox::finish(&self.client().await?, id, node, &outcome, now).await
        }
        async fn message_receipt(
            &self,
            provider_id: &str,
            delivered: bool,
            detail: Option<String>,
            now: DateTime<Utc>,
        ) -> StoreResult<Option<TicketId>> {
            outbox::receipt(&self.client().await?, provider_id, delivered, detail, now).await
        }
        async fn messages(&self, ticket: TicketId) -> StoreResult<Vec<Message>> {
            outbox::messages(&self.client().await?, ticket, &self.cipher).await
        }
        async fn visits(&self, filter: VisitFilter) -> StoreResult<Page<VisitRow>> {
            outbox::visits(&self.client().await?, &filter).await
        }
        async fn visit_counts(
            &self,
            from: DateTime<Utc>,
            to: DateTime<Utc>,
            satisfied_at: u8,
        ) -> StoreResult<Vec<VisitCounts>> {
            outbox::counts(&self.client().await?, from, to, satisfied_at).await
        }
    }
}
