//! Tickets: intake, lists with filters, actions, comments, audit trail and
//! transfer records.

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::extract::Idempotent;
use crate::service::Kefu;
use crate::view::{TicketView, mask_json};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kefu_domain::audit::AuditEvent;
use kefu_domain::intake::{IntakeRequest, parse_time};
use kefu_domain::ticket::{Comment, Transfer};
use kefu_domain::validate::shown;
use kefu_domain::{Channel, FieldError, Priority, TicketType};
use kefu_store::doc::transfer_keys_of;
use kefu_store::{Store, TicketFilter, Written};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/api/v1/tickets", post(create::<S>).get(list::<S>))
        .route("/api/v1/tickets/{id}", get(get_one::<S>))
        .route("/api/v1/tickets/{id}/actions", post(act::<S>))
        .route("/api/v1/tickets/{id}/comments", post(add_comment::<S>).get(comments::<S>))
        .route("/api/v1/tickets/{id}/events", get(events::<S>))
        .route("/api/v1/tickets/{id}/transfers", get(transfers::<S>))
}

pub(super) fn written(w: Written, fresh_status: StatusCode) -> Response {
    match w {
        Written::New { body, .. } => (fresh_status, Json(body)).into_response(),
        Written::Replayed { status, body } => {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let mut r = (code, Json(body)).into_response();
            r.headers_mut().insert("idempotent-replayed", axum::http::HeaderValue::from_static("true"));
            r
        }
    }
}

/// Register a ticket (受理登记) from any channel.
#[utoipa::path(post, path = "/api/v1/tickets", tag = "tickets", request_body = IntakeRequest, security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "retries with the same key return the first result")),
    responses((status = 201, body = TicketView), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Idempotent { key, body: req }: Idempotent<IntakeRequest>,
) -> Result<Response, ApiError> {
    let w = app.kefu.create_ticket(&user.actor, &req, key).await?;
    Ok(written(w, StatusCode::CREATED))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TicketPage {
    items: Vec<TicketView>,
    total: i64,
    page: u32,
    per_page: u32,
}

const FILTERS: &[&str] = &[
    "status",
    "type",
    "priority",
    "channel",
    "store",
    "assignee",
    "first_owner",
    "customer_phone",
    "number",
    "created_from",
    "created_to",
    "overdue",
    "due_before",
    "q",
    "resolved_by",
    "resolved_team",
    "resolved_from",
    "resolved_to",
    "queue",
    "team",
    "tier",
    "open",
    "unassigned",
    "warning",
    "sort",
    "after",
    "page",
    "per_page",
];

/// The work queues: each a preset of the list filters for the caller.
pub const QUEUES: &[&str] = &["mine", "team", "unassigned", "awaiting_acceptance", "overdue", "warning"];

fn flag(v: &str, field: &str) -> Result<bool, FieldError> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(FieldError::new(
            field,
            format!("{field} must be true or false"),
            format!("{field} 必须是 true 或 false"),
        )),
    }
}

fn whole(v: &str, field: &str, min: u32, max: u32) -> Result<u32, FieldError> {
    v.parse::<u32>().ok().filter(|n| (min..=max).contains(n)).ok_or_else(|| {
        FieldError::new(
            field,
            format!("{field} must be a whole number from {min} to {max}"),
            format!("{field} 必须是 {min} 到 {max} 之间的整数"),
        )
    })
}

