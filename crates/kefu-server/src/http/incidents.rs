//! Major incidents over HTTP: declare, read with the children
//! counted, link and unlink tickets, move the incident along (confirm,
//! notify with a dry run and approval, notes, restore that resolves every
//! child, close) and the spike proposals.

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::service::incidents::incident_json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use kefu_store::Store;
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/api/v1/incidents", get(list::<S>).post(create::<S>))
        .route("/api/v1/incidents/candidates", get(candidates::<S>))
        .route("/api/v1/incidents/candidates/dismiss", post(dismiss::<S>))
        .route("/api/v1/incidents/{id}", get(one::<S>))
        .route("/api/v1/incidents/{id}/events", get(events::<S>))
        .route("/api/v1/incidents/{id}/links", post(link::<S>))
        .route("/api/v1/incidents/{id}/unlinks", post(unlink::<S>))
        .route("/api/v1/incidents/{id}/actions", post(act::<S>))
        .route("/api/v1/incidents/{id}/compensation", get(compensation::<S>))
        .route("/api/v1/incidents/{id}/compensation/export", get(compensation_export::<S>))
}

fn id_of(raw: &str) -> Result<i64, ApiError> {
    raw.trim().parse().map_err(|_| ApiError::NotFound { what: "incident", what_zh: "重大故障" })
}

/// Declares an incident: `{type: outage|maintenance|degradation, title,
/// scope: {regions, services, elements}, started_at, eta?, severity?,
/// owner?, note?, alarm?, tickets?}` → 201 `{id, number, state, children, …}`.
/// The open tickets its scope covers are linked at once.
#[utoipa::path(post, path = "/api/v1/incidents", tag = "incidents", security(("bearer" = [])),
    responses((status = 201, description = "the incident"), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    Ok((StatusCode::CREATED, Json(app.kefu.create_incident(&user.actor, &body).await?)))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// `true`: only those still affecting customers (the intake banner).
    pub active: Option<bool>,
}

/// Incidents, newest first (the last 100).
#[utoipa::path(get, path = "/api/v1/incidents", tag = "incidents", security(("bearer" = [])),
    params(ListQuery), responses((status = 200, description = "{items}")))]
pub async fn list<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let active = q.active.unwrap_or(false);
    let items: Vec<Value> = if active {
        app.kefu.active_incidents().await?.iter().map(incident_json).collect()
    } else {
        app.kefu.store.incidents(false, 100).await?.iter().map(incident_json).collect()
    };
    Ok(Json(json!({ "items": items })))
}

/// One incident with `children: {total, by_status}` and each notice's progress.
#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "incidents", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, description = "the incident"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn one<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.kefu.incident_view(id_of(&id)?).await?))
}

/// The incident's audit chain, oldest first, and whether it verifies.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/events", tag = "incidents", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, description = "{items, verified}"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn events<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = app.kefu.incident(id_of(&id)?).await?.id;
    let items = app.kefu.store.incident_events(id).await?;
    let verified = kefu_domain::incident_record::verify_events(&items).is_ok();
    Ok(Json(json!({ "items": items, "verified": verified })))
}

/// Links a ticket: `{ticket, reason?}` (number or id). A ticket belongs
/// to one incident at a time; a late child gets the notices already sent.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/links", tag = "incidents", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, description = "the incident"), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn link<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.kefu.link_incident(&user.actor, id_of(&id)?, &body).await?))
}

/// Unlinks a ticket: `{ticket, reason}` (the reason is required).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/unlinks", tag = "incidents", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, description = "the incident"), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn unlink<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.kefu.unlink_incident(&user.actor, id_of(&id)?, &body).await?))
}

/// `{action: confirm | notify {text, dry_run?} | approve {notice} | note {text, eta?} |
/// restore {resolution, ended_at?} | close}`. A notify above the policy's
/// threshold waits for a second person's `approve`; restore resolves every
/// open child whose customer has not confirmed.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/actions", tag = "incidents", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, description = "the incident (a dry run: {dry_run, customers, message, message_zh})"), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn act<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.kefu.incident_action(&user.actor, id_of(&id)?, &body).await?))
}

/// Spike proposals: buckets (type × region × business line, keyword
/// clusters) unusually full in the last window, with the tickets and why.
#[utoipa::path(get, path = "/api/v1/incidents/candidates", tag = "incidents", security(("bearer" = [])),
    responses((status = 200, description = "{items: [{bucket, count, expected, bound, tickets, why, why_zh, proposal}]}")))]
pub async fn candidates<S: Store>(State(app): State<AppState<S>>, _user: CurrentUser) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.kefu.incident_candidates().await?))
}

/// The compensation proposals of a restored incident: one row per
/// customer and service number, with the rule, hours and amount (pro-rata
/// waivers as the share of a monthly fee), as approved once they are.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/compensation", tag = "incidents", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, description = "{state, approved, customers, total_fen, rules, items}"), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn compensation<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.kefu.compensation_view(id_of(&id)?).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ExportQuery {
    /// `csv` (the default) or `xlsx`.
    pub format: Option<String>,
}

/// The approved proposals as a file for the billing system (logged as an
/// access to personal data).
#[utoipa::path(get, path = "/api/v1/incidents/{id}/compensation/export", tag = "incidents", security(("bearer" = [])),
    params(("id" = String, Path), ExportQuery), responses((status = 200, description = "the CSV or XLSX file"), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn compensation_export<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let format = q.format.unwrap_or_else(|| "csv".into());
    let (name, bytes) = app.kefu.compensation_export(&user.actor, id_of(&id)?, format.trim()).await?;
    let headers = [
        (
            axum::http::header::CONTENT_TYPE,
            crate::service::report_exports::Format::content_type(format.trim()).to_string(),
        ),
        (axum::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
    ];
    Ok((headers, bytes).into_response())
}

/// Dismisses a spike proposal: `{bucket, reason}`; the bucket is not
/// proposed again for one window.
#[utoipa::path(post, path = "/api/v1/incidents/candidates/dismiss", tag = "incidents", security(("bearer" = [])),
    responses((status = 200, description = "{bucket, until, reason}"), (status = 422, body = crate::error::ErrorBody)))]
pub async fn dismiss<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.kefu.dismiss_candidate(&user.actor, &body).await?))
}
