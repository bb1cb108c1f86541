//! Reports in the console: first the metric dictionary (指标说明), so a
//! supervisor can read what each number of the dashboard means, how it is
//! counted and what its target is.

use super::Lang;
use super::layout::{Opt, Shell, gate, message, render};
use crate::AppState;
use crate::service::reports::MetricItem;
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use kefu_domain::metrics::{Better, CalendarKind, Formula, Period, Unit};
use kefu_store::Store;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/console/reports/metrics", get(dictionary::<S>))
        .route("/console/reports", get(kpi_page::<S>))
        .route("/console/reports/scorecard", get(scorecard::<S>))
        .route("/console/reports/hot", get(hot_page::<S>))
        .route("/console/reports/exports", get(exports_page::<S>).post(ask_export::<S>))
        .route("/console/reports/exports/{id}/download", get(download_export::<S>))
}

/// A metric as the page shows it: every value worded, none a code.
struct Row {
    key: String,
    name: String,
    unit: String,
    definition: String,
    period: String,
    calendar: String,
    target: String,
}

#[derive(Template)]
#[template(path = "console/reports_metrics.html")]
struct DictionaryPage<'a> {
    shell: Shell<'a>,
    rows: Vec<Row>,
}

fn row(lang: Lang, m: MetricItem) -> Row {
    let percent = m.unit == Unit::Percent;
    let target = m.target.map_or_else(
        || "—".to_string(),
        |t| {
            // Rounded to a tenth: 0.95 × 100 is not exactly 95 in floating point.
            let v = if percent { format!("{}%", (t.value * 1000.0).round() / 10.0) } else { format!("{}", t.value) };
            match t.better {
                Better::Higher => format!("≥ {v}"),
                Better::Lower => format!("≤ {v}"),
            }
        },
    );
    let calendar = match &m.formula {
        Formula::Duration { calendar: CalendarKind::Working, .. } => {
            lang.t("工作日时间（另记自然时间）", "working-day time (natural time also kept)")
        }
        Formula::Duration { calendar: CalendarKind::Natural, .. } => {
            lang.t("自然时间（另记工作日时间）", "natural time (working-day time also kept)")
        }
        _ => "—",
    };
    let period = match m.period {
        Period::Created => lang.t("按登记日", "by registration day"),
        Period::Resolved => lang.t("按办结日", "by resolution day"),
        Period::Now => lang.t("当前", "now"),
    };
    let unit = lang.t(m.unit.label_zh(), m.unit.label_en());
    Row {
        name: lang.t(&m.name_zh, &m.name_en).to_string(),
        definition: lang.t(&m.definition_zh, &m.definition_en).to_string(),
        key: m.key,
        unit: unit.to_string(),
        period: period.to_string(),
        calendar: calendar.to_string(),
        target,
    }
}

async fn dictionary<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/reports/metrics").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let rows = app.kefu.metric_dictionary().items.into_iter().map(|m| row(lang, m)).collect();
    let shell = Shell::new(lang, Some(&user), lang.t("指标说明", "What the figures mean"));
    render(StatusCode::OK, &DictionaryPage { shell, rows })
}

/// A refused question in words (a bad field, a figure not the asker's);
/// None for a failure of kefu's own.
fn refusal(lang: Lang, e: &crate::error::ApiError) -> Option<String> {
    match e {
        crate::error::ApiError::Invalid(f) => Some(lang.t(&f.message_zh, &f.message).to_string()),
        crate::error::ApiError::Forbidden { reason, reason_zh } => Some(lang.t(reason_zh, reason).to_string()),
        _ => None,
    }
}

