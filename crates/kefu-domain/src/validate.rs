//! Parse, don't validate: raw strings from the outside become these types or
//! a `FieldError` naming the field. Once a `Phone` exists it is valid.

use crate::error::FieldError;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// A mainland-China phone number: an 11-digit mobile number or a landline
/// with area code, stored normalised (mobile: 11 digits; landline:
/// `0AA-NNNNNNNN`, optional `-EXT`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    /// Total over any UTF-8: full-width digits and punctuation are folded to
    /// ASCII (IME input), then anything but digits, `+`, `-`, spaces and
    /// parentheses is refused — never sliced, never a panic.
    pub fn parse(raw: &str, field: &str) -> Result<Self, FieldError> {
        let folded = fold_width(raw);
        let compact: String = folded.chars().filter(|c| !matches!(c, ' ' | '(' | ')')).collect();
        let plain_ascii = compact.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | '-'));
        if plain_ascii {
            let compact = compact
                .strip_prefix("+86")
                .or_else(|| compact.strip_prefix("0086"))
                .unwrap_or(&compact)
                .trim_start_matches('-')
                .to_string();
            if let Some(p) = parse_mobile(&compact) {
                return Ok(Phone(p));
            }
            if let Some(p) = parse_landline(&compact) {
                return Ok(Phone(p));
            }
        }
        let shown = shown(raw);
        Err(FieldError::new(
            field,
            format!(
                "'{shown}' is not a mainland mobile (11 digits, 1[3-9]…) or landline (area code + 7–8 digits) number"
            ),
            format!("“{shown}”不是有效的手机号（11位，以13–19开头）或固定电话（区号+7至8位号码）"),
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_mobile(&self) -> bool {
        !self.0.starts_with('0')
    }
}

/// Full-width digits, letters and the punctuation phone numbers use, as
/// Chinese input methods type them, folded to ASCII; the ideographic space
/// becomes a space. Everything else is kept as it is.
pub fn fold_width(raw: &str) -> String {
    raw.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect()
}

/// An input as an error message may quote it: at most 40 characters, with
/// control and invisible formatting characters written as escapes.
pub fn shown(raw: &str) -> String {
    let mut out: String = raw
        .chars()
        .take(40)
        .map(|c| if c.is_control() || is_invisible(c) { c.escape_unicode().to_string() } else { c.to_string() })
        .collect();
    if raw.chars().nth(40).is_some() {
        out.push('…');
    }
    out
}

/// Zero-width and bidirectional formatting characters (Unicode Cf in the
/// ranges text fields meet), which change how text looks without showing.
pub fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

fn parse_mobile(s: &str) -> Option<String> {
    let digits: String = s.chars().filter(|c| *c != '-').collect();
    let b = digits.as_bytes();
    let ok = b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) && b.iter().all(u8::is_ascii_digit);
    ok.then_some(digits)
}

/// Area codes are 3 digits (010, 02X) or 4 digits (0XXX); subscriber numbers
/// 7 or 8 digits; an extension of up to 6 digits may follow a dash.
fn parse_landline(s: &str) -> Option<String> {
    let mut parts = s.split('-');
    let first = parts.next()?;
    let (area, local, ext) = if first.len() > 4 {
        // Written without the dash: try a 3-digit then a 4-digit area code.
        let ext = parts.next();
        if parts.next().is_some() {
            return None;
        }
        let area_len = if first.starts_with("01") || first.starts_with("02") { 3 } else { 4 };
        if first.len() <= area_len {
            return None;
        }
        (&first[..area_len], &first[area_len..], ext)
    } else {
        let local = parts.next()?;
        let ext = parts.next();
        if parts.next().is_some() {
            return None;
        }
        (first, local, ext)
    };
    let all_digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    let area_ok = all_digits(area)
        && area.starts_with('0')
        && (area.len() == 3 && (area.starts_with("01") || area.starts_with("02")) || area.len() == 4);
    let local_ok = all_digits(local) && (7..=8).contains(&local.len()) && !local.starts_with('0');
    let ext_ok = ext.is_none_or(|e| all_digits(e) && e.len() <= 6);
    if !(area_ok && local_ok && ext_ok) {
        return None;
    }
    Some(match ext {
        Some(e) => format!("{area}-{local}-{e}"),
        None => format!("{area}-{local}"),
    })
}

