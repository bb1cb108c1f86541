//! Reports in the console: first the metric dictionary (指标说明), so a
//! supervisor can read what each number of the dashboard means, how it is
//! counted and what its target is.

use super::Lang;
use super::layout::{Shell, gate, render};
use crate::AppState;
use crate::service::reports::MetricItem;
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use kefu_domain::metrics::{Better, CalendarKind, Formula, Period, Unit};
use kefu_store::Store;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new().route("/console/reports/metrics", get(dictionary::<S>))
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
