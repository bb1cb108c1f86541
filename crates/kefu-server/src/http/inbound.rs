//! Messages customers send in, as their channels deliver them: the SMS
//! gateway's mobile-originated callback (field names per `[delivery.sms]`,
//! JSON — one or a list — or a form, the gateway's token checked).

use crate::AppState;
use crate::error::ApiError;
use crate::service::inbound::Received;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use kefu_domain::FieldError;
use kefu_store::Store;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new().route("/api/v1/sms/inbound", post(sms::<S>))
}

/// What became of each message, in the order sent.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReceivedList {
    pub items: Vec<Received>,
}

/// Customers' SMS from the gateway: `{<id>, <from>, <text>}` or a list of
/// them (field names per config), or the same as a form. Each is a survey
/// answer (a digit 1–5 to a survey invitation), a word on the customer's
/// latest unfinished ticket, or a new request; a repeated id changes
/// nothing. The gateway proves itself with its token.
#[utoipa::path(post, path = "/api/v1/sms/inbound", tag = "channels",
    params(("token" = Option<String>, Query, description = "or header X-Inbound-Token")),
    request_body(content = Object, description = "{message_id, from, text} or a list of them (field names per config), JSON or form"),
    responses((status = 200, body = ReceivedList), (status = 401, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn sms<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    raw: axum::body::Bytes,
) -> Result<Json<ReceivedList>, ApiError> {
    const DENIED: ApiError = ApiError::Unauthorized {
        message: "inbound token missing or wrong",
        message_zh: "上行短信令牌缺失或错误",
    };
    let cfg = app.kefu.core.settings.delivery.sms.as_ref().ok_or(DENIED)?;
    let want = cfg.inbound_token.as_deref().ok_or(DENIED)?;
    let given = headers.get("x-inbound-token").and_then(|v| v.to_str().ok()).or(q.get("token").map(String::as_str));
    if given.is_none_or(|g| !crate::auth::same(g, want)) {
        return Err(DENIED);
    }
    let is_form = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let (items, listed) = if is_form {
        let form: HashMap<String, String> = serde_urlencoded_pairs(&raw)?;
        (vec![Value::Object(form.into_iter().map(|(k, v)| (k, Value::String(v))).collect())], false)
    } else {
        match crate::extract::strict_value(&raw)? {
            Value::Array(items) => (items, true),
            one => (vec![one], false),
        }
    };
    // Every message is read before any is taken: a malformed one refuses the
    // callback whole (each taken one is idempotent, so the retry is safe anyway).
    let mut messages = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = |name: &str| {
            crate::delivery::dotted(item, name).map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        };
        let need = |name: &str| {
            field(name).ok_or_else(|| {
                let at = if listed { format!("[{i}].{name}") } else { name.to_string() };
                ApiError::from(FieldError::new(&at, format!("{at} is required"), format!("缺少字段 {at}")))
            })
        };
        messages.push((need(&cfg.inbound_id_field)?, need(&cfg.inbound_from_field)?, need(&cfg.inbound_text_field)?));
    }
    let mut received = Vec::with_capacity(messages.len());
    for (id, from, text) in messages {
        received.push(app.kefu.receive_sms(&id, &from, &text).await?);
    }
    Ok(Json(ReceivedList { items: received }))
}

/// A form body's fields (the last of a repeated name wins).
fn serde_urlencoded_pairs(raw: &[u8]) -> Result<HashMap<String, String>, ApiError> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(raw)
        .map(|pairs| pairs.into_iter().collect())
        .map_err(|_| ApiError::Malformed("the form body could not be read".into()))
}
