//! A real IMAP server for the tests of both crates: dovecot (installed by
//! scripts/ensure-imap.sh) in a temporary directory on a free port, one
//! account, its Maildir filled by `deliver` as a delivery agent would.

#![allow(dead_code)]

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

    /// The `[imap]` config that reads this server, as TOML.
    pub fn config_toml(&self) -> String {
        format!(
            "host = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nusername = \"{}\"\npassword = \"{}\"\npoll_seconds = 5\n\
             own_addresses = [\"{}\"]\n",
            self.port, self.user, self.password, self.user
        )
    }

    /// The `[imap]` config that reads this server.
    pub fn config(&self) -> kefu_server::imap::ImapConfig {
        toml::from_str(&self.config_toml()).unwrap()
    }
}

impl Drop for ImapServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
