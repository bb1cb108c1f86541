//! Major incidents in the console: the list with the spike
//! proposals to confirm, an incident's page — its children counted by
//! state, notices and their progress, the notes, its audit chain — with
//! the supervisor's actions, and the banner agents see at intake.

use super::Lang;
use super::layout::{Fields, Shell, error_text, forbidden, form_token, gate, message, render, shown, take_token};
use crate::AppState;
use crate::auth::CurrentUser;
use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use kefu_domain::Role;
use kefu_store::Store;
use serde_json::{Map, Value, json};

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/console/incidents", get(list::<S>).post(declare::<S>))
        .route("/console/incidents/dismiss", axum::routing::post(dismiss::<S>))
        .route("/console/incidents/{id}", get(page::<S>).post(act::<S>))
}

/// An active incident as agents see it before they register a call.
pub(super) struct Banner {
    pub link: String,
    pub headline: String,
    pub notes: Vec<String>,
    /// What to say, from the running emergency plan.
    pub script: Option<String>,
}

/// The active incidents for the intake banner (this node's cached list).
pub(super) async fn banners<S: Store>(app: &AppState<S>, lang: Lang) -> Vec<Banner> {
    let Ok(active) = app.kefu.active_incidents().await else { return Vec::new() };
    active
        .iter()
        .map(|i| {
            let (zh, en) = i.kind.label();
            let scope: Vec<&str> =
                i.scope.regions.iter().chain(&i.scope.services).chain(&i.scope.elements).map(String::as_str).collect();
            let eta = i.eta.map(|e| format!(" · {} {}", lang.t("预计恢复", "ETA"), shown(&e.to_rfc3339())));
            Banner {
                link: format!("/console/incidents/{}", i.id),
                headline: format!(
                    "{} {} · {} · {}{}",
                    i.number,
                    lang.t(zh, en),
                    i.title,
                    scope.join(lang.t("、", ", ")),
                    eta.unwrap_or_default()
                ),
                notes: i
                    .notes
                    .iter()
                    .rev()
                    .take(3)
                    .map(|n| format!("{} {}", shown(&n.at.to_rfc3339()), n.text))
                    .collect(),
                script: crate::service::incidents::playbook_json(i, app.kefu.now())["steps"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find_map(|s| {
                        s[if lang == Lang::Zh { "script" } else { "script_en" }].as_str().map(str::to_string)
                    }),
            }
        })
        .collect()
}

fn label(v: &Value, lang: Lang) -> String {
    lang.t(v["zh"].as_str().unwrap_or(""), v["en"].as_str().unwrap_or("")).to_string()
}

/// An event of the incident's chain in words.
fn action_label(lang: Lang, code: &str) -> String {
    let (zh, en) = match code {
        "create" => ("登记", "declared"),
        "confirm" => ("确认故障", "confirmed"),
        "note" => ("发布进展", "progress note"),
        "notify" => ("发起客户通知", "notice requested"),
        "approve" => ("审批通知", "notice approved"),
        "notified" => ("通知已发出", "notice sent"),
        "restore" => ("故障恢复", "restored"),
        "close" => ("关闭", "closed"),
        "start_playbook" => ("启动应急预案", "plan started"),
        "check_step" => ("预案步骤完成", "plan step done"),
        "compensation_approved" => ("补偿方案审批", "compensation approved"),
        other => (other, other),
    };
    lang.t(zh, en).to_string()
}

fn may_steer(user: &CurrentUser) -> bool {
    matches!(user.actor.role, Role::Supervisor | Role::Admin)
}

fn may_declare(user: &CurrentUser) -> bool {
    matches!(user.actor.role, Role::Supervisor | Role::Admin | Role::Engineer)
}

struct Row {
    link: String,
    cells: Vec<String>,
}

struct PlanStep {
    key: String,
    cells: Vec<String>,
    late: bool,
    done: bool,
}

struct Proposal {
    cells: Vec<String>,
    body: String,
    bucket: String,
}

#[derive(Template)]
#[template(path = "console/incidents.html")]
struct ListPage<'a> {
    shell: Shell<'a>,
    incidents: Vec<Row>,
    proposals: Vec<Proposal>,
    may_declare: bool,
    may_steer: bool,
    error: Option<String>,
    token: String,
}