/// List tickets, newest first, with the filters of API.md.
#[utoipa::path(get, path = "/api/v1/tickets", tag = "tickets", security(("bearer" = [])),
    params(
        ("status" = Option<String>, Query), ("type" = Option<String>, Query), ("priority" = Option<String>, Query),
        ("channel" = Option<String>, Query), ("store" = Option<String>, Query, description = "store (营业厅) code"),
        ("assignee" = Option<String>, Query, description = "username, id or 'me'"),
        ("first_owner" = Option<String>, Query), ("customer_phone" = Option<String>, Query), ("number" = Option<String>, Query),
        ("resolved_by" = Option<String>, Query, description = "resolved by this person (username or id)"),
        ("resolved_team" = Option<String>, Query, description = "resolved by a member of this team (code or id)"),
        ("resolved_from" = Option<String>, Query, description = "resolved at or after (RFC 3339)"),
        ("resolved_to" = Option<String>, Query, description = "resolved before (RFC 3339)"),
        ("created_from" = Option<String>, Query), ("created_to" = Option<String>, Query), ("overdue" = Option<bool>, Query),
        ("due_before" = Option<String>, Query), ("q" = Option<String>, Query),
        ("queue" = Option<String>, Query, description = "mine (open tickets I hold), team (my team's open tickets), unassigned (open, nobody holds them), awaiting_acceptance (transfers to me, my team or department), overdue, warning"),
        ("team" = Option<String>, Query, description = "team code or id"), ("tier" = Option<u8>, Query),
        ("open" = Option<bool>, Query), ("unassigned" = Option<bool>, Query), ("warning" = Option<bool>, Query),
        ("sort" = Option<String>, Query, description = "newest (default) or due: earliest running deadline first (the overdue and warning queues sort so)"),
        ("after" = Option<String>, Query, description = "keyset paging of newest-first lists: the next_after of the previous page"),
        ("page" = Option<u32>, Query), ("per_page" = Option<u32>, Query),
    ),
    responses((status = 200, body = TicketPage), (status = 422, body = crate::error::ErrorBody)))]
pub async fn list<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let filter = parse_filter(&app.kefu, &user, &params).await?;
    // A text query lists by rank (no cursor); the others newest first.
    let keyset = !filter.due_first && filter.q.is_none();
    let crate::service::ticket_search::Listed { page, found } = app.kefu.list_tickets(filter).await?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|t| {
            let mut v = app.kefu.view(t, &user.actor);
            if let (Some(f), Some(o)) = (found.get(&t.id), v.as_object_mut()) {
                o.insert("search".into(), serde_json::to_value(f).unwrap_or(Value::Null));
            }
            v
        })
        .collect();
    // The cursor of the next page (newest-first lists): as fast at any depth.
    let next_after = match page.items.last() {
        Some(last) if keyset && page.items.len() as u32 == page.per_page => {
            Value::String(kefu_store::Cursor::of(last).encode())
        }
        _ => Value::Null,
    };
    Ok(Json(serde_json::json!({"items": items, "total": page.total, "page": page.page, "per_page": page.per_page,
                               "next_after": next_after})))
}

