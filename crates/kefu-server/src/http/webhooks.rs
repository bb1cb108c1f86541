//! kefu's own webhooks over HTTP (issue 22), for administrators: register
//! an endpoint (the signing secret is shown once), list, change (switching
//! on again clears the failures), remove, read its delivery log and send a
//! delivery again. TMF621 hub subscriptions are listed here too (`kind`
//! `tmf`), so an administrator sees every endpoint kefu calls.

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::service::events::{DeliveryView, WebhookChange, WebhookInput, WebhookView, delivery_view, hook_view};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use kefu_store::Store;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/api/v1/webhooks", get(list::<S>).post(create::<S>))
        .route("/api/v1/webhooks/{id}", get(retrieve::<S>).patch(change::<S>).delete(remove::<S>))
        .route("/api/v1/webhooks/{id}/deliveries", get(deliveries::<S>))
        .route("/api/v1/webhooks/{id}/deliveries/{delivery}/replay", post(replay::<S>))
}

fn id_of(raw: &str, what: &'static str, what_zh: &'static str) -> Result<i64, ApiError> {
    raw.trim().parse::<i64>().ok().filter(|n| *n > 0).ok_or(ApiError::NotFound { what, what_zh })
}

/// Register an endpoint for kefu's events (`ticket.created`,
/// `ticket.changed`, `ticket.resolved`, `ticket.archived`, `sla.warning`,
/// `sla.breached`, `incident.linked`, `incident.unlinked`,
/// `survey.completed`; none named: all). Each delivery is signed by the
/// Standard Webhooks scheme with the `secret` of this answer.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    request_body = WebhookInput,
    responses((status = 201, body = WebhookView), (status = 422, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn create<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    ApiJson(body): ApiJson<WebhookInput>,
) -> Result<(StatusCode, Json<WebhookView>), ApiError> {
    let h = app.kefu.register_hook(&user.actor, "webhook", body, String::new()).await?;
    Ok((StatusCode::CREATED, Json(hook_view(&h, true))))
}

/// Every endpoint kefu calls: webhooks and TMF621 hub subscriptions.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = Vec<WebhookView>), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody)))]
pub async fn list<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
) -> Result<Json<Vec<WebhookView>>, ApiError> {
    Ok(Json(app.kefu.store.webhooks().await?.iter().map(|h| hook_view(h, false)).collect()))
}

#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = WebhookView), (status = 404, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn retrieve<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<WebhookView>, ApiError> {
    let h = app.kefu.hook(id_of(&id, "webhook", "回调地址")?, None).await?;
    Ok(Json(hook_view(&h, false)))
}

/// Change an endpoint: fields left out stay; `enabled: true` switches one
/// that kept failing on again (its failure count starts over).
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = WebhookChange,
    responses((status = 200, body = WebhookView), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody)))]
pub async fn change<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<WebhookChange>,
) -> Result<Json<WebhookView>, ApiError> {
    let h = app.kefu.change_hook(id_of(&id, "webhook", "回调地址")?, body).await?;
    Ok(Json(hook_view(&h, false)))
}

/// Remove an endpoint with its delivery log.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn remove<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.kefu.remove_hook(id_of(&id, "webhook", "回调地址")?, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A page of the delivery log.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct DeliveryPage {
    pub items: Vec<DeliveryView>,
    /// `before` for the next (older) page; none at the end.
    pub next_before: Option<i64>,
}

/// An endpoint's delivery log, newest first (`before`: a delivery id,
/// `limit` 1–200, default 50), each with the body it sends.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path), ("before" = Option<i64>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = DeliveryPage), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody)))]
pub async fn deliveries<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
    Path(id): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Json<DeliveryPage>, ApiError> {
    let hook = app.kefu.hook(id_of(&id, "webhook", "回调地址")?, None).await?;
    let (mut before, mut limit) = (None, 50u32);
    for (k, v) in &params {
        let bad = || kefu_domain::FieldError::new(k, format!("{k}: a whole number"), format!("{k} 须为整数"));
        match k.as_str() {
            "before" => before = Some(v.trim().parse::<i64>().map_err(|_| bad())?),
            "limit" => limit = v.trim().parse::<u32>().map_err(|_| bad())?.clamp(1, 200),
            other => {
                return Err(kefu_domain::FieldError::new(
                    other,
                    format!("{other}: not a parameter here (before, limit)"),
                    format!("不支持的参数 {other}"),
                )
                .into());
            }
        }
    }
    let items: Vec<DeliveryView> =
        app.kefu.store.deliveries(hook.id, before, limit).await?.iter().map(delivery_view).collect();
    let next_before = if items.len() as u32 == limit { items.last().map(|d| d.id) } else { None };
    Ok(Json(DeliveryPage { items, next_before }))
}

/// Send a delivery again (after the receiver is fixed): back in line, due now.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/deliveries/{delivery}/replay", tag = "webhooks",
    security(("bearer" = [])), params(("id" = String, Path), ("delivery" = String, Path)),
    responses((status = 200, body = DeliveryView), (status = 404, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn replay<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<Json<DeliveryView>, ApiError> {
    let hook = app.kefu.hook(id_of(&id, "webhook", "回调地址")?, None).await?;
    let delivery = id_of(&delivery, "delivery", "投递记录")?;
    match app.kefu.store.replay_delivery(hook.id, delivery, app.kefu.now()).await? {
        Some(d) => Ok(Json(delivery_view(&d))),
        None => Err(ApiError::NotFound { what: "delivery", what_zh: "投递记录" }),
    }
}
