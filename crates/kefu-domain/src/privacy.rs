//! Personal data (PIPL, R-40/R-41): which role sees which personal field in
//! full, which may reveal it with a logged reason, and how a masked value
//! looks. Masks follow the operator's manuals: phone `138****5678`, ID number
//! first 6 and last 4, name partially, address to the district. Free text
//! (descriptions, results, notes) gets phone and ID numbers masked too,
//! because customers and agents write them there.

use crate::enums::Role;
use crate::error::FieldError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A personal field of a ticket or customer, by its API path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum PersonalField {
    #[serde(rename = "customer.name")]
    Name,
    #[serde(rename = "customer.phone")]
    Phone,
    #[serde(rename = "customer.id_number")]
    IdNumber,
    #[serde(rename = "customer.address")]
    Address,
    #[serde(rename = "service_number")]
    ServiceNumber,
}

impl PersonalField {
    pub const ALL: &'static [PersonalField] = &[
        PersonalField::Name,
        PersonalField::Phone,
        PersonalField::IdNumber,
        PersonalField::Address,
        PersonalField::ServiceNumber,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PersonalField::Name => "customer.name",
            PersonalField::Phone => "customer.phone",
            PersonalField::IdNumber => "customer.id_number",
            PersonalField::Address => "customer.address",
            PersonalField::ServiceNumber => "service_number",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        Self::ALL.iter().copied().find(|f| f.as_str() == raw).ok_or_else(|| {
            let all: Vec<&str> = Self::ALL.iter().map(|f| f.as_str()).collect();
            FieldError::new(
                "field",
                format!("'{raw}' is not a personal field; expected one of: {}", all.join(", ")),
                format!("“{raw}”不是个人信息字段"),
            )
        })
    }

    /// The masked form of a value of this field.
    pub fn mask(self, value: &str) -> String {
        match self {
            PersonalField::Name => mask_name(value),
            PersonalField::Phone | PersonalField::ServiceNumber => mask_phone(value),
            PersonalField::IdNumber => mask_id_number(value),
            PersonalField::Address => mask_address(value),
        }
    }
}

/// How a role sees a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Shown in full.
    Full,
    /// Masked; the role may reveal it with a reason, which is logged.
    Reveal,
    /// Masked, and the role may not reveal it.
    Masked,
}

/// The role-to-field table of the policy. A role or field the table does
/// not name is masked: new data is private until the policy says otherwise.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacyPolicy {
    pub fields: BTreeMap<Role, BTreeMap<PersonalField, Access>>,
}

impl PrivacyPolicy {
    pub fn access(&self, role: Role, field: PersonalField) -> Access {
        self.fields.get(&role).and_then(|m| m.get(&field)).copied().unwrap_or(Access::Masked)
    }

    /// Shows `value` of `field` to `role`: in full or masked.
    pub fn show(&self, role: Role, field: PersonalField, value: &str) -> String {
        match self.access(role, field) {
            Access::Full => value.to_string(),
            Access::Reveal | Access::Masked => field.mask(value),
        }
    }

    /// Masks the phone and ID numbers inside free text, unless the role sees
    /// those fields in full.
    pub fn show_text(&self, role: Role, text: &str) -> String {
        let phones = self.access(role, PersonalField::Phone) != Access::Full;
        let ids = self.access(role, PersonalField::IdNumber) != Access::Full;
        mask_text(text, phones, ids)
    }
}

pub fn mask_phone(p: &str) -> String {
    let chars: Vec<char> = p.chars().collect();
    let digits = chars.iter().filter(|c| c.is_ascii_digit()).count();
    if digits < 7 {
        return "*".repeat(chars.len().max(4));
    }
    // Keep the first 3 and last 4 characters (the area code of a landline).
    let (head, tail) = (3, 4);
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < head || i >= chars.len() - tail || *c == '-' { *c } else { '*' })
        .collect()
}

pub fn mask_id_number(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() < 10 {
        return "*".repeat(chars.len());
    }
    chars.iter().enumerate().map(|(i, c)| if i < 6 || i >= chars.len() - 4 { *c } else { '*' }).collect()
}

/// The family name stays; the given name is masked (`张*`, `欧阳**` is not
/// attempted: a compound surname loses its second character too).
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        None => String::new(),
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
    }
}

/// The address up to and including its district (区/县/旗) or, failing
/// that, its city; the rest is hidden.
pub fn mask_address(addr: &str) -> String {
    let chars: Vec<char> = addr.chars().collect();
    let cut = chars
        .iter()
        .position(|c| matches!(c, '区' | '县' | '旗'))
        .or_else(|| chars.iter().position(|c| *c == '市'))
        .map_or(0, |i| i + 1);
    let kept: String = chars[..cut].iter().collect();
    format!("{kept}****")
}

