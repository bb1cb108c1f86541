//! `kefu`: the one binary. `serve` runs the API server, `user` manages staff
//! accounts, `audit verify` checks every hash chain, `migrate` applies schema
//! migrations, `bench` measures.

mod audit;
mod backup;
mod bench;
mod config;
mod demo;
mod demo_incidents;
mod demo_orders;
mod demo_quality;
mod kb;
mod org;
mod sample;
mod transfer;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use config::{Backend, CommonArgs, Config};
use kefu_domain::Role;
use kefu_server::Kefu;
use kefu_store::prelude::*;
use kefu_store_postgres::PgStore;
use kefu_store_sqlite::SqliteStore;
use std::io::IsTerminal;
use std::sync::Arc;

/// mimalloc instead of glibc's malloc: allocation was a quarter of the
/// intake profile (many small JSON values freed on other threads).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc keeps the pages a thread freed for a while (`purge_delay`,
/// 10 ms, but checked only when that thread next allocates): with requests
/// moving between tokio's threads and blocking threads that sleep, a
/// serving node kept 540 MB resident for 55 MB of live data (`kefu bench
/// soak`). Purging at once halved the resident set at no measured cost to
/// intake (docs/CAPACITY.md). `MIMALLOC_PURGE_DELAY` in the environment
/// still decides when set.
#[allow(unsafe_code)]
mod allocator {
    /// `mi_option_purge_delay` in the `mi_option_e` enum of mimalloc v3's
    /// mimalloc.h (the version the mimalloc crate builds by default).
    const PURGE_DELAY: i32 = 15;

    unsafe extern "C" {
        fn mi_option_set(option: i32, value: std::ffi::c_long);
    }

    pub fn purge_promptly() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            // SAFETY: sets one value in mimalloc's option table; no
            // pointers, valid from any thread at any time.
            unsafe { mi_option_set(PURGE_DELAY, 0) }
        }
    }
}

