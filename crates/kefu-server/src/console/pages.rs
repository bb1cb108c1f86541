//! The console's pages: login, workbench (queues), intake, ticket with its
//! actions, and the supervisor dashboard.

use super::{Lang, SESSION_COOKIE, esc, same_origin, to_login};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use axum::Router;
use axum::extract::{ConnectInfo, Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kefu_domain::{Channel, Priority, Role, TicketType};
use kefu_store::{Store, TicketFilter};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/console", get(workbench::<S>))
        .route("/console/login", get(login_page).post(login::<S>))
        .route("/console/logout", post(logout::<S>))
        .route("/console/lang", get(lang))
        .route("/console/new", get(intake_page::<S>).post(intake::<S>))
        .route("/console/tickets/{key}", get(ticket_page::<S>))
        .route("/console/tickets/{key}/act", post(act::<S>))
        .route("/console/tickets/{key}/comment", post(comment::<S>))
        .route("/console/dashboard", get(dashboard::<S>))
        .route("/console/visits", get(visits::<S>))
        .route("/console/priority", get(priority_hint::<S>))
}

type Fields = HashMap<String, String>;

const CSS: &str = r#"*{box-sizing:border-box}body{margin:0;font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;color:#1f2328;background:#f6f8fa;font-size:14px;line-height:1.5}
header{background:#0b5394;color:#fff;display:flex;flex-wrap:wrap;align-items:center;gap:.3rem 1rem;padding:.5rem 1rem}header a{color:#fff;text-decoration:none}header .brand{font-weight:bold;font-size:1.1rem;margin-right:1rem}header nav{display:flex;flex-wrap:wrap;gap:.2rem 1rem;flex:1}header .me{opacity:.9}
header form{display:inline}header button{background:none;border:1px solid #fff8;color:#fff;padding:.1rem .6rem;border-radius:3px;cursor:pointer}
main{padding:1rem;max-width:1280px;margin:0 auto}h1{font-size:1.3rem;margin:.2rem 0 1rem}h2{font-size:1.05rem;margin:1.2rem 0 .5rem}
.card{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:.8rem 1rem;margin-bottom:1rem}
.tabs{display:flex;flex-wrap:wrap;gap:.3rem;margin-bottom:.8rem}.tabs a{padding:.3rem .8rem;border:1px solid #d0d7de;border-radius:16px;background:#fff;color:#1f2328;text-decoration:none}.tabs a.on{background:#0b5394;color:#fff;border-color:#0b5394}.tabs .n{font-weight:bold;margin-left:.3rem}
.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid #eaeef2;white-space:nowrap}td.wrap{white-space:normal;min-width:12rem}th{background:#f6f8fa;font-weight:600}
a{color:#0b5394}label{display:block;margin:.4rem 0 .1rem;font-weight:600}input,select,textarea{font:inherit;padding:.35rem .45rem;border:1px solid #afb8c1;border-radius:4px;width:100%;max-width:32rem;background:#fff}textarea{max-width:48rem}
input[type=checkbox],input[type=radio]{width:auto}button,.btn{font:inherit;padding:.4rem 1rem;background:#0b5394;color:#fff;border:0;border-radius:4px;cursor:pointer;margin-top:.5rem}button.warn{background:#a61c00}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(16rem,1fr));gap:.2rem 1.2rem}.actions{display:grid;grid-template-columns:repeat(auto-fit,minmax(18rem,1fr));gap:1rem}.actions form{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:.6rem .8rem}
.err{color:#a61c00;font-weight:600}.field-err{color:#a61c00;font-size:.9rem;display:block}.ok{background:#e6f4ea;border:1px solid #8cc79a;padding:.5rem .8rem;border-radius:4px;margin-bottom:1rem}
.due{font-variant-numeric:tabular-nums;padding:.05rem .4rem;border-radius:3px}.s-running{background:#e6f4ea}.s-warning{background:#fff4ce}.s-breached{background:#ffd7d5}.s-paused{background:#eaeef2}.s-met,.s-cancelled{color:#57606a}
.muted{color:#57606a}dl.kv{display:grid;grid-template-columns:8rem 1fr;gap:.15rem .8rem;margin:0}dl.kv dt{color:#57606a}dl.kv dd{margin:0}
.timeline{list-style:none;padding:0;margin:0}.timeline li{border-left:3px solid #0b5394;padding:.2rem .7rem;margin-bottom:.4rem;background:#fff}
.pager{display:flex;gap:1rem;align-items:center;margin-top:.6rem}.chart{max-width:100%;height:auto}
@media (max-width:640px){main{padding:.5rem}dl.kv{grid-template-columns:6rem 1fr}header nav{gap:.2rem .7rem}}"#;

/// Live countdowns: every `.due[data-due]` shows the time left (or over),
/// refreshed each second, in the page's language.
const JS: &str = r#"(function(){var zh=document.documentElement.lang!=='en';function fmt(ms){var m=Math.floor(Math.abs(ms)/60000),d=Math.floor(m/1440),h=Math.floor(m%1440/60),mm=m%60,s=Math.floor(Math.abs(ms)/1000)%60;var t=d>0?(zh?d+'天'+h+'时':d+'d '+h+'h'):h>0?(zh?h+'时'+mm+'分':h+'h '+mm+'m'):(zh?mm+'分'+s+'秒':mm+'m '+s+'s');return ms<0?(zh?'超时 '+t:'over by '+t):(zh?'剩余 '+t:t+' left')}
function tick(){var now=Date.now();document.querySelectorAll('.due[data-due]').forEach(function(e){e.textContent=fmt(new Date(e.dataset.due).getTime()-now)})}tick();setInterval(tick,1000);
document.querySelectorAll('form textarea').forEach(function(t){t.addEventListener('keydown',function(e){if(e.key==='Enter'&&(e.ctrlKey||e.metaKey)){e.preventDefault();t.form.requestSubmit()}})});
var hint=document.getElementById('priority-hint');if(hint){var f=hint.closest('form'),timer;function ask(){var q=new URLSearchParams();['type','title','description','customer.level'].forEach(function(n){var e=f.elements[n];if(e)q.set(n,e.value)});fetch('/console/priority?'+q,{credentials:'same-origin'}).then(function(r){return r.ok?r.text():''}).then(function(t){hint.textContent=t})}
f.addEventListener('input',function(){clearTimeout(timer);timer=setTimeout(ask,250)});f.addEventListener('change',ask);ask()}
var live=document.querySelector('[data-refresh]');if(live){setInterval(function(){fetch(live.dataset.refresh,{credentials:'same-origin'}).then(function(r){return r.ok?r.text():null}).then(function(h){if(h){live.innerHTML=h;tick()}})},live.dataset.every*1000)}})();"#;

fn layout(lang: Lang, user: Option<&CurrentUser>, title: &str, body: &str) -> String {
    let l = |zh, en| lang.t(zh, en);
    let nav = match user {
        None => String::new(),
        Some(u) => {
            let role = u.actor.role;
            let mut links = vec![format!("<a href=\"/console\">{}</a>", l("工作台", "Workbench"))];
            if matches!(role, Role::Agent | Role::Engineer | Role::ComplaintSpecialist | Role::Supervisor) {
                links.push(format!("<a href=\"/console/new\" accesskey=\"n\">{}</a>", l("登记工单", "New ticket")));
            }
            if app_visits(role) {
                links.push(format!("<a href=\"/console/visits\">{}</a>", l("回访任务", "Return visits")));
            }
            if matches!(role, Role::Supervisor | Role::Inspector | Role::Admin) {
                links.push(format!("<a href=\"/console/dashboard\">{}</a>", l("主管看板", "Dashboard")));
            }
            format!(
                "<nav>{}</nav><span class=\"me\">{} · {}</span><a href=\"/console/lang?to={}\">{}</a>\
                 <form method=\"post\" action=\"/console/logout\"><button type=\"submit\">{}</button></form>",
                links.join(""),
                esc(&u.actor.username),
                lang.t(role.label_zh(), role.as_str()),
                if lang == Lang::Zh { "en" } else { "zh" },
                if lang == Lang::Zh { "English" } else { "中文" },
                l("退出", "Log out")
            )
        }
    };
    format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · kefu</title><style>{CSS}</style></head><body><header><a class=\"brand\" href=\"/console\">kefu {}</a>{nav}</header>\
         <main>{body}</main><script>{JS}</script></body></html>",
        if lang == Lang::Zh { "zh-CN" } else { "en" },
        esc(title),
        l("客服工单", "Service desk"),
    )
}

/// A console page. Its referrer policy is `same-origin` (the API's is
/// `no-referrer`): under no-referrer the browser sends `Origin: null` with
/// the page's forms, and the origin check must see the console's own.
fn html(status: StatusCode, page: String) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store"), (header::REFERRER_POLICY, "same-origin")], Html(page))
        .into_response()
}

/// Status, field and message (in the page's language) of a service error:
/// the API's own mapping.
fn error_text(lang: Lang, e: ApiError) -> (StatusCode, Option<String>, String) {
    let (status, field, en, zh) = e.parts();
    (status, field, lang.t(&zh, &en).to_string())
}

// --- login ---

async fn login_page(headers: HeaderMap) -> Response {
    html(StatusCode::OK, login_html(Lang::of(&headers), None))
}

fn login_html(lang: Lang, error: Option<&str>) -> String {
    let l = |zh, en| lang.t(zh, en);
    let err = error.map_or(String::new(), |e| format!("<p class=\"err\" id=\"login-error\">{}</p>", esc(e)));
    let body = format!(
        "<div class=\"card\" style=\"max-width:24rem;margin:3rem auto\"><h1>{}</h1>{err}\
         <form method=\"post\" action=\"/console/login\"><label for=\"username\">{}</label><input id=\"username\" name=\"username\" autocomplete=\"username\" autofocus required>\
         <label for=\"password\">{}</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">{}</button></form><p class=\"muted\"><a href=\"/console/lang?to={}\">{}</a></p></div>",
        l("登录 客服工单系统", "Sign in to kefu"),
        l("用户名", "Username"),
        l("密码", "Password"),
        l("登录", "Sign in"),
        if lang == Lang::Zh { "en" } else { "zh" },
        if lang == Lang::Zh { "English" } else { "中文" }
    );
    layout(lang, None, l("登录", "Sign in"), &body)
}

async fn login<S: Store>(
    State(app): State<AppState<S>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<Fields>,
) -> Response {
    let lang = Lang::of(&headers);
    if !same_origin(&headers) {
        return html(StatusCode::FORBIDDEN, login_html(lang, Some("forbidden")));
    }
    let (u, p) = (f.get("username").map_or("", |s| s.trim()), f.get("password").map_or("", String::as_str));
    match app.kefu.login(u, p, Some(peer.ip())).await {
        Ok(r) => {
            let max_age = (r.expires_at - app.kefu.now()).num_seconds().max(0);
            let cookie =
                format!("{SESSION_COOKIE}={}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age}", r.token);
            (StatusCode::SEE_OTHER, [(header::SET_COOKIE, cookie), (header::LOCATION, "/console".to_string())])
                .into_response()
        }
        Err(e) => {
            let msg = error_text(lang, e).2;
            html(StatusCode::UNAUTHORIZED, login_html(lang, Some(&msg)))
        }
    }
}

async fn logout<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap) -> Response {
    if let Some(u) = super::user(&app, &headers).await
        && same_origin(&headers)
    {
        let _ = app.kefu.logout(&u.token_hash).await;
    }
    let cookie = format!("{SESSION_COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0");
    (StatusCode::SEE_OTHER, [(header::SET_COOKIE, cookie), (header::LOCATION, "/console/login".to_string())])
        .into_response()
}

async fn lang(headers: HeaderMap, Query(q): Query<Fields>) -> Response {
    let to = if q.get("to").map(String::as_str) == Some("en") { "en" } else { "zh" };
    let back = headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| r.find("/console").map(|i| r[i..].to_string()))
        .unwrap_or_else(|| "/console".into());
    let cookie = format!("kefu_lang={to}; Path=/console; SameSite=Lax; Max-Age=31536000");
    (StatusCode::SEE_OTHER, [(header::SET_COOKIE, cookie), (header::LOCATION, back)]).into_response()
}

/// The signed-in user allowed `endpoint` (the API's table), or the
/// response to send instead.
async fn gate<S: Store>(app: &AppState<S>, headers: &HeaderMap, endpoint: &str) -> Result<CurrentUser, Response> {
    let Some(user) = super::user(app, headers).await else { return Err(to_login()) };
    if app.kefu.core.policy.access.allows(endpoint, user.actor.role) != Some(true) {
        let lang = Lang::of(headers);
        let body =
            format!("<p class=\"err\">{}</p>", lang.t("您的角色无权访问此页面。", "Your role may not open this page."));
        return Err(html(StatusCode::FORBIDDEN, layout(lang, Some(&user), "403", &body)));
    }
    Ok(user)
}

// --- workbench ---

const QUEUES: &[(&str, &str, &str)] = &[
    ("mine", "我的工单", "Mine"),
    ("team", "班组队列", "Team queue"),
    ("awaiting_acceptance", "待我接收", "Awaiting my acceptance"),
    ("warning", "预警", "Warnings"),
    ("overdue", "已超时", "Overdue"),
    ("unassigned", "待派单", "Unassigned"),
    ("all", "全部", "All"),
];

async fn workbench<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Query(q): Query<Fields>) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/tickets").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let l = |zh, en| lang.t(zh, en);
    let queue = q.get("queue").map_or("mine", String::as_str);
    let mut tabs = String::new();
    for (key, zh, en) in QUEUES {
        let filter = queue_params(key, &[]);
        let Ok(f) = crate::http::tickets::parse_filter(&app, &user, &filter).await else { continue };
        let total = app
            .kefu
            .store
            .list_tickets(TicketFilter { per_page: 1, ..f })
            .await
            .map_or_else(|_| "?".into(), |p| p.total.to_string());
        tabs.push_str(&format!(
            "<a href=\"/console?queue={key}\" id=\"tab-{key}\" class=\"{}\">{}<span class=\"n\">{total}</span></a>",
            if *key == queue { "on" } else { "" },
            lang.t(zh, en)
        ));
    }
    let extra: Vec<(String, String)> = ["q", "type", "status", "priority", "page", "after"]
        .iter()
        .filter_map(|k| q.get(*k).filter(|v| !v.trim().is_empty()).map(|v| (k.to_string(), v.clone())))
        .collect();
    let params = queue_params(queue, &extra);
    let (rows, pager, error) = match crate::http::tickets::parse_filter(&app, &user, &params).await {
        Ok(f) => match app.kefu.store.list_tickets(TicketFilter { per_page: 30, ..f.clone() }).await {
            Ok(page) => {
                let views: Vec<Value> = page.items.iter().map(|t| app.kefu.view(t, &user.actor)).collect();
                let pager = if f.due_first {
                    pager(lang, queue, &extra, page.page, page.per_page, page.total)
                } else {
                    // Newest first: keyset links, as fast on the last page as on the first.
                    let next = page.items.last().filter(|_| page.items.len() == 30).map(kefu_store::Cursor::of);
                    cursor_pager(lang, queue, &extra, next, page.total)
                };
                (ticket_rows(lang, &views), pager, None)
            }
            Err(e) => (String::new(), String::new(), Some(error_text(lang, e.into()).2)),
        },
        Err(e) => (String::new(), String::new(), Some(error_text(lang, e).2)),
    };
    let value = |k: &str| esc(q.get(k).map_or("", String::as_str));
    let options = |all: &[(&str, &str, &str)], k: &str| {
        let cur = q.get(k).map_or("", String::as_str);
        all.iter()
            .map(|(v, zh, en)| {
                format!("<option value=\"{v}\"{}>{}</option>", if *v == cur { " selected" } else { "" }, lang.t(zh, en))
            })
            .collect::<String>()
    };
    let types: Vec<(&str, &str, &str)> =
        TicketType::ALL.iter().map(|t| (t.as_str(), t.label_zh(), t.as_str())).collect();
    let prios: Vec<(&str, &str, &str)> = Priority::ALL.iter().map(|p| (p.as_str(), p.label_zh(), p.as_str())).collect();
    let body = format!(
        "<h1>{}</h1><div class=\"tabs\">{tabs}</div>\
         <form class=\"card grid\" method=\"get\" action=\"/console\"><input type=\"hidden\" name=\"queue\" value=\"{}\">\
         <div><label for=\"q\">{}</label><input id=\"q\" name=\"q\" value=\"{}\" placeholder=\"{}\"></div>\
         <div><label for=\"type\">{}</label><select id=\"type\" name=\"type\"><option value=\"\">—</option>{}</select></div>\
         <div><label for=\"priority\">{}</label><select id=\"priority\" name=\"priority\"><option value=\"\">—</option>{}</select></div>\
         <div><button type=\"submit\">{}</button></div></form>{}<div class=\"scroll\">{rows}</div>{pager}",
        l("工作台", "Workbench"),
        esc(queue),
        l("搜索（标题、描述）", "Search (title, description)"),
        value("q"),
        l("如：宽带 掉线", "e.g. broadband"),
        l("类型", "Type"),
        options(&types, "type"),
        l("优先级", "Priority"),
        options(&prios, "priority"),
        l("筛选", "Filter"),
        error.map_or(String::new(), |e| format!("<p class=\"err\">{}</p>", esc(&e))),
    );
    html(StatusCode::OK, layout(lang, Some(&user), l("工作台", "Workbench"), &body))
}

fn queue_params(queue: &str, extra: &[(String, String)]) -> Vec<(String, String)> {
    let mut p: Vec<(String, String)> = match queue {
        "all" => vec![],
        q => vec![("queue".into(), q.into())],
    };
    p.extend(extra.iter().cloned());
    p
}

fn pager(lang: Lang, queue: &str, extra: &[(String, String)], page: u32, per_page: u32, total: i64) -> String {
    let pages = ((total.max(1) as u64).div_ceil(u64::from(per_page))) as u32;
    let link = |p: u32| {
        let mut qs = vec![format!("queue={queue}")];
        qs.extend(extra.iter().filter(|(k, _)| k != "page").map(|(k, v)| format!("{k}={}", url_encode(v))));
        qs.push(format!("page={p}"));
        format!("/console?{}", qs.join("&"))
    };
    let prev = if page > 1 {
        format!("<a href=\"{}\" rel=\"prev\">{}</a>", link(page - 1), lang.t("上一页", "Previous"))
    } else {
        String::new()
    };
    let next = if page < pages {
        format!("<a href=\"{}\" rel=\"next\">{}</a>", link(page + 1), lang.t("下一页", "Next"))
    } else {
        String::new()
    };
    format!("<div class=\"pager\">{prev}<span class=\"muted\">{page} / {pages} · {total}</span>{next}</div>")
}

fn cursor_pager(
    lang: Lang,
    queue: &str,
    extra: &[(String, String)],
    next: Option<kefu_store::Cursor>,
    total: i64,
) -> String {
    let base: Vec<String> = std::iter::once(format!("queue={queue}"))
        .chain(extra.iter().filter(|(k, _)| k != "after" && k != "page").map(|(k, v)| format!("{k}={}", url_encode(v))))
        .collect();
    let first = if extra.iter().any(|(k, _)| k == "after") {
        format!("<a href=\"/console?{}\" rel=\"first\">{}</a>", base.join("&"), lang.t("第一页", "First page"))
    } else {
        String::new()
    };
    let next = next.map_or(String::new(), |c| {
        format!(
            "<a href=\"/console?{}&after={}\" rel=\"next\">{}</a>",
            base.join("&"),
            c.encode(),
            lang.t("下一页", "Next")
        )
    });
    format!("<div class=\"pager\">{first}<span class=\"muted\">{} {total}</span>{next}</div>", lang.t("共", "total"))
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The next running deadline of a ticket view: (due, state, label).
fn next_deadline(v: &Value) -> Option<(String, String, String)> {
    v["deadlines"]
        .as_array()?
        .iter()
        .filter(|d| matches!(d["state"].as_str(), Some("running" | "warning" | "breached" | "paused")))
        .min_by_key(|d| d["due_at"].as_str().unwrap_or("").to_string())
        .map(|d| {
            (
                d["due_at"].as_str().unwrap_or("").to_string(),
                d["state"].as_str().unwrap_or("").to_string(),
                d["label_zh"].as_str().unwrap_or("").to_string(),
            )
        })
}

fn due_cell(v: &Value) -> String {
    match next_deadline(v) {
        Some((due, state, label)) => format!(
            "<span class=\"muted\">{}</span> <span class=\"due s-{state}\" data-due=\"{}\">{}</span>",
            esc(&label),
            esc(&due),
            esc(&due)
        ),
        None => "—".into(),
    }
}

fn ticket_rows(lang: Lang, views: &[Value]) -> String {
    let l = |zh, en| lang.t(zh, en);
    let mut out = format!(
        "<table id=\"tickets\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        l("工单号", "Number"),
        l("标题", "Title"),
        l("类型", "Type"),
        l("优先级", "Priority"),
        l("状态", "Status"),
        l("处理人", "Handler"),
        l("下一时限", "Next deadline")
    );
    if views.is_empty() {
        out.push_str(&format!("<tr><td colspan=\"7\" class=\"muted\">{}</td></tr>", l("没有工单", "No tickets")));
    }
    for v in views {
        let s = |k: &str| esc(v[k].as_str().unwrap_or(""));
        out.push_str(&format!(
            "<tr><td><a href=\"/console/tickets/{}\">{}</a></td><td class=\"wrap\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            s("number"),
            s("number"),
            s("title"),
            lang.t(v["type_zh"].as_str().unwrap_or(""), v["type"].as_str().unwrap_or("")),
            lang.t(v["priority_zh"].as_str().unwrap_or(""), v["priority"].as_str().unwrap_or("")),
            lang.t(v["status_zh"].as_str().unwrap_or(""), v["status"].as_str().unwrap_or("")),
            esc(v["assignee"]["name"].as_str().unwrap_or("—")),
            due_cell(v)
        ));
    }
    out.push_str("</tbody></table>");
    out
}

// --- intake ---

async fn intake_page<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/tickets").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let history = match q.get("phone").map(|p| p.trim()).filter(|p| !p.is_empty()) {
        Some(phone) => customer_history(&app, &user, lang, phone).await,
        None => String::new(),
    };
    html(StatusCode::OK, intake_html(lang, &user, &q, &history, None))
}

