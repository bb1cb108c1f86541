//! The knowledge base in the customer portal (常见问题): public articles in
//! force, searched in the customer's own words; no login.

use super::portal::page;
use crate::AppState;
use crate::service::kb::{ArticleQuery, Audience};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use kefu_domain::kb::Article;
use kefu_store::Store;
use std::collections::HashMap;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/portal/kb", get(search::<S>))
        .route("/portal/kb/{code}", get(article::<S>))
        .route("/portal/kb/{code}/feedback", axum::routing::post(vote::<S>))
}

pub const PUBLIC: &[&str] = &["GET /portal/kb", "GET /portal/kb/{code}", "POST /portal/kb/{code}/feedback"];

/// A customer's vote, limited per address like the look-ups.
async fn vote<S: Store>(
    State(app): State<AppState<S>>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    Path(code): Path<String>,
    axum::extract::Form(f): axum::extract::Form<HashMap<String, String>>,
) -> Response {
    let security = &app.kefu.core.policy.security;
    if !app.kefu.core.portal_limiter.allow(peer.ip(), app.kefu.now(), security.portal_lookups_per_minute) {
        let why = "提交过于频繁，请稍后再试。Too many attempts; try again in a minute.";
        return super::portal::message(StatusCode::TOO_MANY_REQUESTS, "常见问题 Help", &[why], false);
    }
    // Customers vote on what they may read: public articles in force.
    let today = kefu_domain::time::shanghai_date(app.kefu.now());
    if !app.kefu.article(&code).await.is_ok_and(|a| a.answers_customers(today)) {
        return super::portal::message(
            StatusCode::NOT_FOUND,
            "未找到 Not found",
            &["没有这篇文章。No such article."],
            false,
        );
    }
    let helpful = f.get("helpful").map(String::as_str) == Some("true");
    let reason: Option<String> = f.get("reason").map(|r| r.chars().take(500).collect());
    match app.kefu.article_feedback(&code, helpful, reason.as_deref(), "customer").await {
        Ok(()) => super::portal::message(
            StatusCode::OK,
            "感谢反馈 Thank you",
            &["您的评价已收到，我们会据此改进。We read every answer."],
            false,
        ),
        Err(_) => super::portal::message(
            StatusCode::NOT_FOUND,
            "未找到 Not found",
            &["没有这篇文章。No such article."],
            false,
        ),
    }
}

#[derive(Template)]
#[template(path = "portal/kb.html")]
struct SearchPage {
    title: &'static str,
    q: String,
    items: Vec<crate::console::kb::Found>,
    error: Option<&'static str>,
}

async fn search<S: Store>(State(app): State<AppState<S>>, Query(f): Query<HashMap<String, String>>) -> Response {
    let q: String = f.get("q").map(|s| s.trim().chars().take(100).collect()).unwrap_or_default();
    let query = ArticleQuery {
        q: Some(q.clone()).filter(|q| !q.is_empty()),
        sentence: true,
        page: 1,
        per_page: 10,
        ..Default::default()
    };
    let (items, error) = match app.kefu.search_articles(Audience::Customers, &query).await {
        Ok(p) => (p.items.iter().map(|h| crate::console::kb::found(crate::console::Lang::Zh, h)).collect(), None),
        Err(e) => {
            tracing::warn!(error = %e, "portal search failed");
            (Vec::new(), Some("搜索暂时不可用，请稍后再试。Search is unavailable; try again later."))
        }
    };
    page(StatusCode::OK, &SearchPage { title: "常见问题 Help", q, items, error })
}

#[derive(Template)]
#[template(path = "portal/kb_article.html")]
struct ArticlePage {
    title: String,
    a: Article,
}

async fn article<S: Store>(State(app): State<AppState<S>>, Path(code): Path<String>) -> Response {
    let today = kefu_domain::time::shanghai_date(app.kefu.now());
    match app.kefu.article(&code).await {
        Ok(a) if a.answers_customers(today) => page(StatusCode::OK, &ArticlePage { title: a.title.clone(), a }),
        // Internal, draft, expired or missing: the same answer for all.
        _ => {
            let why = "没有这篇文章，或它已不再有效。This article does not exist or is no longer valid.";
            super::portal::message(StatusCode::NOT_FOUND, "未找到 Not found", &[why], false)
        }
    }
}
