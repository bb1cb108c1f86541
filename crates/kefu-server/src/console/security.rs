//! Information-security incidents in the console: any staff member
//! reports one; the security office (administrators) keeps the register —
//! what is overdue, containment, the regulator's and customers'
//! notifications, closing — each record's read logged.

use super::Lang;
use super::layout::{Fields, Shell, error_text, forbidden, form_token, gate, message, render, shown, take_token};
use crate::AppState;
use crate::auth::CurrentUser;
use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use kefu_store::Store;
use serde_json::{Map, Value, json};

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/console/security", get(register::<S>))
        .route("/console/security/new", get(report_page::<S>).post(report::<S>))
        .route("/console/security/{id}", get(record::<S>).post(act::<S>))
}

fn label(v: &Value, lang: Lang) -> String {
    lang.t(v["zh"].as_str().unwrap_or(""), v["en"].as_str().unwrap_or("")).to_string()
}

/// A duty as one cell: due, done or overdue.
fn duty(v: &Value, lang: Lang) -> String {
    match (v["due_at"].as_str(), v["done_at"].as_str()) {
        (None, _) => lang.t("无需", "not owed").to_string(),
        (Some(_), Some(done)) => {
            format!("{} {} · {}", lang.t("已完成", "done"), shown(done), v["reference"].as_str().unwrap_or(""))
        }
        (Some(due), None) if v["overdue"] == true => format!("{} {}", lang.t("已逾期", "OVERDUE"), shown(due)),
        (Some(due), None) => format!("{} {}", lang.t("截止", "due"), shown(due)),
    }
}

#[derive(Template)]
#[template(path = "console/security.html")]
struct RegisterPage<'a> {
    shell: Shell<'a>,
    rows: Vec<(String, Vec<String>, bool)>,
}

async fn register<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/security-incidents").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let title = lang.t("信息安全事件", "Security incidents");
    match app.kefu.security_incidents().await {
        Ok(items) => {
            let rows = items
                .iter()
                .map(|r| {
                    let overdue = r["regulator"]["overdue"] == true || r["customers"]["overdue"] == true;
                    let cells = vec![
                        r["number"].as_str().unwrap_or("").to_string(),
                        label(&r["kind_label"], lang),
                        r["title"].as_str().unwrap_or("").to_string(),
                        label(&r["severity_label"], lang),
                        label(&r["state_label"], lang),
                        duty(&r["regulator"], lang),
                        duty(&r["customers"], lang),
                    ];
                    (format!("/console/security/{}", r["id"]), cells, overdue)
                })
                .collect();
            render(StatusCode::OK, &RegisterPage { shell: Shell::new(lang, Some(&user), title), rows })
        }
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            message(status, lang, Some(&user), title, &msg)
        }
    }
}

#[derive(Template)]
#[template(path = "console/security_report.html")]
struct ReportPage<'a> {
    shell: Shell<'a>,
    done: Option<String>,
    error: Option<String>,
    token: String,
}

#[derive(serde::Deserialize, Default)]
struct Done {
    #[serde(default)]
    done: String,
}

async fn report_page<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Query(q): Query<Done>) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/security-incidents").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let done = (!q.done.is_empty()).then(|| format!("{} {}", lang.t("已登记，编号", "Reported as"), q.done));
    let page = ReportPage {
        shell: Shell::new(lang, Some(&user), lang.t("报告信息安全事件", "Report a security incident")),
        done,
        error: None,
        token: form_token(),
    };
    render(StatusCode::OK, &page)
}

async fn report<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Form(mut f): Form<Fields>) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/security-incidents").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    if !super::same_origin(&headers) {
        return forbidden(lang, &user);
    }
    take_token(&mut f, "POST /console/security/new");
    let mut body: Map<String, Value> = ["kind", "severity", "title", "description"]
        .iter()
        .filter_map(|k| f.get(*k).map(|v| v.trim()).filter(|v| !v.is_empty()).map(|v| ((*k).to_string(), json!(v))))
        .collect();
    for k in ["affected_records", "affected_customers"] {
        if let Some(v) = f.get(k).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            body.insert(k.into(), v.parse::<u64>().map_or_else(|_| json!(v), |n| json!(n)));
        }
    }
    if let Some(t) = f.get("tickets").map(|v| v.trim()).filter(|v| !v.is_empty()) {
        body.insert("tickets".into(), json!(t.split([',', '，', ' ']).filter(|s| !s.is_empty()).collect::<Vec<_>>()));
    }
    match app.kefu.report_security_incident(&user.actor, &body).await {
        Ok(r) => {
            Redirect::to(&format!("/console/security/new?done={}", r["number"].as_str().unwrap_or(""))).into_response()
        }
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            let page = ReportPage {
                shell: Shell::new(lang, Some(&user), lang.t("报告信息安全事件", "Report a security incident")),
                done: None,
                error: Some(msg),
                token: form_token(),
            };
            render(status, &page)
        }
    }
}