async fn customer_history<S: Store>(app: &AppState<S>, user: &CurrentUser, lang: Lang, phone: &str) -> String {
    let params = vec![("customer_phone".to_string(), phone.to_string())];
    match crate::http::tickets::parse_filter(app, user, &params).await {
        Ok(f) => match app.kefu.store.list_tickets(TicketFilter { per_page: 10, ..f }).await {
            Ok(p) => {
                let views: Vec<Value> = p.items.iter().map(|t| app.kefu.view(t, &user.actor)).collect();
                format!(
                    "<div class=\"card\" id=\"history\"><h2>{} ({})</h2><div class=\"scroll\">{}</div></div>",
                    lang.t("该客户的历史工单", "This customer's tickets"),
                    p.total,
                    ticket_rows(lang, &views)
                )
            }
            Err(_) => String::new(),
        },
        Err(e) => format!("<p class=\"err\">{}</p>", esc(&error_text(lang, e).2)),
    }
}

fn intake_html(
    lang: Lang,
    user: &CurrentUser,
    f: &Fields,
    history: &str,
    error: Option<(Option<String>, String)>,
) -> String {
    let l = |zh, en| lang.t(zh, en);
    let v = |k: &str| esc(f.get(k).map_or("", String::as_str));
    let (err_field, err_msg) = error.clone().map_or((None, None), |(f, m)| (f, Some(m)));
    let note = |field: &str| match (&err_field, &err_msg) {
        (Some(ef), Some(m)) if ef == field => {
            format!("<span class=\"field-err\" id=\"err-{}\">{}</span>", esc(&field.replace('.', "-")), esc(m))
        }
        _ => String::new(),
    };
    let general = match (&err_field, &err_msg) {
        (None, Some(m)) => format!("<p class=\"err\">{}</p>", esc(m)),
        (Some(_), Some(_)) => {
            format!("<p class=\"err\">{}</p>", l("请修正标出的字段。", "Please correct the marked field."))
        }
        _ => String::new(),
    };
    let select = |name: &str, opts: Vec<(String, String)>, blank: Option<&str>| {
        let cur = f.get(name).map_or("", String::as_str);
        let mut s = blank.map_or(String::new(), |b| format!("<option value=\"\">{b}</option>"));
        for (val, label) in opts {
            s.push_str(&format!(
                "<option value=\"{val}\"{}>{}</option>",
                if val == cur { " selected" } else { "" },
                label
            ));
        }
        format!("<select id=\"{name}\" name=\"{name}\">{s}</select>")
    };
    let channels =
        Channel::ALL.iter().map(|c| (c.as_str().to_string(), lang.t(c.label_zh(), c.as_str()).to_string())).collect();
    let types = TicketType::ALL
        .iter()
        .map(|t| (t.as_str().to_string(), lang.t(t.label_zh(), t.as_str()).to_string()))
        .collect();
    let prios =
        Priority::ALL.iter().map(|p| (p.as_str().to_string(), lang.t(p.label_zh(), p.as_str()).to_string())).collect();
    let body = format!(
        "<h1>{}</h1>{general}\
         <form class=\"card\" method=\"get\" action=\"/console/new\"><label for=\"lookup\">{}</label>\
         <input id=\"lookup\" name=\"phone\" value=\"{}\" inputmode=\"tel\" placeholder=\"13812345678\"><button type=\"submit\">{}</button></form>{history}\
         <form class=\"card\" method=\"post\" action=\"/console/new\" id=\"intake\"><div class=\"grid\">\
         <div><label for=\"customer.phone\">{} *</label><input id=\"customer.phone\" name=\"customer.phone\" value=\"{}\" required inputmode=\"tel\" autofocus>{}</div>\
         <div><label for=\"customer.name\">{} *</label><input id=\"customer.name\" name=\"customer.name\" value=\"{}\" required>{}</div>\
         <div><label for=\"channel\">{} *</label>{}{}</div>\
         <div><label for=\"type\">{} *</label>{}{}</div>\
         <div><label for=\"priority\">{}</label>{}{}<span class=\"muted\" id=\"priority-hint\" aria-live=\"polite\"></span></div>\
         <div><label for=\"customer.level\">{}</label><input id=\"customer.level\" name=\"customer.level\" value=\"{}\" placeholder=\"vip / 金卡 / 五星\"></div>\
         <div><label for=\"service_number\">{}</label><input id=\"service_number\" name=\"service_number\" value=\"{}\">{}</div>\
         <div><label for=\"customer.id_number\">{}</label><input id=\"customer.id_number\" name=\"customer.id_number\" value=\"{}\">{}</div>\
         <div><label for=\"customer.address\">{}</label><input id=\"customer.address\" name=\"customer.address\" value=\"{}\">{}</div>\
         </div><label for=\"title\">{} *</label><input id=\"title\" name=\"title\" value=\"{}\" required>{}\
         <label for=\"description\">{} *</label><textarea id=\"description\" name=\"description\" rows=\"4\" required>{}</textarea>{}\
         <fieldset class=\"card\"><legend>{}</legend><div class=\"grid\">\
         <div><label for=\"consent.method\">{}</label>{}</div>\
         <div><label for=\"consent.evidence\">{}</label><input id=\"consent.evidence\" name=\"consent.evidence\" value=\"{}\">{}</div></div></fieldset>\
         <button type=\"submit\" id=\"submit\">{}</button> <span class=\"muted\">{}</span></form>",
        l("登记工单", "Register a ticket"),
        l("按手机号查找客户", "Find the customer by phone"),
        v("phone"),
        l("查找", "Find"),
        l("客户手机", "Customer phone"),
        if f.contains_key("customer.phone") { v("customer.phone") } else { v("phone") },
        note("customer.phone"),
        l("客户姓名", "Customer name"),
        v("customer.name"),
        note("customer.name"),
        l("渠道", "Channel"),
        select("channel", channels, None),
        note("channel"),
        l("类型", "Type"),
        select("type", types, None),
        note("type"),
        l("优先级", "Priority"),
        select("priority", prios, Some(l("按策略自动判定", "Derived by policy"))),
        note("priority"),
        l("客户等级", "Customer level"),
        v("customer.level"),
        l("业务号码", "Service number"),
        v("service_number"),
        note("service_number"),
        l("证件号码", "ID number"),
        v("customer.id_number"),
        note("customer.id_number"),
        l("地址", "Address"),
        v("customer.address"),
        note("customer.address"),
        l("标题", "Title"),
        v("title"),
        note("title"),
        l("问题描述", "Description"),
        v("description"),
        note("description"),
        l("退订须客户明确同意（仅退订类填写）", "Unsubscribe: the customer's explicit consent"),
        l("同意方式", "Consent given by"),
        select(
            "consent.method",
            vec![
                ("phone".into(), l("电话录音", "phone (recorded)").into()),
                ("online".into(), l("线上确认", "online").into()),
                ("written".into(), l("书面", "in writing").into()),
            ],
            Some("—")
        ),
        l("凭证（录音编号等）", "Evidence (recording id …)"),
        v("consent.evidence"),
        note("consent"),
        l("提交登记", "Register"),
        l("Ctrl+Enter 亦可提交", "Ctrl+Enter submits too"),
    );
    layout(lang, Some(user), l("登记工单", "New ticket"), &body)
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

async fn intake<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Form(f): Form<Fields>) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/tickets").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    if !same_origin(&headers) {
        return html(StatusCode::FORBIDDEN, intake_html(lang, &user, &f, "", Some((None, "forbidden".into()))));
    }
    let body = intake_json(&f, app.kefu.now());
    let parsed = serde_json::from_value::<kefu_domain::intake::IntakeRequest>(body)
        .map_err(|e| ApiError::Malformed(e.to_string()));
    let created = match parsed {
        Ok(req) => app.kefu.create_ticket(&user.actor, &req, None).await,
        Err(e) => Err(e),
    };
    match created {
        Ok(w) => {
            let number = w.body()["number"].as_str().unwrap_or("").to_string();
            Redirect::to(&format!("/console/tickets/{number}?created=1")).into_response()
        }
        Err(e) => {
            let (status, field, msg) = error_text(lang, e);
            html(status, intake_html(lang, &user, &f, "", Some((field, msg))))
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

// --- ticket ---

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
    let flash = if q.contains_key("created") {
        Some(lang.t("工单已登记，工单号：", "Registered as ").to_string())
    } else {
        q.get("done").map(|a| format!("{}{}", lang.t("已完成操作：", "Done: "), action_label(lang, a)))
    };
    render_ticket(&app, &user, lang, &key, flash, None, StatusCode::OK).await
}

fn action_label(lang: Lang, a: &str) -> String {
    kefu_domain::action::ActionKind::parse(a)
        .map_or_else(|_| other_label(lang, a), |k| lang.t(k.label_zh(), k.as_str()).to_string())
}

#[allow(clippy::too_many_arguments)]
async fn render_ticket<S: Store>(
    app: &AppState<S>,
    user: &CurrentUser,
    lang: Lang,
    key: &str,
    flash: Option<String>,
    error: Option<(String, Option<String>, String)>,
    status: StatusCode,
) -> Response {
    let l = |zh, en| lang.t(zh, en);
    let t = match app.kefu.visible_ticket(&user.actor, key).await {
        Ok(t) => t,
        Err(e) => {
            let (s, _, m) = error_text(lang, e);
            return html(s, layout(lang, Some(user), "404", &format!("<p class=\"err\">{}</p>", esc(&m))));
        }
    };
    let v = app.kefu.view_for(&user.actor, &t).await.unwrap_or_else(|_| app.kefu.view(&t, &user.actor));
    let s = |k: &str| esc(v[k].as_str().unwrap_or(""));
    let mut body = format!(
        "<h1>{} <span class=\"muted\" id=\"status\">{}</span></h1>",
        s("number"),
        esc(lang.t(v["status_zh"].as_str().unwrap_or(""), v["status"].as_str().unwrap_or("")))
    );
    if let Some(f) = flash {
        let number = if f.ends_with('：') || f.ends_with(' ') { s("number") } else { String::new() };
        body.push_str(&format!("<div class=\"ok\" id=\"flash\">{}{number}</div>", esc(&f)));
    }
    if let Some((_, None, msg)) = &error {
        body.push_str(&format!("<p class=\"err\" id=\"action-error\">{}</p>", esc(msg)));
    }
    let person = |p: &Value| {
        p["name"]
            .as_str()
            .map_or("—".to_string(), |n| format!("{} ({})", esc(n), esc(p["username"].as_str().unwrap_or(""))))
    };
    let c = &v["customer"];
    body.push_str(&format!(
        "<div class=\"card\"><dl class=\"kv\"><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{} · {} · {} · {}</dd><dt>{}</dt><dd>{} · {} · {}</dd>\
         <dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>L{} · {}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd id=\"result\">{}</dd></dl></div>",
        l("标题", "Title"),
        s("title"),
        l("分类", "Type"),
        lang.t(v["type_zh"].as_str().unwrap_or(""), v["type"].as_str().unwrap_or("")),
        lang.t(v["priority_zh"].as_str().unwrap_or(""), v["priority"].as_str().unwrap_or("")),
        lang.t(v["channel_zh"].as_str().unwrap_or(""), v["channel"].as_str().unwrap_or("")),
        shown(v["created_at"].as_str().unwrap_or("")),
        l("客户", "Customer"),
        esc(c["name"].as_str().unwrap_or("")),
        esc(c["phone"].as_str().unwrap_or("")),
        esc(c["address"].as_str().unwrap_or("—")),
        l("描述", "Description"),
        s("description"),
        l("首问责任人", "First owner"),
        person(&v["first_owner"]),
        l("处理层级 / 人", "Tier / handler"),
        v["tier"],
        person(&v["assignee"]),
        l("满意度", "Satisfaction"),
        v["satisfaction"].as_i64().map_or("—".into(), |n| n.to_string()),
        l("处理结果", "Result"),
        esc(v["result"].as_str().unwrap_or("—")),
    ));
    body.push_str(&more_fields(lang, &v));
    body.push_str(&deadlines(lang, &v));
    body.push_str(&format!(
        "<h2>{}</h2><div class=\"actions\">{}</div>",
        l("可执行操作", "Actions"),
        action_forms(app, lang, &v, &error).await
    ));
    body.push_str(&timeline(app, user, lang, &t).await);
    html(status, layout(lang, Some(user), v["number"].as_str().unwrap_or(""), &body))
}

/// The fields a ticket may or may not have, each shown when present
/// (personal ones as the view masked them for this role).
fn more_fields(lang: Lang, v: &Value) -> String {
    let text = |x: &Value| match x {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(esc(s)),
        Value::Bool(true) => Some(lang.t("是", "yes").to_string()),
        Value::Bool(false) => None,
        Value::Number(n) if n.as_i64() == Some(0) => None,
        other => Some(esc(&other.to_string())),
    };
    let rows = [
        (lang.t("证件号码", "ID number"), text(&v["customer"]["id_number"])),
        (lang.t("客户等级", "Customer level"), text(&v["customer"]["level"])),
        (lang.t("业务号码", "Service number"), text(&v["service_number"])),
        (lang.t("业务线", "Business line"), text(&v["business_line"])),
        (lang.t("故障地点", "Location"), text(&v["location"])),
        (lang.t("发生时间", "Occurred at"), v["occurred_at"].as_str().map(shown)),
        (
            lang.t("退订同意", "Consent"),
            v["consent"]["method"]
                .as_str()
                .map(|m| format!("{} · {}", esc(m), esc(v["consent"]["evidence"].as_str().unwrap_or("")))),
        ),
        (lang.t("主管督办", "Supervised"), text(&v["supervised"])),
        (lang.t("待派（无人可派）", "Waiting in queue"), text(&v["unassignable"])),
        (lang.t("申诉次数", "Appeals"), text(&v["appeal_count"])),
        (lang.t("确认方式", "Confirmed by"), text(&v["customer_loop"]["confirmed_by"])),
        (lang.t("回访", "Return visit"), text(&v["customer_loop"]["visit"]["state"])),
        (
            lang.t("已屏蔽字段", "Masked fields"),
            v["masked_fields"]
                .as_array()
                .filter(|a| !a.is_empty())
                .map(|a| esc(&a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))),
        ),
    ];
    let shown_rows: String =
        rows.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("<dt>{k}</dt><dd>{v}</dd>"))).collect();
    if shown_rows.is_empty() {
        String::new()
    } else {
        format!("<div class=\"card\"><dl class=\"kv\" id=\"more\">{shown_rows}</dl></div>")
    }
}

