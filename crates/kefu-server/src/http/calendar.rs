//! The working-day calendar, for agents who need to tell a customer when
//! something is due: add working days or hours to an instant, and what a
//! given day is (working or not, and why).

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use kefu_domain::FieldError;
use kefu_domain::calendar::CalendarError;
use kefu_domain::intake::parse_time;
use kefu_domain::time::shanghai;
use kefu_store::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new().route("/api/v1/calendar/add", get(add::<S>)).route("/api/v1/calendar/day/{date}", get(day::<S>))
}

fn not_loaded(e: CalendarError, field: &str) -> ApiError {
    match e {
        CalendarError::YearNotLoaded(y) => FieldError::new(
            field,
            format!("no working-day calendar is loaded for {y}"),
            format!("未加载 {y} 年的工作日历（节假日安排）"),
        )
        .into(),
        other => ApiError::Internal(other.to_string()),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct AddQuery {
    /// RFC 3339 instant.
    from: Option<String>,
    working_days: Option<u32>,
    hours: Option<i64>,
}

/// `from` plus N working days (official calendar) or N natural hours.
#[utoipa::path(get, path = "/api/v1/calendar/add", tag = "calendar", params(AddQuery), security(("bearer" = [])),
    responses((status = 200, description = "{due_at, due_at_local}"), (status = 422, body = crate::error::ErrorBody)))]
pub async fn add<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
    Query(q): Query<AddQuery>,
) -> Result<Json<Value>, ApiError> {
    let from = parse_time(q.from.as_deref().ok_or_else(|| FieldError::required("from"))?, "from")?;
    let cal = &app.kefu.core.calendar;
    let due = match (q.working_days, q.hours) {
        (Some(n), None) if n <= 366 => cal.add_working_days(from, n).map_err(|e| not_loaded(e, "working_days"))?,
        (None, Some(h)) if (0..=24 * 366).contains(&h) => cal.add_hours(from, h),
        _ => {
            return Err(FieldError::new(
                "working_days",
                "give either working_days (0–366) or hours (0–8784)",
                "请提供 working_days（0–366）或 hours（0–8784）其中之一",
            )
            .into());
        }
    };
    Ok(Json(json!({
        "from": from,
        "due_at": due,
        "due_at_local": due.with_timezone(&shanghai()).to_rfc3339(),
    })))
}

/// What a day is: working or not, and why (weekend, holiday, adjusted working day).
#[utoipa::path(get, path = "/api/v1/calendar/day/{date}", tag = "calendar", params(("date" = String, Path, description = "YYYY-MM-DD")),
    security(("bearer" = [])), responses((status = 200, description = "{date, working, kind, name?, reason_zh}")))]
pub async fn day<S: Store>(
    State(app): State<AppState<S>>,
    _user: CurrentUser,
    Path(date): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let d: chrono::NaiveDate = date.parse().map_err(|_| {
        FieldError::new(
            "date",
            format!("'{date}' is not a date YYYY-MM-DD"),
            format!("“{date}”不是 YYYY-MM-DD 格式的日期"),
        )
    })?;
    let kind = app.kefu.core.calendar.day(d).map_err(|e| not_loaded(e, "date"))?;
    let mut out = json!({"date": d, "working": kind.is_working(), "reason_zh": kind.reason_zh()});
    if let (Value::Object(o), Ok(Value::Object(k))) = (&mut out, serde_json::to_value(&kind)) {
        o.extend(k);
    }
    Ok(Json(out))
}
