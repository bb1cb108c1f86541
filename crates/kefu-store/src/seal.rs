//! Personal data sealed at rest wherever it is written: in free text
//! (titles, descriptions, results, notes, transfer reasons, messages,
//! notices, the access log's reasons) each phone number, ID number and
//! street number found is replaced by its ciphertext, inline, between
//! `⟦` and `⟧`; structured fields that are personal data as a whole
//! (service number, location, e-mail recipient) are sealed whole. The rest
//! of the text stays plain, so a word search over it still works and the
//! personal data is not searchable as text. Reading opens the seals; the
//! audit hashes are computed over the open text, so `kefu audit verify`
//! reads what it always did.

use crate::StoreResult;
use crate::crypto::FieldCipher;
use serde_json::Value;

const OPEN: &str = "⟦";
const CLOSE: &str = "⟧";

/// JSON fields sealed whole, wherever they appear in a stored document.
const WHOLE: &[&str] = &["service_number", "location", "email"];

/// Free text with the personal data in it sealed.
pub fn seal_text(cipher: &FieldCipher, text: &str) -> String {
    let spans = kefu_domain::privacy::personal_spans(text);
    if spans.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + spans.len() * 64);
    let mut at = 0;
    for span in spans {
        out.push_str(&text[at..span.start]);
        out.push_str(&sealed(cipher, &text[span.clone()]));
        at = span.end;
    }
    out.push_str(&text[at..]);
    out
}

fn sealed(cipher: &FieldCipher, plain: &str) -> String {
    format!("{OPEN}{}{CLOSE}", cipher.encrypt(plain))
}

/// A value sealed whole (empty stays empty).
pub fn seal_whole(cipher: &FieldCipher, value: &str) -> String {
    if value.is_empty() { String::new() } else { sealed(cipher, value) }
}

/// Free text with its seals opened. Text that only looks like a seal (a
/// person typed `⟦enc:…⟧`) is not a valid ciphertext and is left as it is.
pub fn open_text(cipher: &FieldCipher, text: &str) -> StoreResult<String> {
    if !text.contains(OPEN) {
        return Ok(text.to_string());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(OPEN) {
        out.push_str(&rest[..i]);
        let inner = &rest[i + OPEN.len()..];
        let Some(j) = inner.find(CLOSE) else {
            out.push_str(&rest[i..]);
            return Ok(out);
        };
        let whole = &rest[i..i + OPEN.len() + j + CLOSE.len()];
        match inner[..j].starts_with("enc:").then(|| cipher.decrypt(&inner[..j])) {
            Some(Ok(plain)) => out.push_str(&plain),
            _ => out.push_str(whole),
        }
        rest = &inner[j + CLOSE.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Every string of a JSON document sealed: personal data in free text, and
/// the fields of `WHOLE` entirely.
pub fn seal_json(cipher: &FieldCipher, v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(seal_text(cipher, s)),
        Value::Array(a) => Value::Array(a.iter().map(|x| seal_json(cipher, x)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let sealed = match x {
                        Value::String(s) if WHOLE.contains(&k.as_str()) => Value::String(seal_whole(cipher, s)),
                        _ => seal_json(cipher, x),
                    };
                    (k.clone(), sealed)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A stored JSON document with its seals opened.
pub fn open_json(cipher: &FieldCipher, v: Value) -> StoreResult<Value> {
    Ok(match v {
        Value::String(s) => Value::String(open_text(cipher, &s)?),
        Value::Array(a) => Value::Array(a.into_iter().map(|x| open_json(cipher, x)).collect::<StoreResult<_>>()?),
        Value::Object(m) => {
            Value::Object(m.into_iter().map(|(k, x)| Ok((k, open_json(cipher, x)?))).collect::<StoreResult<_>>()?)
        }
        other => other,
    })
}

/// An audit event as stored: data, before and after sealed (the hash is
/// over the open event and stays as it is).
pub fn seal_event(cipher: &FieldCipher, e: &kefu_domain::audit::AuditEvent) -> kefu_domain::audit::AuditEvent {
    kefu_domain::audit::AuditEvent {
        data: seal_json(cipher, &e.data),
        before: seal_json(cipher, &e.before),
        after: seal_json(cipher, &e.after),
        ..e.clone()
    }
}

/// An audit event as read, opened.
pub fn open_event(
    cipher: &FieldCipher,
    e: kefu_domain::audit::AuditEvent,
) -> StoreResult<kefu_domain::audit::AuditEvent> {
    Ok(kefu_domain::audit::AuditEvent {
        data: open_json(cipher, e.data)?,
        before: open_json(cipher, e.before)?,
        after: open_json(cipher, e.after)?,
        ..e
    })
}

/// A transfer record as read, its reason, result and feedback opened.
pub fn open_transfer(
    cipher: &FieldCipher,
    t: kefu_domain::ticket::Transfer,
) -> StoreResult<kefu_domain::ticket::Transfer> {
    let open = |x: Option<String>| x.map(|x| open_text(cipher, &x)).transpose();
    Ok(kefu_domain::ticket::Transfer {
        reason: open_text(cipher, &t.reason)?,
        result: open(t.result)?,
        customer_feedback: open(t.customer_feedback)?,
        ..t
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_data_is_sealed_and_opened_again() {
        let c = crate::crypto::test_cipher();
        let text = "客户电话139-8765-4321，地址建设路1号3单元，身份证11010519491231002X，宽带断网";
        let sealed = seal_text(&c, text);
        for secret in ["139-8765-4321", "8765", "1号3单元", "11010519491231002X"] {
            assert!(!sealed.contains(secret), "{sealed}");
        }
        assert!(sealed.contains("宽带断网") && sealed.contains("客户电话"));
        assert_eq!(open_text(&c, &sealed).unwrap(), text);
        assert_eq!(seal_text(&c, "没有个人信息"), "没有个人信息");
        // Look-alikes are left as typed.
        for typed in ["⟦enc:1:AAAA⟧ x", "⟦not a seal⟧", "a ⟦ b", "⟦⟧"] {
            assert_eq!(open_text(&c, typed).unwrap(), typed);
        }
        let doc = serde_json::json!({"title": "回拨13987654321", "service_number": "13812345678", "location": "朝阳区",
                                     "n": 1, "list": ["13512345678"]});
        let s = seal_json(&c, &doc);
        assert!(!s.to_string().contains("1398765") && !s.to_string().contains("朝阳区"));
        assert_eq!(open_json(&c, s).unwrap(), doc);
    }
}
