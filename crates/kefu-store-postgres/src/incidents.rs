//! Major incidents (IncidentStore) in PostgreSQL.

use crate::pg;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use kefu_domain::UserId;
use kefu_domain::incident_record::{Incident, IncidentEvent, number};
use kefu_store::crypto::FieldCipher;
use kefu_store::seal::seal_text;
use kefu_store::{ChangeIncident, NoticeProgress, NoticeTarget, StoreError, StoreResult};
use serde_json::Value;

fn decode(raw: String) -> StoreResult<Incident> {
    serde_json::from_str(&raw).map_err(|e| StoreError::Backend(format!("incident document: {e}")))
}

fn doc(i: &Incident) -> StoreResult<String> {
    serde_json::to_string(i).map_err(|e| StoreError::Backend(e.to_string()))
}

async fn write_event(c: &impl GenericClient, e: &IncidentEvent) -> StoreResult<()> {
    c.execute(
        "INSERT INTO incident_events (incident_id, seq, at, actor, actor_name, action, data, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &e.incident_id,
            &e.seq,
            &e.at,
            &e.actor.map(|a| a.0),
            &e.actor_name,
            &e.action,
            &e.data.to_string(),
            &e.prev_hash,
            &e.hash,
        ],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

pub async fn create(
    client: &mut deadpool_postgres::Client,
    i: Incident,
    actor_name: &str,
    data: Value,
) -> StoreResult<Incident> {
    let day = kefu_domain::time::shanghai_date(i.created_at);
    let prefix = number(day, 0);
    let prefix = prefix[..prefix.len() - 3].to_string();
    // Two nodes declaring incidents in the same second: the second meets
    // the first's number and takes the next.
    for _ in 0..5 {
        let tx = client.transaction().await.map_err(pg)?;
        let n: i64 = tx
            .query_one("SELECT COUNT(*) + 1 FROM incidents WHERE number LIKE $1 || '%'", &[&prefix])
            .await
            .map_err(pg)?
            .get(0);
        let inserted = tx
            .query_one(
                "INSERT INTO incidents (number, state, active, started_at, doc, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, '{}', $5, $5) RETURNING id",
                &[&number(day, n), &i.state.code(), &i.state.active(), &i.started_at, &i.created_at],
            )
            .await
            .map_err(pg);
        let id: i64 = match inserted {
            Ok(row) => row.get(0),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e),
        };
        let i = Incident { id, number: number(day, n), ..i };
        tx.execute("UPDATE incidents SET doc = $2 WHERE id = $1", &[&id, &doc(&i)?]).await.map_err(pg)?;
        let e = IncidentEvent::seal(id, None, i.created_at, Some(i.created_by), actor_name, "create", data);
        write_event(&tx, &e).await?;
        tx.commit().await.map_err(pg)?;
        return Ok(i);
    }
    Err(StoreError::Conflict { constraint: "incidents_number_key".into() })
}

pub async fn change(client: &mut deadpool_postgres::Client, op: ChangeIncident) -> StoreResult<Incident> {
    let tx = client.transaction().await.map_err(pg)?;
    let row = tx.query_opt("SELECT doc FROM incidents WHERE id = $1 FOR UPDATE", &[&op.id]).await.map_err(pg)?;
    let current = decode(row.ok_or(StoreError::NotFound)?.get(0))?;
    let (mut next, action, data) = (op.decide)(&current)?;
    next.id = current.id;
    next.number = current.number.clone();
    next.updated_at = op.now;
    tx.execute(
        "UPDATE incidents SET state = $2, active = $3, started_at = $4, doc = $5, updated_at = $6 WHERE id = $1",
        &[&next.id, &next.state.code(), &next.state.active(), &next.started_at, &doc(&next)?, &next.updated_at],
    )
    .await
    .map_err(pg)?;
    let last = tx
        .query_one("SELECT seq, hash FROM incident_events WHERE incident_id = $1 ORDER BY seq DESC LIMIT 1", &[&op.id])
        .await
        .map_err(pg)?;
    let (seq, hash): (i64, String) = (last.get(0), last.get(1));
    let e = IncidentEvent::seal(op.id, Some((seq, &hash)), op.now, op.actor, &op.actor_name, &action, data);
    write_event(&tx, &e).await?;
    tx.commit().await.map_err(pg)?;
    Ok(next)
}

pub async fn one(c: &impl GenericClient, id: i64) -> StoreResult<Option<Incident>> {
    let row = c.query_opt("SELECT doc FROM incidents WHERE id = $1", &[&id]).await.map_err(pg)?;
    row.map(|r| decode(r.get(0))).transpose()
}

pub async fn list(c: &impl GenericClient, active_only: bool, limit: u32) -> StoreResult<Vec<Incident>> {
    let rows = c
        .query(
            "SELECT doc FROM incidents WHERE (NOT $1 OR active) ORDER BY id DESC LIMIT $2",
            &[&active_only, &i64::from(limit)],
        )
        .await
        .map_err(pg)?;
    rows.into_iter().map(|r| decode(r.get(0))).collect()
}

