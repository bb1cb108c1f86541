//! Departments, teams, staff loads and staff notices.

use crate::pg;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use kefu_domain::org::{Department, Team};
use kefu_domain::{DepartmentId, TeamId, TicketId, UserId};
use kefu_store::{NewNotice, NewTeam, Notice, Page, StoreError, StoreResult};
use tokio_postgres::Row;

pub async fn create_department(
    c: &impl GenericClient,
    code: &str,
    name: &str,
    now: DateTime<Utc>,
) -> StoreResult<Department> {
    let row = c
        .query_one(
            "INSERT INTO departments (code, name, created_at) VALUES ($1, $2, $3) RETURNING id",
            &[&code, &name, &now],
        )
        .await
        .map_err(pg)?;
    Ok(Department { id: DepartmentId(row.get(0)), code: code.into(), name: name.into() })
}

pub async fn departments(c: &impl GenericClient) -> StoreResult<Vec<Department>> {
    let rows = c.query("SELECT id, code, name FROM departments ORDER BY id", &[]).await.map_err(pg)?;
    Ok(rows.iter().map(|r| Department { id: DepartmentId(r.get(0)), code: r.get(1), name: r.get(2) }).collect())
}

const TEAM_SELECT: &str = "SELECT t.id, t.department_id, t.code, t.name, l.user_id FROM teams t
                           LEFT JOIN team_leads l ON l.team_id = t.id";

fn team(r: &Row) -> Team {
    Team {
        id: TeamId(r.get(0)),
        department: DepartmentId(r.get(1)),
        code: r.get(2),
        name: r.get(3),
        lead: r.get::<_, Option<i64>>(4).map(UserId),
    }
}

async fn team_by_id(c: &impl GenericClient, id: TeamId) -> StoreResult<Team> {
    let row = c.query_opt(&format!("{TEAM_SELECT} WHERE t.id = $1"), &[&id.0]).await.map_err(pg)?;
    row.as_ref().map(team).ok_or(StoreError::NotFound)
}

async fn set_lead(c: &impl GenericClient, id: TeamId, lead: Option<UserId>) -> StoreResult<()> {
    match lead {
        Some(u) => {
            c.execute(
                "INSERT INTO team_leads (team_id, user_id) VALUES ($1, $2)
                 ON CONFLICT (team_id) DO UPDATE SET user_id = excluded.user_id",
                &[&id.0, &u.0],
            )
            .await
        }
        None => c.execute("DELETE FROM team_leads WHERE team_id = $1", &[&id.0]).await,
    }
    .map_err(pg)?;
    Ok(())
}

pub async fn create_team(c: &impl GenericClient, t: &NewTeam, now: DateTime<Utc>) -> StoreResult<Team> {
    let row = c
        .query_one(
            "INSERT INTO teams (department_id, code, name, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            &[&t.department.0, &t.code, &t.name, &now],
        )
        .await
        .map_err(pg)?;
    let id = TeamId(row.get(0));
    set_lead(c, id, t.lead).await?;
    team_by_id(c, id).await
}

pub async fn update_team(
    c: &impl GenericClient,
    id: TeamId,
    name: Option<&str>,
    lead: Option<Option<UserId>>,
) -> StoreResult<Team> {
    team_by_id(c, id).await?;
    if let Some(n) = name {
        c.execute("UPDATE teams SET name = $2 WHERE id = $1", &[&id.0, &n]).await.map_err(pg)?;
    }
    if let Some(l) = lead {
        set_lead(c, id, l).await?;
    }
    team_by_id(c, id).await
}

pub async fn teams(c: &impl GenericClient) -> StoreResult<Vec<Team>> {
    let rows = c.query(&format!("{TEAM_SELECT} ORDER BY t.id"), &[]).await.map_err(pg)?;
    Ok(rows.iter().map(team).collect())
}

pub async fn staff_loads(c: &impl GenericClient, ids: &[UserId]) -> StoreResult<Vec<(UserId, u32)>> {
    let ids: Vec<i64> = ids.iter().map(|u| u.0).collect();
    let rows = c
        .query(
            "SELECT assignee, COUNT(*) FROM tickets WHERE is_open = 1 AND assignee = ANY($1) GROUP BY assignee",
            &[&ids],
        )
        .await
        .map_err(pg)?;
    Ok(rows.iter().map(|r| (UserId(r.get(0)), r.get::<_, i64>(1) as u32)).collect())
}

pub async fn insert_notices(
    c: &impl GenericClient,
    ticket: TicketId,
    notices: &[NewNotice],
    now: DateTime<Utc>,
    cipher: &kefu_store::crypto::FieldCipher,
) -> StoreResult<()> {
    use kefu_store::seal::seal_text;
    for n in notices {
        let (message, message_zh) = (seal_text(cipher, &n.message), seal_text(cipher, &n.message_zh));
        c.execute(
            "INSERT INTO notices (user_id, ticket_id, kind, message, message_zh, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&n.user.0, &ticket.0, &n.kind, &message, &message_zh, &now],
        )
        .await
        .map_err(pg)?;
    }
    Ok(())
}

