//! Outgoing webhooks by the Standard Webhooks specification
//! (standardwebhooks.com): each request carries `webhook-id` (the event id,
//! the receiver's deduplication key), `webhook-timestamp` (Unix seconds)
//! and `webhook-signature` (`v1,` + base64 HMAC-SHA256 over
//! `{id}.{timestamp}.{body}` with the endpoint's secret, `whsec_` + base64).
//! The TMF621 hub's callbacks are signed the same way.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit, Mac};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

const PREFIX: &str = "whsec_";

/// A new endpoint secret: 24 random bytes.
pub fn new_secret() -> Result<String, String> {
    let mut key = [0u8; 24];
    getrandom::fill(&mut key).map_err(|e| format!("no randomness: {e}"))?;
    Ok(format!("{PREFIX}{}", STANDARD.encode(key)))
}

fn key(secret: &str) -> Result<Vec<u8>, String> {
    STANDARD.decode(secret.strip_prefix(PREFIX).unwrap_or(secret)).map_err(|_| "the secret is not base64".to_string())
}

/// The `webhook-signature` value of a message.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Result<String, String> {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&key(secret)?).map_err(|e| e.to_string())?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Ok(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
}

/// What a receiver checks: one of the space-separated signatures matches
/// and the timestamp is within `tolerance` seconds of `now` (no replays).
pub fn verify(secret: &str, id: &str, timestamp: i64, signatures: &str, body: &str, now: i64, tolerance: i64) -> bool {
    if (now - timestamp).abs() > tolerance {
        return false;
    }
    let Ok(expected) = sign(secret, id, timestamp, body) else { return false };
    // Compared as MACs, in constant time.
    let Some(want) = expected.strip_prefix("v1,").and_then(|s| STANDARD.decode(s).ok()) else { return false };
    signatures.split(' ').filter_map(|s| s.strip_prefix("v1,")).filter_map(|s| STANDARD.decode(s).ok()).any(|got| {
        let Ok(mut mac) = <HmacSha256 as KeyInit>::new_from_slice(&key(secret).unwrap_or_default()) else {
            return false;
        };
        mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
        got.len() == want.len() && mac.verify_slice(&got).is_ok()
    })
}

/// Sends signed messages; redirects are not followed (a receiver moves by
/// having its endpoint changed, not by sending events elsewhere).
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
}

/// Why a try failed: the receiver's status if it answered, and what happened.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub status: Option<u16>,
    pub error: String,
}

impl Sender {
    pub fn new(timeout_seconds: u32) -> Result<Sender, String> {
        crate::delivery::install_tls_provider();
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(u64::from(timeout_seconds.max(1))))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("kefu-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("webhook client: {e}"))?;
        Ok(Sender { client })
    }

    /// Posts one message; a 2xx answer is delivered, anything else a failure.
    pub async fn post(&self, url: &str, secret: &str, id: &str, timestamp: i64, body: &str) -> Result<u16, Failure> {
        let signature = sign(secret, id, timestamp, body).map_err(|error| Failure { status: None, error })?;
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_string())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => Ok(r.status().as_u16()),
            Ok(r) => {
                let status = r.status();
                Err(Failure { status: Some(status.as_u16()), error: format!("answered {status}") })
            }
            Err(e) => Err(Failure { status: None, error: without_url(&e) }),
        }
    }
}

/// reqwest's message names the URL, which may carry a token in its query.
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    kind.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference libraries.
    #[test]
    fn signatures_match_the_specification_example() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let (id, ts, body) = ("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, r#"{"test": 2432232314}"#);
        assert_eq!(sign(secret, id, ts, body).unwrap(), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let sig = sign(secret, id, ts, body).unwrap();
        assert!(verify(secret, id, ts, &format!("v1,bm90IGl0 {sig}"), body, ts + 10, 300));
        assert!(!verify(secret, id, ts, &sig, body, ts + 301, 300), "too old");
        assert!(!verify(secret, id, ts, &sig, r#"{"test": 2432232315}"#, ts, 300), "altered body");
        assert!(!verify("whsec_b3RoZXI=", id, ts, &sig, body, ts, 300), "other secret");
        let fresh = new_secret().unwrap();
        assert!(fresh.starts_with("whsec_") && key(&fresh).unwrap().len() == 24);
    }
}
