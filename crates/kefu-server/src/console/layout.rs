//! What every console page shares: the frame (header, navigation, the
//! language switch), the response headers, the role gate and error pages.

use super::{Lang, to_login};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use askama::Template;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use kefu_domain::Role;
use kefu_store::Store;
use std::collections::HashMap;

/// A submitted form or query string, field by field.
pub type Fields = HashMap<String, String>;

/// The frame around a page (`templates/console/layout.html`): every page
/// template extends the layout and holds one of these as `shell`.
pub struct Shell<'a> {
    pub lang: Lang,
    pub user: Option<&'a CurrentUser>,
    pub title: &'a str,
}

impl<'a> Shell<'a> {
    pub fn new(lang: Lang, user: Option<&'a CurrentUser>, title: &'a str) -> Self {
        Shell { lang, user, title }
    }

    /// The text in the page's language.
    pub fn t<'b>(&self, zh: &'b str, en: &'b str) -> &'b str {
        self.lang.t(zh, en)
    }

    fn role(&self) -> Option<Role> {
        self.user.map(|u| u.actor.role)
    }

    pub fn username(&self) -> &str {
        self.user.map_or("", |u| u.actor.username.as_str())
    }

    pub fn role_label(&self) -> &'static str {
        self.role().map_or("", |r| self.lang.t(r.label_zh(), r.as_str()))
    }

    pub fn may_register(&self) -> bool {
        matches!(self.role(), Some(Role::Agent | Role::Engineer | Role::ComplaintSpecialist | Role::Supervisor))
    }

    pub fn may_visit(&self) -> bool {
        self.role().is_some_and(visits_role)
    }

    /// As the shipped endpoint table allows the macro pages.
    pub fn may_keep_macros(&self) -> bool {
        matches!(
            self.role(),
            Some(Role::Agent | Role::Engineer | Role::ComplaintSpecialist | Role::Supervisor | Role::Inspector)
        )
    }

    /// As the shipped endpoint table allows the KPI reports.
    pub fn may_report(&self) -> bool {
        self.role().is_some()
    }

    /// Everyone but administrators has a staff record.
    pub fn may_keep_record(&self) -> bool {
        matches!(self.role(), Some(r) if r != Role::Admin)
    }

    /// The security incident register is the security office's.
    pub fn may_keep_security(&self) -> bool {
        self.role() == Some(Role::Admin)
    }

    pub fn may_supervise(&self) -> bool {
        matches!(self.role(), Some(Role::Supervisor | Role::Inspector | Role::Admin))
    }
}

/// Roles the return-visit queue is for (as in the shipped endpoint table).
pub fn visits_role(role: Role) -> bool {
    matches!(role, Role::Agent | Role::ComplaintSpecialist | Role::Supervisor | Role::Inspector)
}

/// One `<option>` of a select.
#[derive(Clone)]
pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

impl Opt {
    pub fn new(value: &str, label: &str, current: &str) -> Opt {
        Opt { value: value.to_string(), label: label.to_string(), selected: value == current }
    }
}

/// A page of the console. Its referrer policy is `same-origin` (the API's
/// is `no-referrer`): under no-referrer the browser sends `Origin: null`
/// with the page's forms, and the origin check must see the console's own.
pub fn html(status: StatusCode, page: String) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store"), (header::REFERRER_POLICY, "same-origin")], Html(page))
        .into_response()
}

/// A template rendered as a page. Rendering fails only if a value's own
/// formatting fails; that is logged and answered with a plain 500.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => html(status, body),
        Err(e) => {
            tracing::error!(error = %e, "console template failed");
            html(StatusCode::INTERNAL_SERVER_ERROR, "<!doctype html><p>500</p>".into())
        }
    }
}

/// A page that says one thing: an error, a refusal.
#[derive(Template)]
#[template(path = "console/message.html")]
pub struct Message<'a> {
    pub shell: Shell<'a>,
    pub text: &'a str,
}

pub fn message(status: StatusCode, lang: Lang, user: Option<&CurrentUser>, title: &str, text: &str) -> Response {
    render(status, &Message { shell: Shell::new(lang, user, title), text })
}

/// The answer to a form posted from another origin.
pub fn forbidden(lang: Lang, user: &CurrentUser) -> Response {
    message(StatusCode::FORBIDDEN, lang, Some(user), "403", "forbidden")
}

/// Status, field and message (in the page's language) of a service error:
/// the API's own mapping, with the field called by its label on the forms.
pub fn error_text(lang: Lang, e: ApiError) -> (StatusCode, Option<String>, String) {
    let (status, field, en, zh) = e.parts();
    let message = match &field {
        Some(f) => worded(lang, f, &en, &zh),
        None => lang.t(&zh, &en).to_string(),
    };
    (status, field, message)
}

