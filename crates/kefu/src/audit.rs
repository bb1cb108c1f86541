//! `kefu audit verify`: streams every event in (ticket, seq) order and checks
//! each ticket's chain, reporting the first broken link.

use anyhow::{Result, bail};
use kefu_domain::TicketId;
use kefu_domain::audit::{AuditEvent, BrokenLink, verify_chain};
use kefu_store::prelude::*;

const BATCH: u32 = 20_000;

pub async fn verify<S: Store>(store: &S) -> Result<()> {
    let (tickets, events) = match check_all(store).await? {
        Ok(counts) => counts,
        Err(broken) => {
            bail!("audit chain BROKEN at ticket {} event {}: {}", broken.ticket_id, broken.seq, broken.reason)
        }
    };
    println!("audit chains intact: {tickets} tickets, {events} events verified");
    Ok(())
}

/// (tickets, events) checked, or the first broken link.
pub async fn check_all<S: Store>(store: &S) -> Result<Result<(u64, u64), BrokenLink>> {
    if let Some(id) = store.tickets_without_events(1).await?.first() {
        return Ok(Err(BrokenLink {
            ticket_id: *id,
            seq: 1,
            reason: "ticket has no events (its registration record is missing)".into(),
        }));
    }
    let (mut tickets, mut events) = (0u64, 0u64);
    let mut current: Vec<AuditEvent> = Vec::new();
    let mut cursor: Option<(TicketId, i64)> = None;
    loop {
        let batch = store.events_after(cursor, BATCH).await?;
        let Some(last) = batch.last() else { break };
        cursor = Some((last.ticket_id, last.seq));
        for e in batch {
            if current.first().is_some_and(|c| c.ticket_id != e.ticket_id) {
                if let Err(b) = verify_chain(current[0].ticket_id, &current) {
                    return Ok(Err(b));
                }
                tickets += 1;
                current.clear();
            }
            events += 1;
            current.push(e);
        }
    }
    if let Some(first) = current.first() {
        if let Err(b) = verify_chain(first.ticket_id, &current) {
            return Ok(Err(b));
        }
        tickets += 1;
    }
    Ok(Ok((tickets, events)))
}
