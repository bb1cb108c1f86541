//! Background jobs. Each job runs on whichever node holds its lease in the
//! database, so with several nodes it never runs twice at once, and when
//! that node dies its lease runs out and another node carries on. A job is
//! a small step (`tick`) that tests drive directly.

use crate::Kefu;
use crate::error::ApiError;
use chrono::Duration;
use kefu_store::prelude::*;

/// How long a lease lasts without renewal; a dead node's jobs resume
/// elsewhere within this time.
const LEASE: i64 = 5 * 60;
/// How long a retried request is still answered from its first result.
const IDEMPOTENCY_DAYS: i64 = 7;
/// How often the periodic jobs run (some every fourth time), and the
/// longest the SLA watcher sleeps.
const PERIOD: std::time::Duration = std::time::Duration::from_secs(15);
/// The shortest the SLA watcher sleeps between rounds, so an alert that
/// keeps failing does not make it spin.
const WATCH_MIN: std::time::Duration = std::time::Duration::from_secs(1);

/// A name for this node in lease records: random per process.
pub fn node_name() -> String {
    let mut b = [0u8; 6];
    let _ = getrandom::fill(&mut b);
    format!("node-{}", crate::auth::hex(&b))
}

/// One round of every job this node holds the lease for. Returns how many
/// expired sessions were purged, or None when another node holds the lease.
pub async fn tick<S: Store>(kefu: &Kefu<S>, node: &str) -> Result<Option<u64>, ApiError> {
    let now = kefu.now();
    if !kefu.store.try_lease("session_purge", node, now, Duration::seconds(LEASE)).await? {
        return Ok(None);
    }
    let purged = kefu.store.purge_expired_sessions(now).await?;
    let replays = kefu.store.purge_idempotency(now - Duration::days(IDEMPOTENCY_DAYS)).await?;
    if replays > 0 {
        tracing::info!(replays, "purged old idempotency records");
    }
    // Conversations hold what customers typed: kept only as the policy says.
    let chats = kefu.purge_bot_sessions().await?;
    if chats > 0 {
        tracing::info!(chats, "purged old bot conversations");
    }
    if purged > 0 {
        tracing::info!(purged, "purged expired sessions");
    }
    Ok(Some(purged))
}

/// The suggestion models' training job: the node holding its lease trains
/// when the store has grown by `retrain_after` tickets and publishes the
/// models; every node then loads the newest (so a request rarely waits).
pub async fn train_suggestions<S: Store>(kefu: &Kefu<S>, node: &str) -> Result<(), ApiError> {
    if kefu.store.try_lease("suggest_training", node, kefu.now(), Duration::seconds(LEASE)).await? {
        let trained = kefu.train_if_due().await?;
        if trained {
            tracing::info!("suggestion models trained and published");
        }
    }
    kefu.suggest_models().await.map(drop)
}

/// Raises every SLA alert that is due, on the node holding the watcher's
/// lease. Reads only tickets with an alert due (indexed). Returns how many
/// alerts were raised, or None without the lease.
pub async fn watch_sla<S: Store>(kefu: &Kefu<S>, node: &str) -> Result<Option<usize>, ApiError> {
    if !kefu.store.try_lease("sla_watcher", node, kefu.now(), Duration::seconds(LEASE)).await? {
        return Ok(None);
    }
    let mut raised = 0;
    loop {
        let due = kefu.store.alerts_due(kefu.now(), 200).await?;
        let batch = due.len();
        // Concurrently, so the store can commit the batch together.
        let tasks: Vec<_> = due
            .into_iter()
            .map(|id| {
                let kefu = kefu.clone();
                tokio::spawn(async move { kefu.raise_sla_alerts(id).await })
            })
            .collect();
        for t in tasks {
            raised += t.await.map_err(|e| ApiError::Internal(e.to_string()))??;
        }
        if batch < 200 {
            break;
        }
    }
    if raised > 0 {
        tracing::info!(raised, "SLA alerts raised");
    }
    Ok(Some(raised))
}

