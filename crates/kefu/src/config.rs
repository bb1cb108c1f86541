//! Configuration: defaults, then a TOML file, then `KEFU_*` environment
//! variables, then command-line flags, each overriding the one before.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    /// `sqlite://path` (default: `<data_dir>/kefu.db`) or `postgres://…`.
    pub database_url: Option<String>,
    /// Where `flows/*.toml` and `policy.toml` overrides are looked for;
    /// defaults to the config file's directory.
    pub config_dir: Option<PathBuf>,
    pub token_ttl_hours: i64,
    /// Field-encryption key file (default `<data_dir>/keys.toml`, created
    /// on first start). `KEFU_KEYS` may instead carry the file's contents.
    pub keys_file: Option<PathBuf>,
    /// `json`, `text`, or `auto` (JSON when stderr is not a terminal).
    pub log_format: String,
    /// Where customers reach kefu (the links in SMS and e-mail), e.g.
    /// `https://kefu.example.com`; default `http://<listen>`.
    pub public_url: Option<String>,
    /// Customer messages: `[delivery.smtp]`, `[delivery.sms]`, retries.
    pub delivery: kefu_server::delivery::DeliveryConfig,
    /// The bearer token the metrics scraper sends to `/metrics`
    /// (`KEFU_METRICS_TOKEN`); without one, only administrators read it.
    pub metrics_token: Option<String>,
    /// Connection limits: `[http] header_timeout_secs`, `max_connections_per_address`.
    pub http: kefu_server::ServeLimits,
    /// Where orders are carried out (`[bss] url, token, callback_token`);
    /// without a url, the embedded inventory.
    pub bss: kefu_server::bss::BssConfig,
    /// The mailbox customers write to (`[imap] host, username, password, mailbox`);
    /// the password also from `KEFU_IMAP_PASSWORD`.
    pub imap: Option<kefu_server::imap::ImapConfig>,
    /// The event stream (`[nats] url, stream, subject_prefix`); the url
    /// also from `KEFU_NATS_URL`.
    pub nats: Option<kefu_server::nats::NatsConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            config_dir: None,
            token_ttl_hours: 12,
            keys_file: None,
            log_format: "auto".into(),
            public_url: None,
            delivery: Default::default(),
            metrics_token: None,
            http: Default::default(),
            bss: Default::default(),
            imap: None,
            nats: None,
        }
    }
}

/// Where the data lives.
#[derive(Debug, Clone, PartialEq)]
pub enum Backend {
    Sqlite(PathBuf),
    Postgres(String),
}

/// Flags shared by every subcommand that touches the database.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CommonArgs {
    /// Directory for the embedded database [env: KEFU_DATA_DIR]
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Config file (TOML) [env: KEFU_CONFIG]
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
}

