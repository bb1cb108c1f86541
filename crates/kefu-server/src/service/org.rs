//! The organisation as the service keeps it: departments, teams, staff
//! profiles (team, tier, skills, capacity, duty), the dispatch plan for a
//! ticket, and the cached snapshot (`directory::OrgSnapshot`) they all read.

use crate::directory::OrgSnapshot;
use crate::error::ApiError;
use crate::service::Kefu;
use kefu_domain::dispatch::{Candidate, Plan};
use kefu_domain::org::{Department, Skills, StaffProfile, Team, parse_code, parse_tier, parse_words};
use kefu_domain::ticket::Ticket;
use kefu_domain::validate::required_text;
use kefu_domain::{DepartmentId, FieldError, Role, TeamId, TicketType, UserId};
use kefu_store::{NewTeam, Store, User};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Instant;

impl<S: Store> Kefu<S> {
    /// The organisation snapshot, at most `ORG_TTL` old.
    pub async fn org(&self) -> Result<Arc<OrgSnapshot>, ApiError> {
        if let Some(s) = self.core.org.fresh() {
            return Ok(s);
        }
        let users = self.store.list_users().await?;
        for u in &users {
            self.core.directory.remember(u);
        }
        let snap = Arc::new(OrgSnapshot {
            users,
            teams: self.store.teams().await?,
            departments: self.store.departments().await?,
            taken: Instant::now(),
        });
        self.core.org.keep(snap.clone());
        Ok(snap)
    }

    /// Drops the snapshot after a change to the organisation.
    pub fn forget_org(&self) {
        self.core.org.clear();
    }

    /// Dispatch candidates with their loads read now.
    pub async fn plan(&self, t: &Ticket, tier: Option<u8>) -> Result<(Plan, Arc<OrgSnapshot>), ApiError> {
        let org = self.org().await?;
        let default_capacity = self.core.policy.dispatch.default_capacity;
        let handlers: Vec<&User> = org.users.iter().filter(|u| u.active && u.profile.on_duty).collect();
        let loads = self.store.staff_loads(handlers.iter().map(|u| u.id).collect()).await?;
        let candidates: Vec<Candidate> = handlers
            .iter()
            .filter(|u| matches!(u.role, Role::Agent | Role::Engineer | Role::ComplaintSpecialist | Role::Supervisor))
            .map(|u| Candidate {
                id: u.id,
                username: u.username.clone(),
                tier: u.profile.tier_for(u.role),
                team: u.profile.team,
                skills: u.profile.skills.clone(),
                capacity: u.profile.capacity.unwrap_or(default_capacity),
                on_duty: u.profile.on_duty,
                active: u.active,
                load: loads.iter().find(|(id, _)| *id == u.id).map_or(0, |(_, n)| *n),
                last_assigned_at: u.last_assigned_at,
            })
            .collect();
        let plan = self.core.policy.dispatch.plan(t, tier, &candidates, &org.teams, &org.departments);
        Ok((plan, org))
    }

    pub async fn create_department(&self, code: Option<&str>, name: Option<&str>) -> Result<Department, ApiError> {
        let code = parse_code(code, "code")?;
        let name = required_text(name, "name", 64)?;
        let d = self.store.create_department(code, name, self.now()).await?;
        self.forget_org();
        Ok(d)
    }

    pub async fn create_team(
        &self,
        department: Option<&str>,
        code: Option<&str>,
        name: Option<&str>,
        lead: Option<&str>,
    ) -> Result<Team, ApiError> {
        let code = parse_code(code, "code")?;
        let name = required_text(name, "name", 64)?;
        let org = self.org().await?;
        let dept_key = required_text(department, "department", 64)?;
        let department = org.department_by_key(&dept_key).ok_or_else(|| unknown("department", &dept_key))?.id;
        let lead = match lead {
            Some(l) => Some(self.find_staff(l, "lead").await?.id),
            None => None,
        };
        let t = self.store.create_team(NewTeam { department, code, name, lead }, self.now()).await?;
        self.forget_org();
        Ok(t)
    }

