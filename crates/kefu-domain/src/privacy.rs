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

/// How a role sees a field, from the most closed to the most open (the
/// order `min` relies on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Masked, and the role may not reveal it.
    Masked,
    /// Masked; the role may reveal it with a reason, which is logged.
    Reveal,
    /// Shown in full.
    Full,
}

/// The role-to-field table of the policy. A role or field the table does
/// not name is masked: new data is private until the policy says otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacyPolicy {
    pub fields: BTreeMap<Role, BTreeMap<PersonalField, Access>>,
    /// Reasons a reveal may name from a list (the console offers them).
    #[serde(default)]
    pub reveal_reasons: Vec<String>,
    /// Or a reason written out, at least this many characters.
    #[serde(default = "default_reason_chars")]
    pub reveal_reason_min_chars: usize,
}

fn default_reason_chars() -> usize {
    10
}

impl Default for PrivacyPolicy {
    fn default() -> Self {
        PrivacyPolicy { fields: BTreeMap::new(), reveal_reasons: Vec::new(), reveal_reason_min_chars: 10 }
    }
}

impl PrivacyPolicy {
    /// A service number is the customer's phone number (or another line of
    /// theirs): it is never shown more openly than the phone, or its
    /// reveal and access-log entry could be bypassed through it.
    pub fn access(&self, role: Role, field: PersonalField) -> Access {
        let own = self.rule(role, field);
        match field {
            PersonalField::ServiceNumber => own.min(self.rule(role, PersonalField::Phone)),
            _ => own,
        }
    }

    fn rule(&self, role: Role, field: PersonalField) -> Access {
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
        let masked = mask_text(text, phones, ids);
        match self.access(role, PersonalField::Address) {
            Access::Full => masked,
            _ => mask_street_numbers(&masked),
        }
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

fn digit(c: char) -> Option<char> {
    match c {
        '0'..='9' => Some(c),
        '０'..='９' => char::from_u32(c as u32 - 0xFEE0),
        _ => None,
    }
}

/// Separators people write inside phone numbers.
fn separator(c: char) -> bool {
    matches!(c, ' ' | '-' | '－' | '\u{3000}' | '\u{a0}' | '.')
}

fn is_mobile(d: &str) -> bool {
    let b = d.as_bytes();
    b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1])
}

/// Digit groups of a run like `+86 139-8765 4321`: each group's char range.
fn digit_groups(chars: &[char], start: usize) -> (Vec<(usize, usize)>, usize) {
    let mut groups = Vec::new();
    let mut i = start;
    loop {
        let g = i;
        while i < chars.len() && digit(chars[i]).is_some() {
            i += 1;
        }
        groups.push((g, i));
        // One separator between two groups keeps the run going.
        if i + 1 < chars.len() && separator(chars[i]) && digit(chars[i + 1]).is_some() {
            i += 1;
            continue;
        }
        return (groups, i);
    }
}

/// A phone or ID number found in free text: its chars `start..end` and the
/// positions a mask stars out.
struct Found {
    start: usize,
    end: usize,
    masked: Vec<usize>,
}

/// Finds the phone numbers and ID numbers in free text: mainland mobiles
/// written whole or in groups (`13987654321`, `139-8765-4321`,
/// `139 8765 4321`, `+86 139 8765 4321`, `8613987654321`, full-width
/// digits too), landlines written with their area code and a dash
/// (`010-12345678`), and valid 18-character ID numbers. Order and account
/// numbers that are neither pass untouched.
fn find_numbers(chars: &[char], phones: bool, ids: bool) -> Vec<Found> {
    let mut out = Vec::new();
    if (!phones && !ids) || chars.iter().filter(|c| digit(**c).is_some()).count() < 7 {
        return out;
    }
    let mut i = 0;
    while i < chars.len() {
        if digit(chars[i]).is_none() {
            i += 1;
            continue;
        }
        let (groups, end) = digit_groups(chars, i);
        find_in_run(chars, &groups, phones, ids, &mut out);
        i = end.max(i + 1);
    }
    out
}