/// A form field as the form labels it (the API's field name otherwise).
pub fn field_label(lang: Lang, field: &str) -> String {
    let (zh, en) = match field {
        "channel" => ("渠道", "Channel"),
        "type" => ("类型", "Type"),
        "title" => ("标题", "Title"),
        "description" => ("问题描述", "Description"),
        "customer" => ("客户信息", "Customer"),
        "customer.name" => ("客户姓名", "Customer name"),
        "customer.phone" => ("客户手机", "Customer phone"),
        "customer.id_number" => ("证件号码", "ID number"),
        "customer.address" => ("地址", "Address"),
        "customer.level" => ("客户等级", "Customer level"),
        "service_number" => ("业务号码", "Service number"),
        "priority" => ("优先级", "Priority"),
        "location" => ("故障地点", "Location"),
        "occurred_at" => ("发生时间", "Occurred at"),
        "consent" => ("退订同意记录（同意方式、凭证）", "Consent (given by, evidence)"),
        "consent.method" => ("同意方式", "Consent given by"),
        "consent.evidence" => ("凭证", "Evidence"),
        "reason" => ("原因", "Reason"),
        "result" => ("处理结果", "Result"),
        "comment" => ("意见", "Comment"),
        "body" => ("备注", "Note"),
        "method" => ("方式", "Method"),
        "email" => ("邮箱", "E-mail"),
        "reached" => ("是否联系到客户", "Reached the customer?"),
        "satisfaction" => ("满意度", "Satisfaction"),
        "nps" => ("推荐意愿（NPS）", "NPS"),
        "passed" => ("复核结论", "Verdict"),
        "to" | "to_team" | "to_department" => ("转派给", "To"),
        "into" => ("合并到", "Into"),
        "name" => ("名称", "Name"),
        "macro" => ("快捷回复", "Macro"),
        "to_tier" | "to_supervisor" => ("升级到", "Up to"),
        "assignee" => ("处理人", "Handler"),
        "mode" => ("方式", "Mode"),
        other => (other, other),
    };
    lang.t(zh, en).to_string()
}

/// A field's error message with the field called by its label, and without
/// the API's notation for a record's parts (`{method, at, evidence}`).
pub fn worded(lang: Lang, field: &str, en: &str, zh: &str) -> String {
    let label = field_label(lang, field);
    let text = lang.t(zh, en);
    let text = match text.find(" {").zip(text.rfind('}')) {
        Some((open, close)) if close > open => format!("{}{}", &text[..open], &text[close + 1..]),
        _ => text.to_string(),
    };
    replace_token(&text, field, &label, lang == Lang::Zh)
}

/// `text` with `token` replaced where it stands as a whole name (not inside
/// `to_tier` or `total`); in Chinese the space after it goes too.
fn replace_token(text: &str, token: &str, with: &str, eat_space: bool) -> String {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(token) {
        let before = rest[..i].chars().next_back();
        let after = rest[i + token.len()..].chars().next();
        if before.is_some_and(is_name) || after.is_some_and(is_name) {
            out.push_str(&rest[..i + token.len()]);
            rest = &rest[i + token.len()..];
            continue;
        }
        out.push_str(&rest[..i]);
        // Chinese puts no spaces around a word; the API's messages did around the name.
        if eat_space && out.ends_with(' ') && out.trim_end().chars().next_back().is_some_and(|c| !c.is_ascii()) {
            out.pop();
        }
        out.push_str(with);
        rest = &rest[i + token.len()..];
        if eat_space {
            rest = rest.strip_prefix(' ').unwrap_or(rest);
        }
    }
    out.push_str(rest);
    out
}

/// The signed-in user allowed `endpoint` (the API's table), or the
/// response to send instead.
pub async fn gate<S: Store>(app: &AppState<S>, headers: &HeaderMap, endpoint: &str) -> Result<CurrentUser, Response> {
    let Some(user) = super::user(app, headers).await else { return Err(to_login()) };
    if app.kefu.core.policy.access.allows(endpoint, user.actor.role) != Some(true) {
        let lang = Lang::of(headers);
        let text = lang.t("您的角色无权访问此页面。", "Your role may not open this page.");
        return Err(message(StatusCode::FORBIDDEN, lang, Some(&user), "403", text));
    }
    Ok(user)
}

/// The hidden field that makes a console form count once.
pub const FORM_TOKEN: &str = "form_token";

/// A fresh token for the forms of a page. Without randomness the forms go
/// unguarded rather than broken.
pub fn form_token() -> String {
    crate::auth::new_token().unwrap_or_default()
}

/// Takes the form's token out of its fields, as the service's idempotency
/// key for `scope`: a repeat of the same submission (Ctrl+Enter twice, a
/// reloaded POST) replays the first result instead of acting twice. The
/// fingerprint is of the fields as sent, so the same token with other
/// fields is refused, not replayed.
pub fn take_token(f: &mut Fields, scope: &str) -> Option<crate::service::Idem> {
    let key =
        f.remove(FORM_TOKEN).filter(|k| (1..=200).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))?;
    let mut fields: Vec<(&String, &String)> = f.iter().collect();
    fields.sort();
    let mut text = String::new();
    for (k, v) in fields {
        text.push_str(&format!("{}={}\n", k.escape_default(), v.escape_default()));
    }
    let fingerprint = crate::auth::hex(&<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes()));
    Some(crate::service::Idem { key, scope: format!("console {scope}"), fingerprint })
}

/// An RFC 3339 time from a view, shown in Shanghai time.
pub fn shown(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map_or_else(|_| rfc3339.to_string(), |t| kefu_domain::time::shanghai_minute(t.with_timezone(&chrono::Utc)))
}

/// A query-string value, percent-encoded.
pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{Lang, worded};

    #[test]
    fn errors_name_fields_by_their_labels() {
        assert_eq!(worded(Lang::Zh, "title", "title is required", "title 为必填项"), "标题为必填项");
        assert_eq!(worded(Lang::En, "title", "title is required", "title 为必填项"), "Title is required");
        let (en, zh) = ("escalate needs to_tier (2 or 3), to (a user)", "升级需要指定 to_tier（2 或 3）、to（接收人）");
        assert_eq!(worded(Lang::Zh, "to_tier", en, zh), "升级需要指定升级到（2 或 3）、to（接收人）");
        let consent = "退订必须提供客户同意记录 {method, at, evidence}";
        assert_eq!(worded(Lang::Zh, "consent", "", consent), "退订必须提供客户同意记录");
        assert_eq!(worded(Lang::Zh, "to", "", "to、to_team 只能指定其中一个"), "转派给、to_team 只能指定其中一个");
    }
}
