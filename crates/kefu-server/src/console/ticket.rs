//! The ticket page: what the viewer may see of a ticket, its deadlines, the
//! actions open to them, the timeline, transfers, customer messages and
//! notes; and the posts of its action and note forms.

use super::Lang;
use super::layout::{
    Fields, Shell, error_text, forbidden, form_token, gate, message, render, shown, take_token, url_encode,
};
use super::ticket_forms::{ActionForm, Kind, action_forms};
use crate::AppState;
use crate::auth::CurrentUser;
use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kefu_domain::ticket::Ticket;
use kefu_store::Store;
use serde_json::{Map, Value, json};

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/console/tickets/{key}", get(ticket_page::<S>))
        .route("/console/tickets/{key}/act", post(act::<S>))
        .route("/console/tickets/{key}/comment", post(comment::<S>))
        .route("/console/tickets/{key}/reveal", post(super::reveal::reveal::<S>))
}

/// A line of the timeline, transfers, messages or notes.
pub(super) struct Entry {
    pub(super) at: String,
    pub(super) title: String,
    pub(super) who: String,
    pub(super) detail: String,
    pub(super) note: String,
}

struct Deadline {
    label: String,
    due: String,
    state: String,
    state_label: String,
    /// The due time for the live countdown, while the clock runs.
    live: Option<String>,
    /// For a deadline that is met: on time, or how late — fixed, not counting on.
    outcome: String,
}

#[derive(Template)]
#[template(path = "console/ticket.html")]
struct TicketPage<'a> {
    shell: Shell<'a>,
    v: &'a Value,
    number: &'a str,
    status: String,
    flash: Option<String>,
    error: Option<String>,
    kind: String,
    priority: String,
    channel: String,
    created: String,
    first_owner: String,
    handler: String,
    satisfaction: String,
    more: Vec<(&'static str, String)>,
    deadlines: Vec<Deadline>,
    actions: Vec<ActionForm>,
    events: Vec<Entry>,
    transfers: Vec<Entry>,
    messages: Vec<Entry>,
    comments: Vec<Entry>,
    /// Makes the page's form submissions count once.
    token: String,
    /// The reasons to offer for revealing the customer's phone, if this role may.
    reveal: Option<Vec<String>>,
    /// The customer's phone in full, when the viewer may call it.
    call: Option<String>,
    /// The macros this person may apply here.
    macros: Vec<super::layout::Opt>,
    /// Knowledge base articles that fit what the ticket describes.
    articles: Vec<super::kb::Found>,
    /// The order the ticket carries (business, account, unsubscribe).
    order: Option<super::orders::OrderCard>,
    /// Evidence files, images with a thumbnail.
    files: Vec<super::attachments::FileRow>,
    /// Whether this person may add a file.
    may_attach: bool,
}

impl TicketPage<'_> {
    /// A string field of the view ("" if absent).
    fn s(&self, k: &str) -> &str {
        self.v[k].as_str().unwrap_or("")
    }

    fn customer(&self, k: &str) -> &str {
        self.v["customer"][k].as_str().unwrap_or("—")
    }
}

async fn ticket_page<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path(key): Path<String>,
    Query(q): Query<Fields>,
) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/tickets/{id}").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    super::notices::mark_read(&app, user.actor.id, q.get("notice")).await;
    let flash = if q.contains_key("created") {
        Some(lang.t("工单已登记，工单号：", "Registered as ").to_string())
    } else {
        q.get("done").map(|a| format!("{}{}", lang.t("已完成操作：", "Done: "), action_label(lang, a)))
    };
    render_ticket(&app, &user, lang, &key, Outcome { flash, ..Outcome::default() }).await
}

/// The label of an action or audit event in `lang`.
pub fn action_label(lang: Lang, a: &str) -> String {
    kefu_domain::action::ActionKind::parse(a)
        .map_or_else(|_| other_label(lang, a), |k| lang.t(k.label_zh(), k.as_str()).to_string())
}

