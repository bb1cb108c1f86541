//! Store evaluation in the console: the stores with their period's
//! inspections, a store added, an inspection on a checklist, the grading
//! with the quotas applied, and the regional league as a chart.

use super::Lang;
use super::layout::{Fields, Shell, error_text, forbidden, form_token, gate, message, render, take_token};
use super::quality::{Line, PeriodForm, cycle_of, items_of};
use crate::AppState;
use crate::auth::CurrentUser;
use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kefu_domain::grading::Grade;
use kefu_domain::quality::Cycle;
use kefu_store::{EvaluationFilter, EvaluationKind, Store};
use serde_json::{Map, Value, json};

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/console/stores", get(list::<S>).post(add::<S>))
        .route("/console/stores/grading", post(grade::<S>))
        .route("/console/stores/{code}", get(store_page::<S>).post(inspect::<S>))
        .route("/console/stores/{code}/rectifications/{inspection}", post(report::<S>))
}

/// A rectification task as a row: store, opened, due, state, what failed,
/// the store's report.
pub(super) struct TaskLine {
    link: String,
    inspection: String,
    cells: Vec<String>,
    overdue: bool,
    failed: String,
    report: String,
    may_report: bool,
}

/// `tasks` as rows; `card` names the failed items (the keys otherwise).
fn task_lines(
    lang: Lang,
    tasks: &[Value],
    cards: &[(kefu_store::ScorecardVersion, kefu_domain::quality::Scorecard)],
    may_report: bool,
) -> Vec<TaskLine> {
    let shown = |v: &Value| super::layout::shown(v.as_str().unwrap_or(""));
    tasks
        .iter()
        .map(|t| {
            let card = cards.iter().find(|(v, _)| Some(v.key.as_str()) == t["scorecard"].as_str()).map(|(_, c)| c);
            let failed: Vec<String> = t["failed_items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| {
                    let key = i["item"].as_str().unwrap_or("");
                    let name = card
                        .and_then(|c| c.item(key))
                        .map_or(key.to_string(), |(_, it)| lang.t(&it.name_zh, &it.name_en).to_string());
                    match i["reason"].as_str() {
                        Some(r) => format!("{name}（{r}）"),
                        None => name,
                    }
                })
                .collect();
            let report = &t["report"];
            let overdue = t["overdue"] == true;
            let state = lang.t(t["state_label"].as_str().unwrap_or(""), t["state_label_en"].as_str().unwrap_or(""));
            TaskLine {
                link: format!("/console/stores/{}", t["store"].as_str().unwrap_or("")),
                inspection: t["inspection"].to_string(),
                cells: vec![
                    t["store_name"].as_str().unwrap_or("").to_string(),
                    t["score"].as_f64().map_or("—".into(), |s| format!("{s:.2}")),
                    shown(&t["opened_at"]),
                    shown(&t["due_at"]),
                    if overdue { format!("{state} · {}", lang.t("已逾期", "overdue")) } else { state.to_string() },
                ],
                overdue,
                failed: failed.join(lang.t("；", "; ")),
                report: if report.is_null() {
                    String::new()
                } else {
                    format!(
                        "{} · {} · {}",
                        report["note"].as_str().unwrap_or(""),
                        report["by"].as_str().unwrap_or(""),
                        shown(&report["at"])
                    )
                },
                may_report: may_report && t["state"] == "open",
            }
        })
        .collect()
}

fn grade_label(lang: Lang, code: &str) -> String {
    Grade::parse(code).map_or_else(|| code.to_string(), |g| lang.t(g.label().0, g.label().1).to_string())
}

#[derive(Template)]
#[template(path = "console/stores.html")]
struct ListPage<'a> {
    shell: Shell<'a>,
    period: String,
    stores: Vec<Line>,
    graded: Vec<Line>,
    summary: String,
    league: Vec<Line>,
    chart: Option<super::reports::Columns>,
    tasks: Vec<TaskLine>,
    may_write: bool,
    error: Option<String>,
    token: String,
}

