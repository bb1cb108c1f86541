//! Customer lookup by phone.

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::view::{CustomerView, customer_view};
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use kefu_domain::validate::Phone;
use kefu_store::prelude::*;
use serde::Deserialize;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new().route("/api/v1/customers", get(customer::<S>))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct PhoneQuery {
    phone: Option<String>,
}

/// Find a customer by phone number (客户识别).
#[utoipa::path(get, path = "/api/v1/customers", tag = "staff", params(PhoneQuery), security(("bearer" = [])),
    responses((status = 200, body = CustomerView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn customer<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Query(q): Query<PhoneQuery>,
) -> Result<Json<CustomerView>, ApiError> {
    let raw = q.phone.ok_or_else(|| kefu_domain::FieldError::required("phone"))?;
    let phone = Phone::parse(&raw, "phone")?;
    let found = app.kefu.store.customer_by_phone(phone.as_str()).await?;
    let c = found.ok_or(ApiError::NotFound { what: "customer", what_zh: "客户" })?;
    Ok(Json(customer_view(&c, user.actor.role, &app.kefu.core.policy.privacy)))
}
