//! Request extractors that turn every malformed input into an `ApiError`
//! naming the field, instead of axum's plain-text rejections.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// Largest accepted request body. A 10,000-character description is at most
/// 40 KB of UTF-8, so this leaves room for every field at its limit.
pub const BODY_LIMIT: usize = 256 * 1024;

/// JSON body whose type errors name the JSON path of the field.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json_type = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge { limit: BODY_LIMIT }
            } else {
                ApiError::Malformed(e.body_text())
            }
        })?;
        if !json_type {
            return Err(ApiError::Malformed("expected Content-Type: application/json".into()));
        }
        parse_json(&bytes).map(ApiJson)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() || path == "." {
            return ApiError::Malformed(format!("invalid JSON: {inner}"));
        }
        ApiError::Invalid(kefu_domain::FieldError::new(
            path.clone(),
            format!("{path}: {inner}"),
            format!("字段 {path} 的类型或格式错误"),
        ))
    })
}

/// The `Idempotency-Key` header, if sent.
pub struct IdempotencyHeader(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyHeader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(v) = parts.headers.get("idempotency-key") else {
            return Ok(IdempotencyHeader(None));
        };
        match v.to_str() {
            Ok(s) if !s.trim().is_empty() && s.len() <= 200 => Ok(IdempotencyHeader(Some(s.trim().to_string()))),
            _ => Err(kefu_domain::FieldError::new(
                "Idempotency-Key",
                "the Idempotency-Key header must be 1 to 200 visible ASCII characters",
                "Idempotency-Key 请求头必须是 1 到 200 个可见 ASCII 字符",
            )
            .into()),
        }
    }
}
