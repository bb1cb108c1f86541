//! The search feed (FeedStore) in PostgreSQL.

use crate::pg;
use crate::tickets::{TICKET_SELECT, conditions, ticket_row};
use deadpool_postgres::GenericClient;
use kefu_domain::TicketId;
use kefu_store::crypto::FieldCipher;
use kefu_store::doc::phone_index;
use kefu_store::seal::open_text;
use kefu_store::{FeedMark, StoreResult, TicketFilter, TicketText};
use std::collections::HashMap;
use tokio_postgres::types::ToSql;

pub async fn changes(c: &impl GenericClient, after: FeedMark, limit: u32) -> StoreResult<Vec<FeedMark>> {
    let rows = c
        .query(
            "SELECT updated_at, id, rev FROM tickets WHERE (updated_at, id) > ($1, $2) ORDER BY updated_at, id LIMIT $3",
            &[&after.updated_at, &after.id.0, &i64::from(limit)],
        )
        .await
        .map_err(pg)?;
    Ok(rows.iter().map(|r| FeedMark { updated_at: r.get(0), id: TicketId(r.get(1)), rev: r.get(2) }).collect())
}

pub async fn texts(c: &impl GenericClient, ids: &[TicketId], cipher: &FieldCipher) -> StoreResult<Vec<TicketText>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = ids.iter().map(|i| i.0).collect();
    let mut replies: HashMap<i64, Vec<String>> = HashMap::new();
    let rows = c
        .query(
            "SELECT ticket_id, body FROM comments WHERE internal = false AND ticket_id = ANY($1) ORDER BY id",
            &[&ids],
        )
        .await
        .map_err(pg)?;
    for r in &rows {
        replies.entry(r.get(0)).or_default().push(open_text(cipher, r.get::<_, &str>(1))?);
    }
    c.query(&format!("{TICKET_SELECT} WHERE t.id = ANY($1) ORDER BY t.id"), &[&ids])
        .await
        .map_err(pg)?
        .iter()
        .map(|r| {
            let ticket = ticket_row(r, cipher)?;
            let replies = replies.remove(&ticket.id.0).unwrap_or_default();
            Ok(TicketText { ticket, replies })
        })
        .collect()
}

pub async fn passing(c: &impl GenericClient, f: &TicketFilter, cipher: &FieldCipher) -> StoreResult<Vec<TicketId>> {
    let f = TicketFilter {
        customer_phone: f.customer_phone.as_deref().map(|p| phone_index(cipher, p)),
        after: None,
        ..f.clone()
    };
    let (cond, args) = conditions(&f);
    let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|b| b.as_ref() as &(dyn ToSql + Sync)).collect();
    let rows = c.query(&format!("SELECT t.id FROM tickets t{cond}"), &params).await.map_err(pg)?;
    Ok(rows.iter().map(|r| TicketId(r.get(0))).collect())
}

/// The store capabilities kept in this file: FeedStore.
mod capability {
    use crate::*;

    impl FeedStore for PgStore {
        async fn ticket_changes(&self, after: FeedMark, limit: u32) -> StoreResult<Vec<FeedMark>> {
            feed::changes(&self.client().await?, after, limit).await
        }
        async fn ticket_texts(&self, ids: Vec<TicketId>) -> StoreResult<Vec<TicketText>> {
            feed::texts(&self.client().await?, &ids, &self.cipher).await
        }
        async fn passing_ids(&self, filter: TicketFilter) -> StoreResult<Vec<TicketId>> {
            feed::passing(&self.client().await?, &filter, &self.cipher).await
        }
    }
}
