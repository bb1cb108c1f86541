//! The knowledge base over HTTP.

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::service::kb::{ArticleHit, ArticleQuery, Audience};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use kefu_domain::FieldError;
use kefu_domain::kb::{Article, ArticleInput, ArticleStatus, LexiconEntries};
use kefu_store::Store;
use serde::Serialize;
use std::collections::HashMap;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/api/v1/kb/articles", get(list::<S>).post(create::<S>))
        .route("/api/v1/kb/articles/{code}", get(one::<S>).put(update::<S>).delete(delete::<S>))
        .route("/api/v1/kb/articles/{code}/versions", get(versions::<S>))
        .route("/api/v1/kb/articles/{code}/feedback", get(feedback::<S>).post(vote::<S>))
        .route("/api/v1/search/lexicon", get(lexicon::<S>).put(set_lexicon::<S>))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ArticlePage {
    items: Vec<ArticleHit>,
    total: i64,
    page: u32,
    per_page: u32,
}

fn whole(v: &str, field: &str, max: u32) -> Result<u32, FieldError> {
    v.trim().parse::<u32>().ok().filter(|n| (1..=max).contains(n)).ok_or_else(|| {
        FieldError::new(
            field,
            format!("{field} must be a whole number from 1 to {max}"),
            format!("{field} 必须是 1 到 {max} 之间的整数"),
        )
    })
}

fn query(params: &HashMap<String, String>) -> Result<ArticleQuery, ApiError> {
    let mut q = ArticleQuery { page: 1, per_page: 20, ..Default::default() };
    for (k, v) in params {
        match k.as_str() {
            "q" => q.q = Some(kefu_domain::validate::required_text(Some(v), "q", 100)?),
            "category" => q.category = Some(kefu_domain::validate::required_text(Some(v), "category", 40)?),
            "status" => q.status = Some(ArticleStatus::parse(v)?),
            "page" => q.page = whole(v, "page", 100_000)?,
            "per_page" => q.per_page = whole(v, "per_page", 500)?,
            other => {
                return Err(FieldError::new(
                    other,
                    format!("unknown filter '{other}'; the filters are q, category, status, page, per_page"),
                    format!("未知的筛选条件“{other}”"),
                )
                .into());
            }
        }
    }
    Ok(q)
}

/// Search the knowledge base (Chinese full text, synonyms; best first), or
/// list it by code without `q`.
#[utoipa::path(get, path = "/api/v1/kb/articles", tag = "knowledge base", security(("bearer" = [])),
    params(("q" = Option<String>, Query), ("category" = Option<String>, Query), ("status" = Option<String>, Query),
        ("page" = Option<u32>, Query), ("per_page" = Option<u32>, Query)),
    responses((status = 200, body = ArticlePage)))]
pub async fn list<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<ArticlePage>, ApiError> {
    let p = app.kefu.search_articles(Audience::Staff, &query(&params)?).await?;
    Ok(Json(ArticlePage { items: p.items, total: p.total, page: p.page, per_page: p.per_page }))
}

/// Add an article (status draft unless given).
#[utoipa::path(post, path = "/api/v1/kb/articles", tag = "knowledge base", security(("bearer" = [])),
    request_body = ArticleInput,
    responses((status = 201, body = Article), (status = 409, body = crate::error::ErrorBody, description = "the code exists")))]
pub async fn create<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    ApiJson(b): ApiJson<ArticleInput>,
) -> Result<(StatusCode, Json<Article>), ApiError> {
    Ok((StatusCode::CREATED, Json(app.kefu.create_article(&user.actor, b).await?)))
}

#[utoipa::path(get, path = "/api/v1/kb/articles/{code}", tag = "knowledge base", security(("bearer" = [])),
    params(("code" = String, Path)), responses((status = 200, body = Article)))]
pub async fn one<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
    Path(code): Path<String>,
) -> Result<Json<Article>, ApiError> {
    Ok(Json(app.kefu.article(&code).await?))
}

/// Change an article: a new version; fields left out stay.
#[utoipa::path(put, path = "/api/v1/kb/articles/{code}", tag = "knowledge base", security(("bearer" = [])),
    params(("code" = String, Path)), request_body = ArticleInput, responses((status = 200, body = Article)))]
pub async fn update<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(code): Path<String>,
    ApiJson(b): ApiJson<ArticleInput>,
) -> Result<Json<Article>, ApiError> {
    Ok(Json(app.kefu.update_article(&user.actor, &code, b).await?))
}

#[utoipa::path(delete, path = "/api/v1/kb/articles/{code}", tag = "knowledge base", security(("bearer" = [])),
    params(("code" = String, Path)), responses((status = 204)))]
pub async fn delete<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
    Path(code): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.kefu.delete_article(&code).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every version of an article, oldest first.
#[utoipa::path(get, path = "/api/v1/kb/articles/{code}/versions", tag = "knowledge base", security(("bearer" = [])),
    params(("code" = String, Path)), responses((status = 200, body = Vec<Article>)))]
pub async fn versions<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
    Path(code): Path<String>,
) -> Result<Json<Vec<Article>>, ApiError> {
    Ok(Json(app.kefu.article_versions(&code).await?))
}

/// The administrators' search lexicon: words kept whole, groups of words
/// that mean the same (beside the shipped telecom lexicon).
#[utoipa::path(get, path = "/api/v1/search/lexicon", tag = "knowledge base", security(("bearer" = [])),
    responses((status = 200, body = LexiconEntries)))]
pub async fn lexicon<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
) -> Result<Json<LexiconEntries>, ApiError> {
    Ok(Json(app.kefu.lexicon().await?))
}

/// Replace the administrators' search lexicon; applied without a restart.
#[utoipa::path(put, path = "/api/v1/search/lexicon", tag = "knowledge base", security(("bearer" = [])),
    request_body = LexiconEntries, responses((status = 200, body = LexiconEntries)))]
pub async fn set_lexicon<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    ApiJson(b): ApiJson<LexiconEntries>,
) -> Result<Json<LexiconEntries>, ApiError> {
    Ok(Json(app.kefu.set_lexicon(&user.actor, b).await?))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoteBody {
    helpful: bool,
    /// Why not (or why), at most 500 characters.
    reason: Option<String>,
}

/// Was the article helpful? Editors read the votes and reasons.
#[utoipa::path(post, path = "/api/v1/kb/articles/{code}/feedback", tag = "knowledge base", security(("bearer" = [])),
    params(("code" = String, Path)), request_body = VoteBody, responses((status = 201, body = Object)))]
pub async fn vote<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
    Path(code): Path<String>,
    ApiJson(b): ApiJson<VoteBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    app.kefu.article_feedback(&code, b.helpful, b.reason.as_deref(), "staff").await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({"recorded": true}))))
}

/// The votes on an article: counts and the latest 20.
#[utoipa::path(get, path = "/api/v1/kb/articles/{code}/feedback", tag = "knowledge base", security(("bearer" = [])),
    params(("code" = String, Path)), responses((status = 200, body = kefu_store::FeedbackSummary)))]
pub async fn feedback<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
    Path(code): Path<String>,
) -> Result<Json<kefu_store::FeedbackSummary>, ApiError> {
    Ok(Json(app.kefu.article_feedback_summary(&code).await?))
}
