//! The audit trail (R-43): append-only events per ticket, each carrying the
//! SHA-256 of its own content and of the previous event, so any edit,
//! deletion or reordering breaks the chain at a point `verify_chain` names.

use crate::ids::{TicketId, UserId};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first event of every chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEvent {
    pub ticket_id: TicketId,
    /// 1-based position in the ticket's chain.
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: Option<UserId>,
    pub actor_name: String,
    pub action: String,
    /// The request data (reasons, results, ratings …).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: Value,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub before: Value,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub after: Value,
    pub prev_hash: String,
    pub hash: String,
}

/// Times enter the hash in one fixed textual form, the same one the stores
/// keep, so a chain verifies after any store round trip.
pub fn canonical_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// JSON with object keys sorted at every level: the hashed form must not
/// depend on map ordering.
pub fn canonical_json(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let inner: Vec<String> =
                keys.iter().map(|k| format!("{}:{}", Value::String((*k).clone()), canonical_json(&m[*k]))).collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(canonical_json).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

impl AuditEvent {
    /// Builds the next event of a chain and seals it.
    #[allow(clippy::too_many_arguments)]
    pub fn seal(
        ticket_id: TicketId,
        seq: i64,
        at: DateTime<Utc>,
        actor: Option<UserId>,
        actor_name: &str,
        action: &str,
        data: Value,
        before: Value,
        after: Value,
        prev_hash: &str,
    ) -> AuditEvent {
        let mut e = AuditEvent {
            ticket_id,
            seq,
            // Truncate to what canonical_time keeps, so the stored value hashes the same.
            at: DateTime::parse_from_rfc3339(&canonical_time(at)).map_or(at, |t| t.with_timezone(&Utc)),
            actor,
            actor_name: actor_name.to_string(),
            action: action.to_string(),
            data,
            before,
            after,
            prev_hash: prev_hash.to_string(),
            hash: String::new(),
        };
        e.hash = e.compute_hash();
        e
    }

    pub fn compute_hash(&self) -> String {
        let body = serde_json::json!({
            "ticket_id": self.ticket_id,
            "seq": self.seq,
            "at": canonical_time(self.at),
            "actor": self.actor,
            "actor_name": self.actor_name,
            "action": self.action,
            "data": self.data,
            "before": self.before,
            "after": self.after,
            "prev_hash": self.prev_hash,
        });
        let digest = Sha256::digest(canonical_json(&body).as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The first broken link of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenLink {
    pub ticket_id: TicketId,
    pub seq: i64,
    pub reason: String,
}

/// Checks one ticket's events, given in `seq` order.
pub fn verify_chain(ticket_id: TicketId, events: &[AuditEvent]) -> Result<(), BrokenLink> {
    let broken = |seq: i64, reason: String| Err(BrokenLink { ticket_id, seq, reason });
    let mut prev = GENESIS.to_string();
    for (i, e) in events.iter().enumerate() {
        let expected_seq = i as i64 + 1;
        if e.seq != expected_seq {
            return broken(expected_seq, format!("event {expected_seq} is missing (found seq {})", e.seq));
        }
        if e.prev_hash != prev {
            return broken(e.seq, "prev_hash does not match the previous event's hash".into());
        }
        if e.compute_hash() != e.hash {
            return broken(e.seq, "content does not match its hash (event was altered)".into());
        }
        prev = e.hash.clone();
    }
    if events.is_empty() {
        return broken(1, "ticket has no events (its registration record is missing)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chain(n: i64) -> Vec<AuditEvent> {
        let t0: DateTime<Utc> = "2026-11-22T08:00:00.123456789Z".parse().unwrap();
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let e = AuditEvent::seal(
                    TicketId(7),
                    seq,
                    t0 + chrono::Duration::seconds(seq),
                    Some(UserId(1)),
                    "agent1",
                    "start",
                    json!({"reason": "测试", "b": 1, "a": 2}),
                    json!({"status": "dispatched"}),
                    json!({"status": "in_progress"}),
                    &prev,
                );
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    #[test]
    fn intact_chain_verifies() {
        assert_eq!(verify_chain(TicketId(7), &chain(5)), Ok(()));
    }

    #[test]
    fn altered_event_is_named() {
        let mut c = chain(5);
        c[2].after = json!({"status": "resolved"});
        let e = verify_chain(TicketId(7), &c).unwrap_err();
        assert_eq!(e.seq, 3);
        assert!(e.reason.contains("altered"));
    }

    #[test]
    fn rehashed_event_breaks_the_next_link() {
        let mut c = chain(5);
        c[1].actor_name = "mallory".into();
        c[1].hash = c[1].compute_hash();
        assert_eq!(verify_chain(TicketId(7), &c).unwrap_err().seq, 3);
    }

    #[test]
    fn deleted_event_is_found() {
        let mut c = chain(5);
        c.remove(3);
        let e = verify_chain(TicketId(7), &c).unwrap_err();
        assert_eq!(e.seq, 4);
        assert!(e.reason.contains("missing"));
        assert!(verify_chain(TicketId(7), &[]).is_err());
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let a = json!({"b": {"y": 1, "x": [{"d": 1, "c": 2}]}, "a": "中"});
        assert_eq!(canonical_json(&a), r#"{"a":"中","b":{"x":[{"c":2,"d":1}],"y":1}}"#);
    }

    #[test]
    fn time_survives_text_round_trip() {
        let c = chain(1);
        let text = canonical_time(c[0].at);
        let mut back = c[0].clone();
        back.at = DateTime::parse_from_rfc3339(&text).unwrap().with_timezone(&Utc);
        assert_eq!(back.compute_hash(), c[0].hash);
    }
}
