//! The events outbox, endpoints and delivery log (EventStore) in SQLite.

use crate::backend;
use crate::rows::{opt_ts, parse_ts, ts};
use chrono::{DateTime, Utc};
use kefu_domain::{TicketId, UserId};
use kefu_store::crypto::FieldCipher;
use kefu_store::{Attempt, Delivery, NewDelivery, NewWebhook, OutboxEvent, StoreResult, Webhook, WebhookPatch};
use rusqlite::{Connection, OptionalExtension, Row, params};

/// The outbox row of an audit event, written with it (see `rows::insert_event`).
pub fn enqueue(c: &Connection, ticket: TicketId, seq: i64, action: &str, at: DateTime<Utc>) -> StoreResult<()> {
    c.prepare_cached("INSERT INTO event_outbox (ticket_id, seq, action, at) VALUES (?1, ?2, ?3, ?4)")
        .map_err(backend)?
        .execute(params![ticket.0, seq, action, ts(at)])
        .map_err(backend)?;
    Ok(())
}

fn outbox_events(c: &Connection, flag: &str, limit: u32) -> StoreResult<Vec<OutboxEvent>> {
    c.prepare_cached(&format!(
        "SELECT id, ticket_id, seq, action, at FROM event_outbox WHERE {flag} = 0 ORDER BY id LIMIT ?1"
    ))
    .map_err(backend)?
    .query_map([limit], |r| {
        Ok(OutboxEvent {
            id: r.get(0)?,
            ticket: TicketId(r.get(1)?),
            seq: r.get(2)?,
            action: r.get(3)?,
            at: parse_ts(&r.get::<_, String>(4)?)?,
        })
    })
    .map_err(backend)?
    .collect::<Result<_, _>>()
    .map_err(backend)
}

fn mark(c: &Connection, ids: &[i64], set: &str) -> StoreResult<()> {
    let mut stmt = c.prepare_cached(&format!("UPDATE event_outbox SET {set} WHERE id = ?1")).map_err(backend)?;
    for id in ids {
        stmt.execute([id]).map_err(backend)?;
    }
    Ok(())
}

fn fan_out(
    c: &Connection,
    ids: &[i64],
    deliveries: &[NewDelivery],
    also_published: bool,
    now: DateTime<Utc>,
    k: &FieldCipher,
) -> StoreResult<()> {
    let mut insert = c
        .prepare_cached(
            "INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, ticket_id, payload, state, attempts,
                                             next_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, ?6)",
        )
        .map_err(backend)?;
    for d in deliveries {
        insert
            .execute(params![d.webhook, d.event_id, d.event_type, d.ticket.0, k.encrypt(&d.payload), ts(now)])
            .map_err(backend)?;
    }
    mark(c, ids, if also_published { "fanned = 1, published = 1" } else { "fanned = 1" })
}

const HOOK_COLS: &str = "id, kind, url, events, query, secret, description, owner, enabled, failures, disabled_reason,
                         created_at, updated_at";

fn hook(r: &Row, k: &FieldCipher) -> rusqlite::Result<Webhook> {
    let sealed: String = r.get(5)?;
    let events: String = r.get(3)?;
    Ok(Webhook {
        id: r.get(0)?,
        kind: r.get(1)?,
        url: r.get(2)?,
        events: serde_json::from_str(&events).unwrap_or_default(),
        query: r.get(4)?,
        // A secret that does not open signs nothing that verifies: the
        // receiver refuses, the failures count, the endpoint is switched off.
        secret: k.decrypt(&sealed).unwrap_or_default(),
        description: r.get(6)?,
        owner: UserId(r.get(7)?),
        enabled: r.get(8)?,
        failures: r.get(9)?,
        disabled_reason: r.get(10)?,
        created_at: parse_ts(&r.get::<_, String>(11)?)?,
        updated_at: parse_ts(&r.get::<_, String>(12)?)?,
    })
}

