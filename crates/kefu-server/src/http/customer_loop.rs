//! The customer loop over HTTP: a ticket's messages with their delivery
//! state, SMS delivery receipts from the gateway, the return-visit queue
//! and the return-visit coverage report.

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{Datelike, NaiveDate};
use kefu_domain::FieldError;
use kefu_domain::privacy::{Access, PersonalField};
use kefu_domain::time::shanghai_at;
use kefu_store::{Message, Page, Store, VisitFilter, VisitRow};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/api/v1/tickets/{id}/messages", get(messages::<S>))
        .route("/api/v1/sms/receipts", post(sms_receipts::<S>))
        .route("/api/v1/return-visits", get(return_visits::<S>))
        .route("/api/v1/reports/return-visits", get(visit_report::<S>))
}

/// Messages sent to the customer about a ticket (receipt, result notice,
/// visit invitation) with their delivery state; the recipient is masked
/// as the role sees the customer's phone.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/messages", tag = "customer loop", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = Vec<Message>)))]
pub async fn messages<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Vec<Message>>, ApiError> {
    let id = app.kefu.visible_ticket(&user.actor, &id).await?.id;
    let privacy = &app.kefu.core.policy.privacy;
    let role = user.actor.role;
    let full = privacy.access(role, PersonalField::Phone) == Access::Full;
    let masked = |m: Message| {
        let recipient = match (full, m.channel.as_str()) {
            (true, _) => m.recipient,
            (false, "email") => mask_email(&m.recipient),
            (false, _) => privacy.show(role, PersonalField::Phone, &m.recipient),
        };
        let body = privacy
            .show_text(role, &m.body)
            .replace(crate::service::messages::LINK_MARK, crate::service::messages::LINK_SHOWN);
        Message { recipient, body, ..m }
    };
    Ok(Json(app.kefu.store.messages(id).await?.into_iter().map(masked).collect()))
}

fn mask_email(s: &str) -> String {
    match s.split_once('@') {
        Some((local, domain)) => format!("{}***@{domain}", local.chars().next().unwrap_or('*')),
        None => "***".into(),
    }
}

/// Delivery receipts from the SMS gateway: one receipt or a list, each
/// with the gateway's message id and status under the configured field
/// names. The gateway proves itself with the configured token.
#[utoipa::path(post, path = "/api/v1/sms/receipts", tag = "customer loop",
    params(("token" = Option<String>, Query, description = "or header X-Receipt-Token")),
    request_body(content = Object, description = "{message_id, status} or a list of them (field names per config)"),
    responses((status = 200, description = "{accepted, unknown}"), (status = 401, body = crate::error::ErrorBody)))]
pub async fn sms_receipts<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
    raw: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    const DENIED: ApiError =
        ApiError::Unauthorized { message: "receipt token missing or wrong", message_zh: "回执令牌缺失或错误" };
    let Some(cfg) = app.kefu.core.settings.delivery.sms.as_ref() else { return Err(DENIED) };
    let Some(want) = cfg.receipt_token.as_deref() else { return Err(DENIED) };
    let given = headers.get("x-receipt-token").and_then(|v| v.to_str().ok()).or(q.get("token").map(String::as_str));
    if given.is_none_or(|g| !crate::auth::same(g, want)) {
        return Err(DENIED);
    }
    // One receipt or a list: any JSON value (duplicate keys refused).
    let body = crate::extract::strict_value(&raw)?;
    let items = match body {
        Value::Array(items) => items,
        one => vec![one],
    };
    let (mut accepted, mut unknown) = (0, 0);
    for item in &items {
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let id = crate::delivery::dotted(item, &cfg.receipt_id_field).map(text);
        let status = crate::delivery::dotted(item, &cfg.receipt_status_field).map(text);
        let (Some(id), Some(status)) = (id, status) else {
            return Err(FieldError::new(
                &cfg.receipt_id_field,
                "each receipt needs the message id and status",
                "每条回执须包含消息编号和状态",
            )
            .into());
        };
        let delivered = cfg.receipt_delivered.contains(&status);
        let detail = (!delivered).then(|| format!("receipt: {status}"));
        if app.kefu.sms_receipt(&id, delivered, detail).await? {
            accepted += 1;
        } else {
            unknown += 1;
        }
    }
    Ok(Json(json!({"accepted": accepted, "unknown": unknown})))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct VisitQuery {
    /// `waiting`, `pending`, `invited`, `visited`, `unreachable`, `cancelled`.
    pub state: Option<String>,
    /// `phone`, `sms`, `online`.
    pub method: Option<String>,
    pub team: Option<String>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

/// The return-visit tasks (回访任务), due first: by default those an
/// agent should call now (`state=pending&method=phone`).
#[utoipa::path(get, path = "/api/v1/return-visits", tag = "customer loop", security(("bearer" = [])),
    params(VisitQuery), responses((status = 200, description = "a page of visit tasks")))]
