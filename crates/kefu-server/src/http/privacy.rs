//! Revealing personal fields (with a reason, logged) and the access log.

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::service::{RevealSubject, Revealed};
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use kefu_domain::CustomerId;
use kefu_store::{AccessEntry, Store};
use serde::Deserialize;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/api/v1/tickets/{id}/reveal", post(reveal_ticket::<S>))
        .route("/api/v1/customers/{id}/reveal", post(reveal_customer::<S>))
        .route("/api/v1/access-log", get(access_log::<S>))
        .route("/api/v1/customers/{id}/export", post(export_customer::<S>))
        .route("/api/v1/customers/{id}/erase", post(erase_customer::<S>))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevealBody {
    /// customer.name, customer.phone, customer.id_number, customer.address or service_number
    field: Option<String>,
    /// Why the full value is needed; kept in the access log.
    reason: Option<String>,
}

/// Reveal one personal field of a ticket's customer in full (logged).
#[utoipa::path(post, path = "/api/v1/tickets/{id}/reveal", tag = "privacy", request_body = RevealBody, security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = Revealed), (status = 403, body = crate::error::ErrorBody)))]
pub async fn reveal_ticket<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RevealBody>,
) -> Result<Json<Revealed>, ApiError> {
    let r =
        app.kefu.reveal(&user.actor, RevealSubject::Ticket(&id), body.field.as_deref(), body.reason.as_deref()).await?;
    Ok(Json(r))
}

/// Reveal one personal field of a customer in full (logged).
#[utoipa::path(post, path = "/api/v1/customers/{id}/reveal", tag = "privacy", request_body = RevealBody, security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = Revealed), (status = 403, body = crate::error::ErrorBody)))]
pub async fn reveal_customer<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<RevealBody>,
) -> Result<Json<Revealed>, ApiError> {
    let subject = RevealSubject::Customer(CustomerId(id));
    Ok(Json(app.kefu.reveal(&user.actor, subject, body.field.as_deref(), body.reason.as_deref()).await?))
}

/// A page of the access log (schema of the response).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct AccessLogPage {
    items: Vec<AccessEntry>,
    total: i64,
    page: u32,
    per_page: u32,
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct PageQuery {
    page: Option<u32>,
    per_page: Option<u32>,
}

/// Every reveal and export: who, when, what, why. Administrators and quality inspectors only.
#[utoipa::path(get, path = "/api/v1/access-log", tag = "privacy", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = AccessLogPage), (status = 403, body = crate::error::ErrorBody)))]
pub async fn access_log<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
    Query(q): Query<PageQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let page = q.page.unwrap_or(1).max(1);
    let per_page = q.per_page.unwrap_or(50).clamp(1, 500);
    // Entries a security incident names carry its number.
    Ok(Json(app.kefu.access_log_linked(app.kefu.store.access_log(page, per_page).await?).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    /// Why; kept in the access log (e.g. the customer's request number).
    reason: Option<String>,
}

/// Everything held about one customer, in full, as JSON (right of access); logged.
#[utoipa::path(post, path = "/api/v1/customers/{id}/export", tag = "privacy", request_body = ReasonBody, security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, description = "customer, tickets, notes, transfers, events"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn export_customer<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<ReasonBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(app.kefu.export_customer(&user.actor, CustomerId(id), body.reason.as_deref()).await?))
}

/// Erase a customer on request, where retention allows; logged. 409 `retention_period` otherwise.
#[utoipa::path(post, path = "/api/v1/customers/{id}/erase", tag = "privacy", request_body = ReasonBody, security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, description = "erased"), (status = 409, body = crate::error::ErrorBody)))]
pub async fn erase_customer<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<ReasonBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(app.kefu.erase_customer(&user.actor, CustomerId(id), body.reason.as_deref()).await?))
}
