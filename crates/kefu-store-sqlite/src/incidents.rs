//! Major incidents (IncidentStore) in SQLite.

use crate::backend;
use crate::rows::{parse_ts, ts};
use chrono::{DateTime, Utc};
use kefu_domain::incident_record::{IncidentEvent, number};
use kefu_store::crypto::FieldCipher;
use kefu_store::{ChangeRecord, Dismissal, NoticeProgress, NoticeTarget, Register, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

fn decode<T: Register>(raw: String) -> StoreResult<T> {
    serde_json::from_str(&raw).map_err(|e| StoreError::Backend(format!("{} document: {e}", T::TABLE)))
}

fn write_event<T: Register>(c: &Connection, e: &IncidentEvent) -> StoreResult<()> {
    c.execute(
        &format!(
            "INSERT INTO {} (incident_id, seq, at, actor, actor_name, action, data, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            T::EVENTS
        ),
        params![
            e.incident_id,
            e.seq,
            ts(e.at),
            e.actor.map(|a| a.0),
            e.actor_name,
            e.action,
            e.data.to_string(),
            e.prev_hash,
            e.hash
        ],
    )
    .map_err(backend)?;
    Ok(())
}

/// Writes a new record: number of the Shanghai day (the writer is single,
/// so the count cannot race) and the first event of its chain.
pub fn create<T: Register>(c: &Connection, mut r: T, actor_name: &str, data: Value) -> StoreResult<T> {
    let row = r.row();
    let day = kefu_domain::time::shanghai_date(row.created_at);
    let prefix = number(T::PREFIX, day, 0);
    let prefix = &prefix[..prefix.len() - 3];
    let n: i64 = c
        .query_row(&format!("SELECT COUNT(*) + 1 FROM {} WHERE number LIKE ?1 || '%'", T::TABLE), [prefix], |r| {
            r.get(0)
        })
        .map_err(backend)?;
    let id: i64 = c
        .query_row(
            &format!(
                "INSERT INTO {} (number, state, active, started_at, doc, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, '{{}}', ?5, ?5) RETURNING id",
                T::TABLE
            ),
            params![number(T::PREFIX, day, n), row.state, row.active, ts(row.started_at), ts(row.created_at)],
            |r| r.get(0),
        )
        .map_err(backend)?;
    r.set_identity(id, number(T::PREFIX, day, n));
    save(c, &r)?;
    let first = IncidentEvent::seal(id, None, row.created_at, Some(row.created_by), actor_name, "create", data);
    write_event::<T>(c, &first)?;
    Ok(r)
}

fn save<T: Register>(c: &Connection, r: &T) -> StoreResult<()> {
    let doc = serde_json::to_string(r).map_err(|e| StoreError::Backend(e.to_string()))?;
    let row = r.row();
    c.execute(
        &format!(
            "UPDATE {} SET state = ?2, active = ?3, started_at = ?4, doc = ?5, updated_at = ?6 WHERE id = ?1",
            T::TABLE
        ),
        params![r.identity().0, row.state, row.active, ts(row.started_at), doc, ts(row.updated_at)],
    )
    .map_err(backend)?;
    Ok(())
}

pub fn change<T: Register>(c: &Connection, op: ChangeRecord<T>) -> StoreResult<T> {
    let current: T = one(c, op.id)?.ok_or(StoreError::NotFound)?;
    let (mut next, action, data) = (op.decide)(&current)?;
    let (id, number) = current.identity();
    next.set_identity(id, number);
    next.touch(op.now);
    save(c, &next)?;
    let last: (i64, String) = c
        .query_row(
            &format!("SELECT seq, hash FROM {} WHERE incident_id = ?1 ORDER BY seq DESC LIMIT 1", T::EVENTS),
            [op.id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(backend)?;
    let e = IncidentEvent::seal(op.id, Some((last.0, &last.1)), op.now, op.actor, &op.actor_name, &action, data);
    write_event::<T>(c, &e)?;
    Ok(next)
}

pub fn one<T: Register>(c: &Connection, id: i64) -> StoreResult<Option<T>> {
    c.query_row(&format!("SELECT doc FROM {} WHERE id = ?1", T::TABLE), [id], |r| r.get::<_, String>(0))
        .optional()
        .map_err(backend)?
        .map(decode)
        .transpose()
}

pub fn list<T: Register>(c: &Connection, active_only: bool, limit: u32) -> StoreResult<Vec<T>> {
    c.prepare_cached(&format!("SELECT doc FROM {} WHERE (?1 = 0 OR active = 1) ORDER BY id DESC LIMIT ?2", T::TABLE))
        .map_err(backend)?
        .query_map(params![active_only, limit], |r| r.get::<_, String>(0))
        .map_err(backend)?
        .map(|r| r.map_err(backend).and_then(decode))
        .collect()
}

pub fn events<T: Register>(c: &Connection, id: i64) -> StoreResult<Vec<IncidentEvent>> {
    c.prepare(&format!(
        "SELECT incident_id, seq, at, actor, actor_name, action, data, prev_hash, hash FROM {}
         WHERE incident_id = ?1 ORDER BY seq",
        T::EVENTS
    ))
    .map_err(backend)?
    .query_map([id], |r| {
        Ok(IncidentEvent {
            incident_id: r.get(0)?,
            seq: r.get(1)?,
            at: parse_ts(&r.get::<_, String>(2)?)?,
            actor: r.get::<_, Option<i64>>(3)?.map(kefu_domain::UserId),
            actor_name: r.get(4)?,
            action: r.get(5)?,
            data: serde_json::from_str(&r.get::<_, String>(6)?).unwrap_or(Value::Null),
            prev_hash: r.get(7)?,
            hash: r.get(8)?,
        })
    })
    .map_err(backend)?
    .collect::<Result<_, _>>()
    .map_err(backend)
}

pub fn by_status(c: &Connection, id: i64) -> StoreResult<Vec<(String, i64)>> {
    c.prepare_cached("SELECT status, COUNT(*) FROM tickets WHERE incident_id = ?1 GROUP BY status ORDER BY status")
        .map_err(backend)?
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(backend)?
        .collect::<Result<_, _>>()
        .map_err(backend)
}

pub fn record_notices(
    c: &Connection,
    id: i64,
    notice: &str,
    targets: &[NoticeTarget],
    cipher: &FieldCipher,
    now: DateTime<Utc>,
) -> StoreResult<u32> {
    let mut new = 0;
    for t in targets {
        let inserted = c
            .prepare_cached(
                "INSERT INTO incident_notices (incident_id, notice, customer_id, ticket_id, outbox_id, created_at)
                 VALUES (?1, ?2, ?3, ?4, 0, ?5) ON CONFLICT DO NOTHING",
            )
            .map_err(backend)?
            .execute(params![id, notice, t.customer.0, t.ticket.0, ts(now)])
            .map_err(backend)?;
        if inserted == 0 {
            continue;
        }
        crate::outbox::insert_messages(c, Some(t.ticket), std::slice::from_ref(&t.message), cipher, now)?;
        c.prepare_cached(
            "UPDATE incident_notices SET outbox_id = last_insert_rowid()
             WHERE incident_id = ?1 AND notice = ?2 AND customer_id = ?3",
        )
        .map_err(backend)?
        .execute(params![id, notice, t.customer.0])
        .map_err(backend)?;
        new += 1;
    }
    Ok(new)
}

pub fn progress(c: &Connection, id: i64) -> StoreResult<Vec<NoticeProgress>> {
    let rows: Vec<(String, String, i64)> = c
        .prepare_cached(
            "SELECT n.notice, COALESCE(o.state, 'pending'), COUNT(*) FROM incident_notices n
             LEFT JOIN outbox o ON o.id = n.outbox_id WHERE n.incident_id = ?1 GROUP BY n.notice, o.state",
        )
        .map_err(backend)?
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .map_err(backend)?
        .collect::<Result<_, _>>()
        .map_err(backend)?;
    Ok(kefu_store::fold_progress(rows))
}

pub fn dismiss(c: &Connection, d: &Dismissal) -> StoreResult<()> {
    c.execute(
        "INSERT INTO spike_dismissals (bucket, until_at, reason, dismissed_by, dismissed_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![d.bucket, ts(d.until), d.reason, d.by.0, ts(d.at)],
    )
    .map_err(backend)?;
    Ok(())
}

pub fn dismissals(c: &Connection, now: DateTime<Utc>) -> StoreResult<Vec<Dismissal>> {
    c.prepare_cached(
        "SELECT bucket, until_at, reason, dismissed_by, dismissed_at FROM spike_dismissals WHERE until_at > ?1 ORDER BY dismissed_at",
    )
    .map_err(backend)?
    .query_map([ts(now)], |r| {
        Ok(Dismissal {
            bucket: r.get(0)?,
            until: parse_ts(&r.get::<_, String>(1)?)?,
            reason: r.get(2)?,
            by: kefu_domain::UserId(r.get(3)?),
            at: parse_ts(&r.get::<_, String>(4)?)?,
        })
    })
    .map_err(backend)?
    .collect::<Result<_, _>>()
    .map_err(backend)
}

/// The store capabilities kept in this file: IncidentStore, SecurityStore.
mod capability {
    use crate::*;
    use kefu_domain::incident_record::{Incident, IncidentEvent};
    use kefu_domain::security::SecurityIncident;
    use kefu_store::{ChangeIncident, ChangeRecord, IncidentStore, NoticeProgress, NoticeTarget, SecurityStore};
    use serde_json::Value;

    impl IncidentStore for SqliteStore {
        async fn create_incident(&self, i: Incident, actor_name: String, data: Value) -> StoreResult<Incident> {
            self.writer.run(move |c| incidents::create(c, i, &actor_name, data)).await
        }
        async fn change_incident(&self, op: ChangeIncident) -> StoreResult<Incident> {
            self.writer.run(move |c| incidents::change(c, op)).await
        }
        async fn incident(&self, id: i64) -> StoreResult<Option<Incident>> {
            self.read(move |c| incidents::one(c, id)).await
        }
        async fn incidents(&self, active_only: bool, limit: u32) -> StoreResult<Vec<Incident>> {
            self.read(move |c| incidents::list(c, active_only, limit)).await
        }
        async fn incident_events(&self, id: i64) -> StoreResult<Vec<IncidentEvent>> {
            self.read(move |c| incidents::events::<Incident>(c, id)).await
        }
        async fn children_by_status(&self, id: i64) -> StoreResult<Vec<(String, i64)>> {
            self.read(move |c| incidents::by_status(c, id)).await
        }
        async fn record_notices(
            &self,
            id: i64,
            notice: String,
            targets: Vec<NoticeTarget>,
            now: DateTime<Utc>,
        ) -> StoreResult<u32> {
            let k = self.cipher.clone();
            self.writer.run(move |c| incidents::record_notices(c, id, &notice, &targets, &k, now)).await
        }
        async fn notice_progress(&self, id: i64) -> StoreResult<Vec<NoticeProgress>> {
            self.read(move |c| incidents::progress(c, id)).await
        }
        async fn dismiss_spike(&self, d: kefu_store::Dismissal) -> StoreResult<()> {
            self.writer.run(move |c| incidents::dismiss(c, &d)).await
        }
        async fn spike_dismissals(&self, now: DateTime<Utc>) -> StoreResult<Vec<kefu_store::Dismissal>> {
            self.read(move |c| incidents::dismissals(c, now)).await
        }
    }

    impl SecurityStore for SqliteStore {
        async fn create_security_incident(
            &self,
            r: SecurityIncident,
            actor_name: String,
            data: Value,
        ) -> StoreResult<SecurityIncident> {
            self.writer.run(move |c| incidents::create(c, r, &actor_name, data)).await
        }
        async fn change_security_incident(&self, op: ChangeRecord<SecurityIncident>) -> StoreResult<SecurityIncident> {
            self.writer.run(move |c| incidents::change(c, op)).await
        }
        async fn security_incident(&self, id: i64) -> StoreResult<Option<SecurityIncident>> {
            self.read(move |c| incidents::one(c, id)).await
        }
        async fn security_incidents(&self, limit: u32) -> StoreResult<Vec<SecurityIncident>> {
            self.read(move |c| incidents::list(c, false, limit)).await
        }
        async fn security_events(&self, id: i64) -> StoreResult<Vec<IncidentEvent>> {
            self.read(move |c| incidents::events::<SecurityIncident>(c, id)).await
        }
    }
}
