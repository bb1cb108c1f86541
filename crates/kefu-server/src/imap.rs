//! E-mail in over IMAP (RFC 9051 / 3501), the little of it kefu needs: log
//! in (implicit TLS, STARTTLS or plain on a trusted network), select the
//! mailbox, find the UIDs after the last one taken, and fetch each message
//! whole without marking it read (`BODY.PEEK[]`). A round connects, reads
//! and logs out; the poll interval is the operator's. Tested against a real
//! dovecot the test script installs.

use serde::Deserialize;
use std::io;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

/// `[imap]` of the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapConfig {
    pub host: String,
    #[serde(default = "imap_port")]
    pub port: u16,
    /// `tls` (implicit, port 993), `starttls` (required) or `none` (a trusted local server).
    #[serde(default = "tls")]
    pub tls: String,
    pub username: String,
    /// Or `KEFU_IMAP_PASSWORD`.
    pub password: Option<String>,
    #[serde(default = "inbox")]
    pub mailbox: String,
    /// How often the mailbox is read.
    #[serde(default = "thirty")]
    pub poll_seconds: u64,
    #[serde(default = "thirty")]
    pub timeout_seconds: u64,
    /// Messages taken per round at most.
    #[serde(default = "fifty")]
    pub batch: usize,
    /// kefu's own addresses: mail from them is a loop, never a request.
    #[serde(default)]
    pub own_addresses: Vec<String>,
}

fn imap_port() -> u16 {
    993
}
fn tls() -> String {
    "tls".into()
}
fn inbox() -> String {
    "INBOX".into()
}
fn thirty() -> u64 {
    30
}
fn fifty() -> usize {
    50
}

impl ImapConfig {
    /// The cursor's name: one per account and mailbox.
    pub fn source(&self) -> String {
        format!("imap:{}@{}:{}/{}", self.username, self.host, self.port, self.mailbox)
    }

    pub fn check(&self) -> Result<(), String> {
        if !matches!(self.tls.as_str(), "tls" | "starttls" | "none") {
            return Err(format!("imap.tls: '{}' is not tls, starttls or none", self.tls));
        }
        Ok(())
    }
}