pub(crate) async fn parse_filter<S: Store>(
    kefu: &Kefu<S>,
    user: &CurrentUser,
    params: &[(String, String)],
) -> Result<TicketFilter, ApiError> {
    // Need to know: every list shows only what the caller may see.
    let mut f = TicketFilter { page: 1, per_page: 50, visible: kefu.visibility(&user.actor), ..Default::default() };
    for (k, v) in params {
        let v = v.trim();
        if let Some(c) = v.chars().find(|c| kefu_domain::validate::forbidden_in_text(*c)) {
            return Err(FieldError::new(
                k.clone(),
                format!("{k} contains the control character U+{:04X}", c as u32),
                format!("{k} 含有不允许的控制字符 U+{:04X}", c as u32),
            )
            .into());
        }
        match k.as_str() {
            "status" => {
                if !kefu.core.flows.iter().any(|flow| flow.state(v).is_some()) {
                    return Err(FieldError::new(
                        "status",
                        format!("'{}' is not a state of any ticket flow (see GET /api/v1/flows)", shown(v)),
                        format!("“{}”不是任何工单流程中的状态", shown(v)),
                    )
                    .into());
                }
                f.status = Some(v.to_string())
            }
            "type" => f.ticket_type = Some(TicketType::parse(v, "type")?),
            "priority" => f.priority = Some(Priority::parse(v, "priority")?),
            "channel" => f.channel = Some(Channel::parse(v, "channel")?),
            "store" => f.store = Some(kefu_domain::validate::store_code(v, "store")?),
            "assignee" | "first_owner" => {
                let id = if v == "me" { user.actor.id } else { kefu.find_staff(v, k).await?.id };
                if k == "assignee" { f.assignee = Some(id) } else { f.first_owner = Some(id) }
            }
            "customer_phone" => {
                f.customer_phone = Some(kefu_domain::validate::Phone::parse(v, "customer_phone")?.as_str().to_string())
            }
            "number" => {
                let n = v.to_uppercase();
                if !kefu_domain::ticket::looks_like_number(&n) {
                    return Err(FieldError::new(
                        "number",
                        "a ticket number is GD followed by 14 digits, e.g. GD20261122000001",
                        "工单号为 GD 加 14 位数字，如 GD20261122000001",
                    )
                    .into());
                }
                f.number = Some(n)
            }
            "created_from" => f.created_from = Some(parse_time(v, "created_from")?),
            "resolved_by" => f.resolved_by = Some(kefu.find_staff(v, "resolved_by").await?.id),
            "resolved_team" => {
                let org = kefu.org().await?;
                f.resolved_team = Some(org.team_by_key(v).map(|t| t.id).ok_or_else(|| {
                    FieldError::new("resolved_team", format!("unknown team '{v}'"), format!("班组“{v}”不存在"))
                })?);
            }
            "resolved_from" => f.resolved_from = Some(parse_time(v, "resolved_from")?),
            "resolved_to" => f.resolved_to = Some(parse_time(v, "resolved_to")?),
            "created_to" => f.created_to = Some(parse_time(v, "created_to")?),
            "overdue" => match v {
                "true" => f.overdue_at = Some(kefu.now()),
                "false" => {}
                _ => {
                    return Err(FieldError::new(
                        "overdue",
                        "overdue must be true or false",
                        "overdue 必须是 true 或 false",
                    )
                    .into());
                }
            },
            "due_before" => f.due_before = Some(parse_time(v, "due_before")?),
            "queue" => queue(kefu, user, v, &mut f).await?,
            "team" => {
                let org = kefu.org().await?;
                let team = if v == "mine" { user.actor.org.team } else { org.team_by_key(v).map(|t| t.id) };
                f.team = Some(team.ok_or_else(|| {
                    FieldError::new("team", format!("unknown team '{v}'"), format!("班组“{v}”不存在"))
                })?);
            }
            "tier" => f.tier = Some(whole(v, "tier", 1, 3)? as u8),
            "open" => f.open = Some(flag(v, "open")?),
            "sort" => {
                f.due_first = match v {
                    "due" => true,
                    "newest" => false,
                    _ => {
                        return Err(
                            FieldError::new("sort", "sort must be newest or due", "sort 必须是 newest 或 due").into()
                        );
                    }
                }
            }
            "unassigned" => f.unassigned = flag(v, "unassigned")?,
            "warning" => {
                if flag(v, "warning")? {
                    f.warning_at = Some(kefu.now());
                }
            }
            "q" => f.q = Some(kefu_domain::validate::required_text(Some(v), "q", 100)?),
            "page" => f.page = whole(v, "page", 1, 1_000_000)?,
            "after" => {
                f.after = Some(kefu_store::Cursor::parse(v).ok_or_else(|| {
                    FieldError::new(
                        "after",
                        "after must be a next_after value of a previous page",
                        "after 须为上一页返回的 next_after",
                    )
                })?)
            }
            "per_page" => f.per_page = whole(v, "per_page", 1, 500)?,
            other => {
                return Err(FieldError::new(
                    other,
                    format!("unknown filter '{other}'; known: {}", FILTERS.join(", ")),
                    format!("未知的筛选条件“{other}”"),
                )
                .into());
            }
        }
    }
    Ok(f)
}

/// Sets the filters of a work queue for the caller.
async fn queue<S: Store>(kefu: &Kefu<S>, user: &CurrentUser, v: &str, f: &mut TicketFilter) -> Result<(), ApiError> {
    let me = &user.actor;
    match v {
        "mine" => {
            f.assignee = Some(me.id);
            f.open = Some(true);
        }
        "team" => {
            let team = me
                .org
                .team
                .or_else(|| me.org.leads.first().copied())
                .ok_or_else(|| FieldError::new("queue", "you belong to no team", "您尚未加入任何班组"))?;
            f.team = Some(team);
            f.open = Some(true);
        }
        "unassigned" => f.unassigned = true,
        "awaiting_acceptance" => f.awaiting = transfer_keys_of(me.id, me.org.team, me.org.department),
        // Open work only: a finished ticket is late in the reports, not in a queue.
        "overdue" => {
            f.overdue_at = Some(kefu.now());
            f.open = Some(true);
            f.due_first = true;
        }
        "warning" => {
            f.warning_at = Some(kefu.now());
            f.open = Some(true);
            f.due_first = true;
        }
        _ => {
            return Err(FieldError::new(
                "queue",
                format!("queue must be one of: {}", QUEUES.join(", ")),
                format!("queue 必须是以下之一：{}", QUEUES.join("、")),
            )
            .into());
        }
    }
    Ok(())
}

