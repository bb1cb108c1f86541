//! The workbench (工作台): the queues with their counts, a search, and the
//! ticket table that the intake page's customer history reuses.

use super::Lang;
use super::layout::{Fields, Opt, Shell, error_text, gate, render, url_encode};
use crate::AppState;
use crate::auth::CurrentUser;
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use kefu_domain::{Priority, TicketType};
use kefu_store::{Store, TicketFilter};
use serde_json::Value;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new().route("/console", get(workbench::<S>))
}

const QUEUES: &[(&str, &str, &str)] = &[
    ("mine", "我的工单", "Mine"),
    ("team", "班组队列", "Team queue"),
    ("awaiting_acceptance", "待我接收", "Awaiting my acceptance"),
    ("warning", "预警", "Warnings"),
    ("overdue", "已超时", "Overdue"),
    ("unassigned", "待派单", "Unassigned"),
    ("all", "全部", "All"),
];

const PER_PAGE: u32 = 30;

/// One row of a ticket table, as the viewer may see it.
pub struct Row {
    pub number: String,
    pub title: String,
    pub kind: String,
    pub priority: String,
    pub status: String,
    pub handler: String,
    pub due: Option<Due>,
    /// Where a text search matched (pieces, the matched ones marked).
    pub snippet: Vec<(String, bool)>,
}

/// A ticket's next running deadline.
pub struct Due {
    pub label: String,
    pub state: String,
    pub at: String,
}

impl Row {
    /// A row from a ticket view (`Kefu::view`), labels in `lang`.
    pub fn of(lang: Lang, v: &Value) -> Row {
        let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
        let label =
            |k: &str| lang.t(v[format!("{k}_zh")].as_str().unwrap_or(""), v[k].as_str().unwrap_or("")).to_string();
        Row {
            number: s("number"),
            title: s("title"),
            kind: label("type"),
            priority: label("priority"),
            status: label("status"),
            handler: v["assignee"]["name"].as_str().unwrap_or("—").to_string(),
            due: next_deadline(lang, v),
            snippet: Vec::new(),
        }
    }
}

/// The next running deadline of a ticket view.
fn next_deadline(lang: Lang, v: &Value) -> Option<Due> {
    v["deadlines"]
        .as_array()?
        .iter()
        // A deadline met late reads `breached` too, but it no longer runs.
        .filter(|d| d["met_at"].is_null())
        .filter(|d| matches!(d["state"].as_str(), Some("running" | "warning" | "breached" | "paused")))
        .min_by_key(|d| d["due_at"].as_str().unwrap_or("").to_string())
        .map(|d| Due {
            at: d["due_at"].as_str().unwrap_or("").to_string(),
            state: d["state"].as_str().unwrap_or("").to_string(),
            label: lang.t(d["label_zh"].as_str().unwrap_or(""), d["label_en"].as_str().unwrap_or("")).to_string(),
        })
}

/// Links to the pages around this one (each optional) and where we are.
#[derive(Default)]
pub struct Pager {
    pub first: Option<String>,
    pub prev: Option<String>,
    pub next: Option<String>,
    pub text: String,
}

impl Pager {
    /// Numbered pages (due-first order): previous, `page / pages · total`, next.
    pub fn numbered(base: &str, page: u32, per_page: u32, total: i64) -> Pager {
        let pages = ((total.max(1) as u64).div_ceil(u64::from(per_page.max(1)))) as u32;
        let sep = if base.contains('?') { "&" } else { "?" };
        let link = |p: u32| format!("{base}{sep}page={p}");
        Pager {
            first: None,
            prev: (page > 1).then(|| link(page - 1)),
            next: (page < pages).then(|| link(page + 1)),
            text: format!("{page} / {pages} · {total}"),
        }
    }
}

struct Tab {
    key: &'static str,
    label: &'static str,
    count: String,
    on: bool,
}

