//! The one error type of the service and HTTP layers, and its single mapping
//! to status codes and the JSON error body of API.md:
//! `{"error": {"code", "message", "message_zh", "field", "details"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kefu_domain::flow::guard_reason_zh;
use kefu_domain::{DomainError, FieldError};
use kefu_store::StoreError;
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid field {}", .0.field)]
    Invalid(FieldError),
    #[error("malformed request: {0}")]
    Malformed(String),
    /// The same key twice in one JSON object.
    #[error("duplicate key {field}")]
    DuplicateKey { field: String },
    /// The client took too long to send its request.
    #[error("request timeout")]
    Timeout,
    #[error("not authenticated")]
    Unauthorized { message: &'static str, message_zh: &'static str },
    #[error("forbidden: {reason}")]
    Forbidden { reason: String, reason_zh: String },
    #[error("{what} not found")]
    NotFound { what: &'static str, what_zh: &'static str },
    #[error("action {action} not allowed in state {state}")]
    NotAllowed { action: String, state: String, allowed: Vec<String> },
    #[error("ticket is archived")]
    Archived,
    #[error("conflict on {constraint}")]
    Conflict { constraint: String },
    #[error("request body too large")]
    TooLarge { limit: usize },
    /// Records that the retention policy still keeps.
    #[error("retained")]
    /// `until`: the last ticket's retention end; None while a ticket is not
    /// archived. `past_due`: every ticket is past retention but still held.
    Retained { until: Option<chrono::DateTime<chrono::Utc>>, past_due: bool },
    #[error("no calendar for {year}")]
    CalendarMissing { year: i32 },
    /// Nobody can take the ticket now (automatic dispatch).
    #[error("no candidate at tier {tier}")]
    NoCandidate { tier: u8 },
    /// The chosen handler filled up meanwhile.
    #[error("{username} is at capacity")]
    CapacityFull { username: String },
    /// Archive refused: these loop steps are missing.
    #[error("loop not closed: {missing:?}")]
    LoopIncomplete { missing: Vec<String> },
    /// A file over a size or count limit (413, naming the field).
    #[error("file too large: {}", .0.field)]
    FileTooLarge(FieldError),
    /// A file whose content is not an accepted kind (415, naming the field).
    #[error("unsupported file: {}", .0.field)]
    UnsupportedFile(FieldError),
    #[error("too many requests")]
    RateLimited { retry_after_secs: u64, message: String, message_zh: String },
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::Invalid(e)
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(f) => ApiError::Invalid(f),
            DomainError::NotAllowed { action, state, allowed } => ApiError::NotAllowed { action, state, allowed },
            DomainError::Forbidden { reason, .. } => {
                let reason_zh = guard_reason_zh(&reason);
                ApiError::Forbidden { reason, reason_zh }
            }
            DomainError::Archived => ApiError::Archived,
            DomainError::CalendarMissing(year) => ApiError::CalendarMissing { year },
            DomainError::NoCandidate { tier } => ApiError::NoCandidate { tier },
            DomainError::CapacityFull { username } => ApiError::CapacityFull { username },
            DomainError::LoopIncomplete { missing } => ApiError::LoopIncomplete { missing },
            DomainError::TooLarge(f) => ApiError::FileTooLarge(f),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound { what: "ticket", what_zh: "工单" },
            StoreError::Domain(d) => d.into(),
            StoreError::Conflict { constraint } => ApiError::Conflict { constraint },
            StoreError::IdempotencyMismatch => ApiError::Invalid(FieldError::new(
                "Idempotency-Key",
                "this Idempotency-Key was used for a different request; use a new key for a new request",
                "该 Idempotency-Key 已用于另一个不同的请求，新请求请使用新的键",
            )),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// The parts of the JSON error body.
struct Body {
    status: StatusCode,
    code: &'static str,
    message: String,
    message_zh: String,
    field: Option<String>,
    details: Value,
}

impl ApiError {
    /// Status, field, English and Chinese message, as the JSON error body
    /// says them (for the console's pages).
    pub fn parts(self) -> (StatusCode, Option<String>, String, String) {
        let b = self.body();
        (b.status, b.field, b.message, b.message_zh)
    }

