//! Quality over HTTP: scorecards, QA reviews, the weighted
//! assessment, innovation entries.

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::service::quality::{evaluation_json, scorecard_json};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use kefu_domain::quality::Cycle;
use kefu_store::{EvaluationFilter, EvaluationKind, Store};
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/api/v1/quality/scorecards", get(scorecards::<S>))
        .route("/api/v1/quality/scorecards/{key}", get(scorecard::<S>).put(save_scorecard::<S>))
        .route("/api/v1/quality/reviews", get(reviews::<S>).post(create_review::<S>))
        .route("/api/v1/quality/reviews/{id}", get(review::<S>))
        .route("/api/v1/quality/assessments", get(assessments::<S>))
        .route("/api/v1/quality/assessments/export", get(export_assessments::<S>))
        .route("/api/v1/quality/calibration", get(calibration::<S>))
        .route("/api/v1/quality/innovations", get(innovations::<S>).post(create_innovation::<S>))
        .route("/api/v1/quality/queue", get(queue::<S>))
        .route("/api/v1/quality/prechecks/{ticket}", get(prechecks::<S>))
        .route("/api/v1/quality/violations", get(violations::<S>).post(create_violation::<S>))
        .route("/api/v1/quality/violations/{id}", get(violation::<S>))
        .route("/api/v1/quality/violations/{id}/steps", axum::routing::post(step_violation::<S>))
}

/// Every scorecard at its latest version, with sections, items and labels.
#[utoipa::path(get, path = "/api/v1/quality/scorecards", tag = "quality", security(("bearer" = [])),
    responses((status = 200, description = "{items: [scorecard]}")))]
pub async fn scorecards<S: Store>(State(app): State<AppState<S>>, _user: CurrentUser) -> Result<Json<Value>, ApiError> {
    let items: Vec<Value> = app.kefu.scorecards().await?.iter().map(|(v, c)| scorecard_json(v, c)).collect();
    Ok(Json(json!({ "items": items })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct VersionQuery {
    /// A version kept earlier; default the latest.
    pub version: Option<i64>,
}

/// One scorecard (the latest version, or the one asked for).
#[utoipa::path(get, path = "/api/v1/quality/scorecards/{key}", tag = "quality", security(("bearer" = [])),
    params(("key" = String, Path), VersionQuery), responses((status = 200, description = "the scorecard"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn scorecard<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
    Path(key): Path<String>,
    Query(q): Query<VersionQuery>,
) -> Result<Json<Value>, ApiError> {
    let (v, c) = app.kefu.scorecard(&key, q.version).await?;
    Ok(Json(scorecard_json(&v, &c)))
}

/// A new version of a scorecard (`{name_zh, name_en, usage, sections}`);
/// reviews already made keep the version they used.
#[utoipa::path(put, path = "/api/v1/quality/scorecards/{key}", tag = "quality", security(("bearer" = [])),
    params(("key" = String, Path)), responses((status = 200, description = "the new version"), (status = 422, body = crate::error::ErrorBody)))]
pub async fn save_scorecard<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(key): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Value>, ApiError> {
    let (v, c) = app.kefu.save_scorecard(&user.actor, &key, body).await?;
    Ok(Json(scorecard_json(&v, &c)))
}

/// A QA review of a ticket: `{ticket, scorecard?, items: [{item, points | "na", reason?, root_cause?}], agent?, period?, notes?, calibration?}`.
/// The score is the weighted mean of the rated items (N/A out), bonus and
/// deductions capped, 0 on a failed red line; a calibration review counts
/// for nobody.
#[utoipa::path(post, path = "/api/v1/quality/reviews", tag = "quality", security(("bearer" = [])),
    responses((status = 201, description = "{id, score, …}"), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_review<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    crate::extract::Idempotent { key, body }: crate::extract::Idempotent<Map<String, Value>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let e = app.kefu.review_ticket(&user.actor, &body, key.as_ref()).await?;
    let org = app.kefu.org().await?;
    Ok((StatusCode::CREATED, Json(evaluation_json(&e, &org))))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ReviewQuery {
    /// A month (`2026-11`) or quarter (`2026-Q4`): reviews of the work in it.
    pub period: Option<String>,
    /// Username.
    pub agent: Option<String>,
    /// Ticket number.
    pub ticket: Option<String>,
    /// `review` (default) or `calibration`.
    pub kind: Option<String>,
}

/// Reviews: all for supervisors, inspectors and admins; a lead's teams';
/// otherwise the caller's own.
#[utoipa::path(get, path = "/api/v1/quality/reviews", tag = "quality", security(("bearer" = [])),
    params(ReviewQuery), responses((status = 200, description = "{items}"), (status = 422, body = crate::error::ErrorBody)))]
pub async fn reviews<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Query(q): Query<ReviewQuery>,
) -> Result<Json<Value>, ApiError> {
    let kind = match q.kind.as_deref() {
        None | Some("") | Some("review") => EvaluationKind::Review,
        Some("calibration") => EvaluationKind::Calibration,
        Some(_) => {
            return Err(kefu_domain::FieldError::new(
                "kind",
                "kind is review or calibration",
                "kind 须为 review 或 calibration",
            )
            .into());
        }
    };
    let org = app.kefu.org().await?;
    let agent = crate::service::quality::staff_filter(&org, q.agent.as_deref())?;
    let within = match q.period.as_deref().filter(|p| !p.trim().is_empty()) {
        Some(p) => Some(Cycle::parse(p, "period")?.days()),
        None => None,
    };
    let ticket = match q.ticket.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => Some(app.kefu.visible_ticket(&user.actor, t).await?.id),
        None => None,
    };
    let f = EvaluationFilter { kind: Some(kind), within, agent, ticket, ..Default::default() };
    let list = app.kefu.visible_reviews(&user.actor, f).await?;
    let items: Vec<Value> = list.iter().rev().map(|e| evaluation_json(e, &org)).collect();
    Ok(Json(json!({ "items": items })))
}

