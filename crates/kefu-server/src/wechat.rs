//! The WeChat official account (微信公众号) as the platform documents it:
//! the server callback's signature (SHA-1 of token, timestamp and nonce,
//! sorted), messages in XML, plain or safe mode (AES-256-CBC with the
//! EncodingAESKey, the app id at the end of each message, `msg_signature`),
//! the passive reply to a message, and the customer-service message API
//! (`cgi-bin/message/custom/send` with an access token kept until it
//! expires) through which kefu answers later — an outbox channel like SMS.

use crate::delivery::{SendError, SendFuture, Transport};
use aes::cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use kefu_store::Message;
use serde::Deserialize;
use serde_json::{Value, json};
use sha1::Digest;
use std::sync::Mutex;

/// `[delivery.wechat]` of the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WechatConfig {
    /// The token set on the platform for the server callback.
    pub token: String,
    pub appid: String,
    /// Or `KEFU_WECHAT_SECRET`.
    pub secret: Option<String>,
    /// 43 characters: safe mode (消息加解密); without it only plain mode is taken.
    pub encoding_aes_key: Option<String>,
    #[serde(default = "api_url")]
    pub api_url: String,
    #[serde(default = "ten")]
    pub timeout_seconds: u64,
}

fn api_url() -> String {
    "https://api.weixin.qq.com".into()
}
fn ten() -> u64 {
    10
}

/// The platform's signature: SHA-1 of the parts sorted and joined.
pub fn signature(parts: &[&str]) -> String {
    let mut sorted: Vec<&str> = parts.to_vec();
    sorted.sort_unstable();
    crate::auth::hex(&sha1::Sha1::digest(sorted.concat().as_bytes()))
}

/// Safe mode: the key from the EncodingAESKey, the IV its first 16 bytes,
/// PKCS#7 padding to 32 bytes (as the platform pads), the message framed as
/// random(16) ‖ length(4, big-endian) ‖ message ‖ app id.
pub struct Crypt {
    key: [u8; 32],
    appid: String,
}

impl Crypt {
    pub fn new(encoding_aes_key: &str, appid: &str) -> Result<Crypt, String> {
        // The platform's keys are 43 random characters: their last one may
        // carry bits past the 32 bytes, which its own decoders ignore.
        let lenient = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
        );
        let raw =
            lenient.decode(format!("{}=", encoding_aes_key.trim())).map_err(|e| format!("encoding_aes_key: {e}"))?;
        let key: [u8; 32] =
            raw.try_into().map_err(|_| "encoding_aes_key must be 43 characters (32 bytes)".to_string())?;
        Ok(Crypt { key, appid: appid.to_string() })
    }

    pub fn encrypt(&self, xml: &str) -> String {
        let mut plain = Vec::with_capacity(xml.len() + 64);
        let mut random = [0u8; 16];
        getrandom::fill(&mut random).expect("the operating system's random source");
        plain.extend(random);
        plain.extend((xml.len() as u32).to_be_bytes());
        plain.extend(xml.as_bytes());
        plain.extend(self.appid.as_bytes());
        let pad = 32 - plain.len() % 32;
        plain.extend(std::iter::repeat_n(pad as u8, pad));
        let cipher = aes::Aes256::new_from_slice(&self.key).expect("32-byte key");
        let mut prev: [u8; 16] = self.key[..16].try_into().expect("16 bytes");
        for chunk in plain.chunks_mut(16) {
            for (b, p) in chunk.iter_mut().zip(prev) {
                *b ^= p;
            }
            let mut block = aes::Block::try_from(&*chunk).expect("16 bytes");
            cipher.encrypt_block(&mut block);
            chunk.copy_from_slice(&block);
            prev.copy_from_slice(chunk);
        }
        B64.encode(plain)
    }

    /// The message inside, if it decrypts, is framed right and names our app.
    pub fn decrypt(&self, b64: &str) -> Result<String, String> {
        let mut data = B64.decode(b64.trim()).map_err(|_| "not base64".to_string())?;
        if data.is_empty() || data.len() % 16 != 0 {
            return Err("not whole AES blocks".into());
        }
        let cipher = aes::Aes256::new_from_slice(&self.key).expect("32-byte key");
        let mut prev: [u8; 16] = self.key[..16].try_into().expect("16 bytes");
        for chunk in data.chunks_mut(16) {
            let sealed: [u8; 16] = (&*chunk).try_into().expect("16 bytes");
            let mut block = aes::Block::try_from(&*chunk).expect("16 bytes");
            cipher.decrypt_block(&mut block);
            chunk.copy_from_slice(&block);
            for (b, p) in chunk.iter_mut().zip(prev) {
                *b ^= p;
            }
            prev = sealed;
        }
        let pad = usize::from(*data.last().expect("not empty"));
        if !(1..=32).contains(&pad) || pad > data.len() {
            return Err("bad padding".into());
        }
        data.truncate(data.len() - pad);
        let len = data.get(16..20).map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")) as usize);
        let Some(len) = len.filter(|l| 20 + l <= data.len()) else { return Err("bad length".into()) };
        if &data[20 + len..] != self.appid.as_bytes() {
            return Err("another app's message".into());
        }
        String::from_utf8(data[20..20 + len].to_vec()).map_err(|_| "not UTF-8".into())
    }
}