/// Labels of audit events that are not flow actions.
fn other_label(lang: Lang, a: &str) -> String {
    let (zh, en) = match a {
        "create" => ("登记", "registered"),
        "comment" => ("备注", "note"),
        "attach" => ("添加附件", "file added"),
        "customer_message" => ("客户来信", "customer wrote"),
        "macro" => ("快捷回复", "macro"),
        "merged_in" => ("合并来单", "repeat merged in"),
        "queue" => ("进入队列", "queued"),
        "sla_alert" => ("时限提醒", "deadline alert"),
        "visit_invite" => ("发送回访邀请", "survey sent"),
        "order_approve" => ("审批业务订单", "order approved"),
        "order_submit" => ("执行业务订单", "order handed to the BSS"),
        "order_retry" => ("重新执行业务订单", "order tried again"),
        "order_revoke" => ("撤销业务订单", "order revoked"),
        "order_report" => ("业务订单状态更新", "order state from the BSS"),
        other => (other, other),
    };
    lang.t(zh, en).to_string()
}

fn state_label(lang: Lang, state: &str) -> String {
    let (zh, en) = match state {
        "running" => ("进行中", "running"),
        "paused" => ("已暂停", "paused"),
        "met" => ("已达成", "met"),
        "warning" => ("预警", "warning"),
        "breached" => ("已超时", "breached"),
        "cancelled" => ("已取消", "cancelled"),
        other => (other, other),
    };
    lang.t(zh, en).to_string()
}

/// What the ticket page reports besides the ticket.
#[derive(Default)]
pub(super) struct Outcome {
    /// After a success.
    pub flash: Option<String>,
    /// A refused action: (action, field, message).
    pub error: Option<(String, Option<String>, String)>,
    /// The customer's phone in full, just revealed (never in a URL).
    pub revealed: Option<String>,
    pub status: Option<StatusCode>,
}

/// The page of ticket `key` for `user`, with what the last step did.
pub(super) async fn render_ticket<S: Store>(
    app: &AppState<S>,
    user: &CurrentUser,
    lang: Lang,
    key: &str,
    outcome: Outcome,
) -> Response {
    let Outcome { flash, error, revealed, status } = outcome;
    let t = match app.kefu.visible_ticket(&user.actor, key).await {
        Ok(t) => t,
        Err(e) => {
            let (s, _, m) = error_text(lang, e);
            return message(s, lang, Some(user), "404", &m);
        }
    };
    let v = app.kefu.view_for(&user.actor, &t).await.unwrap_or_else(|_| app.kefu.view(&t, &user.actor));
    let label = |k: &str| lang.t(v[format!("{k}_zh")].as_str().unwrap_or(""), v[k].as_str().unwrap_or("")).to_string();
    let person = |p: &Value| {
        p["name"].as_str().map_or("—".to_string(), |n| format!("{n} ({})", p["username"].as_str().unwrap_or("")))
    };
    let number = v["number"].as_str().unwrap_or("");
    // A flash that ends by announcing the number gets the number appended.
    let flash = flash.map(|f| if f.ends_with('：') || f.ends_with(' ') { format!("{f}{number}") } else { f });
    let actions = action_forms(app, lang, &v, &error, repeats_of(app, user, &t, &v).await).await;
    let (events, transfers, messages, comments) = timeline(app, user, lang, &t).await;
    let page = TicketPage {
        shell: Shell::new(lang, Some(user), number),
        v: &v,
        number,
        status: label("status"),
        flash,
        error: error.as_ref().filter(|(_, field, _)| field.is_none()).map(|(_, _, m)| m.clone()),
        kind: label("type"),
        priority: label("priority"),
        channel: label("channel"),
        created: shown(v["created_at"].as_str().unwrap_or("")),
        first_owner: person(&v["first_owner"]),
        handler: person(&v["assignee"]),
        satisfaction: v["satisfaction"].as_i64().map_or("—".into(), |n| n.to_string()),
        more: more_fields(lang, &v),
        deadlines: deadlines(lang, &v),
        actions,
        events,
        transfers,
        messages,
        comments,
        token: form_token(),
        reveal: super::reveal::phone_form(app, user, &v, revealed.is_some()),
        call: super::reveal::callable(app, user, &v, revealed),
        macros: super::canned::offered(app, user, lang).await,
        articles: related(app, lang, &t).await,
        order: super::orders::order_card(lang, &v, &app.kefu.core.settings.catalogue),
        files: super::attachments::rows(app, lang, &user.actor, number).await,
        may_attach: app.kefu.core.policy.access.allows("POST /api/v1/tickets/{id}/attachments", user.actor.role)
            == Some(true),
    };
    render(status.unwrap_or(StatusCode::OK), &page)
}

