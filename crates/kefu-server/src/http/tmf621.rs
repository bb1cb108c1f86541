//! TMF621 Trouble Ticket v4 over HTTP (issue 22), the reads first:
//! `GET /tmf-api/troubleTicket/v4/troubleTicket` (attribute filters,
//! `fields`, `offset`/`limit`, `X-Total-Count` and `X-Result-Count`) and
//! `GET …/troubleTicket/{id}`. Errors use the specification's `Error` body.

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::service::tmf621::TmfQuery;
use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kefu_store::Store;
use serde_json::Value;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/tmf-api/troubleTicket/v4/troubleTicket", get(list::<S>).post(create::<S>))
        .route("/tmf-api/troubleTicket/v4/troubleTicket/{id}", get(retrieve::<S>).patch(patch::<S>).delete(delete::<S>))
        .route("/tmf-api/troubleTicket/v4/hub", axum::routing::post(hub_register::<S>))
        .route("/tmf-api/troubleTicket/v4/hub/{id}", get(hub_get::<S>).delete(hub_delete::<S>))
}

/// TMF621 v5 where it differs (`tmf621::to_v5`): the same operations,
/// each request forwarded to its v4 handler with the body in v4's words
/// and the answer rewritten in v5's.
pub fn router_v5<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/tmf-api/troubleTicket/v5/troubleTicket", get(v5_list::<S>).post(v5_create::<S>))
        .route(
            "/tmf-api/troubleTicket/v5/troubleTicket/{id}",
            get(v5_retrieve::<S>).patch(v5_patch::<S>).delete(v5_delete::<S>),
        )
        .route("/tmf-api/troubleTicket/v5/hub", axum::routing::post(v5_hub_register::<S>))
        .route("/tmf-api/troubleTicket/v5/hub/{id}", get(v5_hub_get::<S>).delete(v5_hub_delete::<S>))
}

/// Marks a request that came in through v5 (its hub subscription gets v5 events).
#[derive(Debug, Clone, Copy)]
pub struct V5;

async fn forward<S: Store>(app: AppState<S>, req: axum::extract::Request) -> Response {
    use tower::ServiceExt;
    let (mut parts, body) = req.into_parts();
    let uri = parts.uri.to_string().replacen("/troubleTicket/v5", "/troubleTicket/v4", 1);
    match uri.parse() {
        Ok(u) => parts.uri = u,
        Err(_) => return tmf_error(ApiError::NotFound { what: "troubleTicket", what_zh: "工单" }),
    }
    // A fresh set: the outer route's path parameters must not reach the
    // inner one; the caller (authenticated outside) and its address do.
    let user = parts.extensions.remove::<CurrentUser>();
    let peer = parts.extensions.remove::<axum::extract::ConnectInfo<std::net::SocketAddr>>();
    parts.extensions = axum::http::Extensions::new();
    parts.extensions.insert(V5);
    if let Some(u) = user {
        parts.extensions.insert(u);
    }
    if let Some(p) = peer {
        parts.extensions.insert(p);
    }
    // The body was bounded by the server's body limit before it got here.
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return tmf_error(bad("body", "could not be read"));
    };
    let bytes = match serde_json::from_slice::<Value>(&bytes) {
        Ok(v) if !bytes.is_empty() => axum::body::Bytes::from(crate::tmf621::from_v5(v).to_string()),
        _ => bytes,
    };
    let request = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
    let Ok(answer) = router::<S>().with_state(app).oneshot(request).await;
    let (mut parts, body) = answer.into_parts();
    let json = parts
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !json {
        return Response::from_parts(parts, body);
    }
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return tmf_error(ApiError::Internal("the answer could not be read".into()));
    };
    let out = match serde_json::from_slice::<Value>(&bytes) {
        Ok(v) => crate::tmf621::to_v5(v).to_string().into_bytes(),
        Err(_) => bytes.to_vec(),
    };
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(out))
}

