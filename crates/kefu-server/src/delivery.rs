//! Delivery of customer messages (通知送达): the channel adapters — e-mail
//! over SMTP, SMS through an HTTP gateway — and the outbox worker that
//! claims due messages, sends them and records the outcome, retrying with
//! backoff. A message goes to one node at a time (the claim), and a node
//! records its outcome only while its claim holds; a node that dies after
//! the gateway took a message but before recording it may cause one
//! duplicate after the claim runs out (at least once across crashes).

use crate::Kefu;
use crate::error::ApiError;
use chrono::Duration;
use kefu_store::{Message, SendOutcome, Store};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// `[delivery]` of the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryConfig {
    pub smtp: Option<SmtpConfig>,
    pub sms: Option<SmsGatewayConfig>,
    /// The WeChat official account: its callback and customer-service messages.
    pub wechat: Option<crate::wechat::WechatConfig>,
    /// Attempts before a message is given up as failed.
    pub max_attempts: u32,
    /// The first retry waits this long; each next one twice as long (≤ 1 h).
    pub retry_base_seconds: i64,
    /// How long a node holds the messages it claimed.
    pub claim_seconds: i64,
    /// Messages one node sends at once (gateways answer in tens of
    /// milliseconds; one at a time would cap a node at a few dozen a second).
    pub parallel: usize,
    /// Messages of a channel with no adapter configured are appended to
    /// this file instead (the demo: read the customer's links there).
    pub log_file: Option<std::path::PathBuf>,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            smtp: None,
            sms: None,
            wechat: None,
            max_attempts: 8,
            retry_base_seconds: 30,
            claim_seconds: 120,
            parallel: 16,
            log_file: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    #[serde(default = "smtp_port")]
    pub port: u16,
    /// `none` (trusted local relay), `starttls` (required) or `tls` (implicit, port 465).
    #[serde(default = "starttls")]
    pub tls: String,
    pub username: Option<String>,
    /// Or `KEFU_SMTP_PASSWORD`.
    pub password: Option<String>,
    /// `客服中心 <kefu@example.com>`.
    pub from: String,
    #[serde(default = "ten")]
    pub timeout_seconds: u64,
}

fn smtp_port() -> u16 {
    25
}
fn starttls() -> String {
    "starttls".into()
}
fn ten() -> u64 {
    10
}

/// A generic HTTP SMS gateway, as cloud SMS services take: a JSON POST of
/// the phone number and text (under configurable field names, plus fixed
/// fields such as a signature or template code), answered with the
/// gateway's message id; delivery receipts come back to
/// `POST /api/v1/sms/receipts`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsGatewayConfig {
    pub url: String,
    /// Extra request headers (an API key …).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default = "to_field")]
    pub to_field: String,
    #[serde(default = "text_field")]
    pub text_field: String,
    /// Fixed fields added to every request.
    #[serde(default)]
    pub extra: serde_json::Map<String, serde_json::Value>,
    /// Dotted path of the message id in the gateway's answer.
    #[serde(default = "id_field")]
    pub response_id: String,
    /// Receipts: the fields holding the message id and its status, the
    /// status values meaning delivered, and the token the gateway must send
    /// (header `X-Receipt-Token` or `?token=`). No token: receipts refused.
    #[serde(default = "id_field")]
    pub receipt_id_field: String,
    #[serde(default = "status_field")]
    pub receipt_status_field: String,
    #[serde(default = "delivered_values")]
    pub receipt_delivered: Vec<String>,
    pub receipt_token: Option<String>,
    /// Messages customers send (mobile-originated), POSTed by the gateway
    /// to `/api/v1/sms/inbound` as JSON (one or a list) or a form: the
    /// fields holding the gateway's message id, the sender and the text, and
    /// the token it must send (header `X-Inbound-Token` or `?token=`). No
    /// token: inbound messages refused.
    #[serde(default = "id_field")]
    pub inbound_id_field: String,
    #[serde(default = "from_field")]
    pub inbound_from_field: String,
    #[serde(default = "text_field")]
    pub inbound_text_field: String,
    pub inbound_token: Option<String>,
    #[serde(default = "ten")]
    pub timeout_seconds: u64,
}

