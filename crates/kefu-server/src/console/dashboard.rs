//! The supervisor dashboard (主管看板): today's results, open work by state
//! and type, warnings and breaches, and return visits, refreshed in place.

use super::Lang;
use super::layout::{Fields, Shell, gate, render};
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use kefu_domain::TicketType;
use kefu_store::{Store, TicketFilter};
use serde_json::Value;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new().route("/console/dashboard", get(dashboard::<S>))
}

/// A horizontal bar chart, drawn as inline SVG by `templates/console/chart.html`.
struct Chart {
    width: f64,
    height: f64,
    bars: Vec<Bar>,
}

struct Bar {
    label: String,
    /// The list this bar counts, to drill down to.
    link: Option<String>,
    y: f64,
    text_y: f64,
    width: f64,
    height: f64,
    value_x: f64,
    value: String,
}

impl Chart {
    /// Drawn 300 units wide, which is about as wide as a dashboard card
    /// shows it, so the 13-unit labels stay near 13 px on a desktop and
    /// on a phone (a wider drawing was shrunk to 9 px labels).
    fn of(rows: &[(String, f64)]) -> Chart {
        let linked: Vec<(String, f64, Option<String>)> = rows.iter().map(|(l, v)| (l.clone(), *v, None)).collect();
        Chart::linked(&linked)
    }

    /// Bars that each link to the tickets they count.
    fn linked(rows: &[(String, f64, Option<String>)]) -> Chart {
        let max = rows.iter().map(|r| r.1).fold(1.0_f64, f64::max);
        let row_h = 24.0;
        let bars = rows
            .iter()
            .enumerate()
            .map(|(i, (label, v, link))| {
                let y = i as f64 * row_h + 2.0;
                let width = (v / max * 130.0).max(1.0);
                Bar {
                    label: label.clone(),
                    link: link.clone(),
                    y: y.round(),
                    text_y: (y + 16.0).round(),
                    width: width.round(),
                    height: row_h - 6.0,
                    value_x: (125.0 + width).round(),
                    value: if v.fract() == 0.0 { format!("{v:.0}") } else { format!("{v:.1}") },
                }
            })
            .collect();
        Chart { width: 300.0, height: row_h * rows.len() as f64 + 4.0, bars }
    }
}

/// The figures of the dashboard, already worded for the page.
struct Panels {
    lang: Lang,
    resolved_today: String,
    late_today: String,
    on_time_today: String,
    today: Chart,
    by_state: Chart,
    by_type: Chart,
    alerts: Chart,
    visited: String,
    resolved: String,
    coverage: String,
    satisfied: String,
    rating: String,
    nps: String,
    coverage_chart: Chart,
}

impl Panels {
    fn t<'b>(&self, zh: &'b str, en: &'b str) -> &'b str {
        self.lang.t(zh, en)
    }
}

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct DashboardPage<'a> {
    shell: Shell<'a>,
    panels: Panels,
}

/// The panels alone, for the page's periodic refresh.
#[derive(Template)]
#[template(path = "console/dashboard_panels.html")]
struct PanelsOnly {
    panels: Panels,
}

async fn dashboard<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Query(q): Query<Fields>) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/reports/return-visits").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let panels = panels(&app, lang).await;
    if q.contains_key("partial") {
        return render(StatusCode::OK, &PanelsOnly { panels });
    }
    let shell = Shell::new(lang, Some(&user), lang.t("主管看板", "Dashboard"));
    render(StatusCode::OK, &DashboardPage { shell, panels })
}

async fn count<S: Store>(app: &AppState<S>, f: TicketFilter) -> i64 {
    app.kefu.store.list_tickets(TicketFilter { page: 1, per_page: 1, ..f }).await.map_or(0, |p| p.total)
}

