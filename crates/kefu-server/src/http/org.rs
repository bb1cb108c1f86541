//! The organisation over HTTP: departments, teams with leads, staff
//! profiles and on-duty state; and each staff member's notices.

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::service::org::StaffView;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use kefu_domain::Role;
use kefu_domain::org::{Department, Team};
use kefu_store::{Notice, Page, Store};
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/api/v1/users", get(users::<S>))
        .route("/api/v1/users/{id}/profile", put(set_profile::<S>))
        .route("/api/v1/users/{id}/duty", put(set_duty::<S>))
        .route("/api/v1/departments", get(departments::<S>).post(create_department::<S>))
        .route("/api/v1/teams", get(teams::<S>).post(create_team::<S>))
        .route("/api/v1/teams/{id}", axum::routing::patch(update_team::<S>))
        .route("/api/v1/notices", get(notices::<S>))
        .route("/api/v1/notices/read", post(read_notices::<S>))
}

/// Staff with team, tier, skills, capacity, on-duty state and current load.
#[utoipa::path(get, path = "/api/v1/users", tag = "organisation", security(("bearer" = [])),
    responses((status = 200, body = Vec<StaffView>)))]
pub async fn users<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
) -> Result<Json<Vec<StaffView>>, ApiError> {
    let org = app.kefu.org().await?;
    let active: Vec<_> = org.users.iter().filter(|u| u.active).collect();
    let loads = app.kefu.store.staff_loads(active.iter().map(|u| u.id).collect()).await?;
    let cap = app.kefu.core.policy.dispatch.default_capacity;
    let load = |id| loads.iter().find(|(u, _)| *u == id).map_or(0, |(_, n)| *n);
    Ok(Json(active.iter().map(|u| StaffView::new(u, &org, cap, load(u.id))).collect()))
}

async fn staff_view<S: Store>(app: &AppState<S>, u: &kefu_store::User) -> Result<StaffView, ApiError> {
    let org = app.kefu.org().await?;
    let load = app.kefu.store.staff_loads(vec![u.id]).await?.first().map_or(0, |(_, n)| *n);
    Ok(StaffView::new(u, &org, app.kefu.core.policy.dispatch.default_capacity, load))
}

/// Set a staff member's team, tier, skills, capacity or on-duty state.
/// Fields left out keep their value; `null` resets team, tier, capacity.
#[utoipa::path(put, path = "/api/v1/users/{id}/profile", tag = "organisation", security(("bearer" = [])),
    params(("id" = String, Path, description = "username or id")),
    request_body(content = Object, description = "{team?, tier?, skills?: {types, business_lines, regions}, capacity?, on_duty?}"),
    responses((status = 200, body = StaffView), (status = 422, body = crate::error::ErrorBody)))]
pub async fn set_profile<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<Json<StaffView>, ApiError> {
    let u = app.kefu.set_profile(&id, &body, Some(user.actor.id)).await?;
    Ok(Json(staff_view(&app, &u).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DutyBody {
    on_duty: Option<bool>,
}

/// Go on or off duty (在岗/离岗): staff for themselves, supervisors and
/// admins for anyone. Off-duty staff get no automatic dispatch.
#[utoipa::path(put, path = "/api/v1/users/{id}/duty", tag = "organisation", security(("bearer" = [])),
    params(("id" = String, Path, description = "username, id or 'me'")), request_body = DutyBody,
    responses((status = 200, body = StaffView), (status = 403, body = crate::error::ErrorBody)))]
pub async fn set_duty<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DutyBody>,
) -> Result<Json<StaffView>, ApiError> {
    let me = &user.actor;
    let target = if id == "me" { me.id } else { app.kefu.find_staff(&id, "id").await?.id };
    if target != me.id && !matches!(me.role, Role::Supervisor | Role::Admin) {
        return Err(ApiError::Forbidden {
            reason: "only supervisors and admins set others' duty".into(),
            reason_zh: "仅主管和管理员可设置他人的在岗状态".into(),
        });
    }
    let on = body.on_duty.ok_or_else(|| kefu_domain::FieldError::required("on_duty"))?;
    let mut patch = Map::new();
    patch.insert("on_duty".into(), json!(on));
    let u = app.kefu.set_profile(&target.0.to_string(), &patch, Some(me.id)).await?;
    Ok(Json(staff_view(&app, &u).await?))
}

