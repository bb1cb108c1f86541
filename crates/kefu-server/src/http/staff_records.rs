//! Staff records over HTTP: a staff member's record and their
//! training entries; visible to the person, their lead, supervisors and
//! inspectors only.

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
        .route("/api/v1/staff/{username}/record", get(record::<S>))
        .route("/api/v1/staff/{username}/trainings", post(add_training::<S>))
}

/// The record: role, team, tier, skills, trainings, assessment results per
/// month, reviews, violations.
#[utoipa::path(get, path = "/api/v1/staff/{username}/record", tag = "quality", security(("bearer" = [])),
    params(("username" = String, Path)), responses((status = 200, description = "the staff record"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn record<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(username): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.kefu.staff_record(&user.actor, &username).await?))
}

/// A training record: `{course, day, hours, result, certificate?}`.
#[utoipa::path(post, path = "/api/v1/staff/{username}/trainings", tag = "quality", security(("bearer" = [])),
    params(("username" = String, Path)), responses((status = 201, description = "the training record"), (status = 422, body = crate::error::ErrorBody)))]
pub async fn add_training<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(username): Path<String>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let t = app.kefu.record_training(&user.actor, &username, &body).await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"id": t.id, "course": t.course, "day": t.day, "hours": t.hours, "result": t.result, "certificate": t.certificate}),
        ),
    ))
}
