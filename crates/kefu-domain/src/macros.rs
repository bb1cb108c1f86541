//! Canned replies and macros (快捷回复): a named step an agent applies to a
//! ticket at once — a reply to the customer or an internal note, and
//! optionally a new priority. Shared macros belong to everyone (kept by the
//! roles the access policy names), personal ones to their owner. Texts may
//! name `{number}`, `{customer}` and `{agent}`, filled when applied; any
//! other placeholder is refused when saved, so a typo never reaches a
//! customer as a gap.

use crate::enums::Priority;
use crate::error::FieldError;
use crate::ids::{MacroId, UserId};
use crate::intake::limits;
use crate::validate::{optional_free_text, required_text};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The placeholders a macro's text may use.
pub const PLACEHOLDERS: &[&str] = &["number", "customer", "agent"];

/// What a macro does, as validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MacroSpec {
    pub name: String,
    pub shared: bool,
    /// The reply or note it adds.
    pub body: Option<String>,
    /// The body is an internal note instead of a reply to the customer.
    pub internal: bool,
    /// The priority it sets.
    pub priority: Option<Priority>,
}

/// A stored macro.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Macro {
    pub id: MacroId,
    pub owner: UserId,
    pub name: String,
    pub shared: bool,
    pub body: Option<String>,
    pub internal: bool,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub priority: Option<Priority>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Macro {
    pub fn spec(&self) -> MacroSpec {
        MacroSpec {
            name: self.name.clone(),
            shared: self.shared,
            body: self.body.clone(),
            internal: self.internal,
            priority: self.priority,
        }
    }

    /// The body for one ticket, placeholders filled.
    pub fn body_for(&self, number: &str, customer: &str, agent: &str) -> Option<String> {
        let vars = [("number", number), ("customer", customer), ("agent", agent)];
        self.body.as_deref().map(|b| crate::templates::fill(b, &vars))
    }
}

/// The body of `POST /api/v1/macros` (and, every field optional, of `PATCH`).
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MacroInput {
    /// Its name in the menu, at most 40 characters.
    pub name: Option<String>,
    /// Everyone's (true) or the owner's only (false, the default).
    pub shared: Option<bool>,
    /// The reply to the customer (or, with `internal`, the note) it adds.
    pub body: Option<String>,
    pub internal: Option<bool>,
    /// urgent, important or normal.
    pub priority: Option<String>,
}

pub const NAME_LIMIT: usize = 40;

impl MacroInput {
    /// The input laid over a stored macro (for PATCH), or over nothing.
    /// An empty `body` or `priority` clears it.
    pub fn over(self, base: Option<&MacroSpec>) -> MacroInput {
        let Some(b) = base else { return self };
        MacroInput {
            name: self.name.or_else(|| Some(b.name.clone())),
            shared: self.shared.or(Some(b.shared)),
            body: self.body.or_else(|| b.body.clone()),
            internal: self.internal.or(Some(b.internal)),
            priority: self.priority.or_else(|| b.priority.map(|p| p.as_str().to_string())),
        }
    }

    pub fn parse(&self) -> Result<MacroSpec, FieldError> {
        match self.field_errors().into_iter().next() {
            Some(e) => Err(e),
            None => Ok(self.spec_unchecked()),
        }
    }

    /// Every problem of the input at once (a form shows them all).
    pub fn field_errors(&self) -> Vec<FieldError> {
        let mut out = Vec::new();
        if let Err(e) = required_text(self.name.as_deref(), "name", NAME_LIMIT) {
            out.push(e);
        }
        match optional_free_text(self.body.as_deref(), "body", limits::COMMENT) {
            Err(e) => out.push(e),
            Ok(Some(body)) => out.extend(unknown_placeholder(&body)),
            Ok(None) => {}
        }
        let priority = self.priority.as_deref().map(str::trim).filter(|p| !p.is_empty());
        if let Some(Err(e)) = priority.map(|p| Priority::parse(p, "priority")) {
            out.push(e);
        }
        let body = self.body.as_deref().is_some_and(|b| !b.trim().is_empty());
        if out.is_empty() && !body && priority.is_none() {
            out.push(FieldError::new(
                "body",
                "a macro must add a reply or note, or set a priority",
                "快捷回复至少要添加回复或备注，或设置优先级",
            ));
        }
        out
    }

