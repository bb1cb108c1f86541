//! Figures over the record (ReportStore) in SQLite.

use crate::backend;
use crate::rows::ts;
use chrono::{DateTime, Utc};
use kefu_domain::UserId;
use kefu_domain::figures::Handling;
use kefu_store::StoreResult;
use rusqlite::{Connection, params};

/// Resolutions in the period by who resolved them: on time (no breached
/// deadline was due before the resolution — by due time, not by when the
/// watcher noticed), at first contact (by the first owner, with no transfer, appeal
/// or merged repeat before), and the time from registration.
const HANDLING: &str = "SELECT e.actor, COUNT(*),
        SUM(CASE WHEN EXISTS (SELECT 1 FROM sla_breaches b WHERE b.ticket_id = e.ticket_id AND b.due_at < e.at)
            THEN 0 ELSE 1 END),
        SUM(CASE WHEN e.actor = t.first_owner
             AND NOT EXISTS (SELECT 1 FROM transfers x WHERE x.ticket_id = e.ticket_id AND x.created_at <= e.at)
             AND NOT EXISTS (SELECT 1 FROM ticket_events a WHERE a.ticket_id = e.ticket_id AND a.seq < e.seq
                             AND a.action IN ('appeal', 'merged_in'))
            THEN 1 ELSE 0 END),
        SUM((julianday(e.at) - julianday(t.created_at)) * 86400.0)
     FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id
     WHERE e.action = 'resolve' AND e.at >= ?1 AND e.at < ?2
     GROUP BY e.actor ORDER BY e.actor";

pub fn handling(
    c: &Connection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> StoreResult<Vec<(Option<UserId>, Handling)>> {
    c.prepare_cached(HANDLING)
        .map_err(backend)?
        .query_map(params![ts(from), ts(to)], |r| {
            Ok((
                r.get::<_, Option<i64>>(0)?.map(UserId),
                Handling {
                    handled: r.get::<_, i64>(1)? as u64,
                    on_time: r.get::<_, i64>(2)? as u64,
                    first_contact: r.get::<_, i64>(3)? as u64,
                    handling_seconds: r.get::<_, Option<f64>>(4)?.unwrap_or(0.0),
                },
            ))
        })
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)
}

/// The store capabilities kept in this file: ReportStore.
mod capability {
    use crate::*;
    use kefu_domain::figures::Handling;

    impl ReportStore for SqliteStore {
        async fn handling(
            &self,
            from: DateTime<Utc>,
            to: DateTime<Utc>,
        ) -> StoreResult<Vec<(Option<UserId>, Handling)>> {
            self.read(move |c| reports::handling(c, from, to)).await
        }
    }
}
