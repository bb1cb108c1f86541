//! Quality in the console (R-31, R-33): the inspector's queue and the
//! review form beside the ticket's timeline and pre-checks; a review as
//! the agent sees it; violations with the steps each person may take; the
//! weighted ranking with every component's source one click away.

use super::Lang;
use super::layout::{Fields, Shell, error_text, forbidden, form_token, gate, message, render, take_token};
use crate::AppState;
use crate::auth::CurrentUser;
use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kefu_domain::quality::{Cycle, Scorecard, SectionKind};
use kefu_domain::violations::State as VState;
use kefu_domain::{Role, UserId};
use kefu_store::{EvaluationFilter, EvaluationKind, Store, ViolationFilter};
use serde_json::{Map, Value, json};

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/console/quality", get(home::<S>))
        .route("/console/quality/review/{ticket}", get(review_form::<S>).post(submit_review::<S>))
        .route("/console/quality/reviews/{id}", get(review_page::<S>))
        .route("/console/quality/assessments", get(assessments::<S>))
        .route("/console/quality/assessments/export", get(export_csv::<S>))
        .route("/console/quality/calibration", get(calibration_page::<S>))
        .route("/console/quality/scorecards", get(scorecards_page::<S>))
        .route("/console/quality/scorecards/{key}", get(scorecard_page::<S>).post(save_scorecard::<S>))
        .route("/console/quality/violations", post(record_violation::<S>))
        .route("/console/quality/violations/{id}", get(violation_page::<S>).post(violation_step::<S>))
        .route("/console/staff/{username}", get(staff_page::<S>).post(add_training::<S>))
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct PeriodForm {
    #[serde(default)]
    pub(super) period: String,
}

/// The period asked for, this month by default.
pub(super) fn cycle_of<S: Store>(app: &AppState<S>, raw: &str) -> Cycle {
    Cycle::parse(raw, "period").unwrap_or_else(|_| Cycle::month_of(kefu_domain::time::shanghai_date(app.kefu.now())))
}

/// Inspectors, supervisors and admins review, inspect and grade.
pub(super) fn reviewer_role(role: Role) -> bool {
    reviewer(role)
}

fn reviewer(role: Role) -> bool {
    matches!(role, Role::Inspector | Role::Supervisor | Role::Admin)
}

fn score_text(s: f64) -> String {
    format!("{s:.2}").trim_end_matches('0').trim_end_matches('.').to_string()
}

pub(super) struct Line {
    pub(super) link: String,
    pub(super) cells: Vec<String>,
}

#[derive(Template)]
#[template(path = "console/quality_home.html")]
struct HomePage<'a> {
    shell: Shell<'a>,
    period: String,
    reviewer: bool,
    coverage: String,
    queue: Vec<Line>,
    loads: Vec<String>,
    reviews: Vec<Line>,
    violations: Vec<Line>,
}

async fn home<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Query(f): Query<PeriodForm>) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/quality/reviews").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let cycle = cycle_of(&app, &f.period);
    let is_reviewer = reviewer(user.actor.role);
    let result: Result<HomePage, crate::error::ApiError> = async {
        let org = app.kefu.org().await?;
        let mut page = HomePage {
            shell: Shell::new(lang, Some(&user), lang.t("质检与考核", "Quality")),
            period: cycle.to_string(),
            reviewer: is_reviewer,
            coverage: String::new(),
            queue: Vec::new(),
            loads: Vec::new(),
            reviews: Vec::new(),
            violations: Vec::new(),
        };
        if is_reviewer {
            let q = app.kefu.review_queue(cycle).await?;
            page.coverage = format!(
                "{} {} · {} {} · {} {}",
                lang.t("抽样", "sampled"),
                q.sampled,
                lang.t("已质检", "reviewed"),
                q.reviewed,
                lang.t("覆盖率", "coverage"),
                q.coverage.map_or("—".into(), |c| format!("{:.0}%", c * 100.0))
            );
            page.loads = q.reviewers.iter().map(|r| format!("{} {}/{}", r.name, r.reviews, r.goal)).collect();
            page.queue = q
                .items
                .iter()
                .map(|i| Line {
                    link: match i.review {
                        Some((id, _)) => format!("/console/quality/reviews/{id}"),
                        None => format!("/console/quality/review/{}", i.number),
                    },
                    cells: vec![
                        i.number.clone(),
                        i.title.clone(),
                        i.agent_name.clone(),
                        i.reasons.iter().map(|r| lang.t(r.label().0, r.label().1)).collect::<Vec<_>>().join("、"),
                        i.review.map_or_else(|| lang.t("待质检", "to review").to_string(), |(_, s)| score_text(s)),
                    ],
                })
                .collect();
        }
        let f =
            EvaluationFilter { kind: Some(EvaluationKind::Review), within: Some(cycle.days()), ..Default::default() };
        for e in app.kefu.visible_reviews(&user.actor, f).await?.iter().rev().take(50) {
            let agent = e.agent.and_then(|a| org.user(a)).map_or_else(String::new, |u| u.display_name.clone());
            page.reviews.push(Line {
                link: format!("/console/quality/reviews/{}", e.id),
                cells: vec![
                    e.subject.clone(),
                    agent,
                    score_text(e.score),
                    kefu_domain::time::shanghai_short(e.created_at),
                ],
            });
        }
        let vf = ViolationFilter::default();
        for v in app.kefu.visible_violations(&user.actor, vf).await?.iter().take(50) {
            let state = VState::parse(&v.state).unwrap_or(VState::Open);
            let kind = app.kefu.core.policy.quality.violations.kinds.get(&v.kind);
            let agent = org.user(v.agent).map_or_else(String::new, |u| u.display_name.clone());
            page.violations.push(Line {
                link: format!("/console/quality/violations/{}", v.id),
                cells: vec![
                    agent,
                    kind.map_or(v.kind.clone(), |k| lang.t(&k.name_zh, &k.name_en).to_string()),
                    score_text(v.points),
                    lang.t(state.label().0, state.label().1).to_string(),
                    kefu_domain::time::shanghai_short(v.due_at),
                ],
            });
        }
        Ok(page)
    }
    .await;
    match result {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            message(status, lang, Some(&user), lang.t("质检与考核", "Quality"), &msg)
        }
    }
}