impl Config {
    pub fn load(args: &CommonArgs) -> Result<Config> {
        let file = args.config.clone().or_else(|| std::env::var_os("KEFU_CONFIG").map(PathBuf::from));
        let mut cfg = match &file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                let mut c: Config =
                    toml::from_str(&text).with_context(|| format!("config file {} is invalid", path.display()))?;
                if c.config_dir.is_none() {
                    c.config_dir = path.parent().map(Path::to_path_buf);
                }
                c
            }
            None => Config::default(),
        };
        cfg.apply_env()?;
        if let Some(d) = &args.data_dir {
            cfg.data_dir = d.clone();
        }
        Ok(cfg)
    }

    fn apply_env(&mut self) -> Result<()> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let Some(v) = var("KEFU_LISTEN") {
            self.listen = v;
        }
        if let Some(v) = var("KEFU_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = var("KEFU_DATABASE_URL") {
            self.database_url = Some(v);
        }
        if let Some(v) = var("KEFU_CONFIG_DIR") {
            self.config_dir = Some(v.into());
        }
        if let Some(v) = var("KEFU_TOKEN_TTL_HOURS") {
            self.token_ttl_hours = v.parse().context("KEFU_TOKEN_TTL_HOURS must be a whole number")?;
        }
        if !(1..=24 * 30).contains(&self.token_ttl_hours) {
            bail!("token_ttl_hours (KEFU_TOKEN_TTL_HOURS) is {}: it must be from 1 to 720 hours", self.token_ttl_hours);
        }
        if let Some(v) = var("KEFU_KEYS_FILE") {
            self.keys_file = Some(v.into());
        }
        if let Some(v) = var("KEFU_LOG_FORMAT") {
            self.log_format = v;
        }
        if let Some(v) = var("KEFU_METRICS_TOKEN") {
            self.metrics_token = Some(v);
        }
        if let Some(v) = var("KEFU_PUBLIC_URL") {
            self.public_url = Some(v);
        }
        // Secrets of the BSS adapter are better kept out of the config file.
        if let Some(v) = var("KEFU_BSS_URL") {
            self.bss.url = Some(v);
        }
        if let Some(v) = var("KEFU_BSS_TOKEN") {
            self.bss.token = Some(v);
        }
        if let Some(v) = var("KEFU_BSS_CALLBACK_TOKEN") {
            self.bss.callback_token = Some(v);
        }
        if let Some(v) = var("KEFU_NATS_URL") {
            match &mut self.nats {
                Some(n) => n.url = v,
                None => self.nats = Some(kefu_server::nats::NatsConfig::new(&v)),
            }
        }
        Ok(())
    }

    /// The store this configuration points at.
    pub fn backend(&self) -> Result<Backend> {
        match self.database_url.as_deref() {
            None => Ok(Backend::Sqlite(self.data_dir.join("kefu.db"))),
            Some(url) if url.starts_with("sqlite://") => Ok(Backend::Sqlite(PathBuf::from(&url["sqlite://".len()..]))),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Backend::Postgres(url.to_string()))
            }
            Some(url) => {
                bail!("unsupported database_url '{}': expected sqlite://… or postgres://…", mask_password(url))
            }
        }
    }

    /// The effective configuration for the start-up log (no secrets here yet;
    /// a database URL's password is masked).
    pub fn describe(&self) -> String {
        let db = self
            .database_url
            .as_deref()
            .map_or_else(|| format!("sqlite://{}", self.data_dir.join("kefu.db").display()), mask_password);
        format!(
            "listen={} data_dir={} database={} config_dir={} token_ttl_hours={}",
            self.listen,
            self.data_dir.display(),
            db,
            self.config_dir.as_ref().map_or_else(|| "-".to_string(), |d| d.display().to_string()),
            self.token_ttl_hours
        )
    }
}