/// v5: trouble tickets (as v4's list; `externalIdentifier`, `relatedParty.partyOrPartyRole`).
#[utoipa::path(get, path = "/tmf-api/troubleTicket/v5/troubleTicket", tag = "tmf621", security(("bearer" = [])),
    params(("fields" = Option<String>, Query), ("offset" = Option<u32>, Query), ("limit" = Option<u32>, Query),
        ("status" = Option<String>, Query), ("ticketType" = Option<String>, Query), ("severity" = Option<String>, Query),
        ("priority" = Option<String>, Query), ("externalId" = Option<String>, Query)),
    responses((status = 200, description = "[TroubleTicket] (v5)"), (status = 400, description = "TMF Error"),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn v5_list<S: Store>(State(app): State<AppState<S>>, req: axum::extract::Request) -> Response {
    forward(app, req).await
}

/// v5: registers a ticket from a `TroubleTicket_FVO`.
#[utoipa::path(post, path = "/tmf-api/troubleTicket/v5/troubleTicket", tag = "tmf621", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header)),
    request_body(content = Object, description = "TroubleTicket_FVO"),
    responses((status = 201, description = "TroubleTicket (v5)"), (status = 400, description = "TMF Error"),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn v5_create<S: Store>(State(app): State<AppState<S>>, req: axum::extract::Request) -> Response {
    forward(app, req).await
}

/// v5: one trouble ticket.
#[utoipa::path(get, path = "/tmf-api/troubleTicket/v5/troubleTicket/{id}", tag = "tmf621", security(("bearer" = [])),
    params(("id" = String, Path), ("fields" = Option<String>, Query)),
    responses((status = 200, description = "TroubleTicket (v5)"), (status = 401, body = crate::error::ErrorBody),
        (status = 400, description = "TMF Error"), (status = 404, description = "TMF Error")))]
pub async fn v5_retrieve<S: Store>(State(app): State<AppState<S>>, req: axum::extract::Request) -> Response {
    forward(app, req).await
}

/// v5: a merge patch (`TroubleTicket_MVO`), as v4's.
#[utoipa::path(patch, path = "/tmf-api/troubleTicket/v5/troubleTicket/{id}", tag = "tmf621", security(("bearer" = [])),
    params(("id" = String, Path)),
    request_body(content = Object, content_type = "application/merge-patch+json", description = "TroubleTicket_MVO"),
    responses((status = 200, description = "TroubleTicket (v5)"), (status = 400, description = "TMF Error"),
        (status = 401, body = crate::error::ErrorBody), (status = 403, description = "TMF Error"),
        (status = 404, description = "TMF Error"), (status = 409, description = "TMF Error")))]
pub async fn v5_patch<S: Store>(State(app): State<AppState<S>>, req: axum::extract::Request) -> Response {
    forward(app, req).await
}

/// v5: withdraws a trouble ticket, as v4's DELETE.
#[utoipa::path(delete, path = "/tmf-api/troubleTicket/v5/troubleTicket/{id}", tag = "tmf621", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = crate::error::ErrorBody), (status = 403, description = "TMF Error"),
        (status = 404, description = "TMF Error"), (status = 409, description = "TMF Error")))]
pub async fn v5_delete<S: Store>(State(app): State<AppState<S>>, req: axum::extract::Request) -> Response {
    forward(app, req).await
}

/// v5: registers a listener; its events carry v5 resources.
#[utoipa::path(post, path = "/tmf-api/troubleTicket/v5/hub", tag = "tmf621", security(("bearer" = [])),
    request_body(content = Object, description = "Hub_FVO: callback, query"),
    responses((status = 201, description = "Hub"), (status = 400, description = "TMF Error"),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn v5_hub_register<S: Store>(State(app): State<AppState<S>>, req: axum::extract::Request) -> Response {
    forward(app, req).await
}

/// v5: one subscription.
#[utoipa::path(get, path = "/tmf-api/troubleTicket/v5/hub/{id}", tag = "tmf621", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "Hub"), (status = 404, description = "TMF Error"),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn v5_hub_get<S: Store>(State(app): State<AppState<S>>, req: axum::extract::Request) -> Response {
    forward(app, req).await
}

/// v5: unregisters a listener.
#[utoipa::path(delete, path = "/tmf-api/troubleTicket/v5/hub/{id}", tag = "tmf621", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, description = "TMF Error"),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn v5_hub_delete<S: Store>(State(app): State<AppState<S>>, req: axum::extract::Request) -> Response {
    forward(app, req).await
}