pub async fn return_visits<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
    Query(q): Query<VisitQuery>,
) -> Result<Json<Page<VisitRow>>, ApiError> {
    if let Some(s) = q.state.as_deref()
        && kefu_domain::customer_loop::VisitState::parse(s).is_none()
    {
        return Err(FieldError::new("state", format!("unknown visit state '{s}'"), format!("回访状态“{s}”无效")).into());
    }
    if let Some(m) = q.method.as_deref()
        && !kefu_domain::action::VISIT_METHODS.contains(&m)
    {
        return Err(FieldError::new("method", format!("unknown method '{m}'"), format!("回访方式“{m}”无效")).into());
    }
    let team = match q.team.as_deref() {
        Some(key) => Some(
            app.kefu
                .org()
                .await?
                .team_by_key(key)
                .ok_or_else(|| FieldError::new("team", format!("unknown team '{key}'"), format!("班组“{key}”不存在")))?
                .id,
        ),
        None => None,
    };
    let per_page = q.per_page.unwrap_or(50);
    if !(1..=500).contains(&per_page) {
        return Err(FieldError::new("per_page", "per_page must be 1-500", "per_page 必须在 1–500 之间").into());
    }
    let filter = VisitFilter {
        state: Some(q.state.unwrap_or_else(|| "pending".into())),
        method: q.method,
        team,
        page: q.page.unwrap_or(1).max(1),
        per_page,
    };
    Ok(Json(app.kefu.store.visits(filter).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ReportQuery {
    /// First day (Shanghai), `YYYY-MM-DD`; default the first of this month.
    pub from: Option<String>,
    /// Last day (Shanghai, inclusive); default today.
    pub to: Option<String>,
}

/// Return-visit coverage (visited / resolved) per team and in total for
/// tickets resolved in the period, against the policy's 80 % target, with
/// satisfaction and NPS.
#[utoipa::path(get, path = "/api/v1/reports/return-visits", tag = "customer loop", security(("bearer" = [])),
    params(ReportQuery), responses((status = 200, description = "coverage per team and in total")))]
pub async fn visit_report<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
    Query(q): Query<ReportQuery>,
) -> Result<Json<Value>, ApiError> {
    let today = kefu_domain::time::shanghai_date(app.kefu.now());
    let day = |field: &str, v: Option<&str>, default: NaiveDate| -> Result<NaiveDate, ApiError> {
        match v {
            None => Ok(default),
            Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
                FieldError::new(
                    field,
                    format!("{field} must be a date YYYY-MM-DD"),
                    format!("{field} 须为日期 YYYY-MM-DD"),
                )
                .into()
            }),
        }
    };
    let from = day("from", q.from.as_deref(), today.with_day0(0).unwrap_or(today))?;
    let to = day("to", q.to.as_deref(), today)?;
    if to < from {
        return Err(FieldError::new("to", "to is before from", "结束日期早于开始日期").into());
    }
    Ok(Json(app.kefu.visit_report(shanghai_at(from, 0), shanghai_at(to + chrono::Days::new(1), 0)).await?))
}