#[derive(Template)]
#[template(path = "console/workbench.html")]
struct Workbench<'a> {
    shell: Shell<'a>,
    tabs: Vec<Tab>,
    queue: &'a str,
    q: &'a str,
    sorts: Vec<Opt>,
    types: Vec<Opt>,
    priorities: Vec<Opt>,
    error: Option<String>,
    /// What the overdue and warning queues count.
    counts: Option<String>,
    rows: Vec<Row>,
    pager: Pager,
    /// People work may be assigned or transferred to, for the bulk form.
    people: Vec<Opt>,
    priorities_bulk: Vec<Opt>,
    token: String,
}

impl Workbench<'_> {
    /// The queue's rows can be chosen for a bulk action.
    fn bulk(&self) -> bool {
        !self.rows.is_empty()
    }
}

async fn workbench<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Query(q): Query<Fields>) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/tickets").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let queue = q.get("queue").map_or("mine", String::as_str);
    let search = q.get("q").map_or("", |s| s.trim());
    if let Some(number) = ticket_number(search) {
        return Redirect::to(&format!("/console/tickets/{number}")).into_response();
    }
    let tabs = tabs(&app, &user, lang, queue).await;
    let mut extra: Vec<(String, String)> = [
        "type",
        "status",
        "priority",
        "open",
        "page",
        "after",
        "resolved_by",
        "resolved_team",
        "resolved_from",
        "resolved_to",
    ]
    .iter()
    .filter_map(|k| q.get(*k).filter(|v| !v.trim().is_empty()).map(|v| (k.to_string(), v.clone())))
    .collect();
    if !search.is_empty() {
        // A phone number finds the customer's tickets (by the blind index);
        // anything else searches title and description.
        match kefu_domain::validate::Phone::parse(search, "q") {
            Ok(phone) => extra.push(("customer_phone".into(), phone.as_str().to_string())),
            Err(_) => extra.push(("q".into(), search.to_string())),
        }
    }
    // My own work, most urgent first unless asked otherwise.
    let sort = q.get("sort").map_or(if queue == "mine" { "due" } else { "newest" }, String::as_str);
    if matches!(sort, "due" | "newest") {
        extra.push(("sort".into(), sort.to_string()));
    }
    let (rows, pager, error) = match list(&app, &user, lang, queue, &extra).await {
        Ok((rows, pager)) => (rows, pager, None),
        Err(e) => (Vec::new(), Pager::default(), Some(e)),
    };
    let current = |k: &str| q.get(k).map_or("", String::as_str);
    let page = Workbench {
        shell: Shell::new(lang, Some(&user), lang.t("工作台", "Workbench")),
        tabs,
        queue,
        q: current("q"),
        sorts: vec![
            Opt::new("due", lang.t("时限最近优先", "Most urgent first"), sort),
            Opt::new("newest", lang.t("最新登记优先", "Newest first"), sort),
        ],
        types: TicketType::ALL
            .iter()
            .map(|t| Opt::new(t.as_str(), lang.t(t.label_zh(), t.as_str()), current("type")))
            .collect(),
        priorities: Priority::ALL
            .iter()
            .map(|p| Opt::new(p.as_str(), lang.t(p.label_zh(), p.as_str()), current("priority")))
            .collect(),
        error,
        counts: counts(&app, lang, queue),
        rows,
        pager,
        people: super::ticket_forms::Choices::load(&app, lang).await.people(),
        priorities_bulk: Priority::ALL
            .iter()
            .map(|p| Opt::new(p.as_str(), lang.t(p.label_zh(), p.as_str()), ""))
            .collect(),
        token: super::layout::form_token(),
    };
    render(StatusCode::OK, &page)
}

/// The ticket number in a search, typed as people type it (lower case,
/// full-width, with spaces), if the search is one.
fn ticket_number(search: &str) -> Option<String> {
    let folded: String = kefu_domain::validate::fold_width(search)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    kefu_domain::ticket::looks_like_number(&folded).then_some(folded)
}

