//! The editors' queue in the console (待完善问题): what the knowledge base
//! did not answer, clustered by keyword with counts; for each cluster the
//! editor adds the customers' wording to an article, drafts a new article
//! from it, or dismisses it.

use super::Lang;
use super::layout::{Fields, Shell, error_text, gate, render};
use crate::AppState;
use crate::service::kb_misses::{Cluster, ResolveRequest};
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kefu_store::Store;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new().route("/console/kb/misses", get(queue::<S>).post(resolve::<S>))
}

/// A cluster as the page shows it.
struct Row {
    keyword: String,
    related: String,
    count: usize,
    kinds: String,
    articles: Vec<String>,
    questions: Vec<String>,
    ids: String,
    first: String,
}

#[derive(Template)]
#[template(path = "console/kb_misses.html")]
struct QueuePage<'a> {
    shell: Shell<'a>,
    rows: Vec<Row>,
    total: usize,
    may_edit: bool,
    flash: Option<String>,
    error: Option<String>,
}

fn kind_label(lang: Lang, kind: &str) -> &'static str {
    match kind {
        "no_match" => lang.t("没有匹配的答案", "no match"),
        "unsure" => lang.t("答案不确定", "unsure"),
        "not_helpful" => lang.t("评价“没有帮助”", "voted not helpful"),
        _ => lang.t("其他", "other"),
    }
}

fn row(lang: Lang, c: Cluster) -> Row {
    let kinds: Vec<String> = c.kinds.iter().map(|(k, n)| format!("{} {n}", kind_label(lang, k))).collect();
    let questions: Vec<String> = c.items.iter().take(5).map(|m| m.miss.text.clone()).collect();
    Row {
        first: questions.first().cloned().unwrap_or_default(),
        keyword: c.keyword,
        related: c.related.join(" · "),
        count: c.count,
        kinds: kinds.join("，"),
        articles: c.articles.keys().cloned().collect(),
        questions,
        ids: c.ids.iter().map(i64::to_string).collect::<Vec<_>>().join(","),
    }
}

async fn queue<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Query(f): Query<Fields>) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/kb/misses").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let flash = f.get("done").map(|r| done_text(lang, r));
    page(&app, &user, lang, flash, None, StatusCode::OK).await
}

async fn page<S: Store>(
    app: &AppState<S>,
    user: &crate::auth::CurrentUser,
    lang: Lang,
    flash: Option<String>,
    mut error: Option<String>,
    status: StatusCode,
) -> Response {
    let (rows, total) = match app.kefu.miss_queue().await {
        Ok(q) => (q.clusters.into_iter().map(|c| row(lang, c)).collect(), q.total),
        Err(e) => {
            error = Some(error_text(lang, e).2);
            (Vec::new(), 0)
        }
    };
    let may_edit = app.kefu.core.policy.access.allows("POST /api/v1/kb/misses/resolve", user.actor.role) == Some(true);
    let shell = Shell::new(lang, Some(user), lang.t("待完善问题", "Questions to answer"));
    render(status, &QueuePage { shell, rows, total, may_edit, flash, error })
}

async fn resolve<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    axum::extract::Form(f): axum::extract::Form<Fields>,
) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/kb/misses/resolve").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    if !super::same_origin(&headers) {
        return super::layout::forbidden(lang, &user);
    }
    let text = |k: &str| f.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let ids = text("ids").map(|s| s.split(',').filter_map(|i| i.trim().parse().ok()).collect());
    let req = ResolveRequest {
        ids,
        action: text("action"),
        code: text("code"),
        question: text("question"),
        title: text("title"),
        category: text("category"),
        body: None,
    };
    match app.kefu.resolve_misses(&user.actor, req).await {
        Ok(done) => {
            let to = format!("/console/kb/misses?done={}", urlencoding(&done.resolution));
            axum::response::Redirect::to(&to).into_response()
        }
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            page(&app, &user, lang, None, Some(msg), status).await
        }
    }
}

/// What an editor's decision did, in words (`similar:KB-001`, `draft:KB-061`, `dismissed`).
fn done_text(lang: Lang, resolution: &str) -> String {
    match resolution.split_once(':') {
        Some(("similar", code)) => format!("{}{code}", lang.t("已加为相似问法：", "Added as a similar question to ")),
        Some(("draft", code)) => format!("{}{code}", lang.t("已起草新文章：", "Drafted the article ")),
        _ => lang.t("已忽略", "Dismissed").to_string(),
    }
}

/// Percent-encodes what a redirect's query carries (a resolution is ASCII
/// letters, digits, `:` and `-`; anything else is encoded anyway).
fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b':' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
