//! The event stream (issue 22): kefu's events published to NATS JetStream,
//! at least once and in order per ticket. One node at a time publishes
//! (under a lease), each event awaited before the next, with the event id
//! as `Nats-Msg-Id`: what a crash published twice, JetStream drops within
//! its duplicate window (and a consumer can drop by the same id after it).
//! Subjects: `{subject_prefix}.{event type}`, e.g. `kefu.ticket.created`.

use serde::Deserialize;
use std::time::Duration;

/// `[nats]` of the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsConfig {
    /// `nats://127.0.0.1:4222` (or `KEFU_NATS_URL`).
    pub url: String,
    #[serde(default = "stream")]
    pub stream: String,
    #[serde(default = "prefix")]
    pub subject_prefix: String,
    /// How long JetStream remembers an event id to drop a repeat.
    #[serde(default = "window")]
    pub duplicate_window_seconds: u64,
    /// Events read per round.
    #[serde(default = "batch")]
    pub batch: u32,
}

fn stream() -> String {
    "KEFU_EVENTS".into()
}
fn prefix() -> String {
    "kefu".into()
}
fn window() -> u64 {
    3600
}
fn batch() -> u32 {
    500
}

impl NatsConfig {
    pub fn new(url: &str) -> NatsConfig {
        NatsConfig {
            url: url.into(),
            stream: stream(),
            subject_prefix: prefix(),
            duplicate_window_seconds: window(),
            batch: batch(),
        }
    }

    /// Refuses names JetStream would refuse, at start rather than at the first event.
    pub fn check(&self) -> Result<(), String> {
        let token = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !token(&self.stream) {
            return Err(format!("[nats] stream '{}': letters, digits, - and _ only", self.stream));
        }
        if !self.subject_prefix.split('.').all(token) {
            return Err(format!("[nats] subject_prefix '{}': dot-separated names", self.subject_prefix));
        }
        if !self.url.starts_with("nats://") && !self.url.starts_with("tls://") {
            return Err(format!("[nats] url '{}': nats://host:port", self.url));
        }
        Ok(())
    }

    pub fn subject(&self, event_type: &str) -> String {
        format!("{}.{event_type}", self.subject_prefix)
    }
}

/// A connection to JetStream with the stream in place.
pub struct Publisher {
    js: async_nats::jetstream::Context,
    cfg: NatsConfig,
}

impl Publisher {
    /// Connects and creates the stream if it is not there (subjects
    /// `{prefix}.>`, the duplicate window of the config).
    pub async fn connect(cfg: &NatsConfig) -> Result<Publisher, String> {
        crate::delivery::install_tls_provider();
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .connect(cfg.url.as_str())
            .await
            .map_err(|e| format!("nats connect: {e}"))?;
        let js = async_nats::jetstream::new(client);
        js.get_or_create_stream(async_nats::jetstream::stream::Config {
            name: cfg.stream.clone(),
            subjects: vec![format!("{}.>", cfg.subject_prefix)],
            duplicate_window: Duration::from_secs(cfg.duplicate_window_seconds.max(1)),
            ..Default::default()
        })
        .await
        .map_err(|e| format!("nats stream {}: {e}", cfg.stream))?;
        Ok(Publisher { js, cfg: cfg.clone() })
    }

    /// Publishes one event and waits for JetStream to store it. Returns
    /// whether JetStream took it for a repeat.
    pub async fn publish(&self, id: &str, event_type: &str, body: String) -> Result<bool, String> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, id);
        headers.insert("Content-Type", "application/json");
        let ack = self
            .js
            .publish_with_headers(self.cfg.subject(event_type), headers, body.into_bytes().into())
            .await
            .map_err(|e| format!("nats publish: {e}"))?
            .await
            .map_err(|e| format!("nats ack: {e}"))?;
        Ok(ack.duplicate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_at_start() {
        assert!(NatsConfig::new("nats://127.0.0.1:4222").check().is_ok());
        assert_eq!(NatsConfig::new("nats://x").subject("ticket.created"), "kefu.ticket.created");
        assert!(NatsConfig { stream: "a b".into(), ..NatsConfig::new("nats://x") }.check().is_err());
        assert!(NatsConfig { subject_prefix: "kefu..x".into(), ..NatsConfig::new("nats://x") }.check().is_err());
        assert!(NatsConfig::new("http://x").check().is_err());
    }
}
