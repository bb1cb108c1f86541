//! Reports and KPIs over HTTP: the metric dictionary first,
//! so that every figure served later names its definition.

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::service::kpi::{KpiReport, KpiRequest};
use crate::service::reports::MetricList;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{Datelike, NaiveDate};
use kefu_domain::kpi::GroupBy;
use kefu_domain::{Channel, FieldError, Priority, TicketType};
use kefu_store::{DimFilter, Store};
use serde::Deserialize;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/api/v1/reports/metrics", get(metrics::<S>))
        .route("/api/v1/reports/kpi", get(kpi::<S>))
        .route("/api/v1/reports/exports", axum::routing::post(create_export::<S>).get(list_exports::<S>))
        .route("/api/v1/reports/exports/{id}", get(export::<S>))
        .route("/api/v1/reports/exports/{id}/download", get(download::<S>))
        .route("/api/v1/reports/schedules", axum::routing::post(create_schedule::<S>).get(schedules::<S>))
        .route("/api/v1/reports/schedules/{id}", axum::routing::delete(delete_schedule::<S>))
        .route("/api/v1/reports/hot", get(hot::<S>))
}

/// What each KPI counts: names, unit, definition, target, formula.
#[utoipa::path(get, path = "/api/v1/reports/metrics", tag = "reports", security(("bearer" = [])),
    responses((status = 200, body = MetricList)))]
pub async fn metrics<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
) -> Result<Json<MetricList>, ApiError> {
    Ok(Json(app.kefu.metric_dictionary()))
}

/// A KPI report's query: the metric, the grouping, the period (Shanghai
/// days, inclusive) and filters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct KpiQuery {
    /// A key of `GET /api/v1/reports/metrics` (`on_time_rate.<kind>` for one deadline kind).
    pub metric: Option<String>,
    /// `all` (default), `agent`, `team`, `channel`, `type`, `priority`, `day`, `week`, `month` or `quarter`.
    pub group_by: Option<String>,
    /// First day, `YYYY-MM-DD`; default the first of this month.
    pub from: Option<String>,
    /// Last day, inclusive; default today.
    pub to: Option<String>,
    /// Team code or id.
    pub team: Option<String>,
    /// Username or id.
    pub agent: Option<String>,
    pub channel: Option<String>,
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub ticket_type: Option<String>,
    pub priority: Option<String>,
}

fn date(field: &str, v: Option<&str>, default: NaiveDate) -> Result<NaiveDate, ApiError> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(default),
        // Reports cover kefu's years: far dates are a mistake, not a question.
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .filter(|d| (2000..=2100).contains(&d.year()))
            .ok_or_else(|| {
                FieldError::new(
                    field,
                    format!("{field} must be a date YYYY-MM-DD between 2000 and 2100"),
                    format!("{field} 须为 2000 至 2100 年间的日期 YYYY-MM-DD"),
                )
                .into()
            }),
    }
}

impl KpiQuery {
    /// The request this query asks for, its names resolved.
    pub async fn request<S: Store>(&self, kefu: &crate::service::Kefu<S>) -> Result<KpiRequest, ApiError> {
        let metric =
            self.metric.clone().filter(|m| !m.trim().is_empty()).ok_or_else(|| {
                ApiError::from(FieldError::new("metric", "metric is required", "请指定指标（metric）"))
            })?;
        let group_by = GroupBy::parse(self.group_by.as_deref().unwrap_or("all").trim()).ok_or_else(|| {
            let names = GroupBy::NAMES.join(", ");
            ApiError::from(FieldError::new(
                "group_by",
                format!("group_by is one of: {names}"),
                format!("分组方式（group_by）可选：{}", GroupBy::NAMES.join("、")),
            ))
        })?;
        let today = kefu_domain::time::shanghai_date(kefu.now());
        let from = date("from", self.from.as_deref(), today.with_day(1).unwrap_or(today))?;
        let to = date("to", self.to.as_deref(), today)?;
        let org = kefu.org().await?;
        let mut filter = DimFilter::default();
        if let Some(t) = self.team.as_deref().filter(|s| !s.is_empty()) {
            let team = org.team_by_key(t).ok_or_else(|| {
                ApiError::from(FieldError::new("team", format!("no team '{t}'"), format!("没有班组“{t}”")))
            })?;
            filter.team = Some(team.id);
        }
        if let Some(a) = self.agent.as_deref().filter(|s| !s.is_empty()) {
            let u = org.users.iter().find(|u| u.username == a || a.parse() == Ok(u.id.0)).ok_or_else(|| {
                ApiError::from(FieldError::new("agent", format!("no user '{a}'"), format!("没有用户“{a}”")))
            })?;
            filter.agent = Some(u.id);
        }
        let word = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        filter.channel = word(&self.channel).map(|c| Channel::parse(&c, "channel")).transpose()?;
        filter.ticket_type = word(&self.ticket_type).map(|c| TicketType::parse(&c, "type")).transpose()?;
        filter.priority = word(&self.priority).map(|c| Priority::parse(&c, "priority")).transpose()?;
        Ok(KpiRequest { metric, group_by, from, to, filter })
    }
}

