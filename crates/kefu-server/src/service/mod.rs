//! The service: what the HTTP API, the console, the jobs, the demo loader
//! and the benchmark all call. This file is the core — settings, the rules
//! (flows, policy, calendar), the clock and the caches — and one module per
//! capability adds its part of `Kefu`:
//!
//! - `tickets`: the ticket write path (intake, actions, notes), which hands
//!   the store a decision closure that applies the flow rules inside the
//!   write transaction, and calls the capability hooks below;
//! - `dispatch`: who takes a ticket, and the team queue when nobody can;
//! - `sla`: deadline alerts, breaches and the escalation they trigger;
//! - `accounts`: staff accounts, login and sessions;
//! - `org`: departments, teams, skills and the cached organisation;
//! - `notices`: how staff notices are worded and who gets them;
//! - `messages`: what the customer is sent (receipt, result, survey) and
//!   the signed links in it;
//! - `customer_loop`: confirmation, appeals, return visits, the portal's
//!   questions and the visit report;
//! - `access`: need to know — which tickets a person may see and act on;
//! - `privacy`: revealing masked fields, the access log, a customer's
//!   export and erasure;
//! - `bot`: the smart first line — answers from the knowledge base, hands
//!   over with the transcript as a ticket; `kb_misses`: the editors' queue;
//! - `kb`: the knowledge base and its index; `ticket_search`: the ticket
//!   index, following the store's change feed, behind the list's `q`.
//!
//! Capability modules depend on the core and on the write path; the core
//! depends on none of them.

pub mod access;
mod accounts;
pub mod assessment;
pub mod attachments;
pub mod bot;
mod compensation;
pub mod customer_loop;
mod dispatch;
pub mod events;
pub mod hot;
pub mod inbound;
pub mod incidents;
mod inventory_import;
pub mod kb;
pub mod kb_misses;
pub mod kpi;
mod kpi_feed;
mod macros;
pub mod mail_in;
mod merge;
pub mod messages;
pub mod notices;
pub mod ops;
pub mod orders;
pub mod org;
mod privacy;
pub mod quality;
pub mod rectification;
pub mod report_exports;
pub mod reports;
pub mod sampling;
pub mod schedules;
pub mod security;
mod sla;
pub mod staff_records;
pub mod stores;
pub mod suggest;
pub mod ticket_search;
mod tickets;
pub mod tmf621;
pub mod violations;
pub mod wechat;

pub use accounts::{LoginResponse, valid_username};
pub use privacy::{RevealSubject, Revealed};

use crate::auth::PasswordCost;
use crate::directory::Directory;
use crate::error::ApiError;
use chrono::{DateTime, Duration, Utc};
use kefu_domain::clock::Clock;
use kefu_domain::flow::FlowSet;
use kefu_domain::policy::Policy;
use kefu_store::*;
use std::sync::Arc;

/// Settings the service takes from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub token_ttl: Duration,
    pub password_cost: PasswordCost,
    /// Channels, retries and claims of customer messages.
    pub delivery: crate::delivery::DeliveryConfig,
    /// Where customers reach kefu: the base of the links in messages.
    pub public_url: String,
    /// Signs customer links; shared by every node.
    pub link_key: crate::links::LinkKey,
    /// Message texts (shipped, or the operator's copies).
    pub templates: kefu_domain::templates::Templates,
    /// The bearer token of the metrics scraper; without one, only
    /// administrators read `/metrics`.
    pub metrics_token: Option<String>,
    /// Where this node keeps its search indexes; None: in memory.
    pub search_dir: Option<std::path::PathBuf>,
    /// The metric dictionary (shipped, or with the operator's entries).
    pub metrics: kefu_domain::metrics::Dictionary,
    /// Where orders are carried out: `[bss]` (default: the embedded inventory).
    pub bss: crate::bss::BssConfig,
    /// The product catalogue (shipped, or the operator's `catalogue.toml`).
    pub catalogue: kefu_domain::catalogue::Catalogue,
    /// Where evidence files are kept (`<data dir>/attachments`); None: uploads are refused.
    pub files: Option<crate::blobs::Blobs>,
    /// The mailbox customers write to (`[imap]`); None: no e-mail in.
    pub imap: Option<crate::imap::ImapConfig>,
    /// The event stream (`[nats]`); None: events go to webhooks only.
    pub nats: Option<crate::nats::NatsConfig>,
    /// Seconds the jobs get to finish their round at shutdown (`[http] shutdown_grace_secs`).
    pub shutdown_grace_seconds: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            token_ttl: Duration::hours(12),
            password_cost: PasswordCost::default(),
            delivery: Default::default(),
            public_url: "http://127.0.0.1:8080".into(),
            link_key: crate::links::LinkKey::random(),
            templates: kefu_domain::templates::Templates::defaults(),
            metrics_token: None,
            search_dir: None,
            metrics: kefu_domain::metrics::Dictionary::shipped(),
            bss: Default::default(),
            catalogue: kefu_domain::catalogue::Catalogue::shipped(),
            files: None,
            imap: None,
            nats: None,
            shutdown_grace_seconds: 20,
        }
    }
}