#[utoipa::path(get, path = "/api/v1/departments", tag = "organisation", security(("bearer" = [])),
    responses((status = 200, body = Vec<Department>)))]
pub async fn departments<S: Store>(
    State(app): State<AppState<S>>,
    _u: CurrentUser,
) -> Result<Json<Vec<Department>>, ApiError> {
    Ok(Json(app.kefu.org().await?.departments.clone()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentBody {
    /// Lowercase code used by dispatch rules, e.g. `technical`.
    code: Option<String>,
    /// 技术部
    name: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/departments", tag = "organisation", security(("bearer" = [])), request_body = DepartmentBody,
    responses((status = 201, body = Department), (status = 409, body = crate::error::ErrorBody)))]
pub async fn create_department<S: Store>(
    State(app): State<AppState<S>>,
    _u: CurrentUser,
    ApiJson(b): ApiJson<DepartmentBody>,
) -> Result<(StatusCode, Json<Department>), ApiError> {
    Ok((StatusCode::CREATED, Json(app.kefu.create_department(b.code.as_deref(), b.name.as_deref()).await?)))
}

#[utoipa::path(get, path = "/api/v1/teams", tag = "organisation", security(("bearer" = [])),
    responses((status = 200, body = Vec<Team>)))]
pub async fn teams<S: Store>(State(app): State<AppState<S>>, _u: CurrentUser) -> Result<Json<Vec<Team>>, ApiError> {
    Ok(Json(app.kefu.org().await?.teams.clone()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamBody {
    /// Department code or id.
    department: Option<String>,
    code: Option<String>,
    name: Option<String>,
    /// The lead's username.
    lead: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/teams", tag = "organisation", security(("bearer" = [])), request_body = TeamBody,
    responses((status = 201, body = Team), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_team<S: Store>(
    State(app): State<AppState<S>>,
    _u: CurrentUser,
    ApiJson(b): ApiJson<TeamBody>,
) -> Result<(StatusCode, Json<Team>), ApiError> {
    let t =
        app.kefu.create_team(b.department.as_deref(), b.code.as_deref(), b.name.as_deref(), b.lead.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(t)))
}

/// Rename a team or set its lead (`"lead": null` clears it).
#[utoipa::path(patch, path = "/api/v1/teams/{id}", tag = "organisation", security(("bearer" = [])),
    params(("id" = String, Path, description = "team code or id")),
    request_body(content = Object, description = "{name?, lead?}"),
    responses((status = 200, body = Team), (status = 404, body = crate::error::ErrorBody)))]
pub async fn update_team<S: Store>(
    State(app): State<AppState<S>>,
    _u: CurrentUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<Json<Team>, ApiError> {
    Ok(Json(app.kefu.update_team(&id, &body).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct NoticeQuery {
    unread: Option<bool>,
    page: Option<u32>,
    per_page: Option<u32>,
}

/// My notices (站内通知), newest first: dispatches, transfers, results of
/// my first-contact tickets, escalations, mentions, deadline warnings and breaches.
#[utoipa::path(get, path = "/api/v1/notices", tag = "organisation", security(("bearer" = [])), params(NoticeQuery),
    responses((status = 200, body = Object)))]
pub async fn notices<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Query(q): Query<NoticeQuery>,
) -> Result<Json<Page<Notice>>, ApiError> {
    let page = q.page.unwrap_or(1).max(1);
    let per_page = q.per_page.unwrap_or(50).clamp(1, 500);
    Ok(Json(app.kefu.store.notices(user.actor.id, q.unread.unwrap_or(false), page, per_page).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadBody {
    /// One notice; absent: all of mine.
    id: Option<i64>,
}

/// Mark a notice, or all of mine, read.
#[utoipa::path(post, path = "/api/v1/notices/read", tag = "organisation", security(("bearer" = [])), request_body = ReadBody,
    responses((status = 200, body = Object)))]
pub async fn read_notices<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    ApiJson(b): ApiJson<ReadBody>,
) -> Result<Json<Value>, ApiError> {
    let n = app.kefu.store.read_notices(user.actor.id, b.id, app.kefu.now()).await?;
    Ok(Json(json!({"marked_read": n})))
}
