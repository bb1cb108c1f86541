//! Evidence files on tickets: checked by content against the policy,
//! stored sealed (`blobs.rs`) before the ticket change that names them, so a
//! file is on a ticket exactly when its `attach` event is in the chain; read
//! by whoever may see the ticket, each download in the access log.

use super::{Idem, Kefu};
use crate::error::ApiError;
use kefu_domain::attachment::{AttachmentPolicy, FileKind, Refusal, safe_name};
use kefu_domain::flow::Actor;
use kefu_domain::ticket::Ticket;
use kefu_domain::{DomainError, FieldError};
use kefu_store::{Attachment, MutateTicket, Mutation, Store, Written};
use serde::Serialize;
use serde_json::{Value, json};

/// A file as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AttachmentView {
    pub id: String,
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
    pub ticket_number: String,
    /// `upload`, `email`, `sms`, `wechat`, `portal`.
    pub source: String,
    pub added_by: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Shown as a picture in the console.
    pub image: bool,
    /// What kind of file it is, in words (图片, 录音, PDF 文档).
    pub kind_zh: String,
    pub kind_en: String,
    /// Where the bytes are read (`GET`, with `Content-Disposition: attachment`).
    pub url: String,
}

/// A file received, before it is checked.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub filename: String,
    pub bytes: Vec<u8>,
}

impl Incoming {
    /// What an upload's Idempotency-Key is checked against: name and bytes.
    pub fn fingerprint(&self) -> String {
        let mut h = <sha2::Sha256 as sha2::Digest>::new();
        sha2::Digest::update(&mut h, self.filename.as_bytes());
        sha2::Digest::update(&mut h, [0u8]);
        sha2::Digest::update(&mut h, &self.bytes);
        crate::auth::hex(&sha2::Digest::finalize(h))
    }
}

fn kind_of(content_type: &str) -> Option<FileKind> {
    kefu_domain::attachment::KINDS.into_iter().find(|k| k.content_type == content_type)
}

pub fn view(a: &Attachment, number: &str) -> AttachmentView {
    let kind = kind_of(&a.content_type);
    AttachmentView {
        id: a.id.clone(),
        filename: a.filename.clone(),
        content_type: a.content_type.clone(),
        size: a.size,
        sha256: a.sha256.clone(),
        ticket_number: number.to_string(),
        source: a.source.clone(),
        added_by: a.added_by.clone(),
        created_at: a.created_at,
        image: kind.is_some_and(|k| k.image),
        kind_zh: kind.map_or("文件", |k| k.label_zh).to_string(),
        kind_en: kind.map_or("file", |k| k.label_en).to_string(),
        url: format!("/api/v1/attachments/{}", a.id),
    }
}

pub(crate) fn refusal(r: Refusal) -> ApiError {
    match r {
        Refusal::TooLarge(f) => ApiError::FileTooLarge(f),
        Refusal::Type(f) => ApiError::UnsupportedFile(f),
        Refusal::Invalid(f) => ApiError::Invalid(f),
    }
}

fn new_id() -> String {
    let mut b = [0u8; 12];
    getrandom::fill(&mut b).expect("the operating system's random source");
    format!("att_{}", crate::auth::hex(&b))
}

const NOT_FOUND: ApiError = ApiError::NotFound { what: "attachment", what_zh: "附件" };

impl<S: Store> Kefu<S> {
    fn blobs(&self) -> Result<&crate::blobs::Blobs, ApiError> {
        self.core
            .settings
            .files
            .as_ref()
            .ok_or_else(|| ApiError::Internal("no directory for attachments is configured (Settings::files)".into()))
    }

    /// Checks each file and stores its bytes; the rows to write with the
    /// ticket change. Nothing is on a ticket until that change commits (a
    /// file stored for a refused change is swept later).
    pub(crate) async fn store_files(
        &self,
        files: Vec<Incoming>,
        field: &str,
        source: &str,
        added_by: &str,
        ticket: &Ticket,
    ) -> Result<Vec<Attachment>, ApiError> {
        let policy = &self.core.policy.attachments;
        let mut checked = Vec::with_capacity(files.len());
        for f in files {
            let kind = policy.accept(field, &f.bytes).map_err(refusal)?;
            checked.push((f, kind));
        }
        let mut rows = Vec::with_capacity(checked.len());
        for (f, kind) in checked {
            rows.push(self.store_file(f, kind, source, added_by, ticket).await?);
        }
        Ok(rows)
    }

    /// Like `store_files`, for what a customer sent: files that are refused
    /// (by kind or size, or no longer fitting on the ticket) are left out and
    /// named, so the message itself is still taken.
    pub(crate) async fn store_files_leniently(
        &self,
        files: Vec<Incoming>,
        source: &str,
        added_by: &str,
        ticket: &Ticket,
    ) -> Result<(Vec<Attachment>, Vec<String>), ApiError> {
        let policy = &self.core.policy.attachments;
        let (mut rows, mut refused) = (Vec::new(), Vec::new());
        let mut totals = ticket.files;
        for f in files {
            let size = f.bytes.len() as u64;
            let checked = policy
                .accept("file", &f.bytes)
                .and_then(|k| policy.fits("file", totals.count, totals.bytes, size).map(|()| k));
            match checked {
                Ok(kind) => {
                    totals.count += 1;
                    totals.bytes += size;
                    rows.push(self.store_file(f, kind, source, added_by, ticket).await?);
                }
                Err(Refusal::TooLarge(e) | Refusal::Type(e) | Refusal::Invalid(e)) => {
                    refused.push(format!("{}（{}）", f.filename, e.message_zh));
                }
            }
        }
        Ok((rows, refused))
    }

