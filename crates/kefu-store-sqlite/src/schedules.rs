//! Scheduled reports (ScheduleStore) in SQLite.

use crate::backend;
use crate::rows::{opt_ts, parse_ts, ts};
use chrono::{DateTime, Utc};
use kefu_domain::UserId;
use kefu_store::crypto::FieldCipher;
use kefu_store::{NewMessage, Schedule, StoreResult};
use rusqlite::{Connection, params};

const SELECT: &str = "SELECT id, owner, name, frequency, scope, recipients, next_run_at, last_run_at, created_at
    FROM report_schedules";

fn row(r: &rusqlite::Row) -> rusqlite::Result<Schedule> {
    let recipients: Vec<i64> = serde_json::from_str(&r.get::<_, String>(5)?).unwrap_or_default();
    Ok(Schedule {
        id: r.get(0)?,
        owner: UserId(r.get(1)?),
        name: r.get(2)?,
        frequency: r.get(3)?,
        scope: r.get(4)?,
        recipients: recipients.into_iter().map(UserId).collect(),
        next_run_at: parse_ts(&r.get::<_, String>(6)?)?,
        last_run_at: opt_ts(r.get(7)?)?,
        created_at: parse_ts(&r.get::<_, String>(8)?)?,
    })
}

fn list(c: &Connection, cond: &str, arg: &dyn rusqlite::ToSql) -> StoreResult<Vec<Schedule>> {
    c.prepare(&format!("{SELECT} WHERE {cond} ORDER BY id"))
        .map_err(backend)?
        .query_map([arg], row)
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)
}

pub fn create(c: &Connection, s: &Schedule) -> StoreResult<Schedule> {
    let recipients = serde_json::to_string(&s.recipients.iter().map(|u| u.0).collect::<Vec<_>>())
        .map_err(|e| kefu_store::StoreError::Backend(e.to_string()))?;
    c.execute(
        "INSERT INTO report_schedules (owner, name, frequency, scope, recipients, next_run_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![s.owner.0, s.name, s.frequency, s.scope, recipients, ts(s.next_run_at), ts(s.created_at)],
    )
    .map_err(backend)?;
    let id = c.last_insert_rowid();
    list(c, "id = ?1", &id)?.pop().ok_or(kefu_store::StoreError::NotFound)
}

pub fn of_owner(c: &Connection, owner: Option<UserId>) -> StoreResult<Vec<Schedule>> {
    list(c, "(?1 = 0 OR owner = ?1)", &owner.map_or(0, |o| o.0))
}

pub fn delete(c: &Connection, id: i64, owner: UserId) -> StoreResult<bool> {
    Ok(c.execute("DELETE FROM report_schedules WHERE id = ?1 AND owner = ?2", params![id, owner.0]).map_err(backend)?
        == 1)
}

pub fn due(c: &Connection, now: DateTime<Utc>) -> StoreResult<Vec<Schedule>> {
    list(c, "next_run_at <= ?1", &ts(now))
}

/// Runs inside the writer's savepoint: the e-mails and the move together.
pub fn complete(
    c: &Connection,
    (id, expected, next): (i64, DateTime<Utc>, DateTime<Utc>),
    messages: &[NewMessage],
    cipher: &FieldCipher,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let n = c
        .execute(
            "UPDATE report_schedules SET next_run_at = ?3, last_run_at = ?4 WHERE id = ?1 AND next_run_at = ?2",
            params![id, ts(expected), ts(next), ts(now)],
        )
        .map_err(backend)?;
    if n == 0 {
        return Ok(false);
    }
    crate::outbox::insert_messages(c, None, messages, cipher, now)?;
    Ok(true)
}

/// The store capabilities kept in this file: ScheduleStore.
mod capability {
    use crate::*;
    use kefu_store::{NewMessage, Schedule, ScheduleStore};

    impl ScheduleStore for SqliteStore {
        async fn create_schedule(&self, s: Schedule) -> StoreResult<Schedule> {
            self.writer.run(move |c| schedules::create(c, &s)).await
        }
        async fn schedules(&self, owner: Option<UserId>) -> StoreResult<Vec<Schedule>> {
            self.read(move |c| schedules::of_owner(c, owner)).await
        }
        async fn delete_schedule(&self, id: i64, owner: UserId) -> StoreResult<bool> {
            self.writer.run(move |c| schedules::delete(c, id, owner)).await
        }
        async fn due_schedules(&self, now: DateTime<Utc>) -> StoreResult<Vec<Schedule>> {
            self.read(move |c| schedules::due(c, now)).await
        }
        async fn complete_run(
            &self,
            id: i64,
            expected: DateTime<Utc>,
            next: DateTime<Utc>,
            messages: Vec<NewMessage>,
            now: DateTime<Utc>,
        ) -> StoreResult<bool> {
            let cipher = self.cipher.clone();
            self.writer.run(move |c| schedules::complete(c, (id, expected, next), &messages, &cipher, now)).await
        }
    }
}
