//! An in-memory directory of staff, so that rendering a ticket (first owner,
//! assignee) never costs a query. Staff are few; the directory is filled at
//! start and on every lookup that misses.

use kefu_domain::{Role, UserId};
use kefu_store::User;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::RwLock;

/// How a staff member appears on a ticket.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct UserSummary {
    pub id: UserId,
    pub username: String,
    pub name: String,
    pub role: Role,
    #[serde(skip)]
    pub active: bool,
}

impl From<&User> for UserSummary {
    fn from(u: &User) -> Self {
        UserSummary {
            id: u.id,
            username: u.username.clone(),
            name: u.display_name.clone(),
            role: u.role,
            active: u.active,
        }
    }
}

#[derive(Default)]
pub struct Directory(RwLock<HashMap<UserId, UserSummary>>);

impl Directory {
    pub fn remember(&self, u: &User) {
        self.0.write().unwrap_or_else(|e| e.into_inner()).insert(u.id, u.into());
    }

    pub fn get(&self, id: UserId) -> Option<UserSummary> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).get(&id).cloned()
    }

    /// A summary even for an id the directory has not seen (shown by id).
    pub fn summary(&self, id: UserId) -> UserSummary {
        self.get(id).unwrap_or_else(|| UserSummary {
            id,
            username: format!("#{id}"),
            name: format!("#{id}"),
            role: Role::Agent,
            active: false,
        })
    }

    pub fn by_username(&self, name: &str) -> Option<UserSummary> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).values().find(|u| u.username == name).cloned()
    }
}