/// One ticket, by id or number.
#[utoipa::path(get, path = "/api/v1/tickets/{id}", tag = "tickets", security(("bearer" = [])),
    params(("id" = String, Path, description = "numeric id or number (GD…)")),
    responses((status = 200, body = TicketView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_one<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let t = app.kefu.visible_ticket(&user.actor, &id).await?;
    Ok(Json(app.kefu.view_for(&user.actor, &t).await?))
}

/// `{"action": "...", ...fields}`; see API.md for each action's fields.
/// Schema only: the handler reads the body as a map, since fields vary by action.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ActionBody {
    /// dispatch, start, suspend, resume, transfer, accept_transfer, reject_transfer, escalate, approve, reject,
    /// resolve, notify_result, confirm, appeal, return_visit, review, archive, withdraw, set_priority
    pub action: String,
}

/// Take an action on a ticket, as its type's flow allows.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/actions", tag = "tickets", request_body = ActionBody, security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = TicketView), (status = 403, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "not allowed in this state; details.allowed_actions"),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn act<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<String>,
    Idempotent { key, body }: Idempotent<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let w = app.kefu.act(&user.actor, &id, &body, key).await?;
    Ok(written(w, StatusCode::OK))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentBody {
    body: Option<String>,
    /// Internal note (staff only) or customer-visible reply.
    #[serde(default)]
    internal: bool,
}

/// Add an internal note or a customer-visible reply.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/comments", tag = "tickets", request_body = CommentBody, security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 201, body = TicketView), (status = 409, body = crate::error::ErrorBody)))]
pub async fn add_comment<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<String>,
    Idempotent { key, body }: Idempotent<CommentBody>,
) -> Result<Response, ApiError> {
    let w = app.kefu.comment(&user.actor, &id, body.body.as_deref(), body.internal, key).await?;
    Ok(written(w, StatusCode::CREATED))
}

/// Notes and replies on a ticket.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/comments", tag = "tickets", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Vec<Comment>)))]
pub async fn comments<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Vec<Comment>>, ApiError> {
    let id = app.kefu.visible_ticket(&user.actor, &id).await?.id;
    let privacy = &app.kefu.core.policy.privacy;
    let comments = app.kefu.store.comments(id).await?;
    Ok(Json(comments.into_iter().map(|c| Comment { body: privacy.show_text(user.actor.role, &c.body), ..c }).collect()))
}

/// The audit trail: every change with actor, time, before/after and hash chain.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/events", tag = "tickets", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Vec<AuditEvent>)))]
pub async fn events<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Vec<AuditEvent>>, ApiError> {
    let id = app.kefu.visible_ticket(&user.actor, &id).await?.id;
    let (role, privacy) = (user.actor.role, &app.kefu.core.policy.privacy);
    // Personal data is masked as everywhere else, so a client cannot
    // recompute the hashes from what it is shown; `kefu audit verify`
    // checks the stored chain.
    let events = app.kefu.store.events(id).await?;
    Ok(Json(
        events
            .into_iter()
            .map(|e| AuditEvent {
                data: mask_json(&e.data, role, privacy),
                before: mask_json(&e.before, role, privacy),
                after: mask_json(&e.after, role, privacy),
                ..e
            })
            .collect(),
    ))
}

/// Transfer records.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/transfers", tag = "tickets", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Vec<Transfer>)))]
pub async fn transfers<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Vec<Transfer>>, ApiError> {
    let id = app.kefu.visible_ticket(&user.actor, &id).await?.id;
    let text = |s: &str| app.kefu.core.policy.privacy.show_text(user.actor.role, s);
    let transfers = app.kefu.store.transfers(id).await?;
    Ok(Json(
        transfers
            .into_iter()
            .map(|t| Transfer { reason: text(&t.reason), result: t.result.as_deref().map(text), ..t })
            .collect(),
    ))
}
