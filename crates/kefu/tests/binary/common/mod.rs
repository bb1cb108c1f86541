//! Helpers for the tests that run the real `kefu` binary: a fresh database
//! on either store, `kefu serve` processes on it, and logging in.

#![allow(dead_code)]

use serde_json::{Value, json};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const KEFU: &str = env!("CARGO_BIN_EXE_kefu");
pub const PASSWORD: &str = "Binary-test-1";

/// Field-encryption keys for the tests (32 bytes each, base64).
pub const TEST_KEYS: &str = "active = 1\nindex_key = \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"\n[keys]\n1 = \"ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=\"\n";

/// Where the processes of one test keep their data.
pub enum Target {
    Sqlite(tempfile::TempDir),
    /// SQLite with its keys in the default key file `<dir>/keys.toml`.
    SqliteKeyFile(tempfile::TempDir),
    Postgres(kefu_store_postgres::testing::TestSchema),
}

impl Target {
    /// A fresh SQLite data directory holding one agent account.
    pub async fn sqlite() -> Target {
        Target::Sqlite(tempfile::tempdir().unwrap()).with_agent().await
    }

    /// A fresh SQLite data directory with a key file, holding one agent.
    pub async fn sqlite_with_key_file() -> Target {
        Target::SqliteKeyFile(tempfile::tempdir().unwrap()).with_agent().await
    }

    /// The data directory of a SQLite target.
    pub fn dir(&self) -> &std::path::Path {
        match self {
            Target::Sqlite(dir) | Target::SqliteKeyFile(dir) => dir.path(),
            Target::Postgres(_) => unreachable!("no data directory"),
        }
    }

    /// A fresh PostgreSQL schema holding one agent account.
    pub async fn postgres() -> Target {
        Target::Postgres(kefu_store_postgres::testing::TestSchema::create().await).with_agent().await
    }

    /// A kefu command pointed at this target's database. All targets of a
    /// test process share one set of field-encryption keys (through
    /// `KEFU_KEYS`), so data exported from one imports into another.
    pub fn kefu(&self) -> Command {
        let mut c = Command::new(KEFU);
        c.env("KEFU_KEYS", TEST_KEYS);
        match self {
            Target::Sqlite(dir) => c.env("KEFU_DATA_DIR", dir.path()),
            Target::SqliteKeyFile(dir) => c.env("KEFU_DATA_DIR", dir.path()).env_remove("KEFU_KEYS"),
            Target::Postgres(schema) => c.env("KEFU_DATABASE_URL", &schema.url),
        };
        c
    }

    pub fn sqlite_file(&self) -> std::path::PathBuf {
        match self {
            Target::Sqlite(dir) | Target::SqliteKeyFile(dir) => dir.path().join("kefu.db"),
            Target::Postgres(_) => unreachable!("not a file"),
        }
    }

    async fn with_agent(self) -> Target {
        let status = self
            .kefu()
            .args(["user", "add", "agent1", "--role", "agent", "--password", PASSWORD])
            .status()
            .await
            .unwrap();
        assert!(status.success());
        self
    }

    /// Starts `kefu serve` on a free port; returns the process and its URL.
    pub async fn start(&self) -> (Child, String) {
        self.start_logging("warn", Stdio::null()).await
    }

    /// Starts `kefu serve` logging at `level` into `log`.
    pub async fn start_logging(&self, level: &str, log: Stdio) -> (Child, String) {
        let mut cmd = self.kefu();
        cmd.env("KEFU_LOG", level).stderr(log);
        start_with(cmd).await
    }
}

/// Starts `kefu serve` from a prepared command (environment set).
pub async fn start_with(mut cmd: Command) -> (Child, String) {
    let mut child = cmd
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start kefu serve");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("server started in time")
        .unwrap()
        .unwrap();
    let url = line.split("http://").nth(1).expect("printed URL").split(['/', ' ']).next().unwrap().to_string();
    (child, format!("http://{url}"))
}

/// Logs agent1 in; returns the bearer token.
pub async fn login(client: &reqwest::Client, base: &str) -> String {
    login_as(client, base, "agent1").await
}

/// Logs a user (with the tests' password) in; returns the bearer token.
pub async fn login_as(client: &reqwest::Client, base: &str, username: &str) -> String {
    let r: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["token"].as_str().unwrap().to_string()
}

/// An HTTP client (with the TLS crypto provider installed first).
pub fn client() -> reqwest::Client {
    kefu_server::delivery::install_tls_provider();
    reqwest::Client::new()
}