/// An 18-character resident ID-card number (居民身份证号码, GB 11643-1999):
/// 6-digit region, 8-digit birth date, 3-digit sequence, ISO 7064 MOD 11-2
/// check character (0-9 or X).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct IdNumber(String);

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK: &[u8; 11] = b"10X98765432";

impl IdNumber {
    pub fn parse(raw: &str, field: &str) -> Result<Self, FieldError> {
        let s = fold_width(raw).trim().to_ascii_uppercase();
        let b = s.as_bytes();
        let shape_ok =
            b.len() == 18 && b[..17].iter().all(u8::is_ascii_digit) && (b[17].is_ascii_digit() || b[17] == b'X');
        if !shape_ok {
            return Err(FieldError::new(
                field,
                "an ID-card number has 18 characters: 17 digits and a digit or X",
                "身份证号码应为18位：17位数字加1位数字或X",
            ));
        }
        if NaiveDate::parse_from_str(&s[6..14], "%Y%m%d").is_err() {
            return Err(FieldError::new(
                field,
                format!("the birth date {} in the ID-card number is not a real date", &s[6..14]),
                format!("身份证号码中的出生日期 {} 无效", &s[6..14]),
            ));
        }
        if b[17] != id_check_char(&b[..17]) {
            return Err(FieldError::new(
                field,
                "the check digit of the ID-card number is wrong",
                "身份证号码校验位错误",
            ));
        }
        Ok(IdNumber(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The check character for the first 17 digits of an ID number.
pub fn id_check_char(first17: &[u8]) -> u8 {
    let sum: u32 = first17.iter().zip(ID_WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    ID_CHECK[(sum % 11) as usize]
}

/// A required text field: trimmed, non-empty, at most `max` characters.
pub fn required_text(raw: Option<&str>, field: &str, max: usize) -> Result<String, FieldError> {
    match raw.map(str::trim) {
        None | Some("") => Err(FieldError::required(field)),
        Some(s) => limit(s, field, max).map(str::to_string),
    }
}

/// An optional text field: empty becomes None; longer than `max` is refused.
pub fn optional_text(raw: Option<&str>, field: &str, max: usize) -> Result<Option<String>, FieldError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => limit(s, field, max).map(|s| Some(s.to_string())),
    }
}

/// A required free-text field (title, description, result, note …): as
/// `required_text`, with ID numbers inside it redacted.
pub fn required_free_text(raw: Option<&str>, field: &str, max: usize) -> Result<String, FieldError> {
    required_text(raw, field, max).map(|s| crate::privacy::redact_id_numbers(&s))
}

/// An optional free-text field, ID numbers redacted.
pub fn optional_free_text(raw: Option<&str>, field: &str, max: usize) -> Result<Option<String>, FieldError> {
    optional_text(raw, field, max).map(|o| o.map(|s| crate::privacy::redact_id_numbers(&s)))
}

fn limit<'a>(s: &'a str, field: &str, max: usize) -> Result<&'a str, FieldError> {
    if let Some(c) = s.chars().find(|c| forbidden_in_text(*c)) {
        let code = format!("U+{:04X}", c as u32);
        return Err(FieldError::new(
            field,
            format!("{field} contains the control character {code}, which text may not hold"),
            format!("{field} 含有不允许的控制字符 {code}"),
        ));
    }
    let n = s.chars().count();
    if n > max {
        return Err(FieldError::new(
            field,
            format!("{field} is {n} characters long; at most {max} are allowed"),
            format!("{field} 长度为 {n} 个字符，最多允许 {max} 个"),
        ));
    }
    Ok(s)
}

/// Control characters other than tab and line breaks, and the
/// bidirectional overrides that make text read other than it is stored.
pub fn forbidden_in_text(c: char) -> bool {
    (c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The longest store (营业厅) code.
pub const STORE_CODE_MAX: usize = 32;

/// A store's code: letters, digits, `-` and `_`, full-width folded and
/// upper-cased, so `bj-cy01` and `ＢＪ-CY01` name the same store.
pub fn store_code(raw: &str, field: &str) -> Result<String, FieldError> {
    let code = fold_width(raw.trim()).to_ascii_uppercase();
    let ok = !code.is_empty()
        && code.len() <= STORE_CODE_MAX
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(code)
    } else {
        Err(FieldError::new(
            field,
            format!("{field} is 1 to {STORE_CODE_MAX} letters, digits, - or _"),
            format!("营业厅编码须为 1 至 {STORE_CODE_MAX} 个字母、数字、- 或 _"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_codes_fold_width_and_case() {
        assert_eq!(store_code(" ｓ01 ", "store").unwrap(), "S01");
        assert_eq!(store_code("bj-cy_01", "store").unwrap(), "BJ-CY_01");
        for bad in ["", "天河", "A 1", &"X".repeat(STORE_CODE_MAX + 1)] {
            assert_eq!(store_code(bad, "store").unwrap_err().field, "store", "{bad}");
        }
    }

    /// Builds a valid ID number from its first 17 digits.
    fn with_check(first17: &str) -> String {
        let c = id_check_char(first17.as_bytes()) as char;
        format!("{first17}{c}")
    }

    #[test]
    fn mobile_numbers() {
        assert_eq!(Phone::parse("13812345678", "p").unwrap().as_str(), "13812345678");
        assert_eq!(Phone::parse("+86 138 1234 5678", "p").unwrap().as_str(), "13812345678");
        assert_eq!(Phone::parse("138-1234-5678", "p").unwrap().as_str(), "13812345678");
        assert!(Phone::parse("12812345678", "p").is_err());
        assert!(Phone::parse("1381234567", "p").is_err());
        assert!(Phone::parse("138123456789", "p").is_err());
        assert!(Phone::parse("1381234567a", "p").is_err());
        assert!(Phone::parse("", "p").is_err());
    }

    #[test]
    fn landline_numbers() {
        assert_eq!(Phone::parse("010-12345678", "p").unwrap().as_str(), "010-12345678");
        assert_eq!(Phone::parse("02112345678", "p").unwrap().as_str(), "021-12345678");
        assert_eq!(Phone::parse("0755-1234567", "p").unwrap().as_str(), "0755-1234567");
        assert_eq!(Phone::parse("07551234567", "p").unwrap().as_str(), "0755-1234567");
        assert_eq!(Phone::parse("010-12345678-123", "p").unwrap().as_str(), "010-12345678-123");
        assert!(!Phone::parse("010-12345678", "p").unwrap().is_mobile());
        assert!(Phone::parse("010-123456", "p").is_err());
        assert!(Phone::parse("10-12345678", "p").is_err());
        assert!(Phone::parse("010-01234567", "p").is_err());
    }

    #[test]
    fn phone_error_names_field() {
        let e = Phone::parse("abc", "customer.phone").unwrap_err();
        assert_eq!(e.field, "customer.phone");
        assert!(e.message_zh.contains("手机号"));
    }

    #[test]
    fn id_numbers() {
        // The GB 11643 example number.
        assert!(IdNumber::parse("11010519491231002X", "id").is_ok());
        assert_eq!(IdNumber::parse("11010519491231002x", "id").unwrap().as_str(), "11010519491231002X");
        let good = with_check("44030419900101123");
        assert!(IdNumber::parse(&good, "id").is_ok());
        // Wrong check digit.
        let mut bad = good.clone();
        let last = if bad.ends_with('0') { '1' } else { '0' };
        bad.pop();
        bad.push(last);
        let e = IdNumber::parse(&bad, "customer.id_number").unwrap_err();
        assert_eq!(e.field, "customer.id_number");
        assert!(e.message.contains("check digit"));
        // Impossible birth date.
        let feb30 = with_check("44030419900230123");
        assert!(IdNumber::parse(&feb30, "id").unwrap_err().message.contains("birth date"));
        // Wrong length and characters.
        assert!(IdNumber::parse("4403041990010112", "id").is_err());
        assert!(IdNumber::parse("4403041990010112AB", "id").is_err());
    }

    /// Arbitrary Unicode, deterministically: strings drawn from characters
    /// that broke parsers (multi-byte digits, invisible marks, controls,
    /// astral characters) mixed with the ASCII a phone or ID number has.
    fn nasty_strings(n: usize) -> Vec<String> {
        const POOL: &[char] = &[
            '1',
            '3',
            '8',
            '0',
            '9',
            'X',
            'x',
            '-',
            '+',
            ' ',
            '(',
            ')',
            '１',
            '３',
            '８',
            '０',
            'Ｘ',
            '－',
            '＋',
            '\u{3000}',
            '\u{200b}',
            '\u{200d}',
            '\u{202e}',
            '\u{2066}',
            '\u{feff}',
            '\u{0}',
            '\u{7}',
            '\u{1b}',
            '\n',
            '\u{85}',
            'é',
            '\u{301}',
            '𝟙',
            '😀',
            '宽',
            '号',
            '路',
            '区',
            '\u{fffd}',
            '\u{10ffff}',
            'İ',
            'ß',
            '٣',
            '߁',
            '৪',
        ];
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        (0..n)
            .map(|_| {
                let len = (next() % 30) as usize;
                (0..len).map(|_| POOL[(next() % POOL.len() as u64) as usize]).collect()
            })
            .collect()
    }

    /// Every parser is total: any string gives a value or a FieldError
    /// naming the field, never a panic; and what is accepted is plain.
    #[test]
    fn parsers_are_total_over_any_unicode() {
        for s in nasty_strings(20_000) {
            if let Ok(p) = Phone::parse(&s, "customer.phone") {
                assert!(p.as_str().chars().all(|c| c.is_ascii_digit() || c == '-'), "{s:?} gave {p:?}");
            } else {
                assert_eq!(Phone::parse(&s, "customer.phone").unwrap_err().field, "customer.phone");
            }
            if let Ok(id) = IdNumber::parse(&s, "customer.id_number") {
                assert!(id.as_str().chars().all(|c| c.is_ascii_digit() || c == 'X'), "{s:?} gave {id:?}");
            }
            if let Ok(t) = required_text(Some(&s), "title", 200) {
                assert!(!t.chars().any(forbidden_in_text), "{s:?}");
            }
            let _ = optional_free_text(Some(&s), "description", 10_000);
            let _ = crate::privacy::mask_text(&s, true, true);
            let _ = crate::privacy::mask_street_numbers(&s);
            for r in crate::privacy::personal_spans(&s) {
                assert!(s.is_char_boundary(r.start) && s.is_char_boundary(r.end), "{s:?}");
            }
            let _ = crate::intake::parse_time(&s, "occurred_at");
            let _ = crate::ticket::looks_like_number(&s);
            let _ = shown(&s);
        }
        // The full-width and separated forms of a real number are the number.
        assert_eq!(Phone::parse("１３８－１２３４－５６７８", "p").unwrap().as_str(), "13812345678");
        assert!(Phone::parse("138\u{200b}12345678", "p").is_err());
    }

    #[test]
    fn text_limits_count_characters_not_bytes() {
        let title = "宽".repeat(200);
        assert!(required_text(Some(&title), "title", 200).is_ok());
        let too_long = "宽".repeat(201);
        let e = required_text(Some(&too_long), "title", 200).unwrap_err();
        assert_eq!(e.field, "title");
        assert!(required_text(Some("   "), "title", 200).is_err());
        assert!(required_text(None, "title", 200).is_err());
        assert_eq!(optional_text(Some(""), "x", 5).unwrap(), None);
        assert!(optional_text(Some("123456"), "x", 5).is_err());
    }
}
