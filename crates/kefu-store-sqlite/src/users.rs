//! Staff accounts and login sessions.

use crate::backend;
use crate::rows::{parse_ts, ts};
use chrono::{DateTime, Utc};
use kefu_domain::org::StaffProfile;
use kefu_domain::{Role, TeamId, UserId};
use kefu_store::{NewUser, Session, StaffChange, StoreResult, User};
use rusqlite::{Connection, OptionalExtension, Row, params};

const COLS: &str = "id, username, display_name, role, active, password_hash, created_at, failed_logins, locked_until,
                    team_id, tier, skills, capacity, on_duty, last_assigned_at, email";

fn user(r: &Row) -> rusqlite::Result<User> {
    let role: String = r.get(3)?;
    Ok(User {
        id: UserId(r.get(0)?),
        username: r.get(1)?,
        display_name: r.get(2)?,
        role: Role::parse(&role, "role")
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, e.message.into()))?,
        active: r.get(4)?,
        password_hash: r.get(5)?,
        created_at: parse_ts(&r.get::<_, String>(6)?)?,
        failed_logins: r.get(7)?,
        locked_until: crate::rows::opt_ts(r.get(8)?)?,
        profile: StaffProfile {
            team: r.get::<_, Option<i64>>(9)?.map(TeamId),
            tier: r.get(10)?,
            skills: serde_json::from_value(crate::rows::json(&r.get::<_, String>(11)?)?).unwrap_or_default(),
            capacity: r.get(12)?,
            on_duty: r.get(13)?,
            email: r.get(15)?,
        },
        last_assigned_at: crate::rows::opt_ts(r.get(14)?)?,
    })
}

pub fn create(c: &Connection, u: &NewUser) -> StoreResult<User> {
    let id: i64 = c
        .prepare_cached("INSERT INTO users (username, display_name, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id")
        .map_err(backend)?
        .query_row(params![u.username, u.display_name, u.role.as_str(), u.password_hash, ts(u.now)], |r| r.get(0))
        .map_err(backend)?;
    by_id(c, UserId(id)).map(|u| u.expect("the row just inserted"))
}

pub fn by_username(c: &Connection, name: &str) -> StoreResult<Option<User>> {
    c.prepare_cached(&format!("SELECT {COLS} FROM users WHERE username = ?1"))
        .map_err(backend)?
        .query_row([name], user)
        .optional()
        .map_err(backend)
}

pub fn by_id(c: &Connection, id: UserId) -> StoreResult<Option<User>> {
    c.prepare_cached(&format!("SELECT {COLS} FROM users WHERE id = ?1"))
        .map_err(backend)?
        .query_row([id.0], user)
        .optional()
        .map_err(backend)
}

pub fn list(c: &Connection) -> StoreResult<Vec<User>> {
    c.prepare_cached(&format!("SELECT {COLS} FROM users ORDER BY id"))
        .map_err(backend)?
        .query_map([], user)
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)
}

/// A new password ends every session of the account.
pub fn set_password(c: &Connection, id: UserId, hash: &str) -> StoreResult<()> {
    let n = c.execute("UPDATE users SET password_hash = ?1 WHERE id = ?2", params![hash, id.0]).map_err(backend)?;
    if n == 0 {
        return Err(kefu_store::StoreError::NotFound);
    }
    end_sessions(c, id)
}

/// A new role or a disabled account ends every session of the account.
pub fn set_account(c: &Connection, id: UserId, role: Option<Role>, active: Option<bool>) -> StoreResult<User> {
    let n = c
        .execute(
            "UPDATE users SET role = COALESCE(?1, role), active = COALESCE(?2, active) WHERE id = ?3",
            params![role.map(|r| r.as_str()), active, id.0],
        )
        .map_err(backend)?;
    if n == 0 {
        return Err(kefu_store::StoreError::NotFound);
    }
    end_sessions(c, id)?;
    by_id(c, id).map(|u| u.expect("the row just updated"))
}

fn end_sessions(c: &Connection, id: UserId) -> StoreResult<()> {
    c.execute("DELETE FROM sessions WHERE user_id = ?1", [id.0]).map_err(backend)?;
    Ok(())
}

pub fn create_session(c: &Connection, s: &Session) -> StoreResult<()> {
    c.prepare_cached("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)")
        .map_err(backend)?
        .execute(params![s.token_hash, s.user_id.0, ts(s.created_at), ts(s.expires_at)])
        .map_err(backend)?;
    Ok(())
}

pub fn session(c: &Connection, hash: &str) -> StoreResult<Option<Session>> {
    c.prepare_cached("SELECT token_hash, user_id, created_at, expires_at FROM sessions WHERE token_hash = ?1")
        .map_err(backend)?
        .query_row([hash], |r| {
            Ok(Session {
                token_hash: r.get(0)?,
                user_id: UserId(r.get(1)?),
                created_at: parse_ts(&r.get::<_, String>(2)?)?,
                expires_at: parse_ts(&r.get::<_, String>(3)?)?,
            })
        })
        .optional()
        .map_err(backend)
}