/// For the overdue and warning queues: that they hold open work only, and
/// which deadlines they look at (the policy's kinds, by their labels).
fn counts<S: Store>(app: &AppState<S>, lang: Lang, queue: &str) -> Option<String> {
    if !matches!(queue, "overdue" | "warning") {
        return None;
    }
    let sla = &app.kefu.core.policy.sla;
    let mut labels: Vec<String> = Vec::new();
    for (kind, zh) in sla.kinds() {
        let label = lang.t(zh, &kefu_domain::sla::label_en(sla, kind)).to_string();
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    let head = lang.t("只含在办工单；计入的时限：", "Open tickets only; deadlines counted: ");
    Some(format!("{head}{}", labels.join(lang.t("、", ", "))))
}

/// The queue tabs with their counts (a queue the role may not list is left out).
async fn tabs<S: Store>(app: &AppState<S>, user: &CurrentUser, lang: Lang, queue: &str) -> Vec<Tab> {
    let mut tabs = Vec::new();
    for (key, zh, en) in QUEUES {
        let filter = queue_params(key, &[]);
        let Ok(f) = crate::http::tickets::parse_filter(&app.kefu, user, &filter).await else { continue };
        let count = app
            .kefu
            .store
            .list_tickets(TicketFilter { per_page: 1, ..f })
            .await
            .map_or_else(|_| "?".into(), |p| p.total.to_string());
        tabs.push(Tab { key, label: lang.t(zh, en), count, on: *key == queue });
    }
    tabs
}

/// One page of a queue, or the error to show instead.
async fn list<S: Store>(
    app: &AppState<S>,
    user: &CurrentUser,
    lang: Lang,
    queue: &str,
    extra: &[(String, String)],
) -> Result<(Vec<Row>, Pager), String> {
    let params = queue_params(queue, extra);
    let f = crate::http::tickets::parse_filter(&app.kefu, user, &params).await.map_err(|e| error_text(lang, e).2)?;
    let listed = app
        .kefu
        .list_tickets(TicketFilter { per_page: PER_PAGE, ..f.clone() })
        .await
        .map_err(|e| error_text(lang, e).2)?;
    let page = listed.page;
    let rows = page
        .items
        .iter()
        .map(|t| {
            let mut row = Row::of(lang, &app.kefu.view(t, &user.actor));
            if let Some(found) = listed.found.get(&t.id) {
                row.snippet = super::kb::pieces(&found.snippet, &found.highlights);
            }
            row
        })
        .collect();
    // Ranked (a text search) or most urgent first: numbered pages.
    let pager = if f.due_first || !listed.found.is_empty() || f.q.is_some() {
        let keep: Vec<_> = extra.iter().filter(|(k, _)| k != "page").cloned().collect();
        Pager::numbered(&link(queue, &keep), page.page, page.per_page, page.total)
    } else {
        // Newest first: keyset links, as fast on the last page as on the first.
        let next = page.items.last().filter(|_| page.items.len() == PER_PAGE as usize).map(kefu_store::Cursor::of);
        let keep: Vec<_> = extra.iter().filter(|(k, _)| k != "after" && k != "page").cloned().collect();
        let base = link(queue, &keep);
        Pager {
            first: extra.iter().any(|(k, _)| k == "after").then(|| base.clone()),
            prev: None,
            next: next.map(|c| format!("{base}&after={}", c.encode())),
            text: format!("{} {}", lang.t("共", "total"), page.total),
        }
    };
    Ok((rows, pager))
}

fn queue_params(queue: &str, extra: &[(String, String)]) -> Vec<(String, String)> {
    let mut p: Vec<(String, String)> = match queue {
        "all" => vec![],
        q => vec![("queue".into(), q.into())],
    };
    p.extend(extra.iter().cloned());
    p
}

/// The workbench URL of a queue with these parameters.
fn link(queue: &str, params: &[(String, String)]) -> String {
    let mut qs = vec![format!("queue={}", url_encode(queue))];
    qs.extend(params.iter().map(|(k, v)| format!("{k}={}", url_encode(v))));
    format!("/console?{}", qs.join("&"))
}