/// kefu's error as the specification's `Error` (code, reason, message, status).
fn tmf_error(e: ApiError) -> Response {
    let (status, field, message, _) = e.parts();
    // The specification answers a request it cannot take with 400.
    let status = if status == StatusCode::UNPROCESSABLE_ENTITY { StatusCode::BAD_REQUEST } else { status };
    let reason = status.canonical_reason().unwrap_or("Error");
    let message = match field {
        Some(f) => format!("{f}: {message}"),
        None => message,
    };
    (status, Json(crate::tmf621::error(status.as_u16(), reason, &message))).into_response()
}

fn bad(field: &str, what: &str) -> ApiError {
    kefu_domain::FieldError::new(field, format!("{field}: {what}"), format!("{field} 取值无效：{what}")).into()
}

fn time(field: &str, v: &str) -> Result<chrono::DateTime<chrono::Utc>, ApiError> {
    chrono::DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| bad(field, "an RFC 3339 time"))
}

fn query(params: &[(String, String)]) -> Result<TmfQuery, ApiError> {
    let mut q = TmfQuery { limit: 20, ..Default::default() };
    for (k, v) in params {
        let number = |what: &str| v.trim().parse::<u32>().map_err(|_| bad(what, "a whole number ≥ 0"));
        match k.as_str() {
            "fields" => q.fields = Some(v.clone()),
            "offset" => q.offset = number("offset")?,
            "limit" => q.limit = number("limit")?.clamp(1, crate::service::tmf621::MAX_LIMIT),
            "status" => q.status = Some(v.clone()),
            "ticketType" => q.ticket_type = Some(v.clone()),
            "severity" => q.severity = Some(v.clone()),
            "priority" => q.priority = Some(v.clone()),
            "externalId" => q.external_id = Some(v.clone()),
            "creationDate.gte" | "creationDate.gt" => q.created_from = Some(time(k, v)?),
            "creationDate.lte" | "creationDate.lt" => q.created_to = Some(time(k, v)?),
            // Attributes kefu cannot filter on are refused, not ignored: a
            // client would take the unfiltered list for a filtered one.
            other => {
                return Err(bad(
                    other,
                    "not a filter of this API (status, ticketType, severity, priority, externalId, creationDate.gte/lte, fields, offset, limit)",
                ));
            }
        }
    }
    Ok(q)
}

/// Trouble tickets the caller may see, newest first: `[TroubleTicket]` with
/// `X-Total-Count` (all matching) and `X-Result-Count` (in this page).
#[utoipa::path(get, path = "/tmf-api/troubleTicket/v4/troubleTicket", tag = "tmf621", security(("bearer" = [])),
    params(("fields" = Option<String>, Query), ("offset" = Option<u32>, Query), ("limit" = Option<u32>, Query),
        ("status" = Option<String>, Query), ("ticketType" = Option<String>, Query), ("severity" = Option<String>, Query),
        ("priority" = Option<String>, Query), ("externalId" = Option<String>, Query)),
    responses((status = 200, description = "[TroubleTicket]"), (status = 400, description = "TMF Error"),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let run = async {
        let q = query(&params)?;
        app.kefu.tmf_list(&user.actor, &q).await
    };
    match run.await {
        Ok((items, total)) => {
            let count = items.len();
            let mut r = (StatusCode::OK, Json(items)).into_response();
            let h = r.headers_mut();
            h.insert("x-total-count", HeaderValue::from(total.max(0) as u64));
            h.insert("x-result-count", HeaderValue::from(count as u64));
            r
        }
        Err(e) => tmf_error(e),
    }
}

/// Registers a ticket from a `TroubleTicket_Create` (README: the mapping):
/// 201 with the `TroubleTicket`; `Idempotency-Key` is honoured.
#[utoipa::path(post, path = "/tmf-api/troubleTicket/v4/troubleTicket", tag = "tmf621", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header)),
    request_body(content = Object, description = "TroubleTicket_Create: description, severity, ticketType, relatedParty (customer: id = phone) …"),
    responses((status = 201, description = "TroubleTicket"), (status = 400, description = "TMF Error"),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn create<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    body: Result<crate::extract::Idempotent<serde_json::Value>, ApiError>,
) -> Response {
    let run = async {
        let crate::extract::Idempotent { key, body } = body?;
        app.kefu.tmf_create(&user.actor, &body, key).await
    };
    match run.await {
        Ok((replayed, v)) => {
            let mut r = (StatusCode::CREATED, Json(v)).into_response();
            if replayed {
                r.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
            }
            r
        }
        Err(e) => tmf_error(e),
    }
}

