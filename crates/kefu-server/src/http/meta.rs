//! Flows, policy, health, metrics, the OpenAPI document and the start page.

use crate::AppState;
use crate::auth::CurrentUser;
use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use kefu_store::prelude::*;
use serde_json::{Value, json};
use utoipa::OpenApi;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/", get(index::<S>))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz::<S>))
        .route("/favicon.ico", get(favicon))
        .route("/metrics", get(metrics::<S>))
        .route("/api/openapi.json", get(openapi))
        .route("/api/v1/flows", get(flows::<S>))
        .route("/api/v1/policy", get(policy::<S>))
}

/// The flow of every ticket type: states with labels, actions, roles.
#[utoipa::path(get, path = "/api/v1/flows", tag = "meta", security(("bearer" = [])), responses((status = 200, description = "flows by type")))]
pub async fn flows<S: Store>(State(app): State<AppState<S>>, _user: CurrentUser) -> Json<Value> {
    let flows: Vec<&kefu_domain::flow::Flow> = app.kefu.core.flows.iter().collect();
    Json(json!({ "flows": flows }))
}

/// The policy in force.
#[utoipa::path(get, path = "/api/v1/policy", tag = "meta", security(("bearer" = [])), responses((status = 200, description = "policy")))]
pub async fn policy<S: Store>(State(app): State<AppState<S>>, _user: CurrentUser) -> Json<Value> {
    let cal = &app.kefu.core.calendar;
    Json(json!({ "policy": app.kefu.core.policy, "calendar_years": cal.years(), "calendar_sources": cal.sources() }))
}

/// Liveness.
#[utoipa::path(get, path = "/healthz", tag = "meta", responses((status = 200, description = "ok")))]
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: 200 when this node should take traffic — the database
/// answers at the schema it started on, the keys fit the database's
/// fingerprints, the calendar covers today, no shutdown has begun; else
/// 503 naming each check that failed (a load balancer takes it out).
#[utoipa::path(get, path = "/readyz", tag = "meta", responses(
    (status = 200, description = "ready"),
    (status = 503, description = "not ready: `problems` names the checks that failed")))]
pub async fn readyz<S: Store>(State(app): State<AppState<S>>) -> Response {
    let problems = app.kefu.readiness().await;
    if problems.is_empty() {
        return Json(json!({"status": "ready"})).into_response();
    }
    (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "not_ready", "problems": problems}))).into_response()
}

/// Prometheus metrics, for the scraper's token (`metrics_token`,
/// `KEFU_METRICS_TOKEN`) or an administrator's session: request counts and
/// latencies per route say how the service is used and are not public.
#[utoipa::path(get, path = "/metrics", tag = "meta", security(("bearer" = [])),
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics<S: Store>(
    State(app): State<AppState<S>>,
    headers: axum::http::HeaderMap,
) -> Result<impl IntoResponse, crate::error::ApiError> {
    let token = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(crate::auth::bearer_token);
    let scraper = match (&app.kefu.core.settings.metrics_token, token) {
        (Some(want), Some(given)) => crate::auth::same(want, given),
        _ => false,
    };
    if !scraper {
        let user = crate::auth::authenticate(&app, &headers).await?;
        if user.actor.role != kefu_domain::Role::Admin {
            return Err(crate::error::ApiError::Forbidden {
                reason: "metrics are for the scraper's token or an administrator".into(),
                reason_zh: "监控指标仅对采集令牌或管理员开放".into(),
            });
        }
    }
    let mut text = app.metrics.render();
    text.push_str(&app.kefu.ops_metrics().await);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}

/// The site's icon (an SVG; browsers take it under the name they ask for).
async fn favicon() -> impl IntoResponse {
    let headers = [(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "public, max-age=86400")];
    (headers, include_str!("../../assets/favicon.svg"))
}

async fn openapi() -> impl IntoResponse {
    Json(super::ApiDoc::openapi())
}

/// The start page (`templates/index.html`): what is running and where to go next.
#[derive(Template)]
#[template(path = "index.html")]
struct Index {
    /// Each flow: its Chinese and English name and its states.
    flows: Vec<(String, String, String)>,
}

async fn index<S: Store>(State(app): State<AppState<S>>) -> Response {
    let flows = app
        .kefu
        .core
        .flows
        .iter()
        .map(|f| {
            let states: Vec<String> = f.states.iter().map(|s| format!("{}（{}）", s.zh, s.name)).collect();
            (f.label_zh.clone(), f.label_en.clone(), states.join(" · "))
        })
        .collect();
    match (Index { flows }).render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "start page template failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
