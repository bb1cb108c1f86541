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
/// the API's own mapping.
pub fn error_text(lang: Lang, e: ApiError) -> (StatusCode, Option<String>, String) {
    let (status, field, en, zh) = e.parts();
    (status, field, lang.t(&zh, &en).to_string())
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
    chrono::DateTime::parse_from_rfc3339(rfc3339).map_or_else(
        |_| rfc3339.to_string(),
        |t| t.with_timezone(&kefu_domain::time::shanghai()).format("%Y-%m-%d %H:%M").to_string(),
    )
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