pub fn delete_session(c: &Connection, hash: &str) -> StoreResult<()> {
    c.execute("DELETE FROM sessions WHERE token_hash = ?1", [hash]).map_err(backend)?;
    Ok(())
}

pub fn try_lease(
    c: &Connection,
    job: &str,
    holder: &str,
    now: DateTime<Utc>,
    ttl: chrono::Duration,
) -> StoreResult<bool> {
    let n = c
        .prepare_cached(
            "INSERT INTO job_leases (job, holder, expires_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
             WHERE job_leases.holder = excluded.holder OR job_leases.expires_at <= ?4",
        )
        .map_err(backend)?
        .execute(params![job, holder, ts(now + ttl), ts(now)])
        .map_err(backend)?;
    Ok(n == 1)
}

pub fn release_leases(c: &Connection, holder: &str) -> StoreResult<u64> {
    let n = c.execute("DELETE FROM job_leases WHERE holder = ?1", [holder]).map_err(backend)?;
    Ok(n as u64)
}

pub fn health(c: &Connection, cipher: &kefu_store::crypto::FieldCipher) -> StoreResult<kefu_store::Health> {
    let first = |sql: &str| -> StoreResult<Option<DateTime<Utc>>> {
        let at: Option<Option<String>> = c.query_row(sql, [], |r| r.get(0)).optional().map_err(backend)?;
        at.flatten().map(|s| parse_ts(&s).map_err(backend)).transpose()
    };
    let mut stmt = c.prepare_cached("SELECT name, fingerprint FROM key_fingerprints").map_err(backend)?;
    let keys: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(backend)?
        .collect::<Result<_, _>>()
        .map_err(backend)?;
    Ok(kefu_store::Health {
        schema_version: c
            .query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))
            .map_err(backend)?,
        key_problem: cipher.check(&keys).err().map(|e| e.to_string()),
        oldest_alert_due: first("SELECT MIN(next_alert_at) FROM tickets WHERE next_alert_at IS NOT NULL")?,
        oldest_message_due: first("SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'pending'")?,
        oldest_event: first("SELECT at FROM event_outbox WHERE fanned = 0 ORDER BY id LIMIT 1")?,
    })
}

pub fn purge_expired_sessions(c: &Connection, now: DateTime<Utc>) -> StoreResult<u64> {
    let n = c.execute("DELETE FROM sessions WHERE expires_at <= ?1", [ts(now)]).map_err(backend)?;
    Ok(n as u64)
}

pub fn record_login_failure(
    c: &Connection,
    id: UserId,
    now: DateTime<Utc>,
    max: u32,
    lock: chrono::Duration,
) -> StoreResult<Option<DateTime<Utc>>> {
    let locked: Option<String> = c
        .prepare_cached(
            "UPDATE users SET
               locked_until = CASE WHEN failed_logins + 1 >= ?2 THEN ?3 ELSE locked_until END,
               failed_logins = CASE WHEN failed_logins + 1 >= ?2 THEN 0 ELSE failed_logins + 1 END
             WHERE id = ?1 RETURNING locked_until",
        )
        .map_err(backend)?
        .query_row(params![id.0, max, ts(now + lock)], |r| r.get(0))
        .map_err(backend)?;
    let locked = crate::rows::opt_ts(locked).map_err(backend)?;
    Ok(locked.filter(|t| *t > now))
}

pub fn remember_login_address(c: &Connection, id: UserId, addr: &str, now: DateTime<Utc>) -> StoreResult<()> {
    c.prepare_cached(
        "INSERT INTO login_addresses (user_id, addr_idx, last_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (user_id, addr_idx) DO UPDATE SET last_at = excluded.last_at",
    )
    .map_err(backend)?
    .execute(params![id.0, addr, ts(now)])
    .map_err(backend)?;
    Ok(())
}

pub fn known_login_address(c: &Connection, id: UserId, addr: &str) -> StoreResult<bool> {
    c.prepare_cached("SELECT 1 FROM login_addresses WHERE user_id = ?1 AND addr_idx = ?2")
        .map_err(backend)?
        .exists(params![id.0, addr])
        .map_err(backend)
}

pub fn reset_login_failures(c: &Connection, id: UserId) -> StoreResult<()> {
    c.execute("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ?1", [id.0]).map_err(backend)?;
    Ok(())
}