#[derive(Parser)]
#[command(name = "kefu", version, about = "kefu 客服工单系统 — customer-service work orders")]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve {
        /// Address to listen on [env: KEFU_LISTEN] (default 127.0.0.1:8080)
        #[arg(long)]
        listen: Option<String>,
        /// Create demo staff (passwords printed) and a few hundred demo tickets.
        #[arg(long)]
        demo: bool,
    },
    /// Staff accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Departments and teams.
    Org {
        #[command(subcommand)]
        command: org::OrgCommand,
    },
    /// Audit trail checks.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Write all data to a file (JSON lines), e.g. to move from SQLite to PostgreSQL.
    Export {
        /// Output file
        #[arg(long)]
        out: std::path::PathBuf,
        /// Why the data leaves the system; kept in the access log.
        #[arg(long)]
        reason: String,
    },
    /// Copy the SQLite database while it serves (consistent, online), with
    /// its evidence files in `<FILE>.attachments/`. Keep the key file too,
    /// elsewhere. PostgreSQL: pg_dump or base backups (README).
    Backup {
        /// The backup file (must not exist)
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Replace the SQLite database with a backup (no server may be running
    /// on it; the database replaced is kept beside it), then check every
    /// audit chain.
    Restore {
        /// The backup file
        #[arg(long = "in")]
        input: std::path::PathBuf,
    },
    /// The working-day calendar.
    Calendar {
        #[command(subcommand)]
        command: CalendarCommand,
    },
    /// Records retention.
    Retention {
        #[command(subcommand)]
        command: RetentionCommand,
    },
    /// Field-encryption keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Load a file written by `kefu export` into an empty database.
    Import {
        /// Input file
        #[arg(long = "in")]
        input: std::path::PathBuf,
    },
    /// The knowledge base as Markdown files.
    Kb {
        #[command(subcommand)]
        command: kb::KbCommand,
    },
    /// This node's search indexes.
    Search {
        #[command(subcommand)]
        command: kb::SearchCommand,
    },
    /// The customers' services: load the operator's BSS export.
    Inventory {
        #[command(subcommand)]
        command: InventoryCommand,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
}

#[derive(Subcommand)]
enum InventoryCommand {
    /// Import a CSV of services with a header row: phone, name, product_code,
    /// service_number, state, monthly_fee, started_at, contract_end,
    /// devices_out, balance (phone, product_code and started_at required;
    /// yuan; RFC 3339 or YYYY-MM-DD). All or nothing; existing services
    /// (same customer, number and product) are updated.
    Import {
        /// The CSV file
        file: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a staff account.
    Add {
        username: String,
        /// agent, engineer, complaint_specialist, supervisor, inspector or admin
        #[arg(long)]
        role: String,
        #[arg(long)]
        password: String,
        /// Display name, e.g. 王小明
        #[arg(long)]
        name: Option<String>,
    },
    /// Set a staff member's password.
    Passwd {
        username: String,
        #[arg(long)]
        password: String,
    },
    /// Set a staff member's team, tier, skills, capacity or duty.
    Set(org::ProfileArgs),
    /// Disable an account: it can no longer log in, its sessions end.
    Disable { username: String },
    /// Enable a disabled account again.
    Enable { username: String },
    /// Change an account's role; its sessions end.
    Role {
        username: String,
        /// agent, engineer, complaint_specialist, supervisor, inspector or admin
        #[arg(long)]
        role: String,
    },
}

#[derive(Subcommand)]
enum CalendarCommand {
    /// Print an instant plus N working days (or hours), in the input's offset.
    Add {
        /// RFC 3339, e.g. 2026-02-14T10:00:00+08:00
        from: String,
        #[arg(long, conflicts_with = "hours", required_unless_present = "hours")]
        working_days: Option<u32>,
        #[arg(long)]
        hours: Option<i64>,
    },
    /// Print whether a date (YYYY-MM-DD) is a working day, and why.
    Day { date: chrono::NaiveDate },
}

#[derive(Subcommand)]
enum RetentionCommand {
    /// Remove what the retention policy no longer keeps, now.
    Run,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Add a new key to the key file, make it active, and re-encrypt every
    /// customer record with it in batches (safe while nodes serve: they
    /// pick the new key up from the file when they first meet it).
    Rotate,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify every ticket's hash chain; exit 1 at the first broken link.
    Verify,
}

fn init_logging(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEFU_LOG").unwrap_or_else(|_| "info".into());
    let json = match cfg.log_format.as_str() {
        "json" => true,
        "text" => false,
        _ => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Builds the service over a store, with the operator's rules and the
/// system clock.
async fn service<S: Store>(store: S, cfg: &Config) -> Result<Kefu<S>> {
    let (flows, policy) = config::load_rules(cfg)?;
    // Customer links are signed with a key derived from the field keys,
    // which every node of one database shares.
    let link_key = kefu_server::links::LinkKey::new(cfg.cipher()?.blind_index("portal_link", "v1").as_bytes());
    let settings = kefu_server::Settings {
        token_ttl: chrono::Duration::hours(cfg.token_ttl_hours),
        delivery: delivery(cfg),
        public_url: cfg.public_url.clone().unwrap_or_else(|| format!("http://{}", cfg.listen)),
        link_key,
        templates: config::load_templates(cfg)?,
        metrics_token: cfg.metrics_token.clone(),
        search_dir: Some(cfg.data_dir.join("search")),
        metrics: config::load_metrics(cfg, &policy)?,
        bss: cfg.bss.clone(),
        catalogue: config::load_catalogue(cfg)?,
        files: Some(kefu_server::blobs::Blobs::new(cfg.data_dir.join("attachments"), cfg.cipher()?)),
        imap: match &cfg.imap {
            Some(i) => {
                i.check().map_err(|e| anyhow::anyhow!(e))?;
                Some(i.clone())
            }
            None => None,
        },
        shutdown_grace_seconds: cfg.http.shutdown_grace_secs,
        nats: match &cfg.nats {
            Some(n) => {
                n.check().map_err(|e| anyhow::anyhow!(e))?;
                Some(n.clone())
            }
            None => None,
        },
        ..Default::default()
    };
    let calendar = config::load_calendar(cfg)?;
    check_calendar(&calendar, &policy)?;
    Ok(Kefu::new(store, flows, policy, Arc::new(SystemClock), settings).await?.with_calendar(calendar))
}

/// The delivery settings; with no SMS gateway and no SMTP server
/// configured, messages are written to `<data dir>/messages.log` instead,
/// where whoever tries kefu out finds the customers' links.
fn delivery(cfg: &Config) -> kefu_server::delivery::DeliveryConfig {
    let mut d = cfg.delivery.clone();
    if d.log_file.is_none() && (d.sms.is_none() || d.smtp.is_none()) {
        let path = cfg.data_dir.join("messages.log");
        tracing::warn!(path = %path.display(), "no SMS gateway or SMTP server configured: those messages go to this file");
        d.log_file = Some(path);
    }
    d
}

/// Deadlines must never fall in a year without a calendar. Refuse to start
/// when this year is missing; warn when the longest working-day limit
/// already reaches into a missing year (the next notice is due).
fn check_calendar(calendar: &kefu_domain::calendar::Calendar, policy: &kefu_domain::policy::Policy) -> Result<()> {
    use kefu_domain::clock::Clock;
    let now = SystemClock.now();
    if let Err(e) = calendar.is_working_time(now) {
        anyhow::bail!("{e}");
    }
    let reach = policy.sla.max_working_days() + 10;
    if let Err(e) = calendar.add_working_days(now, reach) {
        tracing::warn!(error = %e, "deadlines will soon fall in a year without a calendar");
        eprintln!("warning: {e}");
    }
    Ok(())
}

fn create_parent(path: &std::path::Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    Ok(())
}

fn open_sqlite(path: &std::path::Path, cipher: Arc<kefu_store::crypto::FieldCipher>) -> Result<SqliteStore> {
    create_parent(path)?;
    SqliteStore::open(path, cipher).with_context(|| format!("cannot open database {}", path.display()))
}

/// The only place that reads the system clock.
struct SystemClock;

impl kefu_domain::clock::Clock for SystemClock {
    /// Microsecond precision: what both stores keep, so a ticket reads back
    /// exactly as it was written.
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        use chrono::SubsecRound;
        chrono::Utc::now().trunc_subsecs(6)
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    allocator::purge_promptly();
    kefu_server::delivery::install_tls_provider();
    let cli = Cli::parse();
    let cfg = Config::load(&cli.common)?;
    match cli.command {
        Command::Migrate => migrate(&cfg).await,
        Command::Backup { out } => match cfg.backend()? {
            Backend::Sqlite(path) => backup::backup(&path, &cfg.data_dir.join("attachments"), &out),
            Backend::Postgres(_) => anyhow::bail!(
                "a PostgreSQL database is backed up with PostgreSQL's tools: pg_dump for a copy, base backups with WAL archiving for point-in-time recovery (see README)"
            ),
        },
        Command::Restore { input } => match cfg.backend()? {
            Backend::Sqlite(path) => {
                let data = &cfg.data_dir;
                backup::restore(&path, &data.join("attachments"), &data.join("search"), &input)?;
                audit::verify(&open_sqlite(&path, cfg.cipher()?)?).await
            }
            Backend::Postgres(_) => {
                anyhow::bail!("a PostgreSQL database is restored with pg_restore or from a base backup (see README)")
            }
        },
        Command::Calendar { command } => calendar(&cfg, command),
        Command::Bench { command } => bench::run(command).await,
        command => {
            if matches!(command, Command::Serve { .. }) {
                init_logging(&cfg);
            }
            if matches!(command, Command::Keys { command: KeysCommand::Rotate }) {
                rotate_key_file(&cfg)?;
            }
            let cipher = cfg.cipher()?;
            let keys = cfg.key_source().describe();
            match cfg.backend()? {
                Backend::Sqlite(path) => {
                    // Held while serving: a restore must not replace the file under us.
                    let _lock = match command {
                        Command::Serve { .. } => {
                            create_parent(&path)?;
                            Some(backup::serve_lock(&path)?)
                        }
                        _ => None,
                    };
                    let store = open_sqlite(&path, cipher).with_context(|| format!("keys from {keys}"))?;
                    run(store, &cfg, command).await
                }
                Backend::Postgres(url) => {
                    let store = PgStore::connect(&url, cipher)
                        .await
                        .with_context(|| format!("cannot open the PostgreSQL database with the keys from {keys}"))?;
                    run(store, &cfg, command).await
                }
            }
        }
    }
}

/// The commands that work on a store, for either backend.
async fn run<S: Store>(store: S, cfg: &Config, command: Command) -> Result<()> {
    // `serve --listen` also moves the default base of customer links.
    let mut cfg = cfg.clone();
    if let Command::Serve { listen: Some(l), .. } = &command {
        cfg.listen = l.clone();
    }
    let cfg = &cfg;
    let kefu = service(store, cfg).await?;
    match command {
        Command::Serve { listen, demo } => serve(kefu, cfg.clone(), listen, demo).await,
        Command::User { command } => user(&kefu, command).await,
        Command::Org { command } => org::run(&kefu, command).await,
        Command::Kb { command } => kb::run(&kefu, command).await,
        Command::Search { command: kb::SearchCommand::Reindex } => kb::reindex(&kefu, &cfg.data_dir).await,
        Command::Audit { command: AuditCommand::Verify } => audit::verify(&kefu.store).await,
        Command::Export { out, reason } => transfer::export(&kefu, &out, &reason).await,
        Command::Import { input } => {
            transfer::import(&kefu.store, &input).await?;
            // An index left by an earlier database would not match this one.
            let search = cfg.data_dir.join("search");
            if search.exists() {
                std::fs::remove_dir_all(&search).with_context(|| format!("removing {}", search.display()))?;
            }
            Ok(())
        }
        Command::Keys { command: KeysCommand::Rotate } => reencrypt_all(&kefu.store).await,
        Command::Retention { command: RetentionCommand::Run } => {
            let who = format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into()));
            let r = kefu_server::jobs::retention(&kefu, &who).await.map_err(explain)?;
            println!("retention run: removed {} tickets and {} customers", r.tickets, r.customers);
            Ok(())
        }
        Command::Inventory { command: InventoryCommand::Import { file } } => {
            let csv = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let counts = kefu.import_inventory(&csv).await.map_err(explain)?;
            println!("inventory import: {} services added, {} updated", counts.added, counts.updated);
            Ok(())
        }
        Command::Migrate
        | Command::Bench { .. }
        | Command::Calendar { .. }
        | Command::Backup { .. }
        | Command::Restore { .. } => {
            unreachable!("handled before a store is opened")
        }
    }
}

fn calendar(cfg: &Config, command: CalendarCommand) -> Result<()> {
    let cal = config::load_calendar(cfg)?;
    match command {
        CalendarCommand::Add { from, working_days, hours } => {
            let start =
                chrono::DateTime::parse_from_rfc3339(&from).with_context(|| format!("'{from}' is not RFC 3339"))?;
            let utc = start.with_timezone(&chrono::Utc);
            let due = match (working_days, hours) {
                (Some(n), _) => cal.add_working_days(utc, n)?,
                (None, Some(h)) => cal.add_hours(utc, h),
                (None, None) => anyhow::bail!("give --working-days or --hours"),
            };
            println!("{}", due.with_timezone(start.offset()).to_rfc3339());
        }
        CalendarCommand::Day { date } => {
            let kind = cal.day(date)?;
            println!("{date} {} {}", if kind.is_working() { "working" } else { "off" }, kind.reason_zh());
        }
    }
    Ok(())
}

fn rotate_key_file(cfg: &Config) -> Result<()> {
    match cfg.key_source() {
        config::KeySource::Env(_) => {
            anyhow::bail!("the keys come from KEFU_KEYS; rotate them where that value is kept, or use a key file")
        }
        config::KeySource::File(path) => {
            let id = kefu_store::crypto::FieldCipher::rotate(&path).map_err(|e| anyhow::anyhow!(e))?;
            println!("key {id} added to {} and made active", path.display());
            Ok(())
        }
    }
}

/// Re-encrypts every customer under the active key, batch by batch.
async fn reencrypt_all<S: Store>(store: &S) -> Result<()> {
    let mut total = 0;
    loop {
        let n = store.reencrypt_customers(500).await?;
        total += n;
        if n == 0 {
            break;
        }
    }
    println!("re-encrypted {total} customer records");
    Ok(())
}

async fn migrate(cfg: &Config) -> Result<()> {
    let version = match cfg.backend()? {
        Backend::Sqlite(path) => {
            create_parent(&path)?;
            SqliteStore::migrate_only(&path)?
        }
        Backend::Postgres(url) => PgStore::migrate_only(&url).await?,
    };
    println!("database schema is at version {version}");
    Ok(())
}

async fn serve<S: Store>(kefu: Kefu<S>, mut cfg: Config, listen: Option<String>, demo: bool) -> Result<()> {
    if let Some(l) = listen {
        cfg.listen = l;
    }
    tracing::info!(config = %cfg.describe(), "starting kefu");
    if demo {
        demo::seed(&kefu).await?;
    }
    let listener =
        tokio::net::TcpListener::bind(&cfg.listen).await.with_context(|| format!("cannot listen on {}", cfg.listen))?;
    let jobs = tokio::spawn(kefu_server::jobs::run(kefu.clone()));
    let addr = listener.local_addr()?;
    // One line (whoever started us may read just that and close the pipe);
    // a closed stdout is no reason to stop serving.
    use std::io::Write;
    let _ = writeln!(
        std::io::stdout(),
        "kefu 客服工单系统已启动 / listening on http://{addr}/ · 工作台 console http://{addr}/console · 客户自助 portal http://{addr}/portal"
    );
    quiet_panics();
    let stopping = kefu.clone();
    kefu_server::serve_with(listener, kefu_server::router(kefu), cfg.http.clone(), async move {
        stop_signal().await;
        tracing::info!("shutting down: no new connections; requests in flight finish");
        stopping.begin_shutdown();
    })
    .await?;
    // Requests are done; the jobs end their round, release their leases
    // and flush the search index.
    if let Err(e) = jobs.await {
        tracing::warn!(error = %e, "background jobs ended abnormally");
    }
    tracing::info!("stopped");
    Ok(())
}

/// SIGTERM (a service manager, an orchestrator) or Ctrl-C.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A panic (a bug) is logged as one line with where it happened: neither
/// its message nor a backtrace, which may quote the request's personal data
/// and, repeated by a client, flood the logs. The handler's client gets a
/// 500 with the JSON error body (the router catches the panic).
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        tracing::error!(at = %at, "panic");
    }));
}

