//! The register of information-security incidents over HTTP:
//! everyone reports, the security office (administrators) reads and handles.

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::extract::ApiJson;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use kefu_store::Store;
use serde_json::{Map, Value, json};

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/api/v1/security-incidents", get(list::<S>).post(report::<S>))
        .route("/api/v1/security-incidents/{id}", get(one::<S>))
        .route("/api/v1/security-incidents/{id}/actions", post(act::<S>))
}

fn id_of(raw: &str) -> Result<i64, ApiError> {
    raw.trim().parse().map_err(|_| ApiError::NotFound { what: "security incident", what_zh: "信息安全事件" })
}

/// Reports one: `{kind: data_exposure|wrong_disclosure|lost_device|unauthorized_access|other,
/// severity?, title, description?, discovered_at?, affected_records?, affected_customers?,
/// tickets?, access_entries?}` → 201 `{id, number, state, regulator_due_at, customers_due_at}`.
#[utoipa::path(post, path = "/api/v1/security-incidents", tag = "security", security(("bearer" = [])),
    responses((status = 201, description = "{id, number, state, regulator_due_at, customers_due_at}"), (status = 422, body = crate::error::ErrorBody)))]
pub async fn report<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    Ok((StatusCode::CREATED, Json(app.kefu.report_security_incident(&user.actor, &body).await?)))
}

/// The register, newest first, with what is overdue.
#[utoipa::path(get, path = "/api/v1/security-incidents", tag = "security", security(("bearer" = [])),
    responses((status = 200, description = "{items}"), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list<S: Store>(State(app): State<AppState<S>>, _user: CurrentUser) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "items": app.kefu.security_incidents().await? })))
}

/// One record with its chain; the read is logged.
#[utoipa::path(get, path = "/api/v1/security-incidents/{id}", tag = "security", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, description = "the record"), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn one<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.kefu.security_incident_view(&user.actor, id_of(&id)?).await?))
}

/// `{action: contain {text} | notify_regulator {reference} | notify_customers {reference} | close}`.
#[utoipa::path(post, path = "/api/v1/security-incidents/{id}/actions", tag = "security", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, description = "the record"), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn act<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.kefu.security_action(&user.actor, id_of(&id)?, &body).await?))
}
