//! Departments, teams, staff loads and staff notices.

use crate::backend;
use crate::rows::{opt_ts, parse_ts, ts};
use chrono::{DateTime, Utc};
use kefu_domain::org::{Department, Team};
use kefu_domain::{DepartmentId, TeamId, TicketId, UserId};
use kefu_store::seal::{open_text, seal_text};
use kefu_store::{NewNotice, NewTeam, Notice, Page, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

pub fn create_department(c: &Connection, code: &str, name: &str, now: DateTime<Utc>) -> StoreResult<Department> {
    let id: i64 = c
        .prepare_cached("INSERT INTO departments (code, name, created_at) VALUES (?1, ?2, ?3) RETURNING id")
        .map_err(backend)?
        .query_row(params![code, name, ts(now)], |r| r.get(0))
        .map_err(backend)?;
    Ok(Department { id: DepartmentId(id), code: code.into(), name: name.into() })
}

pub fn departments(c: &Connection) -> StoreResult<Vec<Department>> {
    c.prepare_cached("SELECT id, code, name FROM departments ORDER BY id")
        .map_err(backend)?
        .query_map([], |r| Ok(Department { id: DepartmentId(r.get(0)?), code: r.get(1)?, name: r.get(2)? }))
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)
}

const TEAM_SELECT: &str = "SELECT t.id, t.department_id, t.code, t.name, l.user_id FROM teams t
                           LEFT JOIN team_leads l ON l.team_id = t.id";

fn team(r: &rusqlite::Row) -> rusqlite::Result<Team> {
    Ok(Team {
        id: TeamId(r.get(0)?),
        department: DepartmentId(r.get(1)?),
        code: r.get(2)?,
        name: r.get(3)?,
        lead: r.get::<_, Option<i64>>(4)?.map(UserId),
    })
}

fn team_by_id(c: &Connection, id: TeamId) -> StoreResult<Team> {
    c.prepare_cached(&format!("{TEAM_SELECT} WHERE t.id = ?1"))
        .map_err(backend)?
        .query_row([id.0], team)
        .optional()
        .map_err(backend)?
        .ok_or(StoreError::NotFound)
}

fn set_lead(c: &Connection, id: TeamId, lead: Option<UserId>) -> StoreResult<()> {
    match lead {
        Some(u) => c.execute(
            "INSERT INTO team_leads (team_id, user_id) VALUES (?1, ?2)
             ON CONFLICT (team_id) DO UPDATE SET user_id = excluded.user_id",
            params![id.0, u.0],
        ),
        None => c.execute("DELETE FROM team_leads WHERE team_id = ?1", [id.0]),
    }
    .map_err(backend)?;
    Ok(())
}

pub fn create_team(c: &Connection, t: &NewTeam, now: DateTime<Utc>) -> StoreResult<Team> {
    let id: i64 = c
        .prepare_cached(
            "INSERT INTO teams (department_id, code, name, created_at) VALUES (?1, ?2, ?3, ?4) RETURNING id",
        )
        .map_err(backend)?
        .query_row(params![t.department.0, t.code, t.name, ts(now)], |r| r.get(0))
        .map_err(backend)?;
    set_lead(c, TeamId(id), t.lead)?;
    team_by_id(c, TeamId(id))
}

pub fn update_team(c: &Connection, id: TeamId, name: Option<&str>, lead: Option<Option<UserId>>) -> StoreResult<Team> {
    team_by_id(c, id)?;
    if let Some(n) = name {
        c.execute("UPDATE teams SET name = ?2 WHERE id = ?1", params![id.0, n]).map_err(backend)?;
    }
    if let Some(l) = lead {
        set_lead(c, id, l)?;
    }
    team_by_id(c, id)
}

pub fn teams(c: &Connection) -> StoreResult<Vec<Team>> {
    c.prepare_cached(&format!("{TEAM_SELECT} ORDER BY t.id"))
        .map_err(backend)?
        .query_map([], team)
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)
}

/// Open tickets per person, from the partial index on open tickets (one
/// query per 500 people).
pub fn staff_loads(c: &Connection, ids: &[UserId]) -> StoreResult<Vec<(UserId, u32)>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let sql = format!(
            "SELECT assignee, COUNT(*) FROM tickets WHERE is_open = 1 AND assignee IN ({marks}) GROUP BY assignee"
        );
        let args: Vec<i64> = chunk.iter().map(|u| u.0).collect();
        let rows = c
            .prepare_cached(&sql)
            .map_err(backend)?
            .query_map(rusqlite::params_from_iter(args), |r| Ok((UserId(r.get(0)?), r.get::<_, i64>(1)? as u32)))
            .map_err(backend)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(backend)?;
        out.extend(rows);
    }
    Ok(out)
}

/// Open tickets one person holds, inside a write (capacity re-check).
pub fn load_of(c: &Connection, id: UserId) -> StoreResult<u32> {
    Ok(staff_loads(c, &[id])?.first().map_or(0, |(_, n)| *n))
}

