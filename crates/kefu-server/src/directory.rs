//! In-memory views of the staff: the directory, so that rendering a ticket
//! (first owner, assignee) never costs a query (filled at start and on every
//! lookup that misses), and the organisation snapshot — staff with their
//! profiles, teams and departments — cached for a few seconds so that
//! dispatch, guards and notices cost no query. Changes made on this node
//! drop the snapshot at once; other nodes see them within `ORG_TTL`. Loads
//! are never cached: dispatch reads them fresh and the store re-checks
//! capacity when it writes. (The service's `org` module fills the snapshot.)

use kefu_domain::action::StaffRef;
use kefu_domain::org::{Department, Membership, Team};
use kefu_domain::{DepartmentId, Role, TeamId, UserId};
use kefu_store::User;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

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

/// How long a node trusts its organisation snapshot.
pub const ORG_TTL: Duration = Duration::from_secs(5);

pub struct OrgSnapshot {
    pub users: Vec<User>,
    pub teams: Vec<Team>,
    pub departments: Vec<Department>,
    pub taken: Instant,
}

#[derive(Default)]
pub struct OrgCache(Mutex<Option<Arc<OrgSnapshot>>>);

impl OrgCache {
    /// The snapshot, if one was taken less than `ORG_TTL` ago.
    pub fn fresh(&self) -> Option<Arc<OrgSnapshot>> {
        let held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        held.as_ref().filter(|s| s.taken.elapsed() < ORG_TTL).cloned()
    }

    pub fn keep(&self, snapshot: Arc<OrgSnapshot>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(snapshot);
    }

    pub fn clear(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

impl OrgSnapshot {
    pub fn user(&self, id: UserId) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    pub fn team(&self, id: TeamId) -> Option<&Team> {
        self.teams.iter().find(|t| t.id == id)
    }

    /// A team by code or numeric id.
    pub fn team_by_key(&self, key: &str) -> Option<&Team> {
        self.teams.iter().find(|t| t.code == key || key.parse() == Ok(t.id.0))
    }

    pub fn department_by_key(&self, key: &str) -> Option<&Department> {
        self.departments.iter().find(|d| d.code == key || key.parse() == Ok(d.id.0))
    }

    pub fn membership(&self, u: &User) -> Membership {
        let team = u.profile.team;
        Membership {
            team,
            department: team.and_then(|t| self.team(t)).map(|t| t.department),
            leads: self.teams.iter().filter(|t| t.lead == Some(u.id)).map(|t| t.id).collect(),
            tier: u.profile.tier_for(u.role),
        }
    }

    pub fn staff_ref(&self, u: &User) -> StaffRef {
        StaffRef { id: u.id, username: u.username.clone(), role: u.role, active: u.active, org: self.membership(u) }
    }

    /// The lead of a team, if it has one and they are active.
    pub fn lead_of(&self, team: Option<TeamId>) -> Option<UserId> {
        team.and_then(|t| self.team(t)).and_then(|t| t.lead).filter(|l| self.user(*l).is_some_and(|u| u.active))
    }

    /// Active members of a team, or of every team of a department.
    pub fn members(&self, team: Option<TeamId>, department: Option<DepartmentId>) -> Vec<UserId> {
        self.users
            .iter()
            .filter(|u| u.active)
            .filter(|u| {
                team.is_some_and(|t| u.profile.team == Some(t))
                    || department.is_some_and(|d| self.membership(u).department == Some(d))
            })
            .map(|u| u.id)
            .collect()
    }

    pub fn with_role(&self, role: Role) -> Vec<UserId> {
        self.users.iter().filter(|u| u.active && u.role == role).map(|u| u.id).collect()
    }

    /// Who hears of a team's trouble: its lead, else the supervisors.
    pub fn lead_or_supervisors(&self, team: Option<TeamId>) -> Vec<UserId> {
        self.lead_of(team).map_or_else(|| self.with_role(Role::Supervisor), |l| vec![l])
    }

    pub fn username(&self, id: UserId) -> String {
        self.user(id).map_or_else(|| format!("#{id}"), |u| u.username.clone())
    }
}
