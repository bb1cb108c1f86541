//! Report exports: one row per ticket (the list's filters, need to
//! know and masking of the person who asked) or one row per group of a
//! KPI report (the screen's grouping), as CSV or XLSX, never capped. A
//! background job on whichever node claims the export writes it in parts
//! with its progress; the download streams the parts. Asking for an
//! export and downloading it are both written to the access log: exports
//! hold personal data.

use super::*;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use kefu_domain::FieldError;
use kefu_domain::flow::Actor;
use kefu_store::*;
use serde_json::{Map, Value, json};

/// Tickets read per page of a ticket export.
const PAGE: u32 = 500;
/// Bytes per stored part of a file.
const PART: usize = 1 << 20;
/// An XLSX sheet's row limit; more rows go on to the next sheet.
const SHEET_ROWS: u32 = 1_048_575;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    pub(crate) fn parse(s: &str) -> Result<Format, ApiError> {
        match s {
            "csv" => Ok(Format::Csv),
            "xlsx" => Ok(Format::Xlsx),
            _ => Err(FieldError::new("format", "format is csv or xlsx", "格式（format）须为 csv 或 xlsx").into()),
        }
    }

    pub fn content_type(format: &str) -> &'static str {
        match format {
            "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            _ => "text/csv; charset=utf-8",
        }
    }
}

/// The query pairs of an export's request (everything but kind and format).
fn pairs(request: &Map<String, Value>) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    for (k, v) in request {
        if k == "kind" || k == "format" {
            continue;
        }
        let v = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => continue,
            _ => {
                return Err(FieldError::new(
                    k.clone(),
                    format!("{k} must be a string, number or boolean"),
                    format!("{k} 须为字符串、数字或布尔值"),
                )
                .into());
            }
        };
        out.push((k.clone(), v));
    }
    Ok(out)
}

fn kpi_query(p: &[(String, String)]) -> crate::http::reports::KpiQuery {
    let get = |k: &str| p.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone());
    crate::http::reports::KpiQuery {
        metric: get("metric"),
        group_by: get("group_by"),
        from: get("from"),
        to: get("to"),
        team: get("team"),
        agent: get("agent"),
        channel: get("channel"),
        ticket_type: get("type"),
        priority: get("priority"),
    }
}

/// An export as the API shows it.
pub fn export_json(e: &ExportRecord) -> Value {
    let progress = match (e.state.as_str(), e.total_rows) {
        ("done", _) => 1.0,
        (_, Some(t)) if t > 0 => (e.done_rows as f64 / t as f64).min(1.0),
        _ => 0.0,
    };
    let mut v = json!({
        "id": e.id, "kind": e.kind, "format": e.format, "state": e.state, "progress": progress,
        "done_rows": e.done_rows, "total_rows": e.total_rows, "bytes": e.bytes,
        "created_at": e.created_at, "finished_at": e.finished_at,
    });
    if e.state == "done" {
        v["download_url"] = json!(format!("/api/v1/reports/exports/{}/download", e.id));
    }
    if let Some(err) = &e.error {
        v["error"] = json!(err);
    }
    v
}

/// Writes rows as CSV (UTF-8 with a byte-order mark, so spreadsheet
/// programs read the Chinese right) or into an XLSX workbook.
pub(crate) enum Sink {
    Csv(Vec<u8>),
    Xlsx {
        book: Box<rust_xlsxwriter::Workbook>,
        row: u32,
        sheets: usize,
        header: Vec<String>,
        /// Columns written as numbers (the others as text: a phone number is not a number).
        numeric: Vec<usize>,
    },
}

fn csv_field(s: &str) -> String {
    // A leading = + - @ would be read as a formula by spreadsheet programs.
    let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_string() };
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
}

fn xlsx_error(e: rust_xlsxwriter::XlsxError) -> ApiError {
    ApiError::Internal(format!("xlsx: {e}"))
}

impl Sink {
    pub(crate) fn new(format: Format, header: Vec<String>, numeric: Vec<usize>) -> Result<Sink, ApiError> {
        let mut sink = match format {
            Format::Csv => Sink::Csv("\u{feff}".as_bytes().to_vec()),
            Format::Xlsx => Sink::Xlsx {
                book: Box::new(rust_xlsxwriter::Workbook::new()),
                row: 0,
                sheets: 0,
                header: header.clone(),
                numeric,
            },
        };
        if let Sink::Xlsx { .. } = sink {
            sink.sheet()?;
        }
        if let Sink::Csv(_) = sink {
            sink.row(&header)?;
        }
        Ok(sink)
    }

    /// A new sheet (constant memory: rows go to a temporary file) with the header.
    fn sheet(&mut self) -> Result<(), ApiError> {
        if let Sink::Xlsx { book, row, header, sheets, .. } = self {
            let ws = book.add_worksheet_with_constant_memory().map_err(xlsx_error)?;
            *sheets += 1;
            for (c, h) in header.iter().enumerate() {
                ws.write_string(0, c as u16, h).map_err(xlsx_error)?;
            }
            *row = 1;
        }
        Ok(())
    }