/// One review with its scored items.
#[utoipa::path(get, path = "/api/v1/quality/reviews/{id}", tag = "quality", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, description = "the review"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn review<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let e = app.kefu.review_for(&user.actor, id).await?;
    let org = app.kefu.org().await?;
    Ok(Json(evaluation_json(&e, &org)))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct PeriodQuery {
    /// A month (`2026-11`) or quarter (`2026-Q4`).
    pub period: Option<String>,
    /// Username (innovation entries).
    pub agent: Option<String>,
}

fn period_of<S: Store>(app: &AppState<S>, q: &PeriodQuery) -> String {
    q.period.clone().filter(|p| !p.trim().is_empty()).unwrap_or_else(|| {
        let today = kefu_domain::time::shanghai_date(app.kefu.now());
        Cycle::month_of(today).to_string()
    })
}

/// The assessment scorecard of the period: agents ranked by the
/// weighted total, each component with its source figures.
#[utoipa::path(get, path = "/api/v1/quality/assessments", tag = "quality", security(("bearer" = [])),
    params(PeriodQuery), responses((status = 200, description = "{period, weights, items: [{rank, agent, total, components}]}"), (status = 422, body = crate::error::ErrorBody)))]
pub async fn assessments<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Query(q): Query<PeriodQuery>,
) -> Result<Json<Value>, ApiError> {
    let period = period_of(&app, &q);
    Ok(Json(app.kefu.assessments(&user.actor, &period).await?))
}

/// Records a service innovation: `{agent, title, points, day?}`.
#[utoipa::path(post, path = "/api/v1/quality/innovations", tag = "quality", security(("bearer" = [])),
    responses((status = 201, description = "the entry"), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_innovation<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let i = app.kefu.record_innovation(&user.actor, &body).await?;
    let org = app.kefu.org().await?;
    Ok((StatusCode::CREATED, Json(innovation_json(&i, &org))))
}

