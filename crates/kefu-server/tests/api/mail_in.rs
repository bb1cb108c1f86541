//! E-mail in and out of the same thread, against a real
//! IMAP server (dovecot, started here) and a real SMTP server (aiosmtpd):
//! a GBK mail with a Chinese subject and a JPEG becomes a ticket with the
//! photo readable; the receipt and the agent's reply go back by e-mail in
//! the customer's thread; the customer's answer threads onto the ticket;
//! an auto-reply is passed over; a stranger is asked for their number and
//! their answer registers the request; a mail read twice (a node killed
//! before its cursor moved) is taken once.

use crate::common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

struct Mailroom {
    app: TestApp,
    imap: ImapServer,
    smtp: SmtpSink,
}

async fn start(backend: Backend) -> Mailroom {
    let imap = ImapServer::start();
    let smtp = SmtpSink::start().await;
    let delivery: DeliveryConfig = toml::from_str(&format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"客服中心 <kefu@example.com>\"",
        smtp.port
    ))
    .unwrap();
    let mut policy = manual_dispatch();
    policy.dispatch.on_create = false;
    let app =
        spawn_app_channels(backend, policy, delivery, Default::default(), Default::default(), Some(imap.config()))
            .await;
    Mailroom { app, imap, smtp }
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A small JPEG (SOI, APP0 JFIF) for the attachment.
fn jpeg() -> Vec<u8> {
    let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01];
    b.extend((0..4_000u32).map(|i| (i * 7 % 251) as u8));
    b
}

/// A mail as a Chinese mail program sends it: GBK subject (encoded word),
/// GBK body in base64, a JPEG with a GBK name.
fn gbk_mail(message_id: &str) -> Vec<u8> {
    let gbk = |s: &str| -> Vec<u8> {
        // The GBK bytes of the few texts used here, checked against Python's codec.
        match s {
            "张三" => vec![0xD5, 0xC5, 0xC8, 0xFD],
            "宽带断网" => vec![0xBF, 0xED, 0xB4, 0xF8, 0xB6, 0xCF, 0xCD, 0xF8],
            "照片" => vec![0xD5, 0xD5, 0xC6, 0xAC],
            other => panic!("no GBK bytes for {other}"),
        }
    };
    let mut body = b"\xbc\xd2\xc0\xef\xbf\xed\xb4\xf8\xc1\xbd\xcc\xec\xc3\xbb\xcd\xf8\xa3\xac\xc1\xaa\xcf\xb5\xb5\xe7\xbb\xb0 13912345678".to_vec();
    body.extend(b"\r\n");
    format!(
        "From: =?GBK?B?{}?= <zhangsan@example.com>\r\nTo: kefu@example.com\r\nSubject: =?GBK?B?{}?=\r\n\
         Message-ID: <{message_id}>\r\nDate: Sun, 22 Nov 2026 09:30:00 +0800\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"=_b\"\r\n\r\n--=_b\r\nContent-Type: text/plain; charset=GBK\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--=_b\r\nContent-Type: image/jpeg\r\n\
         Content-Disposition: attachment; filename=\"=?GBK?B?{}?=.jpg\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--=_b--\r\n",
        b64(&gbk("张三")),
        b64(&gbk("宽带断网")),
        b64(&body),
        b64(&gbk("照片")),
        b64(&jpeg()),
    )
    .into_bytes()
}

fn utf8_mail(
    from: &str,
    subject: &str,
    message_id: &str,
    in_reply_to: Option<&str>,
    extra: &str,
    text: &str,
) -> Vec<u8> {
    let reply = in_reply_to.map_or(String::new(), |r| format!("In-Reply-To: {r}\r\nReferences: {r}\r\n"));
    format!(
        "From: {from}\r\nTo: kefu@example.com\r\nSubject: =?UTF-8?B?{}?=\r\nMessage-ID: <{message_id}>\r\n{reply}{extra}\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
        b64(subject.as_bytes()),
        b64(text.as_bytes())
    )
    .into_bytes()
}