/// Whether `text` has `n` ASCII digits in a row (most text has none, and
/// then needs no masking at all).
fn has_digit_run(text: &str, n: usize) -> bool {
    let mut run = 0;
    for b in text.bytes() {
        run = if b.is_ascii_digit() { run + 1 } else { 0 };
        if run >= n {
            return true;
        }
    }
    false
}

/// Masks 11-digit mainland mobile numbers and 18-character ID numbers found
/// in free text.
pub fn mask_text(text: &str, phones: bool, ids: bool) -> String {
    if (!phones && !ids) || !has_digit_run(text, 11) {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        // An ID number may end in X.
        if i - start == 17 && i < chars.len() && matches!(chars[i], 'X' | 'x') {
            i += 1;
        }
        let run: String = chars[start..i].iter().collect();
        let is_mobile = run.len() == 11 && run.starts_with('1');
        // Only real ID numbers (valid birth date and check digit), so that
        // order and account numbers of the same length pass untouched.
        let is_id = run.len() == 18 && crate::validate::IdNumber::parse(&run, "text").is_ok();
        out.push_str(&match () {
            _ if phones && is_mobile => mask_phone(&run),
            _ if ids && is_id => mask_id_number(&run),
            _ => run,
        });
    }
    out
}

/// Free text is stored with ID numbers masked: the full number belongs in
/// `customer.id_number`, which is encrypted (R-40, data minimisation).
pub fn redact_id_numbers(text: &str) -> String {
    mask_text(text, false, true)
}

/// The same for every string inside a JSON value (raw request fields that
/// go into the audit trail).
pub fn redact_json(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) => Value::String(redact_id_numbers(s)),
        Value::Array(a) => Value::Array(a.iter().map(redact_json).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), redact_json(x))).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("010-12345678"), "010-****5678");
        assert_eq!(mask_id_number("11010519491231002X"), "110105********002X");
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(mask_address("北京市朝阳区建设路1号"), "北京市朝阳区****");
        assert_eq!(mask_address("浙江省杭州市某路"), "浙江省杭州市****");
        assert_eq!(mask_address("某地某路"), "****");
    }

    #[test]
    fn free_text_loses_phone_and_id_numbers() {
        let t = "客户电话13812345678，身份证11010519491231002X，订单号202611220000123456，套餐129元";
        assert_eq!(
            mask_text(t, true, true),
            "客户电话138****5678，身份证110105********002X，订单号202611220000123456，套餐129元"
        );
        assert_eq!(mask_text(t, false, false), t);
        assert!(mask_text(t, true, false).contains("11010519491231002X"));
    }

    #[test]
    fn unnamed_roles_and_fields_are_masked() {
        let mut p = PrivacyPolicy::default();
        p.fields.entry(Role::Supervisor).or_default().insert(PersonalField::Phone, Access::Full);
        assert_eq!(p.show(Role::Supervisor, PersonalField::Phone, "13812345678"), "13812345678");
        assert_eq!(p.show(Role::Supervisor, PersonalField::IdNumber, "11010519491231002X"), "110105********002X");
        assert_eq!(p.show(Role::Agent, PersonalField::Phone, "13812345678"), "138****5678");
        assert_eq!(p.access(Role::Admin, PersonalField::Name), Access::Masked);
    }

    #[test]
    fn fields_parse_by_api_path() {
        assert_eq!(PersonalField::parse("customer.id_number").unwrap(), PersonalField::IdNumber);
        assert_eq!(PersonalField::parse("customer.salary").unwrap_err().field, "field");
    }
}

#[cfg(test)]
mod redaction_tests {
    use super::*;

    #[test]
    fn free_text_keeps_no_valid_id_number() {
        assert_eq!(redact_id_numbers("身份证11010519491231002X已核实"), "身份证110105********002X已核实");
        // Not an ID number (bad check digit): untouched, and so are phones.
        assert_eq!(
            redact_id_numbers("单号110105194912310021，电话13812345678"),
            "单号110105194912310021，电话13812345678"
        );
        let v = serde_json::json!({"reason": "身份证11010519491231002X", "n": 1, "list": ["11010519491231002X"]});
        assert_eq!(
            redact_json(&v).to_string(),
            r#"{"list":["110105********002X"],"n":1,"reason":"身份证110105********002X"}"#
        );
    }
}
