//! Canned replies and macros over HTTP: keep them, and apply one to a ticket.

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::extract::{ApiJson, Idempotent};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use kefu_domain::MacroId;
use kefu_domain::macros::{Macro, MacroInput};
use kefu_store::Store;
use serde::Deserialize;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/api/v1/macros", get(list::<S>).post(create::<S>))
        .route("/api/v1/macros/{id}", patch(update::<S>).delete(delete::<S>))
        .route("/api/v1/tickets/{id}/macros/{macro_id}", post(apply::<S>))
}

/// A macro id from the path; anything else names no macro.
fn macro_id(raw: &str) -> Result<MacroId, ApiError> {
    raw.trim().parse().map(MacroId).map_err(|_| ApiError::NotFound { what: "macro", what_zh: "快捷回复" })
}

/// The macros I may apply (快捷回复): the shared ones and my own, by name.
#[utoipa::path(get, path = "/api/v1/macros", tag = "macros", security(("bearer" = [])),
    responses((status = 200, body = Vec<Macro>)))]
pub async fn list<S: Store>(State(app): State<AppState<S>>, user: CurrentUser) -> Result<Json<Vec<Macro>>, ApiError> {
    Ok(Json(app.kefu.macros(&user.actor).await?))
}

/// Keep a macro: a reply or internal note (placeholders `{number}`,
/// `{customer}`, `{agent}`) and/or a priority. `shared` ones only by the
/// roles the policy's `access.shared_macros` names.
#[utoipa::path(post, path = "/api/v1/macros", tag = "macros", security(("bearer" = [])), request_body = MacroInput,
    responses((status = 201, body = Macro), (status = 409, body = crate::error::ErrorBody, description = "the name is taken")))]
pub async fn create<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    ApiJson(b): ApiJson<MacroInput>,
) -> Result<(StatusCode, Json<Macro>), ApiError> {
    Ok((StatusCode::CREATED, Json(app.kefu.create_macro(&user.actor, b).await?)))
}

/// Change a macro: fields left out stay; an empty `body` or `priority` clears it.
#[utoipa::path(patch, path = "/api/v1/macros/{id}", tag = "macros", security(("bearer" = [])), request_body = MacroInput,
    params(("id" = String, Path)), responses((status = 200, body = Macro)))]
pub async fn update<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<MacroInput>,
) -> Result<Json<Macro>, ApiError> {
    Ok(Json(app.kefu.update_macro(&user.actor, macro_id(&id)?, b).await?))
}

#[utoipa::path(delete, path = "/api/v1/macros/{id}", tag = "macros", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 204)))]
pub async fn delete<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.kefu.delete_macro(&user.actor, macro_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The body of an apply: an empty object.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyBody {}

/// Apply a macro to a ticket: its priority and its reply or note, as one
/// change (both or neither). Honours Idempotency-Key.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/macros/{macro_id}", tag = "macros", security(("bearer" = [])),
    request_body = ApplyBody, params(("id" = String, Path), ("macro_id" = String, Path)),
    responses((status = 200, body = crate::view::TicketView), (status = 409, body = crate::error::ErrorBody)))]
pub async fn apply<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path((id, m)): Path<(String, String)>,
    Idempotent { key, body: ApplyBody {} }: Idempotent<ApplyBody>,
) -> Result<Response, ApiError> {
    let w = app.kefu.apply_macro(&user.actor, &id, macro_id(&m)?, key).await?;
    Ok(super::tickets::written(w, StatusCode::OK))
}
