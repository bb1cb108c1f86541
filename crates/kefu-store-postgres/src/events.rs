//! The events outbox, endpoints and delivery log (EventStore) in PostgreSQL.
//! The outbox row itself is written by `rows::insert_event`.

use crate::pg;
use chrono::{DateTime, Utc};
use kefu_domain::{TicketId, UserId};
use kefu_store::crypto::FieldCipher;
use kefu_store::{Attempt, Delivery, NewDelivery, NewWebhook, OutboxEvent, StoreResult, Webhook, WebhookPatch};
use tokio_postgres::Row;

const HOOK_COLS: &str = "id, kind, url, events, query, secret, description, owner, enabled, failures, disabled_reason,
                         created_at, updated_at";

fn hook(r: &Row, k: &FieldCipher) -> Webhook {
    let events: String = r.get(3);
    Webhook {
        id: r.get(0),
        kind: r.get(1),
        url: r.get(2),
        events: serde_json::from_str(&events).unwrap_or_default(),
        query: r.get(4),
        // A secret that does not open signs nothing that verifies: the
        // receiver refuses, the failures count, the endpoint is switched off.
        secret: k.decrypt(r.get(5)).unwrap_or_default(),
        description: r.get(6),
        owner: UserId(r.get(7)),
        enabled: r.get(8),
        failures: r.get::<_, i32>(9).max(0) as u32,
        disabled_reason: r.get(10),
        created_at: r.get(11),
        updated_at: r.get(12),
    }
}

const DELIVERY_COLS: &str = "id, webhook_id, event_id, event_type, ticket_id, payload, state, attempts, next_at,
                             last_status, last_error, created_at, delivered_at";

fn delivery(r: &Row, k: &FieldCipher) -> Delivery {
    Delivery {
        id: r.get(0),
        webhook: r.get(1),
        event_id: r.get(2),
        event_type: r.get(3),
        ticket: TicketId(r.get(4)),
        payload: k.decrypt(r.get(5)).unwrap_or_default(),
        state: r.get(6),
        attempts: r.get::<_, i32>(7).max(0) as u32,
        next_at: r.get(8),
        last_status: r.get::<_, Option<i32>>(9).map(|s| s.clamp(0, u16::MAX as i32) as u16),
        last_error: r.get(10),
        created_at: r.get(11),
        delivered_at: r.get(12),
    }
}

fn outbox_event(r: &Row) -> OutboxEvent {
    OutboxEvent { id: r.get(0), ticket: TicketId(r.get(1)), seq: r.get(2), action: r.get(3), at: r.get(4) }
}

/// The store capabilities kept in this file: EventStore.
mod capability {
    use super::*;
    use crate::*;
    use kefu_store::EventStore;

    impl PgStore {
        async fn outbox_events(&self, flag: &str, limit: u32) -> StoreResult<Vec<OutboxEvent>> {
            let rows = self
                .client()
                .await?
                .query(
                    &format!(
                        "SELECT id, ticket_id, seq, action, at FROM event_outbox WHERE NOT {flag} ORDER BY id LIMIT $1"
                    ),
                    &[&(limit as i64)],
                )
                .await
                .map_err(pg)?;
            Ok(rows.iter().map(outbox_event).collect())
        }
        async fn hook_by_id(&self, c: &impl deadpool_postgres::GenericClient, id: i64) -> StoreResult<Option<Webhook>> {
            let row =
                c.query_opt(&format!("SELECT {HOOK_COLS} FROM webhooks WHERE id = $1"), &[&id]).await.map_err(pg)?;
            Ok(row.map(|r| hook(&r, &self.cipher)))
        }
    }

