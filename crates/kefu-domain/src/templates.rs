//! Message templates (通知模板): the texts kefu sends to customers (SMS and
//! e-mail) and to staff, in Chinese with English alternatives. Shipped as
//! files (`templates/*.toml`) and overridable from the config directory
//! without a rebuild. `{name}` placeholders are filled from the message's
//! variables; a placeholder a template names but the message does not
//! supply is refused when the file is loaded, not when a customer gets it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The shipped templates, compiled into the binary, with the placeholders
/// each may use.
pub const DEFAULT_TEMPLATES: &[(&str, &str, &[&str])] = &[
    (
        "receipt",
        include_str!("../templates/receipt.toml"),
        &["number", "type_zh", "type_en", "title", "created_at", "link"],
    ),
    (
        "result",
        include_str!("../templates/result.toml"),
        &["number", "title", "result", "handler", "resolved_at", "link", "confirm_hours"],
    ),
    (
        "unsubscribe_confirmation",
        include_str!("../templates/unsubscribe_confirmation.toml"),
        &["number", "title", "result", "handler", "resolved_at", "link", "confirm_hours"],
    ),
    (
        "visit_invitation",
        include_str!("../templates/visit_invitation.toml"),
        &["number", "title", "link", "valid_until"],
    ),
    ("reply", include_str!("../templates/reply.toml"), &["number", "title", "reply", "link"]),
    ("identify", include_str!("../templates/identify.toml"), &["subject"]),
    ("wechat_welcome", include_str!("../templates/wechat_welcome.toml"), &[]),
    ("wechat_received", include_str!("../templates/wechat_received.toml"), &["number"]),
    ("wechat_rated", include_str!("../templates/wechat_rated.toml"), &["number", "score"]),
    ("staff_sla_warning", include_str!("../templates/staff_sla_warning.toml"), &["number", "kind", "label_zh", "due"]),
    ("staff_sla_breach", include_str!("../templates/staff_sla_breach.toml"), &["number", "kind", "label_zh", "due"]),
    ("staff_transfer", include_str!("../templates/staff_transfer.toml"), &["number", "by"]),
    ("staff_mention", include_str!("../templates/staff_mention.toml"), &["number", "by", "where_zh"]),
    ("staff_appeal", include_str!("../templates/staff_appeal.toml"), &["number", "reason"]),
    (
        "staff_customer_message",
        include_str!("../templates/staff_customer_message.toml"),
        &["number", "channel_zh", "channel"],
    ),
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub subject_zh: String,
    pub body_zh: String,
    pub subject_en: String,
    pub body_en: String,
}

/// A rendered message in one language or both.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub body: String,
    /// The English text alone (staff notices keep both).
    pub subject_en: String,
    pub body_en: String,
}

#[derive(Debug, Clone)]
pub struct Templates(BTreeMap<String, Template>);

impl Templates {
    /// The shipped templates, with `overrides` (file name, text) from the
    /// config directory replacing those of the same name.
    pub fn load(overrides: &[(String, String)]) -> Result<Templates, String> {
        let mut out = BTreeMap::new();
        for (name, text, vars) in DEFAULT_TEMPLATES {
            let file = format!("{name}.toml");
            let text = overrides.iter().find(|(f, _)| *f == file).map_or(*text, |(_, t)| t.as_str());
            let t: Template = toml::from_str(text).map_err(|e| format!("template {file}: {e}"))?;
            for part in [&t.subject_zh, &t.body_zh, &t.subject_en, &t.body_en] {
                if let Some(unknown) = placeholders(part).find(|p| !vars.contains(p)) {
                    return Err(format!("template {file}: unknown placeholder {{{unknown}}}; use {}", vars.join(", ")));
                }
            }
            out.insert(name.to_string(), t);
        }
        if let Some((f, _)) =
            overrides.iter().find(|(f, _)| !DEFAULT_TEMPLATES.iter().any(|(n, ..)| f == &format!("{n}.toml")))
        {
            return Err(format!("template {f}: no such template"));
        }
        Ok(Templates(out))
    }

    pub fn defaults() -> Templates {
        Templates::load(&[]).expect("the shipped templates are valid")
    }