fn to_field() -> String {
    "to".into()
}
fn from_field() -> String {
    "from".into()
}
fn text_field() -> String {
    "text".into()
}
fn id_field() -> String {
    "message_id".into()
}
fn status_field() -> String {
    "status".into()
}
fn delivered_values() -> Vec<String> {
    vec!["delivered".into(), "DELIVERED".into(), "DELIVRD".into(), "success".into()]
}

/// Why an attempt failed; permanent failures are not retried.
#[derive(Debug, Clone)]
pub struct SendError {
    pub permanent: bool,
    pub message: String,
}

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<Option<String>, SendError>> + Send + 'a>>;

/// A channel adapter: sends one message, returns the provider's id.
/// SMPP or CMPP adapters would implement this too.
pub trait Transport: Send + Sync {
    fn send<'a>(&'a self, m: &'a Message) -> SendFuture<'a>;
}

/// The adapters configured, by channel.
#[derive(Clone, Default)]
pub struct Channels {
    pub sms: Option<Arc<dyn Transport>>,
    pub email: Option<Arc<dyn Transport>>,
    pub wechat: Option<Arc<dyn Transport>>,
}

impl Channels {
    pub fn from_config(cfg: &DeliveryConfig) -> Result<Channels, String> {
        let email = match &cfg.smtp {
            Some(s) => Some(Arc::new(Smtp::new(s)?) as Arc<dyn Transport>),
            None => None,
        };
        let sms = match &cfg.sms {
            Some(s) => Some(Arc::new(HttpSms::new(s)?) as Arc<dyn Transport>),
            None => None,
        };
        let wechat = match &cfg.wechat {
            Some(w) => Some(Arc::new(crate::wechat::WechatTransport::new(w)?) as Arc<dyn Transport>),
            None => None,
        };
        let file = cfg.log_file.as_ref().map(|p| Arc::new(FileLog { path: p.clone() }) as Arc<dyn Transport>);
        Ok(Channels {
            sms: sms.or_else(|| file.clone()),
            email: email.or_else(|| file.clone()),
            wechat: wechat.or(file),
        })
    }

    fn get(&self, channel: &str) -> Option<&Arc<dyn Transport>> {
        match channel {
            "sms" => self.sms.as_ref(),
            "email" => self.email.as_ref(),
            "wechat" => self.wechat.as_ref(),
            _ => None,
        }
    }
}

/// rustls needs one process-wide crypto provider (ring: it builds without
/// cmake). Every HTTP client of the process needs it, so the binary and
/// the tests call this before making one.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub struct Smtp {
    transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    from: lettre::message::Mailbox,
}

impl Smtp {
    pub fn new(c: &SmtpConfig) -> Result<Smtp, String> {
        use lettre::transport::smtp::client::{Tls, TlsParameters};
        install_tls_provider();
        let params = || TlsParameters::new(c.host.clone()).map_err(|e| format!("smtp tls: {e}"));
        let tls = match c.tls.as_str() {
            "none" => Tls::None,
            "starttls" => Tls::Required(params()?),
            "tls" => Tls::Wrapper(params()?),
            other => return Err(format!("delivery.smtp.tls: '{other}' is not none, starttls or tls")),
        };
        let mut b = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous(c.host.as_str())
            .port(c.port)
            .tls(tls)
            .timeout(Some(std::time::Duration::from_secs(c.timeout_seconds)));
        let password = std::env::var("KEFU_SMTP_PASSWORD").ok().or_else(|| c.password.clone());
        if let (Some(u), Some(p)) = (&c.username, password) {
            b = b.credentials(lettre::transport::smtp::authentication::Credentials::new(u.clone(), p));
        }
        let from = c.from.parse().map_err(|e| format!("delivery.smtp.from '{}': {e}", c.from))?;
        Ok(Smtp { transport: b.build(), from })
    }
}