/// Offers the tickets waiting in queues (automatic dispatch found nobody)
/// to whoever is free now, oldest first, under a lease. Returns how many
/// were dispatched, or None without the lease.
pub async fn dispatch_waiting<S: Store>(kefu: &Kefu<S>, node: &str) -> Result<Option<usize>, ApiError> {
    if !kefu.store.try_lease("dispatch_retry", node, kefu.now(), Duration::seconds(LEASE)).await? {
        return Ok(None);
    }
    let waiting = kefu
        .store
        .list_tickets(kefu_store::TicketFilter { unassigned: true, page: 1, per_page: 200, ..Default::default() })
        .await?;
    let mut dispatched = 0;
    for t in waiting.items.iter().rev().filter(|t| t.unassignable) {
        if kefu.auto_dispatch(t).await?.assignee.is_some() {
            dispatched += 1;
        }
    }
    if dispatched > 0 {
        tracing::info!(dispatched, "waiting tickets dispatched");
    }
    Ok(Some(dispatched))
}

/// The customer loop's timers, under a lease: result notices nobody
/// answered in time are confirmed by default, and due return visits by
/// SMS or online get their survey link. Returns (confirmed, invited), or
/// None without the lease.
pub async fn customer_loop<S: Store>(kefu: &Kefu<S>, node: &str) -> Result<Option<(usize, usize)>, ApiError> {
    if !kefu.store.try_lease("customer_loop", node, kefu.now(), Duration::seconds(LEASE)).await? {
        return Ok(None);
    }
    let confirmed = kefu.auto_confirm().await?;
    let invited = kefu.invite_visits().await?;
    if confirmed + invited > 0 {
        tracing::info!(confirmed, invited, "customer loop: confirmed by default, return visits invited");
    }
    Ok(Some((confirmed, invited)))
}

/// How often the outbox worker looks for messages to send.
const OUTBOX_PERIOD: std::time::Duration = std::time::Duration::from_secs(2);

/// Sends customer messages until the process ends. Runs on every node:
/// each message is claimed by one of them.
pub async fn run_outbox<S: Store>(kefu: Kefu<S>, node: String) {
    loop {
        if let Err(e) = crate::delivery::deliver(&kefu, &node).await {
            tracing::warn!(error = %e, "outbox delivery failed; will retry");
        }
        if kefu.pause(OUTBOX_PERIOD).await {
            return;
        }
    }
}

/// Keeps this node's ticket index caught up with the store until the
/// process ends. Runs on every node: each keeps its own index.
pub async fn follow_search_feed<S: Store>(kefu: Kefu<S>) {
    let mut first = true;
    loop {
        let started = std::time::Instant::now();
        match kefu.ticket_catch_up().await {
            Ok((index, n)) if first || n >= 10_000 => {
                kefu.note_search_caught_up();
                tracing::info!(
                    indexed = n,
                    documents = index.len(),
                    secs = started.elapsed().as_secs_f64(),
                    "ticket index caught up"
                );
            }
            Ok(_) => kefu.note_search_caught_up(),
            Err(e) => tracing::warn!(error = %e, "ticket index catch-up failed; will retry"),
        }
        first = false;
        // Twice per period: a search then never finds the view too old.
        let every = std::time::Duration::from_secs(kefu.core.policy.search.catch_up_seconds) / 2;
        if kefu.pause(every.max(std::time::Duration::from_millis(500))).await {
            return;
        }
    }
}

/// Makes report exports until the process ends. Runs on every node: each
/// export is claimed by one of them.
pub async fn run_exports<S: Store>(kefu: Kefu<S>, node: String) {
    loop {
        match kefu.make_export(&node).await {
            Ok(true) if !kefu.is_stopping() => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "report export failed; will retry"),
        }
        if kefu.pause(OUTBOX_PERIOD).await {
            return;
        }
    }
}

