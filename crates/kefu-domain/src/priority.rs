//! Priority derivation (R-5): an ordered rule table from the policy file.
//! The first rule whose every condition matches gives the priority; a ticket
//! that matches none gets the default.

use crate::enums::{Priority, TicketType};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityPolicy {
    pub default: Priority,
    #[serde(default)]
    pub rules: Vec<PriorityRule>,
}

/// Empty lists mean "any". Keywords match the title or description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityRule {
    pub priority: Priority,
    #[serde(default)]
    pub types: Vec<TicketType>,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub customer_levels: Vec<String>,
}

impl PriorityRule {
    fn matches(&self, ticket_type: TicketType, text: &str, level: Option<&str>) -> bool {
        let type_ok = self.types.is_empty() || self.types.contains(&ticket_type);
        let kw_ok = self.keywords.is_empty() || self.keywords.iter().any(|k| text.contains(k.as_str()));
        let level_ok = self.customer_levels.is_empty()
            || level.is_some_and(|l| self.customer_levels.iter().any(|c| c.eq_ignore_ascii_case(l)));
        type_ok && kw_ok && level_ok
    }
}

impl PriorityPolicy {
    pub fn derive(&self, ticket_type: TicketType, title: &str, description: &str, level: Option<&str>) -> Priority {
        let text = format!("{title}\n{description}");
        self.rules.iter().find(|r| r.matches(ticket_type, &text, level)).map_or(self.default, |r| r.priority)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> PriorityPolicy {
        toml::from_str(
            r#"
            default = "normal"
            [[rules]]
            priority = "urgent"
            types = ["complaint", "fault"]
            [[rules]]
            priority = "urgent"
            keywords = ["工信部", "曝光"]
            [[rules]]
            priority = "important"
            customer_levels = ["vip"]
            "#,
        )
        .unwrap()
    }

    #[test]
    fn first_matching_rule_wins() {
        let p = policy();
        assert_eq!(p.derive(TicketType::Complaint, "信号差", "", None), Priority::Urgent);
        assert_eq!(p.derive(TicketType::Fault, "宽带断网", "", None), Priority::Urgent);
        assert_eq!(p.derive(TicketType::Consultation, "套餐", "要向工信部反映", None), Priority::Urgent);
        assert_eq!(p.derive(TicketType::Consultation, "套餐", "", Some("VIP")), Priority::Important);
        assert_eq!(p.derive(TicketType::Consultation, "套餐", "", Some("normal")), Priority::Normal);
        assert_eq!(p.derive(TicketType::Account, "余额", "", None), Priority::Normal);
    }
}
