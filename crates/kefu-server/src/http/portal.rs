//! The customer portal (客户自助), server-rendered, zh-CN first, no login:
//! look a ticket up by its number and the customer's phone, or open the
//! signed link of a message; see its progress and result; confirm or
//! appeal; answer the satisfaction survey. A wrong or expired link gets a
//! clear page and changes nothing.

use crate::AppState;
use crate::error::ApiError;
use crate::links::LinkError;
use crate::service::customer_loop::customer_actor;
use askama::Template;
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

/// A page that says something and may offer the look-up form
/// (`templates/portal/message.html`); the first line is the error, if any.
#[derive(Template)]
#[template(path = "portal/message.html")]
struct Message<'a> {
    title: &'a str,
    lines: &'a [&'a str],
    lookup: bool,
    /// The ticket number typed before, kept in the look-up form.
    number: &'a str,
}

pub(super) fn page(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "portal template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, Html("<!doctype html><p>500</p>".to_string())).into_response()
        }
    }
}

pub(super) fn message(status: StatusCode, title: &str, lines: &[&str], lookup: bool) -> Response {
    page(status, &Message { title, lines, lookup, number: "" })
}

/// The look-up form again, with why and the number as typed.
fn lookup_again(status: StatusCode, why: &str, number: &str) -> Response {
    page(status, &Message { title: LOOKUP_TITLE, lines: &[why], lookup: true, number: number.trim() })
}

const LOOKUP_TITLE: &str = "工单查询 Track your request";

async fn lookup_page() -> Response {
    message(StatusCode::OK, LOOKUP_TITLE, &[], true)
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
        let why = "查询过于频繁，请稍后再试。Too many attempts; try again in a minute.";
        return lookup_again(StatusCode::TOO_MANY_REQUESTS, why, &f.number);
    }
    match app.kefu.lookup_link(&f.number, &f.phone).await {
        Ok(Some(token)) => Redirect::to(&format!("/portal/t/{token}")).into_response(),
        Ok(None) => {
            let why = "未找到该工单，请核对工单号和手机号码。No ticket matches this number and phone.";
            lookup_again(StatusCode::NOT_FOUND, why, &f.number)
        }
        Err(e) => failure(&e),
    }
}

fn failure(e: &ApiError) -> Response {
    tracing::warn!(error = %e, "portal request failed");
    message(StatusCode::INTERNAL_SERVER_ERROR, "系统繁忙", &["系统繁忙，请稍后再试。Please try again later."], false)
}

fn bad_link(e: LinkError) -> Response {
    let why = match e {
        LinkError::Expired => "该链接已过期。This link has expired.",
        LinkError::Malformed | LinkError::BadSignature => "该链接无效。This link is not valid.",
    };
    let again = "您可以通过工单号和手机号码重新查询。You can look your request up again:";
    message(StatusCode::GONE, "链接无效 Link not valid", &[why, again], true)
}

async fn ticket_page<S: Store>(
    State(app): State<AppState<S>>,
    Path(token): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match app.kefu.ticket_by_link(&token).await {
        Ok(t) => {
            let (replies, news, own) = extras(&app, &t).await;
            render(&app, &t, (&replies, &news, &own), &token, q.get("done").map(String::as_str), None, StatusCode::OK)
        }
        Err(e) => bad_link(e),
    }
}

#[derive(Template)]
#[template(path = "portal/ticket.html")]
struct TicketPage<'a> {
    title: String,
    t: &'a Ticket,
    replies: &'a [Reply],
    /// The major incident's public progress, when the ticket is linked.
    news: &'a [Reply],
    token: &'a str,
    done: Option<&'static str>,
    error: Option<&'a str>,
    created: String,
    state: String,
    result: Option<(&'a str, String)>,
    confirmed: Option<&'static str>,
    hours: u32,
    confirm: bool,
    appeal: bool,
    survey: bool,
    /// The customer's services and their orders still open.
    own: &'a Own,
    /// The ticket's order may still be revoked by the customer.
    revoke: bool,
    /// The ticket's order, kind and state in words.
    order: Option<String>,
}

/// The customer's own services and pending orders, for the portal page.
#[derive(Default)]
struct Own {
    /// (product, number masked, state, monthly fee in yuan)
    services: Vec<(String, String, String, String)>,
    /// (ticket number, kind, state) of their orders not yet settled.
    pending: Vec<(String, String, String)>,
}

/// Replies, outage progress and the customer's services for a ticket's page.
async fn extras<S: Store>(app: &AppState<S>, t: &Ticket) -> (Vec<Reply>, Vec<Reply>, Own) {
    let replies = replies(app, t).await;
    let news = incident_news(app, t).await;
    (replies, news, own(app, t).await)
}

async fn own<S: Store>(app: &AppState<S>, t: &Ticket) -> Own {
    let (catalogue, now) = (&app.kefu.core.settings.catalogue, app.kefu.now());
    let services = app.kefu.store.services(t.customer.id).await.unwrap_or_default();
    let services = services
        .iter()
        .map(|s| s.as_of(now))
        .filter(|s| s.state.live())
        .map(|s| {
            let name = catalogue.product(&s.product_code).map_or(s.product_code.clone(), |p| p.name_zh.clone());
            let (zh, _) = s.state.label();
            let number = kefu_domain::privacy::PersonalField::Phone.mask(&s.service_number);
            (name, number, zh.to_string(), format!("{:.2}", s.monthly_fee_fen as f64 / 100.0))
        })
        .collect();
    let filter = kefu_store::TicketFilter {
        customer_phone: Some(t.customer.phone.as_str().to_string()),
        open: Some(true),
        page: 1,
        per_page: 20,
        ..Default::default()
    };
    let open = app.kefu.store.list_tickets(filter).await.map(|p| p.items).unwrap_or_default();
    let pending = open
        .iter()
        .filter_map(|x| x.order.as_ref().filter(|o| !o.state.settled()).map(|o| (x, o)))
        .map(|(x, o)| (x.number.clone(), o.kind.label().0.to_string(), o.state.label().0.to_string()))
        .collect();
    Own { services, pending }
}