/// Scheduled reports that are due, under a lease (a run is also guarded
/// by its schedule's due time, so none goes out twice): how many ran, or
/// None without the lease.
pub async fn scheduled_reports<S: Store>(kefu: &Kefu<S>, node: &str) -> Result<Option<usize>, ApiError> {
    if !kefu.store.try_lease("report_schedules", node, kefu.now(), Duration::seconds(LEASE)).await? {
        return Ok(None);
    }
    let ran = kefu.run_schedules().await?;
    if ran > 0 {
        tracing::info!(ran, "scheduled reports sent to the outbox");
    }
    Ok(Some(ran))
}

/// Keeps the KPI rollups caught up with the store until the process
/// ends, on whichever node holds the lease.
pub async fn follow_kpi_feed<S: Store>(kefu: Kefu<S>, node: String) {
    loop {
        if let Err(e) = kpi_rollup(&kefu, &node).await {
            tracing::warn!(error = %e, "KPI rollup failed; will retry");
        }
        let every = std::time::Duration::from_secs(kefu.core.policy.reports.catch_up_seconds);
        if kefu.pause(every).await {
            return;
        }
    }
}

/// One pass of the rollup job under its lease: how many tickets it
/// counted, or None without the lease.
pub async fn kpi_rollup<S: Store>(kefu: &Kefu<S>, node: &str) -> Result<Option<usize>, ApiError> {
    if !kefu.store.try_lease("kpi_rollup", node, kefu.now(), Duration::seconds(LEASE)).await? {
        return Ok(None);
    }
    let started = std::time::Instant::now();
    let counted = kefu.kpi_catch_up().await?;
    if let Some(n) = counted.filter(|n| *n >= 1000) {
        tracing::info!(counted = n, secs = started.elapsed().as_secs_f64(), "KPI rollups caught up");
    }
    Ok(counted)
}

/// Customers re-encrypted per batch (each batch is one short transaction).
const REENCRYPT_BATCH: u32 = 500;

/// Brings every customer under the active encryption key: rows written
/// before encryption, or under a key since rotated. Runs on one node at a
/// time; returns how many rows it re-encrypted, or None without the lease.
pub async fn reencrypt<S: Store>(kefu: &Kefu<S>, node: &str) -> Result<Option<u64>, ApiError> {
    let now = kefu.now();
    if !kefu.store.try_lease("reencrypt", node, now, Duration::seconds(LEASE)).await? {
        return Ok(None);
    }
    let mut total = 0;
    loop {
        let n = kefu.store.reencrypt_customers(REENCRYPT_BATCH).await?;
        total += n;
        if n < u64::from(REENCRYPT_BATCH) {
            break;
        }
        // Renew the lease between batches of a long run.
        kefu.store.try_lease("reencrypt", node, kefu.now(), Duration::seconds(LEASE)).await?;
    }
    if total > 0 {
        tracing::info!(total, "re-encrypted customer records under the active key");
    }
    Ok(Some(total))
}

/// What a retention run removed.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct RetentionReport {
    pub tickets: u64,
    pub customers: u64,
}