/// One item of the form, as the page shows it.
pub(super) struct ItemField {
    pub(super) key: String,
    pub(super) name: String,
    pub(super) max: String,
    pub(super) na: bool,
    pub(super) reason_required: bool,
    pub(super) root_causes: Vec<String>,
    pub(super) points: String,
    pub(super) reason: String,
    pub(super) root_cause: String,
}

pub(super) struct SectionFields {
    pub(super) name: String,
    pub(super) kind: String,
    pub(super) items: Vec<ItemField>,
}

/// The form of a card, filled with what was sent (full points otherwise).
pub(super) fn card_fields(lang: Lang, card: &Scorecard, sent: &Fields) -> Vec<SectionFields> {
    card.sections
        .iter()
        .map(|s| {
            let (kz, ke) = s.kind.label();
            let cap = s.cap.map(|c| format!("（{}{}）", lang.t("上限", "cap "), score_text(c))).unwrap_or_default();
            SectionFields {
                name: lang.t(&s.name_zh, &s.name_en).to_string(),
                kind: format!("{}{cap}", lang.t(kz, ke)),
                items: s
                    .items
                    .iter()
                    .map(|i| {
                        let get = |p: &str| sent.get(&format!("{p}.{}", i.key)).cloned();
                        let default = match s.kind {
                            SectionKind::Standard | SectionKind::RedLine => score_text(i.points),
                            _ => String::new(),
                        };
                        ItemField {
                            key: i.key.clone(),
                            name: lang.t(&i.name_zh, &i.name_en).to_string(),
                            max: score_text(i.points),
                            na: i.na,
                            reason_required: i.reason_required || s.kind == SectionKind::RedLine,
                            root_causes: i.root_causes.clone(),
                            points: get("p").unwrap_or(default),
                            reason: get("r").unwrap_or_default(),
                            root_cause: get("c").unwrap_or_default(),
                        }
                    })
                    .collect(),
            }
        })
        .collect()
}

/// The form's fields as the API's `items`: every item with points given.
pub(super) fn items_of(card: &Scorecard, f: &Fields) -> Value {
    let items: Vec<Value> = card
        .items()
        .filter_map(|(_, i)| {
            let raw = f.get(&format!("p.{}", i.key)).map(|s| kefu_domain::validate::fold_width(s.trim()))?;
            if raw.is_empty() {
                return None;
            }
            let points = match raw.to_ascii_lowercase().as_str() {
                "na" | "n/a" | "不适用" => json!("na"),
                _ => raw.parse::<f64>().map_or(json!(raw), |p| json!(p)),
            };
            let text =
                |p: &str| f.get(&format!("{p}.{}", i.key)).map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
            Some(json!({"item": i.key, "points": points, "reason": text("r"), "root_cause": text("c")}))
        })
        .collect();
    Value::Array(items)
}

#[derive(Template)]
#[template(path = "console/quality_review_form.html")]
struct ReviewForm<'a> {
    shell: Shell<'a>,
    number: String,
    title: String,
    agent: String,
    card_name: String,
    version: i64,
    sections: Vec<SectionFields>,
    flags: Vec<String>,
    events: Vec<super::ticket::Entry>,
    notes: Vec<super::ticket::Entry>,
    error: Option<String>,
    token: String,
}