/// The customer's other open tickets this person sees, for a merge (only
/// looked up when the ticket may be merged now).
async fn repeats_of<S: Store>(app: &AppState<S>, user: &CurrentUser, t: &Ticket, v: &Value) -> Vec<super::layout::Opt> {
    let may_merge = v["allowed_actions"].as_array().is_some_and(|a| a.iter().any(|x| x == "merge"));
    if !may_merge {
        return Vec::new();
    }
    let params = vec![
        ("customer_phone".to_string(), t.customer.phone.as_str().to_string()),
        ("open".to_string(), "true".to_string()),
    ];
    let Ok(filter) = crate::http::tickets::parse_filter(&app.kefu, user, &params).await else { return Vec::new() };
    let Ok(list) = app.kefu.store.list_tickets(kefu_store::TicketFilter { page: 1, per_page: 20, ..filter }).await
    else {
        return Vec::new();
    };
    list.items
        .iter()
        .filter(|o| o.id != t.id)
        .map(|o| super::layout::Opt::new(&o.number, &format!("{} {}", o.number, o.title), ""))
        .collect()
}

/// The articles that fit the ticket (its title and description), for the
/// person handling it.
async fn related<S: Store>(app: &AppState<S>, lang: Lang, t: &Ticket) -> Vec<super::kb::Found> {
    let text = format!("{} {}", t.title, t.description);
    let limit = app.kefu.core.policy.search.related_articles;
    app.kefu.related_articles(&text, limit).await.iter().map(|h| super::kb::found(lang, h)).collect()
}

/// The ticket's page again with a refusal of one of its forms.
pub(super) async fn show_error<S: Store>(
    app: &AppState<S>,
    user: &CurrentUser,
    lang: Lang,
    key: &str,
    form: &str,
    status: StatusCode,
    msg: String,
) -> Response {
    let outcome = Outcome { error: Some((form.into(), None, msg)), status: Some(status), ..Outcome::default() };
    render_ticket(app, user, lang, key, outcome).await
}

/// The fields a ticket may or may not have, each shown when present
/// (personal ones as the view masked them for this role).
fn more_fields(lang: Lang, v: &Value) -> Vec<(&'static str, String)> {
    let text = |x: &Value| match x {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(true) => Some(lang.t("是", "yes").to_string()),
        Value::Bool(false) => None,
        Value::Number(n) if n.as_i64() == Some(0) => None,
        other => Some(other.to_string()),
    };
    let consent = v["consent"]["method"]
        .as_str()
        .map(|m| format!("{} · {}", value_label(lang, m), v["consent"]["evidence"].as_str().unwrap_or("")));
    let masked = v["masked_fields"].as_array().filter(|a| !a.is_empty()).map(|a| {
        let labels: Vec<String> =
            a.iter().filter_map(Value::as_str).map(|f| super::layout::field_label(lang, f)).collect();
        labels.join(lang.t("、", ", "))
    });
    let word = |x: &Value| x.as_str().map(|c| value_label(lang, c));
    let rows = [
        (lang.t("证件号码", "ID number"), text(&v["customer"]["id_number"])),
        (lang.t("客户等级", "Customer level"), word(&v["customer"]["level"])),
        (lang.t("业务号码", "Service number"), text(&v["service_number"])),
        (lang.t("业务线", "Business line"), text(&v["business_line"])),
        (lang.t("营业厅", "Store"), text(&v["store"])),
        (lang.t("关联重大故障", "Major incident"), text(&v["incident"]["number"])),
        (lang.t("故障地点", "Location"), text(&v["location"])),
        (lang.t("发生时间", "Occurred at"), v["occurred_at"].as_str().map(shown)),
        (lang.t("退订同意", "Consent"), consent),
        (lang.t("主管督办", "Supervised"), text(&v["supervised"])),
        (lang.t("待派（无人可派）", "Waiting in queue"), text(&v["unassignable"])),
        (lang.t("申诉次数", "Appeals"), text(&v["appeal_count"])),
        (lang.t("确认方式", "Confirmed by"), word(&v["customer_loop"]["confirmed_by"])),
        (lang.t("回访", "Return visit"), word(&v["customer_loop"]["visit"]["state"])),
        (lang.t("已屏蔽字段", "Masked fields"), masked),
    ];
    rows.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))).collect()
}