/// `k=v&…` of the non-empty values, encoded.
fn query_string(pairs: &[(&str, &String)]) -> String {
    pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", super::layout::url_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A figure worded in its unit: "93.5%", "2.3 小时", "4.20", "12".
pub fn worded(lang: Lang, unit: Unit, v: Option<f64>) -> String {
    unit.worded(v, lang.t("zh", "en") == "zh")
}

/// A chart drawn on the server as inline SVG: columns over time, or bars
/// per group. The page shows the same figures as a table beside it.
pub struct Columns {
    pub width: f64,
    pub height: f64,
    pub columns: Vec<Column>,
    /// The target as a line across, when there is one.
    pub target_y: Option<f64>,
    pub baseline_y: f64,
}

pub struct Column {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub label_x: f64,
    pub label_y: f64,
    pub label: String,
    pub value: String,
    pub value_y: f64,
    /// Below target: drawn in the warning colour.
    pub short: bool,
}

impl Columns {
    /// `rows`: (label, value, worded value, below target).
    pub fn of(rows: &[(String, Option<f64>, String, bool)], target: Option<f64>) -> Columns {
        let (plot_h, top, bottom) = (160.0, 18.0, 40.0);
        let step = if rows.len() > 40 {
            14.0
        } else if rows.len() > 16 {
            24.0
        } else {
            48.0
        };
        let max = rows.iter().filter_map(|r| r.1).chain(target).fold(0.0_f64, f64::max).max(1e-9);
        let baseline_y = top + plot_h;
        let columns = rows
            .iter()
            .enumerate()
            .map(|(i, (label, v, worded, short))| {
                let h = v.map_or(0.0, |v| (v / max * plot_h).max(if v > 0.0 { 1.0 } else { 0.0 }));
                let x = 8.0 + i as f64 * step;
                Column {
                    x: x.round(),
                    y: (baseline_y - h).round(),
                    width: (step * 0.7).round(),
                    height: h.round(),
                    label_x: (x + step * 0.35).round(),
                    label_y: baseline_y + 14.0,
                    // Long labels are cut to their end (a date's month and day, a week's number).
                    label: if step < 30.0 {
                        label.chars().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect()
                    } else {
                        label.clone()
                    },
                    value: worded.clone(),
                    value_y: (baseline_y - h - 4.0).round(),
                    short: *short,
                }
            })
            .collect();
        Columns {
            width: (16.0 + rows.len() as f64 * step).max(200.0),
            height: top + plot_h + bottom,
            target_y: target.map(|t| (baseline_y - t / max * plot_h).round()),
            baseline_y,
            columns,
        }
    }
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct ReportForm {
    #[serde(default)]
    metric: String,
    #[serde(default)]
    group_by: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    team: String,
    #[serde(default)]
    agent: String,
    #[serde(default)]
    channel: String,
    #[serde(default, rename = "type")]
    ticket_type: String,
    #[serde(default)]
    priority: String,
}

impl ReportForm {
    fn query(&self) -> crate::http::reports::KpiQuery {
        let opt = |s: &str| Some(s.to_string()).filter(|s| !s.trim().is_empty());
        crate::http::reports::KpiQuery {
            metric: opt(&self.metric),
            group_by: opt(&self.group_by),
            from: opt(&self.from),
            to: opt(&self.to),
            team: opt(&self.team),
            agent: opt(&self.agent),
            channel: opt(&self.channel),
            ticket_type: opt(&self.ticket_type),
            priority: opt(&self.priority),
        }
    }
}

/// One row of a report's table.
struct Line {
    label: String,
    value: String,
    n: i64,
    met: String,
    /// Extra columns: the other calendar of a duration, or backlog buckets.
    extra: Vec<String>,
    /// The per-person page of this row's agent or team.
    link: Option<String>,
}

#[derive(Template)]
#[template(path = "console/reports_kpi.html")]
struct KpiPage<'a> {
    shell: Shell<'a>,
    metrics: Vec<Opt>,
    groups: Vec<Opt>,
    teams: Vec<Opt>,
    form: ReportForm,
    name: String,
    definition: String,
    target: String,
    unit: String,
    n_label: String,
    extra_heads: Vec<String>,
    lines: Vec<Line>,
    chart: Option<Columns>,
    error: Option<String>,
    /// The report's query, as hidden fields of the export form.
    export_fields: Vec<(String, String)>,
}

const GROUPS: [(&str, &str, &str); 10] = [
    ("all", "合计", "All"),
    ("agent", "坐席", "Agent"),
    ("team", "班组", "Team"),
    ("channel", "渠道", "Channel"),
    ("type", "类型", "Type"),
    ("priority", "优先级", "Priority"),
    ("day", "按日", "By day"),
    ("week", "按周", "By week"),
    ("month", "按月", "By month"),
    ("quarter", "按季度", "By quarter"),
];

fn target_words(lang: Lang, unit: Unit, t: Option<kefu_domain::metrics::Target>) -> String {
    t.map_or_else(
        || "—".to_string(),
        |t| {
            let v = worded(lang, unit, Some(t.value));
            match t.better {
                Better::Higher => format!("≥ {v}"),
                Better::Lower => format!("≤ {v}"),
            }
        },
    )
}

/// What a report's "n" counts, in words.
fn n_label(lang: Lang, formula: &Formula) -> String {
    match formula {
        Formula::OnTime => lang.t("到期时限数", "Deadlines due"),
        Formula::Average { .. } | Formula::Nps { .. } => lang.t("评价数", "Ratings"),
        Formula::Share { denominator, .. } if format!("{denominator:?}") == "Rated" => lang.t("评价数", "Ratings"),
        _ => lang.t("工单数", "Tickets"),
    }
    .to_string()
}

async fn kpi_page<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Query(form): Query<ReportForm>,
) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/reports/kpi").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let form = ReportForm {
        metric: if form.metric.is_empty() { "first_contact_resolution".into() } else { form.metric.clone() },
        group_by: if form.group_by.is_empty() { "week".into() } else { form.group_by.clone() },
        ..form
    };
    let dictionary = app.kefu.metric_dictionary();
    let metrics =
        dictionary.items.iter().map(|m| Opt::new(&m.key, lang.t(&m.name_zh, &m.name_en), &form.metric)).collect();
    let groups = GROUPS.iter().map(|(k, zh, en)| Opt::new(k, lang.t(zh, en), &form.group_by)).collect();
    let teams = match app.kefu.org().await {
        Ok(org) => {
            let mut v = vec![Opt::new("", lang.t("全部班组", "All teams"), &form.team)];
            v.extend(org.teams.iter().map(|t| Opt::new(&t.code, &t.name, &form.team)));
            v
        }
        Err(_) => Vec::new(),
    };
    let title = lang.t("指标报表", "KPI report");
    let mut page = KpiPage {
        shell: Shell::new(lang, Some(&user), title),
        metrics,
        groups,
        teams,
        export_fields: [
            ("metric", &form.metric),
            ("group_by", &form.group_by),
            ("from", &form.from),
            ("to", &form.to),
            ("team", &form.team),
            ("agent", &form.agent),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        form,
        name: String::new(),
        definition: String::new(),
        target: String::new(),
        unit: String::new(),
        n_label: String::new(),
        extra_heads: Vec::new(),
        lines: Vec::new(),
        chart: None,
        error: None,
    };
    let report = async {
        let mut req = page.form.query().request(&app.kefu).await?;
        req.filter = app.kefu.kpi_scope(&user.actor, req.filter).await?;
        app.kefu.kpi_report(req).await
    };
    match report.await {
        Ok(r) => fill(&mut page, lang, r, &dictionary),
        Err(e) => {
            page.error = match refusal(lang, &e) {
                Some(text) => Some(text),
                None => {
                    tracing::warn!(error = %e, "KPI report failed");
                    return message(StatusCode::INTERNAL_SERVER_ERROR, lang, Some(&user), "500", &e.to_string());
                }
            }
        }
    }
    let status = if page.error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    render(status, &page)
}