/// Removes what the retention policy no longer keeps: archived
/// tickets past `ticket_years` with their events, transfers and notes, then
/// customers left without any ticket. Each removal is recorded in the
/// access log; the chains of the tickets that remain are untouched.
pub async fn retention<S: Store>(kefu: &Kefu<S>, who: &str) -> Result<RetentionReport, ApiError> {
    let now = kefu.now();
    let years = kefu.core.policy.retention.ticket_years;
    let cutoff = now.checked_sub_months(chrono::Months::new(12 * years)).unwrap_or(now);
    let mut report = RetentionReport::default();
    let mut customers = std::collections::BTreeSet::new();
    loop {
        let due = kefu.store.retention_due(cutoff, 200).await?;
        if due.is_empty() {
            break;
        }
        let purged: Vec<_> = due.iter().map(|d| d.ticket).collect();
        for d in due {
            kefu.store.purge_ticket(d.ticket).await?;
            let why = format!("archived {}; kept {years} years", d.archived_at.to_rfc3339());
            record(kefu, who, format!("ticket:{}", d.number), why).await?;
            customers.insert(d.customer);
            report.tickets += 1;
        }
        // Out of this node's search index too (other nodes notice the
        // difference when they next compare their index with the store).
        kefu.forget_tickets(&purged).await?;
    }
    for c in customers {
        match kefu.store.delete_customer(c).await {
            Ok(()) => {
                record(kefu, who, format!("customer:{}", c.0), "no ticket of theirs is kept any longer".into()).await?;
                report.customers += 1;
            }
            // Other tickets of theirs are still kept (or the customer is gone).
            Err(kefu_store::StoreError::Conflict { .. } | kefu_store::StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(report)
}

async fn record<S: Store>(kefu: &Kefu<S>, who: &str, subject: String, reason: String) -> Result<(), ApiError> {
    kefu.log_access((None, who), "retention_delete", subject, None, reason).await?;
    Ok(())
}

/// Major incidents, under a lease: links tickets registered in the last
/// minutes that an active incident covers (a node that had not learnt of
/// the incident yet registered them unlinked), and finishes notice batches
/// a node left half-sent. Returns (linked, queued), or None without the lease.
pub async fn incidents<S: Store>(kefu: &Kefu<S>, node: &str) -> Result<Option<(u32, u32)>, ApiError> {
    if !kefu.store.try_lease("incidents", node, kefu.now(), Duration::seconds(LEASE)).await? {
        return Ok(None);
    }
    // Twice the period and the cache's age: nothing falls between rounds.
    let minutes = (2 * PERIOD.as_secs() as i64 + i64::from(kefu.core.policy.incidents.refresh_seconds)) / 60 + 1;
    let linked = kefu.sweep_incidents(minutes).await?;
    let queued = kefu.resume_incident_notices().await?;
    if linked + queued > 0 {
        tracing::info!(linked, queued, "incident sweep");
    }
    Ok(Some((linked, queued)))
}

/// One round of the customers' mailbox, under its lease: each new mail
/// taken in UID order. A failure of kefu's own (the database) ends the
/// round before the mail, to be taken next round; a mail kefu cannot take
/// (refused as a request) is passed over with a warning. Returns the mails
/// taken, or None without a mailbox or the lease.
pub async fn fetch_mail<S: Store>(kefu: &Kefu<S>, node: &str) -> Result<Option<usize>, ApiError> {
    let Some(cfg) = kefu.core.settings.imap.clone() else { return Ok(None) };
    let source = cfg.source();
    // Short, and renewed as the round goes: a node killed mid-round holds
    // the mailbox for half a minute at most. Two readers at once would only
    // repeat work: each mail's write is keyed by its Message-ID, the cursor
    // never moves back.
    let lease = Duration::seconds(i64::try_from(cfg.poll_seconds * 2).unwrap_or(30).max(30));
    let job = format!("mail:{source}");
    if !kefu.store.try_lease(&job, node, kefu.now(), lease).await? {
        return Ok(None);
    }
    let cursor = kefu.store.inbound_cursor(&source).await?;
    let fetched = crate::imap::fetch(&cfg, cursor).await.map_err(|e| ApiError::Internal(format!("imap: {e}")))?;
    let smtp_from = kefu
        .core
        .settings
        .delivery
        .smtp
        .as_ref()
        .and_then(|s| s.from.parse::<lettre::message::Mailbox>().ok().map(|m| m.email.to_string()));
    let own: Vec<&str> = cfg.own_addresses.iter().map(String::as_str).chain(smtp_from.as_deref()).collect();
    let mut taken = 0;
    for (n, (uid, raw)) in fetched.messages.into_iter().enumerate() {
        if n > 0 && n % 10 == 0 && !kefu.store.try_lease(&job, node, kefu.now(), lease).await? {
            return Ok(Some(taken));
        }
        let at = crate::service::mail_in::MailAt { source: source.clone(), validity: fetched.validity, uid };
        match kefu.receive_email(&at, &raw, &own).await {
            Ok(_) => taken += 1,
            Err(e @ ApiError::Internal(_)) => return Err(e),
            Err(e) => {
                tracing::warn!(uid, error = %e, "an inbound mail could not be taken; passed over");
                kefu.store.set_inbound_cursor(&source, (fetched.validity, uid), None, kefu.now()).await?;
            }
        }
    }
    Ok(Some(taken))
}

/// Reads the mailbox every `poll_seconds` until the process ends.
pub async fn run_mail<S: Store>(kefu: Kefu<S>, node: String) {
    let Some(every) = kefu.core.settings.imap.as_ref().map(|c| c.poll_seconds.max(1)) else { return };
    loop {
        match fetch_mail(&kefu, &node).await {
            Ok(Some(n)) if n > 0 => tracing::info!(mails = n, "inbound mail taken"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "reading the mailbox failed; will retry"),
        }
        if kefu.pause(std::time::Duration::from_secs(every)).await {
            return;
        }
    }
}

/// How often the events worker looks for changes to hand out and send.
const EVENTS_PERIOD: std::time::Duration = std::time::Duration::from_secs(1);
/// The events jobs' leases: renewed every round (a second apart), so a
/// dead node's events go on from another within this time; a round is
/// bounded well inside it (one holder at a time keeps the order).
const EVENTS_LEASE: i64 = 30;
/// Fan-out batches per round at most.
const FAN_OUT_ROUNDS: usize = 20;

/// One round of the events job under its lease: outbox rows handed out to
/// the endpoints, then what is due sent (for at most `budget`). Returns
/// (rows handed out, tries made), or None without the lease. One node at a
/// time, so each endpoint gets its events in order.
pub async fn events<S: Store>(
    kefu: &Kefu<S>,
    node: &str,
    budget: std::time::Duration,
) -> Result<Option<(usize, usize)>, ApiError> {
    if !kefu.store.try_lease("events", node, kefu.now(), Duration::seconds(EVENTS_LEASE)).await? {
        return Ok(None);
    }
    let mut handed = 0;
    for _ in 0..FAN_OUT_ROUNDS {
        let n = kefu.fan_out_events().await?;
        handed += n;
        if n == 0 {
            break;
        }
    }
    let tries = kefu.deliver_webhooks(budget).await?;
    Ok(Some((handed, tries)))
}

/// Hands out and sends events until the process ends; prunes hourly.
pub async fn run_events<S: Store>(kefu: Kefu<S>, node: String) {
    let mut next_prune = tokio::time::Instant::now();
    loop {
        if let Err(e) = events(&kefu, &node, std::time::Duration::from_secs(10)).await {
            tracing::warn!(error = %e, "events job failed; will retry");
        }
        if tokio::time::Instant::now() >= next_prune {
            next_prune += std::time::Duration::from_secs(3600);
            if let Err(e) = kefu.prune_events(kefu.now()).await {
                tracing::warn!(error = %e, "pruning events failed; next run in an hour");
            }
        }
        if kefu.pause(EVENTS_PERIOD).await {
            return;
        }
    }
}

/// One round of the stream publisher under its lease: the events not yet
/// published, each awaited before the next. Returns how many rows were
/// published, or None without the lease.
pub async fn publish_events<S: Store>(
    kefu: &Kefu<S>,
    node: &str,
    publisher: &crate::nats::Publisher,
    batch: u32,
) -> Result<Option<usize>, ApiError> {
    if !kefu.store.try_lease("nats_publish", node, kefu.now(), Duration::seconds(EVENTS_LEASE)).await? {
        return Ok(None);
    }
    let rows = kefu.store.unpublished_events(batch.max(1)).await?;
    let mut done = Vec::with_capacity(rows.len());
    let mut failed = None;
    for (row, event) in kefu.stream_events(&rows).await? {
        if let Some((id, kind, body)) = event
            && let Err(e) = publisher.publish(&id, kind, body).await
        {
            failed = Some(e);
            break;
        }
        done.push(row);
    }
    let n = done.len();
    if !done.is_empty() {
        kefu.store.mark_published(done).await?;
    }
    match failed {
        Some(e) => Err(ApiError::Internal(e)),
        None => Ok(Some(n)),
    }
}

/// Publishes events to NATS until the process ends (with `[nats]`):
/// reconnects after a failure, carries on from the first unpublished row.
pub async fn run_nats<S: Store>(kefu: Kefu<S>, node: String) {
    let Some(cfg) = kefu.core.settings.nats.clone() else { return };
    let mut publisher: Option<crate::nats::Publisher> = None;
    loop {
        if publisher.is_none() {
            match crate::nats::Publisher::connect(&cfg).await {
                Ok(p) => publisher = Some(p),
                Err(e) => tracing::warn!(error = %e, "NATS unreachable; will retry"),
            }
        }
        let mut busy = false;
        if let Some(p) = &publisher {
            match publish_events(&kefu, &node, p, cfg.batch).await {
                Ok(Some(n)) => busy = n > 0,
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "publishing events failed; will reconnect");
                    publisher = None;
                }
            }
        }
        if (!busy && kefu.pause(EVENTS_PERIOD).await) || kefu.is_stopping() {
            return;
        }
    }
}

/// Runs the jobs until the service begins to shut down (`begin_shutdown`),
/// then lets each finish its round, gives up this node's leases (other
/// nodes take the jobs over at once instead of after the lease runs out)
/// and brings the search index up to date.
pub async fn run<S: Store>(kefu: Kefu<S>) {
    let node = node_name();
    let tasks = vec![
        tokio::spawn(run_outbox(kefu.clone(), node.clone())),
        tokio::spawn(follow_search_feed(kefu.clone())),
        tokio::spawn(follow_kpi_feed(kefu.clone(), node.clone())),
        tokio::spawn(run_exports(kefu.clone(), node.clone())),
        tokio::spawn(run_mail(kefu.clone(), node.clone())),
        tokio::spawn(run_events(kefu.clone(), node.clone())),
        tokio::spawn(run_nats(kefu.clone(), node.clone())),
        tokio::spawn(run_sla_watcher(kefu.clone(), node.clone())),
    ];
    rounds(&kefu, &node).await;
    finish(&kefu, &node, tasks).await;
}

/// The SLA watcher: on the node holding its lease, the next round starts
/// when the earliest alert falls due (at most PERIOD, at least WATCH_MIN
/// later), so an alert is raised within about a second of its time rather
/// than up to a whole period late; elsewhere it asks for the lease every
/// PERIOD.
async fn run_sla_watcher<S: Store>(kefu: Kefu<S>, node: String) {
    loop {
        let wait = match watch_sla(&kefu, &node).await {
            Ok(Some(_)) => until_next_alert(&kefu).await,
            Ok(None) => PERIOD,
            Err(e) => {
                tracing::warn!(error = %e, "SLA watcher failed; will retry");
                PERIOD
            }
        };
        if kefu.pause(wait).await {
            return;
        }
    }
}

/// How long until the earliest alert falls due, within [WATCH_MIN, PERIOD].
async fn until_next_alert<S: Store>(kefu: &Kefu<S>) -> std::time::Duration {
    let next = match kefu.store.health().await {
        Ok(h) => h.oldest_alert_due,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read when the next SLA alert falls due");
            None
        }
    };
    // Already due (raised meanwhile, or failing): the shortest wait.
    next.map_or(PERIOD, |at| (at - kefu.now()).to_std().unwrap_or_default().clamp(WATCH_MIN, PERIOD))
}