/// A reply the customer was sent: when, and what.
struct Reply {
    at: String,
    text: String,
}

/// The replies to the customer on a ticket (notes marked 回复客户), oldest first.
async fn replies<S: Store>(app: &AppState<S>, t: &Ticket) -> Vec<Reply> {
    let comments = app.kefu.store.comments(t.id).await.unwrap_or_default();
    comments
        .into_iter()
        .filter(|c| !c.internal)
        .map(|c| Reply { at: kefu_domain::time::shanghai_minute(c.created_at), text: c.body })
        .collect()
}

/// The public progress of the major incident a ticket is linked to:
/// read as it is now, so a ticket linked late misses none. Newest first.
async fn incident_news<S: Store>(app: &AppState<S>, t: &Ticket) -> Vec<Reply> {
    let Some(link) = &t.incident else { return Vec::new() };
    if !app.kefu.core.policy.incidents.sync.public_note {
        return Vec::new();
    }
    let Ok(Some(i)) = app.kefu.store.incident(link.id).await else { return Vec::new() };
    let local = kefu_domain::time::shanghai_minute;
    let mut out: Vec<Reply> = i.notes.iter().rev().map(|n| Reply { at: local(n.at), text: n.text.clone() }).collect();
    let (zh, en) = i.state.label();
    let mut head = format!("{}：{zh}（{en}）", i.title);
    if let Some(eta) = i.eta.filter(|_| i.state.active()) {
        head.push_str(&format!("，预计 {} 恢复", local(eta)));
    }
    out.insert(0, Reply { at: local(i.updated_at), text: head });
    out
}

/// The ticket page: progress, result, the replies, and the answers open now.
fn render<S: Store>(
    app: &AppState<S>,
    t: &Ticket,
    (replies, news, own): (&[Reply], &[Reply], &Own),
    token: &str,
    done: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let core = &app.kefu.core;
    let flow = core.flows.get(t.ticket_type);
    let local = kefu_domain::time::shanghai_minute;
    let done = match done {
        Some("confirm") => Some("感谢您的确认。Thank you for confirming."),
        Some("appeal") => Some(
            "您的申诉已受理，我们将重新处理并尽快与您联系。Your appeal is registered; we will handle the request again.",
        ),
        Some("survey") => Some("感谢您的评价！Thank you for your rating!"),
        Some("revoke") => Some("您的订单已撤销，不会办理。Your order is revoked and will not be carried out."),
        _ => None,
    };
    let confirmed = t.customer_loop.confirmed_by.as_deref().map(|by| match by {
        "customer" => "您本人确认",
        "agent" => "经客服人员确认",
        _ => "逾期未答复，默认确认",
    });
    let allowed = flow.allowed_actions(t, &customer_actor(crate::links::LinkKind::Message));
    let invited =
        t.customer_loop.visit.as_ref().is_some_and(|v| matches!(v.state, VisitState::Pending | VisitState::Invited));
    let page_ = TicketPage {
        title: format!("工单 {}", t.number),
        t,
        replies,
        news,
        token,
        done,
        error,
        created: local(t.created_at),
        state: flow.state(&t.status).map_or(t.status.clone(), |s| format!("{}（{}）", s.zh, s.en)),
        result: t.result.as_deref().zip(t.resolved_at.map(local)),
        confirmed,
        hours: core.policy.customer_loop.auto_confirm_hours,
        confirm: allowed.contains(&ActionKind::Confirm),
        appeal: allowed.contains(&ActionKind::Appeal),
        survey: invited && allowed.contains(&ActionKind::ReturnVisit),
        own,
        revoke: t.order.as_ref().is_some_and(|o| {
            matches!(o.state, kefu_domain::order::OrderState::AwaitingApproval | kefu_domain::order::OrderState::Ready)
        }),
        order: t.order.as_ref().map(|o| {
            let ((kz, ke), (sz, se)) = (o.kind.label(), o.state.label());
            format!("{kz}：{sz}（{ke}: {se}）")
        }),
    };
    page(status, &page_)
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
        "revoke" => {
            // The customer changes their mind before the order is carried out.
            return match app.kefu.revoke_by_customer(&t).await {
                Ok(()) => Redirect::to(&format!("/portal/t/{token}?done=revoke")).into_response(),
                Err(_) => {
                    let now = app.kefu.ticket_by_link(&token).await.unwrap_or(t);
                    let (replies, news, own) = extras(&app, &now).await;
                    let msg = "该订单已在办理中或已办结，无法撤销。The order can no longer be revoked.";
                    render(&app, &now, (&replies, &news, &own), &token, None, Some(msg), StatusCode::CONFLICT)
                }
            };
        }
        _ => return message(StatusCode::NOT_FOUND, "页面不存在", &["页面不存在。Not found."], false),
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
            let (replies, news, own) = extras(&app, &now).await;
            render(&app, &now, (&replies, &news, &own), &token, None, Some(&message), status)
        }
    }
}