async fn show_review_form<S: Store>(
    app: &AppState<S>,
    user: &CurrentUser,
    lang: Lang,
    key: &str,
    sent: &Fields,
    (status, error): (StatusCode, Option<String>),
) -> Response {
    let title = lang.t("质检评分", "Review");
    let result: Result<ReviewForm, crate::error::ApiError> = async {
        let t = app.kefu.visible_ticket(&user.actor, key).await?;
        let (v, card) = app.kefu.scorecard("ticket_review", None).await?;
        let flags =
            app.kefu.prechecks(&t).await?.into_iter().map(|f| lang.t(&f.label_zh, &f.label_en).to_string()).collect();
        let (events, _, _, notes) = super::ticket::timeline(app, user, lang, &t).await;
        let agent = t.assignee.unwrap_or(t.first_owner);
        Ok(ReviewForm {
            shell: Shell::new(lang, Some(user), title),
            number: t.number.clone(),
            title: t.title.clone(),
            agent: app.kefu.core.directory.summary(agent).name,
            card_name: lang.t(&card.name_zh, &card.name_en).to_string(),
            version: v.version,
            sections: card_fields(lang, &card, sent),
            flags,
            events,
            notes,
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

async fn review_form<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/quality/reviews").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    show_review_form(&app, &user, Lang::of(&headers), &key, &Fields::new(), (StatusCode::OK, None)).await
}

async fn submit_review<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path(key): Path<String>,
    Form(mut f): Form<Fields>,
) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/quality/reviews").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    if !super::same_origin(&headers) {
        return forbidden(lang, &user);
    }
    let idem = take_token(&mut f, "POST /console/quality/review");
    let card = match app.kefu.scorecard("ticket_review", None).await {
        Ok((_, c)) => c,
        Err(e) => return message(error_text(lang, e).0, lang, Some(&user), "500", "scorecard"),
    };
    let mut body = Map::new();
    body.insert("ticket".into(), json!(key));
    body.insert("items".into(), items_of(&card, &f));
    if let Some(n) = f.get("notes").map(|n| n.trim()).filter(|n| !n.is_empty()) {
        body.insert("notes".into(), json!(n));
    }
    if let Some(s) = f.get("calibration").map(|n| n.trim()).filter(|n| !n.is_empty()) {
        body.insert("calibration".into(), json!(s));
    }
    match app.kefu.review_ticket(&user.actor, &body, idem.as_ref()).await {
        Ok(e) => Redirect::to(&format!("/console/quality/reviews/{}", e.id)).into_response(),
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            show_review_form(&app, &user, lang, &key, &f, (status, Some(msg))).await
        }
    }
}

struct ScoredLine {
    section: String,
    name: String,
    points: String,
    max: String,
    reason: String,
    root_cause: String,
    lost: bool,
}

#[derive(Template)]
#[template(path = "console/quality_review.html")]
struct ReviewPage<'a> {
    shell: Shell<'a>,
    id: i64,
    kind: String,
    subject: String,
    ticket_link: Option<String>,
    agent: String,
    reviewer: String,
    card: String,
    score: String,
    parts: String,
    red_lines: bool,
    notes: String,
    lines: Vec<ScoredLine>,
    may_record: bool,
    kinds: Vec<(String, String)>,
    agent_username: String,
    token: String,
}

async fn review_page<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/quality/reviews/{id}").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let title = lang.t("质检记录", "Review");
    let result: Result<ReviewPage, crate::error::ApiError> = async {
        let id: i64 =
            id.parse().map_err(|_| crate::error::ApiError::NotFound { what: "review", what_zh: "质检记录" })?;
        let e = app.kefu.review_for(&user.actor, id).await?;
        let (_, card) = app.kefu.scorecard(&e.scorecard, Some(e.version)).await?;
        let body: Value = serde_json::from_str(&e.body).unwrap_or_default();
        let scored = &body["scored"];
        let org = app.kefu.org().await?;
        let name = |u: Option<UserId>| u.and_then(|u| org.user(u)).map_or_else(String::new, |u| u.display_name.clone());
        let lines = scored["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| {
                let key = i["item"].as_str().unwrap_or("");
                let (s, it) = card.item(key).map_or((String::new(), key.to_string()), |(s, it)| {
                    (lang.t(&s.name_zh, &s.name_en).to_string(), lang.t(&it.name_zh, &it.name_en).to_string())
                });
                ScoredLine {
                    section: s,
                    name: it,
                    points: i["points"].as_f64().map_or_else(|| lang.t("不适用", "N/A").to_string(), score_text),
                    max: i["max"].as_f64().map(score_text).unwrap_or_default(),
                    reason: i["reason"].as_str().unwrap_or("").to_string(),
                    root_cause: i["root_cause"].as_str().unwrap_or("").to_string(),
                    lost: i["lost"].as_bool().unwrap_or(false),
                }
            })
            .collect();
        let num = |k: &str| scored[k].as_f64().map(score_text).unwrap_or_default();
        let policy = &app.kefu.core.policy.quality.violations;
        Ok(ReviewPage {
            shell: Shell::new(lang, Some(&user), title),
            id: e.id,
            kind: if e.kind == EvaluationKind::Calibration {
                format!(
                    "{}（{}）",
                    lang.t("校准评分，不计入考核", "Calibration, not counted"),
                    body["session"].as_str().unwrap_or("")
                )
            } else {
                lang.t("质检评分", "QA review").to_string()
            },
            ticket_link: e.ticket.map(|_| format!("/console/tickets/{}", e.subject)),
            subject: e.subject.clone(),
            agent: name(e.agent),
            reviewer: name(Some(e.reviewer)),
            card: format!("{} v{}", lang.t(&card.name_zh, &card.name_en), e.version),
            score: score_text(e.score),
            parts: format!(
                "{} {} · {} {} · {} {}",
                lang.t("基础分", "base"),
                num("base"),
                lang.t("加分", "bonus"),
                num("bonus"),
                lang.t("扣分", "deduction"),
                num("deduction")
            ),
            red_lines: scored["red_lines_failed"].as_array().is_some_and(|a| !a.is_empty()),
            notes: body["notes"].as_str().unwrap_or("").to_string(),
            lines,
            may_record: matches!(user.actor.role, Role::Inspector | Role::Supervisor) && e.agent != Some(user.actor.id),
            kinds: policy.kinds.iter().map(|(k, v)| (k.clone(), lang.t(&v.name_zh, &v.name_en).to_string())).collect(),
            agent_username: e.agent.and_then(|a| org.user(a)).map_or_else(String::new, |u| u.username.clone()),
            token: form_token(),
        })
    }
    .await;
    match result {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            message(status, lang, Some(&user), title, &msg)
        }
    }
}

