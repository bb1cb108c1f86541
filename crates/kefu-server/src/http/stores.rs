//! Store evaluation over HTTP: stores, inspections, the period's
//! grading with quotas, the regional league table.

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::service::quality::evaluation_json;
use crate::service::stores::{outlet_json, put_grade};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use kefu_domain::quality::Cycle;
use kefu_store::{Evaluation, EvaluationFilter, EvaluationKind, Store};
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/api/v1/stores", get(list::<S>).post(create::<S>))
        .route("/api/v1/stores/grading", get(grading::<S>).post(grade::<S>))
        .route("/api/v1/stores/league", get(league::<S>))
        .route("/api/v1/stores/rectifications", get(rectifications::<S>))
        .route("/api/v1/stores/{code}", get(one::<S>))
        .route("/api/v1/stores/{code}/rectifications/{inspection}/report", post(report::<S>))
        .route("/api/v1/stores/{code}/inspections", get(inspections::<S>).post(inspect::<S>))
}

/// A store (营业厅): `{code, name, region, manager?}`.
#[utoipa::path(post, path = "/api/v1/stores", tag = "stores", security(("bearer" = [])),
    responses((status = 201, description = "the store"), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let o = app.kefu.create_outlet(&body).await?;
    Ok((StatusCode::CREATED, Json(outlet_json(&o))))
}

/// Every store, by region and code.
#[utoipa::path(get, path = "/api/v1/stores", tag = "stores", security(("bearer" = [])),
    responses((status = 200, description = "{items}")))]
pub async fn list<S: Store>(State(app): State<AppState<S>>, _user: CurrentUser) -> Result<Json<Value>, ApiError> {
    let items: Vec<Value> = app.kefu.store.outlets().await?.iter().map(outlet_json).collect();
    Ok(Json(json!({ "items": items })))
}

/// One store, with the tickets taken at or about it (as the caller may see
/// them) and its rectification tasks.
#[utoipa::path(get, path = "/api/v1/stores/{code}", tag = "stores", security(("bearer" = [])),
    params(("code" = String, Path)), responses((status = 200, description = "the store: {code, name, region, manager, tickets: {total, complaints, recent}, rectifications}"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn one<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(code): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let mut out = outlet_json(&app.kefu.outlet(&code).await?);
    out["tickets"] = app.kefu.store_tickets(&user.actor, &code, 10).await?;
    out["rectifications"] = json!(app.kefu.rectifications(Some(&code)).await?);
    Ok(Json(out))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct TaskQuery {
    /// `pending` (awaiting rectification or re-inspection, the default),
    /// `overdue`, or `all`.
    pub state: Option<String>,
}

/// Rectification tasks (整改) of every store, newest first: a failing
/// inspection opens one, the store reports it done, the next inspection re-checks.
#[utoipa::path(get, path = "/api/v1/stores/rectifications", tag = "stores", security(("bearer" = [])),
    params(TaskQuery), responses((status = 200, description = "{items: [{inspection, store, store_name, state, due_at, overdue, failed_items, report}]}"), (status = 422, body = crate::error::ErrorBody)))]
pub async fn rectifications<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
    Query(q): Query<TaskQuery>,
) -> Result<Json<Value>, ApiError> {
    let state = q.state.as_deref().map(str::trim).filter(|s| !s.is_empty()).unwrap_or("pending");
    let keep: fn(&Value) -> bool = match state {
        "pending" => |t| t["pending"] == true,
        "overdue" => |t| t["overdue"] == true,
        "all" => |_| true,
        _ => {
            return Err(kefu_domain::FieldError::new(
                "state",
                "state is pending, overdue or all",
                "state 须为 pending、overdue 或 all",
            )
            .into());
        }
    };
    let items: Vec<Value> = app.kefu.rectifications(None).await?.into_iter().filter(keep).collect();
    Ok(Json(json!({ "items": items })))
}

/// `{note}`: the store reports what a failing inspection found rectified;
/// the store's next inspection re-checks it.
#[utoipa::path(post, path = "/api/v1/stores/{code}/rectifications/{inspection}/report", tag = "stores", security(("bearer" = [])),
    params(("code" = String, Path), ("inspection" = i64, Path)),
    responses((status = 200, description = "the task"), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn report<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path((code, inspection)): Path<(String, String)>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.kefu.report_rectification(&user.actor, &code, &inspection, &body).await?))
}

