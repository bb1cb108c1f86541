//! The WeChat official account: a message from a customer kefu
//! knows (their openid linked to them) that has a ticket in hand goes on it
//! for its handler, a lone 1–5 answers a waiting survey; anything else goes
//! to the smart first line (issue 12), whose handoff registers the ticket
//! and links the openid to the customer. Replies from agents then go out
//! through the customer-service message API (the `wechat` outbox channel).

use super::Kefu;
use super::bot::{MessageRequest, StartRequest};
use crate::error::ApiError;
use crate::service::attachments::Incoming;
use kefu_domain::inbound::Route;
use kefu_store::Store;

/// One message of the platform's callback, read.
#[derive(Debug, Clone, Default)]
pub struct WechatMessage {
    pub openid: String,
    pub msg_type: String,
    pub msg_id: Option<String>,
    pub content: Option<String>,
    pub pic_url: Option<String>,
    pub media_id: Option<String>,
    /// The platform's speech recognition of a voice message, when on.
    pub recognition: Option<String>,
    pub event: Option<String>,
}

/// Conversations of one openid a day before the bot is asked to start afresh.
const SESSIONS_A_DAY: u32 = 16;

impl<S: Store> Kefu<S> {
    /// Takes one message; the text of the passive reply, if any.
    pub async fn receive_wechat(&self, m: WechatMessage) -> Result<Option<String>, ApiError> {
        let lang = self.core.policy.customer_loop.language.clone();
        match (m.msg_type.as_str(), m.event.as_deref()) {
            ("event", Some("subscribe")) => {
                return Ok(Some(self.core.settings.templates.render("wechat_welcome", &lang, &[]).body));
            }
            ("event", _) => return Ok(None),
            _ => {}
        }
        let (text, files) = self.wechat_content(&m).await?;
        let customer = self.store.customer_by_contact("wechat", &m.openid).await?;
        if let Some(c) = customer {
            let id = m.msg_id.clone().unwrap_or_else(|| format!("{}:{}", m.openid, self.now().timestamp()));
            let idem = super::inbound::message_idem(&format!("wechat:{id}"), &text);
            let (tickets, route) = self.route_message(&c.phone, &text).await?;
            let actor = self.inbound_actor().await?;
            match route {
                Route::Reply(id) => {
                    let t = tickets.iter().find(|t| t.id == id).expect("routed to one of them");
                    self.words_on_ticket(&actor, t, ("wechat", None), text, files, idem).await?;
                    let lang = &self.core.policy.customer_loop.language;
                    let vars = [("number", t.number.as_str())];
                    return Ok(Some(self.core.settings.templates.render("wechat_received", lang, &vars).body));
                }
                Route::Survey { ticket, score } => {
                    let t = tickets.iter().find(|t| t.id == ticket).expect("routed to one of them");
                    let who = (super::inbound::CUSTOMER_WECHAT, "online");
                    self.survey_answer(&actor, t, score, idem, who).await?;
                    let lang = &self.core.policy.customer_loop.language;
                    let score = score.to_string();
                    let vars = [("number", t.number.as_str()), ("score", score.as_str())];
                    return Ok(Some(self.core.settings.templates.render("wechat_rated", lang, &vars).body));
                }
                Route::New => {}
            }
        }
        self.wechat_bot(&m.openid, &text).await.map(Some)
    }

    /// The text of a message, and its picture or recording.
    async fn wechat_content(&self, m: &WechatMessage) -> Result<(String, Vec<Incoming>), ApiError> {
        let text = |s: &Option<String>| s.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_string);
        Ok(match m.msg_type.as_str() {
            "text" => (self.core.policy.inbound.text(&text(&m.content).unwrap_or_default()), Vec::new()),
            "image" => {
                let file = match &m.pic_url {
                    Some(url) => self
                        .wechat_download(url)
                        .await
                        .map(|bytes| Incoming { filename: "微信图片.jpg".into(), bytes }),
                    None => None,
                };
                ("[图片]".into(), file.into_iter().collect())
            }
            "voice" => {
                let file = match &m.media_id {
                    Some(id) => {
                        self.wechat_media(id).await.map(|bytes| Incoming { filename: "微信语音.amr".into(), bytes })
                    }
                    None => None,
                };
                (text(&m.recognition).map_or("[语音]".into(), |r| format!("[语音] {r}")), file.into_iter().collect())
            }
            other => (format!("[{other}]"), Vec::new()),
        })
    }

    /// A picture the platform serves by URL (at most the policy's file size).
    async fn wechat_download(&self, url: &str) -> Option<Vec<u8>> {
        let timeout = self.core.settings.delivery.wechat.as_ref().map_or(10, |w| w.timeout_seconds);
        let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(timeout)).build().ok()?;
        let bytes = client.get(url).send().await.ok()?.error_for_status().ok()?.bytes().await.ok()?;
        let max = self.core.policy.attachments.max_file_bytes;
        (bytes.len() as u64 <= max).then(|| bytes.to_vec())
    }

    /// A recording through the media API.
    async fn wechat_media(&self, media_id: &str) -> Option<Vec<u8>> {
        let cfg = self.core.settings.delivery.wechat.as_ref()?;
        let api = crate::wechat::WechatTransport::new(cfg).ok()?;
        let bytes = api.media(media_id).await.ok()?;
        (bytes.len() as u64 <= self.core.policy.attachments.max_file_bytes).then_some(bytes)
    }

    /// The smart first line: the openid's conversation of the day; its
    /// handoff's ticket links the openid to the customer.
    async fn wechat_bot(&self, openid: &str, text: &str) -> Result<String, ApiError> {
        let day = kefu_domain::time::shanghai_date(self.now());
        let ask = MessageRequest { text: Some(if text.is_empty() { "[空消息]".into() } else { text.to_string() }) };
        for n in 0..SESSIONS_A_DAY {
            let digest = <sha2::Sha256 as sha2::Digest>::digest(format!("wechat:{openid}:{day}:{n}").as_bytes());
            let id = crate::auth::hex(&digest[..16]);
            let reply = match self.bot_message(&id, &ask).await {
                Err(ApiError::NotFound { .. }) => {
                    let start = StartRequest { channel: Some("wechat".into()), customer: None };
                    self.start_bot_session_as(&id, start).await?;
                    self.bot_message(&id, &ask).await?
                }
                // That conversation ended after a pause: the next one.
                Err(ApiError::Invalid(f)) if f.field == "id" => continue,
                other => other?,
            };
            if let Some(t) = &reply.ticket {
                let ticket = self.ticket(&t.id.to_string()).await?;
                self.store.link_contact(ticket.customer.id, "wechat", openid, self.now()).await?;
            }
            return Ok(reply.reply);
        }
        Err(ApiError::Internal("too many conversations today".into()))
    }
}
