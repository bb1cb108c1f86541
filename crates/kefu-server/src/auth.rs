//! Staff authentication: argon2id password hashes, random bearer tokens of
//! which only the SHA-256 is stored, sessions that expire, and the
//! `CurrentUser` extractor every protected handler takes.

use crate::AppState;
use crate::error::ApiError;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use kefu_domain::flow::Actor;
use kefu_store::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

/// argon2id cost. Production uses the crate's recommended defaults; tests
/// may choose cheaper ones.
#[derive(Debug, Clone, Copy)]
pub struct PasswordCost {
    pub memory_kib: u32,
    pub iterations: u32,
}

impl Default for PasswordCost {
    fn default() -> Self {
        PasswordCost { memory_kib: Params::DEFAULT_M_COST, iterations: Params::DEFAULT_T_COST }
    }
}

impl PasswordCost {
    fn hasher(self) -> Argon2<'static> {
        let params = Params::new(self.memory_kib, self.iterations, 1, None).unwrap_or_default();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    pub fn hash(self, password: &str) -> Result<String, ApiError> {
        self.hasher()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| ApiError::Internal(format!("password hashing failed: {e}")))
    }
}

/// Verifies with the parameters recorded in the hash itself.
pub fn verify_password(password: &str, hash: &str) -> bool {
    Argon2::default().verify_password(password.as_bytes(), hash).is_ok()
}

/// Minimum password rules for staff accounts.
pub fn check_password_policy(password: &str) -> Result<(), kefu_domain::FieldError> {
    let long_enough = password.chars().count() >= 8;
    let kinds = [
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_ascii_alphanumeric()),
    ]
    .iter()
    .filter(|k| **k)
    .count();
    if long_enough && kinds >= 2 && password.len() <= 256 {
        return Ok(());
    }
    Err(kefu_domain::FieldError::new(
        "password",
        "a password needs at least 8 characters of at least two kinds (lower case, upper case, digits, symbols)",
        "密码至少 8 位，且包含小写字母、大写字母、数字、符号中的至少两类",
    ))
}

pub fn new_token() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::Internal(format!("no randomness: {e}")))?;
    Ok(hex(&bytes))
}

pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Compares two secrets in time that does not depend on where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Login attempts per client address in the last minute, on this node.
#[derive(Default)]
pub struct LoginLimiter(Mutex<HashMap<std::net::IpAddr, Vec<DateTime<Utc>>>>);

impl LoginLimiter {
    /// Counts an attempt; false once `per_minute` were made in the last
    /// minute.
    pub fn allow(&self, ip: std::net::IpAddr, now: DateTime<Utc>, per_minute: u32) -> bool {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 10_000 {
            map.retain(|_, v| v.iter().any(|t| (now - *t).num_seconds() < 60));
        }
        let attempts = map.entry(ip).or_default();
        attempts.retain(|t| (now - *t).num_seconds() < 60);
        if attempts.len() >= per_minute as usize {
            return false;
        }
        attempts.push(now);
        true
    }
}

/// Wrong passwords per (account name, address) on this node, and when the
/// next try is allowed: a guesser at one address slows down exponentially
/// while the real user elsewhere is untouched.
#[derive(Default)]
pub struct PairThrottle(Mutex<HashMap<(String, std::net::IpAddr), PairState>>);

#[derive(Clone, Copy)]
struct PairState {
    failures: u32,
    next_at: DateTime<Utc>,
}

impl PairThrottle {
    /// Whether the pair may try now.
    pub fn allows(&self, name: &str, ip: std::net::IpAddr, now: DateTime<Utc>) -> bool {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&(name.to_lowercase(), ip)).is_none_or(|s| now >= s.next_at)
    }

    /// Counts a wrong password; past `free` failures the next try waits
    /// `first` seconds, doubling each time, up to `max`.
    pub fn failed(
        &self,
        name: &str,
        ip: std::net::IpAddr,
        now: DateTime<Utc>,
        p: &kefu_domain::policy::SecurityPolicy,
    ) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            let horizon = chrono::Duration::seconds(i64::from(p.pair_max_delay_seconds));
            map.retain(|_, s| now - s.next_at < horizon);
        }
        let s = map.entry((name.to_lowercase(), ip)).or_insert(PairState { failures: 0, next_at: now });
        s.failures += 1;
        let over = s.failures.saturating_sub(p.pair_free_failures);
        let wait = match over {
            0 => 0,
            n => (u64::from(p.pair_first_delay_seconds) << (n - 1).min(30)).min(u64::from(p.pair_max_delay_seconds)),
        };
        s.next_at = now + chrono::Duration::seconds(wait as i64);
    }

    pub fn succeeded(&self, name: &str, ip: std::net::IpAddr) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(&(name.to_lowercase(), ip));
    }
}

/// The authenticated staff member behind the bearer token.
#[derive(Clone)]
pub struct CurrentUser {
    pub actor: Actor,
    pub token_hash: String,
}

const NO_TOKEN: ApiError = ApiError::Unauthorized {
    message: "missing or invalid bearer token; log in at POST /api/v1/auth/login",
    message_zh: "缺少或无效的访问令牌，请先登录",
};

impl<S: Store> FromRequestParts<AppState<S>> for CurrentUser {
    type Rejection = ApiError;

    /// The access middleware has usually authenticated the request already.
    async fn from_request_parts(parts: &mut Parts, state: &AppState<S>) -> Result<Self, ApiError> {
        if let Some(user) = parts.extensions.get::<CurrentUser>() {
            return Ok(user.clone());
        }
        authenticate(state, &parts.headers).await
    }
}

/// The user behind the request's bearer token, or 401.
pub async fn authenticate<S: Store>(
    state: &AppState<S>,
    headers: &axum::http::HeaderMap,
) -> Result<CurrentUser, ApiError> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .ok_or(NO_TOKEN)?;
    let hash = token_hash(token.trim());
    let actor = state.kefu.authenticate(&hash).await?.ok_or(NO_TOKEN)?;
    Ok(CurrentUser { actor, token_hash: hash })
}

/// The token of an `Authorization: Bearer <token>` header; the scheme is
/// case-insensitive (RFC 9110 §11.1).
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let cost = PasswordCost { memory_kib: 1024, iterations: 1 };
        let h = cost.hash("Secret123").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("Secret123", &h));
        assert!(!verify_password("secret123", &h));
        assert!(!verify_password("Secret123", "not a hash"));
    }

    #[test]
    fn password_policy() {
        assert!(check_password_policy("abcdefgh").is_err());
        assert!(check_password_policy("abc123").is_err());
        assert!(check_password_policy("abcdef12").is_ok());
        assert!(check_password_policy("客服密码abc12345").is_ok());
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = new_token().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, new_token().unwrap());
        assert_ne!(token_hash(&a), a);
    }
}
