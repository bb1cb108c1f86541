//! Intake (登记工单): the registration form with the customer's history by
//! phone and the policy's priority hint as the agent types.

use super::Lang;
use super::layout::{Fields, Opt, Shell, error_text, form_token, gate, html, render, take_token, worded};
use super::workbench::Row;
use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use askama::Template;
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use kefu_domain::privacy::{Access, PersonalField};
use kefu_domain::{Channel, Priority, TicketType};
use kefu_store::{Store, TicketFilter};
use serde_json::{Map, Value, json};

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/console/new", get(intake_page::<S>).post(intake::<S>))
        .route("/console/new/lookup", axum::routing::post(lookup::<S>))
        .route("/console/priority", get(priority_hint::<S>))
        .route("/console/suggest", get(suggest_hint::<S>))
}

/// The customer's earlier tickets, found by phone, and what their record
/// says of them (from the newest ticket, masked as the viewer's role requires).
struct History {
    total: i64,
    rows: Vec<Row>,
    /// The recorded address as this role may see it, when it is masked
    /// (shown as a hint; a masked value is never put into the form).
    masked_address: Option<String>,
}

#[derive(Template)]
#[template(path = "console/intake.html")]
struct IntakePage<'a> {
    shell: Shell<'a>,
    f: &'a Fields,
    history: Option<History>,
    history_error: Option<String>,
    problems: Problems,
    channels: Vec<Opt>,
    types: Vec<Opt>,
    priorities: Vec<Opt>,
    consent_methods: Vec<Opt>,
    /// Active major incidents: read before registering.
    incidents: Vec<super::incidents::Banner>,
    /// Makes this form's submission count once.
    token: String,
}

impl IntakePage<'_> {
    /// No bulk selection on the customer's history.
    fn bulk(&self) -> bool {
        false
    }

    /// A field's value as submitted ("" if not).
    fn v(&self, k: &str) -> &str {
        self.f.get(k).map_or("", String::as_str)
    }

    /// The phone to register: as typed, or the one looked up.
    fn phone(&self) -> &str {
        if self.f.contains_key("customer.phone") { self.v("customer.phone") } else { self.v("phone") }
    }

    /// The message for `field`, if the service refused that field.
    fn err(&self, field: &str) -> Option<&str> {
        self.problems.fields.iter().find(|(f, _)| f == field).map(|(_, m)| m.as_str())
    }

    /// The form-level message: the error itself, or how many fields are marked.
    fn general(&self) -> Option<String> {
        match (&self.problems.general, self.problems.fields.len()) {
            (Some(e), _) => Some(e.clone()),
            (None, 0) => None,
            (None, 1) => Some(self.shell.t("请修正标出的字段。", "Please correct the marked field.").to_string()),
            (None, n) => Some(match self.shell.lang {
                Lang::Zh => format!("请修正标出的 {n} 个字段。"),
                Lang::En => format!("Please correct the {n} marked fields."),
            }),
        }
    }
}

/// What was wrong with a submitted form: the form's own error, or every
/// wrong field with its message (worded with the form's labels).
#[derive(Default)]
struct Problems {
    general: Option<String>,
    fields: Vec<(String, String)>,
}

impl Problems {
    fn general(message: String) -> Problems {
        Problems { general: Some(message), fields: Vec::new() }
    }
}

fn intake_html(
    status: StatusCode,
    lang: Lang,
    user: &CurrentUser,
    f: &Fields,
    history: Result<Option<History>, String>,
    problems: Problems,
    incidents: Vec<super::incidents::Banner>,
) -> Response {
    let current = |k: &str| f.get(k).map_or("", String::as_str).to_string();
    let options = |all: Vec<(&str, &str, &str)>, k: &str| {
        let cur = current(k);
        all.into_iter().map(|(v, zh, en)| Opt::new(v, lang.t(zh, en), &cur)).collect::<Vec<_>>()
    };
    let (history, history_error) = match history {
        Ok(h) => (h, None),
        Err(e) => (None, Some(e)),
    };
    let page = IntakePage {
        shell: Shell::new(lang, Some(user), lang.t("登记工单", "New ticket")),
        f,
        history,
        history_error,
        problems,
        channels: options(Channel::ALL.iter().map(|c| (c.as_str(), c.label_zh(), c.as_str())).collect(), "channel"),
        types: options(TicketType::ALL.iter().map(|t| (t.as_str(), t.label_zh(), t.as_str())).collect(), "type"),
        priorities: options(Priority::ALL.iter().map(|p| (p.as_str(), p.label_zh(), p.as_str())).collect(), "priority"),
        consent_methods: options(
            vec![
                ("phone", "电话录音", "phone (recorded)"),
                ("online", "线上确认", "online"),
                ("written", "书面", "in writing"),
            ],
            "consent.method",
        ),
        incidents,
        token: form_token(),
    };
    render(status, &page)
}

