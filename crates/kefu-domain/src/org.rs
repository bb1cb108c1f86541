//! The organisation: departments (客服部, 技术部 …), teams (班组) with
//! a lead, and each staff member's working profile — tier (L1/L2/L3),
//! skills, capacity and on-duty state — which dispatch reads.

use crate::enums::{Role, TicketType};
use crate::error::FieldError;
use crate::ids::{DepartmentId, TeamId, UserId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Department {
    pub id: DepartmentId,
    /// Short stable code used by the policy's dispatch rules (`technical`).
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Team {
    pub id: TeamId,
    pub department: DepartmentId,
    pub code: String,
    pub name: String,
    /// The team lead (班组长): dispatches the team's queue and hears of its breaches.
    pub lead: Option<UserId>,
}

/// What a staff member can handle. An empty list means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Skills {
    /// Ticket types (投诉, 故障 …).
    pub types: Vec<TicketType>,
    /// Business lines (宽带, 移动, 固话, IPTV …).
    pub business_lines: Vec<String>,
    /// Regions served (districts, cities), matched against the ticket's
    /// location or the customer's address.
    pub regions: Vec<String>,
}

impl Skills {
    /// The skills as a person reads them, in Chinese or English
    /// ("类型：故障报修、投诉；业务线：宽带"); "任意" / "any" when unrestricted.
    pub fn describe(&self, zh: bool) -> String {
        let types: Vec<&str> = self.types.iter().map(|t| if zh { t.label_zh() } else { t.as_str() }).collect();
        let parts = [
            (("类型", "types"), types.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
            (("业务线", "business lines"), self.business_lines.clone()),
            (("地区", "regions"), self.regions.clone()),
        ];
        let text: Vec<String> = parts
            .iter()
            .filter(|(_, l)| !l.is_empty())
            .map(|((z, e), l)| if zh { format!("{z}：{}", l.join("、")) } else { format!("{e}: {}", l.join(", ")) })
            .collect();
        match (text.is_empty(), zh) {
            (true, true) => "任意".into(),
            (true, false) => "any".into(),
            (false, true) => text.join("；"),
            (false, false) => text.join("; "),
        }
    }
}

/// A staff member's working profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StaffProfile {
    pub team: Option<TeamId>,
    /// Support tier 1–3; None: the role's (agent L1, engineer L2,
    /// complaint specialist L3).
    pub tier: Option<u8>,
    pub skills: Skills,
    /// Open tickets held at most; automatic dispatch never goes beyond.
    /// None: the policy's default capacity.
    pub capacity: Option<u32>,
    pub on_duty: bool,
    /// Work e-mail address: scheduled reports go there.
    #[serde(default)]
    pub email: Option<String>,
}

impl Default for StaffProfile {
    /// A new account: no team, its role's tier, any skill, default capacity, on duty.
    fn default() -> Self {
        StaffProfile { team: None, tier: None, skills: Skills::default(), capacity: None, on_duty: true, email: None }
    }
}

impl StaffProfile {
    pub fn tier_for(&self, role: Role) -> Option<u8> {
        self.tier.or(role.tier())
    }

    /// The part of the profile a staff record keeps the history of.
    pub fn placement(&self) -> Placement {
        Placement { team: self.team, tier: self.tier, skills: self.skills.clone() }
    }
}

/// Where a staff member stands: team, tier and skills. A change of any of
/// them is kept on the staff record; capacity, duty and e-mail are
/// working settings and are not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Placement {
    pub team: Option<TeamId>,
    pub tier: Option<u8>,
    pub skills: Skills,
}

/// Where an actor stands in the organisation; read by flow guards
/// (team lead, transfer to a team or department).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Membership {
    pub team: Option<TeamId>,
    pub department: Option<DepartmentId>,
    /// Teams this person leads.
    pub leads: Vec<TeamId>,
    pub tier: Option<u8>,
}

/// Checks a department or team code: lowercase letters, digits, `-`, `_`.
pub fn parse_code(raw: Option<&str>, field: &str) -> Result<String, FieldError> {
    let code = crate::validate::required_text(raw, field, 32)?;
    if code.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_') {
        return Ok(code);
    }
    Err(FieldError::new(
        field,
        format!("{field} uses lowercase letters, digits, '-' and '_' only"),
        format!("{field} 只能包含小写字母、数字、连字符和下划线"),
    ))
}

/// Checks a tier.
pub fn parse_tier(v: i64, field: &str) -> Result<u8, FieldError> {
    if (1..=3).contains(&v) {
        return Ok(v as u8);
    }
    Err(FieldError::new(field, "tier must be 1, 2 or 3", "层级必须是 1、2 或 3"))
}

/// Trims, drops empties and duplicates, and bounds a list of skill words.
pub fn parse_words(words: Vec<String>, field: &str) -> Result<Vec<String>, FieldError> {
    let mut out: Vec<String> = Vec::new();
    for w in words {
        let w = crate::validate::required_text(Some(&w), field, 32)?;
        if !out.contains(&w) {
            out.push(w);
        }
    }
    if out.len() > 50 {
        return Err(FieldError::new(field, "at most 50 entries", "最多 50 项"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_tiers() {
        assert_eq!(parse_code(Some("tech-2"), "code").unwrap(), "tech-2");
        assert_eq!(parse_code(Some("Tech"), "code").unwrap_err().field, "code");
        assert_eq!(parse_code(None, "code").unwrap_err().field, "code");
        assert_eq!(parse_tier(3, "tier").unwrap(), 3);
        assert!(parse_tier(4, "tier").is_err() && parse_tier(0, "tier").is_err());
        assert_eq!(parse_words(vec![" 宽带 ".into(), "宽带".into()], "x").unwrap(), vec!["宽带".to_string()]);
        assert!(parse_words(vec!["".into()], "x").is_err());
    }

    #[test]
    fn new_accounts_start_at_their_roles_tier() {
        assert_eq!(StaffProfile::default().tier_for(Role::Engineer), Some(2));
        let s = Skills {
            types: vec![TicketType::Fault, TicketType::Complaint],
            business_lines: vec!["宽带".into()],
            regions: vec![],
        };
        assert_eq!(s.describe(true), "类型：故障报修、投诉；业务线：宽带");
        assert_eq!(s.describe(false), "types: fault, complaint; business lines: 宽带");
        assert_eq!(Skills::default().describe(true), "任意");
        assert_eq!(StaffProfile::default().tier_for(Role::Inspector), None);
        let p = StaffProfile { tier: Some(3), ..Default::default() };
        assert_eq!(p.tier_for(Role::Agent), Some(3));
    }
}
