//! Local stand-ins for the channels' far ends: an HTTP SMS gateway that
//! records what it is sent, and a real SMTP server (aiosmtpd) that keeps
//! each message it accepts.

use axum::routing::post;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// A local SMS gateway: records each JSON request; the first `fail_first`
/// requests get a 503 (the outbox retries them).
#[derive(Clone, Default)]
pub struct SmsGateway {
    pub got: Arc<Mutex<Vec<Value>>>,
    fail_first: Arc<Mutex<usize>>,
}

impl SmsGateway {
    pub async fn start(fail_first: usize) -> (SmsGateway, String) {
        let gw = SmsGateway { fail_first: Arc::new(Mutex::new(fail_first)), ..Default::default() };
        let state = gw.clone();
        let app = axum::Router::new().route(
            "/sms/send",
            post(move |headers: axum::http::HeaderMap, axum::Json(body): axum::Json<Value>| {
                let state = state.clone();
                async move {
                    assert_eq!(headers.get("x-api-key").unwrap(), "k-123", "configured headers are sent");
                    let mut fail = state.fail_first.lock().unwrap();
                    if *fail > 0 {
                        *fail -= 1;
                        return (axum::http::StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({"error": "busy"})));
                    }
                    let mut got = state.got.lock().unwrap();
                    got.push(body);
                    (
                        axum::http::StatusCode::OK,
                        axum::Json(json!({"code": 0, "data": {"sms_id": format!("sms-{}", got.len())}})),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/sms/send", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (gw, url)
    }

    pub fn texts_to(&self, phone: &str) -> Vec<String> {
        let got = self.got.lock().unwrap();
        got.iter().filter(|m| m["mobile"] == phone).map(|m| m["content"].as_str().unwrap().to_string()).collect()
    }
}

/// aiosmtpd, writing each message it accepts as JSON into a directory.
pub struct SmtpSink {
    pub port: u16,
    dir: tempfile::TempDir,
    _child: tokio::process::Child,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        use tokio::io::AsyncBufReadExt;
        let dir = tempfile::tempdir().unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_sink.py");
        let mut child = tokio::process::Command::new("python3")
            .arg(script)
            .arg(dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 runs the SMTP sink (aiosmtpd is installed by .ci/run)");
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let port = lines.next_line().await.unwrap().expect("the sink prints its port").trim().parse().unwrap();
        SmtpSink { port, dir, _child: child }
    }

    pub fn mails(&self) -> Vec<Value> {
        let mut out: Vec<Value> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .map(|e| serde_json::from_str(&std::fs::read_to_string(e.path()).unwrap()).unwrap())
            .collect();
        out.sort_by_key(|m| m["subject"].as_str().unwrap_or("").to_string());
        out
    }
}

#[path = "../../support/imap_server.rs"]
mod imap_server;
#[allow(unused_imports)]
pub use imap_server::ImapServer;

/// One request a webhook receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: i64,
    pub signature: String,
    pub body: String,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// A webhook receiver: records each request with its Standard Webhooks
/// headers and answers with the next status of its script (then 204).
#[derive(Clone, Default)]
pub struct Receiver {
    pub got: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<std::collections::VecDeque<u16>>>,
    /// Answer this to everything after the script (0: 204).
    always: Arc<Mutex<u16>>,
}

impl Receiver {
    pub async fn start(script: &[u16]) -> (Receiver, String) {
        let r = Receiver { script: Arc::new(Mutex::new(script.iter().copied().collect())), ..Default::default() };
        let state = r.clone();
        let app = axum::Router::new().route(
            "/hook",
            post(move |headers: axum::http::HeaderMap, body: String| {
                let state = state.clone();
                async move {
                    let h = |n: &str| headers.get(n).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
                    state.got.lock().unwrap().push(Received {
                        id: h("webhook-id"),
                        timestamp: h("webhook-timestamp").parse().unwrap_or(0),
                        signature: h("webhook-signature"),
                        body,
                    });
                    let next = state.script.lock().unwrap().pop_front();
                    let always = *state.always.lock().unwrap();
                    let code = next.unwrap_or(if always == 0 { 204 } else { always });
                    axum::http::StatusCode::from_u16(code).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (r, url)
    }

    /// Answers `status` to every request from now on (after the script).
    pub fn answer(&self, status: u16) {
        *self.always.lock().unwrap() = status;
    }

    pub fn all(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}