fn fill(
    page: &mut KpiPage,
    lang: Lang,
    r: crate::service::kpi::KpiReport,
    dictionary: &crate::service::reports::MetricList,
) {
    let item = dictionary.items.iter().find(|m| m.key == r.metric);
    page.name = lang.t(&r.name_zh, &r.name_en).to_string();
    page.definition = item.map_or(r.definition_zh.clone(), |m| lang.t(&m.definition_zh, &m.definition_en).to_string());
    page.unit = lang.t(r.unit.label_zh(), r.unit.label_en()).to_string();
    page.target = target_words(lang, r.unit, r.target);
    page.n_label = item.map_or_else(|| lang.t("工单数", "Tickets").to_string(), |m| n_label(lang, &m.formula));
    let duration = r.items.iter().any(|i| i.natural.is_some() || i.working.is_some());
    if duration {
        page.extra_heads =
            vec![lang.t("自然时间", "Natural time").into(), lang.t("工作日时间", "Working-day time").into()];
    }
    if let Some(labels) = &r.bucket_labels {
        page.extra_heads = labels.clone();
    }
    let mut rows = Vec::new();
    for i in &r.items {
        let value = worded(lang, r.unit, i.value);
        let mut extra = Vec::new();
        if duration {
            extra.push(worded(lang, Unit::Hours, i.natural));
            extra.push(worded(lang, Unit::Hours, i.working));
        }
        if let Some(b) = &i.buckets {
            extra.extend(b.iter().map(|n| n.to_string()));
        }
        let link = match r.group_by.as_str() {
            "agent" if !i.key.is_empty() => Some(format!("/console/reports/scorecard?agent={}", i.key)),
            "team" if !i.key.is_empty() => Some(format!("/console/reports/scorecard?team={}", i.key)),
            _ => None,
        };
        let met = match i.met {
            Some(true) => lang.t("达标", "met"),
            Some(false) => lang.t("未达标", "missed"),
            None => "—",
        };
        rows.push((lang.t(&i.label, &i.label_en).to_string(), i.value, value.clone(), i.met == Some(false)));
        page.lines.push(Line {
            label: lang.t(&i.label, &i.label_en).to_string(),
            value,
            n: i.n,
            met: met.to_string(),
            extra,
            link,
        });
    }
    if !rows.is_empty() && r.bucket_labels.is_none() {
        page.chart = Some(Columns::of(&rows, r.target.map(|t| t.value)));
    }
}

