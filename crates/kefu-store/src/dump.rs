//! The backend-neutral description of every table, for `kefu export` and
//! `kefu import`: rows travel as JSON objects whose values have one form in
//! every backend (times as canonical RFC 3339 text, JSON columns as JSON,
//! booleans as booleans), so a move between SQLite and PostgreSQL is
//! lossless and audit chains still verify.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Text,
    Time,
    /// JSON kept as text by both backends.
    Json,
    Bool,
}

#[derive(Debug)]
pub struct TableSpec {
    pub name: &'static str,
    pub columns: &'static [(&'static str, Kind)],
    /// Columns that order the export (the primary key).
    pub order_by: &'static str,
    /// The identity column whose sequence must move past imported ids.
    pub identity: Option<&'static str>,
}

use Kind::*;

/// Tables in an order that respects foreign keys (users and teams refer to
/// each other: teams come first with their leads, which the import sets
/// after the users; see `deferred`).
pub const TABLES: &[TableSpec] = &[
    TableSpec {
        name: "departments",
        columns: &[("id", Int), ("code", Text), ("name", Text), ("created_at", Time)],
        order_by: "id",
        identity: Some("id"),
    },
    TableSpec {
        name: "teams",
        columns: &[("id", Int), ("department_id", Int), ("code", Text), ("name", Text), ("created_at", Time)],
        order_by: "id",
        identity: Some("id"),
    },
    TableSpec {
        name: "users",
        columns: &[
            ("id", Int),
            ("username", Text),
            ("display_name", Text),
            ("role", Text),
            ("active", Bool),
            ("password_hash", Text),
            ("created_at", Time),
            ("failed_logins", Int),
            ("locked_until", Time),
            ("team_id", Int),
            ("tier", Int),
            ("skills", Json),
            ("capacity", Int),
            ("on_duty", Bool),
            ("last_assigned_at", Time),
            ("email", Text),
        ],
        order_by: "id",
        identity: Some("id"),
    },
    TableSpec {
        name: "sessions",
        columns: &[("token_hash", Text), ("user_id", Int), ("created_at", Time), ("expires_at", Time)],
        order_by: "token_hash",
        identity: None,
    },
    TableSpec {
        name: "customers",
        columns: &[
            ("id", Int),
            ("name", Text),
            ("phone", Text),
            ("id_number", Text),
            ("address", Text),
            ("level", Text),
            ("phone_idx", Text),
            ("id_idx", Text),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        order_by: "id",
        identity: Some("id"),
    },
    TableSpec { name: "ticket_numbers", columns: &[("day", Text), ("last_seq", Int)], order_by: "day", identity: None },
    TableSpec {
        name: "tickets",
        columns: &[
            ("id", Int),
            ("number", Text),
            ("channel", Text),
            ("type", Text),
            ("priority", Text),
            ("status", Text),
            ("customer_id", Int),
            ("first_owner", Int),
            ("assignee", Int),
            ("created_at", Time),
            ("updated_at", Time),
            ("next_due_at", Time),
            ("next_alert_at", Time),
            ("is_open", Int),
            ("team_id", Int),
            ("tier", Int),
            ("transfer_key", Text),
            ("next_warn_at", Time),
            ("rev", Int),
            ("doc", Json),
        ],
        order_by: "id",
        identity: Some("id"),
    },
    TableSpec {
        name: "ticket_events",
        columns: &[
            ("ticket_id", Int),
            ("seq", Int),
            ("at", Time),
            ("actor", Int),
            ("actor_name", Text),
            ("action", Text),
            ("data", Json),
            ("before", Json),
            ("after", Json),
            ("prev_hash", Text),
            ("hash", Text),
        ],
        order_by: "ticket_id, seq",
        identity: None,
    },
    TableSpec {
        name: "transfers",
        columns: &[
            ("id", Int),
            ("ticket_id", Int),
            ("from_user", Int),
            ("to_user", Int),
            ("to_team", Int),
            ("to_department", Int),
            ("decided_by", Int),
            ("reason", Text),
            ("mode", Text),
            ("state", Text),
            ("result", Text),
            ("customer_feedback", Text),
            ("created_at", Time),
            ("decided_at", Time),
        ],
        order_by: "id",
        identity: Some("id"),
    },
    TableSpec {
        name: "comments",
        columns: &[
            ("id", Int),
            ("ticket_id", Int),
            ("author", Int),
            ("body", Text),
            ("internal", Bool),
            ("mentions", Json),
            ("created_at", Time),
        ],
        order_by: "id",
        identity: Some("id"),
    },
    TableSpec {
        name: "team_leads",
        columns: &[("team_id", Int), ("user_id", Int)],
        order_by: "team_id",
        identity: None,
    },
    TableSpec {
        name: "notices",
        columns: &[
            ("id", Int),
            ("user_id", Int),
            ("ticket_id", Int),
            ("kind", Text),
            ("message", Text),
            ("message_zh", Text),
            ("created_at", Time),
            ("read_at", Time),
        ],
        order_by: "id",
        identity: Some("id"),
    },
    TableSpec {
        name: "kb_articles",
        columns: &[
            ("code", Text),
            ("doc", Json),
            ("category", Text),
            ("status", Text),
            ("version", Int),
            ("updated_by", Text),
            ("created_at", Time),
            ("updated_at", Time),
            ("rev", Int),
            ("deleted", Bool),
        ],
        order_by: "code",
        identity: None,
    },
    TableSpec {
        name: "kb_versions",
        columns: &[("code", Text), ("version", Int), ("doc", Json), ("updated_by", Text), ("at", Time)],
        order_by: "code, version",
        identity: None,
    },
    TableSpec {
        name: "kb_feedback",
        columns: &[("id", Int), ("code", Text), ("helpful", Bool), ("reason", Text), ("source", Text), ("at", Time)],
        order_by: "id",
        identity: Some("id"),
    },
    TableSpec {
        name: "bot_sessions",
        columns: &[("id", Text), ("doc", Text), ("turns", Int), ("created_at", Time), ("updated_at", Time)],
        order_by: "id",
        identity: None,
    },
    TableSpec {
        name: "kb_misses",
        columns: &[
            ("id", Int),
            ("kind", Text),
            ("text", Text),
            ("code", Text),
            ("keywords", Json),
            ("session_id", Text),
            ("at", Time),
            ("resolved_at", Time),
            ("resolved_by", Text),
            ("resolution", Text),
        ],
        order_by: "id",
        identity: Some("id"),
    },
    TableSpec {
        name: "report_schedules",
        columns: &[
            ("id", Int),
            ("owner", Int),
            ("name", Text),
            ("frequency", Text),
            ("scope", Text),
            ("recipients", Text),
            ("next_run_at", Time),
            ("last_run_at", Time),
            ("created_at", Time),
        ],
        order_by: "id",
        identity: Some("id"),
    },
    TableSpec {
        name: "trained_models",
        columns: &[("name", Text), ("rev", Int), ("doc", Text), ("store_count", Int), ("trained_at", Time)],
        order_by: "name",
        identity: None,
    },
    TableSpec {
        name: "search_lexicon",
        columns: &[("id", Int), ("doc", Json), ("updated_by", Text), ("updated_at", Time), ("rev", Int)],
        order_by: "id",
        identity: None,
    },
    TableSpec {
        name: "macros",
        columns: &[
            ("id", Int),
            ("owner_id", Int),
            ("name", Text),
            ("shared", Bool),
            ("body", Text),
            ("internal", Bool),
            ("priority", Text),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        order_by: "id",
        identity: Some("id"),
    },
    TableSpec {
        name: "sla_breaches",
        columns: &[("id", Int), ("ticket_id", Int), ("kind", Text), ("due_at", Time), ("breached_at", Time)],
        order_by: "id",
        identity: Some("id"),
    },
    TableSpec {
        name: "outbox",
        columns: &[
            ("id", Int),
            ("ticket_id", Int),
            ("kind", Text),
            ("channel", Text),
            ("recipient", Text),
            ("subject", Text),
            ("body", Text),
            ("state", Text),
            ("attempts", Int),
            ("next_attempt_at", Time),
            ("claimed_by", Text),
            ("claimed_until", Time),
            ("last_error", Text),
            ("provider_id", Text),
            ("created_at", Time),
            ("sent_at", Time),
            ("delivered_at", Time),
        ],
        order_by: "id",
        identity: Some("id"),
    },
    TableSpec {
        name: "visits",
        columns: &[
            ("ticket_id", Int),
            ("team_id", Int),
            ("method", Text),
            ("state", Text),
            ("attempts", Int),
            ("resolved_at", Time),
            ("due_at", Time),
            ("satisfaction", Int),
            ("nps", Int),
            ("visited_at", Time),
        ],
        order_by: "ticket_id",
        identity: None,
    },
    TableSpec {
        name: "access_log",
        columns: &[
            ("id", Int),
            ("at", Time),
            ("actor", Int),
            ("actor_name", Text),
            ("action", Text),
            ("subject", Text),
            ("field", Text),
            ("reason", Text),
        ],
        order_by: "id",
        identity: Some("id"),
    },
    TableSpec {
        name: "idempotency_keys",
        columns: &[
            ("user_id", Int),
            ("key", Text),
            ("status", Int),
            ("body", Json),
            ("created_at", Time),
            ("fingerprint", Text),
        ],
        order_by: "user_id, key",
        identity: None,
    },
    TableSpec {
        name: "login_addresses",
        columns: &[("user_id", Int), ("addr_idx", Text), ("last_at", Time)],
        order_by: "user_id, addr_idx",
        identity: None,
    },
];

pub fn table(name: &str) -> Option<&'static TableSpec> {
    TABLES.iter().find(|t| t.name == name)
}

/// One line of an export file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DumpLine {
    pub table: String,
    pub row: Map<String, Value>,
}

/// Rows per export page and per import batch.
pub const BATCH: u32 = 2_000;