fn innovation_json(i: &kefu_store::Innovation, org: &crate::directory::OrgSnapshot) -> Value {
    let name = |u| org.user(u).map(|u| u.username.clone());
    json!({"id": i.id, "agent": name(i.agent), "day": i.day, "title": i.title, "points": i.points,
        "recorded_by": name(i.recorded_by), "created_at": i.created_at})
}

/// Innovation entries of the period (of one agent with `agent`).
#[utoipa::path(get, path = "/api/v1/quality/innovations", tag = "quality", security(("bearer" = [])),
    params(PeriodQuery), responses((status = 200, description = "{items}")))]
pub async fn innovations<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Query(q): Query<PeriodQuery>,
) -> Result<Json<Value>, ApiError> {
    let (from, to) = Cycle::parse(&period_of(&app, &q), "period")?.days();
    let org = app.kefu.org().await?;
    let mut agent = q.agent.as_deref().and_then(|a| org.users.iter().find(|u| u.username == a)).map(|u| u.id);
    if !crate::service::quality::sees_all(user.actor.role) {
        agent = Some(user.actor.id);
    }
    let list = app.kefu.store.innovations(from, to, agent).await?;
    Ok(Json(json!({ "items": list.iter().map(|i| innovation_json(i, &org)).collect::<Vec<_>>() })))
}

/// Records a violation: `{agent, kind, points?, ticket?, review?, description}`; the
/// appeal window and the rectification's due time follow the working-day calendar.
#[utoipa::path(post, path = "/api/v1/quality/violations", tag = "quality", security(("bearer" = [])),
    responses((status = 201, description = "the violation"), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_violation<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let v = app.kefu.record_violation(&user.actor, &body).await?;
    let events = app.kefu.store.violation_events(v.id).await?;
    Ok((StatusCode::CREATED, Json(violation_view(&app, &v, Some(&events)).await?)))
}

async fn violation_view<S: Store>(
    app: &AppState<S>,
    v: &kefu_store::Violation,
    events: Option<&[kefu_store::ViolationEvent]>,
) -> Result<Value, ApiError> {
    let org = app.kefu.org().await?;
    let policy = &app.kefu.core.policy.quality.violations;
    Ok(crate::service::violations::violation_json(v, events, &org, policy, app.kefu.now()))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ViolationQuery {
    /// Recorded in this month (`2026-11`) or quarter (`2026-Q4`).
    pub period: Option<String>,
    /// Username.
    pub agent: Option<String>,
    /// `open`, `appealed`, `rectified`, `closed` or `void`.
    pub state: Option<String>,
}

/// Violations: all for supervisors, inspectors and admins; a lead's teams'; otherwise the caller's own.
#[utoipa::path(get, path = "/api/v1/quality/violations", tag = "quality", security(("bearer" = [])),
    params(ViolationQuery), responses((status = 200, description = "{items}"), (status = 422, body = crate::error::ErrorBody)))]
pub async fn violations<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Query(q): Query<ViolationQuery>,
) -> Result<Json<Value>, ApiError> {
    let org = app.kefu.org().await?;
    let agent = crate::service::quality::staff_filter(&org, q.agent.as_deref())?;
    let state = match q.state.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) if kefu_domain::violations::State::parse(s).is_some() => Some(s.to_string()),
        Some(_) => {
            return Err(kefu_domain::FieldError::new(
                "state",
                "state is open, appealed, rectified, closed or void",
                "state 须为 open、appealed、rectified、closed 或 void",
            )
            .into());
        }
        None => None,
    };
    let created = match q.period.as_deref().filter(|p| !p.trim().is_empty()) {
        Some(p) => {
            let (from, to) = Cycle::parse(p, "period")?.days();
            let end = to.succ_opt().unwrap_or(to);
            Some((kefu_domain::time::shanghai_at(from, 0), kefu_domain::time::shanghai_at(end, 0)))
        }
        None => None,
    };
    let f = kefu_store::ViolationFilter { agent, state, created };
    let list = app.kefu.visible_violations(&user.actor, f).await?;
    let mut items = Vec::with_capacity(list.len());
    for v in &list {
        items.push(violation_view(&app, v, None).await?);
    }
    Ok(Json(json!({ "items": items })))
}