async fn show_list<S: Store>(
    app: &AppState<S>,
    user: &CurrentUser,
    lang: Lang,
    error: (StatusCode, Option<String>),
) -> Response {
    let title = lang.t("重大故障", "Major incidents");
    let result: Result<ListPage, crate::error::ApiError> = async {
        let incidents = app
            .kefu
            .store
            .incidents(false, 100)
            .await?
            .iter()
            .map(|i| {
                let v = crate::service::incidents::incident_json(i);
                Row {
                    link: format!("/console/incidents/{}", i.id),
                    cells: vec![
                        i.number.clone(),
                        label(&v["type_label"], lang),
                        i.title.clone(),
                        label(&v["severity_label"], lang),
                        label(&v["state_label"], lang),
                        shown(&i.started_at.to_rfc3339()),
                    ],
                }
            })
            .collect();
        let proposals = if may_steer(user) {
            let c = app.kefu.incident_candidates().await?;
            c["items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| Proposal {
                    cells: vec![
                        a["proposal"]["title"].as_str().unwrap_or("").to_string(),
                        a["count"].to_string(),
                        lang.t(a["why_zh"].as_str().unwrap_or(""), a["why"].as_str().unwrap_or("")).to_string(),
                        a["tickets"].as_array().map_or(0, Vec::len).to_string(),
                    ],
                    body: a["proposal"].to_string(),
                    bucket: a["bucket"].as_str().unwrap_or("").to_string(),
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(ListPage {
            shell: Shell::new(lang, Some(user), title),
            incidents,
            proposals,
            may_declare: may_declare(user),
            may_steer: may_steer(user),
            error: error.1.clone(),
            token: form_token(),
        })
    }
    .await;
    match result {
        Ok(p) => render(error.0, &p),
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            message(status, lang, Some(user), title, &msg)
        }
    }
}

async fn list<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/incidents").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    show_list(&app, &user, Lang::of(&headers), (StatusCode::OK, None)).await
}

/// Splits a comma list (either width) into the scope's names.
fn names(raw: &str) -> Value {
    json!(raw.split([',', '，', '、']).map(str::trim).filter(|s| !s.is_empty()).collect::<Vec<_>>())
}

/// Declares an incident, from the form or from a proposal's body.
async fn declare<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Form(mut f): Form<Fields>) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/incidents").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    if !super::same_origin(&headers) {
        return forbidden(lang, &user);
    }
    take_token(&mut f, "POST /console/incidents");
    let get = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let body: Map<String, Value> = match f.get("proposal") {
        Some(p) => serde_json::from_str(p).unwrap_or_default(),
        None => {
            let mut b = json!({
                "type": get("type"), "title": get("title"), "severity": get("severity"),
                "scope": {"regions": names(&get("regions")), "services": names(&get("services")), "elements": names(&get("elements"))},
            });
            if !get("note").is_empty() {
                b["note"] = json!(get("note"));
            }
            b.as_object().cloned().unwrap_or_default()
        }
    };
    match app.kefu.create_incident(&user.actor, &body).await {
        Ok(i) => Redirect::to(&format!("/console/incidents/{}", i["id"])).into_response(),
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            show_list(&app, &user, lang, (status, Some(msg))).await
        }
    }
}

/// Dismisses a spike proposal (with a reason) from the list.
async fn dismiss<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Form(mut f): Form<Fields>) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/incidents/candidates/dismiss").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    if !super::same_origin(&headers) {
        return forbidden(lang, &user);
    }
    take_token(&mut f, "POST /console/incidents/dismiss");
    let body: Map<String, Value> =
        ["bucket", "reason"].iter().filter_map(|k| f.get(*k).map(|v| ((*k).to_string(), json!(v.trim())))).collect();
    match app.kefu.dismiss_candidate(&user.actor, &body).await {
        Ok(_) => Redirect::to("/console/incidents").into_response(),
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            show_list(&app, &user, lang, (status, Some(msg))).await
        }
    }
}

