//! Flows, policy, health, metrics, the OpenAPI document and the start page.

use crate::AppState;
use crate::auth::CurrentUser;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use kefu_store::prelude::*;
use serde_json::{Value, json};
use utoipa::OpenApi;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/", get(index::<S>))
        .route("/healthz", get(healthz))
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
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], app.metrics.render()))
}

async fn openapi() -> impl IntoResponse {
    Json(super::ApiDoc::openapi())
}

/// The start page: what is running and where to go next.
async fn index<S: Store>(State(app): State<AppState<S>>) -> Html<String> {
    let mut flows = String::new();
    for f in app.kefu.core.flows.iter() {
        let states: Vec<String> = f.states.iter().map(|s| format!("{}（{}）", s.zh, s.name)).collect();
        flows.push_str(&format!(
            "<li><b>{} {}</b>：{}</li>",
            f.label_zh,
            f.label_en,
            crate::console::esc(&states.join(" · "))
        ));
    }
    Html(INDEX.replace("{flows}", &flows))
}

const INDEX: &str = r#"<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>kefu 客服工单系统</title>
<style>body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.6;color:#222}
code,pre{background:#f4f4f4;padding:.1rem .3rem;border-radius:3px}pre{padding:.8rem;overflow:auto}h1{color:#0b5394}</style></head>
<body>
<h1>kefu 客服工单系统</h1>
<p>服务正在运行。This is the kefu work-order API server (customer-service tickets of a telecom operator).</p>
<h2>开始使用 Getting started</h2>
<pre>curl -s -X POST localhost:8080/api/v1/auth/login -H 'Content-Type: application/json' \
  -d '{"username":"agent1","password":"…"}'
curl -s localhost:8080/api/v1/tickets -H "Authorization: Bearer &lt;token&gt;"</pre>
<ul>
<li><a href="/console">工作台 Staff console</a></li>
<li><a href="/portal">客户自助查询 Customer portal</a></li>
<li><a href="/api/openapi.json">OpenAPI 接口文档 (JSON)</a></li>
<li><a href="/healthz">健康检查 /healthz</a> · <a href="/metrics">指标 /metrics</a></li>
</ul>
<h2>工单流程 Flows</h2>
<ul>{flows}</ul>
</body></html>"#;