    pub(crate) fn row(&mut self, cells: &[String]) -> Result<(), ApiError> {
        match self {
            Sink::Csv(buf) => {
                let line: Vec<String> = cells.iter().map(|c| csv_field(c)).collect();
                buf.extend_from_slice(line.join(",").as_bytes());
                buf.extend_from_slice(b"\r\n");
            }
            Sink::Xlsx { row, .. } => {
                if *row > SHEET_ROWS {
                    self.sheet()?;
                }
                let Sink::Xlsx { book, row, sheets, numeric, .. } = self else { return Ok(()) };
                let ws = book.worksheet_from_index(*sheets - 1).map_err(xlsx_error)?;
                for (c, v) in cells.iter().enumerate() {
                    match v.parse::<f64>() {
                        Ok(x) if numeric.contains(&c) && x.is_finite() => {
                            ws.write_number(*row, c as u16, x).map_err(xlsx_error)?
                        }
                        _ => ws.write_string(*row, c as u16, v).map_err(xlsx_error)?,
                    };
                }
                *row += 1;
            }
        }
        Ok(())
    }

    /// CSV bytes ready to store (the buffer is emptied); XLSX keeps its rows until `finish`.
    fn take(&mut self) -> Vec<u8> {
        match self {
            Sink::Csv(buf) => std::mem::take(buf),
            Sink::Xlsx { .. } => Vec::new(),
        }
    }

    pub(crate) fn finish(self) -> Result<Vec<u8>, ApiError> {
        match self {
            Sink::Csv(buf) => Ok(buf),
            Sink::Xlsx { mut book, .. } => book.save_to_buffer().map_err(xlsx_error),
        }
    }
}

impl<S: Store> Kefu<S> {
    /// Checks and records an export request; the job makes it.
    pub async fn request_export(
        &self,
        user: &CurrentUser,
        body: &Map<String, Value>,
    ) -> Result<ExportRecord, ApiError> {
        let kind = body.get("kind").and_then(Value::as_str).unwrap_or("");
        let format = body.get("format").and_then(Value::as_str).unwrap_or("");
        Format::parse(format)?;
        let p = pairs(body)?;
        match kind {
            "tickets" => {
                crate::http::tickets::parse_filter(self, user, &p).await?;
            }
            "kpi" => {
                // The report itself once: every word of the query checked
                // (it reads rollups, a few milliseconds).
                let mut req = kpi_query(&p).request(self).await?;
                req.filter = self.kpi_scope(&user.actor, req.filter).await?;
                self.kpi_report(req).await?;
            }
            _ => {
                return Err(
                    FieldError::new("kind", "kind is tickets or kpi", "导出类型（kind）须为 tickets 或 kpi").into()
                );
            }
        }
        let request = Value::Object(body.clone()).to_string();
        let now = self.now();
        let e = NewExport { owner: user.actor.id, kind: kind.into(), format: format.into(), request, now };
        let e = self.store.create_export(e).await?;
        let who = (Some(user.actor.id), user.actor.username.as_str());
        self.log_access(who, "export", format!("report_export:{}", e.id), None, format!("{kind} {format}")).await?;
        Ok(e)
    }

    /// An export its owner asks about (others: not found).
    pub async fn own_export(&self, user: &CurrentUser, id: i64) -> Result<ExportRecord, ApiError> {
        match self.store.export_record(id).await? {
            Some(e) if e.owner == user.actor.id => Ok(e),
            _ => Err(ApiError::NotFound { what: "export", what_zh: "导出" }),
        }
    }

    /// Claims and makes one export, if any waits. Returns whether one was made.
    pub async fn make_export(&self, node: &str) -> Result<bool, ApiError> {
        let lease = chrono::Duration::minutes(2);
        let Some(e) = self.store.claim_export(node.to_string(), self.now(), lease).await? else { return Ok(false) };
        let outcome = self.build_export(&e, node, lease).await;
        let error = outcome.err().map(|err| err.to_string());
        if let Some(err) = &error {
            tracing::warn!(export = e.id, error = %err, "export failed");
        }
        self.store.finish_export(e.id, node.to_string(), error, self.now()).await?;
        Ok(true)
    }