#[derive(Template)]
#[template(path = "console/incident.html")]
struct IncidentPage<'a> {
    shell: Shell<'a>,
    id: i64,
    number: String,
    title: String,
    facts: Vec<(String, String)>,
    state: String,
    children: Vec<(String, String)>,
    total: i64,
    recent: Vec<(String, Vec<String>)>,
    notes: Vec<(String, String, String)>,
    notices: Vec<Vec<String>>,
    awaiting: Vec<String>,
    events: Vec<Vec<String>>,
    verified: bool,
    plan: Option<String>,
    steps: Vec<PlanStep>,
    may_steer: bool,
    may_note: bool,
    active: bool,
    dry_run: Option<String>,
    error: Option<String>,
    token: String,
}

async fn show_page<S: Store>(
    app: &AppState<S>,
    user: &CurrentUser,
    lang: Lang,
    id: i64,
    (status, error, dry_run): (StatusCode, Option<String>, Option<String>),
) -> Response {
    let title = lang.t("重大故障", "Major incident");
    let result: Result<IncidentPage, crate::error::ApiError> = async {
        let v = app.kefu.incident_view(id).await?;
        let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
        let time = |k: &str| v[k].as_str().map_or_else(|| "—".to_string(), shown);
        let scope = |k: &str| {
            v["scope"][k].as_array().map_or(String::new(), |l| {
                l.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(lang.t("、", ", "))
            })
        };
        let facts = vec![
            (lang.t("类型", "Type").to_string(), label(&v["type_label"], lang)),
            (lang.t("级别", "Severity").to_string(), label(&v["severity_label"], lang)),
            (lang.t("影响区域", "Regions").to_string(), scope("regions")),
            (lang.t("影响业务", "Services").to_string(), scope("services")),
            (lang.t("网元", "Network elements").to_string(), scope("elements")),
            (lang.t("开始时间", "Started").to_string(), time("started_at")),
            (lang.t("预计恢复", "ETA").to_string(), time("eta")),
            (lang.t("实际恢复", "Restored").to_string(), time("ended_at")),
            (lang.t("修复说明", "Resolution").to_string(), s("resolution")),
        ];
        let children = v["children"]["statuses"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                (
                    lang.t(c["label"].as_str().unwrap_or(""), c["label_en"].as_str().unwrap_or("")).to_string(),
                    c["count"].to_string(),
                )
            })
            .collect();
        let org = app.kefu.org().await?;
        let who = |v: &Value| {
            v.as_i64()
                .and_then(|id| org.user(kefu_domain::UserId(id)))
                .map_or_else(|| "—".to_string(), |u| u.display_name.clone())
        };
        let notes = v["notes"]
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
        let list = v["notices"].as_array().cloned().unwrap_or_default();
        let notices = list
            .iter()
            .map(|b| {
                let by = b["by_state"].as_object();
                let n = |k: &str| by.and_then(|m| m.get(k)).and_then(Value::as_i64).unwrap_or(0).to_string();
                vec![
                    b["key"].as_str().unwrap_or("").to_string(),
                    b["text"].as_str().unwrap_or("").to_string(),
                    label(&b["state_label"], lang),
                    b["planned"].to_string(),
                    b["customers"].as_i64().unwrap_or(0).to_string(),
                    format!("{} / {} / {} / {}", n("pending"), n("sent"), n("delivered"), n("failed")),
                    who(&b["requested_by"]),
                    who(&b["approved_by"]),
                ]
            })
            .collect();
        let awaiting = list
            .iter()
            .filter(|b| b["state"] == "awaiting_approval")
            .filter_map(|b| b["key"].as_str().map(str::to_string))
            .collect();
        let f = kefu_store::TicketFilter { incident: Some(id), page: 1, per_page: 50, ..Default::default() };
        let flows = &app.kefu.core.flows;
        let recent = app
            .kefu
            .store
            .list_tickets(f)
            .await?
            .items
            .iter()
            .map(|t| {
                let st = flows.get(t.ticket_type).state(&t.status);
                let status = st.map_or(t.status.clone(), |s| lang.t(&s.zh, &s.en).to_string());
                (format!("/console/tickets/{}", t.id.0), vec![t.number.clone(), t.title.clone(), status])
            })
            .collect();
        let plan_v = &v["playbook"];
        let plan =
            plan_v["name"].as_str().map(|_| label(&json!({"zh": plan_v["name"], "en": plan_v["name_en"]}), lang));
        let steps = plan_v["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|st| PlanStep {
                key: st["key"].as_str().unwrap_or("").to_string(),
                cells: vec![
                    label(&json!({"zh": st["title"], "en": st["title_en"]}), lang),
                    serde_json::from_value::<Role>(st["role"].clone())
                        .map_or_else(|_| String::new(), |r| lang.t(r.label_zh(), r.as_str()).to_string()),
                    st["due_at"].as_str().map_or(String::new(), shown),
                    st["done_at"].as_str().map_or_else(|| "—".to_string(), shown),
                    st["by"].as_str().unwrap_or("").to_string(),
                ],
                late: st["late"] == true,
                done: !st["done_at"].is_null(),
            })
            .collect();
        let events = app.kefu.store.incident_events(id).await?;
        let verified = kefu_domain::incident_record::verify_events(&events).is_ok();
        let events = events
            .iter()
            .map(|e| {
                vec![e.seq.to_string(), shown(&e.at.to_rfc3339()), e.actor_name.clone(), action_label(lang, &e.action)]
            })
            .collect();
        Ok(IncidentPage {
            shell: Shell::new(lang, Some(user), title),
            id,
            number: s("number"),
            title: s("title"),
            facts,
            state: label(&v["state_label"], lang),
            children,
            total: v["children"]["total"].as_i64().unwrap_or(0),
            recent,
            notes,
            notices,
            awaiting,
            events,
            verified,
            plan,
            steps,
            may_steer: may_steer(user),
            may_note: may_declare(user),
            active: v["active"] == true,
            dry_run,
            error,
            token: form_token(),
        })
    }
    .await;
    match result {
        Ok(p) => render(status, &p),
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            message(status, lang, Some(user), title, &msg)
        }
    }
}