fn mask_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:****{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Where the field-encryption keys come from.
pub enum KeySource {
    Env(String),
    File(PathBuf),
}

impl KeySource {
    /// Where the keys came from, for messages (never the keys).
    pub fn describe(&self) -> String {
        match self {
            KeySource::Env(_) => "KEFU_KEYS".into(),
            KeySource::File(p) => p.display().to_string(),
        }
    }
}

impl Config {
    pub fn key_source(&self) -> KeySource {
        match std::env::var("KEFU_KEYS").ok().filter(|v| !v.trim().is_empty()) {
            Some(text) => KeySource::Env(text),
            None => KeySource::File(self.keys_file.clone().unwrap_or_else(|| self.data_dir.join("keys.toml"))),
        }
    }

    /// The cipher for the sensitive customer fields, creating a key file
    /// with fresh keys on first start.
    pub fn cipher(&self) -> Result<std::sync::Arc<kefu_store::crypto::FieldCipher>> {
        let cipher = match self.key_source() {
            KeySource::Env(text) => {
                kefu_store::crypto::FieldCipher::from_toml(&text).map_err(|e| anyhow::anyhow!("KEFU_KEYS: {e}"))?
            }
            KeySource::File(path) => {
                let (c, created) =
                    kefu_store::crypto::FieldCipher::load_or_create(&path).map_err(|e| anyhow::anyhow!(e))?;
                if created {
                    eprintln!(
                        "generated new field-encryption keys in {} — keep a copy apart from the database backups; \
                         without it the customers' phone, ID and address fields cannot be read",
                        path.display()
                    );
                }
                c
            }
        };
        Ok(std::sync::Arc::new(cipher))
    }
}

/// `(file name, text)` of every `*.toml` in `<config_dir>/<sub>`, sorted.
fn toml_files(cfg: &Config, sub: &str) -> Result<Vec<(String, String)>> {
    let Some(dir) = cfg.config_dir.as_ref().map(|d| d.join(sub)).filter(|d| d.is_dir()) else {
        return Ok(Vec::new());
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files.into_iter().map(|f| Ok((f.display().to_string(), std::fs::read_to_string(&f)?))).collect()
}

/// The working-day calendar: the shipped years plus `<config_dir>/calendar/*.toml`
/// (a new year, or a corrected one). A malformed file stops the start.
pub fn load_calendar(cfg: &Config) -> Result<kefu_domain::calendar::Calendar> {
    Ok(kefu_domain::calendar::Calendar::load(&toml_files(cfg, "calendar")?)?)
}

/// Reads the operator's flow and policy overrides from the config directory.
pub fn load_rules(cfg: &Config) -> Result<(kefu_domain::flow::FlowSet, kefu_domain::policy::Policy)> {
    let mut policy = kefu_domain::policy::Policy::defaults();
    if let Some(policy_file) = cfg.config_dir.as_ref().map(|d| d.join("policy.toml")).filter(|f| f.is_file()) {
        let text = std::fs::read_to_string(&policy_file)?;
        policy = kefu_domain::policy::Policy::parse(&policy_file.display().to_string(), &text).map_err(|e| {
            anyhow::anyhow!("{} (line {})", e, e.line.map_or_else(|| "?".to_string(), |l| l.to_string()))
        })?;
    }
    let flows = kefu_domain::flow::FlowSet::load(&toml_files(cfg, "flows")?)?;
    Ok((flows, policy))
}

/// The metric dictionary: the shipped metrics with the entries of
/// `<config dir>/metrics.toml` on top, checked against the policy.
pub fn load_metrics(cfg: &Config, policy: &kefu_domain::policy::Policy) -> Result<kefu_domain::metrics::Dictionary> {
    let file = cfg.config_dir.as_ref().map(|d| d.join("metrics.toml")).filter(|f| f.is_file());
    let text = match &file {
        Some(f) => Some((f.display().to_string(), std::fs::read_to_string(f)?)),
        None => None,
    };
    kefu_domain::metrics::Dictionary::load(text.as_ref().map(|(n, t)| (n.as_str(), t.as_str())), policy)
        .map_err(|e| anyhow::anyhow!(e))
}

/// The product catalogue: the operator's `<config dir>/catalogue.toml`
/// (from its BSS), else the one kefu ships for the demo.
pub fn load_catalogue(cfg: &Config) -> Result<kefu_domain::catalogue::Catalogue> {
    match cfg.config_dir.as_ref().map(|d| d.join("catalogue.toml")).filter(|f| f.is_file()) {
        Some(f) => {
            let text = std::fs::read_to_string(&f).with_context(|| format!("cannot read {}", f.display()))?;
            kefu_domain::catalogue::Catalogue::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))
        }
        None => Ok(kefu_domain::catalogue::Catalogue::shipped()),
    }
}

