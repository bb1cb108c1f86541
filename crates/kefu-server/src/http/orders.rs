//! The customer's services and orders over HTTP: the product
//! catalogue, a customer's services and their history, a person's step on a
//! ticket's order, and the BSS's state-change callback.

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::extract::{ApiJson, Idempotent};
use crate::http::tickets::written;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use kefu_domain::CustomerId;
use kefu_store::Store;
use serde_json::{Map, Value, json};

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/api/v1/products", get(products::<S>))
        .route("/api/v1/customers/{id}/services", get(services::<S>))
        .route("/api/v1/customers/{id}/service-history", get(history::<S>))
        .route("/api/v1/tickets/{id}/order", post(order_action::<S>))
        .route("/api/v1/bss/events", post(bss_events::<S>))
        .route("/api/v1/inventory/import", post(import::<S>))
}

fn customer_id(raw: &str) -> Result<CustomerId, ApiError> {
    raw.trim().parse().map(CustomerId).map_err(|_| ApiError::NotFound { what: "customer", what_zh: "客户" })
}

/// The product catalogue: `{items: [{code, name_zh, name_en, category, monthly_fee, effective, …}]}`.
#[utoipa::path(get, path = "/api/v1/products", tag = "orders", security(("bearer" = [])),
    responses((status = 200, description = "{items}")))]
pub async fn products<S: Store>(State(app): State<AppState<S>>, _user: CurrentUser) -> Json<Value> {
    Json(app.kefu.products_json())
}

/// A customer's services as they are now: `{items: [{id, product_code,
/// product_name, category, service_number, state, monthly_fee, started_at, …}], balance_fen}`.
#[utoipa::path(get, path = "/api/v1/customers/{id}/services", tag = "orders", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "{items, balance_fen}"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn services<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = customer_id(&id)?;
    Ok(Json(app.kefu.customer_services(id, user.actor.role).await?))
}

/// A customer's service changes, oldest first: `{items: [{service, ticket, order_id, change, state, product_code, at}]}`.
#[utoipa::path(get, path = "/api/v1/customers/{id}/service-history", tag = "orders", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "{items}"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn history<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = customer_id(&id)?;
    Ok(Json(app.kefu.customer_service_history(id).await?))
}

/// A step on the ticket's order: `{action: approve | submit | retry | revoke, reason?}`
/// → the ticket. Submitting hands it to the BSS; its outcome resolves the
/// ticket (completed) or returns it to its handler (failed).
#[utoipa::path(post, path = "/api/v1/tickets/{id}/order", tag = "orders", security(("bearer" = [])),
    params(("id" = String, Path)), request_body(content = Object, description = "{action, reason?}"),
    responses((status = 200, body = crate::view::TicketView), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn order_action<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<String>,
    Idempotent { key, body }: Idempotent<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let w = app.kefu.order_action(&user.actor, &id, &body, key).await?;
    Ok(written(w, StatusCode::OK))
}

/// The BSS's TMF622 state-change event: `{eventType, event: {productOrder:
/// {id, externalId, state, stateChangeReason?}}}` (or the product order
/// itself). The BSS proves itself with header `X-Bss-Token`. A repeated
/// event changes nothing and is still answered 200.
#[utoipa::path(post, path = "/api/v1/bss/events", tag = "orders",
    params(("X-Bss-Token" = String, Header)), request_body(content = Object, description = "TMF622 ProductOrderStateChangeEvent"),
    responses((status = 200, description = "{applied}"), (status = 401, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn bss_events<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    const DENIED: ApiError =
        ApiError::Unauthorized { message: "BSS token missing or wrong", message_zh: "BSS令牌缺失或错误" };
    let want = app.kefu.core.settings.bss.callback_token.as_deref().ok_or(DENIED)?;
    let given = headers.get("x-bss-token").and_then(|v| v.to_str().ok());
    if given.is_none_or(|g| !crate::auth::same(g, want)) {
        return Err(DENIED);
    }
    let body = crate::extract::strict_value(&raw)?;
    let order = body.pointer("/event/productOrder").unwrap_or(&body);
    let field = |name: &str| order.get(name).and_then(Value::as_str);
    let bad = |f: &str, en: &str, zh: &str| -> ApiError { kefu_domain::FieldError::new(f, en, zh).into() };
    let external = field("externalId").ok_or_else(|| {
        bad("event.productOrder.externalId", "the order's externalId is required", "须提供订单的 externalId")
    })?;
    let state = field("state")
        .and_then(crate::bss::tmf_state)
        .ok_or_else(|| bad("event.productOrder.state", "a TMF622 order state is required", "须提供 TMF622 订单状态"))?;
    let applied = app.kefu.bss_report(external, state, field("id"), field("stateChangeReason")).await?;
    Ok((StatusCode::OK, Json(json!({ "applied": applied }))))
}

/// Imports the operator's BSS export: `{csv}` with a header row (see
/// `kefu inventory import`) → `{added, updated}`. All or nothing.
#[utoipa::path(post, path = "/api/v1/inventory/import", tag = "orders", security(("bearer" = [])),
    request_body(content = Object, description = "{csv}"),
    responses((status = 200, description = "{added, updated}"), (status = 422, body = crate::error::ErrorBody)))]
pub async fn import<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    crate::service::quality::only_fields(&body, &["csv"])?;
    let csv = crate::service::quality::opt_str(&body, "csv")?
        .ok_or_else(|| ApiError::from(kefu_domain::FieldError::required("csv")))?;
    let counts = app.kefu.import_inventory(csv).await?;
    app.kefu
        .log_access(
            (Some(user.actor.id), &user.actor.username),
            "inventory_import",
            "inventory".into(),
            None,
            format!("{counts:?}"),
        )
        .await?;
    Ok(Json(json!({ "added": counts.added, "updated": counts.updated })))
}