async fn record_violation<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Form(mut f): Form<Fields>,
) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/quality/violations").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    if !super::same_origin(&headers) {
        return forbidden(lang, &user);
    }
    take_token(&mut f, "POST /console/quality/violations");
    let mut body = Map::new();
    for k in ["agent", "kind", "description", "ticket"] {
        if let Some(v) = f.get(k).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            body.insert(k.into(), json!(v));
        }
    }
    if let Some(p) = f.get("points").map(|p| kefu_domain::validate::fold_width(p.trim())).filter(|p| !p.is_empty()) {
        body.insert("points".into(), p.parse::<f64>().map_or(json!(p), |n| json!(n)));
    }
    if let Some(r) = f.get("review").and_then(|r| r.parse::<i64>().ok()) {
        body.insert("review".into(), json!(r));
    }
    match app.kefu.record_violation(&user.actor, &body).await {
        Ok(v) => Redirect::to(&format!("/console/quality/violations/{}", v.id)).into_response(),
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            message(status, lang, Some(&user), lang.t("记录违规", "Record a violation"), &msg)
        }
    }
}

/// A step's form: the action, its label, what the text box asks, and the
/// yes/no choice it needs (field, yes, no).
struct StepForm {
    action: String,
    label: String,
    prompt: String,
    choice: Option<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "console/quality_violation.html")]
struct ViolationPage<'a> {
    shell: Shell<'a>,
    id: i64,
    facts: Vec<(String, String)>,
    events: Vec<Vec<String>>,
    /// The steps this person may take now.
    steps: Vec<StepForm>,
    error: Option<String>,
    token: String,
}

