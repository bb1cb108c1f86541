//! Staff accounts: adding, passwords, enabling, login and logout, and
//! finding a colleague by username or id.

use super::*;
use crate::auth::{check_password_policy, new_token, token_hash, verify_password};
use crate::directory::UserSummary;
use crate::error::ApiError;
use chrono::{DateTime, Duration, Utc};
use kefu_domain::flow::Actor;
use kefu_domain::validate::required_text;
use kefu_domain::{FieldError, Role, UserId};
use kefu_store::*;

/// The body of a successful login.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: UserSummary,
}

impl<S: Store> Kefu<S> {
    /// The id of an account kefu acts as (the bot, the inbound channels):
    /// made on first use, inactive — it cannot log in and is never
    /// dispatched to — and remembered in `cell`. Two nodes making it at once
    /// end up with the one that was written.
    pub(crate) async fn service_account(
        &self,
        cell: &std::sync::OnceLock<UserId>,
        username: &str,
        display: &str,
    ) -> Result<UserId, ApiError> {
        if let Some(id) = cell.get() {
            return Ok(*id);
        }
        let user = match self.store.user_by_username(username).await? {
            Some(u) => u,
            None => {
                let new = NewUser {
                    username: username.into(),
                    display_name: display.into(),
                    role: Role::Agent,
                    // Not a password hash: no password verifies against it.
                    password_hash: "!".into(),
                    now: self.now(),
                };
                match self.store.create_user(new).await {
                    Ok(u) => self.store.set_account(u.id, None, Some(false)).await?,
                    Err(StoreError::Conflict { .. }) => self
                        .store
                        .user_by_username(username)
                        .await?
                        .ok_or(ApiError::Internal(format!("account {username} vanished")))?,
                    Err(e) => return Err(e.into()),
                }
            }
        };
        self.core.directory.remember(&user);
        let _ = cell.set(user.id);
        Ok(user.id)
    }

