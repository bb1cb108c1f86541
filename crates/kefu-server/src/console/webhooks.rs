//! Webhooks and TMF hub subscriptions in the console (issue 22), for
//! administrators: every endpoint kefu calls, its state and failures, switch
//! one off or on again, add one (the signing secret shown once), and each
//! endpoint's delivery log with a button to send a delivery again.

use super::Lang;
use super::layout::{Fields, Shell, error_text, forbidden, form_token, gate, render, shown, take_token};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::service::events::{WebhookChange, WebhookInput};
use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kefu_store::{Store, Webhook};

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/console/webhooks", get(list::<S>).post(add::<S>))
        .route("/console/webhooks/{id}", get(detail::<S>).post(switch::<S>))
        .route("/console/webhooks/{id}/replay/{delivery}", post(replay::<S>))
}

/// One endpoint as a row.
struct Row {
    id: i64,
    url: String,
    kind: String,
    events: String,
    description: String,
    enabled: bool,
    state: String,
    failures: u32,
}

fn kind_label(kind: &str, lang: Lang) -> String {
    match kind {
        "tmf" => lang.t("TMF621 订阅", "TMF621 hub"),
        "tmf5" => lang.t("TMF621 v5 订阅", "TMF621 v5 hub"),
        _ => lang.t("回调", "Webhook"),
    }
    .to_string()
}

fn events_label(h: &Webhook, lang: Lang) -> String {
    if h.kind.starts_with("tmf") {
        return if h.query.is_empty() { lang.t("全部", "all").to_string() } else { h.query.clone() };
    }
    if h.events.is_empty() {
        return lang.t("全部", "all").to_string();
    }
    h.events.iter().map(|e| kefu_domain::events::label(e, lang == Lang::Zh).to_string()).collect::<Vec<_>>().join("、")
}

fn state_label(h: &Webhook, lang: Lang) -> String {
    match (&h.enabled, &h.disabled_reason) {
        (true, _) => lang.t("启用", "on").to_string(),
        (false, Some(why)) => format!("{}（{why}）", lang.t("已停用", "off")),
        (false, None) => lang.t("已停用", "off").to_string(),
    }
}

#[derive(Template)]
#[template(path = "console/webhooks.html")]
struct ListPage<'a> {
    shell: Shell<'a>,
    hooks: Vec<Row>,
    types: Vec<(&'static str, String)>,
    error: Option<String>,
    secret: Option<String>,
    token: String,
}

async fn list_page<S: Store>(
    app: &AppState<S>,
    user: &CurrentUser,
    lang: Lang,
    status: StatusCode,
    (error, secret): (Option<String>, Option<String>),
) -> Response {
    let hooks = match app.kefu.store.webhooks().await {
        Ok(h) => h,
        Err(e) => {
            let (status, _, msg) = error_text(lang, e.into());
            return super::layout::message(status, lang, Some(user), "webhooks", &msg);
        }
    };
    let hooks = hooks
        .iter()
        .map(|h| Row {
            id: h.id,
            url: h.url.clone(),
            kind: kind_label(&h.kind, lang),
            events: events_label(h, lang),
            description: h.description.clone(),
            enabled: h.enabled,
            state: state_label(h, lang),
            failures: h.failures,
        })
        .collect();
    let types = kefu_domain::events::EVENT_TYPES
        .iter()
        .map(|(code, _)| (*code, kefu_domain::events::label(code, lang == Lang::Zh).to_string()))
        .collect();
    let title = lang.t("回调与事件订阅", "Webhooks");
    let page =
        ListPage { shell: Shell::new(lang, Some(user), title), hooks, types, error, secret, token: form_token() };
    render(status, &page)
}

async fn list<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/webhooks").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    list_page(&app, &user, Lang::of(&headers), StatusCode::OK, (None, None)).await
}

async fn add<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Form(mut f): Form<Fields>) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/webhooks").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    if !super::same_origin(&headers) {
        return forbidden(lang, &user);
    }
    take_token(&mut f, "POST /console/webhooks");
    let events = kefu_domain::events::EVENT_TYPES
        .iter()
        .filter(|(code, _)| f.contains_key(&format!("event_{code}")))
        .map(|(code, _)| code.to_string())
        .collect();
    let input = WebhookInput {
        url: f.get("url").cloned().unwrap_or_default(),
        events,
        description: f.get("description").cloned().unwrap_or_default(),
    };
    match app.kefu.register_hook(&user.actor, "webhook", input, String::new()).await {
        Ok(h) => list_page(&app, &user, lang, StatusCode::CREATED, (None, Some(h.secret))).await,
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            list_page(&app, &user, lang, status, (Some(msg), None)).await
        }
    }
}