async fn show_violation<S: Store>(
    app: &AppState<S>,
    user: &CurrentUser,
    lang: Lang,
    id: &str,
    (status, error): (StatusCode, Option<String>),
) -> Response {
    let title = lang.t("违规记录", "Violation");
    let result: Result<ViolationPage, crate::error::ApiError> = async {
        let id: i64 =
            id.parse().map_err(|_| crate::error::ApiError::NotFound { what: "violation", what_zh: "违规记录" })?;
        let v = app.kefu.violation_for(&user.actor, id).await?;
        let org = app.kefu.org().await?;
        let name = |u: UserId| org.user(u).map_or_else(String::new, |u| u.display_name.clone());
        let state = VState::parse(&v.state).unwrap_or(VState::Open);
        let kind = app.kefu.core.policy.quality.violations.kinds.get(&v.kind);
        let local = kefu_domain::time::shanghai_short;
        let now = app.kefu.now();
        let mut facts = vec![
            (lang.t("当事人", "Agent").to_string(), name(v.agent)),
            (
                lang.t("类型", "Kind").to_string(),
                kind.map_or(v.kind.clone(), |k| lang.t(&k.name_zh, &k.name_en).to_string()),
            ),
            (lang.t("扣分", "Points").to_string(), score_text(v.points)),
            (lang.t("状态", "State").to_string(), lang.t(state.label().0, state.label().1).to_string()),
            (lang.t("说明", "Description").to_string(), v.description.clone()),
            (lang.t("申诉截止", "Appeal until").to_string(), local(v.appeal_until)),
            (lang.t("整改期限", "Rectify by").to_string(), local(v.due_at)),
            (lang.t("记录人", "Recorded by").to_string(), name(v.recorded_by)),
        ];
        if state == VState::Open && now > v.due_at {
            facts.push((
                lang.t("逾期", "Overdue").to_string(),
                lang.t("整改已逾期", "rectification overdue").to_string(),
            ));
        }
        let events = app
            .kefu
            .store
            .violation_events(v.id)
            .await?
            .iter()
            .map(|e| {
                let st = VState::parse(&e.state).unwrap_or(VState::Open);
                vec![
                    local(e.at),
                    step_label(lang, &e.action),
                    name(e.actor),
                    e.note.clone(),
                    lang.t(st.label().0, st.label().1).to_string(),
                ]
            })
            .collect();
        let me = user.actor.id;
        let mut steps = Vec::new();
        let yes_no = |field: &str, yes: &str, no: &str| Some((field.to_string(), yes.to_string(), no.to_string()));
        match state {
            VState::Open if v.agent == me => {
                if v.appealed_at.is_none() && now <= v.appeal_until {
                    steps.push(StepForm {
                        action: "appeal".into(),
                        label: step_label(lang, "appeal"),
                        prompt: lang.t("申诉理由", "Reason").into(),
                        choice: None,
                    });
                }
                steps.push(StepForm {
                    action: "rectify".into(),
                    label: step_label(lang, "rectify"),
                    prompt: lang.t("整改说明", "What was done").into(),
                    choice: None,
                });
            }
            VState::Appealed
                if v.agent != me
                    && v.recorded_by != me
                    && matches!(user.actor.role, Role::Supervisor | Role::Admin) =>
            {
                let yn = yes_no("upheld", lang.t("维持", "Uphold"), lang.t("撤销", "Overturn"));
                steps.push(StepForm {
                    action: "decide".into(),
                    label: step_label(lang, "decide"),
                    prompt: lang.t("裁定意见", "Decision note").into(),
                    choice: yn,
                });
            }
            VState::Rectified if v.agent != me && matches!(user.actor.role, Role::Inspector | Role::Supervisor) => {
                let yn = yes_no("passed", lang.t("通过", "Passed"), lang.t("不通过", "Not passed"));
                steps.push(StepForm {
                    action: "recheck".into(),
                    label: step_label(lang, "recheck"),
                    prompt: lang.t("复查意见", "Re-check note").into(),
                    choice: yn,
                });
            }
            _ => {}
        }
        Ok(ViolationPage {
            shell: Shell::new(lang, Some(user), title),
            id: v.id,
            facts,
            events,
            steps,
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

fn step_label(lang: Lang, action: &str) -> String {
    let (zh, en) = match action {
        "record" => ("记录违规", "Recorded"),
        "appeal" => ("申诉", "Appeal"),
        "decide" => ("申诉裁定", "Decision"),
        "rectify" => ("提交整改", "Rectification"),
        "recheck" => ("整改复查", "Re-check"),
        other => (other, other),
    };
    lang.t(zh, en).to_string()
}

async fn violation_page<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/quality/violations/{id}").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    show_violation(&app, &user, Lang::of(&headers), &id, (StatusCode::OK, None)).await
}

async fn violation_step<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(mut f): Form<Fields>,
) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/quality/violations/{id}/steps").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    if !super::same_origin(&headers) {
        return forbidden(lang, &user);
    }
    take_token(&mut f, "POST /console/quality/violations/step");
    let Ok(num) = id.parse::<i64>() else {
        return message(StatusCode::NOT_FOUND, lang, Some(&user), "404", lang.t("违规记录不存在", "No such violation"));
    };
    let action = f.get("action").cloned().unwrap_or_default();
    let mut body = Map::new();
    body.insert("action".into(), json!(action));
    let text = f.get("text").map(|t| t.trim().to_string()).unwrap_or_default();
    body.insert((if action == "appeal" { "reason" } else { "note" }).into(), json!(text));
    for k in ["upheld", "passed"] {
        if let Some(v) = f.get(k) {
            body.insert(k.into(), json!(v == "true"));
        }
    }
    match app.kefu.step_violation(&user.actor, num, &body).await {
        Ok(_) => Redirect::to(&format!("/console/quality/violations/{num}")).into_response(),
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            show_violation(&app, &user, lang, &id, (status, Some(msg))).await
        }
    }
}

#[derive(Template)]
#[template(path = "console/quality_assessments.html")]
struct AssessmentsPage<'a> {
    shell: Shell<'a>,
    period: String,
    heads: Vec<String>,
    rows: Vec<Line>,
    sources: Vec<(String, String)>,
    note: String,
}

