//! The customer page (客户): the customer as the viewer's role may see them
//! and every ticket of theirs the viewer may see — shown only to someone
//! with at least one such ticket (need to know), like the API's reveal.

use super::Lang;
use super::layout::{Fields, Shell, error_text, gate, message, render};
use super::workbench::{Pager, Row};
use crate::AppState;
use crate::view::{CustomerView, customer_view};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use kefu_domain::CustomerId;
use kefu_store::{Store, TicketFilter};

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new().route("/console/customers/{id}", get(customer::<S>))
}

const PER_PAGE: u32 = 30;

#[derive(Template)]
#[template(path = "console/customer.html")]
struct CustomerPage<'a> {
    shell: Shell<'a>,
    c: CustomerView,
    total: i64,
    rows: Vec<Row>,
    pager: Pager,
    id: i64,
    services: super::orders::Services,
    token: String,
}

impl CustomerPage<'_> {
    /// No bulk selection on this page's ticket table.
    fn bulk(&self) -> bool {
        false
    }

    fn or_dash<'b>(&self, v: &'b Option<String>) -> &'b str {
        v.as_deref().filter(|s| !s.is_empty()).unwrap_or("—")
    }
}

async fn customer<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<Fields>,
) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/tickets").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let not_found = || {
        let text = lang.t("没有您可查看的该客户。", "No such customer among yours.");
        message(StatusCode::NOT_FOUND, lang, Some(&user), "404", text)
    };
    let Ok(id) = id.parse::<i64>() else { return not_found() };
    let Ok(Some(record)) = app.kefu.store.customer_by_id(CustomerId(id)).await else { return not_found() };
    let page = q.get("page").and_then(|p| p.parse().ok()).filter(|p| *p >= 1).unwrap_or(1);
    let params = vec![("customer_phone".to_string(), record.phone.as_str().to_string())];
    let filter = match crate::http::tickets::parse_filter(&app.kefu, &user, &params).await {
        Ok(f) => f,
        Err(e) => return message(StatusCode::BAD_REQUEST, lang, Some(&user), "400", &error_text(lang, e).2),
    };
    let Ok(list) =
        app.kefu.store.list_tickets(TicketFilter { page, per_page: PER_PAGE, due_first: true, ..filter }).await
    else {
        return not_found();
    };
    if list.total == 0 {
        // Not one of their tickets is the viewer's to see: nor is the customer.
        return not_found();
    }
    let rows = list.items.iter().map(|t| Row::of(lang, &app.kefu.view(t, &user.actor))).collect();
    let c = customer_view(&record, user.actor.role, &app.kefu.core.policy.privacy);
    let title = c.name.clone();
    let pager = Pager::numbered(&format!("/console/customers/{id}"), page, PER_PAGE, list.total);
    let shell = Shell::new(lang, Some(&user), &title);
    let services = super::orders::services(&app, lang, CustomerId(id), user.actor.role).await;
    let token = super::layout::form_token();
    render(StatusCode::OK, &CustomerPage { shell, c, total: list.total, rows, pager, id, services, token })
}