/// The text of `<tag>` in a platform XML message (CDATA or escaped text),
/// or None. The platform's messages are flat: no nesting to follow.
pub fn field(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    let inner = xml[start..end].trim();
    Some(match inner.strip_prefix("<![CDATA[").and_then(|s| s.strip_suffix("]]>")) {
        Some(cdata) => cdata.to_string(),
        None => inner
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    })
}

fn cdata(s: &str) -> String {
    // `]]>` cannot appear inside CDATA: split it across two sections.
    format!("<![CDATA[{}]]>", s.replace("]]>", "]]]]><![CDATA[>"))
}

/// A passive text reply to `to` (the customer's openid) from the account `from`.
pub fn text_reply(to: &str, from: &str, content: &str, now: i64) -> String {
    format!(
        "<xml><ToUserName>{}</ToUserName><FromUserName>{}</FromUserName><CreateTime>{now}</CreateTime>\
         <MsgType><![CDATA[text]]></MsgType><Content>{}</Content></xml>",
        cdata(to),
        cdata(from),
        cdata(content)
    )
}

/// A passive reply in safe mode: the XML encrypted, signed with `msg_signature`.
pub fn encrypted_reply(crypt: &Crypt, token: &str, xml: &str, timestamp: &str, nonce: &str) -> String {
    let encrypted = crypt.encrypt(xml);
    let sig = signature(&[token, timestamp, nonce, &encrypted]);
    format!(
        "<xml><Encrypt>{}</Encrypt><MsgSignature>{}</MsgSignature><TimeStamp>{timestamp}</TimeStamp><Nonce>{}</Nonce></xml>",
        cdata(&encrypted),
        cdata(&sig),
        cdata(nonce)
    )
}

/// The customer-service message API as an outbox channel: the recipient is
/// the customer's openid, the text the message's body.
pub struct WechatTransport {
    cfg: WechatConfig,
    client: reqwest::Client,
    token: Mutex<Option<(String, std::time::Instant)>>,
}

impl WechatTransport {
    pub fn new(cfg: &WechatConfig) -> Result<WechatTransport, String> {
        crate::delivery::install_tls_provider();
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(cfg.timeout_seconds))
            .build()
            .map_err(|e| format!("wechat client: {e}"))?;
        Ok(WechatTransport { cfg: cfg.clone(), client, token: Mutex::new(None) })
    }

    fn base(&self) -> &str {
        self.cfg.api_url.trim_end_matches('/')
    }

    /// The access token, fetched when missing or about to expire.
    async fn access_token(&self, fresh: bool) -> Result<String, SendError> {
        let transient = |message: String| SendError { permanent: false, message };
        if !fresh
            && let Some((t, until)) = self.token.lock().unwrap_or_else(|e| e.into_inner()).clone()
            && until > std::time::Instant::now()
        {
            return Ok(t);
        }
        let secret = std::env::var("KEFU_WECHAT_SECRET").ok().or_else(|| self.cfg.secret.clone()).unwrap_or_default();
        let query =
            [("grant_type", "client_credential"), ("appid", self.cfg.appid.as_str()), ("secret", secret.as_str())];
        let query = serde_urlencoded::to_string(query).unwrap_or_default();
        let got: Value = self
            .client
            .get(format!("{}/cgi-bin/token?{query}", self.base()))
            .send()
            .await
            .map_err(|e| transient(format!("wechat token: {e}")))?
            .json()
            .await
            .map_err(|e| transient(format!("wechat token: {e}")))?;
        let token = got["access_token"].as_str().ok_or_else(|| transient(format!("wechat token: {got}")))?.to_string();
        // Kept a minute less than the platform says, so it never expires in flight.
        let secs = got["expires_in"].as_u64().unwrap_or(7200).saturating_sub(60);
        let until = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        *self.token.lock().unwrap_or_else(|e| e.into_inner()) = Some((token.clone(), until));
        Ok(token)
    }

    /// A customer's picture or recording by its media id (`cgi-bin/media/get`).
    pub async fn media(&self, media_id: &str) -> Result<Vec<u8>, SendError> {
        let token = self.access_token(false).await?;
        let query =
            serde_urlencoded::to_string([("access_token", token.as_str()), ("media_id", media_id)]).unwrap_or_default();
        let resp = self.client.get(format!("{}/cgi-bin/media/get?{query}", self.base())).send().await;
        let resp = resp.map_err(|e| SendError { permanent: false, message: format!("wechat media: {e}") })?;
        let json = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|t| t.contains("json"));
        let bytes = resp.bytes().await.map_err(|e| SendError { permanent: false, message: e.to_string() })?;
        if json {
            return Err(SendError {
                permanent: true,
                message: format!("wechat media: {}", String::from_utf8_lossy(&bytes)),
            });
        }
        Ok(bytes.to_vec())
    }

    async fn send_once(&self, m: &Message, fresh: bool) -> Result<Value, SendError> {
        let token = self.access_token(fresh).await?;
        let body = json!({"touser": m.recipient, "msgtype": "text", "text": {"content": m.body}});
        let query = serde_urlencoded::to_string([("access_token", token)]).unwrap_or_default();
        let url = format!("{}/cgi-bin/message/custom/send?{query}", self.base());
        let resp = self.client.post(url).json(&body).send().await;
        let resp = resp.map_err(|e| SendError { permanent: false, message: format!("wechat: {e}") })?;
        resp.json().await.map_err(|e| SendError { permanent: false, message: format!("wechat: {e}") })
    }
}