pub fn insert_notices(
    c: &Connection,
    ticket: TicketId,
    notices: &[NewNotice],
    now: DateTime<Utc>,
    cipher: &kefu_store::crypto::FieldCipher,
) -> StoreResult<()> {
    let mut stmt = c
        .prepare_cached(
            "INSERT INTO notices (user_id, ticket_id, kind, message, message_zh, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .map_err(backend)?;
    for n in notices {
        let (message, message_zh) = (seal_text(cipher, &n.message), seal_text(cipher, &n.message_zh));
        stmt.execute(params![n.user.0, ticket.0, n.kind, message, message_zh, ts(now)]).map_err(backend)?;
    }
    Ok(())
}

pub fn notices(
    c: &Connection,
    user: UserId,
    (unread_only, page, per_page): (bool, u32, u32),
    cipher: &kefu_store::crypto::FieldCipher,
) -> StoreResult<Page<Notice>> {
    let cond = if unread_only { " AND n.read_at IS NULL" } else { "" };
    let total: i64 = c
        .prepare_cached(&format!("SELECT COUNT(*) FROM notices n WHERE n.user_id = ?1{cond}"))
        .map_err(backend)?
        .query_row([user.0], |r| r.get(0))
        .map_err(backend)?;
    let offset = i64::from(page.saturating_sub(1)) * i64::from(per_page);
    let items = c
        .prepare_cached(&format!(
            "SELECT n.id, n.user_id, n.ticket_id, t.number, n.kind, n.message, n.message_zh, n.created_at, n.read_at
             FROM notices n LEFT JOIN tickets t ON t.id = n.ticket_id
             WHERE n.user_id = ?1{cond} ORDER BY n.id DESC LIMIT ?2 OFFSET ?3"
        ))
        .map_err(backend)?
        .query_map(params![user.0, per_page, offset], |r| {
            Ok(Notice {
                id: r.get(0)?,
                user: UserId(r.get(1)?),
                ticket_id: r.get::<_, Option<i64>>(2)?.map(TicketId),
                ticket_number: r.get(3)?,
                kind: r.get(4)?,
                message: r.get(5)?,
                message_zh: r.get(6)?,
                created_at: parse_ts(&r.get::<_, String>(7)?)?,
                read_at: opt_ts(r.get(8)?)?,
            })
        })
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?
        .into_iter()
        .map(|n| {
            let (message, message_zh) = (open_text(cipher, &n.message)?, open_text(cipher, &n.message_zh)?);
            Ok(Notice { message, message_zh, ..n })
        })
        .collect::<StoreResult<_>>()?;
    Ok(Page { items, total, page, per_page })
}

pub fn read_notices(c: &Connection, user: UserId, id: Option<i64>, now: DateTime<Utc>) -> StoreResult<u64> {
    let n = match id {
        Some(id) => c.execute(
            "UPDATE notices SET read_at = ?3 WHERE user_id = ?1 AND id = ?2 AND read_at IS NULL",
            params![user.0, id, ts(now)],
        ),
        None => c.execute(
            "UPDATE notices SET read_at = ?2 WHERE user_id = ?1 AND read_at IS NULL",
            params![user.0, ts(now)],
        ),
    }
    .map_err(backend)?;
    Ok(n as u64)
}

/// The store capabilities kept in this file: OrgStore.
mod capability {
    use crate::*;

    impl OrgStore for SqliteStore {
        async fn create_department(&self, code: String, name: String, now: DateTime<Utc>) -> StoreResult<Department> {
            self.writer.run(move |c| org::create_department(c, &code, &name, now)).await
        }
        async fn departments(&self) -> StoreResult<Vec<Department>> {
            self.read(org::departments).await
        }
        async fn create_team(&self, team: NewTeam, now: DateTime<Utc>) -> StoreResult<Team> {
            self.writer.run(move |c| org::create_team(c, &team, now)).await
        }
        async fn update_team(
            &self,
            id: TeamId,
            name: Option<String>,
            lead: Option<Option<UserId>>,
        ) -> StoreResult<Team> {
            self.writer.run(move |c| org::update_team(c, id, name.as_deref(), lead)).await
        }
        async fn teams(&self) -> StoreResult<Vec<Team>> {
            self.read(org::teams).await
        }
        async fn set_profile(
            &self,
            id: UserId,
            profile: StaffProfile,
            by: Option<UserId>,
            now: DateTime<Utc>,
        ) -> StoreResult<User> {
            self.writer.run(move |c| users::set_profile(c, id, &profile, by, now)).await
        }
        async fn staff_history(&self, user: UserId) -> StoreResult<Vec<kefu_store::StaffChange>> {
            self.read(move |c| users::staff_history(c, user)).await
        }
        async fn staff_loads(&self, ids: Vec<UserId>) -> StoreResult<Vec<(UserId, u32)>> {
            self.read(move |c| org::staff_loads(c, &ids)).await
        }
        async fn notices(
            &self,
            user: UserId,
            unread_only: bool,
            page: u32,
            per_page: u32,
        ) -> StoreResult<Page<Notice>> {
            let k = self.cipher.clone();
            self.read(move |c| org::notices(c, user, (unread_only, page, per_page), &k)).await
        }
        async fn read_notices(&self, user: UserId, id: Option<i64>, now: DateTime<Utc>) -> StoreResult<u64> {
            self.writer.run(move |c| org::read_notices(c, user, id, now)).await
        }
    }
}