/// The message templates, with the operator's copies from
/// `<config dir>/templates/*.toml`.
pub fn load_templates(cfg: &Config) -> Result<kefu_domain::templates::Templates> {
    let files: Vec<(String, String)> = toml_files(cfg, "templates")?
        .into_iter()
        .map(|(path, text)| {
            let name =
                std::path::Path::new(&path).file_name().map_or(path.clone(), |n| n.to_string_lossy().into_owned());
            (name, text)
        })
        .collect();
    kefu_domain::templates::Templates::load(&files).map_err(|e| {
        anyhow::anyhow!(
            "{}/templates: {e}",
            cfg.config_dir.as_ref().map_or_else(String::new, |d| d.display().to_string())
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_database_passwords() {
        assert_eq!(mask_password("postgres://kefu:s3cret@db:5432/kefu"), "postgres://kefu:****@db:5432/kefu");
        assert_eq!(mask_password("sqlite://data/kefu.db"), "sqlite://data/kefu.db");
    }

    #[test]
    fn backend_follows_the_database_url() {
        let c = Config { data_dir: "/tmp/x".into(), ..Config::default() };
        assert_eq!(c.backend().unwrap(), Backend::Sqlite(PathBuf::from("/tmp/x/kefu.db")));
        let c = Config { database_url: Some("sqlite:///var/kefu.db".into()), ..Config::default() };
        assert_eq!(c.backend().unwrap(), Backend::Sqlite(PathBuf::from("/var/kefu.db")));
        let c = Config { database_url: Some("postgres://kefu@db/kefu".into()), ..Config::default() };
        assert_eq!(c.backend().unwrap(), Backend::Postgres("postgres://kefu@db/kefu".into()));
        let c = Config { database_url: Some("mysql://x".into()), ..Config::default() };
        assert!(c.backend().is_err());
    }
}

#[cfg(test)]
mod override_tests {
    use super::*;

    fn with_dir(files: &[(&str, &str)]) -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let cfg = Config { config_dir: Some(dir.path().to_path_buf()), ..Config::default() };
        (dir, cfg)
    }

    #[test]
    fn flows_and_policy_are_overridden_from_the_config_dir() {
        let fault = kefu_domain::flow::DEFAULT_FLOWS.iter().find(|(f, _)| *f == "fault.toml").unwrap().1;
        let edited = fault.replace("label_zh = \"故障报修\"", "label_zh = \"网络故障\"");
        let policy = "[priority]\ndefault = \"important\"\n";
        let (_d, cfg) = with_dir(&[("flows/fault.toml", &edited), ("policy.toml", policy)]);
        let (flows, policy) = load_rules(&cfg).unwrap();
        assert_eq!(flows.get(kefu_domain::TicketType::Fault).label_zh, "网络故障");
        assert_eq!(policy.priority.default, kefu_domain::Priority::Important);
    }

    #[test]
    fn calendar_years_are_added_from_the_config_dir() {
        let y = "year = 2027\nsource = \"test\"\n[[holidays]]\nname = \"元旦\"\nfrom = \"2027-01-01\"\nto = \"2027-01-01\"\n";
        let (_d, cfg) = with_dir(&[("calendar/2027.toml", y)]);
        let cal = load_calendar(&cfg).unwrap();
        assert_eq!(cal.years(), vec![2025, 2026, 2027]);
        let (_d, cfg) = with_dir(&[("calendar/2027.toml", "year = 2027\n")]);
        assert!(load_calendar(&cfg).unwrap_err().to_string().contains("2027.toml"));
    }

    #[test]
    fn malformed_overrides_are_refused_with_file_and_line() {
        let (_d, cfg) =
            with_dir(&[("policy.toml", "[priority]\ndefault = \"normal\"\n[[priority.rules]]\npriority = \"soon\"\n")]);
        let e = load_rules(&cfg).unwrap_err().to_string();
        assert!(e.contains("policy.toml") && e.contains("line 4"), "{e}");
        let (_d, cfg) = with_dir(&[("flows/fault.toml", "type = \"fault\"\n")]);
        assert!(load_rules(&cfg).unwrap_err().to_string().contains("fault.toml"));
    }
}