    /// Renames a team and/or sets its lead (`lead: null` clears it).
    pub async fn update_team(&self, key: &str, body: &Map<String, Value>) -> Result<Team, ApiError> {
        let org = self.org().await?;
        let team = org.team_by_key(key).ok_or(ApiError::NotFound { what: "team", what_zh: "班组" })?;
        only_fields(body, &["name", "lead"])?;
        let name = match body.get("name") {
            None => None,
            Some(v) => Some(required_text(v.as_str(), "name", 64)?),
        };
        let lead = match body.get("lead") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(s)) => Some(Some(self.find_staff(s, "lead").await?.id)),
            Some(Value::Number(n)) => Some(Some(self.find_staff(&n.to_string(), "lead").await?.id)),
            Some(_) => {
                return Err(
                    FieldError::new("lead", "lead must be a username or null", "lead 必须是用户名或 null").into()
                );
            }
        };
        let t = self.store.update_team(team.id, name, lead).await?;
        self.forget_org();
        Ok(t)
    }

    /// Changes a staff member's profile; fields absent keep their value,
    /// `null` resets team, tier and capacity to none / the defaults.
    pub async fn set_profile(
        &self,
        key: &str,
        body: &Map<String, Value>,
        by: Option<UserId>,
    ) -> Result<User, ApiError> {
        let org = self.org().await?;
        let id = self.find_staff(key, "user").await?.id;
        let user = org.user(id).cloned().ok_or(ApiError::NotFound { what: "user", what_zh: "用户" })?;
        let mut p = user.profile.clone();
        only_fields(body, &["team", "tier", "skills", "capacity", "on_duty", "email"])?;
        if let Some(v) = body.get("email") {
            p.email = match v {
                Value::Null => None,
                Value::String(e) if e.trim().is_empty() => None,
                Value::String(e) => Some(parse_email(e.trim())?),
                _ => return Err(FieldError::new("email", "email must be text", "email 必须是文本").into()),
            };
        }
        if let Some(v) = body.get("team") {
            p.team = match v {
                Value::Null => None,
                v => {
                    let k = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                    Some(org.team_by_key(&k).ok_or_else(|| unknown("team", &k))?.id)
                }
            };
        }
        if let Some(v) = body.get("tier") {
            p.tier = match v {
                Value::Null => None,
                v => Some(parse_tier(v.as_i64().ok_or_else(|| bad_int("tier"))?, "tier")?),
            };
        }
        if let Some(v) = body.get("capacity") {
            p.capacity = match v {
                Value::Null => None,
                v => Some(v.as_u64().filter(|n| (1..=1000).contains(n)).ok_or_else(|| {
                    FieldError::new("capacity", "capacity must be 1 to 1000", "容量必须是 1 到 1000 之间的整数")
                })? as u32),
            };
        }
        if let Some(v) = body.get("on_duty") {
            p.on_duty = v.as_bool().ok_or_else(|| {
                FieldError::new("on_duty", "on_duty must be true or false", "on_duty 必须是 true 或 false")
            })?;
        }
        if let Some(v) = body.get("skills") {
            p.skills = parse_skills(v)?;
        }
        let u = self.store.set_profile(id, p, by, self.now()).await?;
        self.forget_org();
        Ok(u)
    }
}

/// A work e-mail address: one @, something either side, no spaces.
fn parse_email(e: &str) -> Result<String, FieldError> {
    let ok = e.len() <= 254
        && e.split('@').count() == 2
        && e.split('@').all(|p| !p.is_empty())
        && e.rsplit('@').next().is_some_and(|d| d.contains('.'))
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(e.to_string())
    } else {
        Err(FieldError::new(
            "email",
            "email must be an address like name@example.com",
            "email 须为形如 name@example.com 的地址",
        ))
    }
}

fn unknown(field: &str, key: &str) -> ApiError {
    FieldError::new(field, format!("unknown {field} '{key}'"), format!("{field}“{key}”不存在")).into()
}

fn bad_int(field: &str) -> FieldError {
    FieldError::new(field, format!("{field} must be a whole number"), format!("{field} 必须是整数"))
}

fn words(v: Option<&Value>, field: &str) -> Result<Vec<String>, FieldError> {
    let list = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(_) => {
            return Err(FieldError::new(field, format!("{field} must be a list"), format!("{field} 必须是列表")));
        }
    };
    let strings: Option<Vec<String>> = list.iter().map(|x| x.as_str().map(str::to_string)).collect();
    parse_words(strings.ok_or_else(|| FieldError::new(field, "entries must be text", "列表项必须是文本"))?, field)
}

/// Refuses a body field the request does not have, naming it.
fn only_fields(body: &Map<String, Value>, fields: &[&str]) -> Result<(), FieldError> {
    match body.keys().find(|k| !fields.contains(&k.as_str())) {
        Some(k) => Err(FieldError::new(
            k.clone(),
            format!("unknown field '{k}'; this body has: {}", fields.join(", ")),
            format!("未知字段“{k}”"),
        )),
        None => Ok(()),
    }
}

/// `{"types": [...], "business_lines": [...], "regions": [...]}`.
pub fn parse_skills(v: &Value) -> Result<Skills, FieldError> {
    let obj =
        v.as_object().ok_or_else(|| FieldError::new("skills", "skills must be an object", "skills 必须是对象"))?;
    if let Some(k) = obj.keys().find(|k| !matches!(k.as_str(), "types" | "business_lines" | "regions")) {
        return Err(FieldError::new(format!("skills.{k}"), "unknown skill kind", "未知的技能类别"));
    }
    let types = words(obj.get("types"), "skills.types")?
        .iter()
        .map(|t| TicketType::parse(t, "skills.types"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Skills {
        types,
        business_lines: words(obj.get("business_lines"), "skills.business_lines")?,
        regions: words(obj.get("regions"), "skills.regions")?,
    })
}

/// A staff member as listed by `GET /api/v1/users`: who, where, what they
/// handle and how much they hold.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct StaffView {
    pub id: UserId,
    pub username: String,
    pub name: String,
    pub role: Role,
    pub role_zh: &'static str,
    pub active: bool,
    pub team: Option<TeamId>,
    pub department: Option<DepartmentId>,
    /// Teams this person leads.
    pub leads: Vec<TeamId>,
    pub tier: Option<u8>,
    pub skills: Skills,
    pub capacity: u32,
    pub on_duty: bool,
    /// Work e-mail (scheduled reports).
    pub email: Option<String>,
    /// Open tickets held now.
    pub load: u32,
}

impl StaffView {
    pub fn new(u: &User, org: &OrgSnapshot, default_capacity: u32, load: u32) -> StaffView {
        let m = org.membership(u);
        let StaffProfile { skills, capacity, on_duty, email, .. } = u.profile.clone();
        StaffView {
            id: u.id,
            username: u.username.clone(),
            name: u.display_name.clone(),
            role: u.role,
            role_zh: u.role.label_zh(),
            active: u.active,
            team: m.team,
            department: m.department,
            leads: m.leads,
            tier: m.tier,
            skills,
            capacity: capacity.unwrap_or(default_capacity),
            on_duty,
            email,
            load,
        }
    }
}
