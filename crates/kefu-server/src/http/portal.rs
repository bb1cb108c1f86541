//! The customer portal (客户自助), server-rendered, zh-CN first, no login:
//! look a ticket up by its number and the customer's phone, or open the
//! signed link of a message; see its progress and result; confirm or
//! appeal; answer the satisfaction survey. A wrong or expired link gets a
//! clear page and changes nothing.

use crate::AppState;
use crate::console::esc;
use crate::customer_loop::customer_actor;
use crate::error::ApiError;
use crate::links::LinkError;
use axum::Router;
use axum::extract::{ConnectInfo, Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kefu_domain::action::ActionKind;
use kefu_domain::customer_loop::VisitState;
use kefu_domain::ticket::Ticket;
use kefu_store::prelude::*;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/portal", get(lookup_page))
        .route("/portal/lookup", post(lookup::<S>))
        .route("/portal/t/{token}", get(ticket_page::<S>))
        .route("/portal/t/{token}/{answer}", post(answer::<S>))
}

/// The portal's endpoints, open to anyone (the link or the number and
/// phone are the proof).
pub const PUBLIC: &[&str] =
    &["GET /portal", "POST /portal/lookup", "GET /portal/t/{token}", "POST /portal/t/{token}/{answer}"];

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        r#"<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · 客服中心</title>
<style>body{{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;max-width:40rem;margin:1.5rem auto;padding:0 1rem;line-height:1.6;color:#222}}
h1{{color:#0b5394;font-size:1.4rem}}.card{{border:1px solid #ddd;border-radius:6px;padding:1rem;margin:1rem 0}}
label{{display:block;margin:.5rem 0 .2rem}}input,textarea,select{{font:inherit;padding:.4rem;width:100%;box-sizing:border-box}}
button{{font:inherit;padding:.5rem 1.2rem;margin-top:.8rem;background:#0b5394;color:#fff;border:0;border-radius:4px;cursor:pointer}}
button.secondary{{background:#a61c00}}.muted{{color:#666;font-size:.9rem}}.error{{color:#a61c00;font-weight:bold}}.ok{{color:#38761d;font-weight:bold}}
dl{{display:grid;grid-template-columns:7rem 1fr;gap:.2rem .8rem}}dt{{color:#666}}dd{{margin:0}}.stars label{{display:inline;margin-right:.8rem}}.stars input{{width:auto}}</style></head>
<body><h1>{title}</h1>{body}<p class="muted">客服热线 10000 · Customer service</p></body></html>"#
    );
    (status, Html(html)).into_response()
}

const LOOKUP_FORM: &str = r#"<form class="card" method="post" action="/portal/lookup">
<label for="number">工单号 Ticket number</label><input id="number" name="number" required placeholder="GD20261122000001" autocomplete="off">
<label for="phone">手机号码 Phone</label><input id="phone" name="phone" required inputmode="tel" autocomplete="tel">
<button type="submit">查询 Look up</button></form>"#;

async fn lookup_page() -> Response {
    page(StatusCode::OK, "工单查询 Track your request", LOOKUP_FORM)
}

#[derive(Debug, Deserialize)]
struct LookupForm {
    #[serde(default)]
    number: String,
    #[serde(default)]
    phone: String,
}

/// Number and phone must both match; which one was wrong is not said.
async fn lookup<S: Store>(
    State(app): State<AppState<S>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Form(f): Form<LookupForm>,
) -> Response {
    let security = &app.kefu.core.policy.security;
    if !app.kefu.core.portal_limiter.allow(peer.ip(), app.kefu.now(), security.portal_lookups_per_minute) {
        let body = format!(
            "<p class=\"error\">查询过于频繁，请稍后再试。Too many attempts; try again in a minute.</p>{LOOKUP_FORM}"
        );
        return page(StatusCode::TOO_MANY_REQUESTS, "工单查询 Track your request", &body);
    }
    match app.kefu.lookup_link(&f.number, &f.phone).await {
        Ok(Some(token)) => Redirect::to(&format!("/portal/t/{token}")).into_response(),
        Ok(None) => {
            let body = format!(
                "<p class=\"error\">未找到该工单，请核对工单号和手机号码。No ticket matches this number and phone.</p>{LOOKUP_FORM}"
            );
            page(StatusCode::NOT_FOUND, "工单查询 Track your request", &body)
        }
        Err(e) => failure(&e),
    }
}

fn failure(e: &ApiError) -> Response {
    tracing::warn!(error = %e, "portal request failed");
    page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "系统繁忙",
        "<p class=\"error\">系统繁忙，请稍后再试。Please try again later.</p>",
    )
}

fn bad_link(e: LinkError) -> Response {
    let why = match e {
        LinkError::Expired => "该链接已过期。This link has expired.",
        LinkError::Malformed | LinkError::BadSignature => "该链接无效。This link is not valid.",
    };
    let body = format!(
        "<p class=\"error\">{why}</p><p>您可以通过工单号和手机号码重新查询。You can look your request up again:</p>{LOOKUP_FORM}"
    );
    page(StatusCode::GONE, "链接无效 Link not valid", &body)
}

async fn ticket_page<S: Store>(
    State(app): State<AppState<S>>,
    Path(token): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match app.kefu.ticket_by_link(&token).await {
        Ok(t) => render(&app, &t, &token, q.get("done").map(String::as_str), None, StatusCode::OK),
        Err(e) => bad_link(e),
    }
}

/// The ticket page: progress, result, and the answers open now.
fn render<S: Store>(
    app: &AppState<S>,
    t: &Ticket,
    token: &str,
    done: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let core = &app.kefu.core;
    let flow = core.flows.get(t.ticket_type);
    let state_zh = flow.state(&t.status).map_or(t.status.clone(), |s| format!("{}（{}）", s.zh, s.en));
    let local = |d: chrono::DateTime<chrono::Utc>| {
        d.with_timezone(&kefu_domain::time::shanghai()).format("%Y-%m-%d %H:%M").to_string()
    };
    let mut body = String::new();
    match done {
        Some("confirm") => body.push_str("<p class=\"ok\">感谢您的确认。Thank you for confirming.</p>"),
        Some("appeal") => body.push_str("<p class=\"ok\">您的申诉已受理，我们将重新处理并尽快与您联系。Your appeal is registered; we will handle the request again.</p>"),
        Some("survey") => body.push_str("<p class=\"ok\">感谢您的评价！Thank you for your rating!</p>"),
        _ => {}
    }
    if let Some(e) = error {
        body.push_str(&format!("<p class=\"error\" id=\"error\">{}</p>", esc(e)));
    }
    body.push_str(&format!(
        "<div class=\"card\"><dl><dt>工单号</dt><dd id=\"number\">{}</dd><dt>类型</dt><dd>{}</dd><dt>标题</dt><dd>{}</dd>\
         <dt>受理时间</dt><dd>{}</dd><dt>当前状态</dt><dd id=\"status\">{}</dd>",
        esc(&t.number),
        t.ticket_type.label_zh(),
        esc(&t.title),
        local(t.created_at),
        esc(&state_zh)
    ));
    if let (Some(result), Some(at)) = (&t.result, t.resolved_at) {
        body.push_str(&format!(
            "<dt>处理结果</dt><dd id=\"result\">{}</dd><dt>办结时间</dt><dd>{}</dd>",
            esc(result),
            local(at)
        ));
    }
    if let Some(by) = &t.customer_loop.confirmed_by {
        let who = match by.as_str() {
            "customer" => "您本人确认",
            "agent" => "经客服人员确认",
            _ => "逾期未答复，默认确认",
        };
        body.push_str(&format!("<dt>确认情况</dt><dd>{who}</dd>"));
    }
    body.push_str("</dl></div>");
    let customer = customer_actor(crate::links::LinkKind::Message);
    let allowed = flow.allowed_actions(t, &customer);
    if allowed.contains(&ActionKind::Confirm) || allowed.contains(&ActionKind::Appeal) {
        let hours = core.policy.customer_loop.auto_confirm_hours;
        body.push_str(&format!(
            "<div class=\"card\"><p>请确认处理结果。若 {hours} 小时内未答复，将视为您已确认。\
             Please confirm the result; without an answer within {hours} hours it counts as confirmed.</p>"
        ));
        if allowed.contains(&ActionKind::Confirm) {
            body.push_str(&format!(
                "<form method=\"post\" action=\"/portal/t/{token}/confirm\"><button type=\"submit\" id=\"confirm\">确认结果 Confirm</button></form>"
            ));
        }
        if allowed.contains(&ActionKind::Appeal) {
            body.push_str(&format!(
                "<form method=\"post\" action=\"/portal/t/{token}/appeal\"><label for=\"reason\">不满意？请说明原因后申诉 Not satisfied? Tell us why</label>\
                 <textarea id=\"reason\" name=\"reason\" rows=\"3\" required maxlength=\"500\"></textarea>\
                 <button type=\"submit\" class=\"secondary\" id=\"appeal\">提交申诉 Appeal</button></form>"
            ));
        }
        body.push_str("</div>");
    }
    let invited =
        t.customer_loop.visit.as_ref().is_some_and(|v| matches!(v.state, VisitState::Pending | VisitState::Invited));
    if invited && allowed.contains(&ActionKind::ReturnVisit) {
        let stars: String = (1..=5)
            .rev()
            .map(|n| {
                format!("<label><input type=\"radio\" name=\"satisfaction\" value=\"{n}\" required> {n} 分</label>")
            })
            .collect();
        let nps: String =
            (0..=10).rev().map(|n| format!("<option value=\"{n}\">{n}</option>")).collect::<Vec<_>>().join("");
        body.push_str(&format!(
            "<form class=\"card\" method=\"post\" action=\"/portal/t/{token}/survey\"><p>服务满意度调查 Satisfaction survey</p>\
             <div class=\"stars\">{stars}</div>\
             <label for=\"nps\">您向亲友推荐我们的可能性（0–10）How likely are you to recommend us?</label>\
             <select id=\"nps\" name=\"nps\"><option value=\"\">不回答</option>{nps}</select>\
             <label for=\"comment\">意见与建议 Comments</label><textarea id=\"comment\" name=\"comment\" rows=\"3\" maxlength=\"500\"></textarea>\
             <button type=\"submit\" id=\"survey\">提交评价 Submit</button></form>"
        ));
    }
    page(status, &format!("工单 {}", esc(&t.number)), &body)
}

/// A customer's answer: confirm, appeal (with a reason) or the survey.
async fn answer<S: Store>(
    State(app): State<AppState<S>>,
    Path((token, answer)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let t = match app.kefu.ticket_by_link(&token).await {
        Ok(t) => t,
        Err(e) => return bad_link(e),
    };
    let body = match answer.as_str() {
        "confirm" => json!({"action": "confirm"}),
        "appeal" => json!({"action": "appeal", "reason": form.get("reason").map(|s| s.trim()).unwrap_or("")}),
        "survey" => {
            let int = |k: &str| {
                form.get(k).filter(|v| !v.is_empty()).map(|v| v.parse::<i64>().map_or(json!(v), |n| json!(n)))
            };
            let method = t
                .customer_loop
                .visit
                .as_ref()
                .map_or("online", |v| if v.method == "phone" { "online" } else { v.method.as_str() });
            json!({"action": "return_visit", "method": method, "reached": true,
                   "satisfaction": int("satisfaction"), "nps": int("nps"),
                   "comment": form.get("comment").filter(|c| !c.trim().is_empty())})
        }
        _ => return page(StatusCode::NOT_FOUND, "页面不存在", "<p class=\"error\">页面不存在。Not found.</p>"),
    };
    let Value::Object(body) = body else { unreachable!("built as an object") };
    let body: Map<String, Value> = body.into_iter().filter(|(_, v)| !v.is_null()).collect();
    match app.kefu.customer_action(&token, &body).await {
        Ok(_) => Redirect::to(&format!("/portal/t/{token}?done={answer}")).into_response(),
        Err(e) => {
            let (status, message) = match &e {
                ApiError::Invalid(f) => (StatusCode::UNPROCESSABLE_ENTITY, format!("{} {}", f.message_zh, f.message)),
                ApiError::NotAllowed { .. } | ApiError::Archived => (
                    StatusCode::CONFLICT,
                    "该工单当前无需此操作，可能已被处理。This answer is no longer open.".to_string(),
                ),
                ApiError::Forbidden { reason_zh, reason } => (StatusCode::FORBIDDEN, format!("{reason_zh} {reason}")),
                _ => return failure(&e),
            };
            // Shown on the page as it is now: nothing was changed.
            let now = app.kefu.ticket_by_link(&token).await.unwrap_or(t);
            render(&app, &now, &token, None, Some(&message), status)
        }
    }
}