fn webhook(c: &Connection, id: i64, k: &FieldCipher) -> StoreResult<Option<Webhook>> {
    c.prepare_cached(&format!("SELECT {HOOK_COLS} FROM webhooks WHERE id = ?1"))
        .map_err(backend)?
        .query_row([id], |r| hook(r, k))
        .optional()
        .map_err(backend)
}

fn create_webhook(c: &Connection, h: &NewWebhook, k: &FieldCipher) -> StoreResult<Webhook> {
    c.prepare_cached(
        "INSERT INTO webhooks (kind, url, events, query, secret, description, owner, enabled, failures, created_at,
                               updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, 0, ?8, ?8)",
    )
    .map_err(backend)?
    .execute(params![
        h.kind,
        h.url,
        serde_json::to_string(&h.events).unwrap_or_default(),
        h.query,
        k.encrypt(&h.secret),
        h.description,
        h.owner.0,
        ts(h.now)
    ])
    .map_err(backend)?;
    webhook(c, c.last_insert_rowid(), k)?.ok_or(kefu_store::StoreError::NotFound)
}

fn update_webhook(
    c: &Connection,
    id: i64,
    p: &WebhookPatch,
    now: DateTime<Utc>,
    k: &FieldCipher,
) -> StoreResult<Option<Webhook>> {
    let Some(old) = webhook(c, id, k)? else { return Ok(None) };
    let enabled = p.enabled.unwrap_or(old.enabled);
    let switched_on = enabled && !old.enabled;
    c.prepare_cached(
        "UPDATE webhooks SET url = ?2, events = ?3, description = ?4, enabled = ?5,
                failures = CASE WHEN ?6 THEN 0 ELSE failures END,
                disabled_reason = CASE WHEN ?5 THEN NULL ELSE disabled_reason END, updated_at = ?7
         WHERE id = ?1",
    )
    .map_err(backend)?
    .execute(params![
        id,
        p.url.as_ref().unwrap_or(&old.url),
        serde_json::to_string(p.events.as_ref().unwrap_or(&old.events)).unwrap_or_default(),
        p.description.as_ref().unwrap_or(&old.description),
        enabled,
        switched_on,
        ts(now)
    ])
    .map_err(backend)?;
    webhook(c, id, k)
}

const DELIVERY_COLS: &str = "id, webhook_id, event_id, event_type, ticket_id, payload, state, attempts, next_at,
                             last_status, last_error, created_at, delivered_at";

fn delivery(r: &Row, k: &FieldCipher) -> rusqlite::Result<Delivery> {
    let sealed: String = r.get(5)?;
    Ok(Delivery {
        id: r.get(0)?,
        webhook: r.get(1)?,
        event_id: r.get(2)?,
        event_type: r.get(3)?,
        ticket: TicketId(r.get(4)?),
        payload: k.decrypt(&sealed).unwrap_or_default(),
        state: r.get(6)?,
        attempts: r.get(7)?,
        next_at: parse_ts(&r.get::<_, String>(8)?)?,
        last_status: r.get(9)?,
        last_error: r.get(10)?,
        created_at: parse_ts(&r.get::<_, String>(11)?)?,
        delivered_at: opt_ts(r.get(12)?)?,
    })
}

fn due(c: &Connection, now: DateTime<Utc>, limit: u32, k: &FieldCipher) -> StoreResult<Vec<Delivery>> {
    let cols: Vec<String> = DELIVERY_COLS.split(',').map(|c| format!("d.{}", c.trim())).collect();
    let cols = cols.join(", ");
    c.prepare_cached(&format!(
        "SELECT {cols} FROM webhooks w
         JOIN webhook_deliveries d ON d.id = (SELECT MIN(id) FROM webhook_deliveries
                                              WHERE webhook_id = w.id AND state = 'pending')
         WHERE w.enabled = 1 AND d.next_at <= ?1 ORDER BY d.id LIMIT ?2"
    ))
    .map_err(backend)?
    .query_map(params![ts(now), limit], |r| delivery(r, k))
    .map_err(backend)?
    .collect::<Result<_, _>>()
    .map_err(backend)
}