async fn mails_to(m: &Mailroom, to: &str) -> Vec<Value> {
    (m.app.loop_jobs)().await;
    m.smtp.mails().into_iter().filter(|x| x["to"].as_str().unwrap_or("").contains(to)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_threads_on_sqlite() {
    a_mail_becomes_a_ticket_and_the_thread_stays_whole(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_threads_on_postgres() {
    a_mail_becomes_a_ticket_and_the_thread_stays_whole(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_on_sqlite() {
    a_stranger_is_asked_and_machines_are_passed_over(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_on_postgres() {
    a_stranger_is_asked_and_machines_are_passed_over(Backend::Postgres).await;
}

async fn a_mail_becomes_a_ticket_and_the_thread_stays_whole(backend: Backend) {
    let m = start(backend).await;
    let app = &m.app;
    m.imap.deliver("1.mail", &gbk_mail("first@mua.example.com"));
    assert_eq!((app.mail)().await, 1);
    let (_, list) = app.get("supervisor1", "/api/v1/tickets?channel=email").await;
    assert_eq!(list["total"], 1, "{list}");
    let t = list["items"][0].clone();
    let number = t["number"].as_str().unwrap().to_string();
    assert_eq!(t["title"], "【邮件】宽带断网", "{t}");
    assert!(t["description"].as_str().unwrap().contains("家里宽带两天没网"), "{t}");
    assert_eq!(t["customer"]["name"], "张三");
    let (_, files) = app.get("supervisor1", &format!("/api/v1/tickets/{number}/attachments")).await;
    let photo = &files["items"][0];
    assert_eq!(
        (photo["filename"].as_str(), photo["content_type"].as_str()),
        (Some("照片.jpg"), Some("image/jpeg")),
        "{files}"
    );
    let r = app
        .client
        .get(format!("{}/api/v1/attachments/{}", app.base, photo["id"].as_str().unwrap()))
        .bearer_auth(&app.tokens["supervisor1"])
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().to_vec(), jpeg(), "the photo reads back");

    // The receipt goes back by e-mail, in the customer's thread.
    let sent = mails_to(&m, "zhangsan@example.com").await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0]["subject"].as_str().unwrap().contains(&number), "{sent:?}");
    assert_eq!(sent[0]["in_reply_to"], "<first@mua.example.com>");
    let receipt_id = sent[0]["message_id"].as_str().unwrap().to_string();
    assert!(receipt_id.starts_with(&format!("<kefu-t{}-m", t["id"])), "{receipt_id}");

    // The agent answers; the answer goes by e-mail too.
    let (s, b) = app.act("supervisor1", &t["id"], json!({"action": "dispatch", "assignee": "engineer1"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = app
        .post(
            "engineer1",
            &format!("/api/v1/tickets/{number}/comments"),
            json!({"body": "明天上午上门检修", "internal": false}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let sent = mails_to(&m, "zhangsan@example.com").await;
    assert_eq!(sent.len(), 2);
    assert!(
        sent.iter().any(|x| x["body"].as_str().unwrap().contains("明天上午上门检修")
            && x["in_reply_to"] == "<first@mua.example.com>"),
        "{sent:?}"
    );

    // The customer's answer to the receipt: on the ticket, the quote left out.
    let answer = "好的，明天家里有人。\r\n\r\n在 2026年11月22日 10:00，客服中心 <kefu@example.com> 写道：\r\n> 您的故障报修已受理";
    m.imap.deliver(
        "2.mail",
        &utf8_mail(
            "张三 <ZhangSan@example.com>",
            "Re: 受理回执",
            "second@mua.example.com",
            Some(&receipt_id),
            "",
            answer,
        ),
    );
    assert_eq!((app.mail)().await, 1);
    let (_, comments) = app.get("engineer1", &format!("/api/v1/tickets/{number}/comments")).await;
    let last = comments.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["body"].as_str(), last["channel"].as_str()),
        (Some("好的，明天家里有人。"), Some("email")),
        "{comments}"
    );

    // The same mail read again (a node killed before its cursor moved): taken once.
    m.imap.deliver(
        "3.mail",
        &utf8_mail(
            "张三 <ZhangSan@example.com>",
            "Re: 受理回执",
            "second@mua.example.com",
            Some(&receipt_id),
            "",
            answer,
        ),
    );
    m.imap.deliver("4.mail", &gbk_mail("first@mua.example.com"));
    assert_eq!((app.mail)().await, 2);
    let (_, again) = app.get("engineer1", &format!("/api/v1/tickets/{number}/comments")).await;
    assert_eq!(again.as_array().unwrap().len(), comments.as_array().unwrap().len(), "no second note");
    let (_, list) = app.get("supervisor1", "/api/v1/tickets?channel=email").await;
    assert_eq!(list["total"], 1, "no second ticket");
    assert_eq!((app.mail)().await, 0, "nothing new");
}

async fn a_stranger_is_asked_and_machines_are_passed_over(backend: Backend) {
    let m = start(backend).await;
    let app = &m.app;
    // Someone kefu does not know, naming no number: asked for it.
    m.imap.deliver(
        "1.mail",
        &utf8_mail("李四 <lisi@example.net>", "宽带费用咨询", "ask@mua.example.net", None, "", "请问宽带包年多少钱？"),
    );
    assert_eq!((app.mail)().await, 1);
    let (_, list) = app.get("supervisor1", "/api/v1/tickets?channel=email").await;
    assert_eq!(list["total"], 0);
    let asked = mails_to(&m, "lisi@example.net").await;
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(
        asked[0]["subject"].as_str().unwrap().contains("手机号码")
            && asked[0]["in_reply_to"] == "<ask@mua.example.net>",
        "{asked:?}"
    );

    // Their answer names it: the request is registered, the address kept.
    let reply = "我的手机号是 13700001234\r\n\r\n> 请补充手机号码";
    m.imap.deliver(
        "2.mail",
        &utf8_mail(
            "李四 <lisi@example.net>",
            "Re: 请补充手机号码以便受理：宽带费用咨询",
            "reply@mua.example.net",
            Some("<kefu-m1@example.com>"),
            "",
            reply,
        ),
    );
    assert_eq!((app.mail)().await, 1);
    let (_, list) = app.get("supervisor1", "/api/v1/tickets?channel=email").await;
    assert_eq!(list["total"], 1, "{list}");
    let t = list["items"][0].clone();
    assert_eq!(t["customer"]["phone"], "137****1234");

    // An out-of-office answer to the receipt and a bounce: passed over, not answered.
    let before = m.smtp.mails().len();
    let receipt = mails_to(&m, "lisi@example.net")
        .await
        .into_iter()
        .find(|x| x["message_id"].as_str().unwrap().contains("kefu-t"))
        .unwrap();
    let rid = receipt["message_id"].as_str().unwrap().to_string();
    m.imap.deliver(
        "3.mail",
        &utf8_mail(
            "李四 <lisi@example.net>",
            "自动回复：受理回执",
            "ooo@mua.example.net",
            Some(&rid),
            "Auto-Submitted: auto-replied\r\n",
            "我正在休假",
        ),
    );
    m.imap.deliver(
        "4.mail",
        &utf8_mail(
            "MAILER-DAEMON@mx.example.net",
            "Undelivered Mail",
            "bounce@mx.example.net",
            Some(&rid),
            "",
            "delivery failed",
        ),
    );
    m.imap.deliver(
        "5.mail",
        &utf8_mail("客服中心 <kefu@example.com>", "关于工单的回复", "loop@example.com", Some(&rid), "", "loop"),
    );
    assert_eq!((app.mail)().await, 3);
    let (_, comments) =
        app.get("supervisor1", &format!("/api/v1/tickets/{}/comments", t["number"].as_str().unwrap())).await;
    assert!(comments.as_array().unwrap().is_empty(), "{comments}");
    (app.loop_jobs)().await;
    assert_eq!(m.smtp.mails().len(), before + 1, "only the receipt went out, nothing answered the machines");

    // A number in a subject is no proof: someone else's mail naming this ticket is a new request of theirs.
    let number = t["number"].as_str().unwrap();
    m.imap.deliver(
        "6.mail",
        &utf8_mail(
            "王五 <wangwu@example.org>",
            &format!("关于 {number}"),
            "other@mua.example.org",
            None,
            "",
            "我的电话 13600005678，我家也断网了",
        ),
    );
    assert_eq!((app.mail)().await, 1);
    let (_, comments) = app.get("supervisor1", &format!("/api/v1/tickets/{number}/comments")).await;
    assert!(comments.as_array().unwrap().is_empty());
    let (_, list) = app.get("supervisor1", "/api/v1/tickets?channel=email").await;
    assert_eq!(list["total"], 2);
}