/// One trouble ticket (`fields` selects).
#[utoipa::path(get, path = "/tmf-api/troubleTicket/v4/troubleTicket/{id}", tag = "tmf621", security(("bearer" = [])),
    params(("id" = String, Path), ("fields" = Option<String>, Query)),
    responses((status = 200, description = "TroubleTicket"), (status = 401, body = crate::error::ErrorBody),
        (status = 400, description = "TMF Error"), (status = 404, description = "TMF Error")))]
pub async fn retrieve<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let fields = params.iter().find(|(k, _)| k == "fields").map(|(_, v)| v.as_str());
    if let Some((k, _)) = params.iter().find(|(k, _)| k != "fields") {
        return tmf_error(bad(k, "only fields may be given here"));
    }
    // The TMF id is kefu's ticket id; the number is the externalId.
    if id.trim().parse::<i64>().is_err() {
        return tmf_error(ApiError::NotFound { what: "troubleTicket", what_zh: "工单" });
    }
    match app.kefu.tmf_ticket(&user.actor, id.trim(), fields).await {
        Ok(v) => (StatusCode::OK, Json(v)).into_response(),
        Err(e) => tmf_error(e),
    }
}

/// A JSON merge patch of a trouble ticket: `status` (reached through the
/// flow's own action from where the ticket is, with `statusChangeReason`
/// as its reason or result), `severity`/`priority`, new `note`s; anything
/// else 400 naming it; a status the flow does not lead to now 409.
#[utoipa::path(patch, path = "/tmf-api/troubleTicket/v4/troubleTicket/{id}", tag = "tmf621", security(("bearer" = [])),
    params(("id" = String, Path)),
    request_body(content = Object, content_type = "application/merge-patch+json", description = "TroubleTicket_Update"),
    responses((status = 200, description = "TroubleTicket"), (status = 400, description = "TMF Error"),
        (status = 401, body = crate::error::ErrorBody), (status = 403, description = "TMF Error"),
        (status = 404, description = "TMF Error"), (status = 409, description = "TMF Error")))]
pub async fn patch<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<String>,
    raw: axum::body::Bytes,
) -> Response {
    let run = async {
        if id.trim().parse::<i64>().is_err() {
            return Err(ApiError::NotFound { what: "troubleTicket", what_zh: "工单" });
        }
        let body: Value = crate::extract::parse_json(&raw)?;
        app.kefu.tmf_patch(&user.actor, id.trim(), &body).await
    };
    match run.await {
        Ok(v) => (StatusCode::OK, Json(v)).into_response(),
        Err(e) => tmf_error(e),
    }
}

/// Deletes a trouble ticket as far as an operator's records allow: the
/// ticket is withdrawn (撤单) through its flow — status `cancelled`, a
/// `TroubleTicketDeleteEvent` to subscribers — and stays on record (R-43:
/// an audited ticket is never erased). One the flow cannot withdraw any
/// more (in hand, resolved) is 409.
#[utoipa::path(delete, path = "/tmf-api/troubleTicket/v4/troubleTicket/{id}", tag = "tmf621", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = crate::error::ErrorBody), (status = 403, description = "TMF Error"),
        (status = 404, description = "TMF Error"), (status = 409, description = "TMF Error")))]
pub async fn delete<S: Store>(State(app): State<AppState<S>>, user: CurrentUser, Path(id): Path<String>) -> Response {
    if id.trim().parse::<i64>().is_err() {
        return tmf_error(ApiError::NotFound { what: "troubleTicket", what_zh: "工单" });
    }
    match app.kefu.tmf_delete(&user.actor, id.trim()).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => tmf_error(e),
    }
}

/// The hub's `EventSubscription` (with the signing `secret` once, at registration).
fn subscription(h: &kefu_store::Webhook, secret: bool) -> Value {
    let mut v = serde_json::json!({"id": h.id.to_string(), "callback": h.url, "query": h.query});
    if secret {
        v["secret"] = Value::String(h.secret.clone());
    }
    v
}

