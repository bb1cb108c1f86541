//! Scheduled reports (ScheduleStore) in PostgreSQL.

use crate::pg;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use kefu_domain::UserId;
use kefu_store::crypto::FieldCipher;
use kefu_store::{NewMessage, Schedule, StoreResult};
use tokio_postgres::types::ToSql;

const SELECT: &str = "SELECT id, owner, name, frequency, scope, recipients, next_run_at, last_run_at, created_at
    FROM report_schedules";

fn row(r: &tokio_postgres::Row) -> Schedule {
    let recipients: Vec<i64> = serde_json::from_str(r.get::<_, &str>(5)).unwrap_or_default();
    Schedule {
        id: r.get(0),
        owner: UserId(r.get(1)),
        name: r.get(2),
        frequency: r.get(3),
        scope: r.get(4),
        recipients: recipients.into_iter().map(UserId).collect(),
        next_run_at: r.get(6),
        last_run_at: r.get(7),
        created_at: r.get(8),
    }
}

async fn list(c: &impl GenericClient, cond: &str, arg: &(dyn ToSql + Sync)) -> StoreResult<Vec<Schedule>> {
    let rows = c.query(&format!("{SELECT} WHERE {cond} ORDER BY id"), &[arg]).await.map_err(pg)?;
    Ok(rows.iter().map(row).collect())
}

pub async fn create(c: &impl GenericClient, s: &Schedule) -> StoreResult<Schedule> {
    let recipients = serde_json::to_string(&s.recipients.iter().map(|u| u.0).collect::<Vec<_>>())
        .map_err(|e| kefu_store::StoreError::Backend(e.to_string()))?;
    let id: i64 = c
        .query_one(
            "INSERT INTO report_schedules (owner, name, frequency, scope, recipients, next_run_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            &[&s.owner.0, &s.name, &s.frequency, &s.scope, &recipients, &s.next_run_at, &s.created_at],
        )
        .await
        .map_err(pg)?
        .get(0);
    list(c, "id = $1", &id).await?.pop().ok_or(kefu_store::StoreError::NotFound)
}

pub async fn of_owner(c: &impl GenericClient, owner: Option<UserId>) -> StoreResult<Vec<Schedule>> {
    list(c, "($1::BIGINT = 0 OR owner = $1)", &owner.map_or(0, |o| o.0)).await
}

pub async fn delete(c: &impl GenericClient, id: i64, owner: UserId) -> StoreResult<bool> {
    let n =
        c.execute("DELETE FROM report_schedules WHERE id = $1 AND owner = $2", &[&id, &owner.0]).await.map_err(pg)?;
    Ok(n == 1)
}

pub async fn due(c: &impl GenericClient, now: DateTime<Utc>) -> StoreResult<Vec<Schedule>> {
    list(c, "next_run_at <= $1", &now).await
}

/// One transaction: the e-mails and the move together.
pub async fn complete(
    client: &mut deadpool_postgres::Client,
    (id, expected, next): (i64, DateTime<Utc>, DateTime<Utc>),
    messages: &[NewMessage],
    cipher: &FieldCipher,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let tx = client.transaction().await.map_err(pg)?;
    let n = tx
        .execute(
            "UPDATE report_schedules SET next_run_at = $3, last_run_at = $4 WHERE id = $1 AND next_run_at = $2",
            &[&id, &expected, &next, &now],
        )
        .await
        .map_err(pg)?;
    if n == 0 {
        return Ok(false);
    }
    crate::outbox::insert_messages(&tx, None, messages, cipher, now).await?;
    tx.commit().await.map_err(pg)?;
    Ok(true)
}

/// The store capabilities kept in this file: ScheduleStore.
mod capability {
    use crate::*;
    use kefu_store::{NewMessage, Schedule, ScheduleStore};

    impl ScheduleStore for PgStore {
        async fn create_schedule(&self, s: Schedule) -> StoreResult<Schedule> {
            schedules::create(&self.client().await?, &s).await
        }
        async fn schedules(&self, owner: Option<UserId>) -> StoreResult<Vec<Schedule>> {
            schedules::of_owner(&self.client().await?, owner).await
        }
        async fn delete_schedule(&self, id: i64, owner: UserId) -> StoreResult<bool> {
            schedules::delete(&self.client().await?, id, owner).await
        }
        async fn due_schedules(&self, now: DateTime<Utc>) -> StoreResult<Vec<Schedule>> {
            schedules::due(&self.client().await?, now).await
        }
        async fn complete_run(
            &self,
            id: i64,
            expected: DateTime<Utc>,
            next: DateTime<Utc>,
            messages: Vec<NewMessage>,
            now: DateTime<Utc>,
        ) -> StoreResult<bool> {
            schedules::complete(&mut self.client().await?, (id, expected, next), &messages, &self.cipher, now).await
        }
    }
}