async fn panels<S: Store>(app: &AppState<S>, lang: Lang) -> Panels {
    let l = |zh, en| lang.t(zh, en);
    let now = app.kefu.now();
    let mut by_type = Vec::new();
    for t in TicketType::ALL {
        let n = count(app, TicketFilter { ticket_type: Some(*t), open: Some(true), ..Default::default() }).await;
        let link = format!("/console?queue=all&type={}&open=true", t.as_str());
        by_type.push((lang.t(t.label_zh(), t.as_str()).to_string(), n as f64, Some(link)));
    }
    // Open states of the shipped flows (an operator's own states show under their type).
    let mut by_state = Vec::new();
    for (state, zh, en) in [
        ("accepted", "已受理", "accepted"),
        ("dispatched", "已派单", "dispatched"),
        ("approved", "已审批", "approved"),
        ("operator_confirmed", "已确认退订", "confirmed (unsub.)"),
        ("in_progress", "处理中", "in progress"),
        ("suspended", "已挂起", "suspended"),
        ("transfer_pending", "转派待接收", "transfer pending"),
    ] {
        let n = count(app, TicketFilter { status: Some(state.into()), open: Some(true), ..Default::default() }).await;
        let link = format!("/console?queue=all&status={state}&open=true");
        by_state.push((lang.t(zh, en).to_string(), n as f64, Some(link)));
    }
    // Open work only, as the queues these bars open count it.
    let warnings = count(app, TicketFilter { warning_at: Some(now), open: Some(true), ..Default::default() }).await;
    let overdue = count(app, TicketFilter { overdue_at: Some(now), open: Some(true), ..Default::default() }).await;
    let unassigned = count(app, TicketFilter { unassigned: true, ..Default::default() }).await;
    let today = kefu_domain::time::shanghai_date(now)
        .and_hms_opt(0, 0, 0)
        .map(|d| (d - chrono::Duration::hours(8)).and_utc())
        .unwrap_or(now);
    let end = now + chrono::Duration::seconds(1);
    let report = app.kefu.visit_report(today - chrono::Duration::days(30), end).await.unwrap_or(Value::Null);
    let total = &report["total"];
    let day = app.kefu.visit_report(today, end).await.unwrap_or(Value::Null);
    let day = &day["total"];
    let pct = |v: &Value| v.as_f64().map_or("—".to_string(), |x| format!("{:.1}%", x * 100.0));
    let (resolved, late) = (day["resolved"].as_i64().unwrap_or(0), day["late"].as_i64().unwrap_or(0));
    Panels {
        lang,
        resolved_today: day["resolved"].to_string(),
        late_today: day["late"].to_string(),
        on_time_today: pct(&day["on_time_rate"]),
        today: Chart::of(&[
            (l("按时", "on time").into(), (resolved - late) as f64),
            (l("超时", "late").into(), late as f64),
        ]),
        by_state: Chart::linked(&by_state),
        by_type: Chart::linked(&by_type),
        alerts: Chart::linked(&[
            (l("预警", "warning").into(), warnings as f64, Some("/console?queue=warning".into())),
            (l("超时", "overdue").into(), overdue as f64, Some("/console?queue=overdue".into())),
            (l("待派单", "unassigned").into(), unassigned as f64, Some("/console?queue=unassigned".into())),
        ]),
        visited: total["visited"].to_string(),
        resolved: total["resolved"].to_string(),
        coverage: pct(&total["coverage"]),
        satisfied: pct(&total["satisfied_rate"]),
        rating: total["satisfaction_avg"].as_f64().map_or("—".into(), |x| format!("{x:.2}")),
        nps: total["nps"].as_f64().map_or("—".into(), |x| format!("{x:.0}")),
        coverage_chart: Chart::of(&[
            (l("覆盖率", "coverage").into(), total["coverage"].as_f64().unwrap_or(0.0) * 100.0),
            (l("目标", "target").into(), report["coverage_target"].as_f64().unwrap_or(0.8) * 100.0),
        ]),
    }
}