async fn assessments<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Query(f): Query<PeriodForm>,
) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/quality/assessments").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let title = lang.t("考核排名", "Assessment ranking");
    let cycle = if f.period.trim().is_empty() { cycle_of(&app, "") } else { cycle_of(&app, &f.period) };
    let a = match app.kefu.assessments(&user.actor, &cycle.to_string()).await {
        Ok(a) => a,
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            return message(status, lang, Some(&user), title, &msg);
        }
    };
    let dims = a["weights"].as_array().cloned().unwrap_or_default();
    let mut heads = vec![
        lang.t("名次", "Rank").to_string(),
        lang.t("姓名", "Name").to_string(),
        lang.t("班组", "Team").to_string(),
    ];
    for d in &dims {
        let w = d["weight"].as_f64().unwrap_or(0.0) * 100.0;
        heads.push(format!(
            "{} {w:.0}%",
            lang.t(d["name_zh"].as_str().unwrap_or(""), d["name_en"].as_str().unwrap_or(""))
        ));
    }
    heads.extend([lang.t("违规扣分", "Deductions").to_string(), lang.t("总分", "Total").to_string()]);
    // Where each dimension's figures are, on the console.
    let (from, to) = cycle.days();
    let sources = app
        .kefu
        .core
        .policy
        .quality
        .assessment
        .dimensions
        .iter()
        .map(|d| {
            let link = match &d.source {
                kefu_domain::assessment::Source::Metric { metric, ticket_type, .. } => format!(
                    "/console/reports?metric={metric}&group_by=agent&from={from}&to={to}{}",
                    ticket_type.as_ref().map_or(String::new(), |t| format!("&type={t}"))
                ),
                kefu_domain::assessment::Source::Reviews => format!("/console/quality?period={cycle}"),
                kefu_domain::assessment::Source::Innovation { .. } => {
                    format!("/console/quality?period={cycle}#innovation")
                }
            };
            (lang.t(&d.name_zh, &d.name_en).to_string(), link)
        })
        .collect();
    let rows = a["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let mut cells = vec![
                r["rank"].as_i64().map_or("—".into(), |n| n.to_string()),
                r["name"].as_str().unwrap_or("").to_string(),
                r["team"].as_str().unwrap_or("—").to_string(),
            ];
            for c in r["components"].as_array().into_iter().flatten() {
                cells.push(c["score"].as_f64().map_or_else(|| lang.t("无数据", "no data").to_string(), score_text));
            }
            cells.push(r["deduction"].as_f64().map(score_text).unwrap_or_default());
            cells.push(r["total"].as_f64().map(score_text).unwrap_or_default());
            Line { link: format!("/console/staff/{}", r["agent"].as_str().unwrap_or("")), cells }
        })
        .collect();
    let note = match a["missing"].as_str() {
        Some("redistribute") => lang.t(
            "无数据的维度不计，其权重按比例分摊到其余维度。",
            "A dimension with no data is left out; its weight is shared among the others.",
        ),
        _ => lang.t("无数据的维度按 0 分计。", "A dimension with no data scores 0."),
    };
    let page = AssessmentsPage {
        shell: Shell::new(lang, Some(&user), title),
        period: cycle.to_string(),
        heads,
        rows,
        sources,
        note: note.to_string(),
    };
    render(StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "console/staff_record.html")]
struct StaffPage<'a> {
    shell: Shell<'a>,
    username: String,
    facts: Vec<(String, String)>,
    trainings: Vec<Vec<String>>,
    months: Vec<Vec<String>>,
    violations: Vec<Line>,
    history: Vec<Vec<String>>,
    may_add: bool,
    error: Option<String>,
    token: String,
}