    pub async fn add_user(
        &self,
        username: &str,
        role: Role,
        name: Option<&str>,
        password: &str,
    ) -> Result<UserSummary, ApiError> {
        let username = required_text(Some(username), "username", 64)?;
        if !valid_username(&username) {
            return Err(FieldError::new(
                "username",
                "a username uses letters, digits, '_', '-' and '.' only",
                "用户名只能包含字母、数字、下划线、连字符和点",
            )
            .into());
        }
        check_password_policy(password)?;
        let cost = self.core.settings.password_cost;
        let pw = password.to_string();
        let hash = tokio::task::spawn_blocking(move || cost.hash(&pw))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))??;
        let display_name = name.map_or_else(|| username.clone(), str::to_string);
        let user = self
            .store
            .create_user(NewUser { username, display_name, role, password_hash: hash, now: self.now() })
            .await?;
        self.core.directory.remember(&user);
        Ok((&user).into())
    }

    pub async fn set_password(&self, username: &str, password: &str) -> Result<(), ApiError> {
        check_password_policy(password)?;
        let user = self
            .store
            .user_by_username(username)
            .await?
            .ok_or(ApiError::NotFound { what: "user", what_zh: "用户" })?;
        let cost = self.core.settings.password_cost;
        let pw = password.to_string();
        let hash = tokio::task::spawn_blocking(move || cost.hash(&pw))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))??;
        Ok(self.store.set_password(user.id, hash).await?)
    }

    /// Changes a staff member's role or disables/enables the account; the
    /// account's sessions end on every node.
    pub async fn set_account(
        &self,
        username: &str,
        role: Option<Role>,
        active: Option<bool>,
    ) -> Result<UserSummary, ApiError> {
        let user = self
            .store
            .user_by_username(username)
            .await?
            .ok_or(ApiError::NotFound { what: "user", what_zh: "用户" })?;
        let user = self.store.set_account(user.id, role, active).await?;
        self.core.directory.remember(&user);
        self.forget_org();
        Ok((&user).into())
    }

    /// Checks a password. Every refusal is the same 401, whether the
    /// account is unknown, the password wrong or the attempt throttled, so
    /// nobody learns who exists or who is being attacked. Throttles (policy
    /// `[security]`): per address for any accounts; per (account, address)
    /// with doubling waits; per account from anywhere, which guards the
    /// account so that only addresses it logged in from may try — an
    /// attacker elsewhere cannot lock the real user out.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client: Option<std::net::IpAddr>,
    ) -> Result<LoginResponse, ApiError> {
        const BAD: ApiError =
            ApiError::Unauthorized { message: "wrong username or password", message_zh: "用户名或密码错误" };
        let now = self.now();
        let security = &self.core.policy.security;
        let ip = client.unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let throttled = !self.core.login_limiter.allow(ip, now, security.login_attempts_per_minute)
            || !self.core.login_pairs.allows(username, ip, now);
        // A name no account can have is not looked up (nor sent to the database).
        let user = match valid_username(username) {
            true => self.store.user_by_username(username).await?,
            false => None,
        };
        let addr = ip.to_string();
        let guarded = match user.as_ref() {
            Some(u) if u.locked_until.is_some_and(|t| t > now) => {
                !self.store.known_login_address(u.id, addr.clone()).await?
            }
            _ => false,
        };
        // Verify even when the answer is already no, so that timing does
        // not tell an unknown account or a throttled one from a wrong password.
        let hash = user.as_ref().map_or_else(|| DUMMY_HASH.to_string(), |u| u.password_hash.clone());
        let pw = password.to_string();
        let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &hash))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        if throttled || guarded {
            return Err(BAD);
        }
        let known = user.as_ref().map(|u| u.id);
        let Some(user) = user.filter(|u| u.active && ok) else {
            self.core.login_pairs.failed(username, ip, now, security);
            if let Some(id) = known.filter(|_| !ok) {
                let lock = Duration::minutes(i64::from(security.lockout_minutes));
                if self.store.record_login_failure(id, now, security.max_failed_logins, lock).await?.is_some() {
                    tracing::warn!(user = %id, "account guarded after repeated wrong passwords");
                }
            }
            return Err(BAD);
        };
        self.core.login_pairs.succeeded(username, ip);
        if user.failed_logins > 0 || user.locked_until.is_some() {
            self.store.reset_login_failures(user.id).await?;
        }
        self.store.remember_login_address(user.id, addr, now).await?;
        let token = new_token()?;
        let expires_at = now + self.core.settings.token_ttl;
        self.store
            .create_session(Session { token_hash: token_hash(&token), user_id: user.id, created_at: now, expires_at })
            .await?;
        self.core.directory.remember(&user);
        Ok(LoginResponse { token, expires_at, user: (&user).into() })
    }

    pub async fn logout(&self, hash: &str) -> Result<(), ApiError> {
        Ok(self.store.delete_session(hash).await?)
    }

    /// A staff member named by username or numeric id.
    pub async fn find_staff(&self, name: &str, field: &str) -> Result<UserSummary, ApiError> {
        let unknown = || FieldError::new(field, format!("unknown user '{name}'"), format!("用户“{name}”不存在"));
        if let Some(u) = self.core.directory.by_username(name) {
            return Ok(u);
        }
        let user = match name.parse::<i64>() {
            Ok(id) => self.store.user_by_id(UserId(id)).await?,
            // A name no account can have is not sent to the database.
            Err(_) if valid_username(name) => self.store.user_by_username(name).await?,
            Err(_) => None,
        };
        let user = user.ok_or_else(unknown)?;
        self.core.directory.remember(&user);
        Ok((&user).into())
    }
}

/// What a username may be: 1 to 64 ASCII letters, digits, `_`, `-`, `.`.
pub fn valid_username(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// An argon2id hash of a random string, verified against when the username
/// is unknown.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$R7dT8KqgRS2U7W4uM1l0mU4P6m8gX0mOQWq6+9YbG1k";

impl<S: Store> Kefu<S> {
    /// The actor of a live session, from the cache or the store.
    ///
    /// Read from the store on every request, on purpose: a password change,
    /// a disabled account or a new role ends the sessions on every node at
    /// once, which no per-node cache of sessions can promise.
    pub async fn authenticate(&self, hash: &str) -> Result<Option<Actor>, ApiError> {
        let now = self.core.clock.now();
        let Some(session) = self.store.session(hash).await? else {
            return Ok(None);
        };
        if session.expires_at <= now {
            return Ok(None);
        }
        let Some(user) = self.store.user_by_id(session.user_id).await? else {
            return Ok(None);
        };
        if !user.active {
            return Ok(None);
        }
        let org = self.org().await?.membership(&user);
        let actor = Actor { id: user.id, username: user.username.clone(), role: user.role, org };
        self.core.directory.remember(&user);
        Ok(Some(actor))
    }
}