impl Transport for Smtp {
    fn send<'a>(&'a self, m: &'a Message) -> SendFuture<'a> {
        Box::pin(async move {
            use lettre::AsyncTransport;
            let permanent = |message: String| SendError { permanent: true, message };
            let to = m.recipient.parse().map_err(|e| permanent(format!("bad address: {e}")))?;
            let mut builder = lettre::Message::builder()
                .from(self.from.clone())
                .to(to)
                .subject(m.subject.as_str())
                .message_id(Some(message_id(m, self.from.email.domain())))
                .header(lettre::message::header::ContentType::TEXT_PLAIN);
            // The customer's mail program shows the answer in their thread.
            if let Some(theirs) = &m.in_reply_to {
                let theirs = format!("<{}>", theirs.trim_matches(['<', '>']));
                builder = builder.in_reply_to(theirs.clone()).references(theirs);
            }
            let email = builder.body(m.body.clone()).map_err(|e| permanent(e.to_string()))?;
            match self.transport.send(email).await {
                Ok(r) => Ok(Some(r.message().collect::<Vec<_>>().join(" ")).filter(|s| !s.is_empty())),
                Err(e) => Err(SendError { permanent: e.is_permanent(), message: e.to_string() }),
            }
        })
    }
}

/// The Message-ID of an e-mail kefu sends: it names the ticket, so a reply
/// (In-Reply-To, References) finds its ticket even with the subject changed
/// (`inbound::thread_ticket`).
pub fn message_id(m: &Message, domain: &str) -> String {
    match m.ticket_id {
        Some(t) => format!("<kefu-t{}-m{}@{domain}>", t.0, m.id),
        None => format!("<kefu-m{}@{domain}>", m.id),
    }
}

/// Appends each message to a file, as a stand-in for a real channel.
pub struct FileLog {
    path: std::path::PathBuf,
}

impl Transport for FileLog {
    fn send<'a>(&'a self, m: &'a Message) -> SendFuture<'a> {
        Box::pin(async move {
            use std::io::Write;
            let line = format!(
                "--- {} {} to {}\n{}\n{}\n\n",
                m.created_at.to_rfc3339(),
                m.channel,
                m.recipient,
                m.subject,
                m.body
            );
            let path = self.path.clone();
            let written = tokio::task::spawn_blocking(move || {
                let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
                f.write_all(line.as_bytes())?;
                f.sync_data()
            })
            .await;
            match written {
                Ok(Ok(())) => Ok(None),
                Ok(Err(e)) => Err(SendError { permanent: false, message: format!("{}: {e}", self.path.display()) }),
                Err(e) => Err(SendError { permanent: false, message: e.to_string() }),
            }
        })
    }
}

pub struct HttpSms {
    cfg: SmsGatewayConfig,
    client: reqwest::Client,
}

impl HttpSms {
    pub fn new(c: &SmsGatewayConfig) -> Result<HttpSms, String> {
        install_tls_provider();
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(c.timeout_seconds))
            .build()
            .map_err(|e| format!("sms gateway client: {e}"))?;
        Ok(HttpSms { cfg: c.clone(), client })
    }
}

impl Transport for HttpSms {
    fn send<'a>(&'a self, m: &'a Message) -> SendFuture<'a> {
        Box::pin(async move {
            let mut body = self.cfg.extra.clone();
            body.insert(self.cfg.to_field.clone(), m.recipient.clone().into());
            body.insert(self.cfg.text_field.clone(), m.body.clone().into());
            let mut req = self.client.post(&self.cfg.url).json(&body);
            for (k, v) in &self.cfg.headers {
                req = req.header(k, v);
            }
            let transient = |message: String| SendError { permanent: false, message };
            let resp = req.send().await.map_err(|e| transient(format!("sms gateway: {e}")))?;
            let status = resp.status();
            let text = resp.text().await.map_err(|e| transient(e.to_string()))?;
            if !status.is_success() {
                // 4xx other than throttling: the gateway will not take it.
                let permanent = status.is_client_error() && status.as_u16() != 429;
                return Err(SendError { permanent, message: format!("sms gateway {status}: {}", clip(&text)) });
            }
            let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            Ok(dotted(&json, &self.cfg.response_id).map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            }))
        })
    }
}

fn clip(s: &str) -> String {
    s.chars().take(200).collect()
}

