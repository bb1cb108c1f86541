//! Evidence files on the ticket page: the list with thumbnails of images,
//! the upload form, and the console's download (the same rules and access
//! log as the API's; only images are ever shown inline, as thumbnails).

use super::Lang;
use super::layout::{error_text, forbidden, gate, message};
use crate::AppState;
use crate::service::attachments::{AttachmentView, Incoming};
use axum::Router;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kefu_store::Store;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route(
            "/console/tickets/{key}/attachments",
            post(upload::<S>).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/console/attachments/{id}", get(download::<S>))
}

/// A file as the ticket page lists it.
pub(super) struct FileRow {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) kind: String,
    pub(super) size: String,
    pub(super) who: String,
    pub(super) at: String,
    pub(super) image: bool,
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1024 * 1024 => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
        b if b >= 1024 => format!("{} KB", b.div_ceil(1024)),
        b => format!("{b} B"),
    }
}

/// The ticket's files for its page (none if they cannot be read).
pub(super) async fn rows<S: Store>(
    app: &AppState<S>,
    lang: Lang,
    actor: &kefu_domain::flow::Actor,
    key: &str,
) -> Vec<FileRow> {
    let files: Vec<AttachmentView> = app.kefu.ticket_attachments(actor, key).await.unwrap_or_default();
    files
        .into_iter()
        .map(|f| FileRow {
            kind: lang.t(&f.kind_zh, &f.kind_en).to_string(),
            size: size(f.size),
            who: f.added_by,
            at: kefu_domain::time::shanghai_short(f.created_at),
            image: f.image,
            name: f.filename,
            id: f.id,
        })
        .collect()
}

/// Adds the file of the page's form (`form_token`, `file`), then back to the ticket.
async fn upload<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path(key): Path<String>,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/tickets/{id}/attachments").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    if !super::same_origin(&headers) {
        return forbidden(lang, &user);
    }
    let refused = |e| {
        let (status, _, msg) = error_text(lang, e);
        message(status, lang, Some(&user), lang.t("附件未添加", "File not added"), &msg)
    };
    let (token, file) = match read_form(form).await {
        Ok(parts) => parts,
        Err(e) => return refused(e),
    };
    let once = token.map(|token| crate::service::Idem {
        key: token,
        scope: format!("console POST /console/tickets/{key}/attachments"),
        fingerprint: file.fingerprint(),
    });
    match app.kefu.attach(&user.actor, &key, file, once).await {
        Ok(_) => Redirect::to(&format!("/console/tickets/{key}?done=attach#files")).into_response(),
        Err(e) => refused(e),
    }
}

async fn read_form(
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(Option<String>, Incoming), crate::error::ApiError> {
    let broken = || crate::error::ApiError::Malformed("the form could not be read".into());
    let mut form = form.map_err(|_| broken())?;
    let (mut token, mut file) = (None, None);
    while let Some(part) = form.next_field().await.map_err(|_| broken())? {
        match part.name().unwrap_or_default() {
            "form_token" => token = Some(part.text().await.map_err(|_| broken())?),
            "file" => {
                let filename = part.file_name().unwrap_or_default().to_string();
                let bytes = part.bytes().await.map_err(|_| broken())?.to_vec();
                file = Some(Incoming { filename, bytes });
            }
            _ => {}
        }
    }
    let token = token.filter(|k| (1..=200).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()));
    Ok((token, file.ok_or_else(crate::service::attachments::missing_file)?))
}

/// A file from the console: saved as an attachment, or (`?view=1`, images
/// only) shown as the timeline's thumbnail.
async fn download<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<super::layout::Fields>,
) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/attachments/{id}").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    match app.kefu.open_attachment(&user.actor, &id).await {
        Ok((file, stream)) => {
            let inline = q.contains_key("view") && file.image;
            crate::http::attachments::file_response(&file, stream, !inline)
        }
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            message(status, lang, Some(&user), if status == StatusCode::NOT_FOUND { "404" } else { "—" }, &msg)
        }
    }
}
