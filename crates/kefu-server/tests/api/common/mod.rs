//! Starts the real server on 127.0.0.1:0 over a fresh database — SQLite in a
//! temporary directory or a new PostgreSQL schema — with one logged-in user
//! per role. `both_stores!` runs each test against both.

#![allow(dead_code)]

pub mod channels;
#[allow(unused_imports)]
pub use channels::*;

use kefu_domain::Role;
use kefu_domain::clock::FixedClock;
use kefu_domain::flow::FlowSet;
use kefu_domain::policy::Policy;
use kefu_server::auth::PasswordCost;
pub use kefu_server::delivery::DeliveryConfig;
use kefu_server::{Kefu, Settings};
use kefu_store::prelude::*;
use kefu_store_postgres::PgStore;
use kefu_store_postgres::testing::TestSchema;
use kefu_store_sqlite::SqliteStore;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

pub const PASSWORD: &str = "Test-pass-1";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub tokens: HashMap<&'static str, String>,
    pub clock: Arc<FixedClock>,
    /// Runs one round of the SLA watcher and of the dispatch of waiting
    /// tickets, as the background jobs would: (alerts raised, dispatched).
    pub jobs: Jobs,
    /// Runs one round of the outbox worker and of the customer-loop job:
    /// (messages sent, confirmed by default, visits invited).
    pub loop_jobs: LoopJobs,
    /// The file messages go to when no channel is configured.
    pub messages_log: std::path::PathBuf,
    /// Adds a staff member (username, role, display name) with `PASSWORD`.
    pub add_user: AddUser,
    /// Registers this many tickets (by agent1, distinct customers) straight
    /// through the store, as intake would: for tests that need volume.
    pub seed: Seed,
    /// Runs the report-export job until nothing waits: exports made.
    pub exports: Jobs1,
    /// Runs the scheduled-reports job once: schedules run.
    pub schedules: Jobs1,
    /// Runs the KPI rollup job over the feed, as the background job would,
    /// with the calendar given (the service's when None): tickets counted.
    pub rollup: Rollup,
    /// Runs one round of the BSS queue on node "test": jobs worked on.
    pub bss: Jobs1,
    /// Runs the sweep of stored files no ticket names: files removed.
    pub sweep_files: Jobs1,
    /// Reads the mailbox once on node "test": mails taken.
    pub mail: Jobs1,
    /// One round of the events job on node "test" (outbox rows handed out
    /// to webhooks and the TMF hub, what is due sent): tries made.
    pub events: Jobs1,
    /// Where this app keeps attachment files.
    pub files_dir: std::path::PathBuf,
    /// Begins the service's shutdown (as SIGTERM does).
    pub begin_shutdown: Arc<dyn Fn() + Send + Sync>,
    /// Removes the database when the test ends.
    _guard: Box<dyn std::any::Any + Send + Sync>,
}

pub type Jobs =
    Arc<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = (usize, usize)> + Send>> + Send + Sync>;
pub type LoopJobs =
    Arc<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = (usize, usize, usize)> + Send>> + Send + Sync>;

pub type Seed = Arc<dyn Fn(usize) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync>;
pub type Jobs1 = Arc<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = usize> + Send>> + Send + Sync>;