async fn user<S: Store>(kefu: &Kefu<S>, command: UserCommand) -> Result<()> {
    match command {
        UserCommand::Add { username, role, password, name } => {
            let role = Role::parse(&role, "role").map_err(|e| anyhow::anyhow!("{} / {}", e.message, e.message_zh))?;
            let u = kefu.add_user(&username, role, name.as_deref(), &password).await.map_err(explain)?;
            println!("created user {} (id {}, role {} {})", u.username, u.id, u.role.as_str(), u.role.label_zh());
        }
        UserCommand::Passwd { username, password } => {
            kefu.set_password(&username, &password).await.map_err(explain)?;
            println!("password of {username} changed");
        }
        UserCommand::Set(args) => org::set_profile(kefu, args).await?,
        UserCommand::Disable { username } => {
            kefu.set_account(&username, None, Some(false)).await.map_err(explain)?;
            println!("{username} disabled; their sessions ended");
        }
        UserCommand::Enable { username } => {
            kefu.set_account(&username, None, Some(true)).await.map_err(explain)?;
            println!("{username} enabled");
        }
        UserCommand::Role { username, role } => {
            let role = Role::parse(&role, "role").map_err(|e| anyhow::anyhow!("{} / {}", e.message, e.message_zh))?;
            kefu.set_account(&username, Some(role), None).await.map_err(explain)?;
            println!("{username} is now {} {}; their sessions ended", role.as_str(), role.label_zh());
        }
    }
    Ok(())
}

/// Service errors as a sentence for the terminal.
fn explain(e: kefu_server::error::ApiError) -> anyhow::Error {
    match e {
        kefu_server::error::ApiError::Invalid(f) => {
            anyhow::anyhow!("{}: {} / {}", f.field, f.message, f.message_zh)
        }
        kefu_server::error::ApiError::Conflict { constraint } => {
            anyhow::anyhow!("already exists ({constraint}) / 已存在")
        }
        other => anyhow::anyhow!(other.to_string()),
    }
}