    fn spec_unchecked(&self) -> MacroSpec {
        let priority = self.priority.as_deref().map(str::trim).filter(|p| !p.is_empty());
        MacroSpec {
            name: self.name.as_deref().unwrap_or_default().trim().to_string(),
            shared: self.shared.unwrap_or(false),
            body: optional_free_text(self.body.as_deref(), "body", limits::COMMENT).ok().flatten(),
            internal: self.internal.unwrap_or(false),
            priority: priority.and_then(|p| Priority::parse(p, "priority").ok()),
        }
    }
}

fn unknown_placeholder(body: &str) -> Option<FieldError> {
    let bad = crate::templates::placeholders(body).find(|p| !PLACEHOLDERS.contains(p))?;
    Some(FieldError::new(
        "body",
        format!("unknown placeholder '{{{bad}}}'; the placeholders are '{{number}}', '{{customer}}' and '{{agent}}'"),
        format!(
            "未知的占位符“{{{bad}}}”，可用“{{number}}”（工单号）、“{{customer}}”（客户姓名）、“{{agent}}”（处理人）"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, body: Option<&str>, priority: Option<&str>) -> MacroInput {
        MacroInput {
            name: Some(name.into()),
            body: body.map(Into::into),
            priority: priority.map(Into::into),
            ..Default::default()
        }
    }

    #[test]
    fn a_macro_needs_a_name_and_something_to_do() {
        let e = input("", None, None).field_errors();
        assert_eq!(e.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["name"]);
        let e = input("空宏", None, Some("  ")).parse().unwrap_err();
        assert_eq!(e.field, "body");
        assert!(input("提级", None, Some("important")).parse().is_ok());
        assert!(input("致歉", Some("您好"), None).parse().is_ok());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let long = "名".repeat(NAME_LIMIT + 1);
        let e = input(&long, Some("您好{nmuber}"), Some("最高")).field_errors();
        assert_eq!(e.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["name", "body", "priority"]);
        assert!(e[1].message_zh.contains("{nmuber}"), "{}", e[1].message_zh);
    }

    #[test]
    fn placeholders_are_filled_when_applied() {
        let spec =
            input("致歉", Some("{customer}您好，工单{number}已由{agent}跟进。"), Some("important")).parse().unwrap();
        assert_eq!(spec.priority, Some(Priority::Important));
        let m = Macro {
            id: MacroId(1),
            owner: UserId(1),
            name: spec.name,
            shared: spec.shared,
            body: spec.body,
            internal: spec.internal,
            priority: spec.priority,
            created_at: DateTime::UNIX_EPOCH,
            updated_at: DateTime::UNIX_EPOCH,
        };
        assert_eq!(m.body_for("GD1", "张三", "赵海燕").unwrap(), "张三您好，工单GD1已由赵海燕跟进。");
    }

    #[test]
    fn a_patch_keeps_what_it_does_not_name_and_clears_what_it_empties() {
        let base = input("致歉", Some("您好"), Some("important")).parse().unwrap();
        let patched = MacroInput { priority: Some(String::new()), ..Default::default() }.over(Some(&base)).parse();
        let patched = patched.unwrap();
        assert_eq!((patched.name.as_str(), patched.body.as_deref(), patched.priority), ("致歉", Some("您好"), None));
    }

    #[test]
    fn id_numbers_in_a_body_are_redacted_like_any_free_text() {
        let spec = input("x", Some("证件 11010519491231002X"), None).parse().unwrap();
        assert!(!spec.body.unwrap().contains("11010519491231002X"));
    }
}
