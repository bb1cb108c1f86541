//! Canned replies and macros (快捷回复) in the console: the page where
//! people keep their own (and supervisors the shared ones), and applying
//! one from a ticket's page as one change.

use super::Lang;
use super::layout::{
    Fields, Opt, Shell, error_text, field_label, forbidden, form_token, gate, render, take_token, url_encode,
};
use crate::AppState;
use crate::auth::CurrentUser;
use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kefu_domain::macros::{Macro, MacroInput};
use kefu_domain::{MacroId, Priority};
use kefu_store::Store;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/console/macros", get(page::<S>).post(save::<S>))
        .route("/console/macros/{id}/delete", post(delete::<S>))
        .route("/console/tickets/{key}/macro", post(apply::<S>))
}

/// A macro as listed: what it does, in words.
pub struct Row {
    id: i64,
    name: String,
    scope: String,
    does: String,
    /// The caller may change or delete it.
    kept: bool,
}

#[derive(Template)]
#[template(path = "console/canned.html")]
struct CannedPage<'a> {
    shell: Shell<'a>,
    rows: Vec<Row>,
    /// The form: a new macro, or the one being changed.
    editing: Option<i64>,
    name: String,
    body: String,
    internal: bool,
    shared: bool,
    priorities: Vec<Opt>,
    may_share: bool,
    errors: Vec<String>,
    error: Option<String>,
    token: String,
    flash: Option<String>,
}

/// What a macro does, as a person reads it: "回复客户：… · 优先级改为紧急".
pub fn does(lang: Lang, m: &Macro) -> String {
    let mut parts = Vec::new();
    if let Some(b) = &m.body {
        let short: String = b.chars().take(40).collect();
        let more = if b.chars().count() > 40 { "…" } else { "" };
        let what = if m.internal { lang.t("内部备注", "Internal note") } else { lang.t("回复客户", "Reply") };
        parts.push(format!("{what}{}{short}{more}", lang.t("：", ": ")));
    }
    if let Some(p) = m.priority {
        parts.push(format!("{}{}", lang.t("优先级改为", "priority to "), lang.t(p.label_zh(), p.as_str())));
    }
    parts.join(" · ")
}

fn row(lang: Lang, user: &CurrentUser, may_share: bool, m: &Macro) -> Row {
    Row {
        id: m.id.0,
        name: m.name.clone(),
        scope: if m.shared { lang.t("共享", "Shared") } else { lang.t("个人", "Mine") }.to_string(),
        does: does(lang, m),
        kept: m.owner == user.actor.id || (m.shared && may_share),
    }
}

fn may_share<S: Store>(app: &AppState<S>, user: &CurrentUser) -> bool {
    app.kefu.core.policy.access.shared_macros.contains(&user.actor.role)
}

fn priorities(lang: Lang, current: &str) -> Vec<Opt> {
    Priority::ALL.iter().map(|p| Opt::new(p.as_str(), lang.t(p.label_zh(), p.as_str()), current)).collect()
}

async fn page<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Query(q): Query<Fields>) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/macros").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let editing = q.get("edit").and_then(|i| i.parse::<i64>().ok());
    let flash = q.get("done").map(|d| match d.as_str() {
        "deleted" => lang.t("已删除", "Deleted").to_string(),
        _ => lang.t("已保存", "Saved").to_string(),
    });
    let mut form = Fields::new();
    if let Some(id) = editing
        && let Ok(m) = app.kefu.usable_macro(&user.actor, MacroId(id)).await
    {
        form.insert("name".into(), m.name.clone());
        form.insert("body".into(), m.body.clone().unwrap_or_default());
        form.insert("priority".into(), m.priority.map_or("", |p| p.as_str()).into());
        form.insert("internal".into(), m.internal.to_string());
        form.insert("shared".into(), m.shared.to_string());
    }
    show(&app, &user, lang, StatusCode::OK, (editing, &form), (Vec::new(), None), flash).await
}

async fn show<S: Store>(
    app: &AppState<S>,
    user: &CurrentUser,
    lang: Lang,
    status: StatusCode,
    (editing, form): (Option<i64>, &Fields),
    (errors, error): (Vec<String>, Option<String>),
    flash: Option<String>,
) -> Response {
    let may_share = may_share(app, user);
    let (rows, error) = match app.kefu.macros(&user.actor).await {
        Ok(list) => (list.iter().map(|m| row(lang, user, may_share, m)).collect(), error),
        Err(e) => (Vec::new(), Some(error_text(lang, e).2)),
    };
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let page = CannedPage {
        shell: Shell::new(lang, Some(user), lang.t("快捷回复", "Macros")),
        rows,
        editing,
        name: get("name"),
        body: get("body"),
        internal: get("internal") == "true",
        shared: get("shared") == "true",
        priorities: priorities(lang, &get("priority")),
        may_share,
        errors,
        error,
        token: form_token(),
        flash,
    };
    render(status, &page)
}