fn deadlines(lang: Lang, v: &Value) -> Vec<Deadline> {
    v["deadlines"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            let state = d["state"].as_str().unwrap_or("");
            let due = d["due_at"].as_str().unwrap_or("");
            let met = d["met_at"].as_str().and_then(|m| chrono::DateTime::parse_from_rfc3339(m).ok());
            let due_at = chrono::DateTime::parse_from_rfc3339(due).ok();
            let outcome = match (met, due_at) {
                (Some(m), Some(d)) if m > d => {
                    format!("{} {}", lang.t("超时达成，晚了", "met late by"), span(lang, m - d))
                }
                (Some(_), _) => lang.t("按时达成", "met on time").to_string(),
                _ => String::new(),
            };
            let kind = d["kind"].as_str().unwrap_or("");
            Deadline {
                label: lang.t(d["label_zh"].as_str().unwrap_or(""), d["label_en"].as_str().unwrap_or(kind)).to_string(),
                due: shown(due),
                state: state.to_string(),
                state_label: if met.is_some() {
                    lang.t("已达成", "met").to_string()
                } else {
                    state_label(lang, state)
                },
                live: (met.is_none() && matches!(state, "running" | "warning" | "breached")).then(|| due.to_string()),
                outcome,
            }
        })
        .collect()
}

/// The codes a ticket carries in its customer loop and record, in words:
/// consent methods, who confirmed, return-visit states, customer levels.
fn value_label(lang: Lang, code: &str) -> String {
    let (zh, en) = match code {
        "phone" => ("电话录音", "phone (recorded)"),
        "online" => ("线上确认", "online"),
        "written" => ("书面", "in writing"),
        "customer" => ("客户本人确认", "the customer"),
        "agent" => ("经客服确认", "an agent, for the customer"),
        "default" => ("逾期未答复，默认确认", "by default, no answer in time"),
        "waiting" => ("等待客户确认", "waiting for the customer's confirmation"),
        "pending" => ("待回访", "due"),
        "invited" => ("已发送评价邀请", "survey sent"),
        "visited" => ("已回访", "visited"),
        "unreachable" => ("未联系上", "unreachable"),
        "cancelled" => ("已取消（客户申诉）", "cancelled (appealed)"),
        "vip" | "VIP" => ("VIP 客户", "VIP"),
        other => (other, other),
    };
    lang.t(zh, en).to_string()
}

/// An event detail that is a bare code (a method) in words; text as typed.
fn value_label_if_code(lang: Lang, d: &str) -> String {
    match d {
        "sms" | "email" => word(lang, d),
        "phone" => lang.t("电话", "phone").to_string(),
        "online" => lang.t("线上", "online").to_string(),
        "letter" => lang.t("信函", "letter").to_string(),
        other => other.to_string(),
    }
}

/// Who did something, as people read it: staff by name; kefu's own jobs
/// and the customer's links by what they are.
fn actor_label(lang: Lang, name: &str) -> String {
    let (zh, en) = match name {
        "system:dispatch" => ("系统（自动派单）", "system (dispatch)"),
        "system:sla-watcher" => ("系统（时限监控）", "system (deadline watch)"),
        "system:auto-confirm" => ("系统（逾期默认确认）", "system (confirmed by default)"),
        "system:visit-scheduler" => ("系统（回访调度）", "system (return visits)"),
        "customer:portal" => ("客户（自助）", "customer (portal)"),
        "customer:lookup" => ("客户（查询链接）", "customer (look-up link)"),
        other => (other, other),
    };
    lang.t(zh, en).to_string()
}