/// What a round found: the mailbox's UID validity and the messages after
/// the cursor, oldest first.
#[derive(Debug, Default)]
pub struct Fetched {
    pub validity: i64,
    pub messages: Vec<(i64, Vec<u8>)>,
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One response: its text (a literal's place marked `{n}`) and literals.
struct Response {
    text: String,
    literals: Vec<Vec<u8>>,
}

struct Session {
    io: BufReader<Box<dyn Io>>,
    next_tag: u32,
}

fn bad(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// A quoted string (RFC 9051 `quoted`): backslash and quote escaped;
/// line breaks cannot be sent quoted and are refused.
fn quoted(s: &str) -> io::Result<String> {
    if s.contains(['\r', '\n']) {
        return Err(bad("a line break cannot be sent to the IMAP server"));
    }
    Ok(format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")))
}

async fn tls_wrap(stream: Box<dyn Io>, host: &str) -> io::Result<Box<dyn Io>> {
    crate::delivery::install_tls_provider();
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let config = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|e| bad(e.to_string()))?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, stream).await?;
    Ok(Box::new(tls))
}

impl Session {
    async fn open(cfg: &ImapConfig) -> io::Result<Session> {
        let tcp = tokio::net::TcpStream::connect((cfg.host.as_str(), cfg.port)).await?;
        let mut stream: Box<dyn Io> = Box::new(tcp);
        if cfg.tls == "tls" {
            stream = tls_wrap(stream, &cfg.host).await?;
        }
        let mut s = Session { io: BufReader::new(stream), next_tag: 1 };
        let greeting = s.read_response().await?;
        if !greeting.text.starts_with("* OK") && !greeting.text.starts_with("* PREAUTH") {
            return Err(bad(format!("IMAP greeting: {}", clip(&greeting.text))));
        }
        if cfg.tls == "starttls" {
            s.command("STARTTLS").await?;
            let inner = s.io.into_inner();
            s = Session { io: BufReader::new(tls_wrap(inner, &cfg.host).await?), next_tag: s.next_tag };
        }
        let password = std::env::var("KEFU_IMAP_PASSWORD").ok().or_else(|| cfg.password.clone()).unwrap_or_default();
        s.command(&format!("LOGIN {} {}", quoted(&cfg.username)?, quoted(&password)?)).await?;
        Ok(s)
    }

    /// Reads one response, literals included (`{n}` at a line's end: n bytes follow).
    async fn read_response(&mut self) -> io::Result<Response> {
        let mut text = String::new();
        let mut literals = Vec::new();
        loop {
            let mut line = Vec::new();
            let n = self.io.read_until(b'\n', &mut line).await?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the IMAP server closed the connection"));
            }
            let line = String::from_utf8_lossy(&line).trim_end_matches(['\r', '\n']).to_string();
            let literal = line
                .strip_suffix('}')
                .and_then(|l| l.rsplit_once('{'))
                .and_then(|(_, n)| n.trim_end_matches('+').parse::<usize>().ok());
            text.push_str(&line);
            match literal {
                Some(size) => {
                    let mut bytes = vec![0u8; size];
                    self.io.read_exact(&mut bytes).await?;
                    literals.push(bytes);
                }
                None => return Ok(Response { text, literals }),
            }
        }
    }

    /// Sends a command; its untagged responses, or the server's refusal.
    async fn command(&mut self, cmd: &str) -> io::Result<Vec<Response>> {
        let tag = format!("k{}", self.next_tag);
        self.next_tag += 1;
        self.io.get_mut().write_all(format!("{tag} {cmd}\r\n").as_bytes()).await?;
        self.io.get_mut().flush().await?;
        let mut untagged = Vec::new();
        loop {
            let r = self.read_response().await?;
            if let Some(rest) = r.text.strip_prefix(&format!("{tag} ")) {
                if rest.starts_with("OK") {
                    return Ok(untagged);
                }
                let verb = cmd.split(' ').next().unwrap_or_default();
                return Err(bad(format!("IMAP {verb}: {}", clip(rest))));
            }
            untagged.push(r);
        }
    }
}

fn clip(s: &str) -> String {
    s.chars().take(200).collect()
}

/// The number after `key` in a response (`[UIDVALIDITY 3]`, `UID 17`).
fn number_after(text: &str, key: &str) -> Option<i64> {
    let at = text.find(key)? + key.len();
    text[at..].trim_start().split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// Reads the messages after `after` (UID validity, last UID): all of them
/// when the validity changed (the mailbox was rebuilt), at most `batch`.
pub async fn fetch(cfg: &ImapConfig, after: Option<(i64, i64)>) -> io::Result<Fetched> {
    let limit = std::time::Duration::from_secs(cfg.timeout_seconds.max(1));
    tokio::time::timeout(limit * 4, fetch_inner(cfg, after))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the IMAP round took too long"))?
}

async fn fetch_inner(cfg: &ImapConfig, after: Option<(i64, i64)>) -> io::Result<Fetched> {
    let mut s = Session::open(cfg).await?;
    let selected = s.command(&format!("SELECT {}", quoted(&cfg.mailbox)?)).await?;
    let validity = selected
        .iter()
        .find_map(|r| number_after(&r.text, "[UIDVALIDITY"))
        .ok_or_else(|| bad("the server named no UIDVALIDITY"))?;
    let last = after.filter(|(v, _)| *v == validity).map_or(0, |(_, uid)| uid);
    let found = s.command(&format!("UID SEARCH UID {}:*", last + 1)).await?;
    // `n:*` includes the last message even when its UID is below n.
    let mut uids: Vec<i64> = found
        .iter()
        .filter_map(|r| r.text.strip_prefix("* SEARCH"))
        .flat_map(|rest| rest.split_whitespace().filter_map(|u| u.parse().ok()))
        .filter(|u| *u > last)
        .collect();
    uids.sort_unstable();
    uids.truncate(cfg.batch.max(1));
    let mut messages = Vec::with_capacity(uids.len());
    for uid in uids {
        let got = s.command(&format!("UID FETCH {uid} (UID BODY.PEEK[])")).await?;
        let body = got
            .into_iter()
            .find(|r| r.text.contains("FETCH") && number_after(&r.text, "UID") == Some(uid))
            .and_then(|r| r.literals.into_iter().next());
        match body {
            Some(b) => messages.push((uid, b)),
            // Deleted meanwhile: nothing to take, the cursor moves past it.
            None => messages.push((uid, Vec::new())),
        }
    }
    let _ = s.command("LOGOUT").await;
    Ok(Fetched { validity, messages })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_quoted_and_numbers_found() {
        assert_eq!(quoted(r#"pa"ss\word"#).unwrap(), r#""pa\"ss\\word""#);
        assert!(quoted("a\r\nb LOGOUT").is_err());
        assert_eq!(number_after("* OK [UIDVALIDITY 1764000000] UIDs valid", "[UIDVALIDITY"), Some(1_764_000_000));
        assert_eq!(number_after("* 3 FETCH (UID 17 BODY[] {12}", "UID"), Some(17));
        assert_eq!(number_after("* OK", "[UIDVALIDITY"), None);
    }
}
