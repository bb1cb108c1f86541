//! The notification centre (通知): a staff member's notices — work handed
//! to them, transfers, @mentions, deadline warnings and breaches — each
//! linking to its ticket, read when opened; and the unread count the
//! header's badge asks for, so it updates without a reload.

use super::Lang;
use super::layout::{Fields, Shell, error_text, forbidden, gate, render};
use super::workbench::Pager;
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kefu_store::Store;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/console/notices", get(notices::<S>))
        .route("/console/notices/read", post(read_all::<S>))
        .route("/console/notices/unread", get(unread::<S>))
}

const PER_PAGE: u32 = 30;

struct Item {
    kind: String,
    text: String,
    at: String,
    /// Where it leads: the ticket, marking the notice read on the way.
    link: Option<String>,
    unread: bool,
}

#[derive(Template)]
#[template(path = "console/notices.html")]
struct NoticesPage<'a> {
    shell: Shell<'a>,
    items: Vec<Item>,
    pager: Pager,
    error: Option<String>,
}

/// A notice's kind as people say it.
fn kind_label(lang: Lang, kind: &str) -> String {
    let (zh, en) = match kind {
        "dispatch" => ("派单", "assigned"),
        "transfer" => ("转派", "transfer"),
        "transfer_accepted" => ("转派已接收", "transfer accepted"),
        "transfer_rejected" => ("转派被退回", "transfer rejected"),
        "resolved" => ("已办结", "resolved"),
        "escalation" => ("升级", "escalated"),
        "supervised" => ("主管督办", "supervised"),
        "mention" => ("提到了您", "mentioned you"),
        "sla_warning" => ("时限预警", "deadline warning"),
        "sla_breach" => ("时限超时", "deadline breached"),
        "queued" => ("待派（无人可派）", "waiting in queue"),
        "appeal" => ("客户申诉", "customer appeal"),
        _ => ("通知", "notice"),
    };
    lang.t(zh, en).to_string()
}

async fn notices<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Query(q): Query<Fields>) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/notices").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let page = q.get("page").and_then(|p| p.parse().ok()).filter(|p| *p >= 1).unwrap_or(1);
    let local = kefu_domain::time::shanghai_short;
    let (items, pager, error) = match app.kefu.store.notices(user.actor.id, false, page, PER_PAGE).await {
        Ok(p) => {
            let items = p
                .items
                .into_iter()
                .map(|n| Item {
                    kind: kind_label(lang, &n.kind),
                    text: lang.t(&n.message_zh, &n.message).to_string(),
                    at: local(n.created_at),
                    link: n.ticket_number.map(|t| format!("/console/tickets/{t}?notice={}", n.id)),
                    unread: n.read_at.is_none(),
                })
                .collect();
            (items, Pager::numbered("/console/notices", page, PER_PAGE, p.total), None)
        }
        Err(e) => (Vec::new(), Pager::default(), Some(error_text(lang, e.into()).2)),
    };
    let shell = Shell::new(lang, Some(&user), lang.t("通知", "Notices"));
    render(StatusCode::OK, &NoticesPage { shell, items, pager, error })
}

async fn read_all<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/notices/read").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    if !super::same_origin(&headers) {
        return forbidden(Lang::of(&headers), &user);
    }
    if let Err(e) = app.kefu.store.read_notices(user.actor.id, None, app.kefu.now()).await {
        tracing::warn!(error = %e, "marking notices read failed");
    }
    Redirect::to("/console/notices").into_response()
}

/// The unread count as plain text, for the header's badge.
async fn unread<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap) -> Response {
    let Some(user) = super::user(&app, &headers).await else { return StatusCode::UNAUTHORIZED.into_response() };
    let n = app.kefu.store.notices(user.actor.id, true, 1, 1).await.map_or(0, |p| p.total);
    let headers = [(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::CACHE_CONTROL, "no-store")];
    (StatusCode::OK, headers, n.to_string()).into_response()
}

/// Marks notice `id` of this user read (opening a ticket from the centre).
pub async fn mark_read<S: Store>(app: &AppState<S>, user: kefu_domain::UserId, id: Option<&String>) {
    if let Some(id) = id.and_then(|i| i.parse::<i64>().ok())
        && let Err(e) = app.kefu.store.read_notices(user, Some(id), app.kefu.now()).await
    {
        tracing::warn!(error = %e, "marking a notice read failed");
    }
}