/// What a customer message is, in words.
fn message_label(lang: Lang, kind: &str) -> String {
    let (zh, en) = match kind {
        "receipt" => ("受理回执", "receipt"),
        "result" => ("结果通知", "result notice"),
        "unsubscribe_confirmation" => ("退订确认", "unsubscribe confirmation"),
        "visit_invitation" => ("回访邀请", "survey invitation"),
        "reply" => ("回复客户", "reply"),
        _ => ("消息", "message"),
    };
    lang.t(zh, en).to_string()
}

/// Channels, transfer modes and states, delivery states, in words.
fn word(lang: Lang, code: &str) -> String {
    let (zh, en) = match code {
        "sms" => ("短信", "SMS"),
        "email" => ("电子邮件", "e-mail"),
        "wechat" => ("微信", "WeChat"),
        "phone" => ("电话", "phone"),
        "manual" => ("人工", "manual"),
        "system" => ("系统", "system"),
        "pending" => ("待处理", "pending"),
        "accepted" => ("已接收", "accepted"),
        "rejected" => ("已退回", "rejected"),
        "cancelled" => ("已取消", "cancelled"),
        "sent" => ("已发出", "sent"),
        "delivered" => ("已送达", "delivered"),
        "failed" => ("发送失败", "failed"),
        other => (other, other),
    };
    lang.t(zh, en).to_string()
}

/// A length of time as people say it: days and hours, hours and minutes,
/// or minutes.
fn span(lang: Lang, d: chrono::Duration) -> String {
    let m = d.num_minutes().max(0);
    let (days, hours, minutes) = (m / 1440, m % 1440 / 60, m % 60);
    match lang {
        Lang::Zh if days > 0 => format!("{days}天{hours}时"),
        Lang::Zh if hours > 0 => format!("{hours}时{minutes}分"),
        Lang::Zh => format!("{minutes}分"),
        Lang::En if days > 0 => format!("{days}d {hours}h"),
        Lang::En if hours > 0 => format!("{hours}h {minutes}m"),
        Lang::En => format!("{minutes}m"),
    }
}

/// Events, transfers, customer messages and notes, personal data masked
/// as the viewer's role requires.
pub(super) async fn timeline<S: Store>(
    app: &AppState<S>,
    user: &CurrentUser,
    lang: Lang,
    t: &Ticket,
) -> (Vec<Entry>, Vec<Entry>, Vec<Entry>, Vec<Entry>) {
    let (role, privacy) = (user.actor.role, &app.kefu.core.policy.privacy);
    let local = kefu_domain::time::shanghai_short;
    let entry = |at, title: String, who: String, detail: String, note: String| Entry {
        at: local(at),
        title,
        who,
        detail,
        note,
    };
    let store = &app.kefu.store;
    let events = store.events(t.id).await.unwrap_or_default().into_iter().map(|e| {
        let data = crate::view::mask_json(&e.data, role, privacy);
        let mut detail: Vec<String> = Vec::new();
        // A merge names the other ticket on both.
        if let Some(n) = data["into"].as_str() {
            detail.push(format!("{}{n}", lang.t("合并到 ", "into ")));
        }
        if let Some(n) = data["from"].as_str() {
            detail.push(format!("{}{n}", lang.t("重复来电 ", "repeat report ")));
        }
        for f in data["attachments"].as_array().into_iter().flatten() {
            detail.push(f["filename"].as_str().unwrap_or_default().to_string());
        }
        detail.extend(
            ["reason", "result", "comment", "method"]
                .iter()
                .filter_map(|k| data[k].as_str().map(|v| value_label_if_code(lang, v))),
        );
        entry(e.at, action_label(lang, &e.action), actor_label(lang, &e.actor_name), detail.join(" · "), String::new())
    });
    let transfers = store.transfers(t.id).await.unwrap_or_default().into_iter().map(|tr| {
        let name = |u: Option<kefu_domain::UserId>| u.map(|u| app.kefu.core.directory.summary(u).name);
        let to = name(tr.to_user)
            .or_else(|| tr.to_team.map(|_| lang.t("班组", "a team").to_string()))
            .or_else(|| tr.to_department.map(|_| lang.t("部门", "a department").to_string()))
            .unwrap_or_default();
        let route = format!("{} → {to}", name(tr.from_user).unwrap_or_else(|| lang.t("系统", "system").into()));
        let how = format!("{} · {}", route, word(lang, &tr.mode));
        entry(tr.created_at, how, privacy.show_text(role, &tr.reason), word(lang, &tr.state), String::new())
    });
    let messages = store.messages(t.id).await.unwrap_or_default().into_iter().map(|m| {
        let state =
            if m.state == "pending" { lang.t("待发送", "waiting").to_string() } else { word(lang, &m.state) };
        let (kind, channel) = (message_label(lang, &m.kind), word(lang, &m.channel));
        entry(m.created_at, kind, channel, state, m.last_error.unwrap_or_default())
    });
    let comments = store.comments(t.id).await.unwrap_or_default().into_iter().map(|c| {
        let (author, kind) = match &c.channel {
            Some(ch) => (
                lang.t("客户", "Customer").to_string(),
                format!("（{} · {}）", lang.t("客户来信", "customer wrote"), word(lang, ch)),
            ),
            None => {
                let kind = if c.internal {
                    lang.t("（内部）", "(internal)")
                } else {
                    lang.t("（回复客户）", "(reply)")
                };
                (app.kefu.core.directory.summary(c.author).name, kind.to_string())
            }
        };
        entry(c.created_at, author, kind, privacy.show_text(role, &c.body), String::new())
    });
    (events.collect(), transfers.collect(), messages.collect(), comments.collect())
}