/// Masks the phone and ID numbers in free text (see `find_numbers`).
pub fn mask_text(text: &str, phones: bool, ids: bool) -> String {
    if !text.chars().any(|c| digit(c).is_some()) {
        return text.to_string();
    }
    let mut chars: Vec<char> = text.chars().collect();
    let found = find_numbers(&chars, phones, ids);
    if found.is_empty() {
        return text.to_string();
    }
    for f in found {
        for p in f.masked {
            chars[p] = '*';
        }
    }
    chars.into_iter().collect()
}

/// The byte ranges of personal data in free text — phone numbers however
/// written, ID numbers, street numbers — which the store seals at rest.
pub fn personal_spans(text: &str) -> Vec<std::ops::Range<usize>> {
    // Most strings of a ticket (states, labels, names, prose) hold no digit.
    if !text.chars().any(|c| digit(c).is_some()) {
        return Vec::new();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut spans: Vec<(usize, usize)> = find_numbers(&chars, true, true).iter().map(|f| (f.start, f.end)).collect();
    spans.extend(find_streets(&chars));
    if spans.is_empty() {
        return Vec::new();
    }
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (a, b) in spans {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    // Char positions to byte offsets.
    let offsets: Vec<usize> = text.char_indices().map(|(i, _)| i).chain(std::iter::once(text.len())).collect();
    merged.into_iter().map(|(a, b)| offsets[a]..offsets[b]).collect()
}

fn group_digits(chars: &[char], (a, b): (usize, usize)) -> String {
    chars[a..b].iter().filter_map(|c| digit(*c)).collect()
}

/// Finds, inside one run of digit groups, every phone or ID number that a
/// sequence of whole groups spells.
fn find_in_run(chars: &[char], groups: &[(usize, usize)], phones: bool, ids: bool, out: &mut Vec<Found>) {
    let mut g = 0;
    while g < groups.len() {
        let mut acc = String::new();
        let mut matched = None;
        for (j, range) in groups.iter().enumerate().skip(g) {
            acc.push_str(&group_digits(chars, *range));
            if acc.len() > 18 {
                break;
            }
            let core = if acc.len() == 13 && acc.starts_with("86") { &acc[2..] } else { acc.as_str() };
            if phones && is_mobile(core) {
                // Keep the first 3 and last 4 digits of the number itself.
                let offset = acc.len() - 11;
                matched = Some((j, offset + 3, offset + 7));
                break;
            }
            if phones && j == g + 1 && is_landline(&group_digits(chars, groups[g]), &group_digits(chars, *range)) {
                let area = groups[g].1 - groups[g].0;
                matched = Some((j, area, acc.len() - 4));
                break;
            }
        }
        if let Some((j, from, to)) = matched {
            // A leading + (of +86) belongs to the number.
            let start = groups[g].0 - usize::from(groups[g].0 > 0 && matches!(chars[groups[g].0 - 1], '+' | '＋'));
            out.push(Found { start, end: groups[j].1, masked: digit_positions(&groups[g..=j], from, to) });
            g = j + 1;
            continue;
        }
        let (a, b) = groups[g];
        let own = group_digits(chars, groups[g]);
        // An ID number ends in X: the group stops before it.
        let with_x = b < chars.len() && matches!(chars[b], 'X' | 'x' | 'Ｘ' | 'ｘ') && own.len() == 17;
        let id: String = if with_x { format!("{own}X") } else { own.clone() };
        if ids && id.len() == 18 && crate::validate::IdNumber::parse(&id, "text").is_ok() {
            out.push(Found { start: a, end: b + usize::from(with_x), masked: (a + 6..a + 14).collect() });
        }
        g += 1;
    }
}

/// `0AA(A)` then a 7–8 digit local number.
fn is_landline(area: &str, local: &str) -> bool {
    area.starts_with('0') && (3..=4).contains(&area.len()) && (7..=8).contains(&local.len()) && !local.starts_with('0')
}

/// The char positions of the digits numbered `from..to` (counting digits
/// only) across `groups`.
fn digit_positions(groups: &[(usize, usize)], from: usize, to: usize) -> Vec<usize> {
    groups.iter().flat_map(|&(a, b)| a..b).enumerate().filter(|(n, _)| (from..to).contains(n)).map(|(_, p)| p).collect()
}

/// Street numbers in free text (`建设路1号3单元502室` → `建设路****`): the
/// house and flat after a road, lane or estate name, when they carry a unit
/// word (号, 栋, 单元, 室 …), so that counts like "知道3个" stay.
pub fn mask_street_numbers(text: &str) -> String {
    if !text.chars().any(|c| digit(c).is_some()) {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let found = find_streets(&chars);
    if found.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    for (a, b) in found {
        out.extend(&chars[i..a]);
        out.push_str("****");
        i = b;
    }
    out.extend(&chars[i..]);
    out
}

/// The char ranges of street numbers: after a road, lane or estate name, a
/// run of digits and unit words that has at least one unit word.
fn find_streets(chars: &[char]) -> Vec<(usize, usize)> {
    const PLACE: &[char] = &['路', '街', '道', '巷', '弄', '村', '园', '苑', '里', '区', '镇', '城', '庄', '厦'];
    const UNIT: &[char] =
        &['号', '栋', '幢', '单', '元', '室', '楼', '层', '座', '门', '户', '院', '弄', '#', '-', '－'];
    const MARK: &[char] = &['号', '栋', '幢', '单', '室', '#'];
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if PLACE.contains(&chars[i]) && chars.get(i + 1).is_some_and(|c| digit(*c).is_some()) {
            let mut j = i + 1;
            while j < chars.len() && (digit(chars[j]).is_some() || UNIT.contains(&chars[j])) {
                j += 1;
            }
            if chars[i + 1..j].iter().any(|c| MARK.contains(c)) {
                out.push((i + 1, j));
                i = j;
                continue;
            }
        }
        i += 1;
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
    fn phones_written_with_separators_are_masked() {
        for (text, want) in [
            ("电话139-8765-4321", "电话139-****-4321"),
            ("电话139 8765 4321。", "电话139 **** 4321。"),
            ("+86 139 8765 4321", "+86 139 **** 4321"),
            ("8613987654321", "86139****4321"),
            ("86 13987654321", "86 139****4321"),
            ("１３９８７６５４３２１", "１３９****４３２１"),
            ("固话010-12345678转", "固话010-****5678转"),
            ("0755-1234567", "0755-***4567"),
            ("单号202611220000123456 13812345678", "单号202611220000123456 138****5678"),
            ("2026-11-22 10:00 来电", "2026-11-22 10:00 来电"),
            ("套餐129元，流量30GB，订单号 1234 5678 9012", "套餐129元，流量30GB，订单号 1234 5678 9012"),
        ] {
            assert_eq!(mask_text(text, true, true), want, "{text}");
        }
    }

    #[test]
    fn personal_spans_cover_what_masks_hide() {
        let t = "电话+86 139-8765-4321，住建设路1号3单元，身份证11010519491231002X，订单12345678";
        let spans: Vec<&str> = personal_spans(t).into_iter().map(|r| &t[r]).collect();
        assert_eq!(spans, vec!["+86 139-8765-4321", "1号3单元", "11010519491231002X"]);
        assert!(personal_spans("宽带断网三天了").is_empty());
    }

    #[test]
    fn street_numbers_are_masked() {
        assert_eq!(
            mask_street_numbers("上门地址：北京市朝阳区建设路1号3单元502室"),
            "上门地址：北京市朝阳区建设路****"
        );
        assert_eq!(mask_street_numbers("海淀区中关村大街27号院"), "海淀区中关村大街****");
        assert_eq!(mask_street_numbers("我知道3个办法，第2条路"), "我知道3个办法，第2条路");
        assert_eq!(mask_street_numbers("幸福小区12栋"), "幸福小区****");
    }

    #[test]
    fn a_service_number_is_never_more_open_than_the_phone() {
        let mut p = PrivacyPolicy::default();
        let e = p.fields.entry(Role::Engineer).or_default();
        e.insert(PersonalField::Phone, Access::Reveal);
        e.insert(PersonalField::ServiceNumber, Access::Full);
        assert_eq!(p.access(Role::Engineer, PersonalField::ServiceNumber), Access::Reveal);
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