async fn show_list<S: Store>(
    app: &AppState<S>,
    user: &CurrentUser,
    lang: Lang,
    cycle: Cycle,
    (status, error): (StatusCode, Option<String>),
) -> Response {
    let title = lang.t("营业厅评级", "Store grading");
    let result: Result<ListPage, crate::error::ApiError> = async {
        let outlets = app.kefu.store.outlets().await?;
        let f = EvaluationFilter {
            kind: Some(EvaluationKind::Inspection),
            within: Some(cycle.days()),
            ..Default::default()
        };
        let inspections = app.kefu.store.evaluations(f).await?;
        let policy = &app.kefu.core.policy.quality.grades;
        let stores = outlets
            .iter()
            .map(|o| {
                let mine: Vec<f64> = inspections.iter().filter(|e| e.subject == o.code).map(|e| e.score).collect();
                let score = policy.combine(&mine);
                Line {
                    link: format!("/console/stores/{}?period={cycle}", o.code),
                    cells: vec![
                        o.code.clone(),
                        o.name.clone(),
                        o.region.clone(),
                        mine.len().to_string(),
                        score.map_or("—".into(), |s| format!("{s:.2}")),
                        score.map_or("—".into(), |s| {
                            lang.t(policy.grade(s).label().0, policy.grade(s).label().1).to_string()
                        }),
                    ],
                }
            })
            .collect();
        let kept = app.kefu.store_grading(&cycle.to_string()).await?;
        let rows: Vec<Value> = kept.as_ref().and_then(|g| g["graded"].as_array().cloned()).unwrap_or_default();
        let graded = rows
            .iter()
            .map(|r| Line {
                link: format!("/console/stores/{}?period={cycle}", r["code"].as_str().unwrap_or("")),
                cells: vec![
                    r["rank"].to_string(),
                    r["name"].as_str().unwrap_or("").to_string(),
                    r["region"].as_str().unwrap_or("").to_string(),
                    r["score"].as_f64().map_or("—".into(), |s| format!("{s:.2}")),
                    grade_label(lang, r["earned"].as_str().unwrap_or("")),
                    grade_label(lang, r["grade"].as_str().unwrap_or("")),
                    if r["demoted"] == true {
                        lang.t("超出名额，按名次降级", "over quota, demoted by rank").into()
                    } else {
                        String::new()
                    },
                ],
            })
            .collect();
        let summary = kept.as_ref().map_or_else(String::new, |g| {
            format!(
                "{} {} · {} {} / {} {} · {} {}",
                lang.t("参评", "graded"),
                g["stores"],
                lang.t("优秀名额", "excellent places"),
                g["quotas"]["excellent"],
                lang.t("良好名额", "good places"),
                g["quotas"]["good"],
                lang.t("评级人", "by"),
                g["graded_by"].as_str().unwrap_or("")
            )
        });
        let league_rows = app.kefu.store_league(&cycle.to_string()).await?;
        let league: Vec<Line> = league_rows
            .iter()
            .map(|r| Line {
                link: String::new(),
                cells: vec![
                    r["region"].as_str().unwrap_or("").to_string(),
                    r["stores"].to_string(),
                    r["mean"].as_f64().map_or("—".into(), |m| format!("{m:.2}")),
                    format!("{} / {} / {} / {}", r["excellent"], r["good"], r["compliant"], r["failing"]),
                ],
            })
            .collect();
        let bars: Vec<(String, Option<f64>, String, bool)> = league_rows
            .iter()
            .map(|r| {
                let m = r["mean"].as_f64();
                (
                    r["region"].as_str().unwrap_or("").to_string(),
                    m,
                    m.map_or("—".into(), |m| format!("{m:.1}")),
                    m.is_some_and(|m| m < policy.compliant_from),
                )
            })
            .collect();
        let chart = (!bars.is_empty()).then(|| super::reports::Columns::of(&bars, Some(policy.compliant_from)));
        let pending: Vec<Value> =
            app.kefu.rectifications(None).await?.into_iter().filter(|t| t["pending"] == true).collect();
        let tasks = task_lines(lang, &pending, &app.kefu.scorecards().await?, false);
        Ok(ListPage {
            shell: Shell::new(lang, Some(user), title),
            period: cycle.to_string(),
            stores,
            graded,
            summary,
            league,
            chart,
            tasks,
            may_write: super::quality::reviewer_role(user.actor.role),
            error,
            token: form_token(),
        })
    }
    .await;
    match result {
        Ok(page) => render(status, &page),
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            message(status, lang, Some(user), title, &msg)
        }
    }
}

