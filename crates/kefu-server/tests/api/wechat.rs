//! The WeChat official account against a local simulator of the
//! platform's API (access token, customer-service messages, media): the URL
//! check refuses a wrong signature and echoes on a right one; a follower's
//! messages go to the smart first line, whose handoff registers a ticket;
//! the agent's answer reaches them through the customer-service message
//! API; their picture then goes on the ticket; safe mode decrypts, answers
//! encrypted, and refuses a wrong signature; a replayed callback is refused.

use crate::common;

use axum::routing::{get, post};
use common::*;
use kefu_domain::clock::Clock;
use kefu_server::wechat::{Crypt, field, signature};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

const TOKEN: &str = "wx-callback-token";
const APPID: &str = "wx1234567890abcdef";
const AES_KEY: &str = "kefuTestEncodingAesKey0123456789abcdefghijk";
const OPENID: &str = "oKefuTestUser000000000001";

#[derive(Clone, Default)]
struct Platform {
    sent: Arc<Mutex<Vec<Value>>>,
}

fn jpeg() -> Vec<u8> {
    let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00];
    b.extend((0..2_000u32).map(|i| (i * 13 % 251) as u8));
    b
}

impl Platform {
    async fn start() -> (Platform, String) {
        let p = Platform::default();
        let sent = p.sent.clone();
        let app = axum::Router::new()
            .route(
                "/cgi-bin/token",
                get(|axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>| async move {
                    assert_eq!((q["appid"].as_str(), q["secret"].as_str()), (APPID, "app-secret"));
                    axum::Json(json!({"access_token": "AT-1", "expires_in": 7200}))
                }),
            )
            .route(
                "/cgi-bin/message/custom/send",
                post(move |axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
                           axum::Json(body): axum::Json<Value>| {
                    let sent = sent.clone();
                    async move {
                        assert_eq!(q["access_token"], "AT-1");
                        let mut s = sent.lock().unwrap();
                        s.push(body);
                        axum::Json(json!({"errcode": 0, "errmsg": "ok", "msgid": s.len()}))
                    }
                }),
            )
            .route("/media/photo.jpg", get(|| async { jpeg() }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (p, url)
    }
}

async fn start(backend: Backend) -> (TestApp, Platform, String) {
    let (platform, url) = Platform::start().await;
    let delivery: DeliveryConfig = toml::from_str(&format!(
        "[wechat]\ntoken = \"{TOKEN}\"\nappid = \"{APPID}\"\nsecret = \"app-secret\"\nencoding_aes_key = \"{AES_KEY}\"\napi_url = \"{url}\""
    ))
    .unwrap();
    let mut policy = manual_dispatch();
    policy.dispatch.on_create = false;
    (spawn_app_delivering(backend, policy, delivery).await, platform, url)
}

/// The query of a callback signed as the platform signs it, at the app's time.
fn signed_query(app: &TestApp, nonce: &str) -> (String, String) {
    let ts = app.clock.now().timestamp().to_string();
    (format!("signature={}&timestamp={ts}&nonce={nonce}", signature(&[TOKEN, &ts, nonce])), ts)
}

fn text_xml(content: &str, msg_id: u64) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_kefu]]></ToUserName><FromUserName><![CDATA[{OPENID}]]></FromUserName>\
         <CreateTime>1795860000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>\
         <MsgId>{msg_id}</MsgId></xml>"
    )
}