    async fn build_export(&self, e: &ExportRecord, node: &str, lease: chrono::Duration) -> Result<(), ApiError> {
        let user = self
            .store
            .user_by_id(e.owner)
            .await?
            .filter(|u| u.active)
            .ok_or_else(|| ApiError::Internal("the export's owner is no longer active".into()))?;
        let org = self.org().await?.membership(&user);
        let actor = Actor { id: user.id, username: user.username.clone(), role: user.role, org };
        let owner = CurrentUser { actor, token_hash: String::new() };
        let body: Map<String, Value> =
            serde_json::from_str(&e.request).map_err(|err| ApiError::Internal(format!("export request: {err}")))?;
        let p = pairs(&body)?;
        let format = Format::parse(&e.format)?;
        let step = |done: i64, total: Option<i64>, part: Vec<u8>| ExportStep {
            id: e.id,
            node: node.to_string(),
            done_rows: done,
            total_rows: total,
            part,
            now: self.now(),
            lease,
        };
        let (sink, done, total) = match e.kind.as_str() {
            "kpi" => self.kpi_rows(&owner, &p, format).await?,
            _ => {
                let mut f = crate::http::tickets::parse_filter(self, &owner, &p).await?;
                f.per_page = PAGE;
                f.page = 1;
                let mut sink = Sink::new(format, ticket_header(), vec![12])?;
                let (mut done, mut total) = (0i64, None);
                loop {
                    let page = self.store.list_tickets(f.clone()).await?;
                    total = total.or(Some(page.total));
                    for t in &page.items {
                        sink.row(&self.ticket_row(t, &owner.actor))?;
                    }
                    done += page.items.len() as i64;
                    if !self.store.export_step(step(done, total, sink.take())).await? {
                        return Err(ApiError::Internal("the export's claim was lost".into()));
                    }
                    match page.items.last() {
                        Some(last) if page.items.len() as u32 == PAGE => f.after = Some(Cursor::of(last)),
                        _ => break,
                    }
                }
                (sink, done, total)
            }
        };
        let bytes = sink.finish()?;
        for chunk in bytes.chunks(PART) {
            if !self.store.export_step(step(done, total, chunk.to_vec())).await? {
                return Err(ApiError::Internal("the export's claim was lost".into()));
            }
        }
        Ok(())
    }

    async fn kpi_rows(
        &self,
        owner: &CurrentUser,
        p: &[(String, String)],
        format: Format,
    ) -> Result<(Sink, i64, Option<i64>), ApiError> {
        let mut req = kpi_query(p).request(self).await?;
        req.filter = self.kpi_scope(&owner.actor, req.filter).await?;
        let r = self.kpi_report(req).await?;
        let mut header: Vec<String> =
            ["分组", "Group", &r.name_zh, "计数 n", "自然时间（小时）", "工作日时间（小时）", "达标"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        if let Some(labels) = &r.bucket_labels {
            header.extend(labels.iter().cloned());
        }
        let numeric: Vec<usize> = [2, 3, 4, 5].into_iter().chain(7..header.len()).collect();
        let mut sink = Sink::new(format, header, numeric)?;
        let num = |v: Option<f64>| v.map_or_else(String::new, |v| format!("{v}"));
        for i in &r.items {
            let met = match i.met {
                Some(true) => "达标",
                Some(false) => "未达标",
                None => "",
            };
            let mut row = vec![
                i.label.clone(),
                i.label_en.clone(),
                num(i.value),
                i.n.to_string(),
                num(i.natural),
                num(i.working),
            ];
            row.push(met.to_string());
            if let Some(b) = &i.buckets {
                row.extend(b.iter().map(|n| n.to_string()));
            }
            sink.row(&row)?;
        }
        let n = r.items.len() as i64;
        Ok((sink, n, Some(n)))
    }

    /// A ticket as a row, masked for whoever asked.
    fn ticket_row(&self, t: &kefu_domain::ticket::Ticket, viewer: &Actor) -> Vec<String> {
        let v = self.view(t, viewer);
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let when = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .and_then(|x| chrono::DateTime::parse_from_rfc3339(x).ok())
                .map(|x| kefu_domain::time::shanghai_minute(x.with_timezone(&chrono::Utc)))
                .unwrap_or_default()
        };
        let person = |k: &str| v.get(k).and_then(|p| p.get("name")).and_then(Value::as_str).unwrap_or("").to_string();
        let customer = |k: &str| v["customer"].get(k).and_then(Value::as_str).unwrap_or("").to_string();
        vec![
            s("number"),
            when("created_at"),
            s("channel_zh"),
            s("type_zh"),
            s("priority_zh"),
            s("status_zh"),
            s("title"),
            customer("name"),
            customer("phone"),
            person("first_owner"),
            person("assignee"),
            when("resolved_at"),
            v.get("satisfaction").and_then(Value::as_u64).map_or_else(String::new, |n| n.to_string()),
        ]
    }

    /// The download as a stream of the stored parts, recorded in the access log.
    pub async fn export_download(&self, user: &CurrentUser, id: i64) -> Result<ExportRecord, ApiError> {
        let e = self.own_export(user, id).await?;
        if e.state != "done" {
            return Err(ApiError::Conflict { constraint: format!("export {id} is {}", e.state) });
        }
        let who = (Some(user.actor.id), user.actor.username.as_str());
        self.log_access(who, "export", format!("report_export:{id}"), None, "download".into()).await?;
        Ok(e)
    }
}

fn ticket_header() -> Vec<String> {
    [
        "工单编号",
        "登记时间",
        "渠道",
        "类型",
        "优先级",
        "状态",
        "标题",
        "客户姓名",
        "联系电话",
        "首问责任人",
        "处理人",
        "办结时间",
        "满意度",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_never_read_as_formulas() {
        assert_eq!(csv_field("宽带,掉线"), "\"宽带,掉线\"");
        assert_eq!(csv_field("说\"好\""), "\"说\"\"好\"\"\"");
        assert_eq!(csv_field("=1+2"), "'=1+2");
        assert_eq!(csv_field("plain"), "plain");
    }
}