async fn list<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Query(f): Query<PeriodForm>) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/stores").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    show_list(&app, &user, Lang::of(&headers), cycle_of(&app, &f.period), (StatusCode::OK, None)).await
}

fn body_of(f: &Fields, keys: &[&str]) -> Map<String, Value> {
    keys.iter()
        .filter_map(|k| f.get(*k).map(|v| v.trim()).filter(|v| !v.is_empty()).map(|v| ((*k).to_string(), json!(v))))
        .collect()
}

async fn add<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Form(mut f): Form<Fields>) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/stores").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    if !super::same_origin(&headers) {
        return forbidden(lang, &user);
    }
    take_token(&mut f, "POST /console/stores");
    let cycle = cycle_of(&app, f.get("period").map_or("", |p| p.as_str()));
    match app.kefu.create_outlet(&body_of(&f, &["code", "name", "region", "manager"])).await {
        Ok(o) => Redirect::to(&format!("/console/stores/{}?period={cycle}", o.code)).into_response(),
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            let msg = if status == StatusCode::CONFLICT {
                lang.t("该营业厅编码已存在", "That store code is taken").to_string()
            } else {
                msg
            };
            show_list(&app, &user, lang, cycle, (status, Some(msg))).await
        }
    }
}

async fn grade<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Form(mut f): Form<Fields>) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/stores/grading").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    if !super::same_origin(&headers) {
        return forbidden(lang, &user);
    }
    take_token(&mut f, "POST /console/stores/grading");
    let cycle = cycle_of(&app, f.get("period").map_or("", |p| p.as_str()));
    match app.kefu.grade_stores(&user.actor, &cycle.to_string()).await {
        Ok(_) => Redirect::to(&format!("/console/stores?period={cycle}#graded")).into_response(),
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            show_list(&app, &user, lang, cycle, (status, Some(msg))).await
        }
    }
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct StoreQuery {
    #[serde(default)]
    period: String,
    #[serde(default)]
    card: String,
}

#[derive(Template)]
#[template(path = "console/store.html")]
struct StorePage<'a> {
    shell: Shell<'a>,
    code: String,
    name: String,
    region: String,
    manager: String,
    period: String,
    inspections: Vec<Line>,
    tasks: Vec<TaskLine>,
    tickets: Vec<Line>,
    ticket_counts: String,
    cards: Vec<(String, String, bool)>,
    card_key: String,
    sections: Vec<super::quality::SectionFields>,
    may_write: bool,
    error: Option<String>,
    token: String,
}

