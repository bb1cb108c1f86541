//! Bulk actions on a queue (批量操作): assign, transfer, set priority or
//! withdraw the chosen tickets, each as the same action one would take on
//! the ticket (need to know and the flow decide, one by one), with a list
//! of what was done and what was refused, and why.

use super::Lang;
use super::layout::{Shell, error_text, forbidden, gate, render, take_token};
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use kefu_store::Store;
use serde_json::{Map, Value, json};

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new().route("/console/bulk", post(bulk::<S>))
}

/// At most this many tickets per bulk action (one page of a queue is 30).
const MAX_TICKETS: usize = 100;

struct Outcome {
    number: String,
    done: bool,
    text: String,
}

#[derive(Template)]
#[template(path = "console/bulk.html")]
struct BulkPage<'a> {
    shell: Shell<'a>,
    outcomes: Vec<Outcome>,
    error: Option<String>,
}

/// The action body for one ticket, from what the ticket allows now.
fn body(action: &str, allowed: &[Value], person: &str, priority: &str, reason: &str) -> Map<String, Value> {
    let allows = |a: &str| allowed.iter().any(|x| x == a);
    let mut m = Map::new();
    let mut put = |k: &str, v: &str| {
        if !v.is_empty() {
            m.insert(k.to_string(), json!(v));
        }
    };
    match action {
        "assign" if !allows("dispatch") && allows("redispatch") => {
            put("action", "redispatch");
            put("assignee", person);
            put("reason", reason);
        }
        "assign" => {
            put("action", "dispatch");
            put("assignee", person);
        }
        "transfer" => {
            put("action", "transfer");
            put("to", person);
            put("reason", reason);
            put("mode", "manual");
        }
        "set_priority" => {
            put("action", "set_priority");
            put("priority", priority);
            put("reason", reason);
        }
        _ => {
            put("action", "withdraw");
            put("reason", reason);
        }
    }
    m
}

async fn bulk<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    // Repeated `ticket` fields: the pairs as sent.
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/tickets/{id}/actions").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    if !super::same_origin(&headers) {
        return forbidden(lang, &user);
    }
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map_or("", |(_, v)| v.trim());
    let numbers: Vec<&str> = pairs.iter().filter(|(k, _)| k == "ticket").map(|(_, v)| v.trim()).collect();
    let action = get("bulk_action");
    let shell = Shell::new(lang, Some(&user), lang.t("批量操作", "Bulk action"));
    let refuse = |text: &str| BulkPage {
        shell: Shell::new(lang, Some(&user), ""),
        outcomes: Vec::new(),
        error: Some(text.into()),
    };
    if !matches!(action, "assign" | "transfer" | "set_priority" | "withdraw") {
        let page = refuse(lang.t("请选择要执行的操作。", "Choose what to do."));
        return render(StatusCode::UNPROCESSABLE_ENTITY, &BulkPage { shell, ..page });
    }
    if numbers.is_empty() || numbers.len() > MAX_TICKETS {
        let page = refuse(lang.t("请选择 1 至 100 张工单。", "Choose 1 to 100 tickets."));
        return render(StatusCode::UNPROCESSABLE_ENTITY, &BulkPage { shell, ..page });
    }
    let token = pairs.iter().find(|(k, _)| k == "form_token").map(|(_, v)| v.clone());
    let mut outcomes = Vec::new();
    for number in numbers {
        let allowed = match app.kefu.visible_ticket(&user.actor, number).await {
            Ok(t) => app.kefu.view(&t, &user.actor)["allowed_actions"].as_array().cloned().unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        let b = body(action, &allowed, get("person"), get("priority"), get("reason"));
        // Each ticket's change counts once, like a form of its own.
        let mut once_fields = std::collections::HashMap::new();
        if let Some(t) = &token {
            once_fields.insert(super::layout::FORM_TOKEN.to_string(), format!("{t}:{number}"));
        }
        for (k, v) in &b {
            once_fields.insert(k.clone(), v.to_string());
        }
        let once = take_token(&mut once_fields, "POST /console/bulk");
        let (done, text) = match app.kefu.act(&user.actor, number, &b, once).await {
            Ok(_) => (true, lang.t("已完成", "done").to_string()),
            Err(e) => (false, error_text(lang, e).2),
        };
        outcomes.push(Outcome { number: number.to_string(), done, text });
    }
    render(StatusCode::OK, &BulkPage { shell, outcomes, error: None })
}
