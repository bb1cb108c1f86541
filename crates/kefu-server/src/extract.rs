//! Request extractors that turn every malformed input into an `ApiError`
//! naming the field, instead of axum's plain-text rejections.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

/// Largest accepted request body. A 10,000-character description is at most
/// 40 KB of UTF-8, so this leaves room for every field at its limit.
pub const BODY_LIMIT: usize = 256 * 1024;

/// How long a client may take to send a whole body (set per request by the
/// server from its limits; 30 s otherwise): a slow client holds a
/// connection and a task, so one byte a second is refused, not waited for.
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub std::time::Duration);

/// JSON body whose type errors name the JSON path of the field.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json_type = is_json(&req);
        let bytes = read_body(req, state).await?;
        if !json_type {
            return Err(ApiError::Malformed("expected Content-Type: application/json".into()));
        }
        parse_json(&bytes).map(ApiJson)
    }
}

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// The whole body (already read within the limits by `buffer_body`).
pub async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge { limit: BODY_LIMIT }
        } else {
            ApiError::Malformed("the request body could not be read".into())
        }
    })
}

/// Parses a JSON body into `T`. Refused: invalid JSON and duplicate keys
/// (400, the key named: which of two values was meant is anyone's guess),
/// a body that is not an object, unknown fields and wrong types (422, the
/// field named). Messages never name the server's internal types.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value = strict_value(bytes)?;
    if !value.is_object() {
        return Err(ApiError::Malformed("the request body must be a JSON object".into()));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde names an unknown field in the message, at its parent's path.
        // serde_path_to_error's path already ends in the unknown key.
        if let Some(name) = inner.strip_prefix("unknown field `").and_then(|r| r.split('`').next()) {
            let field = if path == "." { name.to_string() } else { path };
            return ApiError::Invalid(kefu_domain::FieldError::new(
                field.clone(),
                format!("unknown field '{field}'"),
                format!("未知字段“{field}”"),
            ));
        }
        let field = if path == "." { "body".to_string() } else { path };
        let message = plain_serde_message(&inner);
        ApiError::Invalid(kefu_domain::FieldError::new(
            field.clone(),
            format!("{field}: {message}"),
            format!("字段 {field} 的类型或格式错误"),
        ))
    })
}

/// serde's message without the names of Rust types ("expected struct
/// IntakeRequest with 12 elements" → "expected an object").
fn plain_serde_message(m: &str) -> String {
    let Some(i) = m.find("struct ") else { return m.to_string() };
    format!("{}an object", &m[..i])
}

/// The body as a JSON value, refusing a key that appears twice in one object.
pub fn strict_value(bytes: &[u8]) -> Result<serde_json::Value, ApiError> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let mut duplicate = None;
    let value = StrictSeed { path: String::new(), duplicate: &mut duplicate }.deserialize(&mut de).and_then(|v| {
        de.end()?;
        Ok(v)
    });
    if let Some(field) = duplicate {
        return Err(ApiError::DuplicateKey { field });
    }
    value.map_err(|e| ApiError::Malformed(format!("invalid JSON: {e}")))
}

struct StrictSeed<'a> {
    path: String,
    duplicate: &'a mut Option<String>,
}

impl<'de> serde::de::DeserializeSeed<'de> for StrictSeed<'_> {
    type Value = serde_json::Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for StrictSeed<'_> {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        loop {
            let path = format!("{}[{}]", self.path, out.len());
            match seq.next_element_seed(StrictSeed { path, duplicate: &mut *self.duplicate })? {
                Some(v) => out.push(v),
                None => return Ok(serde_json::Value::Array(out)),
            }
        }
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() { key.clone() } else { format!("{}.{key}", self.path) };
            if out.contains_key(&key) {
                *self.duplicate = Some(path);
                return Err(serde::de::Error::custom("duplicate key"));
            }
            let v = map.next_value_seed(StrictSeed { path, duplicate: &mut *self.duplicate })?;
            out.insert(key, v);
        }
        Ok(serde_json::Value::Object(out))
    }
}

/// The request's `Idempotency-Key`, if sent.
fn idempotency_key(req: &Request) -> Result<Option<String>, ApiError> {
    match req.headers().get("idempotency-key") {
        None => Ok(None),
        Some(v) => match v.to_str() {
            Ok(s) if !s.trim().is_empty() && s.len() <= 200 => Ok(Some(s.trim().to_string())),
            _ => Err(kefu_domain::FieldError::new(
                "Idempotency-Key",
                "the Idempotency-Key header must be 1 to 200 visible ASCII characters",
                "Idempotency-Key 请求头必须是 1 到 200 个可见 ASCII 字符",
            )
            .into()),
        },
    }
}

