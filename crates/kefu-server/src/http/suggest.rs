//! Suggestions for a new ticket: `POST /api/v1/tickets/suggest` as
//! the intake form is typed, and what the models learnt for administrators.

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::service::suggest::{ModelReport, SuggestRequest, Suggestion};
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use kefu_store::Store;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/api/v1/tickets/suggest", post(suggest::<S>))
        .route("/api/v1/suggest/model", get(model::<S>).post(retrain::<S>))
}

/// Type (top three, none below the policy's confidence), priority, where
/// it goes and similar tickets, for what has been typed so far.
#[utoipa::path(post, path = "/api/v1/tickets/suggest", tag = "tickets", security(("bearer" = [])),
    request_body = SuggestRequest, responses((status = 200, body = Suggestion)))]
pub async fn suggest<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    ApiJson(b): ApiJson<SuggestRequest>,
) -> Result<Json<Suggestion>, ApiError> {
    Ok(Json(app.kefu.suggest(&user.actor, &b).await?))
}

/// What the suggestion models learnt from and their accuracy on held-out
/// tickets, overall and per type.
#[utoipa::path(get, path = "/api/v1/suggest/model", tag = "tickets", security(("bearer" = [])),
    responses((status = 200, body = ModelReport)))]
pub async fn model<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
) -> Result<Json<ModelReport>, ApiError> {
    Ok(Json(app.kefu.suggest_models().await?.report.clone()))
}

/// Retrain now (this node).
#[utoipa::path(post, path = "/api/v1/suggest/model", tag = "tickets", security(("bearer" = [])),
    responses((status = 200, body = ModelReport)))]
pub async fn retrain<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
) -> Result<Json<ModelReport>, ApiError> {
    Ok(Json(app.kefu.train_suggestions().await?.report.clone()))
}
