//! Kills the real `kefu serve` with SIGKILL while it reads a mailbox (a
//! real dovecot) and checks that after a restart every mail became exactly
//! one ticket: the mail's Message-ID is the key of its ticket write, and the
//! cursor moves only after it — on SQLite and on PostgreSQL.

use crate::common;
use crate::imap_server;

use common::{PASSWORD, Target, login_as};
use imap_server::ImapServer;
use serde_json::Value;
use std::time::Duration;

const MAILS: usize = 120;

fn mail(i: usize) -> Vec<u8> {
    use base64::Engine;
    let b64 = |s: String| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    format!(
        "From: user{i}@example.com\r\nTo: kefu@example.com\r\nSubject: =?UTF-8?B?{}?=\r\nMessage-ID: <m{i}@mua.example.com>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
        b64(format!("宽带故障 {i}")),
        b64(format!("家里宽带断了，我的电话 139{i:08}"))
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mail_is_one_ticket_across_sigkill_sqlite() {
    every_mail_is_one_ticket_across_sigkill(Target::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mail_is_one_ticket_across_sigkill_postgres() {
    every_mail_is_one_ticket_across_sigkill(Target::postgres().await).await;
}

async fn total(client: &reqwest::Client, base: &str, token: &str) -> Option<i64> {
    let r =
        client.get(format!("{base}/api/v1/tickets?channel=email&per_page=1")).bearer_auth(token).send().await.ok()?;
    r.json::<Value>().await.ok()?["total"].as_i64()
}

async fn every_mail_is_one_ticket_across_sigkill(target: Target) {
    let imap = ImapServer::start();
    for i in 0..MAILS {
        imap.deliver(&format!("{i}.mail"), &mail(i));
    }
    let status = target.kefu().args(["user", "add", "sup1", "--role", "supervisor", "--password", PASSWORD]).status();
    assert!(status.await.unwrap().success());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kefu.toml");
    let imap_toml = imap.config_toml().replace("poll_seconds = 5", "poll_seconds = 1\nbatch = 10");
    std::fs::write(&config, format!("[imap]\n{imap_toml}")).unwrap();
    let start = || {
        let mut cmd = target.kefu();
        cmd.env("KEFU_CONFIG", &config).env("KEFU_LOG", "warn").stderr(std::process::Stdio::null());
        common::start_with(cmd)
    };
    let client = common::client();
    let (mut server, base) = start().await;
    let token = login_as(&client, &base, "sup1").await;
    // Kill in the middle of the reading: some mails taken, most not.
    let mut seen = 0;
    for _ in 0..600 {
        seen = total(&client, &base, &token).await.unwrap_or(0);
        if seen >= 15 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    server.kill().await.unwrap(); // SIGKILL
    assert!(seen >= 15 && (seen as usize) < MAILS, "killed mid-reading ({seen} of {MAILS})");

    let (_server, base) = start().await;
    let token = login_as(&client, &base, "sup1").await;
    let mut now = 0;
    for _ in 0..240 {
        now = total(&client, &base, &token).await.unwrap_or(0);
        if now as usize >= MAILS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // A moment more: nothing is taken twice after the last mail.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let now_after = total(&client, &base, &token).await.unwrap();
    assert_eq!((now as usize, now_after as usize), (MAILS, MAILS), "every mail once, none twice");
    let page: Value = client
        .get(format!("{base}/api/v1/tickets?channel=email&per_page=200"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut titles: Vec<String> =
        page["items"].as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap().to_string()).collect();
    titles.sort();
    titles.dedup();
    assert_eq!(titles.len(), MAILS, "one ticket per mail");
}