/// An RFC 3339 time from a view, shown in Shanghai time.
fn shown(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339).map_or_else(
        |_| rfc3339.to_string(),
        |t| t.with_timezone(&kefu_domain::time::shanghai()).format("%Y-%m-%d %H:%M").to_string(),
    )
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

fn deadlines(lang: Lang, v: &Value) -> String {
    let mut out =
        format!("<h2>{}</h2><div class=\"scroll\"><table id=\"deadlines\"><tbody>", lang.t("时限", "Deadlines"));
    for d in v["deadlines"].as_array().into_iter().flatten() {
        let state = d["state"].as_str().unwrap_or("");
        let live = matches!(state, "running" | "warning" | "breached");
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><span class=\"due s-{state}\"{}></span></td></tr>",
            esc(d["label_zh"].as_str().unwrap_or("")),
            shown(d["due_at"].as_str().unwrap_or("")),
            esc(&state_label(lang, state)),
            if live { format!(" data-due=\"{}\"", esc(d["due_at"].as_str().unwrap_or(""))) } else { String::new() },
        ));
    }
    out.push_str("</tbody></table></div>");
    out
}

/// One form per action allowed now, with the fields it needs.
async fn action_forms<S: Store>(
    app: &AppState<S>,
    lang: Lang,
    v: &Value,
    error: &Option<(String, Option<String>, String)>,
) -> String {
    let l = |zh, en| lang.t(zh, en);
    let staff = app
        .kefu
        .org()
        .await
        .map(|o| {
            o.users
                .iter()
                .filter(|u| u.active)
                .map(|u| (u.username.clone(), u.display_name.clone(), u.role))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let people = |name: &str, optional: bool| {
        let mut s = if optional {
            format!("<option value=\"\">{}</option>", l("按规则自动", "automatic"))
        } else {
            String::new()
        };
        for (u, n, r) in staff.iter().filter(|(_, _, r)| !matches!(r, Role::Inspector | Role::Admin)) {
            s.push_str(&format!(
                "<option value=\"{}\">{} {} ({})</option>",
                esc(u),
                esc(n),
                esc(u),
                lang.t(r.label_zh(), r.as_str())
            ));
        }
        format!("<select name=\"{name}\">{s}</select>")
    };
    let text = |name: &str, label: &str| format!("<label>{label}</label><input name=\"{name}\" required>");
    let area = |name: &str, label: &str| {
        format!("<label>{label}</label><textarea name=\"{name}\" rows=\"2\" required></textarea>")
    };
    let choose = |name: &str, label: &str, opts: &[(&str, &str)]| {
        let o: String = opts.iter().map(|(val, lab)| format!("<option value=\"{val}\">{lab}</option>")).collect();
        format!("<label>{label}</label><select name=\"{name}\">{o}</select>")
    };
    let number = v["number"].as_str().unwrap_or("");
    let mut out = String::new();
    for a in v["allowed_actions"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        let fields = match a {
            "dispatch" => format!("<label>{}</label>{}", l("处理人", "Handler"), people("assignee", true)),
            "redispatch" => format!(
                "<label>{}</label>{}{}",
                l("改派给", "To"),
                people("assignee", true),
                text("reason", l("原因", "Reason"))
            ),
            "transfer" => format!(
                "<label>{}</label>{}{}{}",
                l("转派给", "To"),
                people("to", false),
                text("reason", l("原因", "Reason")),
                choose(
                    "mode",
                    l("方式", "Mode"),
                    &[("manual", l("人工", "manual")), ("phone", l("电话", "phone")), ("system", l("系统", "system"))]
                )
            ),
            "escalate" => format!(
                "{}{}",
                choose("to_tier", l("升级到", "Up to"), &[("2", "L2"), ("3", "L3")]),
                text("reason", l("原因", "Reason"))
            ),
            "suspend" | "reject_transfer" | "reject" | "appeal" | "withdraw" => text("reason", l("原因", "Reason")),
            "resolve" => area("result", l("处理结果", "Result")),
            "approve" => format!("<label>{}</label><input name=\"comment\">", l("意见", "Comment")),
            "notify_result" => format!(
                "{}<label>{}</label><input name=\"email\" type=\"email\" placeholder=\"name@example.com\">",
                choose(
                    "method",
                    l("方式", "Method"),
                    &[
                        ("sms", l("短信", "SMS")),
                        ("phone", l("电话", "phone")),
                        ("email", l("电子邮件", "e-mail")),
                        ("online", l("线上", "online")),
                        ("letter", l("信函", "letter"))
                    ]
                ),
                l("邮箱（电子邮件方式）", "E-mail (for e-mail)")
            ),
            "return_visit" => format!(
                "{}<label><input type=\"checkbox\" name=\"reached\" value=\"true\" checked> {}</label>{}<label>NPS 0–10</label><input name=\"nps\" type=\"number\" min=\"0\" max=\"10\"><label>{}</label><input name=\"comment\">",
                choose(
                    "method",
                    l("方式", "Method"),
                    &[("phone", l("电话", "phone")), ("sms", l("短信", "SMS")), ("online", l("线上", "online"))]
                ),
                l("已联系到客户", "Reached the customer"),
                choose(
                    "satisfaction",
                    l("满意度", "Satisfaction"),
                    &[("5", "5"), ("4", "4"), ("3", "3"), ("2", "2"), ("1", "1"), ("", "—")]
                ),
                l("备注", "Comment")
            ),
            "review" => format!(
                "{}<label>{}</label><input name=\"comment\">",
                choose(
                    "passed",
                    l("复核结论", "Verdict"),
                    &[("true", l("通过", "pass")), ("false", l("退回", "return"))]
                ),
                l("意见", "Comment")
            ),
            "set_priority" => format!(
                "{}{}",
                choose(
                    "priority",
                    l("优先级", "Priority"),
                    &[
                        ("urgent", l("紧急", "urgent")),
                        ("important", l("重要", "important")),
                        ("normal", l("一般", "normal"))
                    ]
                ),
                text("reason", l("原因", "Reason"))
            ),
            _ => String::new(),
        };
        let err = match error {
            Some((action, Some(field), msg)) if action == a => {
                format!("<span class=\"field-err\" data-field=\"{}\">{}: {}</span>", esc(field), esc(field), esc(msg))
            }
            _ => String::new(),
        };
        let warn = if matches!(a, "withdraw" | "reject" | "appeal") { " class=\"warn\"" } else { "" };
        out.push_str(&format!(
            "<form method=\"post\" action=\"/console/tickets/{number}/act\" id=\"act-{a}\"><input type=\"hidden\" name=\"action\" value=\"{a}\">{fields}{err}<button type=\"submit\"{warn}>{}</button></form>",
            esc(&action_label(lang, a))
        ));
    }
    if out.is_empty() {
        out = format!("<p class=\"muted\">{}</p>", l("当前没有您可执行的操作。", "Nothing for you to do here now."));
    }
    out
}

async fn timeline<S: Store>(
    app: &AppState<S>,
    user: &CurrentUser,
    lang: Lang,
    t: &kefu_domain::ticket::Ticket,
) -> String {
    let l = |zh, en| lang.t(zh, en);
    let (role, privacy) = (user.actor.role, &app.kefu.core.policy.privacy);
    let local = |d: chrono::DateTime<chrono::Utc>| {
        d.with_timezone(&kefu_domain::time::shanghai()).format("%m-%d %H:%M").to_string()
    };
    let mut out = format!("<h2>{}</h2><ul class=\"timeline\" id=\"timeline\">", l("处理过程", "Timeline"));
    for e in app.kefu.store.events(t.id).await.unwrap_or_default() {
        let data = crate::view::mask_json(&e.data, role, privacy);
        let detail = ["reason", "result", "comment", "method"]
            .iter()
            .filter_map(|k| data[k].as_str().map(|s| s.to_string()))
            .collect::<Vec<_>>()
            .join(" · ");
        out.push_str(&format!(
            "<li><b>{}</b> {} <span class=\"muted\">{}</span> {}</li>",
            esc(&action_label(lang, &e.action)),
            esc(&e.actor_name),
            local(e.at),
            esc(&detail)
        ));
    }
    out.push_str("</ul>");
    let transfers = app.kefu.store.transfers(t.id).await.unwrap_or_default();
    if !transfers.is_empty() {
        out.push_str(&format!("<h2>{}</h2><ul class=\"timeline\">", l("转派记录", "Transfers")));
        for tr in transfers {
            out.push_str(&format!(
                "<li>{} · {} · {} · {}</li>",
                local(tr.created_at),
                esc(&tr.mode),
                esc(&privacy.show_text(role, &tr.reason)),
                esc(&tr.state)
            ));
        }
        out.push_str("</ul>");
    }
    let messages = app.kefu.store.messages(t.id).await.unwrap_or_default();
    if !messages.is_empty() {
        out.push_str(&format!(
            "<h2>{}</h2><ul class=\"timeline\" id=\"messages\">",
            l("客户通知", "Customer messages")
        ));
        for m in messages {
            out.push_str(&format!(
                "<li>{} · {} · {} · <b>{}</b>{}</li>",
                local(m.created_at),
                esc(&m.kind),
                esc(&m.channel),
                esc(&m.state),
                m.last_error.map_or(String::new(), |e| format!(" <span class=\"muted\">{}</span>", esc(&e)))
            ));
        }
        out.push_str("</ul>");
    }
    out.push_str(&format!("<h2>{}</h2><ul class=\"timeline\">", l("备注与回复", "Notes and replies")));
    for c in app.kefu.store.comments(t.id).await.unwrap_or_default() {
        out.push_str(&format!(
            "<li>{} <b>{}</b> {} {}</li>",
            local(c.created_at),
            esc(&app.kefu.core.directory.summary(c.author).name),
            if c.internal { l("（内部）", "(internal)") } else { l("（回复客户）", "(reply)") },
            esc(&privacy.show_text(role, &c.body))
        ));
    }
    out.push_str(&format!(
        "</ul><form class=\"card\" method=\"post\" action=\"/console/tickets/{}/comment\"><label for=\"body\">{}</label><textarea id=\"body\" name=\"body\" rows=\"2\" required></textarea>\
         <label><input type=\"checkbox\" name=\"internal\" value=\"true\" checked> {}</label><button type=\"submit\">{}</button></form>",
        esc(&t.number),
        l("添加备注（@用户名 可提醒同事）", "Add a note (@username notifies a colleague)"),
        l("内部备注", "Internal"),
        l("提交", "Add")
    ));
    out
}

/// Form fields as an action body: booleans and numbers typed, blanks left out.
fn action_json(f: &Fields) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in f {
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        let value = match k.as_str() {
            "reached" | "passed" | "to_supervisor" => json!(v == "true"),
            "satisfaction" | "nps" | "to_tier" => v.parse::<i64>().map_or(json!(v), |n| json!(n)),
            _ => json!(v),
        };
        m.insert(k.clone(), value);
    }
    // An unchecked box sends nothing: a visit form without `reached` did not reach.
    if f.get("action").map(String::as_str) == Some("return_visit") && !m.contains_key("reached") {
        m.insert("reached".into(), json!(false));
    }
    m
}

async fn act<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path(key): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/tickets/{id}/actions").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let action = f.get("action").cloned().unwrap_or_default();
    if !same_origin(&headers) {
        return html(StatusCode::FORBIDDEN, layout(lang, Some(&user), "403", "<p class=\"err\">forbidden</p>"));
    }
    match app.kefu.act(&user.actor, &key, &action_json(&f), None).await {
        Ok(_) => Redirect::to(&format!("/console/tickets/{key}?done={}", url_encode(&action))).into_response(),
        Err(e) => {
            let (status, field, msg) = error_text(lang, e);
            render_ticket(&app, &user, lang, &key, None, Some((action, field, msg)), status).await
        }
    }
}