pub type Rollup = Arc<
    dyn Fn(
            Option<kefu_domain::calendar::Calendar>,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = usize> + Send>>
        + Send
        + Sync,
>;

pub type AddUser = Arc<
    dyn Fn(&'static str, Role, &'static str) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
        + Send
        + Sync,
>;

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn(TestApp)` once per store backend, under the
/// shipped policy, or under the policy an expression builds:
/// `both_stores!(policy = manual_dispatch(); a, b)`.
#[macro_export]
macro_rules! both_stores {
    (policy = $policy:expr; $($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    use super::common::*;
                    super::$name(spawn_app_with(Backend::Sqlite, $policy).await).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    use super::common::*;
                    super::$name(spawn_app_with(Backend::Postgres, $policy).await).await;
                }
            )+
        }
    };
    ($($name:ident),+ $(,)?) => {
        both_stores!(policy = kefu_domain::policy::Policy::defaults(); $($name),+);
    };
}

/// The shipped policy with dispatch left to people: tickets stay
/// `accepted` at registration until someone dispatches them. The lifecycle
/// tests walk the flows step by step this way.
pub fn manual_dispatch() -> Policy {
    let mut p = Policy::defaults();
    p.dispatch.on_create = false;
    p
}

pub const USERS: &[(&str, Role)] = &[
    ("agent1", Role::Agent),
    ("agent2", Role::Agent),
    ("engineer1", Role::Engineer),
    ("specialist1", Role::ComplaintSpecialist),
    ("supervisor1", Role::Supervisor),
    ("inspector1", Role::Inspector),
    ("admin", Role::Admin),
];

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, Policy::defaults()).await
}

pub async fn spawn_app_with(backend: Backend, policy: Policy) -> TestApp {
    spawn_app_delivering(backend, policy, DeliveryConfig::default()).await
}

/// With the customer messages going where `delivery` says; channels it
/// leaves out write to the test's `messages_log`.
pub async fn spawn_app_delivering(backend: Backend, policy: Policy, delivery: DeliveryConfig) -> TestApp {
    spawn_app_full(backend, policy, delivery, kefu_server::ServeLimits::default()).await
}

/// With the server's connection limits set.
pub async fn spawn_app_limited(backend: Backend, limits: kefu_server::ServeLimits) -> TestApp {
    spawn_app_full(backend, Policy::defaults(), DeliveryConfig::default(), limits).await
}

pub async fn spawn_app_full(
    backend: Backend,
    policy: Policy,
    delivery: DeliveryConfig,
    limits: kefu_server::ServeLimits,
) -> TestApp {
    spawn_app_bss(backend, policy, delivery, limits, Default::default()).await
}

/// With orders carried out where `bss` says (default: the embedded inventory).
pub async fn spawn_app_bss(
    backend: Backend,
    policy: Policy,
    delivery: DeliveryConfig,
    limits: kefu_server::ServeLimits,
    bss: kefu_server::bss::BssConfig,
) -> TestApp {
    spawn_app_channels(backend, policy, delivery, limits, bss, None).await
}

/// With e-mail read from `imap` (and orders where `bss` says).
pub async fn spawn_app_channels(
    backend: Backend,
    policy: Policy,
    mut delivery: DeliveryConfig,
    limits: kefu_server::ServeLimits,
    bss: kefu_server::bss::BssConfig,
    imap: Option<kefu_server::imap::ImapConfig>,
) -> TestApp {
    let logs = tempfile::tempdir().unwrap();
    let messages_log = logs.path().join("messages.log");
    delivery.log_file = Some(messages_log.clone());
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let store = SqliteStore::open(dir.path().join("kefu.db"), kefu_store::crypto::test_cipher()).unwrap();
            spawn_with(store, Box::new((dir, logs)), policy, (delivery, bss, imap), messages_log, limits).await
        }
        Backend::Postgres => {
            let schema = TestSchema::create().await;
            let store = PgStore::connect(&schema.url, kefu_store::crypto::test_cipher()).await.unwrap();
            spawn_with(store, Box::new((schema, logs)), policy, (delivery, bss, imap), messages_log, limits).await
        }
    }
}

async fn spawn_with<S: Store>(
    store: S,
    guard: Box<dyn std::any::Any + Send + Sync>,
    policy: Policy,
    (delivery, bss, imap): (DeliveryConfig, kefu_server::bss::BssConfig, Option<kefu_server::imap::ImapConfig>),
    messages_log: std::path::PathBuf,
    limits: kefu_server::ServeLimits,
) -> TestApp {
    let clock = Arc::new(FixedClock::new("2026-11-22T02:00:00Z".parse().unwrap()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let files = tempfile::tempdir().unwrap();
    let files_dir = files.path().to_path_buf();
    let blobs = kefu_server::blobs::Blobs::new(files.path().to_path_buf(), kefu_store::crypto::test_cipher());
    let guard: Box<dyn std::any::Any + Send + Sync> = Box::new((guard, files));
    let settings = Settings {
        password_cost: PasswordCost { memory_kib: 1024, iterations: 1 },
        delivery,
        bss,
        files: Some(blobs),
        imap,
        public_url: base.clone(),
        ..Settings::default()
    };
    let kefu = Kefu::new(store, FlowSet::defaults(), policy, clock.clone(), settings).await.unwrap();
    for (name, role) in USERS {
        kefu.add_user(name, *role, None, PASSWORD).await.unwrap();
    }
    let k = kefu.clone();
    let loop_jobs: LoopJobs = Arc::new(move || {
        let k = k.clone();
        Box::pin(async move {
            let sent = kefu_server::delivery::deliver(&k, "test").await.unwrap();
            let (confirmed, invited) = kefu_server::jobs::customer_loop(&k, "test").await.unwrap().unwrap_or((0, 0));
            // The invitations just written go out in the same round.
            let sent = sent + kefu_server::delivery::deliver(&k, "test").await.unwrap();
            (sent, confirmed, invited)
        })
    });
    let k = kefu.clone();
    let begin_shutdown = Arc::new(move || k.begin_shutdown());
    let k = kefu.clone();
    let jobs: Jobs = Arc::new(move || {
        let k = k.clone();
        Box::pin(async move {
            let raised = kefu_server::jobs::watch_sla(&k, "test").await.unwrap().unwrap_or(0);
            let dispatched = kefu_server::jobs::dispatch_waiting(&k, "test").await.unwrap().unwrap_or(0);
            (raised, dispatched)
        })
    });
    let k = kefu.clone();
    let add_user: AddUser = Arc::new(move |username, role, name| {
        let k = k.clone();
        Box::pin(async move {
            k.add_user(username, role, Some(name), PASSWORD).await.unwrap();
        })
    });
    let (store, policy, clock2, settings2) =
        (kefu.store.clone(), kefu.core.policy.clone(), clock.clone(), kefu.core.settings.clone());
    let k = kefu.clone();
    let rollup: Rollup = Arc::new(move |calendar| {
        let k = k.clone();
        let (store, policy, clock, settings) = (store.clone(), policy.clone(), clock2.clone(), settings2.clone());
        Box::pin(async move {
            let k = match calendar {
                None => k,
                // The same store and clock, a calendar edited since.
                Some(c) => {
                    Kefu::new(store, FlowSet::defaults(), policy, clock, settings).await.unwrap().with_calendar(c)
                }
            };
            kefu_server::jobs::kpi_rollup(&k, "test").await.unwrap().unwrap_or(0)
        })
    });
    let k = kefu.clone();
    let seed: Seed = Arc::new(move |n| {
        let k = k.clone();
        Box::pin(async move {
            let u = k.store.user_by_username("agent1").await.unwrap().unwrap();
            let actor = kefu_domain::flow::Actor::new(u.id, u.username, Role::Agent);
            let mut pending = Vec::new();
            for i in 0..n {
                let mut body = ticket_body("fault");
                body["customer"]["phone"] = json!(format!("139{:08}", i));
                body["title"] = json!(format!("宽带故障 {i}"));
                let req: kefu_domain::intake::IntakeRequest = serde_json::from_value(body).unwrap();
                let policy = &k.core.policy;
                let now = k.now();
                let mut t = req.parse(&policy.priority).unwrap();
                t.deadlines =
                    kefu_domain::sla::on_create(&policy.sla, &k.core.calendar, t.ticket_type, t.priority, now).unwrap();
                let op = kefu_store::CreateTicket {
                    ticket: t,
                    actor: actor.clone(),
                    initial_state: "accepted".into(),
                    now,
                    idempotency: None,
                    follow_up: None,
                    messages: None,
                    render: Box::new(|_| Value::Null),
                };
                let store = k.store.clone();
                pending.push(tokio::spawn(async move { store.create_ticket(op).await.map(drop) }));
                if pending.len() == 256 || i + 1 == n {
                    for p in pending.drain(..) {
                        p.await.unwrap().unwrap();
                    }
                }
            }
        })
    });
    let k = kefu.clone();
    let exports: Jobs1 = Arc::new(move || {
        let k = k.clone();
        Box::pin(async move {
            let mut n = 0;
            while k.make_export("test").await.unwrap() {
                n += 1;
            }
            n
        })
    });
    let k = kefu.clone();
    let sweep_files: Jobs1 = Arc::new(move || {
        let k = k.clone();
        Box::pin(async move { k.sweep_orphan_files().await.unwrap() as usize })
    });
    let k = kefu.clone();
    let events: Jobs1 = Arc::new(move || {
        let k = k.clone();
        Box::pin(async move {
            let budget = std::time::Duration::from_secs(10);
            kefu_server::jobs::events(&k, "test", budget).await.unwrap().map_or(0, |(_, tries)| tries)
        })
    });
    let k = kefu.clone();
    let mail: Jobs1 = Arc::new(move || {
        let k = k.clone();
        Box::pin(async move { kefu_server::jobs::fetch_mail(&k, "test").await.unwrap().unwrap_or(0) })
    });
    let k = kefu.clone();
    let bss: Jobs1 = Arc::new(move || {
        let k = k.clone();
        Box::pin(async move { k.process_bss("test").await.unwrap() as usize })
    });
    let k = kefu.clone();
    let schedules: Jobs1 = Arc::new(move || {
        let k = k.clone();
        Box::pin(async move { kefu_server::jobs::scheduled_reports(&k, "test").await.unwrap().unwrap_or(0) })
    });
    tokio::spawn(kefu_server::serve_with(listener, kefu_server::router(kefu), limits, std::future::pending()));
    let client = client();
    let mut tokens = HashMap::new();
    for (name, _) in USERS {
        let r: Value = client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"username": name, "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tokens.insert(*name, r["token"].as_str().unwrap().to_string());
    }
    TestApp {
        base,
        client,
        tokens,
        clock,
        jobs,
        loop_jobs,
        messages_log,
        add_user,
        seed,
        exports,
        schedules,
        rollup,
        bss,
        sweep_files,
        begin_shutdown,
        mail,
        events,
        files_dir,
        _guard: guard,
    }
}

impl TestApp {
    /// Logs a user in again (after the clock moved past the token's life).
    pub async fn relogin(&mut self, user: &'static str) {
        let (_, r) = self
            .call(None, Method::POST, "/api/v1/auth/login", Some(json!({"username": user, "password": PASSWORD})), None)
            .await;
        self.tokens.insert(user, r["token"].as_str().unwrap().to_string());
    }

    /// Sends a request as `user` (None: no token); returns status and JSON body.
    pub async fn call(
        &self,
        user: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
        idem: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(u) = user {
            req = req.bearer_auth(&self.tokens[u]);
        }
        if let Some(k) = idem {
            req = req.header("Idempotency-Key", k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn get(&self, user: &str, path: &str) -> (StatusCode, Value) {
        self.call(Some(user), Method::GET, path, None, None).await
    }

    pub async fn post(&self, user: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Some(user), Method::POST, path, Some(body), None).await
    }

    pub async fn create(&self, user: &str, body: Value) -> Value {
        let (s, b) = self.post(user, "/api/v1/tickets", body).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        b
    }

    pub async fn act(&self, user: &str, id: &Value, body: Value) -> (StatusCode, Value) {
        self.post(user, &format!("/api/v1/tickets/{id}/actions"), body).await
    }

    pub async fn put(&self, user: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Some(user), Method::PUT, path, Some(body), None).await
    }

    /// Sends and asserts the status, returning the body.
    pub async fn ok(&self, user: &str, method: Method, path: &str, body: Option<Value>, want: StatusCode) -> Value {
        let (s, b) = self.call(Some(user), method, path, body, None).await;
        assert_eq!(s, want, "{path}: {b}");
        b
    }

    pub async fn ticket_count(&self) -> i64 {
        self.get("admin", "/api/v1/tickets?per_page=1").await.1["total"].as_i64().unwrap()
    }
}

pub fn ticket_body(ticket_type: &str) -> Value {
    let mut b = json!({
        "channel": "phone",
        "type": ticket_type,
        "title": "宽带频繁掉线",
        "description": "客户反映近三天晚上八点后宽带频繁掉线，已重启光猫无效",
        "customer": {"name": "张三", "phone": "13812345678", "id_number": "11010519491231002X", "address": "北京市朝阳区建设路1号", "level": "vip"},
        "service_number": "13812345678",
    });
    if ticket_type == "unsubscribe" {
        b["consent"] = json!({"method": "phone", "at": "2026-11-22T01:00:00Z", "evidence": "录音编号 REC20261122001"});
    }
    b
}

/// An HTTP client (with the TLS crypto provider installed first).
pub fn client() -> reqwest::Client {
    kefu_server::delivery::install_tls_provider();
    reqwest::Client::new()
}

/// A client that shows redirects instead of following them.
pub fn no_redirects() -> reqwest::Client {
    client();
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Signs `user` in to the console; the session cookie (`name=value`).
pub async fn console_login(app: &TestApp, user: &str) -> String {
    let r = no_redirects()
        .post(format!("{}/console/login", app.base))
        .form(&[("username", user), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{user} signs in");
    let cookie = r.headers()[reqwest::header::SET_COOKIE].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    cookie.split(';').next().unwrap().to_string()
}

/// Posts a console form as `cookie`'s session, from the site's own origin:
/// status, where it redirects (or ""), and the page.
pub async fn console_form<F: serde::Serialize + ?Sized>(
    app: &TestApp,
    cookie: &str,
    path: &str,
    fields: &F,
) -> (StatusCode, String, String) {
    let host = app.base.trim_start_matches("http://").to_string();
    let r = no_redirects()
        .post(format!("{}{path}", app.base))
        .header(reqwest::header::COOKIE, cookie)
        .header(reqwest::header::ORIGIN, format!("http://{host}"))
        .form(fields)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let to = r.headers().get(reqwest::header::LOCATION).map(|l| l.to_str().unwrap().to_string()).unwrap_or_default();
    (status, to, r.text().await.unwrap())
}

/// A console page as `cookie`'s session sees it: status and HTML.
pub async fn console_get(app: &TestApp, cookie: &str, path: &str) -> (StatusCode, String) {
    let r = no_redirects().get(format!("{}{path}", app.base)).header("cookie", cookie).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

/// A fault ticket of the customer (and service) `phone`.
pub fn fault_body(phone: &str) -> Value {
    let mut b = ticket_body("fault");
    b["customer"]["phone"] = json!(phone);
    b["service_number"] = json!(phone);
    b
}

/// Shanghai wall time on a day of the week of Monday 23 November 2026.
pub fn at(day: u32, hour: u32, minute: u32) -> chrono::DateTime<chrono::Utc> {
    format!("2026-11-{day:02}T{:02}:{minute:02}:00Z", hour - 8).parse().unwrap()
}

/// Moves the clock to `at(day, hour, minute)`, logging everyone in again
/// (sessions end when idle).
pub async fn go(app: &mut TestApp, day: u32, hour: u32, minute: u32) {
    app.clock.set(at(day, hour, minute));
    for (name, _) in USERS {
        app.relogin(name).await;
    }
}

/// An action that must succeed.
pub async fn step(app: &TestApp, who: &str, id: &Value, body: Value) {
    let (s, b) = app.act(who, id, body.clone()).await;
    assert_eq!(s, StatusCode::OK, "{body} → {b}");
}
