//! Figures over the record (ReportStore) in PostgreSQL.

use crate::pg;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use kefu_domain::UserId;
use kefu_domain::figures::Handling;
use kefu_store::StoreResult;

/// As the SQLite file: resolutions in the period by who resolved them.
const HANDLING: &str = "SELECT e.actor, COUNT(*),
        SUM(CASE WHEN EXISTS (SELECT 1 FROM sla_breaches b WHERE b.ticket_id = e.ticket_id AND b.due_at < e.at)
            THEN 0 ELSE 1 END),
        SUM(CASE WHEN e.actor = t.first_owner
             AND NOT EXISTS (SELECT 1 FROM transfers x WHERE x.ticket_id = e.ticket_id AND x.created_at <= e.at)
             AND NOT EXISTS (SELECT 1 FROM ticket_events a WHERE a.ticket_id = e.ticket_id AND a.seq < e.seq
                             AND a.action IN ('appeal', 'merged_in'))
            THEN 1 ELSE 0 END),
        SUM(EXTRACT(EPOCH FROM e.at - t.created_at))::float8
     FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id
     WHERE e.action = 'resolve' AND e.at >= $1 AND e.at < $2
     GROUP BY e.actor ORDER BY e.actor";

pub async fn handling(
    c: &impl GenericClient,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> StoreResult<Vec<(Option<UserId>, Handling)>> {
    let rows = c.query(HANDLING, &[&from, &to]).await.map_err(pg)?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.get::<_, Option<i64>>(0).map(UserId),
                Handling {
                    handled: r.get::<_, i64>(1) as u64,
                    on_time: r.get::<_, i64>(2) as u64,
                    first_contact: r.get::<_, i64>(3) as u64,
                    handling_seconds: r.get::<_, Option<f64>>(4).unwrap_or(0.0),
                },
            )
        })
        .collect())
}

/// The store capabilities kept in this file: ReportStore.
mod capability {
    use crate::*;
    use kefu_domain::figures::Handling;

    impl ReportStore for PgStore {
        async fn handling(
            &self,
            from: DateTime<Utc>,
            to: DateTime<Utc>,
        ) -> StoreResult<Vec<(Option<UserId>, Handling)>> {
            reports::handling(&self.client().await?, from, to).await
        }
    }
}