    async fn store_file(
        &self,
        f: Incoming,
        kind: FileKind,
        source: &str,
        added_by: &str,
        ticket: &Ticket,
    ) -> Result<Attachment, ApiError> {
        let filename = safe_name(&f.filename, kind, self.core.policy.attachments.max_name_chars);
        let size = f.bytes.len() as u64;
        let stored =
            self.blobs()?.put(f.bytes).await.map_err(|e| ApiError::Internal(format!("storing a file: {e}")))?;
        Ok(Attachment {
            id: new_id(),
            ticket: ticket.id,
            filename,
            content_type: kind.content_type.into(),
            size,
            sha256: stored.sha256,
            blob: stored.blob,
            source: source.into(),
            added_by: added_by.into(),
            created_at: self.now(),
        })
    }

    /// Adds files to a ticket's change: the per-ticket limits are checked on
    /// the locked ticket (two uploads at once cannot both squeeze in), the
    /// totals kept on it, the files named in its audit event.
    pub(crate) fn with_files(
        policy: &AttachmentPolicy,
        mut m: Mutation,
        files: Vec<Attachment>,
    ) -> Result<Mutation, DomainError> {
        for a in &files {
            let totals = m.ticket.files;
            policy.fits("file", totals.count, totals.bytes, a.size).map_err(|r| match r {
                Refusal::TooLarge(f) | Refusal::Type(f) | Refusal::Invalid(f) => DomainError::TooLarge(f),
            })?;
            m.ticket.files.count += 1;
            m.ticket.files.bytes += a.size;
        }
        let named: Vec<Value> = files
            .iter()
            .map(|a| json!({"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size}))
            .collect();
        if !named.is_empty() {
            m.data["attachments"] = Value::Array(named);
        }
        m.attachments.extend(files);
        Ok(m)
    }

    /// `POST /api/v1/tickets/{id}/attachments`: one file, by whoever may see
    /// the ticket (like an internal note); refused on a finished ticket.
    pub async fn attach(
        &self,
        actor: &Actor,
        key: &str,
        file: Incoming,
        idempotency: Option<Idem>,
    ) -> Result<Written, ApiError> {
        let t = self.ticket_for(actor, key, false).await?;
        // Refused before the bytes are stored: a finished ticket takes nothing.
        if self.core.flows.get(t.ticket_type).is_final(&t.status) {
            return Err(ApiError::Archived);
        }
        let rows = self.store_files(vec![file], "file", "upload", &actor.username, &t).await?;
        let body = serde_json::to_value(view(&rows[0], &t.number)).unwrap_or(Value::Null);
        let (now, core) = (self.now(), self.core.clone());
        let decide = Box::new(move |t: &Ticket| {
            if core.flows.get(t.ticket_type).is_final(&t.status) {
                return Err(DomainError::Archived);
            }
            let ticket = Ticket { updated_at: now, ..t.clone() };
            Self::with_files(&core.policy.attachments, Mutation::new(ticket, "attach", json!({})), rows)
        });
        let written = self
            .store
            .mutate_ticket(MutateTicket {
                ticket: t.id,
                actor: actor.clone(),
                now,
                idempotency: Self::idem(actor, idempotency),
                decide,
                render: Box::new(move |_| body),
                status: 201,
            })
            .await?;
        self.core.search.note_ticket_write();
        Ok(written)
    }

    /// A ticket's files, for whoever may see it.
    pub async fn ticket_attachments(&self, actor: &Actor, key: &str) -> Result<Vec<AttachmentView>, ApiError> {
        let t = self.ticket_for(actor, key, false).await?;
        Ok(self.store.attachments(t.id).await?.iter().map(|a| view(a, &t.number)).collect())
    }

    /// One file for download: the ticket's rules decide (a file of a ticket
    /// the caller may not see is "not found"), and the access log records it.
    pub async fn open_attachment(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<
        (AttachmentView, impl futures_util::Stream<Item = std::io::Result<Vec<u8>>> + Send + 'static + use<S>),
        ApiError,
    > {
        let a = self.store.attachment(id).await?.ok_or(NOT_FOUND)?;
        let t = match self.ticket_for(actor, &a.ticket.0.to_string(), false).await {
            Err(ApiError::NotFound { .. }) => return Err(NOT_FOUND),
            other => other?,
        };
        let stream = self.blobs()?.open(&a.blob).await.map_err(|e| {
            tracing::error!(attachment = %a.id, error = %e, "a stored file cannot be opened");
            ApiError::Internal("the stored file cannot be read".into())
        })?;
        let reason = format!("download {}", a.id);
        self.log_access((Some(actor.id), &actor.username), "download", format!("ticket:{}", t.number), None, reason)
            .await?;
        Ok((view(&a, &t.number), stream))
    }

    /// Removes stored files no ticket names any more, older than
    /// `[attachments] orphan_minutes` (younger ones may be an upload whose
    /// ticket write is under way). Returns how many went.
    pub async fn sweep_orphan_files(&self) -> Result<u64, ApiError> {
        let Some(blobs) = &self.core.settings.files else { return Ok(0) };
        let age = std::time::Duration::from_secs(u64::from(self.core.policy.attachments.orphan_minutes) * 60);
        let old = blobs.older_than(age).await.map_err(|e| ApiError::Internal(e.to_string()))?;
        let mut removed = 0;
        for (name, path) in old {
            let temporary = name.starts_with('.');
            if (temporary || !self.store.blob_in_use(&name).await?) && tokio::fs::remove_file(&path).await.is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// The error for a multipart body without a usable `file` part.
pub fn missing_file() -> ApiError {
    ApiError::Invalid(FieldError::new(
        "file",
        "send the file as multipart/form-data in a part named 'file'",
        "请以 multipart/form-data 格式上传，文件字段名为 file",
    ))
}