async fn comment<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path(key): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/tickets/{id}/comments").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    if !same_origin(&headers) {
        return html(StatusCode::FORBIDDEN, layout(lang, Some(&user), "403", "<p class=\"err\">forbidden</p>"));
    }
    let internal = f.get("internal").map(String::as_str) == Some("true");
    match app.kefu.comment(&user.actor, &key, f.get("body").map(String::as_str), internal, None).await {
        Ok(_) => Redirect::to(&format!("/console/tickets/{key}?done=comment")).into_response(),
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            render_ticket(&app, &user, lang, &key, None, Some(("comment".into(), None, msg)), status).await
        }
    }
}

// --- return visits ---

/// Roles the return-visit queue is for (as in the shipped endpoint table).
fn app_visits(role: Role) -> bool {
    matches!(role, Role::Agent | Role::ComplaintSpecialist | Role::Supervisor | Role::Inspector)
}

/// The return visits due by phone (回访任务), earliest due first, each
/// linking to its ticket, where the visit is recorded.
async fn visits<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Query(q): Query<Fields>) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/return-visits").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let l = |zh, en| lang.t(zh, en);
    let page = q.get("page").and_then(|p| p.parse().ok()).filter(|p| *p >= 1).unwrap_or(1);
    let filter = kefu_store::VisitFilter {
        state: Some("pending".into()),
        method: Some("phone".into()),
        page,
        per_page: 30,
        ..Default::default()
    };
    let rows = match app.kefu.store.visits(filter).await {
        Ok(p) => {
            let mut out = format!(
                "<table id=\"visits\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
                l("工单号", "Number"),
                l("类型", "Type"),
                l("办结时间", "Resolved"),
                l("已尝试", "Attempts"),
                l("回访时限", "Due")
            );
            if p.items.is_empty() {
                out.push_str(&format!(
                    "<tr><td colspan=\"5\" class=\"muted\">{}</td></tr>",
                    l("没有待回访的工单", "Nothing to visit")
                ));
            }
            for v in &p.items {
                let ty = TicketType::parse(&v.ticket_type, "type")
                    .map_or(v.ticket_type.clone(), |t| lang.t(t.label_zh(), t.as_str()).to_string());
                let due = v.due_at.to_rfc3339();
                let state = if v.due_at <= app.kefu.now() { "breached" } else { "running" };
                out.push_str(&format!(
                    "<tr><td><a href=\"/console/tickets/{n}\">{n}</a></td><td>{ty}</td><td>{}</td><td>{}</td><td>{} <span class=\"due s-{state}\" data-due=\"{due}\"></span></td></tr>",
                    shown(&v.resolved_at.to_rfc3339()),
                    v.attempts,
                    shown(&due),
                    n = esc(&v.number),
                ));
            }
            out.push_str("</tbody></table>");
            let pages = ((p.total.max(1) as u64).div_ceil(30)) as u32;
            let prev = if page > 1 {
                format!("<a href=\"/console/visits?page={}\">{}</a>", page - 1, l("上一页", "Previous"))
            } else {
                String::new()
            };
            let next = if page < pages {
                format!("<a href=\"/console/visits?page={}\">{}</a>", page + 1, l("下一页", "Next"))
            } else {
                String::new()
            };
            format!(
                "{out}<div class=\"pager\">{prev}<span class=\"muted\">{page} / {pages} · {}</span>{next}</div>",
                p.total
            )
        }
        Err(e) => format!("<p class=\"err\">{}</p>", esc(&error_text(lang, e.into()).2)),
    };
    let body = format!(
        "<h1>{}</h1><p class=\"muted\">{}</p><div class=\"scroll\">{rows}</div>",
        l("回访任务（电话）", "Return visits by phone"),
        l(
            "客户确认结果后到期；短信与线上回访由系统自动发送。",
            "Due once the customer has confirmed; SMS and online visits are sent by the system."
        )
    );
    html(StatusCode::OK, layout(lang, Some(&user), l("回访任务", "Return visits"), &body))
}