    fn body(self) -> Body {
        let plain = |status, code, message: String, message_zh: String| Body {
            status,
            code,
            message,
            message_zh,
            field: None,
            details: json!({}),
        };
        match self {
            ApiError::Invalid(f) => Body {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "validation_failed",
                message: f.message,
                message_zh: f.message_zh,
                field: Some(f.field),
                details: json!({}),
            },
            ApiError::FileTooLarge(f) => Body {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                code: "file_too_large",
                message: f.message,
                message_zh: f.message_zh,
                field: Some(f.field),
                details: json!({}),
            },
            ApiError::UnsupportedFile(f) => Body {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                code: "unsupported_file_type",
                message: f.message,
                message_zh: f.message_zh,
                field: Some(f.field),
                details: json!({}),
            },
            ApiError::Malformed(m) => {
                plain(StatusCode::BAD_REQUEST, "malformed_request", m, "请求格式错误，无法解析".into())
            }
            ApiError::DuplicateKey { field } => Body {
                status: StatusCode::BAD_REQUEST,
                code: "duplicate_key",
                message: format!("the key '{field}' appears more than once; send each field once"),
                message_zh: format!("字段“{field}”重复出现，每个字段只能出现一次"),
                field: Some(field),
                details: json!({}),
            },
            ApiError::Timeout => plain(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "the request was not received in time".into(),
                "请求发送超时".into(),
            ),
            ApiError::Unauthorized { message, message_zh } => {
                plain(StatusCode::UNAUTHORIZED, "unauthorized", message.into(), message_zh.into())
            }
            ApiError::Forbidden { reason, reason_zh } => plain(StatusCode::FORBIDDEN, "forbidden", reason, reason_zh),
            ApiError::NotFound { what, what_zh } => {
                plain(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"), format!("{what_zh}不存在"))
            }
            ApiError::NotAllowed { action, state, allowed } => Body {
                status: StatusCode::CONFLICT,
                code: "action_not_allowed",
                message: format!("action '{action}' is not allowed in state '{state}'"),
                message_zh: format!("当前状态（{state}）下不允许执行操作“{action}”"),
                field: Some("action".into()),
                details: json!({"state": state, "allowed_actions": allowed}),
            },
            ApiError::LoopIncomplete { missing } => {
                let zh: Vec<&str> = missing.iter().map(|s| kefu_domain::customer_loop::step_zh(s)).collect();
                Body {
                    status: StatusCode::CONFLICT,
                    code: "loop_incomplete",
                    message: format!("the loop is not closed; missing: {}", missing.join(", ")),
                    message_zh: format!("闭环未完成，不能归档；缺少：{}", zh.join("、")),
                    field: Some("action".into()),
                    details: json!({"missing": missing, "missing_zh": zh}),
                }
            }
            ApiError::Archived => Body {
                status: StatusCode::CONFLICT,
                code: "ticket_archived",
                message: "the ticket is archived and can no longer be changed".into(),
                message_zh: "工单已归档，不可再修改".into(),
                field: None,
                details: json!({"allowed_actions": []}),
            },
            ApiError::Conflict { constraint } => Body {
                status: StatusCode::CONFLICT,
                code: "already_exists",
                message: format!("a record with the same value already exists ({constraint})"),
                message_zh: format!("已存在相同的记录（{constraint}）"),
                field: None,
                details: json!({"constraint": constraint}),
            },
            ApiError::TooLarge { limit } => plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the request body exceeds {limit} bytes"),
                format!("请求体超过 {limit} 字节上限"),
            ),
            ApiError::Retained { until, past_due } => Body {
                status: StatusCode::CONFLICT,
                code: "retention_period",
                message: match (until, past_due) {
                    (_, true) => {
                        "the customer's tickets are past retention but not yet removed; erase after the retention run"
                            .into()
                    }
                    (Some(t), _) => format!(
                        "the customer's tickets must be kept until {}; erasure is possible after that",
                        t.to_rfc3339()
                    ),
                    (None, _) => {
                        "the customer has tickets not yet archived; they are kept for years after archiving".into()
                    }
                },
                message_zh: match (until, past_due) {
                    (_, true) => "该客户的工单已过保存期限但尚未清理，请在保存期清理后再删除".into(),
                    (Some(t), _) => format!(
                        "该客户的工单须保存至 {}，届时方可删除",
                        t.with_timezone(&kefu_domain::time::shanghai()).format("%Y-%m-%d")
                    ),
                    (None, _) => "该客户有尚未归档的工单，归档后仍须按期限保存".into(),
                },
                field: None,
                details: json!({"kept_until": until}),
            },
            ApiError::CalendarMissing { year } => Body {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "calendar_not_loaded",
                message: format!(
                    "a deadline falls in {year}, for which no working-day calendar is loaded; an administrator must add it"
                ),
                message_zh: format!("时限落在 {year} 年，但未加载该年的工作日历，请管理员补充节假日安排"),
                field: None,
                details: json!({"year": year}),
            },
            ApiError::NoCandidate { tier } => Body {
                status: StatusCode::CONFLICT,
                code: "no_candidate",
                message: format!(
                    "no on-duty L{tier} handler with free capacity and the needed skills; name an assignee or wait"
                ),
                message_zh: format!("暂无在岗、有空余容量且技能匹配的 L{tier} 处理人，请指定处理人或稍后再派"),
                field: Some("assignee".into()),
                details: json!({"tier": tier}),
            },
            ApiError::CapacityFull { username } => Body {
                status: StatusCode::CONFLICT,
                code: "capacity_full",
                message: format!("{username} has no free capacity"),
                message_zh: format!("{username} 的工单容量已满"),
                field: Some("assignee".into()),
                details: json!({"assignee": username}),
            },
            ApiError::RateLimited { retry_after_secs, message, message_zh } => Body {
                status: StatusCode::TOO_MANY_REQUESTS,
                code: "rate_limited",
                message,
                message_zh,
                field: None,
                details: json!({"retry_after_secs": retry_after_secs}),
            },
            ApiError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "internal server error".into(),
                    "服务器内部错误".into(),
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry_after = match &self {
            ApiError::RateLimited { retry_after_secs, .. } => Some(*retry_after_secs),
            _ => None,
        };
        let unauthorized = matches!(self, ApiError::Unauthorized { .. });
        let b = self.body();
        let mut error = json!({"code": b.code, "message": b.message, "message_zh": b.message_zh, "details": b.details});
        if let Some(f) = b.field {
            error["field"] = json!(f);
        }
        let mut response = (b.status, axum::Json(json!({ "error": error }))).into_response();
        if let Some(secs) = retry_after
            && let Ok(v) = axum::http::HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
        }
        if unauthorized {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"kefu\""),
            );
        }
        response
    }
}

/// The JSON error body for a status the framework answered by itself
/// (unknown route, wrong method, a rejection outside our extractors), so
/// that every error of the API has the same shape.
pub fn for_status(status: StatusCode) -> Response {
    let (code, message, message_zh) = match status.as_u16() {
        404 => ("not_found", "no such resource", "资源不存在"),
        405 => ("method_not_allowed", "this method is not allowed here", "不支持该请求方法"),
        408 => ("request_timeout", "the request was not received in time", "请求发送超时"),
        413 => ("body_too_large", "the request body is too large", "请求体过大"),
        415 => ("unsupported_media_type", "expected Content-Type: application/json", "请求须为 JSON 格式"),
        400..=499 => ("malformed_request", "the request could not be understood", "请求格式错误，无法解析"),
        _ => ("internal_error", "internal server error", "服务器内部错误"),
    };
    let error = json!({"code": code, "message": message, "message_zh": message_zh, "details": {}});
    (status, axum::Json(json!({ "error": error }))).into_response()
}

/// The error body, for the OpenAPI document.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ErrorDetail {
    code: String,
    message: String,
    message_zh: String,
    field: Option<String>,
    #[schema(value_type = Object)]
    details: Value,
}