/// The value at a dotted path (`data.id`) of a JSON document.
pub fn dotted<'a>(v: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    path.split('.').try_fold(v, |v, k| v.get(k)).filter(|v| !v.is_null())
}

/// Messages claimed per round.
const BATCH: u32 = 50;

/// One round of the outbox worker: sends what is due, up to `parallel`
/// messages at once. Returns how many messages were sent (taken by their
/// gateway).
pub async fn deliver<S: Store>(kefu: &Kefu<S>, node: &str) -> Result<usize, ApiError> {
    let cfg = &kefu.core.settings.delivery;
    let limit = Arc::new(tokio::sync::Semaphore::new(cfg.parallel.max(1)));
    let mut sent = 0;
    loop {
        let now = kefu.now();
        let claimed = kefu.store.claim_messages(node, now, Duration::seconds(cfg.claim_seconds), BATCH).await?;
        let n = claimed.len();
        let mut tasks = tokio::task::JoinSet::new();
        for m in claimed {
            let (kefu, node, limit) = (kefu.clone(), node.to_string(), limit.clone());
            tasks.spawn(async move {
                let _slot = limit.acquire_owned().await;
                send_one(&kefu, &node, m).await
            });
        }
        while let Some(done) = tasks.join_next().await {
            if done.map_err(|e| ApiError::Internal(e.to_string()))?? {
                sent += 1;
            }
        }
        if n < BATCH as usize {
            return Ok(sent);
        }
    }
}

/// Sends one claimed message and records the outcome; true if sent.
async fn send_one<S: Store>(kefu: &Kefu<S>, node: &str, m: Message) -> Result<bool, ApiError> {
    let outcome = attempt(kefu, &m).await;
    let sent = matches!(outcome, SendOutcome::Sent { .. });
    if let SendOutcome::Failed { error } | SendOutcome::Retry { error, .. } = &outcome {
        tracing::warn!(message = m.id, channel = %m.channel, attempt = m.attempts + 1, %error, "message not sent");
    }
    if !kefu.store.finish_message(m.id, node, outcome, kefu.now()).await? {
        tracing::warn!(message = m.id, "claim ran out before the outcome was recorded");
    }
    Ok(sent)
}

async fn attempt<S: Store>(kefu: &Kefu<S>, m: &Message) -> SendOutcome {
    let cfg = &kefu.core.settings.delivery;
    let Some(transport) = kefu.core.channels.get(&m.channel) else {
        return SendOutcome::Failed { error: format!("no {} channel is configured", m.channel) };
    };
    let outgoing = crate::service::messages::with_link(&kefu.core, m);
    match transport.send(&outgoing).await {
        Ok(provider_id) => SendOutcome::Sent { provider_id },
        Err(e) if e.permanent || m.attempts + 1 >= cfg.max_attempts => SendOutcome::Failed { error: e.message },
        Err(e) => {
            let wait = (cfg.retry_base_seconds << m.attempts.min(20)).min(3600);
            SendOutcome::Retry { at: kefu.now() + Duration::seconds(wait), error: e.message }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_paths_reach_into_answers() {
        let v = serde_json::json!({"data": {"id": 42}, "message_id": "m1"});
        assert_eq!(dotted(&v, "message_id"), Some(&serde_json::json!("m1")));
        assert_eq!(dotted(&v, "data.id"), Some(&serde_json::json!(42)));
        assert_eq!(dotted(&v, "data.none"), None);
    }

    #[test]
    fn gateway_config_has_cloud_like_defaults() {
        let c: DeliveryConfig = toml::from_str(
            "[sms]\nurl = \"http://127.0.0.1:9/send\"\nextra = { sign_name = \"客服中心\" }\nreceipt_token = \"t\"\n",
        )
        .unwrap();
        let sms = c.sms.unwrap();
        assert_eq!(
            (sms.to_field.as_str(), sms.text_field.as_str(), sms.response_id.as_str()),
            ("to", "text", "message_id")
        );
        assert!(sms.receipt_delivered.contains(&"DELIVRD".to_string()));
        assert!(toml::from_str::<DeliveryConfig>("[smtp]\nhost = \"x\"\n").is_err(), "from is required");
    }
}