// --- dashboard ---

async fn dashboard<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Query(q): Query<Fields>) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/reports/return-visits").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let panels = dashboard_panels(&app, lang).await;
    if q.contains_key("partial") {
        return html(StatusCode::OK, panels);
    }
    let body = format!(
        "<h1>{}</h1><div id=\"panels\" data-refresh=\"/console/dashboard?partial=1\" data-every=\"30\">{panels}</div>",
        lang.t("主管看板", "Supervisor dashboard")
    );
    html(StatusCode::OK, layout(lang, Some(&user), lang.t("主管看板", "Dashboard"), &body))
}

async fn count<S: Store>(app: &AppState<S>, f: TicketFilter) -> i64 {
    app.kefu.store.list_tickets(TicketFilter { page: 1, per_page: 1, ..f }).await.map_or(0, |p| p.total)
}

async fn dashboard_panels<S: Store>(app: &AppState<S>, lang: Lang) -> String {
    let l = |zh, en| lang.t(zh, en);
    let now = app.kefu.now();
    let mut by_type = Vec::new();
    for t in TicketType::ALL {
        let n = count(app, TicketFilter { ticket_type: Some(*t), open: Some(true), ..Default::default() }).await;
        by_type.push((lang.t(t.label_zh(), t.as_str()).to_string(), n as f64));
    }
    // Open states of the shipped flows (an operator's own states show under their type).
    let mut by_state = Vec::new();
    for (state, zh, en) in [
        ("accepted", "已受理", "accepted"),
        ("dispatched", "已派单", "dispatched"),
        ("approved", "已审批", "approved"),
        ("operator_confirmed", "已确认退订", "confirmed (unsub.)"),
        ("in_progress", "处理中", "in progress"),
        ("suspended", "已挂起", "suspended"),
        ("transfer_pending", "转派待接收", "transfer pending"),
    ] {
        let n = count(app, TicketFilter { status: Some(state.into()), open: Some(true), ..Default::default() }).await;
        by_state.push((lang.t(zh, en).to_string(), n as f64));
    }
    let warnings = count(app, TicketFilter { warning_at: Some(now), ..Default::default() }).await;
    let overdue = count(app, TicketFilter { overdue_at: Some(now), ..Default::default() }).await;
    let unassigned = count(app, TicketFilter { unassigned: true, ..Default::default() }).await;
    let today = kefu_domain::time::shanghai_date(now)
        .and_hms_opt(0, 0, 0)
        .map(|d| (d - chrono::Duration::hours(8)).and_utc())
        .unwrap_or(now);
    let report = app
        .kefu
        .visit_report(today - chrono::Duration::days(30), now + chrono::Duration::seconds(1))
        .await
        .unwrap_or(Value::Null);
    let total = &report["total"];
    let day = app.kefu.visit_report(today, now + chrono::Duration::seconds(1)).await.unwrap_or(Value::Null);
    let day = &day["total"];
    let pct = |v: &Value| v.as_f64().map_or("—".to_string(), |x| format!("{:.1}%", x * 100.0));
    format!(
        "<div class=\"grid\"><div class=\"card\" id=\"today\"><h2>{}</h2><dl class=\"kv\"><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd></dl>{}</div>\
         <div class=\"card\"><h2>{}</h2>{}</div>\
         <div class=\"card\"><h2>{}</h2>{}</div>\
         <div class=\"card\"><h2>{}</h2>{}</div>\
         <div class=\"card\" id=\"visits\"><h2>{}</h2><dl class=\"kv\"><dt>{}</dt><dd>{} / {}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>NPS</dt><dd>{}</dd></dl>{}</div></div>",
        l("今日办结", "Resolved today"),
        l("办结", "Resolved"),
        day["resolved"],
        l("超时办结", "Resolved late"),
        day["late"],
        l("按时办结率", "On-time rate"),
        pct(&day["on_time_rate"]),
        bar_chart(&[
            (
                l("按时", "on time").into(),
                (day["resolved"].as_i64().unwrap_or(0) - day["late"].as_i64().unwrap_or(0)) as f64
            ),
            (l("超时", "late").into(), day["late"].as_i64().unwrap_or(0) as f64),
        ]),
        l("在办工单（按状态）", "Open tickets by state"),
        bar_chart(&by_state),
        l("在办工单（按类型）", "Open tickets by type"),
        bar_chart(&by_type),
        l("预警与超时", "Warnings and breaches now"),
        bar_chart(&[
            (l("预警", "warning").into(), warnings as f64),
            (l("超时", "overdue").into(), overdue as f64),
            (l("待派单", "unassigned").into(), unassigned as f64)
        ]),
        l("近 30 天回访", "Return visits, last 30 days"),
        l("已回访 / 已办结", "Visited / resolved"),
        total["visited"],
        total["resolved"],
        l("回访覆盖率", "Coverage"),
        pct(&total["coverage"]),
        l("满意率", "Satisfied"),
        pct(&total["satisfied_rate"]),
        l("平均满意度", "Average rating"),
        total["satisfaction_avg"].as_f64().map_or("—".into(), |x| format!("{x:.2}")),
        total["nps"].as_f64().map_or("—".into(), |x| format!("{x:.0}")),
        bar_chart(&[
            (l("覆盖率", "coverage").into(), total["coverage"].as_f64().unwrap_or(0.0) * 100.0),
            (l("目标", "target").into(), report["coverage_target"].as_f64().unwrap_or(0.8) * 100.0),
        ]),
    )
}

