//! Staff accounts and login sessions.

use crate::pg;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use kefu_domain::org::StaffProfile;
use kefu_domain::{Role, TeamId, UserId};
use kefu_store::{NewUser, Session, StaffChange, StoreError, StoreResult, User};
use tokio_postgres::Row;

const COLS: &str = "id, username, display_name, role, active, password_hash, created_at, failed_logins, locked_until,
                    team_id, tier, skills, capacity, on_duty, last_assigned_at, email";

fn user(r: &Row) -> StoreResult<User> {
    let role: String = r.get(3);
    Ok(User {
        id: UserId(r.get(0)),
        username: r.get(1),
        display_name: r.get(2),
        role: Role::parse(&role, "role").map_err(|e| StoreError::Backend(e.message))?,
        active: r.get(4),
        password_hash: r.get(5),
        created_at: r.get(6),
        failed_logins: r.get(7),
        locked_until: r.get(8),
        profile: StaffProfile {
            team: r.get::<_, Option<i64>>(9).map(TeamId),
            tier: r.get::<_, Option<i64>>(10).map(|t| t as u8),
            skills: serde_json::from_str(r.get::<_, &str>(11)).unwrap_or_default(),
            capacity: r.get::<_, Option<i64>>(12).map(|c| c as u32),
            on_duty: r.get(13),
            email: r.get(15),
        },
        last_assigned_at: r.get(14),
    })
}

pub async fn create(c: &impl GenericClient, u: &NewUser) -> StoreResult<User> {
    let sql = format!(
        "INSERT INTO users (username, display_name, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING {COLS}"
    );
    let row = c
        .query_one(&sql, &[&u.username, &u.display_name, &u.role.as_str(), &u.password_hash, &u.now])
        .await
        .map_err(pg)?;
    user(&row)
}

pub async fn by_username(c: &impl GenericClient, name: &str) -> StoreResult<Option<User>> {
    let sql = format!("SELECT {COLS} FROM users WHERE username = $1");
    c.query_opt(&sql, &[&name]).await.map_err(pg)?.as_ref().map(user).transpose()
}

pub async fn by_id(c: &impl GenericClient, id: UserId) -> StoreResult<Option<User>> {
    let sql = format!("SELECT {COLS} FROM users WHERE id = $1");
    c.query_opt(&sql, &[&id.0]).await.map_err(pg)?.as_ref().map(user).transpose()
}

pub async fn list(c: &impl GenericClient) -> StoreResult<Vec<User>> {
    let sql = format!("SELECT {COLS} FROM users ORDER BY id");
    c.query(&sql, &[]).await.map_err(pg)?.iter().map(user).collect()
}

