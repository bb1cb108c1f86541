//! Signing in and out, and the language switch.

use super::layout::{Fields, Shell, render};
use super::{Lang, SESSION_COOKIE, same_origin};
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kefu_store::Store;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/console/login", get(login_page).post(login::<S>))
        .route("/console/logout", post(logout::<S>))
        .route("/console/lang", get(lang))
}

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage<'a> {
    shell: Shell<'a>,
    error: Option<&'a str>,
    /// The page to return to after signing in.
    next: &'a str,
}

fn login_html(status: StatusCode, lang: Lang, error: Option<&str>, next: &str) -> Response {
    render(status, &LoginPage { shell: Shell::new(lang, None, lang.t("登录", "Sign in")), error, next })
}

async fn login_page(headers: HeaderMap, Query(q): Query<Fields>) -> Response {
    let next = super::safe_next(q.get("next").map(String::as_str));
    login_html(StatusCode::OK, Lang::of(&headers), None, &next)
}

async fn login<S: Store>(
    State(app): State<AppState<S>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<Fields>,
) -> Response {
    let lang = Lang::of(&headers);
    let next = super::safe_next(f.get("next").map(String::as_str));
    if !same_origin(&headers) {
        return login_html(StatusCode::FORBIDDEN, lang, Some("forbidden"), &next);
    }
    let (u, p) = (f.get("username").map_or("", |s| s.trim()), f.get("password").map_or("", String::as_str));
    match app.kefu.login(u, p, Some(peer.ip())).await {
        Ok(r) => {
            let max_age = (r.expires_at - app.kefu.now()).num_seconds().max(0);
            let cookie =
                format!("{SESSION_COOKIE}={}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age}", r.token);
            (StatusCode::SEE_OTHER, [(header::SET_COOKIE, cookie), (header::LOCATION, next)]).into_response()
        }
        Err(e) => {
            let msg = super::layout::error_text(lang, e).2;
            login_html(StatusCode::UNAUTHORIZED, lang, Some(&msg), &next)
        }
    }
}

async fn logout<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap) -> Response {
    if let Some(u) = super::user(&app, &headers).await
        && same_origin(&headers)
    {
        let _ = app.kefu.logout(&u.token_hash).await;
    }
    let cookie = format!("{SESSION_COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0");
    (StatusCode::SEE_OTHER, [(header::SET_COOKIE, cookie), (header::LOCATION, "/console/login".to_string())])
        .into_response()
}

async fn lang(headers: HeaderMap, Query(q): Query<Fields>) -> Response {
    let to = if q.get("to").map(String::as_str) == Some("en") { "en" } else { "zh" };
    let back = super::back(&headers);
    let cookie = format!("kefu_lang={to}; Path=/console; SameSite=Lax; Max-Age=31536000");
    (StatusCode::SEE_OTHER, [(header::SET_COOKIE, cookie), (header::LOCATION, back)]).into_response()
}