/// A horizontal bar chart as inline SVG, rendered here.
fn bar_chart(rows: &[(String, f64)]) -> String {
    let max = rows.iter().map(|r| r.1).fold(1.0_f64, f64::max);
    let (w, row_h) = (360.0, 24.0);
    let h = row_h * rows.len() as f64 + 4.0;
    let mut s = format!("<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\">");
    for (i, (label, v)) in rows.iter().enumerate() {
        let y = i as f64 * row_h + 2.0;
        let bw = (v / max * 200.0).max(1.0);
        s.push_str(&format!(
            "<text x=\"0\" y=\"{:.0}\" font-size=\"12\">{}</text><rect x=\"110\" y=\"{y:.0}\" width=\"{bw:.0}\" height=\"{:.0}\" fill=\"#0b5394\" rx=\"2\"/><text x=\"{:.0}\" y=\"{:.0}\" font-size=\"12\">{}</text>",
            y + 15.0,
            esc(label),
            row_h - 6.0,
            115.0 + bw,
            y + 15.0,
            if v.fract() == 0.0 { format!("{v:.0}") } else { format!("{v:.1}") }
        ));
    }
    s.push_str("</svg>");
    s
}

/// Labels of audit events that are not flow actions.
fn other_label(lang: Lang, a: &str) -> String {
    let (zh, en) = match a {
        "create" => ("登记", "registered"),
        "comment" => ("备注", "note"),
        "queue" => ("进入队列", "queued"),
        "sla_alert" => ("时限提醒", "deadline alert"),
        "visit_invite" => ("发送回访邀请", "survey sent"),
        other => (other, other),
    };
    lang.t(zh, en).to_string()
}