async fn page<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/incidents/{id}").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let Ok(id) = id.parse() else {
        return message(
            StatusCode::NOT_FOUND,
            lang,
            Some(&user),
            lang.t("重大故障", "Major incident"),
            lang.t("未找到", "Not found"),
        );
    };
    show_page(&app, &user, lang, id, (StatusCode::OK, None, None)).await
}

/// One form per action: `op` is link, unlink or an incident action.
async fn act<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(mut f): Form<Fields>,
) -> Response {
    let op = f.get("op").cloned().unwrap_or_default();
    let endpoint = match op.as_str() {
        "link" => "POST /api/v1/incidents/{id}/links",
        "unlink" => "POST /api/v1/incidents/{id}/unlinks",
        _ => "POST /api/v1/incidents/{id}/actions",
    };
    let user = match gate(&app, &headers, endpoint).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let Ok(id) = id.parse::<i64>() else { return forbidden(lang, &user) };
    if !super::same_origin(&headers) {
        return forbidden(lang, &user);
    }
    take_token(&mut f, "POST /console/incidents/{id}");
    let mut body: Map<String, Value> = f
        .iter()
        .filter(|(k, v)| !matches!(k.as_str(), "op" | "form_token") && !v.trim().is_empty())
        .map(|(k, v)| (k.clone(), json!(v.trim())))
        .collect();
    let dry = body.remove("dry_run").is_some();
    let done = match op.as_str() {
        "link" => app.kefu.link_incident(&user.actor, id, &body).await,
        "unlink" => app.kefu.unlink_incident(&user.actor, id, &body).await,
        action => {
            body.insert("action".into(), json!(action));
            if dry {
                body.insert("dry_run".into(), json!(true));
            }
            app.kefu.incident_action(&user.actor, id, &body).await
        }
    };
    match done {
        Ok(v) if v["dry_run"] == true => {
            let text = lang.t(v["message_zh"].as_str().unwrap_or(""), v["message"].as_str().unwrap_or("")).to_string();
            let text = if v["needs_approval"] == true {
                format!(
                    "{text}{}",
                    lang.t("（超过阈值，需第二人审批）", " (above the threshold: a second person approves)")
                )
            } else {
                text
            };
            show_page(&app, &user, lang, id, (StatusCode::OK, None, Some(text))).await
        }
        Ok(_) => Redirect::to(&format!("/console/incidents/{id}")).into_response(),
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            show_page(&app, &user, lang, id, (status, Some(msg), None)).await
        }
    }
}