pub async fn notices(
    c: &impl GenericClient,
    user: UserId,
    unread_only: bool,
    page: u32,
    per_page: u32,
) -> StoreResult<Page<Notice>> {
    let cond = if unread_only { " AND n.read_at IS NULL" } else { "" };
    let total: i64 = c
        .query_one(&format!("SELECT COUNT(*) FROM notices n WHERE n.user_id = $1{cond}"), &[&user.0])
        .await
        .map_err(pg)?
        .get(0);
    let offset = i64::from(page.saturating_sub(1)) * i64::from(per_page);
    let rows = c
        .query(
            &format!(
                "SELECT n.id, n.user_id, n.ticket_id, t.number, n.kind, n.message, n.message_zh, n.created_at, n.read_at
                 FROM notices n LEFT JOIN tickets t ON t.id = n.ticket_id
                 WHERE n.user_id = $1{cond} ORDER BY n.id DESC LIMIT $2 OFFSET $3"
            ),
            &[&user.0, &i64::from(per_page), &offset],
        )
        .await
        .map_err(pg)?;
    let items = rows
        .iter()
        .map(|r| Notice {
            id: r.get(0),
            user: UserId(r.get(1)),
            ticket_id: r.get::<_, Option<i64>>(2).map(TicketId),
            ticket_number: r.get(3),
            kind: r.get(4),
            message: r.get(5),
            message_zh: r.get(6),
            created_at: r.get(7),
            read_at: r.get(8),
        })
        .collect();
    Ok(Page { items, total, page, per_page })
}

pub async fn read_notices(
    c: &impl GenericClient,
    user: UserId,
    id: Option<i64>,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    match id {
        Some(id) => {
            c.execute(
                "UPDATE notices SET read_at = $3 WHERE user_id = $1 AND id = $2 AND read_at IS NULL",
                &[&user.0, &id, &now],
            )
            .await
        }
        None => {
            c.execute("UPDATE notices SET read_at = $2 WHERE user_id = $1 AND read_at IS NULL", &[&user.0, &now]).await
        }
    }
    .map_err(pg)
}

/// The store capabilities kept in this file: OrgStore.
mod capability {
    use crate::*;

    impl OrgStore for PgStore {
        async fn create_department(&self, code: String, name: String, now: DateTime<Utc>) -> StoreResult<Department> {
            org::create_department(&self.client().await?, &code, &name, now).await
        }
        async fn departments(&self) -> StoreResult<Vec<Department>> {
            org::departments(&self.client().await?).await
        }
        async fn create_team(&self, team: NewTeam, now: DateTime<Utc>) -> StoreResult<Team> {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(pg)?;
            let t = org::create_team(&tx, &team, now).await?;
            tx.commit().await.map_err(pg)?;
            Ok(t)
        }
        async fn update_team(
            &self,
            id: TeamId,
            name: Option<String>,
            lead: Option<Option<UserId>>,
        ) -> StoreResult<Team> {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(pg)?;
            let t = org::update_team(&tx, id, name.as_deref(), lead).await?;
            tx.commit().await.map_err(pg)?;
            Ok(t)
        }
        async fn teams(&self) -> StoreResult<Vec<Team>> {
            org::teams(&self.client().await?).await
        }
        async fn set_profile(
            &self,
            id: UserId,
            profile: StaffProfile,
            by: Option<UserId>,
            now: DateTime<Utc>,
        ) -> StoreResult<User> {
            users::set_profile(&mut self.client().await?, id, &profile, by, now).await
        }
        async fn staff_history(&self, user: UserId) -> StoreResult<Vec<kefu_store::StaffChange>> {
            users::staff_history(&self.client().await?, user).await
        }
        async fn staff_loads(&self, ids: Vec<UserId>) -> StoreResult<Vec<(UserId, u32)>> {
            org::staff_loads(&self.client().await?, &ids).await
        }
        async fn notices(
            &self,
            user: UserId,
            unread_only: bool,
            page: u32,
            per_page: u32,
        ) -> StoreResult<Page<Notice>> {
            let got = org::notices(&self.client().await?, user, unread_only, page, per_page).await?;
            let open = |n: Notice| -> StoreResult<Notice> {
                let (message, message_zh) =
                    (seal::open_text(&self.cipher, &n.message)?, seal::open_text(&self.cipher, &n.message_zh)?);
                Ok(Notice { message, message_zh, ..n })
            };
            let items = got.items.into_iter().map(open).collect::<StoreResult<_>>()?;
            Ok(Page { items, ..got })
        }
        async fn read_notices(&self, user: UserId, id: Option<i64>, now: DateTime<Utc>) -> StoreResult<u64> {
            org::read_notices(&self.client().await?, user, id, now).await
        }
    }
}