impl Transport for WechatTransport {
    fn send<'a>(&'a self, m: &'a Message) -> SendFuture<'a> {
        Box::pin(async move {
            let mut got = self.send_once(m, false).await?;
            // 40001/42001: the token was revoked or expired early: once more with a new one.
            if matches!(got["errcode"].as_i64(), Some(40001 | 42001)) {
                got = self.send_once(m, true).await?;
            }
            match got["errcode"].as_i64().unwrap_or(0) {
                0 => Ok(got["msgid"].as_i64().map(|id| id.to_string())),
                45015 => Err(SendError {
                    permanent: true,
                    message: "客户超过48小时未与公众号互动，无法发送客服消息 (45015)".into(),
                }),
                code @ (45047 | -1) => Err(SendError { permanent: false, message: format!("wechat busy ({code})") }),
                code => Err(SendError { permanent: true, message: format!("wechat {code}: {}", got["errmsg"]) }),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The platform's documented example: token, timestamp and nonce.
    #[test]
    fn signatures_are_the_platforms() {
        let s = signature(&["kefu", "1409304348", "xxxxxx"]);
        let mut parts = ["kefu", "1409304348", "xxxxxx"];
        parts.sort_unstable();
        assert_eq!(s, crate::auth::hex(&sha1::Sha1::digest(parts.concat().as_bytes())));
        assert_eq!(signature(&["b", "a"]), signature(&["a", "b"]), "order does not matter");
        assert_eq!(s.len(), 40);
    }

    #[test]
    fn safe_mode_round_trips_and_refuses_another_app() {
        let key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
        let c = Crypt::new(key, "wx1234567890abcd").unwrap();
        for xml in ["", "<xml><Content><![CDATA[你好]]></Content></xml>", &"长".repeat(100)] {
            assert_eq!(c.decrypt(&c.encrypt(xml)).unwrap(), xml);
        }
        let other = Crypt::new(key, "wxffffffffffffffff").unwrap();
        assert!(other.decrypt(&c.encrypt("<xml/>")).is_err());
        assert!(c.decrypt("not base64!").is_err());
        assert!(c.decrypt(&B64.encode([0u8; 15])).is_err());
        assert!(Crypt::new("short", "wx").is_err());
    }

    #[test]
    fn fields_are_read_from_cdata_or_text() {
        let xml = "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><CreateTime>1348831860</CreateTime>\
                   <Content><![CDATA[a <b> & c]]></Content><Title>x &amp; y</Title></xml>";
        assert_eq!(field(xml, "ToUserName").as_deref(), Some("gh_1"));
        assert_eq!(field(xml, "CreateTime").as_deref(), Some("1348831860"));
        assert_eq!(field(xml, "Content").as_deref(), Some("a <b> & c"));
        assert_eq!(field(xml, "Title").as_deref(), Some("x & y"));
        assert_eq!(field(xml, "MsgId"), None);
        let reply = text_reply("o1", "gh_1", "含]]>的文本", 1);
        assert_eq!(field(&reply, "Content").as_deref(), Some("含]]]]><![CDATA[>的文本"), "split, read raw");
    }
}