pub async fn events(c: &impl GenericClient, id: i64) -> StoreResult<Vec<IncidentEvent>> {
    let rows = c
        .query(
            "SELECT incident_id, seq, at, actor, actor_name, action, data, prev_hash, hash FROM incident_events
             WHERE incident_id = $1 ORDER BY seq",
            &[&id],
        )
        .await
        .map_err(pg)?;
    Ok(rows
        .iter()
        .map(|r| IncidentEvent {
            incident_id: r.get(0),
            seq: r.get(1),
            at: r.get(2),
            actor: r.get::<_, Option<i64>>(3).map(UserId),
            actor_name: r.get(4),
            action: r.get(5),
            data: serde_json::from_str(r.get::<_, &str>(6)).unwrap_or(Value::Null),
            prev_hash: r.get(7),
            hash: r.get(8),
        })
        .collect())
}

pub async fn by_status(c: &impl GenericClient, id: i64) -> StoreResult<Vec<(String, i64)>> {
    let rows = c
        .query("SELECT status, COUNT(*) FROM tickets WHERE incident_id = $1 GROUP BY status ORDER BY status", &[&id])
        .await
        .map_err(pg)?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

pub async fn record_notices(
    client: &mut deadpool_postgres::Client,
    id: i64,
    notice: &str,
    targets: &[NoticeTarget],
    cipher: &FieldCipher,
    now: DateTime<Utc>,
) -> StoreResult<u32> {
    // In customer order: two nodes sending overlapping batches lock the
    // same keys in the same order and cannot deadlock.
    let mut targets: Vec<&NoticeTarget> = targets.iter().collect();
    targets.sort_by_key(|t| (t.customer.0, t.ticket.0));
    let tx = client.transaction().await.map_err(pg)?;
    let mut new = 0;
    for t in targets {
        // The row is the claim: of two nodes sending the same customer the
        // same notice, one inserts it and queues the message; the other
        // waits on the row's key, then finds it taken.
        let claimed = tx
            .query_opt(
                "INSERT INTO incident_notices (incident_id, notice, customer_id, ticket_id, outbox_id, created_at)
                 VALUES ($1, $2, $3, $4, 0, $5) ON CONFLICT DO NOTHING RETURNING 1",
                &[&id, &notice, &t.customer.0, &t.ticket.0, &now],
            )
            .await
            .map_err(pg)?;
        if claimed.is_none() {
            continue;
        }
        let m = &t.message;
        let (subject, body) = (seal_text(cipher, &m.subject), seal_text(cipher, &m.body));
        let outbox: i64 = tx
            .query_one(
                "INSERT INTO outbox (ticket_id, kind, channel, recipient, subject, body, state, next_attempt_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7) RETURNING id",
                &[&t.ticket.0, &m.kind, &m.channel, &cipher.encrypt(&m.recipient), &subject, &body, &now],
            )
            .await
            .map_err(pg)?
            .get(0);
        tx.execute(
            "UPDATE incident_notices SET outbox_id = $4 WHERE incident_id = $1 AND notice = $2 AND customer_id = $3",
            &[&id, &notice, &t.customer.0, &outbox],
        )
        .await
        .map_err(pg)?;
        new += 1;
    }
    tx.commit().await.map_err(pg)?;
    Ok(new)
}

pub async fn progress(c: &impl GenericClient, id: i64) -> StoreResult<Vec<NoticeProgress>> {
    let rows = c
        .query(
            "SELECT n.notice, COALESCE(o.state, 'pending'), COUNT(*) FROM incident_notices n
             LEFT JOIN outbox o ON o.id = n.outbox_id WHERE n.incident_id = $1 GROUP BY n.notice, o.state",
            &[&id],
        )
        .await
        .map_err(pg)?;
    Ok(kefu_store::fold_progress(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect()))
}

/// The store capabilities kept in this file: IncidentStore.
mod capability {
    use crate::*;
    use kefu_domain::incident_record::{Incident, IncidentEvent};
    use kefu_store::{ChangeIncident, IncidentStore, NoticeProgress, NoticeTarget};
    use serde_json::Value;

    impl IncidentStore for PgStore {
        async fn create_incident(&self, i: Incident, actor_name: String, data: Value) -> StoreResult<Incident> {
            incidents::create(&mut self.client().await?, i, &actor_name, data).await
        }
        async fn change_incident(&self, op: ChangeIncident) -> StoreResult<Incident> {
            incidents::change(&mut self.client().await?, op).await
        }
        async fn incident(&self, id: i64) -> StoreResult<Option<Incident>> {
            incidents::one(&self.client().await?, id).await
        }
        async fn incidents(&self, active_only: bool, limit: u32) -> StoreResult<Vec<Incident>> {
            incidents::list(&self.client().await?, active_only, limit).await
        }
        async fn incident_events(&self, id: i64) -> StoreResult<Vec<IncidentEvent>> {
            incidents::events(&self.client().await?, id).await
        }
        async fn children_by_status(&self, id: i64) -> StoreResult<Vec<(String, i64)>> {
            incidents::by_status(&self.client().await?, id).await
        }
        async fn record_notices(
            &self,
            id: i64,
            notice: String,
            targets: Vec<NoticeTarget>,
            now: DateTime<Utc>,
        ) -> StoreResult<u32> {
            incidents::record_notices(&mut self.client().await?, id, &notice, &targets, &self.cipher, now).await
        }
        async fn notice_progress(&self, id: i64) -> StoreResult<Vec<NoticeProgress>> {
            incidents::progress(&self.client().await?, id).await
        }
    }
}