/// One metric on a person's or team's page.
struct CardLine {
    key: String,
    name: String,
    value: String,
    n: i64,
    target: String,
    met: String,
}

#[derive(Template)]
#[template(path = "console/reports_scorecard.html")]
struct ScorecardPage<'a> {
    shell: Shell<'a>,
    whom: String,
    from: String,
    to: String,
    scope_query: String,
    lines: Vec<CardLine>,
    trend: Option<Columns>,
    trend_name: String,
    error: Option<String>,
}

/// A person's or a team's figures for a period (an agent sees their own,
/// a team lead their teams', supervisors anyone's), with the weekly
/// trend of first-contact resolution.
async fn scorecard<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Query(form): Query<ReportForm>,
) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/reports/kpi").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let title = lang.t("个人与班组指标", "People and team figures");
    let mut page = ScorecardPage {
        shell: Shell::new(lang, Some(&user), title),
        whom: String::new(),
        from: form.from.clone(),
        to: form.to.clone(),
        scope_query: String::new(),
        lines: Vec::new(),
        trend: None,
        trend_name: String::new(),
        error: None,
    };
    let result: Result<(), crate::error::ApiError> = async {
        let mut base = ReportForm { metric: "backlog".into(), ..form };
        if base.agent.is_empty()
            && base.team.is_empty()
            && !matches!(
                user.actor.role,
                kefu_domain::Role::Supervisor | kefu_domain::Role::Inspector | kefu_domain::Role::Admin
            )
        {
            base.agent = user.actor.id.0.to_string();
        }
        let mut req = base.query().request(&app.kefu).await?;
        req.filter = app.kefu.kpi_scope(&user.actor, req.filter).await?;
        let org = app.kefu.org().await?;
        page.whom = match (req.filter.agent, req.filter.team) {
            (Some(a), _) => {
                org.user(a).map_or_else(|| format!("#{a}"), |u| format!("{} ({})", u.display_name, u.username))
            }
            (None, Some(t)) => org.team(t).map_or_else(|| format!("#{t}"), |t| t.name.clone()),
            (None, None) => lang.t("全部", "Everyone").to_string(),
        };
        page.from = req.from.to_string();
        page.to = req.to.to_string();
        let (agent, team) = (
            req.filter.agent.map_or_else(String::new, |a| a.0.to_string()),
            req.filter.team.map_or_else(String::new, |t| t.0.to_string()),
        );
        page.scope_query = query_string(&[("agent", &agent), ("team", &team)]);
        for m in app.kefu.metric_dictionary().items.iter().filter(|m| !m.key.contains('.') && m.key != "backlog_age") {
            let r = app
                .kefu
                .kpi_report(crate::service::kpi::KpiRequest {
                    metric: m.key.clone(),
                    group_by: kefu_domain::kpi::GroupBy::All,
                    ..req.clone()
                })
                .await?;
            let first = r.items.first();
            page.lines.push(CardLine {
                key: m.key.clone(),
                name: lang.t(&m.name_zh, &m.name_en).to_string(),
                value: worded(lang, m.unit, first.and_then(|i| i.value)),
                n: first.map_or(0, |i| i.n),
                target: target_words(lang, m.unit, r.target),
                met: match first.and_then(|i| i.met) {
                    Some(true) => lang.t("达标", "met").to_string(),
                    Some(false) => lang.t("未达标", "missed").to_string(),
                    None => "—".to_string(),
                },
            });
        }
        let trend = app
            .kefu
            .kpi_report(crate::service::kpi::KpiRequest {
                metric: "first_contact_resolution".into(),
                group_by: kefu_domain::kpi::GroupBy::Week,
                ..req.clone()
            })
            .await?;
        page.trend_name = lang.t(&trend.name_zh, &trend.name_en).to_string();
        let rows: Vec<_> = trend
            .items
            .iter()
            .map(|i| (i.label.clone(), i.value, worded(lang, trend.unit, i.value), i.met == Some(false)))
            .collect();
        page.trend = Some(Columns::of(&rows, trend.target.map(|t| t.value)));
        Ok(())
    }
    .await;
    if let Err(e) = result {
        let Some(text) = refusal(lang, &e) else {
            return message(StatusCode::INTERNAL_SERVER_ERROR, lang, Some(&user), "500", &e.to_string());
        };
        page.error = Some(text);
        return render(StatusCode::FORBIDDEN, &page);
    }
    render(StatusCode::OK, &page)
}