/// A new password ends every session of the account (one statement, so
/// both or neither).
pub async fn set_password(c: &impl GenericClient, id: UserId, hash: &str) -> StoreResult<()> {
    let sql = "WITH u AS (UPDATE users SET password_hash = $1 WHERE id = $2 RETURNING id),
                    s AS (DELETE FROM sessions WHERE user_id IN (SELECT id FROM u))
               SELECT count(*) FROM u";
    let n: i64 = c.query_one(sql, &[&hash, &id.0]).await.map_err(pg)?.get(0);
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// A new role or a disabled account ends every session of the account.
pub async fn set_account(
    c: &impl GenericClient,
    id: UserId,
    role: Option<Role>,
    active: Option<bool>,
) -> StoreResult<User> {
    let sql = format!(
        "WITH u AS (UPDATE users SET role = COALESCE($1, role), active = COALESCE($2, active) WHERE id = $3 RETURNING {COLS}),
              s AS (DELETE FROM sessions WHERE user_id IN (SELECT id FROM u))
         SELECT {COLS} FROM u"
    );
    let row = c.query_opt(&sql, &[&role.map(|r| r.as_str()), &active, &id.0]).await.map_err(pg)?;
    row.as_ref().map(user).transpose()?.ok_or(StoreError::NotFound)
}

pub async fn create_session(c: &impl GenericClient, s: &Session) -> StoreResult<()> {
    c.execute(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        &[&s.token_hash, &s.user_id.0, &s.created_at, &s.expires_at],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

pub async fn session(c: &impl GenericClient, hash: &str) -> StoreResult<Option<Session>> {
    let row = c
        .query_opt("SELECT token_hash, user_id, created_at, expires_at FROM sessions WHERE token_hash = $1", &[&hash])
        .await
        .map_err(pg)?;
    Ok(row.map(|r| Session {
        token_hash: r.get(0),
        user_id: UserId(r.get(1)),
        created_at: r.get(2),
        expires_at: r.get(3),
    }))
}

pub async fn delete_session(c: &impl GenericClient, hash: &str) -> StoreResult<()> {
    c.execute("DELETE FROM sessions WHERE token_hash = $1", &[&hash]).await.map_err(pg)?;
    Ok(())
}

pub async fn try_lease(
    c: &impl GenericClient,
    job: &str,
    holder: &str,
    now: DateTime<Utc>,
    ttl: chrono::Duration,
) -> StoreResult<bool> {
    let n = c
        .execute(
            "INSERT INTO job_leases (job, holder, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
             WHERE job_leases.holder = excluded.holder OR job_leases.expires_at <= $4",
            &[&job, &holder, &(now + ttl), &now],
        )
        .await
        .map_err(pg)?;
    Ok(n == 1)
}

pub async fn release_leases(c: &impl GenericClient, holder: &str) -> StoreResult<u64> {
    c.execute("DELETE FROM job_leases WHERE holder = $1", &[&holder]).await.map_err(pg)
}

pub async fn health(
    c: &impl GenericClient,
    cipher: &kefu_store::crypto::FieldCipher,
) -> StoreResult<kefu_store::Health> {
    let row = c
        .query_one(
            "SELECT (SELECT COALESCE(MAX(version), 0) FROM schema_migrations)::BIGINT,
                    (SELECT MIN(next_alert_at) FROM tickets WHERE next_alert_at IS NOT NULL),
                    (SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'pending'),
                    (SELECT at FROM event_outbox WHERE NOT fanned ORDER BY id LIMIT 1)",
            &[],
        )
        .await
        .map_err(pg)?;
    let rows = c.query("SELECT name, fingerprint FROM key_fingerprints", &[]).await.map_err(pg)?;
    let keys: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    Ok(kefu_store::Health {
        schema_version: row.get(0),
        key_problem: cipher.check(&keys).err().map(|e| e.to_string()),
        oldest_alert_due: row.get(1),
        oldest_message_due: row.get(2),
        oldest_event: row.get(3),
    })
}

pub async fn purge_expired_sessions(c: &impl GenericClient, now: DateTime<Utc>) -> StoreResult<u64> {
    c.execute("DELETE FROM sessions WHERE expires_at <= $1", &[&now]).await.map_err(pg)
}

pub async fn record_login_failure(
    c: &impl GenericClient,
    id: UserId,
    now: DateTime<Utc>,
    max: u32,
    lock: chrono::Duration,
) -> StoreResult<Option<DateTime<Utc>>> {
    let row = c
        .query_one(
            "UPDATE users SET
               locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3 ELSE locked_until END,
               failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END
             WHERE id = $1 RETURNING locked_until",
            &[&id.0, &i64::from(max), &(now + lock)],
        )
        .await
        .map_err(pg)?;
    let locked: Option<DateTime<Utc>> = row.get(0);
    Ok(locked.filter(|t| *t > now))
}

pub async fn remember_login_address(
    c: &impl GenericClient,
    id: UserId,
    addr: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    c.execute(
        "INSERT INTO login_addresses (user_id, addr_idx, last_at) VALUES ($1, $2, $3)
         ON CONFLICT (user_id, addr_idx) DO UPDATE SET last_at = excluded.last_at",
        &[&id.0, &addr, &now],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

pub async fn known_login_address(c: &impl GenericClient, id: UserId, addr: &str) -> StoreResult<bool> {
    let row = c
        .query_opt("SELECT 1 FROM login_addresses WHERE user_id = $1 AND addr_idx = $2", &[&id.0, &addr])
        .await
        .map_err(pg)?;
    Ok(row.is_some())
}

pub async fn reset_login_failures(c: &impl GenericClient, id: UserId) -> StoreResult<()> {
    c.execute("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1", &[&id.0]).await.map_err(pg)?;
    Ok(())
}

pub async fn set_profile(
    c: &mut deadpool_postgres::Client,
    id: UserId,
    p: &StaffProfile,
    by: Option<UserId>,
    now: DateTime<Utc>,
) -> StoreResult<User> {
    let tx = c.transaction().await.map_err(pg)?;
    // FOR UPDATE: two changes at once each see the other's result as "before".
    let sql = format!("SELECT {COLS} FROM users WHERE id = $1 FOR UPDATE");
    let before = tx.query_opt(&sql, &[&id.0]).await.map_err(pg)?.ok_or(StoreError::NotFound)?;
    let before = user(&before)?;
    let skills = json_text(&p.skills)?;
    let sql = format!(
        "UPDATE users SET team_id = $2, tier = $3, skills = $4, capacity = $5, on_duty = $6, email = $7 WHERE id = $1 RETURNING {COLS}"
    );
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 7] = [
        &id.0,
        &p.team.map(|t| t.0),
        &p.tier.map(i64::from),
        &skills,
        &p.capacity.map(i64::from),
        &p.on_duty,
        &p.email,
    ];
    let after = user(&tx.query_one(&sql, &params).await.map_err(pg)?)?;
    let (was, is) = (before.profile.placement(), p.placement());
    if was != is {
        tx.execute(
            "INSERT INTO staff_history (user_id, at, by_user, before, after) VALUES ($1, $2, $3, $4, $5)",
            &[&id.0, &now, &by.map(|u| u.0), &json_text(&was)?, &json_text(&is)?],
        )
        .await
        .map_err(pg)?;
    }
    tx.commit().await.map_err(pg)?;
    Ok(after)
}

fn json_text(v: &impl serde::Serialize) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Backend(e.to_string()))
}

pub async fn staff_history(c: &impl GenericClient, user: UserId) -> StoreResult<Vec<StaffChange>> {
    let rows = c
        .query("SELECT at, by_user, before, after FROM staff_history WHERE user_id = $1 ORDER BY id", &[&user.0])
        .await
        .map_err(pg)?;
    let json = |raw: String| serde_json::from_str(&raw).map_err(|e| StoreError::Backend(e.to_string()));
    rows.into_iter()
        .map(|r| {
            Ok(StaffChange {
                user,
                at: r.get(0),
                by: r.get::<_, Option<i64>>(1).map(UserId),
                before: json(r.get(2))?,
                after: json(r.get(3))?,
            })
        })
        .collect()
}

/// The store capabilities kept in this file: AccountStore, JobStore.
mod capability {
    use crate::*;

    impl AccountStore for PgStore {
        async fn create_user(&self, user: NewUser) -> StoreResult<User> {
            users::create(&self.client().await?, &user).await
        }
        async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
            users::by_username(&self.client().await?, username).await
        }
        async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
            users::by_id(&self.client().await?, id).await
        }
        async fn list_users(&self) -> StoreResult<Vec<User>> {
            users::list(&self.client().await?).await
        }
        async fn set_password(&self, id: UserId, password_hash: String) -> StoreResult<()> {
            users::set_password(&self.client().await?, id, &password_hash).await
        }
        async fn set_account(
            &self,
            id: UserId,
            role: Option<kefu_domain::Role>,
            active: Option<bool>,
        ) -> StoreResult<User> {
            users::set_account(&self.client().await?, id, role, active).await
        }
        async fn create_session(&self, session: Session) -> StoreResult<()> {
            users::create_session(&self.client().await?, &session).await
        }
        async fn session(&self, token_hash: &str) -> StoreResult<Option<Session>> {
            users::session(&self.client().await?, token_hash).await
        }
        async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
            users::delete_session(&self.client().await?, token_hash).await
        }
        async fn record_login_failure(
            &self,
            id: UserId,
            now: DateTime<Utc>,
            max: u32,
            lock: chrono::Duration,
        ) -> StoreResult<Option<DateTime<Utc>>> {
            users::record_login_failure(&self.client().await?, id, now, max, lock).await
        }
        async fn reset_login_failures(&self, id: UserId) -> StoreResult<()> {
            users::reset_login_failures(&self.client().await?, id).await
        }
        async fn remember_login_address(&self, id: UserId, addr: String, now: DateTime<Utc>) -> StoreResult<()> {
            let addr_idx = self.cipher.blind_index("login_address", &addr);
            users::remember_login_address(&self.client().await?, id, &addr_idx, now).await
        }
        async fn known_login_address(&self, id: UserId, addr: String) -> StoreResult<bool> {
            let addr_idx = self.cipher.blind_index("login_address", &addr);
            users::known_login_address(&self.client().await?, id, &addr_idx).await
        }
    }
    impl JobStore for PgStore {
        async fn try_lease(
            &self,
            job: &str,
            holder: &str,
            now: DateTime<Utc>,
            ttl: chrono::Duration,
        ) -> StoreResult<bool> {
            users::try_lease(&self.client().await?, job, holder, now, ttl).await
        }
        async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64> {
            users::purge_expired_sessions(&self.client().await?, now).await
        }
        async fn release_leases(&self, holder: &str) -> StoreResult<u64> {
            users::release_leases(&self.client().await?, holder).await
        }
        async fn health(&self) -> StoreResult<kefu_store::Health> {
            users::health(&self.client().await?, &self.cipher).await
        }
    }
}