/// Registers a listener (`EventSubscriptionInput`: `callback`, `query`
/// such as `eventType=TroubleTicketStatusChangeEvent&severity=Major`).
/// Each notification is POSTed to the callback signed like kefu's webhooks
/// (`webhook-id`, `webhook-timestamp`, `webhook-signature` with the
/// `secret` of this answer), in order, retried, and the subscription is
/// switched off after the policy's failures in a row.
#[utoipa::path(post, path = "/tmf-api/troubleTicket/v4/hub", tag = "tmf621", security(("bearer" = [])),
    request_body(content = Object, description = "EventSubscriptionInput: callback, query"),
    responses((status = 201, description = "EventSubscription"), (status = 400, description = "TMF Error"),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn hub_register<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    v5: Option<axum::Extension<V5>>,
    raw: axum::body::Bytes,
) -> Response {
    let run = async {
        let body: Value = crate::extract::parse_json(&raw)?;
        let obj = body.as_object().ok_or_else(|| bad("body", "an EventSubscriptionInput object"))?;
        if let Some(k) = obj.keys().find(|k| !k.starts_with('@') && !["callback", "query"].contains(&k.as_str())) {
            return Err(bad(k, "not a field of EventSubscriptionInput (callback, query)"));
        }
        let callback = obj.get("callback").and_then(Value::as_str).ok_or_else(|| bad("callback", "required"))?;
        let query = match obj.get("query") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(q)) => q.trim().to_string(),
            Some(_) => return Err(bad("query", "a string")),
        };
        kefu_domain::events::HubQuery::parse(&query).map_err(|e| bad("query", &e))?;
        if query.chars().count() > 1000 {
            return Err(bad("query", "at most 1000 characters"));
        }
        let input = crate::service::events::WebhookInput { url: callback.to_string(), ..Default::default() };
        let kind = if v5.is_some() { "tmf5" } else { "tmf" };
        app.kefu.register_hook(&user.actor, kind, input, query).await
    };
    match run.await {
        Ok(h) => {
            let mut r = (StatusCode::CREATED, Json(subscription(&h, true))).into_response();
            let version = if h.kind == "tmf5" { "v5" } else { "v4" };
            if let Ok(v) = HeaderValue::from_str(&format!("/tmf-api/troubleTicket/{version}/hub/{}", h.id)) {
                r.headers_mut().insert("location", v);
            }
            r
        }
        Err(e) => tmf_error(e),
    }
}

/// A subscription of the caller's (an administrator sees every one).
async fn own_hub<S: Store>(app: &AppState<S>, user: &CurrentUser, id: &str) -> Result<kefu_store::Webhook, ApiError> {
    let gone = || ApiError::NotFound { what: "hub", what_zh: "订阅" };
    let id = id.trim().parse::<i64>().map_err(|_| gone())?;
    let h = app.kefu.hook(id, Some("tmf")).await.map_err(|_| gone())?;
    if h.owner != user.actor.id && user.actor.role != kefu_domain::Role::Admin {
        return Err(gone());
    }
    Ok(h)
}

/// One subscription (`EventSubscription`).
#[utoipa::path(get, path = "/tmf-api/troubleTicket/v4/hub/{id}", tag = "tmf621", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "EventSubscription"), (status = 404, description = "TMF Error"),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn hub_get<S: Store>(State(app): State<AppState<S>>, user: CurrentUser, Path(id): Path<String>) -> Response {
    match own_hub(&app, &user, &id).await {
        Ok(h) => (StatusCode::OK, Json(subscription(&h, false))).into_response(),
        Err(e) => tmf_error(e),
    }
}

/// Unregisters a listener: no notification is sent to it after this.
#[utoipa::path(delete, path = "/tmf-api/troubleTicket/v4/hub/{id}", tag = "tmf621", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, description = "TMF Error"),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn hub_delete<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Response {
    let run = async {
        let h = own_hub(&app, &user, &id).await?;
        app.kefu.remove_hook(h.id, Some("tmf")).await
    };
    match run.await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => tmf_error(e),
    }
}