/// A JSON body with the request's `Idempotency-Key`, if sent: the key
/// scoped by method and path, with a fingerprint (SHA-256) of the body as
/// sent, so that a reuse with another body is told apart from a retry.
pub struct Idempotent<T> {
    pub key: Option<crate::service::Idem>,
    pub body: T,
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Idempotent<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let scope = format!("{} {}", req.method(), req.uri().path());
        let key = idempotency_key(&req)?;
        let json_type = is_json(&req);
        let bytes = read_body(req, state).await?;
        if !json_type {
            return Err(ApiError::Malformed("expected Content-Type: application/json".into()));
        }
        let body = parse_json(&bytes)?;
        let key = key.map(|key| crate::service::Idem {
            key,
            scope,
            fingerprint: crate::auth::hex(&<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
        });
        Ok(Idempotent { key, body })
    }
}

/// Reads every request's body before any handler runs, within the size
/// limit and the time limit of the connection (`BodyTimeout`): 413 or 408
/// with the JSON error body, so that no extractor, JSON or form, waits on a
/// client that sends a byte a second.
pub async fn buffer_body(
    axum::extract::State(upload): axum::extract::State<UploadLimit>,
    req: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let limit = req.extensions().get::<BodyTimeout>().map_or(std::time::Duration::from_secs(30), |t| t.0);
    // A file upload may be as large as the policy lets a file be.
    let uploading = req.method() == axum::http::Method::POST && req.uri().path().ends_with("/attachments");
    let max = if uploading { upload.0 } else { BODY_LIMIT };
    let (parts, body) = req.into_parts();
    let read = tokio::time::timeout(limit, axum::body::to_bytes(body, max));
    let bytes = match read.await {
        Err(_) => return ApiError::Timeout.into_response(),
        Ok(Err(_)) if uploading => return upload.refusal().into_response(),
        Ok(Err(_)) => return ApiError::TooLarge { limit: BODY_LIMIT }.into_response(),
        Ok(Ok(b)) => b,
    };
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await
}

/// The largest body of a file upload: the policy's largest file and room
/// for the multipart framing around it.
#[derive(Debug, Clone, Copy)]
pub struct UploadLimit(pub usize);

impl UploadLimit {
    pub const FRAMING: usize = 64 * 1024;

    pub fn of(policy: &kefu_domain::attachment::AttachmentPolicy) -> UploadLimit {
        UploadLimit(usize::try_from(policy.max_file_bytes).unwrap_or(usize::MAX).saturating_add(Self::FRAMING))
    }

    fn refusal(self) -> ApiError {
        let max = self.0.saturating_sub(Self::FRAMING);
        ApiError::FileTooLarge(kefu_domain::FieldError::new(
            "file",
            format!("the file may be at most {max} bytes"),
            format!("单个文件不能超过 {max} 字节"),
        ))
    }
}

/// One uploaded file (`multipart/form-data`, part `file`) with the
/// request's `Idempotency-Key`; the fingerprint covers name and bytes.
pub struct Upload {
    pub key: Option<crate::service::Idem>,
    pub file: crate::service::attachments::Incoming,
}

impl<S: Send + Sync> FromRequest<S> for Upload {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let scope = format!("{} {}", req.method(), req.uri().path());
        let key = idempotency_key(&req)?;
        let mut form = axum::extract::Multipart::from_request(req, state)
            .await
            .map_err(|_| ApiError::Malformed("expected Content-Type: multipart/form-data with a boundary".into()))?;
        let broken = |_| ApiError::Malformed("the multipart body could not be read".into());
        let mut file = None;
        while let Some(part) = form.next_field().await.map_err(broken)? {
            let name = part.name().unwrap_or_default().to_string();
            if name != "file" {
                return Err(kefu_domain::FieldError::new(
                    name.clone(),
                    format!("unknown part '{name}'; send the file in a part named 'file'"),
                    format!("未知字段“{name}”，文件字段名应为 file"),
                )
                .into());
            }
            if file.is_some() {
                return Err(kefu_domain::FieldError::new(
                    "file",
                    "send one file per request",
                    "每次请求只能上传一个文件",
                )
                .into());
            }
            let filename = part.file_name().unwrap_or_default().to_string();
            let bytes = part.bytes().await.map_err(broken)?.to_vec();
            file = Some(crate::service::attachments::Incoming { filename, bytes });
        }
        let file = file.ok_or_else(crate::service::attachments::missing_file)?;
        let key = key.map(|key| crate::service::Idem { key, scope, fingerprint: file.fingerprint() });
        Ok(Upload { key, file })
    }
}
