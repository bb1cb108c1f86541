//! An e-mail as kefu reads it: MIME taken apart by mail-parser (multipart,
//! quoted-printable and base64, GB2312/GBK/GB18030 and UTF-8 in bodies and
//! headers, HTML-only mail turned into text), reduced to what a request
//! needs: who wrote, what about, the new text, the threading headers, the
//! files, and whether a machine sent it.

use crate::service::attachments::Incoming;
use mail_parser::{HeaderValue, MessageParser, MimeHeaders};

/// An incoming mail, read.
#[derive(Debug, Clone)]
pub struct Mail {
    pub message_id: Option<String>,
    pub from: String,
    pub name: Option<String>,
    pub subject: String,
    /// The text (HTML turned into text when there is no plain part).
    pub text: String,
    /// In-Reply-To and References, in order.
    pub references: Vec<String>,
    /// Why no one is to answer it: an auto-reply, a bounce, a loop.
    pub automatic: Option<&'static str>,
    pub files: Vec<Incoming>,
}

fn texts(v: &HeaderValue) -> Vec<String> {
    v.as_text_list().map(|l| l.iter().map(|s| s.to_string()).collect()).unwrap_or_default()
}

/// Reads a raw message; None when it has no sender address (nothing to answer).
pub fn read(raw: &[u8], own: &[&str]) -> Option<Mail> {
    let m = MessageParser::default().parse(raw)?;
    let sender = m.from().and_then(|a| a.first());
    let from = sender.and_then(|a| a.address()).map(|a| a.trim().to_string()).filter(|a| a.contains('@'))?;
    let name = sender.and_then(|a| a.name()).map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    let header = |name: &str| m.header(name).and_then(|h| h.as_text()).map(str::to_string);
    let (auto_submitted, precedence) = (header("Auto-Submitted"), header("Precedence"));
    let content_type = m.content_type().map(|c| match c.subtype() {
        Some(sub) => format!("{}/{sub}", c.ctype()),
        None => c.ctype().to_string(),
    });
    let return_path = m.header("Return-Path").map(|h| h.as_text().unwrap_or_default().trim().to_string());
    let marks = kefu_domain::inbound::MailMarks {
        auto_submitted: auto_submitted.as_deref(),
        precedence: precedence.as_deref(),
        autoreply_header: ["X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"]
            .iter()
            .any(|h| m.header(*h).is_some()),
        content_type: content_type.as_deref(),
        from: &from,
        null_return_path: return_path.as_deref().is_some_and(|r| r.is_empty() || r == "<>"),
    };
    let automatic = kefu_domain::inbound::automatic(&marks, own);
    let mut references = texts(m.in_reply_to());
    references.extend(texts(m.references()));
    let files = m
        .attachments()
        .map(|part| Incoming {
            filename: part.attachment_name().unwrap_or("附件").to_string(),
            bytes: part.contents().to_vec(),
        })
        .collect();
    Some(Mail {
        message_id: m.message_id().map(str::to_string),
        from,
        name,
        subject: m.subject().unwrap_or_default().trim().to_string(),
        text: m.body_text(0).map(|t| t.trim().to_string()).unwrap_or_default(),
        references,
        automatic,
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GBK in the headers (encoded words) and in an HTML-only body, and a
    /// base64 JPEG with a GBK name.
    #[test]
    fn a_gbk_mail_is_read() {
        let raw = b"From: =?GBK?B?1cXI/Q==?= <zhangsan@example.com>\r\nTo: kefu@example.com\r\n\
Subject: =?GBK?B?v+20+LbPzfg=?=\r\nMessage-ID: <abc@example.com>\r\nIn-Reply-To: <kefu-t1-m2@kefu.example.com>\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
Content-Type: text/html; charset=gbk\r\nContent-Transfer-Encoding: base64\r\n\r\nPHA+v+20+LbPzfg8L3A+\r\n--b\r\n\
Content-Type: image/jpeg\r\nContent-Disposition: attachment; filename=\"=?GBK?B?1dXGrA==?=.jpg\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n/9j/4AAQSkZJRgABAQ==\r\n--b--\r\n";
        let m = read(raw, &["kefu@example.com"]).unwrap();
        assert_eq!((m.from.as_str(), m.name.as_deref()), ("zhangsan@example.com", Some("张三")));
        assert_eq!(m.subject, "宽带断网");
        assert_eq!(m.text, "宽带断网");
        assert_eq!(m.references, vec!["kefu-t1-m2@kefu.example.com".to_string()]);
        assert_eq!((m.files[0].filename.as_str(), &m.files[0].bytes[..3]), ("照片.jpg", &[0xFF, 0xD8, 0xFF][..]));
        assert_eq!(m.automatic, None);
    }

    #[test]
    fn machines_and_nameless_mail_are_told() {
        let auto = b"From: a@example.com\r\nAuto-Submitted: auto-replied\r\nSubject: Out of office\r\n\r\nAway";
        assert_eq!(read(auto, &[]).unwrap().automatic, Some("auto_submitted"));
        let loop_ = b"From: KEFU@example.com\r\nSubject: x\r\n\r\ny";
        assert_eq!(read(loop_, &["kefu@example.com"]).unwrap().automatic, Some("loop"));
        assert!(read(b"Subject: nobody\r\n\r\ntext", &[]).is_none());
        assert!(read(b"", &[]).is_none());
    }
}
