//! Services and orders in the console: the customer's services
//! on their page with the form that registers an order (a business, account
//! or unsubscribe ticket naming what changes, with the customer's consent),
//! and the order card of the ticket page with the steps the viewer may take.

use super::Lang;
use super::layout::{Fields, Opt, error_text, forbidden, gate, message, shown, take_token, url_encode};
use crate::AppState;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use kefu_domain::CustomerId;
use kefu_domain::catalogue::Catalogue;
use kefu_domain::inventory::Service;
use kefu_domain::order::{ItemAction, OrderKind};
use kefu_store::Store;
use serde_json::{Map, Value, json};

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/console/tickets/{key}/order", post(order_step::<S>))
        .route("/console/customers/{id}/orders", post(new_order::<S>))
}

/// The order a ticket carries, as its page shows it.
pub struct OrderCard {
    pub kind: String,
    pub state: String,
    pub id: String,
    pub items: Vec<String>,
    pub fee: String,
    pub effective: String,
    pub approved_by: String,
    pub reason: String,
    /// (action, label) of the steps open now (the service checks who may).
    pub steps: Vec<(String, String)>,
}

fn yuan(fen: i64) -> String {
    format!("{}{:.2}", if fen > 0 { "+" } else { "" }, fen as f64 / 100.0)
}

fn step_label(lang: Lang, a: &str) -> String {
    let (zh, en) = match a {
        "approve" => ("审批通过订单", "Approve the order"),
        "submit" => ("执行订单", "Carry out the order"),
        "retry" => ("重新执行订单", "Try the order again"),
        _ => ("撤销订单", "Revoke the order"),
    };
    lang.t(zh, en).to_string()
}

pub fn order_card(lang: Lang, v: &Value, catalogue: &Catalogue) -> Option<OrderCard> {
    let o = v.get("order").filter(|o| o.is_object())?;
    let text = |k: &str| o[k].as_str().unwrap_or("").to_string();
    let label =
        |k: &str| lang.t(o[format!("{k}_zh")].as_str().unwrap_or(""), o[format!("{k}_en")].as_str().unwrap_or(""));
    let items = o["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            let action = match i["action"].as_str() {
                Some("add") => lang.t("新增", "add"),
                Some("modify") => lang.t("变更", "change"),
                _ => lang.t("终止", "end"),
            };
            let product = i["product_code"]
                .as_str()
                .map(|c| catalogue.product(c).map_or(c.to_string(), |p| lang.t(&p.name_zh, &p.name_en).to_string()));
            let service = i["service"].as_i64().map(|s| format!("{} #{s}", lang.t("业务", "service")));
            let what: Vec<String> = service.into_iter().chain(product).collect();
            format!("{action} {}", what.join(" → "))
        })
        .collect();
    let state: Option<kefu_domain::order::OrderState> = serde_json::from_value(o["state"].clone()).ok();
    let steps = state.map_or(&[][..], |s| s.steps());
    Some(OrderCard {
        kind: label("kind").to_string(),
        state: label("state").to_string(),
        id: text("id"),
        items,
        fee: o["fee_change_fen"].as_i64().map_or_else(String::new, yuan),
        effective: o["effective_at"].as_str().map(shown).unwrap_or_default(),
        approved_by: text("approved_by"),
        reason: text("reason"),
        steps: steps.iter().map(|a| (a.to_string(), step_label(lang, a))).collect(),
    })
}

/// One service on the customer page.
pub struct ServiceRow {
    pub id: i64,
    pub product: String,
    pub category: String,
    pub number: String,
    pub state: String,
    pub fee: String,
    pub started: String,
    pub note: String,
}

/// The customer's services as they are now, newest change last, and the
/// order form's choices.
pub struct Services {
    pub rows: Vec<ServiceRow>,
    pub kinds: Vec<Opt>,
    pub live: Vec<Opt>,
    pub products: Vec<Opt>,
}

pub async fn services<S: Store>(
    app: &AppState<S>,
    lang: Lang,
    customer: CustomerId,
    role: kefu_domain::Role,
) -> Services {
    let catalogue = &app.kefu.core.settings.catalogue;
    let now = app.kefu.now();
    let privacy = &app.kefu.core.policy.privacy;
    let list: Vec<Service> =
        app.kefu.store.services(customer).await.unwrap_or_default().iter().map(|s| s.as_of(now)).collect();
    let name =
        |code: &str| catalogue.product(code).map_or(code.to_string(), |p| lang.t(&p.name_zh, &p.name_en).to_string());
    let rows = list
        .iter()
        .map(|s| {
            let (zh, en) = s.state.label();
            let category = catalogue
                .product(&s.product_code)
                .map(|p| p.category.label())
                .map(|(zh, en)| lang.t(zh, en).to_string());
            let note = match (&s.pending, s.ended_at) {
                (Some(p), _) => format!(
                    "{} {} {}",
                    lang.t("变更为", "becomes"),
                    name(&p.product_code),
                    shown(&p.effective_at.to_rfc3339())
                ),
                (_, Some(end)) => format!("{} {}", lang.t("停止计费于", "billing stopped"), shown(&end.to_rfc3339())),
                _ => String::new(),
            };
            ServiceRow {
                id: s.id,
                product: name(&s.product_code),
                category: category.unwrap_or_default(),
                number: privacy.show(role, kefu_domain::privacy::PersonalField::Phone, &s.service_number),
                state: lang.t(zh, en).to_string(),
                fee: format!("{:.2}", s.monthly_fee_fen as f64 / 100.0),
                started: shown(&s.started_at.to_rfc3339()),
                note,
            }
        })
        .collect();
    let kinds = OrderKind::ALL
        .iter()
        .map(|k| {
            let (zh, en) = k.label();
            let code = serde_json::to_value(k).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            Opt::new(&code, lang.t(zh, en), "")
        })
        .collect();
    let live = list
        .iter()
        .filter(|s| s.state.live())
        .map(|s| Opt::new(&s.id.to_string(), &format!("{} · {}", name(&s.product_code), s.service_number), ""))
        .collect();
    let products = catalogue
        .products
        .iter()
        .map(|p| {
            Opt::new(&p.code, &format!("{} · {:.2}", lang.t(&p.name_zh, &p.name_en), p.fee_fen as f64 / 100.0), "")
        })
        .collect();
    Services { rows, kinds, live, products }
}