/// One export as the page lists it.
struct ExportLine {
    id: i64,
    what: String,
    format: String,
    state: String,
    progress: String,
    rows: String,
    created: String,
    ready: bool,
}

#[derive(Template)]
#[template(path = "console/reports_exports.html")]
struct ExportsPage<'a> {
    shell: Shell<'a>,
    lines: Vec<ExportLine>,
    error: Option<String>,
    /// Some still being made: the page reloads itself.
    working: bool,
}

async fn exports_page<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/reports/exports").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    show_exports(&app, &user, Lang::of(&headers), StatusCode::OK, None).await
}

async fn show_exports<S: Store>(
    app: &AppState<S>,
    user: &crate::auth::CurrentUser,
    lang: Lang,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let list = match app.kefu.store.list_exports(Some(user.actor.id), 50).await {
        Ok(l) => l,
        Err(e) => return message(StatusCode::INTERNAL_SERVER_ERROR, lang, Some(user), "500", &e.to_string()),
    };
    let lines: Vec<ExportLine> = list
        .iter()
        .map(|e| {
            let v = crate::service::report_exports::export_json(e);
            let state = match e.state.as_str() {
                "queued" => lang.t("排队中", "Queued"),
                "running" => lang.t("生成中", "Being made"),
                "done" => lang.t("已完成", "Ready"),
                _ => lang.t("失败", "Failed"),
            };
            ExportLine {
                id: e.id,
                what: match e.kind.as_str() {
                    "kpi" => lang.t("指标报表（按分组）", "KPI report (per group)"),
                    _ => lang.t("工单明细（每单一行）", "Tickets (one row each)"),
                }
                .to_string(),
                format: e.format.to_uppercase(),
                state: match &e.error {
                    Some(err) => format!("{state}：{err}"),
                    None => state.to_string(),
                },
                progress: format!("{:.0}%", v["progress"].as_f64().unwrap_or(0.0) * 100.0),
                rows: e.total_rows.map_or_else(|| e.done_rows.to_string(), |t| format!("{} / {t}", e.done_rows)),
                created: kefu_domain::time::shanghai_minute(e.created_at),
                ready: e.state == "done",
            }
        })
        .collect();
    let working = list.iter().any(|e| e.state == "queued" || e.state == "running");
    let title = lang.t("导出", "Exports");
    render(status, &ExportsPage { shell: Shell::new(lang, Some(user), title), lines, error, working })
}