fn record_attempt(c: &Connection, a: &Attempt) -> StoreResult<()> {
    let hook: Option<i64> = c
        .prepare_cached("SELECT webhook_id FROM webhook_deliveries WHERE id = ?1")
        .map_err(backend)?
        .query_row([a.delivery], |r| r.get(0))
        .optional()
        .map_err(backend)?;
    let Some(hook) = hook else { return Ok(()) };
    let state = match (a.ok, a.retry_at) {
        (true, _) => "delivered",
        (false, Some(_)) => "pending",
        (false, None) => "failed",
    };
    c.prepare_cached(
        "UPDATE webhook_deliveries SET state = ?2, attempts = attempts + 1, next_at = COALESCE(?3, next_at),
                last_status = ?4, last_error = ?5, delivered_at = CASE WHEN ?6 THEN ?7 ELSE delivered_at END
         WHERE id = ?1",
    )
    .map_err(backend)?
    .execute(params![a.delivery, state, a.retry_at.map(ts), a.status, a.error, a.ok, ts(a.at)])
    .map_err(backend)?;
    if a.ok {
        c.prepare_cached("UPDATE webhooks SET failures = 0 WHERE id = ?1")
            .map_err(backend)?
            .execute([hook])
            .map_err(backend)?;
        return Ok(());
    }
    let reason = format!("{} failed attempts in a row / 连续{}次投递失败", a.disable_after, a.disable_after);
    c.prepare_cached(
        "UPDATE webhooks SET failures = failures + 1,
                enabled = CASE WHEN ?2 > 0 AND failures + 1 >= ?2 THEN 0 ELSE enabled END,
                disabled_reason = CASE WHEN ?2 > 0 AND failures + 1 >= ?2 AND enabled = 1 THEN ?3
                                       ELSE disabled_reason END,
                updated_at = CASE WHEN ?2 > 0 AND failures + 1 >= ?2 AND enabled = 1 THEN ?4 ELSE updated_at END
         WHERE id = ?1",
    )
    .map_err(backend)?
    .execute(params![hook, a.disable_after, reason, ts(a.at)])
    .map_err(backend)?;
    Ok(())
}

fn deliveries(
    c: &Connection,
    hook: i64,
    before: Option<i64>,
    limit: u32,
    k: &FieldCipher,
) -> StoreResult<Vec<Delivery>> {
    c.prepare_cached(&format!(
        "SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE webhook_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3"
    ))
    .map_err(backend)?
    .query_map(params![hook, before.unwrap_or(i64::MAX), limit], |r| delivery(r, k))
    .map_err(backend)?
    .collect::<Result<_, _>>()
    .map_err(backend)
}

fn replay(c: &Connection, hook: i64, id: i64, now: DateTime<Utc>, k: &FieldCipher) -> StoreResult<Option<Delivery>> {
    c.prepare_cached("UPDATE webhook_deliveries SET state = 'pending', next_at = ?3 WHERE id = ?1 AND webhook_id = ?2")
        .map_err(backend)?
        .execute(params![id, hook, ts(now)])
        .map_err(backend)?;
    c.prepare_cached(&format!("SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE id = ?1 AND webhook_id = ?2"))
        .map_err(backend)?
        .query_row(params![id, hook], |r| delivery(r, k))
        .optional()
        .map_err(backend)
}

fn prune(c: &Connection, before: DateTime<Utc>) -> StoreResult<u64> {
    let outbox = c.execute("DELETE FROM event_outbox WHERE fanned = 1 AND published = 1", []).map_err(backend)?;
    let log = c
        .execute(
            "DELETE FROM webhook_deliveries WHERE state <> 'pending' AND COALESCE(delivered_at, next_at) < ?1",
            [ts(before)],
        )
        .map_err(backend)?;
    Ok((outbox + log) as u64)
}