/// Form fields as an action body: booleans and numbers typed, blanks left out.
fn action_json(f: &Fields) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in f {
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        // One select names where a transfer or escalation goes; the API
        // takes each kind of receiver in its own field.
        let (key, value) = match (k.as_str(), v) {
            ("to", v) if v.starts_with("team:") => ("to_team".to_string(), json!(&v[5..])),
            ("to", v) if v.starts_with("department:") => ("to_department".to_string(), json!(&v[11..])),
            ("escalate_to", "supervisor") => ("to_supervisor".to_string(), json!(true)),
            ("escalate_to", v) if v.starts_with("user:") => ("to".to_string(), json!(&v[5..])),
            ("escalate_to", v) => ("to_tier".to_string(), v.parse::<i64>().map_or(json!(v), |n| json!(n))),
            ("reached" | "passed" | "to_supervisor", v) => (k.clone(), json!(v == "true")),
            ("satisfaction" | "nps" | "to_tier", v) => (k.clone(), v.parse::<i64>().map_or(json!(v), |n| json!(n))),
            (_, v) => (k.clone(), json!(v)),
        };
        m.insert(key, value);
    }
    // No default for a judgement: a visit form without `reached` is refused
    // by the service (the person must say whether the customer was reached).
    m
}

async fn act<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path(key): Path<String>,
    Form(mut f): Form<Fields>,
) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/tickets/{id}/actions").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let action = f.get("action").cloned().unwrap_or_default();
    if !super::same_origin(&headers) {
        return forbidden(lang, &user);
    }
    let once = take_token(&mut f, &format!("POST /console/tickets/{key}/act"));
    match app.kefu.act(&user.actor, &key, &action_json(&f), once).await {
        Ok(_) => Redirect::to(&format!("/console/tickets/{key}?done={}", url_encode(&action))).into_response(),
        Err(e) => {
            let (status, field, msg) = error_text(lang, e);
            let outcome = Outcome { error: Some((action, field, msg)), status: Some(status), ..Outcome::default() };
            render_ticket(&app, &user, lang, &key, outcome).await
        }
    }
}

async fn comment<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path(key): Path<String>,
    Form(mut f): Form<Fields>,
) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/tickets/{id}/comments").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    if !super::same_origin(&headers) {
        return forbidden(lang, &user);
    }
    let internal = f.get("internal").map(String::as_str) == Some("true");
    let once = take_token(&mut f, &format!("POST /console/tickets/{key}/comment"));
    match app.kefu.comment(&user.actor, &key, f.get("body").map(String::as_str), internal, once).await {
        Ok(_) => Redirect::to(&format!("/console/tickets/{key}?done=comment")).into_response(),
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            let outcome =
                Outcome { error: Some(("comment".into(), None, msg)), status: Some(status), ..Outcome::default() };
            render_ticket(&app, &user, lang, &key, outcome).await
        }
    }
}
