//! The return visits due by phone (回访任务), earliest due first, each
//! linking to its ticket, where the visit is recorded.

use super::Lang;
use super::layout::{Fields, Shell, error_text, gate, render, shown};
use super::workbench::Pager;
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use kefu_domain::TicketType;
use kefu_store::Store;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new().route("/console/visits", get(visits::<S>))
}

const PER_PAGE: u32 = 30;

struct Visit {
    number: String,
    kind: String,
    resolved: String,
    attempts: u32,
    due: String,
    due_at: String,
    state: &'static str,
}

#[derive(Template)]
#[template(path = "console/visits.html")]
struct VisitsPage<'a> {
    shell: Shell<'a>,
    visits: Vec<Visit>,
    pager: Pager,
    error: Option<String>,
}

async fn visits<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Query(q): Query<Fields>) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/return-visits").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let page = q.get("page").and_then(|p| p.parse().ok()).filter(|p| *p >= 1).unwrap_or(1);
    let filter = kefu_store::VisitFilter {
        state: Some("pending".into()),
        method: Some("phone".into()),
        page,
        per_page: PER_PAGE,
        ..Default::default()
    };
    let now = app.kefu.now();
    let (visits, pager, error) = match app.kefu.store.visits(filter).await {
        Ok(p) => {
            let visits = p
                .items
                .iter()
                .map(|v| Visit {
                    number: v.number.clone(),
                    kind: TicketType::parse(&v.ticket_type, "type")
                        .map_or(v.ticket_type.clone(), |t| lang.t(t.label_zh(), t.as_str()).to_string()),
                    resolved: shown(&v.resolved_at.to_rfc3339()),
                    attempts: v.attempts,
                    due: shown(&v.due_at.to_rfc3339()),
                    due_at: v.due_at.to_rfc3339(),
                    state: if v.due_at <= now { "breached" } else { "running" },
                })
                .collect();
            (visits, Pager::numbered("/console/visits", page, PER_PAGE, p.total), None)
        }
        Err(e) => (Vec::new(), Pager::default(), Some(error_text(lang, e.into()).2)),
    };
    let shell = Shell::new(lang, Some(&user), lang.t("回访任务", "Return visits"));
    render(StatusCode::OK, &VisitsPage { shell, visits, pager, error })
}