/// A step on a ticket's order from its page.
async fn order_step<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path(key): Path<String>,
    Form(mut f): Form<Fields>,
) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/tickets/{id}/order").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    if !super::same_origin(&headers) {
        return forbidden(lang, &user);
    }
    let once = take_token(&mut f, &format!("POST /console/tickets/{key}/order"));
    let action = f.get("action").cloned().unwrap_or_default();
    let body: Map<String, Value> = [("action".to_string(), json!(action))].into_iter().collect();
    match app.kefu.order_action(&user.actor, &key, &body, once).await {
        Ok(_) => Redirect::to(&format!("/console/tickets/{key}?done=order_{}", url_encode(&action))).into_response(),
        Err(e) => {
            let (status, field, msg) = error_text(lang, e);
            let outcome = super::ticket::Outcome {
                error: Some((format!("order_{action}"), field, msg)),
                status: Some(status),
                ..Default::default()
            };
            super::ticket::render_ticket(&app, &user, lang, &key, outcome).await
        }
    }
}

/// Registers an order from the customer page: the ticket of the kind's
/// type, naming the service and product chosen, with the consent recorded.
async fn new_order<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(mut f): Form<Fields>,
) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/tickets").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    if !super::same_origin(&headers) {
        return forbidden(lang, &user);
    }
    let once = take_token(&mut f, &format!("POST /console/customers/{id}/orders"));
    let Some(customer) = app.kefu.store.customer_by_id(CustomerId(id.parse().unwrap_or(-1))).await.ok().flatten()
    else {
        return message(StatusCode::NOT_FOUND, lang, Some(&user), "404", lang.t("没有该客户。", "No such customer."));
    };
    let field = |k: &str| f.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let kind: Option<OrderKind> = field("kind").and_then(|k| serde_json::from_value(json!(k)).ok());
    let Some(kind) = kind else {
        return message(
            StatusCode::UNPROCESSABLE_ENTITY,
            lang,
            Some(&user),
            "422",
            lang.t("请选择业务类型。", "Choose the kind of order."),
        );
    };
    let action = match kind {
        OrderKind::NewInstall | OrderKind::VasAdd | OrderKind::SecondaryCard => ItemAction::Add,
        OrderKind::PlanChange | OrderKind::Suspend | OrderKind::Restore | OrderKind::ArrearsRestore => {
            ItemAction::Modify
        }
        _ => ItemAction::Delete,
    };
    let mut item = json!({ "action": action });
    if let Some(s) = field("service").and_then(|s| s.parse::<i64>().ok()) {
        item["service"] = json!(s);
    }
    if let Some(p) = field("product_code") {
        item["product_code"] = json!(p);
    }
    if let Some(n) = field("service_number") {
        item["service_number"] = json!(n);
    }
    let closing_all = kind == OrderKind::AccountClose && item.get("service").is_none();
    let items = if closing_all { json!([]) } else { json!([item]) };
    let (zh, en) = kind.label();
    let mut body = json!({
        "channel": field("channel").unwrap_or("phone"),
        "type": kind.ticket_type().as_str(),
        "title": lang.t(zh, en),
        "description": field("description").unwrap_or(lang.t(zh, en)),
        "customer": {"name": customer.name, "phone": customer.phone.as_str()},
        "order": {"kind": kind, "items": items},
    });
    if let Some(evidence) = field("consent_evidence") {
        let at = app.kefu.now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        body["consent"] = json!({"method": field("consent_method").unwrap_or("phone"), "at": at, "evidence": evidence});
    }
    let req: kefu_domain::intake::IntakeRequest = match serde_json::from_value(body) {
        Ok(r) => r,
        Err(e) => return message(StatusCode::UNPROCESSABLE_ENTITY, lang, Some(&user), "422", &e.to_string()),
    };
    match app.kefu.create_ticket(&user.actor, &req, once).await {
        Ok(w) => {
            let number = w.body()["number"].as_str().unwrap_or_default().to_string();
            Redirect::to(&format!("/console/tickets/{number}?created=1")).into_response()
        }
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            message(status, lang, Some(&user), "422", &msg)
        }
    }
}