    /// Renders template `name` in `language` ("zh", "en" or "both").
    pub fn render(&self, name: &str, language: &str, vars: &[(&str, &str)]) -> Rendered {
        let t = self.0.get(name).unwrap_or_else(|| panic!("template {name} is shipped"));
        let fill = |s: &str| fill(s, vars);
        let (zh_s, zh_b, en_s, en_b) = (fill(&t.subject_zh), fill(&t.body_zh), fill(&t.subject_en), fill(&t.body_en));
        let (subject, body) = match language {
            "en" => (en_s.clone(), en_b.clone()),
            "both" => (format!("{zh_s} / {en_s}"), format!("{zh_b}\n\n{en_b}")),
            _ => (zh_s, zh_b),
        };
        Rendered { subject, body, subject_en: en_s, body_en: en_b }
    }
}

pub fn placeholders(s: &str) -> impl Iterator<Item = &str> {
    s.split('{').skip(1).filter_map(|p| p.split_once('}').map(|(name, _)| name))
}

/// Fills `{name}` placeholders from `vars` (unknown names become empty).
pub fn fill(s: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(s.len() + 64);
    let mut rest = s;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.split_once('}') {
            Some((name, tail)) => {
                let value = vars.iter().find(|(k, _)| *k == name).map_or("", |(_, v)| v.trim_end());
                out.push_str(value);
                rest = after_sentence(value, tail);
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The template's text after a value: a value typed as a whole sentence
/// ("更换光猫后恢复正常。") already ends it, so the template's own full
/// stop after the placeholder is dropped rather than doubled ("。。").
fn after_sentence<'a>(value: &str, tail: &'a str) -> &'a str {
    let ends_sentence = value.ends_with(['。', '！', '？', '.', '!', '?', '；', ';']);
    match tail.strip_prefix('。').or_else(|| tail.strip_prefix('.')) {
        Some(rest) if ends_sentence => rest,
        _ => tail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_that_ends_a_sentence_is_not_stopped_twice() {
        let t = "处理完毕：{result}。如有异议";
        assert_eq!(fill(t, &[("result", "更换光猫后恢复正常。")]), "处理完毕：更换光猫后恢复正常。如有异议");
        assert_eq!(fill(t, &[("result", "已恢复！ ")]), "处理完毕：已恢复！如有异议");
        assert_eq!(fill(t, &[("result", "更换光猫后恢复正常")]), "处理完毕：更换光猫后恢复正常。如有异议");
        assert_eq!(fill("done: {result}. Appeal", &[("result", "Fixed.")]), "done: Fixed. Appeal");
        assert_eq!(fill("{number}。", &[("number", "GD1")]), "GD1。");
    }

    #[test]
    fn renders_chinese_first_english_or_both() {
        let t = Templates::defaults();
        let vars = [
            ("number", "GD20261122000001"),
            ("title", "宽带断网"),
            ("link", "http://x/p/abc"),
            ("valid_until", "11-30 18:00"),
        ];
        let zh = t.render("visit_invitation", "zh", &vars);
        assert!(
            zh.body.contains("GD20261122000001") && zh.body.contains("宽带断网") && zh.body.contains("http://x/p/abc")
        );
        assert!(!zh.body.contains('{'));
        let en = t.render("visit_invitation", "en", &vars);
        assert!(en.body.starts_with("[Customer Service]"));
        let both = t.render("visit_invitation", "both", &vars);
        assert!(both.body.contains("诚邀") && both.body.contains("Please rate"));
    }

    #[test]
    fn operator_overrides_are_checked_when_loaded() {
        let good = "subject_zh = \"回执 {number}\"\nbody_zh = \"已受理 {number}\"\nsubject_en = \"s\"\nbody_en = \"b {number}\"\n";
        let t = Templates::load(&[("receipt.toml".into(), good.into())]).unwrap();
        assert_eq!(t.render("receipt", "zh", &[("number", "GD1")]).body, "已受理 GD1");
        let bad = good.replace("已受理 {number}", "{customer_phone}");
        let e = Templates::load(&[("receipt.toml".into(), bad)]).unwrap_err();
        assert!(e.contains("customer_phone"), "{e}");
        assert!(Templates::load(&[("nope.toml".into(), good.into())]).is_err());
        assert!(Templates::load(&[("receipt.toml".into(), "subject_zh = 1".into())]).is_err());
    }
}
