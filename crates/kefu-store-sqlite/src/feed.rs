//! The search feed (FeedStore) in SQLite.

use crate::backend;
use crate::rows::{parse_ts, ts};
use crate::tickets::{TICKET_SELECT, conditions, decode, ticket_row};
use kefu_domain::TicketId;
use kefu_store::crypto::FieldCipher;
use kefu_store::doc::phone_index;
use kefu_store::seal::open_text;
use kefu_store::{FeedMark, StoreResult, TicketFilter, TicketText};
use rusqlite::{Connection, ToSql, params};
use std::collections::HashMap;

pub fn changes(c: &Connection, after: FeedMark, limit: u32) -> StoreResult<Vec<FeedMark>> {
    c.prepare_cached(
        "SELECT updated_at, id, rev FROM tickets WHERE (updated_at, id) > (?1, ?2) ORDER BY updated_at, id LIMIT ?3",
    )
    .map_err(backend)?
    .query_map(params![ts(after.updated_at), after.id.0, limit], |r| {
        Ok(FeedMark { updated_at: parse_ts(&r.get::<_, String>(0)?)?, id: TicketId(r.get(1)?), rev: r.get(2)? })
    })
    .map_err(backend)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(backend)
}

fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

pub fn texts(c: &Connection, ids: &[TicketId], cipher: &FieldCipher) -> StoreResult<Vec<TicketText>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let args: Vec<&dyn ToSql> = ids.iter().map(|i| &i.0 as &dyn ToSql).collect();
    let mut replies: HashMap<i64, Vec<String>> = HashMap::new();
    let sql = format!(
        "SELECT ticket_id, body FROM comments WHERE internal = 0 AND ticket_id IN ({}) ORDER BY id",
        marks(ids.len())
    );
    let rows = c
        .prepare(&sql)
        .map_err(backend)?
        .query_map(args.as_slice(), |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    for (id, body) in rows {
        replies.entry(id).or_default().push(open_text(cipher, &body)?);
    }
    let sql = format!("{TICKET_SELECT} WHERE t.id IN ({}) ORDER BY t.id", marks(ids.len()));
    c.prepare(&sql)
        .map_err(backend)?
        .query_map(args.as_slice(), ticket_row)
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?
        .into_iter()
        .map(|r| {
            let ticket = decode(r, cipher)?;
            let replies = replies.remove(&ticket.id.0).unwrap_or_default();
            Ok(TicketText { ticket, replies })
        })
        .collect()
}

pub fn passing(c: &Connection, f: &TicketFilter, cipher: &FieldCipher) -> StoreResult<Vec<TicketId>> {
    let f = TicketFilter {
        customer_phone: f.customer_phone.as_deref().map(|p| phone_index(cipher, p)),
        after: None,
        ..f.clone()
    };
    let (cond, args) = conditions(&f);
    let params: Vec<&dyn ToSql> = args.iter().map(|b| b.as_ref()).collect();
    c.prepare(&format!("SELECT t.id FROM tickets t{cond}"))
        .map_err(backend)?
        .query_map(params.as_slice(), |r| Ok(TicketId(r.get(0)?)))
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)
}

/// The store capabilities kept in this file: FeedStore.
mod capability {
    use crate::*;

    impl FeedStore for SqliteStore {
        async fn ticket_changes(&self, after: FeedMark, limit: u32) -> StoreResult<Vec<FeedMark>> {
            self.read(move |c| feed::changes(c, after, limit)).await
        }
        async fn ticket_texts(&self, ids: Vec<TicketId>) -> StoreResult<Vec<TicketText>> {
            let k = self.cipher.clone();
            self.read(move |c| feed::texts(c, &ids, &k)).await
        }
        async fn passing_ids(&self, filter: TicketFilter) -> StoreResult<Vec<TicketId>> {
            let k = self.cipher.clone();
            self.read(move |c| feed::passing(c, &filter, &k)).await
        }
    }
}
