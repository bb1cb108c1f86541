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

/// A real IMAP server: dovecot (installed by scripts/ensure-imap.sh) in a
/// temporary directory on a free port, one account, its Maildir filled by
/// `deliver`.
pub struct ImapServer {
    pub port: u16,
    pub user: &'static str,
    pub password: &'static str,
    dir: tempfile::TempDir,
    child: std::process::Child,
}

impl ImapServer {
    pub fn start() -> ImapServer {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let d = dir.path().display().to_string();
        for sub in ["run", "state", "home"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        let (user, password) = ("kefu@example.com", "imap-secret");
        std::fs::write(dir.path().join("passwd"), format!("{user}:{{PLAIN}}{password}::::::\n")).unwrap();
        // Mail processes may not run as root: the mail belongs to `nobody`.
        let conf = format!(
            "base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\nprotocols = imap\n\
             listen = 127.0.0.1\nssl = no\ndisable_plaintext_auth = no\nauth_mechanisms = plain login\n\
             first_valid_uid = 0\nmail_location = maildir:{d}/home/%u/Maildir\n\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {d}/passwd\n}}\n\
             userdb {{\n  driver = static\n  args = uid=65534 gid=65534 home={d}/home/%u\n}}\n\
             service imap-login {{\n  chroot =\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n  \
             inet_listener imaps {{\n    port = 0\n  }}\n}}\nservice anvil {{\n  chroot =\n}}\n"
        );
        std::fs::write(dir.path().join("dovecot.conf"), conf).unwrap();
        let maildir = dir.path().join("home").join(user).join("Maildir");
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).unwrap();
        }
        let server = ImapServer {
            port,
            user,
            password,
            child: std::process::Command::new("/usr/sbin/dovecot")
                .args(["-F", "-c"])
                .arg(dir.path().join("dovecot.conf"))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("dovecot runs (scripts/ensure-imap.sh installs dovecot-imapd)"),
            dir,
        };
        server.own_mail();
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!(
            "dovecot did not listen on {port}: {}",
            std::fs::read_to_string(server.dir.path().join("dovecot.log")).unwrap_or_default()
        );
    }

    fn own_mail(&self) {
        fn chown_all(p: &std::path::Path) {
            std::os::unix::fs::chown(p, Some(65534), Some(65534)).unwrap();
            if p.is_dir() {
                for e in std::fs::read_dir(p).unwrap().flatten() {
                    chown_all(&e.path());
                }
            }
        }
        chown_all(&self.dir.path().join("home"));
    }

    /// Puts a raw message in the account's inbox (as a delivery agent would).
    pub fn deliver(&self, name: &str, raw: &[u8]) {
        let maildir = self.dir.path().join("home").join(self.user).join("Maildir");
        let tmp = maildir.join("tmp").join(name);
        std::fs::write(&tmp, raw).unwrap();
        std::fs::rename(&tmp, maildir.join("new").join(name)).unwrap();
        self.own_mail();
    }

    /// The `[imap]` config that reads this server.
    pub fn config(&self) -> kefu_server::imap::ImapConfig {
        toml::from_str(&format!(
            "host = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nusername = \"{}\"\npassword = \"{}\"\npoll_seconds = 5\n\
             own_addresses = [\"{}\"]",
            self.port, self.user, self.password, self.user
        ))
        .unwrap()
    }
}

impl Drop for ImapServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