    impl EventStore for PgStore {
        async fn unfanned_events(&self, limit: u32) -> StoreResult<Vec<OutboxEvent>> {
            self.outbox_events("fanned", limit).await
        }
        async fn fan_out(
            &self,
            ids: Vec<i64>,
            deliveries: Vec<NewDelivery>,
            also_published: bool,
            now: DateTime<Utc>,
        ) -> StoreResult<()> {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(pg)?;
            let insert = tx
                .prepare_cached(
                    "INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, ticket_id, payload, state,
                                                     attempts, next_at, created_at)
                     VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6)",
                )
                .await
                .map_err(pg)?;
            for d in &deliveries {
                let sealed = self.cipher.encrypt(&d.payload);
                tx.execute(&insert, &[&d.webhook, &d.event_id, &d.event_type, &d.ticket.0, &sealed, &now])
                    .await
                    .map_err(pg)?;
            }
            let set = if also_published { "fanned = TRUE, published = TRUE" } else { "fanned = TRUE" };
            tx.execute(&format!("UPDATE event_outbox SET {set} WHERE id = ANY($1)"), &[&ids]).await.map_err(pg)?;
            tx.commit().await.map_err(pg)
        }
        async fn unpublished_events(&self, limit: u32) -> StoreResult<Vec<OutboxEvent>> {
            self.outbox_events("published", limit).await
        }
        async fn mark_published(&self, ids: Vec<i64>) -> StoreResult<()> {
            self.client()
                .await?
                .execute("UPDATE event_outbox SET published = TRUE WHERE id = ANY($1)", &[&ids])
                .await
                .map_err(pg)?;
            Ok(())
        }
        async fn prune_events(&self, before: DateTime<Utc>) -> StoreResult<u64> {
            let client = self.client().await?;
            let outbox =
                client.execute("DELETE FROM event_outbox WHERE fanned AND published", &[]).await.map_err(pg)?;
            let log = client
                .execute(
                    "DELETE FROM webhook_deliveries WHERE state <> 'pending' AND COALESCE(delivered_at, next_at) < $1",
                    &[&before],
                )
                .await
                .map_err(pg)?;
            Ok(outbox + log)
        }
        async fn create_webhook(&self, h: NewWebhook) -> StoreResult<Webhook> {
            let client = self.client().await?;
            let row = client
                .query_one(
                    &format!(
                        "INSERT INTO webhooks (kind, url, events, query, secret, description, owner, enabled, failures,
                                               created_at, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, TRUE, 0, $8, $8) RETURNING {HOOK_COLS}"
                    ),
                    &[
                        &h.kind,
                        &h.url,
                        &serde_json::to_string(&h.events).unwrap_or_default(),
                        &h.query,
                        &self.cipher.encrypt(&h.secret),
                        &h.description,
                        &h.owner.0,
                        &h.now,
                    ],
                )
                .await
                .map_err(pg)?;
            Ok(hook(&row, &self.cipher))
        }
        async fn webhooks(&self) -> StoreResult<Vec<Webhook>> {
            let rows = self
                .client()
                .await?
                .query(&format!("SELECT {HOOK_COLS} FROM webhooks ORDER BY id"), &[])
                .await
                .map_err(pg)?;
            Ok(rows.iter().map(|r| hook(r, &self.cipher)).collect())
        }
        async fn webhook(&self, id: i64) -> StoreResult<Option<Webhook>> {
            self.hook_by_id(&self.client().await?, id).await
        }
        async fn update_webhook(&self, id: i64, p: WebhookPatch, now: DateTime<Utc>) -> StoreResult<Option<Webhook>> {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(pg)?;
            let Some(old) = self.hook_by_id(&tx, id).await? else { return Ok(None) };
            let enabled = p.enabled.unwrap_or(old.enabled);
            let switched_on = enabled && !old.enabled;
            tx.execute(
                "UPDATE webhooks SET url = $2, events = $3, description = $4, enabled = $5,
                        failures = CASE WHEN $6 THEN 0 ELSE failures END,
                        disabled_reason = CASE WHEN $5 THEN NULL ELSE disabled_reason END, updated_at = $7
                 WHERE id = $1",
                &[
                    &id,
                    p.url.as_ref().unwrap_or(&old.url),
                    &serde_json::to_string(p.events.as_ref().unwrap_or(&old.events)).unwrap_or_default(),
                    p.description.as_ref().unwrap_or(&old.description),
                    &enabled,
                    &switched_on,
                    &now,
                ],
            )
            .await
            .map_err(pg)?;
            let hook = self.hook_by_id(&tx, id).await?;
            tx.commit().await.map_err(pg)?;
            Ok(hook)
        }
        async fn delete_webhook(&self, id: i64) -> StoreResult<bool> {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(pg)?;
            tx.execute("DELETE FROM webhook_deliveries WHERE webhook_id = $1", &[&id]).await.map_err(pg)?;
            let n = tx.execute("DELETE FROM webhooks WHERE id = $1", &[&id]).await.map_err(pg)?;
            tx.commit().await.map_err(pg)?;
            Ok(n > 0)
        }
        async fn due_deliveries(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Delivery>> {
            let cols: Vec<String> = DELIVERY_COLS.split(',').map(|c| format!("d.{}", c.trim())).collect();
            let cols = cols.join(", ");
            let rows = self
                .client()
                .await?
                .query(
                    &format!(
                        "SELECT {cols} FROM webhooks w
                         JOIN webhook_deliveries d ON d.id = (SELECT MIN(id) FROM webhook_deliveries
                                                              WHERE webhook_id = w.id AND state = 'pending')
                         WHERE w.enabled AND d.next_at <= $1 ORDER BY d.id LIMIT $2"
                    ),
                    &[&now, &(limit as i64)],
                )
                .await
                .map_err(pg)?;
            Ok(rows.iter().map(|r| delivery(r, &self.cipher)).collect())
        }
        async fn record_attempt(&self, a: Attempt) -> StoreResult<()> {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(pg)?;
            let Some(row) = tx
                .query_opt("SELECT webhook_id FROM webhook_deliveries WHERE id = $1", &[&a.delivery])
                .await
                .map_err(pg)?
            else {
                return Ok(());
            };
            let hook: i64 = row.get(0);
            let state = match (a.ok, a.retry_at) {
                (true, _) => "delivered",
                (false, Some(_)) => "pending",
                (false, None) => "failed",
            };
            tx.execute(
                "UPDATE webhook_deliveries SET state = $2, attempts = attempts + 1, next_at = COALESCE($3, next_at),
                        last_status = $4, last_error = $5, delivered_at = CASE WHEN $6 THEN $7 ELSE delivered_at END
                 WHERE id = $1",
                &[&a.delivery, &state, &a.retry_at, &a.status.map(i32::from), &a.error, &a.ok, &a.at],
            )
            .await
            .map_err(pg)?;
            if a.ok {
                tx.execute("UPDATE webhooks SET failures = 0 WHERE id = $1", &[&hook]).await.map_err(pg)?;
            } else {
                let n = a.disable_after as i32;
                let reason = format!("{n} failed attempts in a row / 连续{n}次投递失败");
                tx.execute(
                    "UPDATE webhooks SET failures = failures + 1,
                            enabled = CASE WHEN $2 > 0 AND failures + 1 >= $2 THEN FALSE ELSE enabled END,
                            disabled_reason = CASE WHEN $2 > 0 AND failures + 1 >= $2 AND enabled THEN $3
                                                   ELSE disabled_reason END,
                            updated_at = CASE WHEN $2 > 0 AND failures + 1 >= $2 AND enabled THEN $4
                                              ELSE updated_at END
                     WHERE id = $1",
                    &[&hook, &n, &reason, &a.at],
                )
                .await
                .map_err(pg)?;
            }
            tx.commit().await.map_err(pg)
        }
        async fn deliveries(&self, webhook: i64, before: Option<i64>, limit: u32) -> StoreResult<Vec<Delivery>> {
            let rows = self
                .client()
                .await?
                .query(
                    &format!(
                        "SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE webhook_id = $1 AND id < $2
                         ORDER BY id DESC LIMIT $3"
                    ),
                    &[&webhook, &before.unwrap_or(i64::MAX), &(limit as i64)],
                )
                .await
                .map_err(pg)?;
            Ok(rows.iter().map(|r| delivery(r, &self.cipher)).collect())
        }
        async fn replay_delivery(&self, webhook: i64, id: i64, now: DateTime<Utc>) -> StoreResult<Option<Delivery>> {
            let row = self
                .client()
                .await?
                .query_opt(
                    &format!(
                        "UPDATE webhook_deliveries SET state = 'pending', next_at = $3 WHERE id = $1 AND webhook_id = $2
                         RETURNING {DELIVERY_COLS}"
                    ),
                    &[&id, &webhook, &now],
                )
                .await
                .map_err(pg)?;
            Ok(row.map(|r| delivery(&r, &self.cipher)))
        }
    }
}