/// One violation with its steps.
#[utoipa::path(get, path = "/api/v1/quality/violations/{id}", tag = "quality", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, description = "the violation and its events"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn violation<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let v = app.kefu.violation_for(&user.actor, id).await?;
    let events = app.kefu.store.violation_events(v.id).await?;
    Ok(Json(violation_view(&app, &v, Some(&events)).await?))
}

/// A step: `{action: "appeal", reason}` (the agent, once, within the window),
/// `{action: "decide", upheld, note}` (a supervisor other than the recorder),
/// `{action: "rectify", note}` (the agent), `{action: "recheck", passed, note}`.
#[utoipa::path(post, path = "/api/v1/quality/violations/{id}/steps", tag = "quality", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, description = "the violation after the step"), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn step_violation<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let v = app.kefu.step_violation(&user.actor, id, &body).await?;
    let events = app.kefu.store.violation_events(v.id).await?;
    Ok(Json(violation_view(&app, &v, Some(&events)).await?))
}

/// The reviewer queue of a cycle: the sample (mandatory kinds and a random
/// draw per agent), what is reviewed, coverage, each reviewer against the goal.
#[utoipa::path(get, path = "/api/v1/quality/queue", tag = "quality", security(("bearer" = [])),
    params(PeriodQuery), responses((status = 200, description = "{period, sampled, reviewed, coverage, items, reviewers}"), (status = 422, body = crate::error::ErrorBody)))]
pub async fn queue<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
    Query(q): Query<PeriodQuery>,
) -> Result<Json<crate::service::sampling::Queue>, ApiError> {
    let cycle = Cycle::parse(&period_of(&app, &q), "period")?;
    Ok(Json(app.kefu.review_queue(cycle).await?))
}

/// Automatic pre-checks of a ticket (flags for the reviewer, never a deduction).
#[utoipa::path(get, path = "/api/v1/quality/prechecks/{ticket}", tag = "quality", security(("bearer" = [])),
    params(("ticket" = String, Path)), responses((status = 200, description = "{items: [{code, label_zh, label_en}]}"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn prechecks<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(ticket): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let t = app.kefu.visible_ticket(&user.actor, &ticket).await?;
    Ok(Json(json!({ "items": app.kefu.prechecks(&t).await? })))
}

/// The assessment as CSV (UTF-8 with a byte-order mark, so spreadsheet
/// programs read the Chinese): rank, staff, team, each dimension's score,
/// deductions, total.
#[utoipa::path(get, path = "/api/v1/quality/assessments/export", tag = "quality", security(("bearer" = [])),
    params(PeriodQuery), responses((status = 200, content_type = "text/csv", body = String), (status = 422, body = crate::error::ErrorBody)))]
pub async fn export_assessments<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Query(q): Query<PeriodQuery>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let (name, out) = app.kefu.assessment_csv(&user.actor, &period_of(&app, &q)).await?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (axum::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        out,
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct SessionQuery {
    /// The calibration session's name, as given to its reviews.
    pub session: Option<String>,
}

/// A calibration session: each reviewer's score of the shared sample and,
/// per item, the spread between reviewers (largest first).
#[utoipa::path(get, path = "/api/v1/quality/calibration", tag = "quality", security(("bearer" = [])),
    params(SessionQuery), responses((status = 200, description = "{session, tickets, items: [{ticket, item, spread, points}]}"), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn calibration<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
    Query(q): Query<SessionQuery>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.kefu.calibration(q.session.as_deref().unwrap_or("")).await?))
}
