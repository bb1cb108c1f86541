//! The smart first line over HTTP: open to anyone (the portal's
//! chat, the WeChat adapter; listed in `http::PUBLIC`), limited per address; a session id is random
//! and unguessable, and whoever holds it continues the conversation. And
//! the editors' queue of what it could not answer (staff, by the table).

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::extract::{ApiJson, parse_json, read_body};
use crate::service::bot::{BotReply, MessageRequest, StartRequest, Transcript};
use crate::service::kb_misses::{MissQueue, ResolveRequest, Resolved};
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use kefu_store::Store;
use serde_json::{Value, json};
use std::net::SocketAddr;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/api/v1/bot/sessions", post(start::<S>))
        .route("/api/v1/bot/sessions/{id}", get(transcript::<S>))
        .route("/api/v1/bot/sessions/{id}/messages", post(message::<S>))
        .route("/api/v1/kb/misses", get(misses::<S>))
        .route("/api/v1/kb/misses/resolve", post(resolve::<S>))
}

fn limit<S: Store>(app: &AppState<S>, peer: SocketAddr) -> Result<(), ApiError> {
    let per_minute = app.kefu.core.policy.bot.messages_per_minute;
    if app.kefu.core.bot_limiter.allow(peer.ip(), app.kefu.now(), per_minute) {
        Ok(())
    } else {
        Err(ApiError::RateLimited {
            retry_after_secs: 60,
            message: "too many messages from this address; try again in a minute".into(),
            message_zh: "消息发送过于频繁，请一分钟后再试".into(),
        })
    }
}

/// Starts a conversation. The body is optional: `channel` (web by
/// default) and who the customer is, if known (a handoff needs a phone
/// number; without one the bot asks for it).
#[utoipa::path(post, path = "/api/v1/bot/sessions", tag = "bot",
    request_body(content = Option<StartRequest>, description = "optional"),
    responses((status = 201, description = "the session's id and the bot's greeting")))]
pub async fn start<S: Store>(
    State(app): State<AppState<S>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let bytes = read_body(req, &()).await?;
    let body: StartRequest =
        if bytes.iter().all(u8::is_ascii_whitespace) { StartRequest::default() } else { parse_json(&bytes)? };
    limit(&app, peer)?;
    let s = app.kefu.start_bot_session(body).await?;
    let greeting = "您好，我是智能客服，请问有什么可以帮您？您可以直接描述问题，如需人工服务请回复“转人工”。";
    Ok((StatusCode::CREATED, Json(json!({"id": s.id, "channel": s.channel.as_str(), "reply": greeting}))))
}

/// One customer message and the bot's answer: an article when it is
/// sure, articles to choose from and a request to rephrase when it is
/// not, or a handoff (`handoff` true, `ticket` registered with the
/// transcript).
#[utoipa::path(post, path = "/api/v1/bot/sessions/{id}/messages", tag = "bot",
    params(("id" = String, Path)), request_body = MessageRequest, responses((status = 200, body = BotReply)))]
pub async fn message<S: Store>(
    State(app): State<AppState<S>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MessageRequest>,
) -> Result<Json<BotReply>, ApiError> {
    limit(&app, peer)?;
    Ok(Json(app.kefu.bot_message(&id, &body).await?))
}

/// The conversation so far (the portal's chat restores it after a reload).
#[utoipa::path(get, path = "/api/v1/bot/sessions/{id}", tag = "bot",
    params(("id" = String, Path)), responses((status = 200, body = Transcript)))]
pub async fn transcript<S: Store>(
    State(app): State<AppState<S>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
) -> Result<Json<Transcript>, ApiError> {
    limit(&app, peer)?;
    Ok(Json(app.kefu.bot_transcript(&id).await?))
}

/// The editors' queue: open misses clustered by keyword, most first.
#[utoipa::path(get, path = "/api/v1/kb/misses", tag = "kb", security(("bearer" = [])),
    responses((status = 200, body = MissQueue)))]
pub async fn misses<S: Store>(State(app): State<AppState<S>>, _user: CurrentUser) -> Result<Json<MissQueue>, ApiError> {
    Ok(Json(app.kefu.miss_queue().await?))
}

/// Resolves misses: adds a question to an article, drafts one, or dismisses them.
#[utoipa::path(post, path = "/api/v1/kb/misses/resolve", tag = "kb", security(("bearer" = [])),
    request_body = ResolveRequest, responses((status = 200, body = Resolved)))]
pub async fn resolve<S: Store>(
    State(app): State<AppState<S>>,
    user: CurrentUser,
    ApiJson(body): ApiJson<ResolveRequest>,
) -> Result<Json<Resolved>, ApiError> {
    Ok(Json(app.kefu.resolve_misses(&user.actor, body).await?))
}
