//! Evidence files over HTTP: upload one to a ticket, list a ticket's,
//! download one. Downloads are always `Content-Disposition: attachment` with
//! the type read from the content, never shown inline by the browser.

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::extract::Upload;
use crate::http::tickets::written;
use crate::service::attachments::AttachmentView;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kefu_store::Store;
use serde::Serialize;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route(
            "/api/v1/tickets/{id}/attachments",
            // The body was read (within the upload limit) by `extract::buffer_body`.
            post(upload::<S>).get(list::<S>).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/api/v1/attachments/{id}", get(download::<S>))
}

/// The files of a ticket, oldest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AttachmentList {
    pub items: Vec<AttachmentView>,
}

/// Adds one file to a ticket: `multipart/form-data` with the file in part
/// `file` → 201 `{id, filename, content_type, size, sha256, …}`. The kind is
/// read from the content (images, PDF, voice recordings, as the policy
/// lists); too large 413, another kind 415, both naming `file`.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/attachments", tag = "attachments", security(("bearer" = [])),
    params(("id" = String, Path, description = "ticket id or number"),
        ("Idempotency-Key" = Option<String>, Header)),
    request_body(content_type = "multipart/form-data", content = Object, description = "part `file`: the file"),
    responses((status = 201, body = AttachmentView), (status = 400, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 413, body = crate::error::ErrorBody),
        (status = 415, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn upload<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<String>,
    Upload { key, file }: Upload,
) -> Result<Response, ApiError> {
    let w = app.kefu.attach(&user.actor, &id, file, key).await?;
    Ok(written(w, StatusCode::CREATED))
}

/// A ticket's files: `{items: [{id, filename, content_type, size, sha256, …}]}`.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/attachments", tag = "attachments", security(("bearer" = [])),
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = AttachmentList), (status = 404, body = crate::error::ErrorBody)))]
pub async fn list<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<AttachmentList>, ApiError> {
    Ok(Json(AttachmentList { items: app.kefu.ticket_attachments(&user.actor, &id).await? }))
}

/// The bytes of a file, streamed, with its content type and
/// `Content-Disposition: attachment`; recorded in the access log.
#[utoipa::path(get, path = "/api/v1/attachments/{id}", tag = "attachments", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "the file", content_type = "application/octet-stream"),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn download<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (file, stream) = app.kefu.open_attachment(&user.actor, &id).await?;
    Ok(file_response(&file, stream, true))
}

/// A stored file as a response: its own type, never sniffed or framed by
/// the browser; `attachment` (saved) unless an image is shown in the
/// console's timeline.
pub fn file_response(
    file: &AttachmentView,
    stream: impl futures_util::Stream<Item = std::io::Result<Vec<u8>>> + Send + 'static,
    save: bool,
) -> Response {
    let disposition = if save { "attachment" } else { "inline" };
    let headers = [
        (header::CONTENT_TYPE, file.content_type.clone()),
        (header::CONTENT_DISPOSITION, format!("{disposition}; {}", disposition_names(&file.filename))),
        (header::CONTENT_LENGTH, file.size.to_string()),
        (header::CONTENT_SECURITY_POLICY, "default-src 'none'; sandbox".to_string()),
    ];
    (headers, axum::body::Body::from_stream(stream)).into_response()
}

/// `filename="ascii"; filename*=UTF-8''percent-encoded` (RFC 6266): every
/// browser gets a usable name, those that can the Chinese one.
pub fn disposition_names(name: &str) -> String {
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_travel_in_both_forms() {
        assert_eq!(
            super::disposition_names("路由器 1.jpg"),
            "filename=\"___ 1.jpg\"; filename*=UTF-8''%E8%B7%AF%E7%94%B1%E5%99%A8%201.jpg"
        );
        assert_eq!(super::disposition_names("a\"b.pdf"), "filename=\"a_b.pdf\"; filename*=UTF-8''a%22b.pdf");
    }
}