async fn show_staff<S: Store>(
    app: &AppState<S>,
    user: &CurrentUser,
    lang: Lang,
    username: &str,
    (status, error): (StatusCode, Option<String>),
) -> Response {
    let title = lang.t("员工档案", "Staff record");
    let result: Result<StaffPage, crate::error::ApiError> = async {
        let r = app.kefu.staff_record(&user.actor, username).await?;
        let text = |v: &Value| {
            v.as_str().map_or_else(|| if v.is_null() { "—".to_string() } else { v.to_string() }, str::to_string)
        };
        let role = Role::parse(r["role"].as_str().unwrap_or(""), "role")
            .map_or_else(|_| text(&r["role"]), |ro| lang.t(ro.label_zh(), ro.as_str()).to_string());
        let facts = vec![
            (lang.t("姓名", "Name").to_string(), text(&r["name"])),
            (lang.t("角色", "Role").to_string(), role),
            (lang.t("班组", "Team").to_string(), text(&r["team"])),
            (lang.t("层级", "Tier").to_string(), r["tier"].as_u64().map_or("—".into(), |t| format!("L{t}"))),
            (lang.t("技能", "Skills").to_string(), text(&r[lang.t("skills_zh", "skills_en")])),
            (
                lang.t("累计培训学时", "Training hours").to_string(),
                r["training_hours"].as_f64().map_or("0".into(), score_text),
            ),
            (
                lang.t("质检", "Reviews").to_string(),
                format!(
                    "{} {} · {} {}",
                    lang.t("次数", "count"),
                    r["reviews"]["count"],
                    lang.t("均分", "mean"),
                    r["reviews"]["mean"].as_f64().map_or("—".into(), score_text)
                ),
            ),
        ];
        let trainings = r["trainings"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                vec![
                    text(&t["day"]),
                    text(&t["course"]),
                    t["hours"].as_f64().map_or(String::new(), score_text),
                    text(&t["result"]),
                    text(&t["certificate"]),
                    text(&t["recorded_by"]),
                ]
            })
            .collect();
        let months = r["assessments"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                let rank = m["rank"]
                    .as_i64()
                    .map_or_else(|| lang.t("未参评", "not ranked").to_string(), |n| format!("{n} / {}", m["of"]));
                vec![
                    text(&m["period"]),
                    m["total"].as_f64().map_or("—".into(), score_text),
                    m["deduction"].as_f64().map_or("0".into(), score_text),
                    rank,
                ]
            })
            .collect();
        let violations = r["violations"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| Line {
                link: format!("/console/quality/violations/{}", v["id"]),
                cells: vec![
                    super::layout::shown(v["created_at"].as_str().unwrap_or("")),
                    lang.t(v["kind_label"].as_str().unwrap_or(""), v["kind_label_en"].as_str().unwrap_or(""))
                        .to_string(),
                    v["points"].as_f64().map_or(String::new(), score_text),
                    lang.t(v["state_label"].as_str().unwrap_or(""), v["state_label_en"].as_str().unwrap_or(""))
                        .to_string(),
                ],
            })
            .collect();
        let history = r["history"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|h| {
                let pick = |zh: &str, en: &str| text(&h[lang.t(zh, en)]);
                vec![
                    super::layout::shown(h["at"].as_str().unwrap_or("")),
                    pick("field_zh", "field_en"),
                    pick("from", "from_en"),
                    pick("to", "to_en"),
                    h["by"].as_str().map_or_else(|| lang.t("系统", "system").to_string(), str::to_string),
                ]
            })
            .collect();
        let subject = r["username"].as_str().unwrap_or("").to_string();
        Ok(StaffPage {
            shell: Shell::new(lang, Some(user), title),
            may_add: matches!(user.actor.role, Role::Supervisor | Role::Inspector) && subject != user.actor.username,
            username: subject,
            facts,
            trainings,
            months,
            violations,
            history,
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

async fn staff_page<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path(username): Path<String>,
) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/staff/{username}/record").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    show_staff(&app, &user, Lang::of(&headers), &username, (StatusCode::OK, None)).await
}

async fn add_training<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path(username): Path<String>,
    Form(mut f): Form<Fields>,
) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/staff/{username}/trainings").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    if !super::same_origin(&headers) {
        return forbidden(lang, &user);
    }
    take_token(&mut f, "POST /console/staff/training");
    let mut body = Map::new();
    for k in ["course", "day", "result", "certificate"] {
        if let Some(v) = f.get(k).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            body.insert(k.into(), json!(v));
        }
    }
    if let Some(h) = f.get("hours").map(|h| kefu_domain::validate::fold_width(h.trim())).filter(|h| !h.is_empty()) {
        body.insert("hours".into(), h.parse::<f64>().map_or(json!(h), |n| json!(n)));
    }
    match app.kefu.record_training(&user.actor, &username, &body).await {
        Ok(_) => Redirect::to(&format!("/console/staff/{username}")).into_response(),
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            show_staff(&app, &user, lang, &username, (status, Some(msg))).await
        }
    }
}

async fn export_csv<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Query(f): Query<PeriodForm>,
) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/quality/assessments/export").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    match app.kefu.assessment_csv(&user.actor, &cycle_of(&app, &f.period).to_string()).await {
        Ok((name, text)) => (
            [
                (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (axum::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
            ],
            text,
        )
            .into_response(),
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            message(status, lang, Some(&user), lang.t("考核排名", "Assessment ranking"), &msg)
        }
    }
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct SessionForm {
    #[serde(default)]
    session: String,
}

#[derive(Template)]
#[template(path = "console/quality_calibration.html")]
struct CalibrationPage<'a> {
    shell: Shell<'a>,
    session: String,
    tickets: Vec<Vec<String>>,
    items: Vec<Vec<String>>,
    error: Option<String>,
}