/// One metric for a period, grouped, with the tickets counted beside each
/// figure; narrowed to what the caller may see (their own figures, their
/// teams' for a lead, everything for supervisors).
#[utoipa::path(get, path = "/api/v1/reports/kpi", tag = "reports", security(("bearer" = [])),
    params(KpiQuery), responses((status = 200, body = KpiReport),
        (status = 403, body = crate::error::ErrorBody, description = "another person's or team's figures"),
        (status = 422, body = crate::error::ErrorBody, description = "bad metric, grouping, date or filter")))]
pub async fn kpi<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Query(q): Query<KpiQuery>,
) -> Result<Json<KpiReport>, ApiError> {
    let mut req = q.request(&app.kefu).await?;
    req.filter = app.kefu.kpi_scope(&user.actor, req.filter).await?;
    Ok(Json(app.kefu.kpi_report(req).await?))
}

/// What to export: `kind` (`tickets`: one row per ticket, with the ticket
/// list's filters; `kpi`: one row per group, with the KPI report's
/// query), `format` (`csv` or `xlsx`), and the filters as strings.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ExportBody {
    pub kind: String,
    pub format: String,
}

/// Asks for an export; a background job makes it. 202 with its id.
#[utoipa::path(post, path = "/api/v1/reports/exports", tag = "reports", security(("bearer" = [])),
    request_body = ExportBody, responses((status = 202, description = "{id, state, status_url}"), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_export<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    crate::extract::ApiJson(body): crate::extract::ApiJson<serde_json::Map<String, serde_json::Value>>,
) -> Result<(axum::http::StatusCode, Json<serde_json::Value>), ApiError> {
    let e = app.kefu.request_export(&user, &body).await?;
    let mut v = crate::service::report_exports::export_json(&e);
    v["status_url"] = serde_json::json!(format!("/api/v1/reports/exports/{}", e.id));
    Ok((axum::http::StatusCode::ACCEPTED, Json(v)))
}

/// The caller's exports, newest first.
#[utoipa::path(get, path = "/api/v1/reports/exports", tag = "reports", security(("bearer" = [])),
    responses((status = 200, description = "{items}")))]
pub async fn list_exports<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
) -> Result<Json<serde_json::Value>, ApiError> {
    let items: Vec<serde_json::Value> = app
        .kefu
        .store
        .list_exports(Some(user.actor.id), 50)
        .await?
        .iter()
        .map(crate::service::report_exports::export_json)
        .collect();
    Ok(Json(serde_json::json!({ "items": items })))
}

fn export_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound { what: "export", what_zh: "导出" })
}

/// An export's state and progress; `download_url` once done.
#[utoipa::path(get, path = "/api/v1/reports/exports/{id}", tag = "reports", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, description = "{state, progress, download_url?}"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn export<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let e = app.kefu.own_export(&user, export_id(&id)?).await?;
    Ok(Json(crate::service::report_exports::export_json(&e)))
}

/// The file, streamed from its stored parts.
#[utoipa::path(get, path = "/api/v1/reports/exports/{id}/download", tag = "reports", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, description = "the CSV or XLSX file"), (status = 409, body = crate::error::ErrorBody)))]
pub async fn download<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<axum::response::Response, ApiError> {
    let e = app.kefu.export_download(&user, export_id(&id)?).await?;
    Ok(export_response(app.kefu.store.clone(), &e))
}