async fn switch<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(mut f): Form<Fields>,
) -> Response {
    let user = match gate(&app, &headers, "PATCH /api/v1/webhooks/{id}").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    if !super::same_origin(&headers) {
        return forbidden(lang, &user);
    }
    take_token(&mut f, "POST /console/webhooks/{id}");
    let enabled = f.get("enabled").map(|v| v == "true");
    match app.kefu.change_hook(id, WebhookChange { enabled, ..Default::default() }).await {
        Ok(_) => Redirect::to("/console/webhooks").into_response(),
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            list_page(&app, &user, lang, status, (Some(msg), None)).await
        }
    }
}

/// One delivery as a row.
struct DeliveryRow {
    id: i64,
    event_id: String,
    event_type: String,
    ticket: i64,
    state: String,
    failed: bool,
    attempts: u32,
    last: String,
    at: String,
}

#[derive(Template)]
#[template(path = "console/webhook.html")]
struct DetailPage<'a> {
    shell: Shell<'a>,
    id: i64,
    url: String,
    facts: Vec<(String, String)>,
    deliveries: Vec<DeliveryRow>,
    error: Option<String>,
    token: String,
}

async fn detail_page<S: Store>(app: &AppState<S>, user: &CurrentUser, lang: Lang, id: i64) -> Response {
    let title = lang.t("回调地址", "Endpoint");
    let loaded = async {
        let h = app.kefu.hook(id, None).await?;
        let log = app.kefu.store.deliveries(id, None, 100).await?;
        Ok::<_, crate::error::ApiError>((h, log))
    };
    let (h, log) = match loaded.await {
        Ok(x) => x,
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            return super::layout::message(status, lang, Some(user), title, &msg);
        }
    };
    let facts = vec![
        (lang.t("类别", "Kind").to_string(), kind_label(&h.kind, lang)),
        (lang.t("事件", "Events").to_string(), events_label(&h, lang)),
        (lang.t("说明", "Description").to_string(), h.description.clone()),
        (lang.t("状态", "State").to_string(), state_label(&h, lang)),
        (lang.t("连续失败", "Failures in a row").to_string(), h.failures.to_string()),
        (lang.t("登记时间", "Registered").to_string(), shown(&h.created_at.to_rfc3339())),
    ];
    let deliveries = log
        .iter()
        .map(|d| {
            let view = crate::service::events::delivery_view(d);
            let state = if lang == Lang::Zh { view.state_zh.clone() } else { d.state.clone() };
            let last = match (d.last_status, &d.last_error) {
                (_, Some(e)) => e.clone(),
                (Some(s), None) => s.to_string(),
                (None, None) => String::new(),
            };
            DeliveryRow {
                id: d.id,
                event_id: d.event_id.clone(),
                event_type: kefu_domain::events::label(&d.event_type, lang == Lang::Zh).to_string(),
                ticket: d.ticket.0,
                failed: d.state == "failed" || (d.state == "pending" && d.attempts > 0),
                state,
                attempts: d.attempts,
                last,
                at: shown(&d.delivered_at.unwrap_or(d.next_at).to_rfc3339()),
            }
        })
        .collect();
    let page = DetailPage {
        shell: Shell::new(lang, Some(user), title),
        id,
        url: h.url.clone(),
        facts,
        deliveries,
        error: None,
        token: form_token(),
    };
    render(StatusCode::OK, &page)
}

async fn detail<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/webhooks/{id}/deliveries").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    detail_page(&app, &user, Lang::of(&headers), id).await
}

async fn replay<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path((id, delivery)): Path<(i64, i64)>,
    Form(mut f): Form<Fields>,
) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/webhooks/{id}/deliveries/{delivery}/replay").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    if !super::same_origin(&headers) {
        return forbidden(lang, &user);
    }
    take_token(&mut f, "POST /console/webhooks/{id}/replay");
    match app.kefu.store.replay_delivery(id, delivery, app.kefu.now()).await {
        Ok(_) => Redirect::to(&format!("/console/webhooks/{id}")).into_response(),
        Err(e) => {
            let (status, _, msg) = error_text(lang, e.into());
            super::layout::message(status, lang, Some(&user), "webhooks", &msg)
        }
    }
}