async fn intake_page<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Query(mut q): Query<Fields>,
) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/tickets").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let phone = q.get("phone").map(|p| p.trim().to_string()).filter(|p| !p.is_empty());
    let history = match phone {
        Some(phone) => {
            q.entry("customer.phone".into()).or_insert_with(|| phone.clone());
            look_up(&app, &user, lang, &mut q, &phone).await
        }
        None => Ok(None),
    };
    intake_html(
        StatusCode::OK,
        lang,
        &user,
        &q,
        history,
        Problems::default(),
        super::incidents::banners(&app, lang).await,
    )
}

/// `POST /console/new/lookup`: the intake form as typed so far, with the
/// customer found by the phone in it — their tickets, and name, level and
/// address filled from their record where still blank. Nothing typed is lost.
async fn lookup<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Form(mut f): Form<Fields>) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/tickets").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    f.remove(super::layout::FORM_TOKEN);
    let phone = f.get("customer.phone").map(|p| p.trim().to_string()).unwrap_or_default();
    let history = if phone.is_empty() { Ok(None) } else { look_up(&app, &user, lang, &mut f, &phone).await };
    intake_html(
        StatusCode::OK,
        lang,
        &user,
        &f,
        history,
        Problems::default(),
        super::incidents::banners(&app, lang).await,
    )
}

/// The customer's history by phone, filling the form's blank customer
/// fields from their record: in full where the role sees them in full; a
/// masked address only as a hint beside the field.
async fn look_up<S: Store>(
    app: &AppState<S>,
    user: &CurrentUser,
    lang: Lang,
    f: &mut Fields,
    phone: &str,
) -> Result<Option<History>, String> {
    let mut history = customer_history(app, user, lang, phone).await?;
    let Some(h) = history.as_mut() else { return Ok(None) };
    let privacy = &app.kefu.core.policy.privacy;
    // The caller's record, whichever tickets this agent may see of theirs:
    // intake is the first contact. Masked as the role requires.
    let record = match kefu_domain::validate::Phone::parse(phone, "phone") {
        Ok(p) => app.kefu.store.customer_by_phone(p.as_str()).await.ok().flatten(),
        Err(_) => None,
    };
    let Some(record) = record else { return Ok(history) };
    let known = serde_json::to_value(crate::view::customer_view(&record, user.actor.role, privacy)).unwrap_or_default();
    let full = |field| privacy.access(user.actor.role, field) == Access::Full;
    for (key, field, personal) in [
        ("customer.name", "name", Some(PersonalField::Name)),
        ("customer.level", "level", None),
        ("customer.address", "address", Some(PersonalField::Address)),
    ] {
        let Some(value) = known[field].as_str().filter(|v| !v.is_empty()) else { continue };
        let blank = f.get(key).is_none_or(|v| v.trim().is_empty());
        if !blank {
            continue;
        }
        if personal.is_none_or(full) {
            f.insert(key.to_string(), value.to_string());
        } else if field == "address" {
            h.masked_address = Some(value.to_string());
        }
    }
    Ok(history)
}

async fn customer_history<S: Store>(
    app: &AppState<S>,
    user: &CurrentUser,
    lang: Lang,
    phone: &str,
) -> Result<Option<History>, String> {
    let params = vec![("customer_phone".to_string(), phone.to_string())];
    let f = crate::http::tickets::parse_filter(&app.kefu, user, &params).await.map_err(|e| error_text(lang, e).2)?;
    Ok(app.kefu.store.list_tickets(TicketFilter { per_page: 10, ..f }).await.ok().map(|p| {
        let views: Vec<Value> = p.items.iter().map(|t| app.kefu.view(t, &user.actor)).collect();
        History { total: p.total, rows: views.iter().map(|v| Row::of(lang, v)).collect(), masked_address: None }
    }))
}