/// A finished export as a download, streamed from its stored parts.
pub fn export_response<S: Store>(store: S, e: &kefu_store::ExportRecord) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (id, parts) = (e.id, e.parts);
    let stream = futures_util::stream::unfold(0, move |seq| {
        let store = store.clone();
        async move {
            if seq >= parts {
                return None;
            }
            let part = store
                .export_part(id, seq)
                .await
                .map_err(|err| std::io::Error::other(err.to_string()))
                .and_then(|p| p.ok_or_else(|| std::io::Error::other("a part of the export is missing")));
            Some((part, seq + 1))
        }
    });
    let name = format!("kefu-{}-{}.{}", e.kind, e.id, e.format);
    let headers = [
        (axum::http::header::CONTENT_TYPE, crate::service::report_exports::Format::content_type(&e.format).to_string()),
        (axum::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        (axum::http::header::CONTENT_LENGTH, e.bytes.to_string()),
    ];
    (headers, axum::body::Body::from_stream(stream)).into_response()
}

/// A scheduled report: `{name, frequency: daily|weekly|monthly, team?, agent?, recipients: [username]}`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ScheduleBody {
    pub name: String,
    pub frequency: String,
    pub recipients: Vec<String>,
}

/// Schedules a report of every KPI, e-mailed to staff at the policy's hour
/// for the day, week or month before.
#[utoipa::path(post, path = "/api/v1/reports/schedules", tag = "reports", security(("bearer" = [])),
    request_body = ScheduleBody, responses((status = 201, description = "the schedule"), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_schedule<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    crate::extract::ApiJson(body): crate::extract::ApiJson<serde_json::Map<String, serde_json::Value>>,
) -> Result<(axum::http::StatusCode, Json<serde_json::Value>), ApiError> {
    let s = app.kefu.create_schedule(&user.actor, &body).await?;
    let org = app.kefu.org().await?;
    Ok((axum::http::StatusCode::CREATED, Json(crate::service::schedules::schedule_json(&s, &org))))
}

/// The caller's scheduled reports (supervisors and admins: everyone's).
#[utoipa::path(get, path = "/api/v1/reports/schedules", tag = "reports", security(("bearer" = [])),
    responses((status = 200, description = "{items}")))]
pub async fn schedules<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
) -> Result<Json<serde_json::Value>, ApiError> {
    let all = matches!(user.actor.role, kefu_domain::Role::Supervisor | kefu_domain::Role::Admin);
    let list = app.kefu.store.schedules((!all).then_some(user.actor.id)).await?;
    let org = app.kefu.org().await?;
    let items: Vec<_> = list.iter().map(|s| crate::service::schedules::schedule_json(s, &org)).collect();
    Ok(Json(serde_json::json!({ "items": items })))
}

#[utoipa::path(delete, path = "/api/v1/reports/schedules/{id}", tag = "reports", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 204), (status = 404, body = crate::error::ErrorBody)))]
pub async fn delete_schedule<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<axum::http::StatusCode, ApiError> {
    let gone = match id.parse::<i64>() {
        Ok(id) => app.kefu.store.delete_schedule(id, user.actor.id).await?,
        Err(_) => false,
    };
    if gone {
        Ok(axum::http::StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound { what: "schedule", what_zh: "定期报表" })
    }
}

/// Hot issues of a period (`from`, `to`; default this month so far): the
/// types registered most and the words titles use most, against the
/// period of the same length before, rising ones first.
#[utoipa::path(get, path = "/api/v1/reports/hot", tag = "reports", security(("bearer" = [])),
    params(KpiQuery), responses((status = 200, body = crate::service::hot::HotIssues),
        (status = 403, body = crate::error::ErrorBody, description = "another person's or team's tickets"),
        (status = 422, body = crate::error::ErrorBody, description = "bad date or filter")))]
pub async fn hot<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Query(q): Query<KpiQuery>,
) -> Result<Json<crate::service::hot::HotIssues>, ApiError> {
    let q = KpiQuery { metric: Some("transfer_rate".into()), group_by: None, ..q };
    let req = q.request(&app.kefu).await?;
    if req.to < req.from {
        return Err(FieldError::new("to", "to is before from", "结束日期早于开始日期").into());
    }
    Ok(Json(app.kefu.hot_issues(&user.actor, (req.from, req.to), req.filter, 10).await?))
}