async fn show_store<S: Store>(
    app: &AppState<S>,
    user: &CurrentUser,
    lang: Lang,
    code: &str,
    q: &StoreQuery,
    sent: &Fields,
    (status, error): (StatusCode, Option<String>),
) -> Response {
    let title = lang.t("营业厅", "Store");
    let result: Result<StorePage, crate::error::ApiError> = async {
        let o = app.kefu.outlet(code).await?;
        let cycle = cycle_of(app, &q.period);
        let cards: Vec<_> = app.kefu.scorecards().await?.into_iter().filter(|(_, c)| c.usage.for_stores()).collect();
        let card_key =
            if cards.iter().any(|(v, _)| v.key == q.card) { q.card.clone() } else { "store_inspection".to_string() };
        let card = cards.iter().find(|(v, _)| v.key == card_key).map(|(_, c)| c.clone());
        let f = EvaluationFilter {
            kind: Some(EvaluationKind::Inspection),
            subject: Some(o.code.clone()),
            ..Default::default()
        };
        let org = app.kefu.org().await?;
        let policy = &app.kefu.core.policy.quality.grades;
        let inspections = app
            .kefu
            .store
            .evaluations(f)
            .await?
            .iter()
            .rev()
            .map(|e| {
                let g = policy.grade(e.score);
                Line {
                    link: String::new(),
                    cells: vec![
                        e.period.clone(),
                        cards
                            .iter()
                            .find(|(v, _)| v.key == e.scorecard)
                            .map_or(e.scorecard.clone(), |(_, c)| lang.t(&c.name_zh, &c.name_en).to_string()),
                        format!("{:.2}", e.score),
                        lang.t(g.label().0, g.label().1).to_string(),
                        org.user(e.reviewer).map_or_else(String::new, |u| u.display_name.clone()),
                        kefu_domain::time::shanghai_short(e.created_at),
                    ],
                }
            })
            .collect();
        let may_report = app
            .kefu
            .core
            .policy
            .access
            .allows("POST /api/v1/stores/{code}/rectifications/{inspection}/report", user.actor.role)
            == Some(true);
        let tasks = task_lines(lang, &app.kefu.rectifications(Some(&o.code)).await?, &cards, may_report);
        let linked = app.kefu.store_tickets(&user.actor, &o.code, 10).await?;
        let tickets = linked["recent"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| Line {
                link: format!("/console/tickets/{}", t["id"]),
                cells: vec![
                    t["number"].as_str().unwrap_or("").to_string(),
                    t["title"].as_str().unwrap_or("").to_string(),
                    lang.t(t["type_zh"].as_str().unwrap_or(""), t["type"].as_str().unwrap_or("")).to_string(),
                    t["status_zh"].as_str().unwrap_or("").to_string(),
                    super::layout::shown(t["created_at"].as_str().unwrap_or("")),
                ],
            })
            .collect();
        let ticket_counts = format!(
            "{} {} · {} {}",
            lang.t("工单", "tickets"),
            linked["total"],
            lang.t("其中投诉", "complaints"),
            linked["complaints"]
        );
        Ok(StorePage {
            shell: Shell::new(lang, Some(user), title),
            tasks,
            tickets,
            ticket_counts,
            code: o.code.clone(),
            name: o.name.clone(),
            region: o.region.clone(),
            manager: o.manager.clone().unwrap_or_default(),
            period: cycle.to_string(),
            inspections,
            cards: cards
                .iter()
                .map(|(v, c)| (v.key.clone(), lang.t(&c.name_zh, &c.name_en).to_string(), v.key == card_key))
                .collect(),
            sections: card.map(|c| super::quality::card_fields(lang, &c, sent)).unwrap_or_default(),
            card_key,
            may_write: super::quality::reviewer_role(user.actor.role),
            error,
            token: form_token(),
        })
    }
    .await;
    match result {
        Ok(page) => render(status, &page),
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            message(status, lang, Some(user), title, &msg)
        }
    }
}

async fn store_page<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Query(q): Query<StoreQuery>,
) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/stores/{code}").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    show_store(&app, &user, Lang::of(&headers), &code, &q, &Fields::new(), (StatusCode::OK, None)).await
}

async fn inspect<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(mut f): Form<Fields>,
) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/stores/{code}/inspections").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    if !super::same_origin(&headers) {
        return forbidden(lang, &user);
    }
    let idem = take_token(&mut f, "POST /console/stores/inspection");
    let q = StoreQuery {
        period: f.get("period").cloned().unwrap_or_default(),
        card: f.get("scorecard").cloned().unwrap_or_else(|| "store_inspection".into()),
    };
    let card = match app.kefu.scorecard(&q.card, None).await {
        Ok((_, c)) => c,
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            return show_store(&app, &user, lang, &code, &q, &f, (status, Some(msg))).await;
        }
    };
    let mut body = body_of(&f, &["scorecard", "period", "notes"]);
    body.insert("items".into(), items_of(&card, &f));
    match app.kefu.inspect(&user.actor, &code, &body, idem.as_ref()).await {
        Ok(e) => {
            Redirect::to(&format!("/console/stores/{}?period={}&done={}", e.subject, e.period, e.id)).into_response()
        }
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            show_store(&app, &user, lang, &code, &q, &f, (status, Some(msg))).await
        }
    }
}

/// The store reports a rectification done (the form on the store's page).
async fn report<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path((code, inspection)): Path<(String, String)>,
    Form(mut f): Form<Fields>,
) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/stores/{code}/rectifications/{inspection}/report").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    if !super::same_origin(&headers) {
        return forbidden(lang, &user);
    }
    take_token(&mut f, "POST /console/stores/rectification");
    match app.kefu.report_rectification(&user.actor, &code, &inspection, &body_of(&f, &["note"])).await {
        Ok(t) => Redirect::to(&format!("/console/stores/{}#rectifications", t["store"].as_str().unwrap_or("")))
            .into_response(),
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            show_store(&app, &user, lang, &code, &StoreQuery::default(), &f, (status, Some(msg))).await
        }
    }
}