/// A form of the report page (`query`: the report's query) or of the
/// ticket list (`kind=tickets`, `query`: the list's filters).
async fn ask_export<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    axum::extract::Form(f): axum::extract::Form<super::layout::Fields>,
) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/reports/exports").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    if !super::same_origin(&headers) {
        return super::layout::forbidden(lang, &user);
    }
    let mut body = serde_json::Map::new();
    let kind = f.get("kind").cloned().unwrap_or_else(|| "kpi".into());
    body.insert("kind".into(), kind.into());
    body.insert("format".into(), f.get("format").cloned().unwrap_or_default().into());
    for (k, v) in &f {
        if !matches!(k.as_str(), "kind" | "format") && !v.trim().is_empty() {
            body.insert(k.clone(), v.clone().into());
        }
    }
    match app.kefu.request_export(&user, &body).await {
        Ok(_) => axum::response::IntoResponse::into_response(axum::response::Redirect::to("/console/reports/exports")),
        Err(e) => {
            let text = refusal(lang, &e).unwrap_or_else(|| e.to_string());
            show_exports(&app, &user, lang, StatusCode::UNPROCESSABLE_ENTITY, Some(text)).await
        }
    }
}

async fn download_export<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/reports/exports/{id}/download").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let e = match id.parse::<i64>() {
        Ok(id) => app.kefu.export_download(&user, id).await,
        Err(_) => Err(crate::error::ApiError::NotFound { what: "export", what_zh: "导出" }),
    };
    match e {
        Ok(e) => crate::http::reports::export_response(app.kefu.store.clone(), &e),
        Err(e) => {
            let lang = Lang::of(&headers);
            message(StatusCode::NOT_FOUND, lang, Some(&user), "404", &e.to_string())
        }
    }
}

#[derive(Template)]
#[template(path = "console/reports_hot.html")]
struct HotPage<'a> {
    shell: Shell<'a>,
    hot: Option<crate::service::hot::HotIssues>,
    chart: Option<Columns>,
    error: Option<String>,
}

/// Hot issues: types and title words of the period, rising ones first.
async fn hot_page<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Query(form): Query<ReportForm>,
) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/reports/hot").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let title = lang.t("热点问题", "Hot issues");
    let mut page = HotPage { shell: Shell::new(lang, Some(&user), title), hot: None, chart: None, error: None };
    let form = ReportForm { metric: "transfer_rate".into(), group_by: String::new(), ..form };
    let result = async {
        let req = form.query().request(&app.kefu).await?;
        app.kefu.hot_issues(&user.actor, (req.from, req.to), req.filter, 10).await
    };
    match result.await {
        Ok(h) => {
            let rows: Vec<_> =
                h.keywords.iter().map(|k| (k.label.clone(), Some(k.n as f64), k.n.to_string(), k.change > 0)).collect();
            page.chart = (!rows.is_empty()).then(|| Columns::of(&rows, None));
            page.hot = Some(h);
        }
        Err(e) => {
            let Some(text) = refusal(lang, &e) else {
                return message(StatusCode::INTERNAL_SERVER_ERROR, lang, Some(&user), "500", &e.to_string());
            };
            page.error = Some(text);
            return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    }
    render(StatusCode::OK, &page)
}