async fn callback(app: &TestApp, query: &str, body: String) -> (StatusCode, String) {
    let r = app
        .client
        .post(format!("{}/api/v1/wechat/callback?{query}&openid={OPENID}", app.base))
        .header("content-type", "text/xml")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

/// Sends a text as the follower; the passive reply's text.
async fn say(app: &TestApp, text: &str, msg_id: u64) -> String {
    let (q, _) = signed_query(app, &format!("n{msg_id}"));
    let (s, body) = callback(app, &q, text_xml(text, msg_id)).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(field(&body, "ToUserName").as_deref(), Some(OPENID), "{body}");
    field(&body, "Content").unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wechat_on_sqlite() {
    a_follower_is_answered_by_the_bot_then_by_people(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wechat_on_postgres() {
    a_follower_is_answered_by_the_bot_then_by_people(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wechat_signatures_on_sqlite() {
    signatures_and_safe_mode_are_the_platforms(Backend::Sqlite).await;
}

async fn a_follower_is_answered_by_the_bot_then_by_people(backend: Backend) {
    let (app, platform, url) = start(backend).await;
    // The bot first; asked for a person, it asks for the number, then registers.
    let first = say(&app, "转人工", 1).await;
    assert!(first.contains("手机号"), "{first}");
    let registered = say(&app, "13812345678", 2).await;
    assert!(registered.contains("工单 GD"), "{registered}");
    let (_, list) = app.get("supervisor1", "/api/v1/tickets?channel=wechat").await;
    assert_eq!(list["total"], 1, "{list}");
    let t = list["items"][0].clone();
    let number = t["number"].as_str().unwrap().to_string();

    // The agent's answer goes out through the customer-service message API.
    let (s, b) = app.act("supervisor1", &t["id"], json!({"action": "dispatch", "assignee": "engineer1"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = app
        .post(
            "engineer1",
            &format!("/api/v1/tickets/{number}/comments"),
            json!({"body": "已安排师傅今天下午上门", "internal": false}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    (app.loop_jobs)().await;
    let sent = platform.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!((sent[0]["touser"].as_str(), sent[0]["msgtype"].as_str()), (Some(OPENID), Some("text")));
    assert!(sent[0]["text"]["content"].as_str().unwrap().contains("已安排师傅今天下午上门"));
    let (_, messages) = app.get("supervisor1", &format!("/api/v1/tickets/{number}/messages")).await;
    let reply = messages.as_array().unwrap().iter().find(|m| m["channel"] == "wechat").unwrap().clone();
    assert_eq!(reply["state"], "sent", "{messages}");

    // Now the follower is known: their picture goes on the ticket, for its handler.
    let (q, _) = signed_query(&app, "n3");
    let image = format!(
        "<xml><ToUserName><![CDATA[gh_kefu]]></ToUserName><FromUserName><![CDATA[{OPENID}]]></FromUserName>\
         <CreateTime>1795860000</CreateTime><MsgType><![CDATA[image]]></MsgType>\
         <PicUrl><![CDATA[{url}/media/photo.jpg]]></PicUrl><MediaId><![CDATA[m1]]></MediaId><MsgId>3</MsgId></xml>"
    );
    let (s, body) = callback(&app, &q, image).await;
    assert_eq!(s, StatusCode::OK);
    assert!(field(&body, "Content").unwrap().contains(&number), "{body}");
    let (_, files) = app.get("engineer1", &format!("/api/v1/tickets/{number}/attachments")).await;
    assert_eq!(files["items"][0]["content_type"], "image/jpeg", "{files}");
    assert_eq!(files["items"][0]["source"], "wechat");
    let (_, comments) = app.get("engineer1", &format!("/api/v1/tickets/{number}/comments")).await;
    assert_eq!(comments.as_array().unwrap().last().unwrap()["channel"], "wechat");
}

async fn signatures_and_safe_mode_are_the_platforms(backend: Backend) {
    let (app, _platform, _) = start(backend).await;
    let verify = |q: String| {
        let c = app.client.clone();
        let base = app.base.clone();
        async move {
            let r = c.get(format!("{base}/api/v1/wechat/callback?{q}&echostr=echo-123")).send().await.unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    let (q, ts) = signed_query(&app, "abc");
    assert_eq!(verify(q).await, (StatusCode::OK, "echo-123".to_string()));
    let (s, _) = verify(format!("signature=0000&timestamp={ts}&nonce=abc")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let old = (app.clock.now().timestamp() - 3_600).to_string();
    let (s, _) = verify(format!("signature={}&timestamp={old}&nonce=abc", signature(&[TOKEN, &old, "abc"]))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "an hour-old callback is a replay");
    let (s, _) = callback(&app, "signature=0000&timestamp=1&nonce=x", text_xml("你好", 9)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Safe mode: the message encrypted and signed; the answer encrypted alike.
    let crypt = Crypt::new(AES_KEY, APPID).unwrap();
    let encrypted = crypt.encrypt(&text_xml("转人工", 10));
    let (q, ts) = signed_query(&app, "safe");
    let msg_sig = signature(&[TOKEN, &ts, "safe", &encrypted]);
    let body =
        format!("<xml><ToUserName><![CDATA[gh_kefu]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>");
    let (s, reply) = callback(&app, &format!("{q}&encrypt_type=aes&msg_signature={msg_sig}"), body.clone()).await;
    assert_eq!(s, StatusCode::OK, "{reply}");
    let inner = field(&reply, "Encrypt").expect("an encrypted reply");
    let sig = field(&reply, "MsgSignature").unwrap();
    assert_eq!(sig, signature(&[TOKEN, &ts, "safe", &inner]));
    let xml = crypt.decrypt(&inner).unwrap();
    assert!(field(&xml, "Content").unwrap().contains("手机号"), "{xml}");
    let (s, _) = callback(&app, &format!("{q}&encrypt_type=aes&msg_signature=bad"), body).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}