/// Everything but the store: rules, clock, caches. Shared with the render
/// closures that run inside store transactions.
pub struct Core {
    pub flows: FlowSet,
    pub policy: Policy,
    pub clock: Arc<dyn Clock>,
    pub directory: Directory,
    pub login_limiter: crate::auth::LoginLimiter,
    pub login_pairs: crate::auth::PairThrottle,
    /// Portal look-ups (number + phone) per address.
    pub portal_limiter: crate::auth::LoginLimiter,
    pub settings: Settings,
    /// The working-day calendar; the shipped years unless `with_calendar`.
    pub calendar: kefu_domain::calendar::Calendar,
    /// Staff, teams and departments, cached briefly.
    pub org: crate::directory::OrgCache,
    /// The adapters that deliver customer messages.
    pub channels: crate::delivery::Channels,
    /// This node's search indexes.
    pub search: crate::search::Search,
    /// This node's suggestion models (trained on first use).
    pub suggest: std::sync::RwLock<Option<std::sync::Arc<suggest::Models>>>,
    /// This node's first-line matcher (built on first use).
    pub bot: std::sync::RwLock<Option<std::sync::Arc<bot::BotMatcher>>>,
    /// Bot sessions and messages per address.
    pub bot_limiter: crate::auth::LoginLimiter,
    /// The bot's account, once known.
    pub bot_user: std::sync::OnceLock<kefu_domain::UserId>,
    /// The account that registers what customers send in (SMS, e-mail, WeChat).
    pub inbound_user: std::sync::OnceLock<kefu_domain::UserId>,
    /// The active major incidents, as intake matches tickets against them.
    pub incidents: incidents::ActiveIncidents,
    /// Where orders are carried out.
    pub bss: crate::bss::Bss,
    /// Readiness, shutdown and job lag.
    pub ops: ops::OpsState,
}

pub struct Kefu<S> {
    pub store: S,
    pub core: Arc<Core>,
}

impl<S: Clone> Clone for Kefu<S> {
    fn clone(&self) -> Self {
        Kefu { store: self.store.clone(), core: self.core.clone() }
    }
}

/// An `Idempotency-Key` as a request carries it: the key, the route it was
/// sent to (`METHOD /path`) and a fingerprint of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idem {
    pub key: String,
    pub scope: String,
    pub fingerprint: String,
}

impl<S: Store> Kefu<S> {
    pub async fn new(
        store: S,
        flows: FlowSet,
        policy: Policy,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> Result<Self, ApiError> {
        let directory = Directory::default();
        for u in store.list_users().await? {
            directory.remember(&u);
        }
        crate::delivery::install_tls_provider();
        let channels = crate::delivery::Channels::from_config(&settings.delivery).map_err(ApiError::Internal)?;
        let bss = crate::bss::Bss::from_config(&settings.bss).map_err(ApiError::Internal)?;
        let schema_version = store.health().await?.schema_version;
        let core = Core {
            ops: ops::OpsState::new(schema_version),
            bss,
            search: crate::search::Search::new(settings.search_dir.clone()),
            suggest: Default::default(),
            bot: Default::default(),
            bot_limiter: Default::default(),
            bot_user: Default::default(),
            inbound_user: Default::default(),
            incidents: Default::default(),
            channels,
            flows,
            policy,
            clock,
            directory,
            login_limiter: Default::default(),
            login_pairs: Default::default(),
            portal_limiter: Default::default(),
            settings,
            calendar: kefu_domain::calendar::Calendar::defaults(),
            org: Default::default(),
        };
        Ok(Kefu { store, core: Arc::new(core) })
    }

    /// Replaces the calendar (operator-added years). Call before the service
    /// is shared.
    pub fn with_calendar(mut self, calendar: kefu_domain::calendar::Calendar) -> Self {
        match Arc::get_mut(&mut self.core) {
            Some(core) => core.calendar = calendar,
            None => tracing::error!("with_calendar called on a shared service; calendar unchanged"),
        }
        self
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.core.clock.now()
    }
}
