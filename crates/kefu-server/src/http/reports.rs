//! Reports and KPIs over HTTP: the metric dictionary first,
//! so that every figure served later names its definition.

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::service::reports::MetricList;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use kefu_store::Store;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new().route("/api/v1/reports/metrics", get(metrics::<S>))
}

/// What each KPI counts: names, unit, definition, target, formula.
#[utoipa::path(get, path = "/api/v1/reports/metrics", tag = "reports", security(("bearer" = [])),
    responses((status = 200, body = MetricList)))]
pub async fn metrics<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
) -> Result<Json<MetricList>, ApiError> {
    Ok(Json(app.kefu.metric_dictionary()))
}