/// The form as the API's input: unchecked boxes are false, blanks absent
/// (a blank priority on a change clears it).
fn input(f: &Fields) -> MacroInput {
    let text = |k: &str| f.get(k).map(|v| v.trim().to_string());
    MacroInput {
        name: text("name").filter(|v| !v.is_empty()),
        shared: Some(f.get("shared").map(String::as_str) == Some("true")),
        body: Some(text("body").unwrap_or_default()),
        internal: Some(f.get("internal").map(String::as_str) == Some("true")),
        priority: Some(text("priority").unwrap_or_default()),
    }
}

/// Each problem of the form, its field called by the form's label.
fn problems(lang: Lang, i: &MacroInput) -> Vec<String> {
    i.field_errors()
        .into_iter()
        .map(|e| {
            let label = match e.field.as_str() {
                "name" => lang.t("名称", "Name").to_string(),
                "body" => lang.t("内容", "Text").to_string(),
                other => field_label(lang, other),
            };
            let text = lang.t(&e.message_zh, &e.message);
            // The domain's messages name the field by its API name first.
            let text = text.strip_prefix(e.field.as_str()).map_or(text, str::trim_start);
            format!("{label}{}{text}", lang.t("：", ": "))
        })
        .collect()
}

async fn save<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Form(mut f): Form<Fields>) -> Response {
    let editing = f.get("id").and_then(|i| i.parse::<i64>().ok());
    let endpoint = if editing.is_some() { "PATCH /api/v1/macros/{id}" } else { "POST /api/v1/macros" };
    let user = match gate(&app, &headers, endpoint).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    if !super::same_origin(&headers) {
        return forbidden(lang, &user);
    }
    // A double submit meets the name it just saved (a name is unique per
    // owner), so the token only needs taking out of the fields.
    take_token(&mut f, "POST /console/macros");
    let i = input(&f);
    let errors = problems(lang, &i);
    if !errors.is_empty() {
        return show(&app, &user, lang, StatusCode::UNPROCESSABLE_ENTITY, (editing, &f), (errors, None), None).await;
    }
    let saved = match editing {
        Some(id) => app.kefu.update_macro(&user.actor, MacroId(id), i).await,
        None => app.kefu.create_macro(&user.actor, i).await,
    };
    match saved {
        Ok(_) => Redirect::to("/console/macros?done=saved").into_response(),
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            let msg = if status == StatusCode::CONFLICT {
                lang.t("已有同名的快捷回复，请换一个名称", "You already have a macro by that name").to_string()
            } else {
                msg
            };
            show(&app, &user, lang, status, (editing, &f), (Vec::new(), Some(msg)), None).await
        }
    }
}

async fn delete<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let user = match gate(&app, &headers, "DELETE /api/v1/macros/{id}").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    if !super::same_origin(&headers) {
        return forbidden(lang, &user);
    }
    let Ok(id) = id.parse::<i64>() else { return Redirect::to("/console/macros").into_response() };
    match app.kefu.delete_macro(&user.actor, MacroId(id)).await {
        // Deleted now or by an earlier click: either way it is gone.
        Ok(()) | Err(crate::error::ApiError::NotFound { .. }) => {
            Redirect::to("/console/macros?done=deleted").into_response()
        }
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            show(&app, &user, lang, status, (None, &Fields::new()), (Vec::new(), Some(msg)), None).await
        }
    }
}

async fn apply<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path(key): Path<String>,
    Form(mut f): Form<Fields>,
) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/tickets/{id}/macros/{macro_id}").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    if !super::same_origin(&headers) {
        return forbidden(lang, &user);
    }
    let once = take_token(&mut f, &format!("POST /console/tickets/{key}/macro"));
    let Some(id) = f.get("macro").and_then(|m| m.parse::<i64>().ok()) else {
        let msg = lang.t("请选择快捷回复", "Choose a macro").to_string();
        return super::ticket::show_error(&app, &user, lang, &key, "macro", StatusCode::UNPROCESSABLE_ENTITY, msg)
            .await;
    };
    match app.kefu.apply_macro(&user.actor, &key, MacroId(id), once).await {
        Ok(_) => Redirect::to(&format!("/console/tickets/{key}?done={}", url_encode("macro"))).into_response(),
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            super::ticket::show_error(&app, &user, lang, &key, "macro", status, msg).await
        }
    }
}

/// The macros offered on a ticket's page, if the caller may apply any.
pub async fn offered<S: Store>(app: &AppState<S>, user: &CurrentUser, lang: Lang) -> Vec<Opt> {
    let endpoint = "POST /api/v1/tickets/{id}/macros/{macro_id}";
    if app.kefu.core.policy.access.allows(endpoint, user.actor.role) != Some(true) {
        return Vec::new();
    }
    let list = app.kefu.macros(&user.actor).await.unwrap_or_default();
    list.iter().map(|m| Opt::new(&m.id.0.to_string(), &format!("{} — {}", m.name, does(lang, m)), "")).collect()
}