async fn calibration_page<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Query(f): Query<SessionForm>,
) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/quality/calibration").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let mut page = CalibrationPage {
        shell: Shell::new(lang, Some(&user), lang.t("校准会话", "Calibration")),
        session: f.session.clone(),
        tickets: Vec::new(),
        items: Vec::new(),
        error: None,
    };
    if f.session.trim().is_empty() {
        return render(StatusCode::OK, &page);
    }
    let card = app.kefu.scorecard("ticket_review", None).await.ok().map(|(_, c)| c);
    match app.kefu.calibration(&f.session).await {
        Ok(c) => {
            let scores = |v: &Value, k: &str| {
                v.as_array()
                    .into_iter()
                    .flatten()
                    .map(|x| format!("{} {}", x["reviewer"].as_str().unwrap_or(""), x[k]))
                    .collect::<Vec<_>>()
                    .join("；")
            };
            page.tickets = c["tickets"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| {
                    vec![
                        t["ticket"].as_str().unwrap_or("").to_string(),
                        scores(&t["scores"], "score"),
                        t["spread"].to_string(),
                    ]
                })
                .collect();
            page.items = c["items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| {
                    let key = i["item"].as_str().unwrap_or("");
                    let name = card
                        .as_ref()
                        .and_then(|c| c.item(key))
                        .map_or(key.to_string(), |(_, it)| lang.t(&it.name_zh, &it.name_en).to_string());
                    vec![
                        i["ticket"].as_str().unwrap_or("").to_string(),
                        name,
                        scores(&i["points"], "points"),
                        i["spread"].to_string(),
                    ]
                })
                .collect();
            render(StatusCode::OK, &page)
        }
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            page.error = Some(msg);
            render(status, &page)
        }
    }
}

#[derive(Template)]
#[template(path = "console/quality_scorecards.html")]
struct ScorecardsPage<'a> {
    shell: Shell<'a>,
    /// (key, name, use, version, standard points)
    cards: Vec<(String, String, String, i64, String)>,
}

async fn scorecards_page<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/quality/scorecards").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let title = lang.t("评分表", "Scorecards");
    match app.kefu.scorecards().await {
        Ok(list) => {
            let cards = list
                .iter()
                .map(|(v, c)| {
                    let (uz, ue) = c.usage.label();
                    (
                        v.key.clone(),
                        lang.t(&c.name_zh, &c.name_en).to_string(),
                        lang.t(uz, ue).to_string(),
                        v.version,
                        score_text(c.standard_points()),
                    )
                })
                .collect();
            render(StatusCode::OK, &ScorecardsPage { shell: Shell::new(lang, Some(&user), title), cards })
        }
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            message(status, lang, Some(&user), title, &msg)
        }
    }
}

#[derive(Template)]
#[template(path = "console/quality_scorecard.html")]
struct ScorecardPage<'a> {
    shell: Shell<'a>,
    key: String,
    name: String,
    version: i64,
    text: String,
    may_edit: bool,
    error: Option<String>,
    saved: bool,
    token: String,
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct SavedForm {
    #[serde(default)]
    saved: String,
}

async fn show_scorecard<S: Store>(
    app: &AppState<S>,
    user: &CurrentUser,
    lang: Lang,
    key: &str,
    text: Option<String>,
    (status, error, saved): (StatusCode, Option<String>, bool),
) -> Response {
    let title = lang.t("评分表", "Scorecard");
    match app.kefu.scorecard(key, None).await {
        Ok((v, c)) => {
            let may_edit = app
                .kefu
                .core
                .policy
                .access
                .endpoints
                .get("PUT /api/v1/quality/scorecards/{key}")
                .is_some_and(|roles| roles.contains(&user.actor.role));
            let page = ScorecardPage {
                shell: Shell::new(lang, Some(user), title),
                key: v.key.clone(),
                name: lang.t(&c.name_zh, &c.name_en).to_string(),
                version: v.version,
                text: text.unwrap_or_else(|| c.to_toml()),
                may_edit,
                error,
                saved,
                token: form_token(),
            };
            render(status, &page)
        }
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            message(status, lang, Some(user), title, &msg)
        }
    }
}

async fn scorecard_page<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path(key): Path<String>,
    Query(f): Query<SavedForm>,
) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/quality/scorecards/{key}").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    show_scorecard(&app, &user, Lang::of(&headers), &key, None, (StatusCode::OK, None, !f.saved.is_empty())).await
}

async fn save_scorecard<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path(key): Path<String>,
    Form(mut f): Form<Fields>,
) -> Response {
    let user = match gate(&app, &headers, "PUT /api/v1/quality/scorecards/{key}").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    if !super::same_origin(&headers) {
        return forbidden(lang, &user);
    }
    take_token(&mut f, "POST /console/quality/scorecards");
    let text = f.get("card").cloned().unwrap_or_default();
    let saved = match Scorecard::from_toml(&text) {
        Ok(card) => app.kefu.keep_scorecard(&user.actor, &key, card).await,
        Err(e) => Err(e.into()),
    };
    match saved {
        Ok(_) => Redirect::to(&format!("/console/quality/scorecards/{key}?saved=1")).into_response(),
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            show_scorecard(&app, &user, lang, &key, Some(text), (status, Some(msg), false)).await
        }
    }
}