#[derive(Template)]
#[template(path = "console/security_record.html")]
struct RecordPage<'a> {
    shell: Shell<'a>,
    id: i64,
    number: String,
    title: String,
    facts: Vec<(String, String)>,
    steps: Vec<(String, String, String)>,
    open: bool,
    error: Option<String>,
    token: String,
}

async fn show_record<S: Store>(
    app: &AppState<S>,
    user: &CurrentUser,
    lang: Lang,
    id: i64,
    err: (StatusCode, Option<String>),
) -> Response {
    let title = lang.t("信息安全事件", "Security incident");
    match app.kefu.security_incident_view(&user.actor, id).await {
        Ok(v) => {
            let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
            let facts = vec![
                (lang.t("类型", "Kind").to_string(), label(&v["kind_label"], lang)),
                (lang.t("级别", "Severity").to_string(), label(&v["severity_label"], lang)),
                (lang.t("状态", "State").to_string(), label(&v["state_label"], lang)),
                (
                    lang.t("发现时间", "Discovered").to_string(),
                    v["discovered_at"].as_str().map_or(String::new(), shown),
                ),
                (lang.t("说明", "Description").to_string(), s("description")),
                (lang.t("涉及记录", "Records affected").to_string(), v["affected_records"].to_string()),
                (lang.t("涉及客户", "Customers affected").to_string(), v["affected_customers"].to_string()),
                (
                    lang.t("关联工单", "Tickets").to_string(),
                    v["tickets"]
                        .as_array()
                        .map_or(String::new(), |l| l.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")),
                ),
                (
                    lang.t("访问日志条目", "Access-log entries").to_string(),
                    v["access_entries"]
                        .as_array()
                        .map_or(String::new(), |l| l.iter().map(Value::to_string).collect::<Vec<_>>().join(", ")),
                ),
                (lang.t("向监管部门报告", "Regulator").to_string(), duty(&v["regulator"], lang)),
                (lang.t("告知客户", "Customers told").to_string(), duty(&v["customers"], lang)),
                (
                    lang.t("审计链", "Audit chain").to_string(),
                    if v["verified"] == true {
                        lang.t("校验通过", "verified").into()
                    } else {
                        lang.t("校验失败", "BROKEN").into()
                    },
                ),
            ];
            let steps = v["containment"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|n| {
                    (
                        n["at"].as_str().map_or(String::new(), shown),
                        n["by_name"].as_str().unwrap_or("").to_string(),
                        n["text"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect();
            let page = RecordPage {
                shell: Shell::new(lang, Some(user), title),
                id,
                number: s("number"),
                title: s("title"),
                facts,
                steps,
                open: v["state"] != "closed",
                error: err.1,
                token: form_token(),
            };
            render(err.0, &page)
        }
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            message(status, lang, Some(user), title, &msg)
        }
    }
}

async fn record<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/security-incidents/{id}").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let Ok(id) = id.parse() else { return forbidden(lang, &user) };
    show_record(&app, &user, lang, id, (StatusCode::OK, None)).await
}

async fn act<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(mut f): Form<Fields>,
) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/security-incidents/{id}/actions").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let Ok(id) = id.parse::<i64>() else { return forbidden(lang, &user) };
    if !super::same_origin(&headers) {
        return forbidden(lang, &user);
    }
    take_token(&mut f, "POST /console/security/{id}");
    let body: Map<String, Value> = ["action", "text", "reference"]
        .iter()
        .filter_map(|k| f.get(*k).map(|v| v.trim()).filter(|v| !v.is_empty()).map(|v| ((*k).to_string(), json!(v))))
        .collect();
    match app.kefu.security_action(&user.actor, id, &body).await {
        Ok(_) => Redirect::to(&format!("/console/security/{id}")).into_response(),
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            show_record(&app, &user, lang, id, (status, Some(msg))).await
        }
    }
}
