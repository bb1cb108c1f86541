//! Major incidents (IncidentStore) in PostgreSQL.

use crate::pg;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use kefu_domain::UserId;
use kefu_domain::incident_record::{IncidentEvent, number};
use kefu_store::crypto::FieldCipher;
use kefu_store::seal::seal_text;
use kefu_store::{ChangeRecord, Dismissal, NoticeProgress, NoticeTarget, Register, StoreError, StoreResult};
use serde_json::Value;

fn decode<T: Register>(raw: String) -> StoreResult<T> {
    serde_json::from_str(&raw).map_err(|e| StoreError::Backend(format!("{} document: {e}", T::TABLE)))
}

fn doc<T: Register>(r: &T) -> StoreResult<String> {
    serde_json::to_string(r).map_err(|e| StoreError::Backend(e.to_string()))
}

async fn write_event<T: Register>(c: &impl GenericClient, e: &IncidentEvent) -> StoreResult<()> {
    c.execute(
        &format!(
            "INSERT INTO {} (incident_id, seq, at, actor, actor_name, action, data, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            T::EVENTS
        ),
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

pub async fn create<T: Register>(
    client: &mut deadpool_postgres::Client,
    r: T,
    actor_name: &str,
    data: Value,
) -> StoreResult<T> {
    let row = r.row();
    let day = kefu_domain::time::shanghai_date(row.created_at);
    let prefix = number(T::PREFIX, day, 0);
    let prefix = prefix[..prefix.len() - 3].to_string();
    // Two nodes recording in the same second: the second meets the
    // first's number and takes the next.
    for _ in 0..5 {
        let tx = client.transaction().await.map_err(pg)?;
        let n: i64 = tx
            .query_one(&format!("SELECT COUNT(*) + 1 FROM {} WHERE number LIKE $1 || '%'", T::TABLE), &[&prefix])
            .await
            .map_err(pg)?
            .get(0);
        let inserted = tx
            .query_one(
                &format!(
                    "INSERT INTO {} (number, state, active, started_at, doc, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, '{{}}', $5, $5) RETURNING id",
                    T::TABLE
                ),
                &[&number(T::PREFIX, day, n), &row.state, &row.active, &row.started_at, &row.created_at],
            )
            .await
            .map_err(pg);
        let id: i64 = match inserted {
            Ok(row) => row.get(0),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e),
        };
        let mut r = r.clone();
        r.set_identity(id, number(T::PREFIX, day, n));
        tx.execute(&format!("UPDATE {} SET doc = $2 WHERE id = $1", T::TABLE), &[&id, &doc(&r)?]).await.map_err(pg)?;
        let e = IncidentEvent::seal(id, None, row.created_at, Some(row.created_by), actor_name, "create", data);
        write_event::<T>(&tx, &e).await?;
        tx.commit().await.map_err(pg)?;
        return Ok(r);
    }
    Err(StoreError::Conflict { constraint: format!("{}_number_key", T::TABLE) })
}

pub async fn change<T: Register>(client: &mut deadpool_postgres::Client, op: ChangeRecord<T>) -> StoreResult<T> {
    let tx = client.transaction().await.map_err(pg)?;
    let found =
        tx.query_opt(&format!("SELECT doc FROM {} WHERE id = $1 FOR UPDATE", T::TABLE), &[&op.id]).await.map_err(pg)?;
    let current: T = decode(found.ok_or(StoreError::NotFound)?.get(0))?;
    let (mut next, action, data) = (op.decide)(&current)?;
    let (id, number) = current.identity();
    next.set_identity(id, number);
    next.touch(op.now);
    let row = next.row();
    tx.execute(
        &format!(
            "UPDATE {} SET state = $2, active = $3, started_at = $4, doc = $5, updated_at = $6 WHERE id = $1",
            T::TABLE
        ),
        &[&id, &row.state, &row.active, &row.started_at, &doc(&next)?, &row.updated_at],
    )
    .await
    .map_err(pg)?;
    let last = tx
        .query_one(
            &format!("SELECT seq, hash FROM {} WHERE incident_id = $1 ORDER BY seq DESC LIMIT 1", T::EVENTS),
            &[&op.id],
        )
        .await
        .map_err(pg)?;
    let (seq, hash): (i64, String) = (last.get(0), last.get(1));
    let e = IncidentEvent::seal(op.id, Some((seq, &hash)), op.now, op.actor, &op.actor_name, &action, data);
    write_event::<T>(&tx, &e).await?;
    tx.commit().await.map_err(pg)?;
    Ok(next)
}

pub async fn one<T: Register>(c: &impl GenericClient, id: i64) -> StoreResult<Option<T>> {
    let row = c.query_opt(&format!("SELECT doc FROM {} WHERE id = $1", T::TABLE), &[&id]).await.map_err(pg)?;
    row.map(|r| decode(r.get(0))).transpose()
}

pub async fn list<T: Register>(c: &impl GenericClient, active_only: bool, limit: u32) -> StoreResult<Vec<T>> {
    let rows = c
        .query(
            &format!("SELECT doc FROM {} WHERE (NOT $1 OR active) ORDER BY id DESC LIMIT $2", T::TABLE),
            &[&active_only, &i64::from(limit)],
        )
        .await
        .map_err(pg)?;
    rows.into_iter().map(|r| decode(r.get(0))).collect()
}

pub async fn events<T: Register>(c: &impl GenericClient, id: i64) -> StoreResult<Vec<IncidentEvent>> {
    let rows = c
        .query(
            &format!(
                "SELECT incident_id, seq, at, actor, actor_name, action, data, prev_hash, hash FROM {}
                 WHERE incident_id = $1 ORDER BY seq",
                T::EVENTS
            ),
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

pub async fn dismiss(c: &impl GenericClient, d: &Dismissal) -> StoreResult<()> {
    c.execute(
        "INSERT INTO spike_dismissals (bucket, until_at, reason, dismissed_by, dismissed_at) VALUES ($1, $2, $3, $4, $5)",
        &[&d.bucket, &d.until, &d.reason, &d.by.0, &d.at],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

pub async fn dismissals(c: &impl GenericClient, now: DateTime<Utc>) -> StoreResult<Vec<Dismissal>> {
    let rows = c
        .query(
            "SELECT bucket, until_at, reason, dismissed_by, dismissed_at FROM spike_dismissals WHERE until_at > $1 ORDER BY dismissed_at",
            &[&now],
        )
        .await
        .map_err(pg)?;
    Ok(rows
        .iter()
        .map(|r| Dismissal { bucket: r.get(0), until: r.get(1), reason: r.get(2), by: UserId(r.get(3)), at: r.get(4) })
        .collect())
}

/// The store capabilities kept in this file: IncidentStore, SecurityStore.
mod capability {
    use crate::*;
    use kefu_domain::incident_record::{Incident, IncidentEvent};
    use kefu_domain::security::SecurityIncident;
    use kefu_store::{ChangeIncident, ChangeRecord, IncidentStore, NoticeProgress, NoticeTarget, SecurityStore};
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
            incidents::events::<Incident>(&self.client().await?, id).await
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
        async fn dismiss_spike(&self, d: kefu_store::Dismissal) -> StoreResult<()> {
            incidents::dismiss(&self.client().await?, &d).await
        }
        async fn spike_dismissals(&self, now: DateTime<Utc>) -> StoreResult<Vec<kefu_store::Dismissal>> {
            incidents::dismissals(&self.client().await?, now).await
        }
    }

    impl SecurityStore for PgStore {
        async fn create_security_incident(
            &self,
            r: SecurityIncident,
            actor_name: String,
            data: Value,
        ) -> StoreResult<SecurityIncident> {
            incidents::create(&mut self.client().await?, r, &actor_name, data).await
        }
        async fn change_security_incident(&self, op: ChangeRecord<SecurityIncident>) -> StoreResult<SecurityIncident> {
            incidents::change(&mut self.client().await?, op).await
        }
        async fn security_incident(&self, id: i64) -> StoreResult<Option<SecurityIncident>> {
            incidents::one(&self.client().await?, id).await
        }
        async fn security_incidents(&self, limit: u32) -> StoreResult<Vec<SecurityIncident>> {
            incidents::list(&self.client().await?, false, limit).await
        }
        async fn security_events(&self, id: i64) -> StoreResult<Vec<IncidentEvent>> {
            incidents::events::<SecurityIncident>(&self.client().await?, id).await
        }
    }
}
