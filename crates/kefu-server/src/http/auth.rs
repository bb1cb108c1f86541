//! Login, logout and who-am-I.

use crate::AppState;
use crate::auth::CurrentUser;
use crate::directory::UserSummary;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::service::LoginResponse;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use kefu_store::prelude::*;
use serde::Deserialize;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/api/v1/auth/login", post(login::<S>))
        .route("/api/v1/auth/logout", post(logout::<S>))
        .route("/api/v1/auth/me", get(me::<S>))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    username: Option<String>,
    password: Option<String>,
}

/// Log in with username and password; returns a bearer token.
#[utoipa::path(post, path = "/api/v1/auth/login", request_body = LoginBody, tag = "auth",
    responses((status = 200, body = LoginResponse), (status = 401, body = crate::error::ErrorBody)))]
pub async fn login<S: Store>(
    State(app): State<AppState<S>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Json<LoginResponse>, ApiError> {
    let username = body.username.ok_or_else(|| kefu_domain::FieldError::required("username"))?;
    let password = body.password.ok_or_else(|| kefu_domain::FieldError::required("password"))?;
    Ok(Json(app.kefu.login(&username, &password, Some(peer.ip())).await?))
}

/// End this session: the token stops working.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])), responses((status = 204)))]
pub async fn logout<S: Store>(State(app): State<AppState<S>>, user: CurrentUser) -> Result<StatusCode, ApiError> {
    app.kefu.logout(&user.token_hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The logged-in user.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])), responses((status = 200, body = UserSummary)))]
pub async fn me<S: Store>(State(app): State<AppState<S>>, user: CurrentUser) -> Json<UserSummary> {
    Json(app.kefu.core.directory.summary(user.actor.id))
}