pub fn set_profile(
    c: &Connection,
    id: UserId,
    p: &StaffProfile,
    by: Option<UserId>,
    now: DateTime<Utc>,
) -> StoreResult<User> {
    let before = by_id(c, id)?.ok_or(kefu_store::StoreError::NotFound)?;
    let skills = json_text(&p.skills)?;
    c.prepare_cached(
        "UPDATE users SET team_id = ?2, tier = ?3, skills = ?4, capacity = ?5, on_duty = ?6, email = ?7 WHERE id = ?1",
    )
    .map_err(backend)?
    .execute(params![id.0, p.team.map(|t| t.0), p.tier, skills, p.capacity, p.on_duty, p.email])
    .map_err(backend)?;
    let (was, is) = (before.profile.placement(), p.placement());
    if was != is {
        c.prepare_cached("INSERT INTO staff_history (user_id, at, by_user, before, after) VALUES (?1, ?2, ?3, ?4, ?5)")
            .map_err(backend)?
            .execute(params![id.0, ts(now), by.map(|u| u.0), json_text(&was)?, json_text(&is)?])
            .map_err(backend)?;
    }
    by_id(c, id).map(|u| u.expect("the row just updated"))
}

fn json_text(v: &impl serde::Serialize) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| kefu_store::StoreError::Backend(e.to_string()))
}

fn json_value<T: serde::de::DeserializeOwned>(raw: &str) -> rusqlite::Result<T> {
    serde_json::from_str(raw)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

pub fn staff_history(c: &Connection, user: UserId) -> StoreResult<Vec<StaffChange>> {
    c.prepare_cached("SELECT at, by_user, before, after FROM staff_history WHERE user_id = ?1 ORDER BY id")
        .map_err(backend)?
        .query_map([user.0], |r| {
            Ok(StaffChange {
                user,
                at: parse_ts(&r.get::<_, String>(0)?)?,
                by: r.get::<_, Option<i64>>(1)?.map(UserId),
                before: json_value(&r.get::<_, String>(2)?)?,
                after: json_value(&r.get::<_, String>(3)?)?,
            })
        })
        .map_err(backend)?
        .collect::<rusqlite::Result<_>>()
        .map_err(backend)
}

/// The store capabilities kept in this file: AccountStore, JobStore.
mod capability {
    use crate::*;

    impl AccountStore for SqliteStore {
        async fn create_user(&self, user: NewUser) -> StoreResult<User> {
            self.writer.run(move |c| users::create(c, &user)).await
        }
        async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
            let name = username.to_string();
            self.read(move |c| users::by_username(c, &name)).await
        }
        async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
            self.read(move |c| users::by_id(c, id)).await
        }
        async fn list_users(&self) -> StoreResult<Vec<User>> {
            self.read(users::list).await
        }
        async fn set_password(&self, id: UserId, password_hash: String) -> StoreResult<()> {
            self.writer.run(move |c| users::set_password(c, id, &password_hash)).await
        }
        async fn set_account(
            &self,
            id: UserId,
            role: Option<kefu_domain::Role>,
            active: Option<bool>,
        ) -> StoreResult<User> {
            self.writer.run(move |c| users::set_account(c, id, role, active)).await
        }
        async fn create_session(&self, session: Session) -> StoreResult<()> {
            self.writer.run(move |c| users::create_session(c, &session)).await
        }
        async fn session(&self, token_hash: &str) -> StoreResult<Option<Session>> {
            let h = token_hash.to_string();
            self.read(move |c| users::session(c, &h)).await
        }
        async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
            let h = token_hash.to_string();
            self.writer.run(move |c| users::delete_session(c, &h)).await
        }
        async fn record_login_failure(
            &self,
            id: UserId,
            now: DateTime<Utc>,
            max: u32,
            lock: chrono::Duration,
        ) -> StoreResult<Option<DateTime<Utc>>> {
            self.writer.run(move |c| users::record_login_failure(c, id, now, max, lock)).await
        }
        async fn reset_login_failures(&self, id: UserId) -> StoreResult<()> {
            self.writer.run(move |c| users::reset_login_failures(c, id)).await
        }
        async fn remember_login_address(&self, id: UserId, addr: String, now: DateTime<Utc>) -> StoreResult<()> {
            let addr_idx = self.cipher.blind_index("login_address", &addr);
            self.writer.run(move |c| users::remember_login_address(c, id, &addr_idx, now)).await
        }
        async fn known_login_address(&self, id: UserId, addr: String) -> StoreResult<bool> {
            let addr_idx = self.cipher.blind_index("login_address", &addr);
            self.read(move |c| users::known_login_address(c, id, &addr_idx)).await
        }
    }
    impl JobStore for SqliteStore {
        async fn try_lease(
            &self,
            job: &str,
            holder: &str,
            now: DateTime<Utc>,
            ttl: chrono::Duration,
        ) -> StoreResult<bool> {
            let (job, holder) = (job.to_string(), holder.to_string());
            self.writer.run(move |c| users::try_lease(c, &job, &holder, now, ttl)).await
        }
        async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64> {
            self.writer.run(move |c| users::purge_expired_sessions(c, now)).await
        }
        async fn release_leases(&self, holder: &str) -> StoreResult<u64> {
            let holder = holder.to_string();
            self.writer.run(move |c| users::release_leases(c, &holder)).await
        }
        async fn health(&self) -> StoreResult<kefu_store::Health> {
            let cipher = self.cipher.clone();
            self.read(move |c| users::health(c, &cipher)).await
        }
    }
}
