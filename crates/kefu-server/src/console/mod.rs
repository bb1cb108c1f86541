//! The web console (工作台) for agents, engineers, complaint specialists and
//! supervisors: server-rendered pages over the same service the API uses,
//! zh-CN first with an English switch, a little inline JavaScript (live
//! countdowns, Ctrl+Enter) and no asset from elsewhere. The session is the
//! API's: logging in sets it as an HttpOnly, SameSite=Strict cookie, and
//! forms are refused unless they come from the console's own origin.
//!
//! One module per page family, each with its router and its templates under
//! `templates/console/`; askama escapes every value the templates print.

mod attachments;
mod bulk;
mod canned;
mod customer;
mod dashboard;
mod duty;
mod incidents;
mod intake;
pub(crate) mod kb;
mod kb_misses;
mod layout;
mod login;
mod notices;
mod orders;
mod presence;
mod quality;
mod reports;
mod reveal;
mod security;
mod stores;
mod ticket;
mod ticket_forms;
mod visits;
mod webhooks;
mod workbench;

use crate::AppState;
use crate::auth::{CurrentUser, token_hash};
use axum::Router;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use kefu_store::prelude::*;

pub use presence::Presence;

pub const SESSION_COOKIE: &str = "kefu_session";
const LANG_COOKIE: &str = "kefu_lang";

/// Every console page, one router per page family.
pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .merge(login::router())
        .merge(workbench::router())
        .merge(intake::router())
        .merge(ticket::router())
        .merge(attachments::router())
        .merge(visits::router())
        .merge(dashboard::router())
        .merge(notices::router())
        .merge(duty::router())
        .merge(customer::router())
        .merge(orders::router())
        .merge(bulk::router())
        .merge(canned::router())
        .merge(kb::router())
        .merge(kb_misses::router())
        .merge(reports::router())
        .merge(quality::router())
        .merge(stores::router())
        .merge(incidents::router())
        .merge(security::router())
        .merge(webhooks::router())
        .merge(presence::router())
        .layer(axum::middleware::from_fn(remember_next))
}

/// A page that sends its visitor to the login page remembers itself, so
/// that signing in leads back to it (a link from a notice, a colleague, a
/// bookmark) instead of to the workbench.
async fn remember_next(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let wanted = (req.method() == axum::http::Method::GET)
        .then(|| req.uri().path_and_query().map(|p| p.as_str().to_string()))
        .flatten()
        // The workbench is where signing in leads anyway.
        .filter(|p| p != "/console" && !p.starts_with("/console/login"));
    let mut res = next.run(req).await;
    if let Some(path) = wanted
        && res.headers().get(header::LOCATION).is_some_and(|l| l == "/console/login")
    {
        let to = format!("/console/login?next={}", layout::url_encode(&path));
        if let Ok(v) = header::HeaderValue::from_str(&to) {
            res.headers_mut().insert(header::LOCATION, v);
        }
    }
    res
}

/// The console page a form was sent from (its Referer), to go back to
/// after a change made from the header (language, duty); else the workbench.
pub fn back(headers: &HeaderMap) -> String {
    let from = headers.get(header::REFERER).and_then(|r| r.to_str().ok());
    safe_next(from.and_then(|r| r.find("/console").map(|i| &r[i..])))
}

/// Where to go after signing in: `next` if it is a console path of this
/// site (never another origin), else the workbench. Non-ASCII is
/// percent-encoded, as a Location header needs.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(p) if p.starts_with("/console") && !p.contains('\\') => p
            .bytes()
            .map(|b| if b.is_ascii_graphic() { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect(),
        _ => "/console".to_string(),
    }
}

/// The console's pages are public to the access middleware: each one
/// authenticates by the session cookie (or sends to the login page) and
/// checks the role against the same endpoint table as the API.
pub fn is_console(path: &str) -> bool {
    path == "/console" || path.starts_with("/console/")
}

/// The console's language: Chinese unless the user switched to English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn of(headers: &HeaderMap) -> Lang {
        match cookie(headers, LANG_COOKIE).as_deref() {
            Some("en") => Lang::En,
            _ => Lang::Zh,
        }
    }

    /// The text in this language.
    pub fn t<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// The value of `<html lang>`.
    pub fn code(self) -> &'static str {
        self.t("zh-CN", "en")
    }

    /// The language the switch link leads to, as `/console/lang?to=` takes it.
    pub fn other(self) -> &'static str {
        self.t("en", "zh")
    }

    /// The switch link's text, in the language it leads to.
    pub fn other_name(self) -> &'static str {
        self.t("English", "中文")
    }
}

pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The signed-in user of a console request, if any.
pub async fn user<S: Store>(app: &AppState<S>, headers: &HeaderMap) -> Option<CurrentUser> {
    let token = cookie(headers, SESSION_COOKIE)?;
    let hash = token_hash(&token);
    let actor = app.kefu.authenticate(&hash).await.ok()??;
    Some(CurrentUser { actor, token_hash: hash })
}

/// Forms count only from the console itself: a cross-site POST carries
/// another Origin (the SameSite cookie already keeps it unauthenticated).
pub fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match (headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()), host) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin.split_once("://").is_some_and(|(_, h)| h == host),
        (Some(_), None) => false,
    }
}

pub fn to_login() -> Response {
    Redirect::to("/console/login").into_response()
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_console_paths_are_followed_after_login() {
        assert_eq!(safe_next(Some("/console/tickets/GD1?done=x")), "/console/tickets/GD1?done=x");
        assert_eq!(safe_next(Some("/console?q=宽带 掉线")), "/console?q=%E5%AE%BD%E5%B8%A6%20%E6%8E%89%E7%BA%BF");
        for bad in ["https://evil.example/console", "//evil.example/console", "/api/v1/tickets", "/console\\x", ""] {
            assert_eq!(safe_next(Some(bad)), "/console", "{bad}");
        }
        assert_eq!(safe_next(None), "/console");
    }
}