/// The store capabilities kept in this file: EventStore.
mod capability {
    use super::*;
    use crate::*;
    use kefu_store::EventStore;

    impl EventStore for SqliteStore {
        async fn unfanned_events(&self, limit: u32) -> StoreResult<Vec<OutboxEvent>> {
            self.read(move |c| super::outbox_events(c, "fanned", limit)).await
        }
        async fn fan_out(
            &self,
            ids: Vec<i64>,
            deliveries: Vec<NewDelivery>,
            also_published: bool,
            now: DateTime<Utc>,
        ) -> StoreResult<()> {
            let k = self.cipher.clone();
            self.writer.run(move |c| super::fan_out(c, &ids, &deliveries, also_published, now, &k)).await
        }
        async fn unpublished_events(&self, limit: u32) -> StoreResult<Vec<OutboxEvent>> {
            self.read(move |c| super::outbox_events(c, "published", limit)).await
        }
        async fn mark_published(&self, ids: Vec<i64>) -> StoreResult<()> {
            self.writer.run(move |c| super::mark(c, &ids, "published = 1")).await
        }
        async fn prune_events(&self, before: DateTime<Utc>) -> StoreResult<u64> {
            self.writer.run(move |c| super::prune(c, before)).await
        }
        async fn create_webhook(&self, hook: NewWebhook) -> StoreResult<Webhook> {
            let k = self.cipher.clone();
            self.writer.run(move |c| super::create_webhook(c, &hook, &k)).await
        }
        async fn webhooks(&self) -> StoreResult<Vec<Webhook>> {
            let k = self.cipher.clone();
            self.read(move |c| {
                c.prepare_cached(&format!("SELECT {HOOK_COLS} FROM webhooks ORDER BY id"))
                    .map_err(backend)?
                    .query_map([], |r| super::hook(r, &k))
                    .map_err(backend)?
                    .collect::<Result<_, _>>()
                    .map_err(backend)
            })
            .await
        }
        async fn webhook(&self, id: i64) -> StoreResult<Option<Webhook>> {
            let k = self.cipher.clone();
            self.read(move |c| super::webhook(c, id, &k)).await
        }
        async fn update_webhook(
            &self,
            id: i64,
            patch: WebhookPatch,
            now: DateTime<Utc>,
        ) -> StoreResult<Option<Webhook>> {
            let k = self.cipher.clone();
            self.writer.run(move |c| super::update_webhook(c, id, &patch, now, &k)).await
        }
        async fn delete_webhook(&self, id: i64) -> StoreResult<bool> {
            self.writer
                .run(move |c| {
                    c.execute("DELETE FROM webhook_deliveries WHERE webhook_id = ?1", [id]).map_err(backend)?;
                    Ok(c.execute("DELETE FROM webhooks WHERE id = ?1", [id]).map_err(backend)? > 0)
                })
                .await
        }
        async fn due_deliveries(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Delivery>> {
            let k = self.cipher.clone();
            self.read(move |c| super::due(c, now, limit, &k)).await
        }
        async fn record_attempt(&self, attempt: Attempt) -> StoreResult<()> {
            self.writer.run(move |c| super::record_attempt(c, &attempt)).await
        }
        async fn deliveries(&self, webhook: i64, before: Option<i64>, limit: u32) -> StoreResult<Vec<Delivery>> {
            let k = self.cipher.clone();
            self.read(move |c| super::deliveries(c, webhook, before, limit, &k)).await
        }
        async fn replay_delivery(
            &self,
            webhook: i64,
            delivery: i64,
            now: DateTime<Utc>,
        ) -> StoreResult<Option<Delivery>> {
            let k = self.cipher.clone();
            self.writer.run(move |c| super::replay(c, webhook, delivery, now, &k)).await
        }
    }
}