/// Form fields as the JSON of `POST /api/v1/tickets`.
fn intake_json(f: &Fields, now: chrono::DateTime<chrono::Utc>) -> Value {
    let mut body = Map::new();
    let mut customer = Map::new();
    for (k, v) in f {
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        match k.split_once('.') {
            Some(("customer", field)) => {
                customer.insert(field.into(), json!(v));
            }
            Some(_) => {}
            None => {
                body.insert(k.clone(), json!(v));
            }
        }
    }
    body.insert("customer".into(), Value::Object(customer));
    if let Some(method) = f.get("consent.method").filter(|m| !m.is_empty()) {
        body.insert(
            "consent".into(),
            json!({"method": method, "at": now.to_rfc3339(), "evidence": f.get("consent.evidence").map_or("", |e| e.trim())}),
        );
    }
    body.remove("phone");
    Value::Object(body)
}

async fn intake<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Form(mut f): Form<Fields>) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/tickets").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    if !super::same_origin(&headers) {
        let refused = Problems::general("forbidden".to_string());
        return intake_html(StatusCode::FORBIDDEN, lang, &user, &f, Ok(None), refused, Vec::new());
    }
    let once = take_token(&mut f, "POST /console/new");
    let body = intake_json(&f, app.kefu.now());
    let parsed = serde_json::from_value::<kefu_domain::intake::IntakeRequest>(body)
        .map_err(|e| ApiError::Malformed(e.to_string()));
    let (created, all) = match parsed {
        Ok(req) => (app.kefu.create_ticket(&user.actor, &req, once).await, req.field_errors()),
        Err(e) => (Err(e), Vec::new()),
    };
    match created {
        Ok(w) => {
            let number = w.body()["number"].as_str().unwrap_or("").to_string();
            Redirect::to(&format!("/console/tickets/{number}?created=1")).into_response()
        }
        Err(e) => {
            let (status, field, msg) = error_text(lang, e);
            let problems = match field {
                None => Problems::general(msg),
                // Every wrong field at once, not only the first the service met.
                Some(field) if all.iter().any(|e| e.field == field) => Problems {
                    general: None,
                    fields: all
                        .into_iter()
                        .map(|e| (e.field.clone(), worded(lang, &e.field, &e.message, &e.message_zh)))
                        .collect(),
                },
                Some(field) => Problems { general: None, fields: vec![(field, msg)] },
            };
            intake_html(status, lang, &user, &f, Ok(None), problems, super::incidents::banners(&app, lang).await)
        }
    }
}

/// What the policy would derive for the intake form as filled so far.
async fn priority_hint<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Response {
    if let Err(r) = gate(&app, &headers, "POST /api/v1/tickets").await {
        return r;
    }
    let lang = Lang::of(&headers);
    let get = |k: &str| q.get(k).map_or("", |v| v.as_str());
    let Ok(ty) = TicketType::parse(get("type"), "type") else { return html(StatusCode::OK, String::new()) };
    let level = Some(get("customer.level")).filter(|l| !l.trim().is_empty());
    let p = app.kefu.core.policy.priority.derive(ty, get("title"), get("description"), level);
    let text = format!("{}{}", lang.t("策略建议：", "Policy suggests: "), lang.t(p.label_zh(), p.as_str()));
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
}

/// What the models suggest for the text typed so far, as a piece
/// of the form: the likeliest types (a click chooses one), the priority,
/// where it goes and similar tickets.
#[derive(Template)]
#[template(path = "console/suggest.html")]
struct SuggestPiece {
    lang: Lang,
    s: crate::service::suggest::Suggestion,
    types: Vec<(String, String, u32)>,
    priority: Option<(String, u32)>,
}

async fn suggest_hint<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/tickets/suggest").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let get = |k: &str| q.get(k).map(|v| v.to_string()).filter(|v| !v.trim().is_empty());
    let req = crate::service::suggest::SuggestRequest {
        title: get("title"),
        description: get("description"),
        channel: get("channel"),
        customer: Some(crate::service::suggest::SuggestCustomer { level: get("customer.level") }),
    };
    // Nothing typed yet, or not enough to go on: no suggestion, no error.
    let Ok(s) = app.kefu.suggest(&user.actor, &req).await else { return html(StatusCode::OK, String::new()) };
    let pct = |c: f64| (c * 100.0).round() as u32;
    let types = s
        .types
        .iter()
        .filter_map(|g| {
            let v = g.value.clone()?;
            let label = TicketType::parse(&v, "type").map(|t| lang.t(t.label_zh(), t.as_str()).to_string()).ok()?;
            Some((v, label, pct(g.confidence)))
        })
        .collect();
    let priority = s
        .priority
        .value
        .as_deref()
        .and_then(|p| Priority::parse(p, "priority").ok())
        .map(|p| (lang.t(p.label_zh(), p.as_str()).to_string(), pct(s.priority.confidence)));
    render(StatusCode::OK, &SuggestPiece { lang, s, types, priority })
}