/// After the last round: waits for the other loops (a round in progress
/// ends; one stuck on a remote system is cut off), releases the leases and
/// flushes the search index.
async fn finish<S: Store>(kefu: &Kefu<S>, node: &str, tasks: Vec<tokio::task::JoinHandle<()>>) {
    let grace = std::time::Duration::from_secs(kefu.core.settings.shutdown_grace_seconds);
    // One grace period for all of them, not one each.
    let deadline = tokio::time::Instant::now() + grace;
    for task in tasks {
        let abort = task.abort_handle();
        if tokio::time::timeout_at(deadline, task).await.is_err() {
            abort.abort();
        }
    }
    match kefu.store.release_leases(node).await {
        Ok(n) => tracing::info!(leases = n, "job leases released"),
        Err(e) => tracing::warn!(error = %e, "releasing job leases failed; they run out by themselves"),
    }
    match tokio::time::timeout(grace, kefu.ticket_catch_up()).await {
        Ok(Ok(_)) => tracing::info!("search index flushed"),
        Ok(Err(e)) => tracing::warn!(error = %e, "last search index catch-up failed; the next start catches up"),
        Err(_) => tracing::warn!("last search index catch-up took too long; the next start catches up"),
    }
}

/// The periodic jobs of `run`, until shutdown begins.
async fn rounds<S: Store>(kefu: &Kefu<S>, node: &str) {
    let node = node.to_string();
    let mut next_retention = tokio::time::Instant::now();
    let mut next_file_sweep = tokio::time::Instant::now();
    let mut round: u64 = 0;
    loop {
        // Stored files no ticket names (a refused upload, a purged ticket):
        // every node sweeps the directory it writes to, hourly.
        if tokio::time::Instant::now() >= next_file_sweep {
            next_file_sweep += std::time::Duration::from_secs(3600);
            match kefu.sweep_orphan_files().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "orphaned attachment files removed"),
                Err(e) => tracing::warn!(error = %e, "attachment sweep failed; next run in an hour"),
            }
        }
        // Retention runs daily, on whichever node holds its lease.
        if tokio::time::Instant::now() >= next_retention {
            next_retention += std::time::Duration::from_secs(24 * 3600);
            match kefu.store.try_lease("retention", &node, kefu.now(), Duration::hours(1)).await {
                Ok(true) => match retention(kefu, &format!("job:{node}")).await {
                    Ok(r) => tracing::info!(tickets = r.tickets, customers = r.customers, "retention run"),
                    Err(e) => tracing::warn!(error = %e, "retention run failed; next run tomorrow"),
                },
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "retention lease failed"),
            }
        }
        if let Err(e) = customer_loop(kefu, &node).await {
            tracing::warn!(error = %e, "customer loop job failed; will retry");
        }
        if let Err(e) = scheduled_reports(kefu, &node).await {
            tracing::warn!(error = %e, "scheduled reports failed; will retry");
        }
        if let Err(e) = incidents(kefu, &node).await {
            tracing::warn!(error = %e, "incident sweep failed; will retry");
        }
        // Orders for the BSS: claimed per order, so every node takes part.
        if let Err(e) = kefu.process_bss(&node).await {
            tracing::warn!(error = %e, "handing orders to the BSS failed; will retry");
        }
        round += 1;
        let retry_rounds = (kefu.core.policy.dispatch.retry_seconds / PERIOD.as_secs().max(1)).max(1);
        if round.is_multiple_of(retry_rounds)
            && let Err(e) = dispatch_waiting(kefu, &node).await
        {
            tracing::warn!(error = %e, "dispatch of waiting tickets failed; will retry");
        }
        if round % 4 == 1 {
            if let Err(e) = tick(kefu, &node).await {
                tracing::warn!(error = %e, "session purge failed; will retry");
            }
            if let Err(e) = reencrypt(kefu, &node).await {
                tracing::warn!(error = %e, "re-encryption failed; will retry");
            }
            if let Err(e) = train_suggestions(kefu, &node).await {
                tracing::warn!(error = %e, "training the suggestion models failed; will retry");
            }
        }
        if kefu.pause(PERIOD).await {
            return;
        }
    }
}