/// An inspection as the API shows it: the evaluation, its grade before quotas.
pub fn inspection_json(
    e: &Evaluation,
    org: &crate::directory::OrgSnapshot,
    policy: &kefu_domain::grading::GradePolicy,
) -> Value {
    let mut v = evaluation_json(e, org);
    if let Some(o) = v.as_object_mut() {
        o.insert("store".into(), json!(e.subject));
        put_grade(o, "grade", policy.grade(e.score));
    }
    v
}

/// An inspection: `{scorecard, period, items: [{item, points | "na", reason?, root_cause?}], notes?}` →
/// `{id, score, grade}`, grade `excellent` | `good` | `compliant` | `failing` before quotas.
#[utoipa::path(post, path = "/api/v1/stores/{code}/inspections", tag = "stores", security(("bearer" = [])),
    params(("code" = String, Path)),
    responses((status = 201, description = "{id, score, grade, grade_label, …}"), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn inspect<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(code): Path<String>,
    crate::extract::Idempotent { key, body }: crate::extract::Idempotent<Map<String, Value>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let e = app.kefu.inspect(&user.actor, &code, &body, key.as_ref()).await?;
    let org = app.kefu.org().await?;
    Ok((StatusCode::CREATED, Json(inspection_json(&e, &org, &app.kefu.core.policy.quality.grades))))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct PeriodQuery {
    /// A month (`2026-11`) or quarter (`2026-Q4`).
    pub period: Option<String>,
}

/// A store's inspections (of the period, when given), newest first.
#[utoipa::path(get, path = "/api/v1/stores/{code}/inspections", tag = "stores", security(("bearer" = [])),
    params(("code" = String, Path), PeriodQuery), responses((status = 200, description = "{items}"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn inspections<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
    Path(code): Path<String>,
    Query(q): Query<PeriodQuery>,
) -> Result<Json<Value>, ApiError> {
    let o = app.kefu.outlet(&code).await?;
    let within = match q.period.as_deref().filter(|p| !p.trim().is_empty()) {
        Some(p) => Some(Cycle::parse(p, "period")?.days()),
        None => None,
    };
    let f = EvaluationFilter {
        kind: Some(EvaluationKind::Inspection),
        within,
        subject: Some(o.code),
        ..Default::default()
    };
    let org = app.kefu.org().await?;
    let policy = &app.kefu.core.policy.quality.grades;
    let items: Vec<Value> =
        app.kefu.store.evaluations(f).await?.iter().rev().map(|e| inspection_json(e, &org, policy)).collect();
    Ok(Json(json!({ "items": items })))
}

/// `{period}`: grades every store inspected in the period — its score from
/// its inspections, its grade, then the quotas by rank — and keeps it.
#[utoipa::path(post, path = "/api/v1/stores/grading", tag = "stores", security(("bearer" = [])),
    responses((status = 200, description = "{period, stores, quotas, counts, graded: [{rank, code, score, earned, grade, demoted}], not_inspected}"), (status = 422, body = crate::error::ErrorBody)))]
pub async fn grade<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    crate::service::quality::only_fields(&body, &["period"])?;
    let period = crate::service::quality::opt_str(&body, "period")?.unwrap_or("");
    Ok(Json(app.kefu.grade_stores(&user.actor, period).await?))
}

/// The grading kept for a period.
#[utoipa::path(get, path = "/api/v1/stores/grading", tag = "stores", security(("bearer" = [])),
    params(PeriodQuery), responses((status = 200, description = "the grading"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn grading<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
    Query(q): Query<PeriodQuery>,
) -> Result<Json<Value>, ApiError> {
    let g = app.kefu.store_grading(q.period.as_deref().unwrap_or("")).await?;
    g.map(Json).ok_or(ApiError::NotFound { what: "grading", what_zh: "评级结果" })
}

/// The regional league table of a graded period.
#[utoipa::path(get, path = "/api/v1/stores/league", tag = "stores", security(("bearer" = [])),
    params(PeriodQuery), responses((status = 200, description = "{items: [{region, stores, mean, excellent, good, compliant, failing}]}")))]
pub async fn league<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
    Query(q): Query<PeriodQuery>,
) -> Result<Json<Value>, ApiError> {
    let items = app.kefu.store_league(q.period.as_deref().unwrap_or("")).await?;
    Ok(Json(json!({ "items": items })))
}
