//! The WeChat official account's server callback: the platform's URL check
//! (GET, echo when the signature holds) and its messages (POST, XML, plain
//! or safe mode), answered with a passive reply or `success`. The platform
//! proves itself with the signature over the configured token; a callback
//! more than five minutes old is refused (a replay).

use crate::AppState;
use crate::error::ApiError;
use crate::service::wechat::WechatMessage;
use crate::wechat::{Crypt, encrypted_reply, field, signature, text_reply};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kefu_store::Store;
use std::collections::HashMap;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new().route("/api/v1/wechat/callback", get(verify::<S>).post(message::<S>))
}

const DENIED: ApiError =
    ApiError::Unauthorized { message: "WeChat signature missing or wrong", message_zh: "微信签名缺失或错误" };

/// The signature of token, timestamp and nonce, and the timestamp recent.
fn signed<S: Store>(app: &AppState<S>, q: &HashMap<String, String>, token: &str) -> Result<(), ApiError> {
    let (Some(sig), Some(ts), Some(nonce)) = (q.get("signature"), q.get("timestamp"), q.get("nonce")) else {
        return Err(DENIED);
    };
    if !crate::auth::same(sig, &signature(&[token, ts, nonce])) {
        return Err(DENIED);
    }
    let age = ts.parse::<i64>().map(|t| (app.kefu.now().timestamp() - t).abs());
    if age.is_ok_and(|a| a <= 300) { Ok(()) } else { Err(DENIED) }
}

fn plain(text: String, content_type: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], text).into_response()
}

/// The platform's URL check: `echostr` back when the signature holds.
#[utoipa::path(get, path = "/api/v1/wechat/callback", tag = "channels",
    params(("signature" = String, Query), ("timestamp" = String, Query), ("nonce" = String, Query), ("echostr" = String, Query)),
    responses((status = 200, description = "echostr", content_type = "text/plain"), (status = 401, body = crate::error::ErrorBody)))]
pub async fn verify<S: Store>(
    State(app): State<AppState<S>>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let cfg = app.kefu.core.settings.delivery.wechat.as_ref().ok_or(DENIED)?;
    signed(&app, &q, &cfg.token)?;
    Ok(plain(q.get("echostr").cloned().unwrap_or_default(), "text/plain; charset=utf-8"))
}

/// A customer's message (text, image, voice, events) as the platform posts
/// it: plain XML, or in safe mode (`encrypt_type=aes`) encrypted with
/// `msg_signature`. Answered with a passive text reply (encrypted alike) or
/// `success`.
#[utoipa::path(post, path = "/api/v1/wechat/callback", tag = "channels",
    params(("signature" = String, Query), ("timestamp" = String, Query), ("nonce" = String, Query),
        ("openid" = Option<String>, Query), ("encrypt_type" = Option<String>, Query), ("msg_signature" = Option<String>, Query)),
    request_body(content = String, content_type = "text/xml", description = "the platform's message XML"),
    responses((status = 200, description = "a passive reply (XML) or success", content_type = "text/xml"),
        (status = 401, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn message<S: Store>(
    State(app): State<AppState<S>>,
    Query(q): Query<HashMap<String, String>>,
    raw: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let cfg = app.kefu.core.settings.delivery.wechat.clone().ok_or(DENIED)?;
    signed(&app, &q, &cfg.token)?;
    let body = std::str::from_utf8(&raw).map_err(|_| ApiError::Malformed("the message is not UTF-8 XML".into()))?;
    let safe = q.get("encrypt_type").is_some_and(|t| t == "aes");
    let crypt = match (&cfg.encoding_aes_key, safe) {
        (Some(key), true) => Some(Crypt::new(key, &cfg.appid).map_err(ApiError::Internal)?),
        (None, true) => return Err(DENIED),
        _ => None,
    };
    let xml = match &crypt {
        Some(c) => {
            let encrypted =
                field(body, "Encrypt").ok_or_else(|| ApiError::Malformed("no Encrypt in the message".into()))?;
            let (ts, nonce) = (&q["timestamp"], &q["nonce"]);
            let want = signature(&[&cfg.token, ts, nonce, &encrypted]);
            if !q.get("msg_signature").is_some_and(|s| crate::auth::same(s, &want)) {
                return Err(DENIED);
            }
            c.decrypt(&encrypted).map_err(|_| DENIED)?
        }
        None => body.to_string(),
    };
    let need = |tag: &str| {
        field(&xml, tag).filter(|v| !v.is_empty()).ok_or_else(|| {
            ApiError::from(kefu_domain::FieldError::new(tag, format!("{tag} is required"), format!("缺少字段 {tag}")))
        })
    };
    let (openid, account) = (need("FromUserName")?, need("ToUserName")?);
    let m = WechatMessage {
        openid: openid.clone(),
        msg_type: need("MsgType")?,
        msg_id: field(&xml, "MsgId"),
        content: field(&xml, "Content"),
        pic_url: field(&xml, "PicUrl"),
        media_id: field(&xml, "MediaId"),
        recognition: field(&xml, "Recognition"),
        event: field(&xml, "Event"),
    };
    let Some(reply) = app.kefu.receive_wechat(m).await? else {
        return Ok(plain("success".into(), "text/plain; charset=utf-8"));
    };
    let now = app.kefu.now().timestamp();
    let xml = text_reply(&openid, &account, &reply, now);
    Ok(match &crypt {
        Some(c) => plain(encrypted_reply(c, &cfg.token, &xml, &q["timestamp"], &q["nonce"]), "text/xml; charset=utf-8"),
        None => plain(xml, "text/xml; charset=utf-8"),
    })
}
