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
    /// The period of the return-visit figures, as shown.
    period: String,
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
    /// Handling figures over the period, per person and per team.
    figures: Vec<FigureTable>,
}

struct FigureTable {
    id: &'static str,
    title: String,
    rows: Vec<FigureLine>,
}

/// One row of the handling figures, worded; `link` opens the tickets it counts.
struct FigureLine {
    name: String,
    handled: u64,
    link: Option<String>,
    on_time: String,
    first_contact: String,
    hours: String,
}

fn lines(rows: Vec<crate::service::reports::FigureRow>, period: &Period) -> Vec<FigureLine> {
    use kefu_domain::figures::{hours, percent};
    let (from, to) = period.instants();
    let stamp = |t: chrono::DateTime<chrono::Utc>| super::layout::url_encode(&t.to_rfc3339());
    rows.into_iter()
        .map(|r| FigureLine {
            link: r.filter.map(|(k, v)| {
                format!(
                    "/console?queue=all&{k}={}&resolved_from={}&resolved_to={}",
                    super::layout::url_encode(&v),
                    stamp(from),
                    stamp(to)
                )
            }),
            name: r.name,
            handled: r.figures.handled,
            on_time: percent(r.figures.on_time_rate()),
            first_contact: percent(r.figures.first_contact_rate()),
            hours: hours(r.figures.average_hours()),
        })
        .collect()
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
    period: Period,
    error: Option<String>,
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
    let today = kefu_domain::time::shanghai_date(app.kefu.now());
    let (period, error) = Period::of(&q, today);
    let panels = panels(&app, lang, &period).await;
    if q.contains_key("partial") {
        return render(StatusCode::OK, &PanelsOnly { panels });
    }
    let shell = Shell::new(lang, Some(&user), lang.t("主管看板", "Dashboard"));
    let error = error.map(|e| e.to_string());
    render(StatusCode::OK, &DashboardPage { shell, panels, period, error })
}

/// The days (Shanghai dates, both included) the return-visit figures cover:
/// the last 30 days unless the supervisor chose others.
pub struct Period {
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
}

impl Period {
    /// The period asked for in `from` and `to` (YYYY-MM-DD), or the last 30
    /// days and why not (a bad date, from after to, or more than a year).
    fn of(q: &Fields, today: chrono::NaiveDate) -> (Period, Option<&'static str>) {
        let last30 = Period { from: today - chrono::Duration::days(29), to: today };
        let day = |k: &str| q.get(k).filter(|v| !v.trim().is_empty()).map(|v| v.trim().parse::<chrono::NaiveDate>());
        match (day("from"), day("to")) {
            (None, None) => (last30, None),
            (Some(Ok(from)), Some(Ok(to))) if from <= to && to - from <= chrono::Duration::days(366) => {
                (Period { from, to }, None)
            }
            _ => (
                last30,
                Some(
                    "日期无效：请选择起止日期（起始不晚于截止，最长一年）。Invalid dates: choose from ≤ to, at most a year.",
                ),
            ),
        }
    }

    /// The query that keeps this period (for the panels' refresh).
    fn query(&self) -> String {
        format!("from={}&to={}", self.from, self.to)
    }

    /// The UTC instants of the period: from 00:00 of `from` to 24:00 of `to`, Shanghai time.
    fn instants(&self) -> (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) {
        let start = |d: chrono::NaiveDate| (d.and_time(chrono::NaiveTime::MIN) - chrono::Duration::hours(8)).and_utc();
        (start(self.from), start(self.to + chrono::Duration::days(1)))
    }
}

async fn count<S: Store>(app: &AppState<S>, f: TicketFilter) -> i64 {
    app.kefu.store.list_tickets(TicketFilter { page: 1, per_page: 1, ..f }).await.map_or(0, |p| p.total)
}

async fn panels<S: Store>(app: &AppState<S>, lang: Lang, period: &Period) -> Panels {
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
    let (from, to) = period.instants();
    let report = app.kefu.visit_report(from, to.min(end)).await.unwrap_or(Value::Null);
    let (people, teams) = app.kefu.handling_figures(from, to.min(end)).await.unwrap_or_default();
    let total = &report["total"];
    let day = app.kefu.visit_report(today, end).await.unwrap_or(Value::Null);
    let day = &day["total"];
    let pct = |v: &Value| v.as_f64().map_or("—".to_string(), |x| format!("{:.1}%", x * 100.0));
    let (resolved, late) = (day["resolved"].as_i64().unwrap_or(0), day["late"].as_i64().unwrap_or(0));
    Panels {
        lang,
        period: format!("{} – {}", period.from, period.to),
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
        figures: vec![
            FigureTable {
                id: "by-person",
                title: l("处理情况（按人员）", "Handling by person").into(),
                rows: lines(people, period),
            },
            FigureTable {
                id: "by-team",
                title: l("处理情况（按班组）", "Handling by team").into(),
                rows: lines(teams, period),
            },
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_period_is_the_last_30_days_unless_chosen_well() {
        let today: chrono::NaiveDate = "2026-11-30".parse().unwrap();
        let q = |from: &str, to: &str| {
            Fields::from([("from".to_string(), from.to_string()), ("to".to_string(), to.to_string())])
        };
        let (p, e) = Period::of(&Fields::new(), today);
        assert_eq!((p.query(), e), ("from=2026-11-01&to=2026-11-30".to_string(), None));
        let (p, e) = Period::of(&q("2026-11-01", "2026-11-07"), today);
        assert_eq!((p.query(), e.is_none()), ("from=2026-11-01&to=2026-11-07".to_string(), true));
        assert_eq!(p.instants().0.to_rfc3339(), "2026-10-31T16:00:00+00:00", "00:00 in Shanghai");
        for (from, to) in [("2026-11-08", "2026-11-01"), ("２０２６", "2026-11-01"), ("2024-01-01", "2026-11-01")] {
            let (p, e) = Period::of(&q(from, to), today);
            assert!(e.is_some() && p.query() == "from=2026-11-01&to=2026-11-30", "{from} {to}");
        }
    }
}
